//! The map in ARCHITECTURE.md, checked against the code's own imports: no cycles between the
//! library's modules, nor between sibling modules anywhere in it, the named boundaries hold, the
//! map names every file, and no source file outgrows a reader. Reads the sources with a Rust
//! parser (`syn`): a path is a path however rustfmt wraps it; needs no Docker.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use quote::ToTokens;
use syn::visit::Visit;

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// A module's path in the crate: `src/lab/steps/mod.rs` is `lab::steps`, `src/lib.rs` the root.
type ModulePath = Vec<String>;

fn module_of(root: &Path, file: &Path) -> ModulePath {
    let mut parts: Vec<String> = file
        .strip_prefix(root)
        .unwrap()
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap();
    let stem = last.trim_end_matches(".rs");
    if !["mod", "lib", "main"].contains(&stem) {
        parts.push(stem.to_string());
    }
    parts
}

fn is_cfg_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && a.parse_args::<syn::Meta>()
                .is_ok_and(|m| m.path().is_ident("test"))
    })
}

fn item_attrs(item: &syn::Item) -> &[syn::Attribute] {
    use syn::Item::*;
    match item {
        Const(i) => &i.attrs,
        Enum(i) => &i.attrs,
        ExternCrate(i) => &i.attrs,
        Fn(i) => &i.attrs,
        ForeignMod(i) => &i.attrs,
        Impl(i) => &i.attrs,
        Macro(i) => &i.attrs,
        Mod(i) => &i.attrs,
        Static(i) => &i.attrs,
        Struct(i) => &i.attrs,
        Trait(i) => &i.attrs,
        TraitAlias(i) => &i.attrs,
        Type(i) => &i.attrs,
        Union(i) => &i.attrs,
        Use(i) => &i.attrs,
        _ => &[],
    }
}

/// `segments` from `module` as a path from the crate root, when it starts with `crate`,
/// `super` or `self` (other paths name external crates, or names in scope).
fn resolve(module: &[String], segments: &[String]) -> Option<ModulePath> {
    match segments.first()?.as_str() {
        "crate" => Some(segments[1..].to_vec()),
        "self" => Some([module, &segments[1..]].concat()),
        "super" => {
            let up = segments.iter().take_while(|s| *s == "super").count();
            let base = module.get(..module.len().checked_sub(up)?)?;
            Some([base, &segments[up..]].concat())
        }
        _ => None,
    }
}

/// Every path a file's non-test code names from the crate root, by the module it is named in
/// (a file's inline modules are modules of their own).
struct References {
    module: ModulePath,
    found: BTreeSet<(ModulePath, ModulePath)>,
}

impl References {
    fn note(&mut self, segments: &[String]) {
        if let Some(target) = resolve(&self.module, segments) {
            self.found.insert((self.module.clone(), target));
        }
    }

    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree);
                prefix.pop();
            }
            // `use a::{self}` names `a`.
            syn::UseTree::Name(n) if n.ident == "self" => self.note(&prefix.clone()),
            syn::UseTree::Name(n) => {
                prefix.push(n.ident.to_string());
                self.note(&prefix.clone());
                prefix.pop();
            }
            syn::UseTree::Rename(r) => {
                prefix.push(r.ident.to_string());
                self.note(&prefix.clone());
                prefix.pop();
            }
            syn::UseTree::Glob(_) => self.note(&prefix.clone()),
            syn::UseTree::Group(g) => {
                for tree in &g.items {
                    self.use_tree(prefix, tree);
                }
            }
        }
    }
}

impl<'ast> Visit<'ast> for References {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        // Tests may reach across layers to build their inputs.
        if !is_cfg_test(item_attrs(item)) {
            syn::visit::visit_item(self, item);
        }
    }

    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        if let Some((_, items)) = &item.content {
            self.module.push(item.ident.to_string());
            for item in items {
                self.visit_item(item);
            }
            self.module.pop();
        }
    }

    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        self.use_tree(&mut Vec::new(), &item.tree);
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        self.note(&segments);
        syn::visit::visit_path(self, path);
    }
}

/// What `text`, the file of `module`, names from the crate root: (from module, path).
fn references(module: &[String], text: &str) -> BTreeSet<(ModulePath, ModulePath)> {
    let file = syn::parse_file(text).expect("the sources parse");
    let mut refs = References {
        module: module.to_vec(),
        found: BTreeSet::new(),
    };
    refs.visit_file(&file);
    refs.found
}

/// Per parent module, the import graph of its child modules (test modules left out): an edge
/// a → b when anything in a names something in its sibling b. The root's graph is the
/// library's top-level modules.
fn sibling_graphs() -> BTreeMap<ModulePath, BTreeMap<String, BTreeSet<String>>> {
    let root = src();
    let files: Vec<PathBuf> = rust_files(&root)
        .into_iter()
        .filter(|f| !f.ends_with("main.rs"))
        .collect();
    let modules: BTreeSet<ModulePath> = files.iter().map(|f| module_of(&root, f)).collect();
    let mut graphs: BTreeMap<ModulePath, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for module in &modules {
        if let Some((child, parent)) = module.split_last() {
            if child != "tests" {
                graphs
                    .entry(parent.to_vec())
                    .or_default()
                    .entry(child.clone())
                    .or_default();
            }
        }
    }
    for file in &files {
        let module = module_of(&root, file);
        let text = std::fs::read_to_string(file).unwrap();
        for (from, to) in references(&module, &text) {
            // Where the two paths part: siblings under their common parent.
            let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
            let (Some(a), Some(b)) = (from.get(common), to.get(common)) else {
                continue;
            };
            if let Some(graph) = graphs.get_mut(&from[..common]) {
                if graph.contains_key(a) && graph.contains_key(b) {
                    graph.get_mut(a).unwrap().insert(b.clone());
                }
            }
        }
    }
    graphs
}

/// The library's top-level modules and which others each refers to.
fn crate_graph() -> BTreeMap<String, BTreeSet<String>> {
    sibling_graphs().remove(&Vec::new()).unwrap()
}

/// A cycle in `graph`, if any, as the path that closes it.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| n == node) {
            let mut found = path[start..].to_vec();
            found.push(node.to_string());
            return Some(found);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(found) = visit(next, graph, path, done) {
                return Some(found);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[test]
fn the_library_has_no_import_cycle() {
    let graph = crate_graph();
    assert!(
        graph.contains_key("checks") && graph.contains_key("lab"),
        "{graph:?}"
    );
    assert_eq!(cycle(&graph), None, "modules import each other in a cycle");
}

/// No two sibling modules anywhere import each other, directly or round a circle: each parent's
/// children form a layering (the lab's steps, the checks' families, the report's renderers...).
#[test]
fn no_siblings_anywhere_import_each_other_in_a_circle() {
    let graphs = sibling_graphs();
    for parent in [vec!["lab".to_string()], vec!["checks".to_string()]] {
        assert!(graphs[&parent].len() > 3, "{parent:?}: {graphs:?}");
    }
    let circles: Vec<String> = graphs
        .iter()
        .filter_map(|(parent, graph)| {
            let circle = cycle(graph)?;
            Some(format!("in {}: {}", parent.join("::"), circle.join(" -> ")))
        })
        .collect();
    assert!(
        circles.is_empty(),
        "sibling modules import each other: {circles:#?}"
    );
}

/// The boundaries ARCHITECTURE.md names: only `engine`, `lab`, `owner` and `bench` know the
/// engine; the shared words and the protocol client depend on nothing; checks never reach into the lab or the report.
#[test]
fn the_named_boundaries_hold() {
    let graph = crate_graph();
    assert_eq!(graph["domain"], BTreeSet::new(), "domain is a leaf");
    assert_eq!(
        graph["protocol"],
        BTreeSet::new(),
        "the protocol client depends on nothing of ours"
    );
    for pure in [
        "scenario", "checks", "pki", "journal", "report", "domain", "protocol", "replay",
    ] {
        for forbidden in ["engine", "lab", "bench", "images"] {
            assert!(
                !graph[pure].contains(forbidden),
                "{pure} must know nothing about {forbidden} (it uses {:?})",
                graph[pure]
            );
        }
    }
    for upstream in ["report", "scenario"] {
        assert!(
            !graph["checks"].contains(upstream),
            "checks must not depend on {upstream}"
        );
    }
}

/// The engine's crate is the engine's and its users': a module outside the allow-list that
/// names `bollard` (or the gone testcontainers) reaches the engine past its boundary.
#[test]
fn external_crates_stay_in_their_modules() {
    let allowed: [(&str, &[&str]); 6] = [
        ("bollard::", &["engine", "lab", "images", "bench", "errors"]),
        ("testcontainers::", &[]),
        ("reqwest::", &["protocol", "errors"]),
        ("clap::", &["cli"]),
        // The runtime is for what waits on the engine, the network or a process; the pure
        // modules (and checks, which see the lab only through `Observer`) never block on it.
        (
            "tokio::",
            &["engine", "lab", "images", "bench", "cli", "protocol", "lib"],
        ),
        ("indicatif::", &["cli"]),
    ];
    let root = src();
    for file in rust_files(&root) {
        let module = file
            .strip_prefix(&root)
            .unwrap()
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        // A `tests.rs` is a whole test module (declared `#[cfg(test)] mod tests;`).
        if file.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let named = external_names(&std::fs::read_to_string(&file).unwrap());
        for (krate, modules) in allowed {
            let krate = krate.trim_end_matches("::");
            assert!(
                !named.contains(krate) || modules.contains(&module.as_str()),
                "{} ({module}) uses {krate}, which belongs to {modules:?}",
                file.display()
            );
        }
    }
}

/// The first segments of the paths a file's non-test code names (in `use`, in code, in
/// attributes such as `#[derive(clap::Args)]`): the external crates it reaches.
fn external_names(text: &str) -> BTreeSet<String> {
    struct Names(BTreeSet<String>);
    impl<'ast> Visit<'ast> for Names {
        fn visit_item(&mut self, item: &'ast syn::Item) {
            if !is_cfg_test(item_attrs(item)) {
                syn::visit::visit_item(self, item);
            }
        }
        fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
            let mut tree = &item.tree;
            while let syn::UseTree::Group(group) = tree {
                match group.items.first() {
                    Some(first) => tree = first,
                    None => return,
                }
            }
            if let syn::UseTree::Path(p) = tree {
                self.0.insert(p.ident.to_string());
            }
        }
        fn visit_path(&mut self, path: &'ast syn::Path) {
            if let Some(first) = path.segments.first() {
                self.0.insert(first.ident.to_string());
            }
            syn::visit::visit_path(self, path);
        }
        fn visit_attribute(&mut self, attr: &'ast syn::Attribute) {
            // A derive's or an attribute's arguments are tokens: `clap :: Args`.
            let tokens = attr.meta.to_token_stream().to_string().replace(' ', "");
            for word in tokens.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')) {
                if let Some((first, _)) = word.split_once("::") {
                    self.0.insert(first.to_string());
                }
            }
            syn::visit::visit_attribute(self, attr);
        }
    }
    let mut names = Names(BTreeSet::new());
    names.visit_file(&syn::parse_file(text).expect("the sources parse"));
    names.0
}

/// Test items are left out, alone; a `use` wrapped over lines, a group and a nested module are
/// read; `super` resolves from the module it is written in.
#[test]
fn references_are_read_as_rust() {
    let text = "use crate::a::X;\n#[cfg(test)]\nmod tests;\nuse crate::b::Y;\n#[cfg(test)]\nmod more {\n    use crate::c::Z;\n}\n\
                use crate::{\n    d::D,\n    e::{self, f::F},\n};\nfn g() { crate::h::go(); super::i::I::new(); }\nmod inner { use super::j; }\n";
    let module = vec!["m".to_string()];
    let found: BTreeSet<String> = references(&module, text)
        .into_iter()
        .map(|(from, to)| format!("{} -> {}", from.join("::"), to.join("::")))
        .collect();
    for expected in [
        "m -> a::X",
        "m -> b::Y",
        "m -> d::D",
        "m -> e",
        "m -> e::f::F",
        "m -> h::go",
        "m -> i::I::new",
        "m::inner -> m::j",
    ] {
        assert!(found.contains(expected), "{expected} in {found:?}");
    }
    assert!(
        !found.iter().any(|f| f.contains("c::Z")),
        "a test item is not read: {found:?}"
    );
    assert!(
        external_names("#[derive(clap::Args)]\nstruct A;\nuse tokio::{\n    time,\n};\n")
            .is_superset(&BTreeSet::from(["clap".to_string(), "tokio".to_string()]))
    );
}

#[test]
fn no_source_file_outgrows_a_reader() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = rust_files(&root.join("src"));
    files.extend(rust_files(&root.join("xtask/src")));
    for file in files {
        let lines = std::fs::read_to_string(&file).unwrap().lines().count();
        assert!(
            lines <= 600,
            "{} has {lines} lines: split it by concept",
            file.display()
        );
    }
}

#[test]
fn the_cycle_finder_finds_cycles() {
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec![]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.into_iter().map(String::from).collect()))
    .collect();
    assert_eq!(
        cycle(&graph),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
}

/// The code map in ARCHITECTURE.md names every source file (its name, or with its folder where
/// two files share a name), so the map cannot drift from the tree: a file added without its
/// line in the map fails here.
#[test]
fn the_map_names_every_source_file() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let map = std::fs::read_to_string(manifest.join("ARCHITECTURE.md")).unwrap();
    let root = src();
    let files: Vec<PathBuf> = rust_files(&root)
        .into_iter()
        .map(|f| f.strip_prefix(&root).unwrap().to_path_buf())
        .filter(|f| {
            let name = f.file_name().unwrap().to_string_lossy();
            !["tests.rs", "mod.rs", "lib.rs", "main.rs"].contains(&name.as_ref())
        })
        .collect();
    let name_of = |f: &Path| f.file_name().unwrap().to_string_lossy().into_owned();
    let missing: Vec<String> = files
        .iter()
        .filter(|file| {
            let name = name_of(file);
            let shared = files.iter().filter(|f| name_of(f) == name).count() > 1;
            let with_folder = match file.parent().and_then(|p| p.file_name()) {
                Some(folder) => format!("{}/{name}", folder.to_string_lossy()),
                None => format!("src/{name}"),
            };
            let named = if shared {
                map.contains(&with_folder)
            } else {
                map.contains(&name)
            };
            !named
        })
        .map(|f| f.display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md's map does not name: {missing:#?}"
    );
}

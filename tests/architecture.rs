//! The map in ARCHITECTURE.md, checked against the code's own imports: no cycles between the
//! library's modules (nor between the lab's and the checks' submodules), the named boundaries
//! hold, and no source file outgrows a reader. Reads the sources as text; needs no Docker.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

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
    files
}

/// `text` without the items marked `#[cfg(test)]` (tests may reach across layers to build their
/// inputs): each such item alone is left out (a `mod tests;` line, a `mod tests { ... }` block
/// to its closing brace, a `use` line), and what follows it is read again.
fn without_test_items(text: &str) -> String {
    let mut kept = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if line.trim() != "#[cfg(test)]" {
            kept.push_str(line);
            kept.push('\n');
            continue;
        }
        // The item the attribute is on: one line, or a block to its matching brace.
        let mut depth = 0i32;
        for item in lines.by_ref() {
            let code = item.split("//").next().unwrap_or("");
            depth += code.matches('{').count() as i32 - code.matches('}').count() as i32;
            let ends = code.trim_end().ends_with(';') || code.trim_end().ends_with('}');
            if depth <= 0 && ends {
                break;
            }
        }
    }
    kept
}

/// The names `text` refers to through `prefix` (`crate::checks::...` → `checks`), outside
/// comments and test items.
fn referenced(text: &str, prefix: &str) -> BTreeSet<String> {
    let code = without_test_items(text);
    let mut names = BTreeSet::new();
    for line in code.lines() {
        let line = line.split("//").next().unwrap_or("");
        let mut rest = line;
        while let Some(at) = rest.find(prefix) {
            let after = &rest[at + prefix.len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                names.insert(name);
            } else if let Some(group) = after.strip_prefix('{') {
                // `use super::{a, b::c}`: each first segment.
                let group = group.split('}').next().unwrap_or("");
                for item in group.split(',') {
                    let first: String = item
                        .trim()
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if !first.is_empty() {
                        names.insert(first);
                    }
                }
            }
            rest = after;
        }
    }
    names
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

/// The library's top-level modules and which others each refers to (`crate::x`).
fn crate_graph() -> BTreeMap<String, BTreeSet<String>> {
    let root = src();
    // `x.rs`, or a folder `x/` with its `mod.rs`.
    let modules: BTreeSet<String> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            (p.extension().is_some_and(|e| e == "rs") && !p.ends_with("lib.rs"))
                || p.join("mod.rs").exists()
        })
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    let mut graph = BTreeMap::new();
    for module in &modules {
        let mut files = vec![root.join(format!("{module}.rs"))];
        if root.join(module).is_dir() {
            files.extend(rust_files(&root.join(module)));
        }
        let mut uses = BTreeSet::new();
        for file in files.iter().filter(|f| f.exists()) {
            let text = std::fs::read_to_string(file).unwrap();
            uses.extend(
                referenced(&text, "crate::")
                    .into_iter()
                    .filter(|name| modules.contains(name) && name != module),
            );
        }
        graph.insert(module.clone(), uses);
    }
    graph
}

/// The submodules of `dir` (files and folders beside its mod.rs) and which siblings each refers
/// to through `super::` (from a folder's files, `super::super::`).
fn sibling_graph(dir: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut parts: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if name == "mod" || name == "tests" {
            continue;
        }
        let files = if path.is_dir() {
            rust_files(&path)
        } else {
            vec![path]
        };
        parts.entry(name).or_default().extend(files);
    }
    let names: BTreeSet<String> = parts.keys().cloned().collect();
    parts
        .iter()
        .map(|(name, files)| {
            let mut uses = BTreeSet::new();
            for file in files {
                let text = std::fs::read_to_string(file).unwrap();
                let nested = file.parent() != Some(dir);
                let prefix = if nested { "super::super::" } else { "super::" };
                uses.extend(
                    referenced(&text, prefix)
                        .into_iter()
                        .filter(|n| names.contains(n) && n != name),
                );
            }
            (name.clone(), uses)
        })
        .collect()
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

#[test]
fn the_lab_and_the_check_families_have_no_cycle_inside() {
    for dir in ["lab", "checks"] {
        let graph = sibling_graph(&src().join(dir));
        assert!(graph.len() > 3, "{dir}: {graph:?}");
        assert_eq!(
            cycle(&graph),
            None,
            "{dir}'s submodules import each other in a cycle"
        );
    }
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
        let text = without_test_items(&std::fs::read_to_string(&file).unwrap());
        for (krate, modules) in allowed {
            let uses = text
                .lines()
                .map(|l| l.split("//").next().unwrap_or(""))
                .any(|l| l.contains(krate) && !l.contains(&format!("crate::{krate}")));
            assert!(
                !uses || modules.contains(&module.as_str()),
                "{} ({module}) uses {krate}, which belongs to {modules:?}",
                file.display()
            );
        }
    }
}

#[test]
fn test_items_are_skipped_alone() {
    let text = "use crate::a::X;\n#[cfg(test)]\nmod tests;\nuse crate::b::Y;\n#[cfg(test)]\nmod more {\n    use crate::c::Z;\n}\nfn f() { crate::d::g() }\n";
    let names = referenced(text, "crate::");
    assert_eq!(
        names,
        ["a", "b", "d"]
            .into_iter()
            .map(String::from)
            .collect::<BTreeSet<_>>(),
        "what follows a test item is read; the test item is not"
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
    assert_eq!(
        referenced(
            "use crate::{checks::X, report};\nlet x = crate::engine::f(); // crate::lab",
            "crate::"
        ),
        BTreeSet::from([
            "checks".to_string(),
            "engine".to_string(),
            "report".to_string()
        ])
    );
}

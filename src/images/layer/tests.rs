use std::path::Path;

use super::*;
use crate::images::Recipes;

fn images_dir() -> Recipes {
    Recipes::built_in()
}

fn gnutls() -> ImageSpec {
    ImageSpec::load(&images_dir(), "bookworm-gnutls").unwrap()
}

#[test]
fn the_gnutls_recipe_is_bookworm_plus_a_rebuilt_journal_remote() {
    let spec = gnutls();
    let bookworm = ImageSpec::load(&images_dir(), "bookworm").unwrap();
    let layer = spec.layer.as_ref().unwrap();
    assert_eq!(
        spec.recipe, bookworm.recipe,
        "the bootstrap recipe is bookworm's"
    );
    assert_eq!(layer.rebuild.source, "systemd");
    assert!(layer
        .rebuild
        .meson_options
        .contains(&"-Dgnutls=true".to_string()));
    assert_eq!(
        layer
            .rebuild
            .install
            .get("systemd-journal-remote")
            .map(String::as_str),
        Some("/usr/lib/systemd/systemd-journal-remote")
    );
    let base = spec.base().unwrap();
    assert_eq!(base.reference(), bookworm.reference());
    assert!(base.layer.is_none());
    assert_ne!(spec.hash, bookworm.hash);
    assert_eq!(
        spec.reference(),
        format!("journal-lab/bookworm-gnutls:{}", spec.hash)
    );
    assert!(bookworm.base().is_none());
}

#[test]
fn the_layer_hash_follows_its_base_and_its_content() {
    let spec = gnutls();
    let layer = spec.layer.clone().unwrap();
    assert_eq!(layered_hash("aaaa", &layer), layered_hash("aaaa", &layer));
    assert_ne!(layered_hash("aaaa", &layer), layered_hash("bbbb", &layer));
    let mut other = layer.clone();
    other.rebuild.meson_options.push("-Dfoo=bar".into());
    assert_ne!(layered_hash("aaaa", &layer), layered_hash("aaaa", &other));
    // Extra packages for a host go into the base, and the layer goes on that variant.
    let variant = spec.with_packages(&["auditd".to_string()]);
    assert_ne!(variant.hash, spec.hash);
    let variant_base = variant.base().unwrap();
    assert!(variant_base.recipe.packages.contains(&"auditd".to_string()));
    assert_eq!(variant.hash, layered_hash(&variant_base.hash, &layer));
}

fn load_text(text: &str) -> std::result::Result<ImageSpec, String> {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("base.yaml"),
        "suite: bookworm\nmirror: http://m\npackages: [systemd]\n",
    )
    .unwrap();
    std::fs::write(tmp.path().join("layered.yaml"), text).unwrap();
    ImageSpec::load(&tmp.path().into(), "layered").map_err(|e| e.to_string())
}

#[test]
fn hostile_or_malformed_layer_recipes_are_refused_with_the_reason() {
    let ok = "base: base\nrebuild:\n  source: systemd\n  install:\n    systemd-journal-remote: /usr/lib/systemd/systemd-journal-remote\n";
    assert!(load_text(ok).is_ok());
    for (text, expected) in [
        (
            ok.replace("source: systemd", "source: 'systemd; rm -rf /'"),
            "rebuild.source",
        ),
        (
            format!("{ok}  meson_options: ['-Dgnutls=true; curl x']\n"),
            "rebuild.meson_options",
        ),
        (
            format!("{ok}  meson_options: [--prefix=/x]\n"),
            "-Dname=value",
        ),
        (format!("{ok}  build_depends: ['a b']\n"), "build_depends"),
        (
            ok.replace("/usr/lib/systemd/systemd-journal-remote", "usr/lib/x"),
            "absolute path",
        ),
        (
            ok.replace(
                "/usr/lib/systemd/systemd-journal-remote",
                "/usr/../etc/shadow",
            ),
            "absolute path",
        ),
        (
            ok.replace("systemd-journal-remote:", "../x:"),
            "ninja target",
        ),
        (
            "base: base\nrebuild:\n  source: systemd\n  install: {}\n".to_string(),
            "names no target",
        ),
        (ok.replace("base: base", "base: nowhere"), "nowhere.yaml"),
        (ok.replace("base: base", "base: layered"), "itself layered"),
        (format!("{ok}suite: trixie\n"), "unknown field `suite`"),
    ] {
        let err = load_text(&text).unwrap_err();
        assert!(err.contains(expected), "{text}\n→ {err}");
        assert!(
            err.contains("layered.yaml") || expected == "nowhere.yaml",
            "{err}"
        );
    }
}

#[test]
fn the_chroot_gets_sources_and_quoted_arguments() {
    let spec = gnutls();
    let args = rebuild_args(
        &spec.recipe,
        spec.layer.as_ref().unwrap(),
        Path::new("/tmp/w"),
    );
    assert!(args.contains(&"--variant=buildd".to_string()));
    assert!(args.contains(&"deb-src http://deb.debian.org/debian bookworm main".to_string()));
    assert!(args.contains(&"--customize-hook=copy-out /out /tmp/w".to_string()));
    let run = args
        .iter()
        .find(|a| a.contains("sh /tmp/rebuild-from-source.sh"))
        .unwrap();
    assert!(
        run.ends_with(
            "'systemd' 'libgnutls28-dev' '-Dgnutls=true -Db_lto=false' \
             'systemd-journal-remote=/usr/lib/systemd/systemd-journal-remote'"
        ),
        "{run}"
    );
    assert_eq!(quoted("it's"), r"'it'\''s'");
}

#[test]
fn the_layer_checks_each_rebuilt_binary_in_the_image() {
    let spec = gnutls();
    let text = checks(
        "journal-lab/bookworm:abc",
        spec.layer.as_ref().unwrap(),
        "252.39-1~deb12u2",
    );
    assert!(
        text.starts_with("p='/usr/lib/systemd/systemd-journal-remote';"),
        "{text}"
    );
    assert!(text.contains("= '252.39-1~deb12u2' ]"), "{text}");
    assert!(
        text.contains("docker rmi journal-lab/bookworm:abc"),
        "{text}"
    );
    assert!(text.ends_with("\"$p\" --version"), "{text}");
    assert!(!text.contains('\n'), "one RUN line");
}

#[test]
fn the_rebuilt_files_are_shared_by_every_variant_of_the_base() {
    let spec = gnutls();
    let layer = spec.layer.clone().unwrap();
    let variant = spec.with_packages(&["auditd".to_string()]);
    assert_ne!(variant.reference(), spec.reference());
    assert_eq!(
        rebuilt_reference(&variant, &layer),
        rebuilt_reference(&spec, &layer)
    );
    assert!(rebuilt_reference(&spec, &layer).starts_with("journal-lab/bookworm-gnutls-rebuilt:"));
    let mut other = layer.clone();
    other.rebuild.meson_options.push("-Dfoo=bar".into());
    assert_ne!(
        rebuilt_reference(&spec, &other),
        rebuilt_reference(&spec, &layer)
    );
}

#[test]
fn ninja_progress_lines_are_recognised() {
    assert_eq!(ninja_step("[12/383]"), Some((12, 383)));
    assert!(is_ninja_progress("[383/383]"));
    assert!(!is_ninja_progress("[12/383] Compiling C object"));
    assert!(!is_ninja_progress("journal-lab: building"));
    assert!(!is_ninja_progress("[a/b]"));
}

#[test]
fn the_context_holds_the_dockerfile_and_the_rebuilt_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let bin = tmp.path().join("usr/lib/systemd");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(bin.join("systemd-journal-remote"), b"ELF").unwrap();
    let tree = tree_archive(tmp.path()).unwrap();
    let context = build_context("FROM scratch\n", Some(&tree)).unwrap();
    let mut outer = tar::Archive::new(context.as_slice());
    let mut names = Vec::new();
    let mut inner_names = Vec::new();
    for entry in outer.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().display().to_string();
        if name == "rebuilt.tar" {
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut bytes).unwrap();
            for inner in tar::Archive::new(bytes.as_slice()).entries().unwrap() {
                inner_names.push(inner.unwrap().path().unwrap().display().to_string());
            }
        }
        names.push(name);
    }
    assert_eq!(names, ["Dockerfile", "rebuilt.tar"]);
    assert!(
        inner_names
            .iter()
            .any(|n| n.ends_with("usr/lib/systemd/systemd-journal-remote")),
        "{inner_names:?}"
    );
    let only_dockerfile = build_context("FROM x\n", None).unwrap();
    assert_eq!(
        tar::Archive::new(only_dockerfile.as_slice())
            .entries()
            .unwrap()
            .count(),
        1
    );
}

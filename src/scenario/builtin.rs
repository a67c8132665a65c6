//! The seed scenarios under `scenarios/`, built into the binary: `journal-lab run server-outage`
//! runs the built-in one from any directory, and an installed binary reads nothing from the tree
//! it was compiled in. A test compares this list with the directory.

use std::path::{Path, PathBuf};

use super::{Scenario, ScenarioError};

/// In the order of their file names (as `run --all` and `--shard` have always listed them).
const BUILT_IN: &[(&str, &str)] = &[
    (
        "audit-rules",
        include_str!("../../scenarios/audit-rules.yaml"),
    ),
    (
        "blackhole-timeout",
        include_str!("../../scenarios/blackhole-timeout.yaml"),
    ),
    ("burst", include_str!("../../scenarios/burst.yaml")),
    (
        "cert-rejection",
        include_str!("../../scenarios/cert-rejection.yaml"),
    ),
    (
        "client-power-cut",
        include_str!("../../scenarios/client-power-cut.yaml"),
    ),
    (
        "client-restart",
        include_str!("../../scenarios/client-restart.yaml"),
    ),
    (
        "clock-skew",
        include_str!("../../scenarios/clock-skew.yaml"),
    ),
    (
        "compression-matrix",
        include_str!("../../scenarios/compression-matrix.yaml"),
    ),
    (
        "fss-sealing",
        include_str!("../../scenarios/fss-sealing.yaml"),
    ),
    (
        "hostile-input",
        include_str!("../../scenarios/hostile-input.yaml"),
    ),
    (
        "large-messages",
        include_str!("../../scenarios/large-messages.yaml"),
    ),
    (
        "log-namespace",
        include_str!("../../scenarios/log-namespace.yaml"),
    ),
    (
        "network-partition",
        include_str!("../../scenarios/network-partition.yaml"),
    ),
    (
        "passive-https",
        include_str!("../../scenarios/passive-https.yaml"),
    ),
    (
        "port-change",
        include_str!("../../scenarios/port-change.yaml"),
    ),
    ("proxy", include_str!("../../scenarios/proxy.yaml")),
    ("pull", include_str!("../../scenarios/pull.yaml")),
    (
        "rate-limit",
        include_str!("../../scenarios/rate-limit.yaml"),
    ),
    ("relay", include_str!("../../scenarios/relay.yaml")),
    ("retention", include_str!("../../scenarios/retention.yaml")),
    (
        "server-outage-hardened",
        include_str!("../../scenarios/server-outage-hardened.yaml"),
    ),
    (
        "server-outage",
        include_str!("../../scenarios/server-outage.yaml"),
    ),
    ("soak", include_str!("../../scenarios/soak.yaml")),
    (
        "socket-masking",
        include_str!("../../scenarios/socket-masking.yaml"),
    ),
];

/// The built-in scenarios' names, sorted.
pub fn names() -> Vec<&'static str> {
    BUILT_IN.iter().map(|(name, _)| *name).collect()
}

/// Where a built-in scenario is said to come from (its place in journal-lab's repository).
pub fn path_of(name: &str) -> PathBuf {
    Path::new("scenarios").join(format!("{name}.yaml"))
}

/// The built-in scenario `name`, parsed; None when there is none of that name.
pub fn load(name: &str) -> Option<Result<Scenario, ScenarioError>> {
    BUILT_IN
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(n, text)| Scenario::parse(&path_of(n), text))
}

/// Every built-in scenario, (name, scenario), sorted by name.
pub fn all() -> Result<Vec<(String, Scenario)>, ScenarioError> {
    BUILT_IN
        .iter()
        .map(|(name, text)| Ok((name.to_string(), Scenario::parse(&path_of(name), text)?)))
        .collect()
}

/// What a scenario argument on the command line names: an existing file is that file; a bare
/// name (no `/`, no `.yaml`) is `scenarios/NAME.yaml` under the working directory if there is
/// one, else the built-in scenario of that name. Anything else is an error that lists the
/// built-in names.
pub fn resolve(argument: &Path) -> Result<(String, Scenario), ScenarioError> {
    let name = super::name_of(argument);
    if argument.exists() {
        return Ok((name, Scenario::load(argument)?));
    }
    let text = argument.to_string_lossy();
    let bare = !text.contains('/') && argument.extension().is_none();
    if bare {
        let local = path_of(&text);
        if local.is_file() {
            return Ok((name, Scenario::load(&local)?));
        }
        if let Some(built_in) = load(&text) {
            return built_in.map(|s| (name, s));
        }
    }
    Err(ScenarioError {
        file: argument.to_path_buf(),
        line: 0,
        column: 0,
        message: format!(
            "no such file{}; the built-in scenarios are: {}",
            if bare {
                ", no scenarios/NAME.yaml here, and no built-in scenario of that name"
            } else {
                ""
            },
            names().join(", ")
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_scenarios_are_the_scenarios_directory_and_all_load() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        let files = super::super::files_in(&dir).unwrap();
        let on_disk: Vec<String> = files.iter().map(|f| super::super::name_of(f)).collect();
        assert_eq!(names(), on_disk);
        for (name, text) in BUILT_IN {
            assert_eq!(
                *text,
                std::fs::read_to_string(dir.join(format!("{name}.yaml"))).unwrap()
            );
        }
        assert_eq!(all().unwrap().len(), on_disk.len());
    }

    #[test]
    fn names_resolve_to_built_ins_and_unknown_ones_list_them() {
        let (name, scenario) = resolve(Path::new("server-outage")).unwrap();
        assert_eq!(name, "server-outage");
        assert_eq!(
            scenario.source.as_deref(),
            Some(Path::new("scenarios/server-outage.yaml"))
        );
        let err = resolve(Path::new("no-such-scenario")).unwrap_err();
        assert_eq!((err.line, err.column), (0, 0));
        let text = err.to_string();
        assert!(text.starts_with("no-such-scenario: no such file"), "{text}");
        assert!(text.contains("server-outage"), "{text}");
        let err = resolve(Path::new("dir/missing.yaml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("no such file;"), "{err}");
    }

    #[test]
    fn all_selects_every_built_in_and_names_select_those() {
        let every: Vec<String> = crate::scenario::selection::select(&[], None, true)
            .unwrap()
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        assert_eq!(every, names());
        let named: Vec<String> = crate::scenario::selection::select(
            &[
                PathBuf::from("socket-masking"),
                PathBuf::from("audit-rules"),
            ],
            None,
            false,
        )
        .unwrap()
        .into_iter()
        .map(|(name, _)| name)
        .collect();
        assert_eq!(named, ["socket-masking", "audit-rules"]);
        assert!(
            crate::scenario::selection::select(&[PathBuf::from("no-such-seed")], None, false)
                .is_err()
        );
    }
}

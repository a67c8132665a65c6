//! `journal-lab init [DIR]`: a commented starting setup (the guide's configuration, with upload
//! retrying for ever) and a scenario that uses its files, for a team to edit into its own.

use std::path::{Path, PathBuf};

/// The files `init` writes, relative to its directory: (path, text).
pub const STARTING_SETUP: &[(&str, &str)] = &[
    ("setup.yaml", include_str!("init/setup.yaml")),
    (
        "server/journal-remote.conf",
        include_str!("init/server/journal-remote.conf"),
    ),
    (
        "client/journal-upload.conf",
        include_str!("init/client/journal-upload.conf"),
    ),
    (
        "client/keep-retrying.conf",
        include_str!("init/client/keep-retrying.conf"),
    ),
    ("scenario.yaml", include_str!("init/scenario.yaml")),
];

/// Writes the starting setup into `dir` (created if missing). Refuses, before writing anything,
/// when one of its files exists and `force` is not set, or is a link.
pub fn write_starting_setup(dir: &Path, force: bool) -> Result<Vec<PathBuf>, String> {
    for (name, _) in STARTING_SETUP {
        let path = dir.join(name);
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(format!(
                    "{} is a symbolic link: not written through",
                    path.display()
                ))
            }
            Ok(_) if !force => {
                return Err(format!(
                    "{} exists: nothing was written (--force overwrites the starting files)",
                    path.display()
                ))
            }
            _ => {}
        }
    }
    let mut written = Vec::new();
    for (name, text) in STARTING_SETUP {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{builtin, setup::Setup, Scenario};

    #[test]
    fn the_starting_setup_loads_lays_over_every_suite_and_its_scenario_runs_its_files() {
        let tmp = tempfile::tempdir().unwrap();
        let written = write_starting_setup(tmp.path(), false).unwrap();
        assert_eq!(written.len(), STARTING_SETUP.len());
        let setup = Setup::load(tmp.path()).unwrap();
        for suite in setup.suites() {
            let (_, scenario) = builtin::resolve(Path::new(&suite)).unwrap();
            let laid = setup.lay_over(&scenario).unwrap();
            assert!(laid.hosts.iter().all(|h| !h.files.is_empty()), "{suite}");
        }
        let scenario = Scenario::load(&tmp.path().join("scenario.yaml")).unwrap();
        let client = scenario.host("client1").unwrap();
        assert!(client.files[0]
            .content
            .contains("URL=https://logs.example.org"));
        // Never over what is there, unless asked.
        let err = write_starting_setup(tmp.path(), false).unwrap_err();
        assert!(err.contains("exists: nothing was written"), "{err}");
        write_starting_setup(tmp.path(), true).unwrap();
    }
}

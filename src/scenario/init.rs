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

/// The line `init` makes sure `.gitignore` has: `run` writes its reports to `./reports`, which
/// are a run's output, not the team's configuration.
pub const REPORTS_IGNORED: &str = "/reports/";

/// Makes sure `dir/.gitignore` ignores the reports directory (created if missing, appended to
/// otherwise, never written through a link). Returns whether it changed the file.
pub fn ignore_reports(dir: &Path) -> Result<bool, String> {
    let path = dir.join(".gitignore");
    let existing = match std::fs::symlink_metadata(&path) {
        Ok(m) if m.file_type().is_symlink() => {
            return Err(format!(
            "{} is a symbolic link: not written through (add `{REPORTS_IGNORED}` to it yourself)",
            path.display()
        ))
        }
        Ok(m) if !m.is_file() => {
            return Err(format!(
                "{} is not a regular file: not written (add `{REPORTS_IGNORED}` to your .gitignore yourself)",
                path.display()
            ))
        }
        Ok(_) => super::limits::read_bounded(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?,
        Err(_) => String::new(),
    };
    let ignored = existing
        .lines()
        .map(str::trim)
        .any(|line| matches!(line, "reports" | "reports/" | "/reports" | "/reports/"));
    if ignored {
        return Ok(false);
    }
    let separator = if existing.is_empty() || existing.ends_with('\n') {
        ""
    } else {
        "\n"
    };
    let text = format!(
        "{existing}{separator}# journal-lab's run reports (a run's output, not configuration)\n{REPORTS_IGNORED}\n"
    );
    std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(true)
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

    /// `.gitignore` gets the reports directory once: created, appended to (after a last line
    /// without its newline), left alone when it already ignores it; never through a link.
    #[test]
    fn init_makes_git_ignore_the_reports_once() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join(".gitignore");
        assert!(ignore_reports(tmp.path()).unwrap());
        assert!(std::fs::read_to_string(&path)
            .unwrap()
            .ends_with("\n/reports/\n"));
        assert!(
            !ignore_reports(tmp.path()).unwrap(),
            "a second init adds nothing"
        );
        std::fs::write(&path, "target").unwrap();
        assert!(ignore_reports(tmp.path()).unwrap());
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("target\n#") && text.ends_with("/reports/\n"),
            "{text:?}"
        );
        std::fs::write(&path, "node_modules/\nreports/\n").unwrap();
        assert!(!ignore_reports(tmp.path()).unwrap());
        std::fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink(tmp.path().join("elsewhere"), &path).unwrap();
        let err = ignore_reports(tmp.path()).unwrap_err();
        assert!(err.contains("symbolic link"), "{err}");
    }
}

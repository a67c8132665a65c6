//! A run's report directory while it is written: whole or gone, and never writable by others;
//! and the partial report of a run stopped after its checks.

use std::path::{Path, PathBuf};

use super::RunReport;
use crate::errors::{Error, Result};

/// A run's report directory while it is being written: removed if the run stops before it is
/// complete (an interruption drops it), so no half-written or empty report is left behind.
pub struct Unfinished(Option<PathBuf>, crate::owner::MustRemove);

impl Unfinished {
    pub fn new(run_dir: &Path) -> Unfinished {
        Unfinished(Some(run_dir.to_path_buf()), crate::owner::MustRemove::new())
    }

    /// The report is whole: it stays, and nothing in it is writable by others, whatever the
    /// umask (a report is evidence).
    pub fn finish(mut self) -> Result<()> {
        match self.0.take() {
            Some(dir) => not_world_writable(&dir),
            None => Ok(()),
        }
    }
}

impl Drop for Unfinished {
    fn drop(&mut self) {
        if let Some(dir) = self.0.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Clears the write-by-others bit on `dir` and everything below it (links are left alone).
fn not_world_writable(dir: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let metadata = std::fs::symlink_metadata(dir).map_err(Error::io("reading", dir))?;
    if metadata.file_type().is_symlink() {
        return Ok(());
    }
    let mode = metadata.permissions().mode();
    if mode & 0o002 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode & !0o002))
            .map_err(Error::io("setting the mode of", dir))?;
    }
    if metadata.is_dir() {
        for entry in std::fs::read_dir(dir).map_err(Error::io("listing", dir))? {
            not_world_writable(&entry.map_err(Error::io("listing", dir))?.path())?;
        }
    }
    Ok(())
}

/// What an interrupted run keeps (Jepsen keeps its history when a test crashes): once its checks
/// are evaluated, the run holds a report of what it has observed so far; if the run is dropped
/// before its whole report is written (a signal: the command's future is dropped), this writes
/// that report, marked `interrupted`, in its own directory, where `report` can render it again.
pub struct Partial {
    reports_dir: PathBuf,
    report: Option<RunReport>,
}

impl Partial {
    pub fn new(reports_dir: &Path, mut report: RunReport) -> Partial {
        report.interrupted = true;
        report.ok = false;
        Partial {
            reports_dir: reports_dir.to_path_buf(),
            report: Some(report),
        }
    }

    /// The whole report was written: nothing partial is.
    pub fn disarm(&mut self) {
        self.report = None;
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        let Some(report) = self.report.take() else {
            return;
        };
        if let Ok(dir) = super::write_run(&self.reports_dir, &report) {
            let _ = super::write_formats(&dir, &report, &super::Format::ALL);
            eprintln!(
                "journal-lab: the run stopped before its report was whole; what it had observed is in {} (marked interrupted)",
                dir.display()
            );
        }
    }
}

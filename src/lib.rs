//! journal-lab: an integration-test lab for centralized systemd journals.
//!
//! Data flows one way: `images` (what hosts boot from) and `pki` (who trusts whom) feed `lab`
//! (boots real systemd containers and configures them as an operator would), whose observations
//! feed `journal` (what arrived where) and `report` (run.json). `engine` is the Docker access
//! they share. See ARCHITECTURE.md.

pub mod bench;
pub mod checks;
pub mod cli;
pub mod domain;
pub mod engine;
pub mod errors;
pub mod events;
pub mod images;
pub mod journal;
pub mod lab;
pub mod owner;
pub mod pki;
pub mod protocol;
pub mod replay;
pub mod report;
pub mod scenario;

pub use errors::{Error, Result};

/// journal-lab's version, as recorded in every report.
pub const HARNESS_VERSION: &str = env!("CARGO_PKG_VERSION");
/// The commit journal-lab was built from (build.rs; "unknown" outside a git checkout).
pub const HARNESS_COMMIT: &str = env!("JOURNAL_LAB_COMMIT");

/// How the user runs journal-lab (`journal-lab`, or `cargo xtask` in a checkout), for messages
/// that say what to run next; the command line sets it once at start.
pub fn command_name() -> &'static str {
    COMMAND_NAME.get().copied().unwrap_or("journal-lab")
}

pub(crate) static COMMAND_NAME: std::sync::OnceLock<&'static str> = std::sync::OnceLock::new();

pub use events::{Event, Progress, Say};

/// `program args` with no stdin, stdout discarded and stderr piped (where tools say what went
/// wrong), killed if the handle is dropped: how the library runs mmdebstrap and the bench's
/// processes.
pub(crate) fn stderr_piped(program: &str, args: &[String]) -> tokio::process::Command {
    use std::process::Stdio;
    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// A progress sink that discards everything.
pub fn quiet() -> Progress {
    std::sync::Arc::new(|_| {})
}

/// A temporary directory (removed when dropped), owner-only (0700: some hold private keys),
/// whose creation error names the location.
pub(crate) fn temp_dir(prefix: &str) -> Result<tempfile::TempDir> {
    use std::os::unix::fs::PermissionsExt;
    tempfile::Builder::new()
        .prefix(prefix)
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir()
        .map_err(Error::io(
            "creating a temporary directory in",
            std::env::temp_dir(),
        ))
}

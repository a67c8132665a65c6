//! The library's error type. Every variant says what went wrong *and* what to do about it; the CLI
//! prints these verbatim, so they are written for the person at the terminal.

use std::path::PathBuf;
use std::time::Duration;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "cannot reach a Docker engine at {endpoint}: {reason}\n\
         fix: start the engine (`sudo systemctl start docker`, or `sudo dockerd &`); if none is \
         installed: `sudo apt-get install -y docker.io` on Debian/Ubuntu; if it runs elsewhere, \
         point DOCKER_HOST at it"
    )]
    EngineUnreachable { endpoint: String, reason: String },

    #[error("docker: {context}: {source}")]
    Docker {
        context: String,
        #[source]
        source: bollard::errors::Error,
    },

    #[error("starting container {name}: {source}")]
    ContainerStart {
        name: String,
        #[source]
        source: bollard::errors::Error,
    },

    #[error("timed out after {:.1}s waiting for {what}; last seen: {last_seen}", .waited.as_secs_f64())]
    Timeout {
        what: String,
        waited: Duration,
        last_seen: String,
    },

    #[error("on {host}: `{command}` exited with {exit_code}:\n{output}")]
    HostCommand {
        host: String,
        command: String,
        exit_code: i64,
        output: String,
    },

    #[error("{action} {}: {source}", .path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "invalid certificate name {0:?}: write a DNS host name (RFC 1123): labels of 1-63 letters, \
         digits and dashes, not starting or ending with a dash, joined by single dots, at most 253 \
         characters (and at least two), e.g. logs.example.org"
    )]
    InvalidName(String),

    #[error("invalid alias {0:?}: write DNS:<hostname> or IP:<address>, e.g. DNS:logs.example.org or IP:192.0.2.10")]
    InvalidAlias(String),

    #[error("certificate authority: {context}: {source}")]
    Pki {
        context: String,
        #[source]
        source: rcgen::Error,
    },

    #[error("{} is not a certificate this tool can read: {reason}", .path.display())]
    BadCertificate { path: PathBuf, reason: String },

    #[error("no image recipe for release {release:?}: {} does not exist (recipes here: {available})", .path.display())]
    UnknownRelease {
        release: String,
        path: PathBuf,
        available: String,
    },

    #[error("image recipe {}: {message}", .path.display())]
    BadRecipe { path: PathBuf, message: String },

    #[error(
        "`{tool}` is needed to build the lab's images (there is no registry to pull from) but is not \
         installed.\nfix: `sudo apt-get install -y {package}`, then run the command again"
    )]
    MissingTool {
        tool: &'static str,
        package: &'static str,
    },

    #[error("building the {release} image failed: {detail}")]
    ImageBuild { release: String, detail: String },

    #[error(
        "this machine allows {available} inotify instances per user (fs.inotify.max_user_instances) \
         but {hosts} systemd hosts need about {required}: systemd would hang while booting the later ones.\n\
         fix: `sudo sysctl -w fs.inotify.max_user_instances={suggested}` (to keep it across reboots: \
         `echo fs.inotify.max_user_instances={suggested} | sudo tee /etc/sysctl.d/60-journal-lab.conf`)"
    )]
    HostLimit {
        hosts: usize,
        available: u64,
        required: u64,
        suggested: u64,
    },

    #[error("invalid lab settings: {0}")]
    InvalidSettings(String),

    #[error("{host} did not finish booting: {cause}\nwhat systemd says there (systemctl --failed, status, last lines):\n{evidence}")]
    HostNotUp {
        host: String,
        cause: String,
        evidence: String,
    },

    #[error("field bundle {}: {}", .path.display(), crate::domain::printable(.reason))]
    Bundle { path: PathBuf, reason: String },

    /// Re-judging a stored run: this build's check asked for something the run never observed.
    #[error(
        "the run did not observe {what} (this build's check asks for more than the run recorded)"
    )]
    NotRecorded { what: String },

    #[error(transparent)]
    ProtocolClient(#[from] crate::protocol::client::ClientError),

    #[error("writing the run report: {0}")]
    Report(#[from] serde_json::Error),
}

impl Error {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io {
            action,
            path,
            source,
        }
    }

    pub(crate) fn docker(
        context: impl Into<String>,
    ) -> impl FnOnce(bollard::errors::Error) -> Error {
        let context = context.into();
        move |source| Error::Docker { context, source }
    }
}

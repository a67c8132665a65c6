//! Where a host's uploads go: a client's (or relay's) upload target, what a relay forwards, and
//! how a proxy forwards.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `upload.via` of a host that dials its own `URL=` (its `upload.server` says only whom the name
/// is resolved to).
pub const VIA_OWN_URL: &str = "own";

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UploadDef {
    /// The server host to send to (default: the first server in `hosts`).
    #[serde(default)]
    pub server: Option<String>,
    /// How the URL names the server: `name`, `ip`, one of the server's aliases, or `own`: the
    /// host dials the `URL=` of its own journal-upload.conf, whose host name the lab resolves to
    /// `server` (`base: as-is` only).
    #[serde(default = "by_name")]
    pub via: String,
    /// Port in the URL (default: the server's listen port).
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub protocol: Protocol,
    /// Relay (a server's `upload:`): what its journal-upload reads and forwards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read: Option<RelayRead>,
    /// Client: what journal-upload's first start sends of the journal already there.
    #[serde(default, skip_serializing_if = "Backlog::is_all")]
    pub backlog: Backlog,
}

/// What a client's journal-upload sends, when it first starts, of what its journal holds
/// already (the boot's entries).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Backlog {
    /// All of it, as a real client's first connection does (journal-upload without a state
    /// file starts at the journal's first entry).
    #[default]
    All,
    /// None: the state file is seeded with the cursor of the journal's last entry before the
    /// first start, so uploading begins with what is logged after configuration.
    None,
}

impl Backlog {
    fn is_all(&self) -> bool {
        *self == Backlog::All
    }
}

/// What a relay forwards.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RelayRead {
    /// What it received: `--directory=/var/log/journal/remote`.
    #[default]
    Received,
    /// `--merge`: every journal on the host, its own included.
    Merge,
}

impl RelayRead {
    /// journal-upload's options for this reading, after `--save-state`.
    pub fn upload_options(self) -> String {
        match self {
            RelayRead::Received => format!("--directory={}", crate::journal::REMOTE_DIR),
            RelayRead::Merge => "--merge".to_string(),
        }
    }
}

fn by_name() -> String {
    "name".to_string()
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    #[default]
    Https,
    Http,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Https => "https",
            Protocol::Http => "http",
        })
    }
}

/// A proxy host's forwarding (systemd#38775).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProxyDef {
    /// The server it forwards to.
    pub server: String,
    #[serde(default)]
    pub mode: ProxyMode,
}

/// How a proxy forwards uploads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ProxyMode {
    /// TCP: the client's TLS reaches the server, which then carries the proxy's name in its
    /// certificate (the name the clients' URL uses).
    #[default]
    Passthrough,
    /// HTTP: TLS ends at the proxy, which checks the client's certificate and connects to the
    /// server with its own; the server sees the proxy as its client.
    Terminate,
}

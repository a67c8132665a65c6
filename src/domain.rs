//! The words every layer shares: a host's role, a check's status, what a command printed. A leaf:
//! it depends on nothing else in the crate, so `scenario`, `checks`, `lab` and `report` can all
//! use it without depending on each other the wrong way round.

use std::fmt;

pub mod engine_url;
mod fault;
pub use fault::{FaultAction, FaultKind, FaultSpec, RestartMode, CLOCK_FILE, FAULTS};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Server,
    Client,
    /// A TCP or HTTP proxy (HAProxy) between clients and a server: it forwards uploads, keeps
    /// no journal of what passes.
    Proxy,
}

impl Role {
    /// The role a check about clients or servers is not about: the other end of an upload.
    pub fn other(self) -> Role {
        match self {
            Role::Server => Role::Client,
            Role::Client | Role::Proxy => Role::Server,
        }
    }

    /// The role as scenarios write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Server => "server",
            Role::Client => "client",
            Role::Proxy => "proxy",
        }
    }
}

/// A check's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Pass,
    Fail,
    NotApplicable,
    NotVerifiable,
    Error,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::NotApplicable => "not-applicable",
            Status::NotVerifiable => "not-verifiable",
            Status::Error => "error",
        })
    }
}

/// What a command run in a host printed, and how it ended.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecOutput {
    pub exit_code: i64,
    pub stdout: String,
    pub stderr: String,
}

impl ExecOutput {
    pub fn success(&self) -> bool {
        self.exit_code == 0
    }

    /// stdout and stderr together, for error messages and evidence.
    pub fn combined(&self) -> String {
        match (self.stdout.trim_end(), self.stderr.trim_end()) {
            (out, "") => out.to_string(),
            ("", err) => err.to_string(),
            (out, err) => format!("{out}\n{err}"),
        }
    }
}

/// journal-remote's port unless a scenario moves it.
pub const DEFAULT_PORT: u16 = 19532;

/// The units under test.
pub const REMOTE_UNIT: &str = "systemd-journal-remote.service";
pub const REMOTE_SOCKET: &str = "systemd-journal-remote.socket";
pub const UPLOAD_UNIT: &str = "systemd-journal-upload.service";

/// `text` with control characters escaped (`\u{1b}`), so nothing a file or an archive holds
/// reaches a terminal as an escape sequence; new lines and tabs stay.
pub fn printable(text: &str) -> String {
    text.chars()
        .flat_map(|c| match c {
            '\n' | '\t' => vec![c],
            c if c.is_control() => c.escape_unicode().collect(),
            c => vec![c],
        })
        .collect()
}

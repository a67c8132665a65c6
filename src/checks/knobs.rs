//! The settings of the user's that a check is about. Under `base: as-is` a failing verdict says
//! how the user's own files set them, with their file and line (`(your PATH:LINE)`, which the
//! reports turn into locations in the user's repository), or that none of their files does: the
//! evidence a person needs to go from "the marker did not arrive" to the line to change.

use crate::domain::Role;

/// A setting in `[section]` of `file`: a program's configuration (`journal-upload.conf`, read
/// with its `.conf.d/` drop-ins) or a unit (`systemd-journal-upload.service`, read from
/// /etc/systemd/system with its `.d/` drop-ins); read on hosts of `role`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Knob {
    pub role: Role,
    pub file: &'static str,
    pub section: &'static str,
    pub key: &'static str,
}

const fn upload(key: &'static str) -> Knob {
    Knob {
        role: Role::Client,
        file: "journal-upload.conf",
        section: "Upload",
        key,
    }
}

const fn remote(key: &'static str) -> Knob {
    Knob {
        role: Role::Server,
        file: "journal-remote.conf",
        section: "Remote",
        key,
    }
}

/// What a client dials and how it proves itself: where a delivery fails, these are the lines.
pub const UPLOAD_CONNECTION: &[Knob] = &[
    upload("URL"),
    upload("ServerKeyFile"),
    upload("ServerCertificateFile"),
    upload("TrustedCertificateFile"),
];

const fn upload_unit(section: &'static str, key: &'static str) -> Knob {
    Knob {
        role: Role::Client,
        file: "systemd-journal-upload.service",
        section,
        key,
    }
}

pub const UPLOAD_RESTART: &[Knob] = &[upload_unit("Service", "Restart")];

/// Whether journal-upload comes back after a fault, and what it dials when it does.
pub const UPLOAD_RECOVERY: &[Knob] = &[
    upload_unit("Service", "Restart"),
    upload_unit("Service", "RestartSec"),
    upload_unit("Unit", "StartLimitIntervalSec"),
    upload_unit("Unit", "StartLimitBurst"),
    upload("URL"),
];

/// What the server listens on and how it proves itself.
pub const REMOTE_LISTENING: &[Knob] = &[
    Knob {
        role: Role::Server,
        file: "systemd-journal-remote.socket",
        section: "Socket",
        key: "ListenStream",
    },
    Knob {
        role: Role::Server,
        file: "systemd-journal-remote.service",
        section: "Service",
        key: "ExecStart",
    },
    remote("ServerKeyFile"),
    remote("ServerCertificateFile"),
    remote("TrustedCertificateFile"),
];

pub const TRUST: &[Knob] = &[
    upload("TrustedCertificateFile"),
    remote("TrustedCertificateFile"),
];

/// How the user's files set the knobs of a failing check on a host: `configured` holds, for each
/// knob read on it, how (`URL=http://logs:19532 (your client/journal-upload.conf:2)`); None when
/// no knob of `knobs` is read there.
pub fn as_configured(knobs: &[Knob], configured: &[(Knob, String)]) -> Option<String> {
    let said: Vec<&str> = knobs
        .iter()
        .filter_map(|k| configured.iter().find(|(c, _)| c == k))
        .map(|(_, how)| how.as_str())
        .collect();
    (!said.is_empty()).then(|| format!("as your files set it: {}", said.join("; ")))
}

/// How a verdict names a line of the user's own: `(your PATH:LINE)`, read back by
/// [`your_locations`] for locations in their repository.
pub fn yours(path: impl std::fmt::Display, line: usize) -> String {
    format!("(your {path}:{line})")
}

/// The user's own files and lines a verdict names (see [`yours`]), in its order.
pub fn your_locations(observed: &str) -> Vec<(String, usize)> {
    observed
        .split("(your ")
        .skip(1)
        .filter_map(|rest| {
            let (at, _) = rest.split_once(')')?;
            let (path, line) = at.rsplit_once(':')?;
            Some((path.to_string(), line.parse().ok()?))
        })
        .collect()
}

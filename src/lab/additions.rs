//! What the lab writes into a host that the host's own configuration did not have, each with its
//! SHA-256 and why (run.json `hosts[].added_by_lab`): a validator that changed what it validates
//! must at least say so, file by file. Under `base: as-is` that is the certificates where the
//! configuration reads them, the name entries and the units the lab enables; under `base:
//! guide` the guide's drop-ins too.

use crate::domain::{REMOTE_SOCKET, UPLOAD_UNIT};
use crate::pki::{CA_FILE, INSTALL_DIR};
use crate::report::carried::AddedFile;
use crate::scenario::{Base, HostDef, Scenario};

use super::staging::Credentials;

/// Why the lab staged a file at `path` before boot.
fn why_staged(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or(path);
    match name {
        "60-journal-lab-port.conf" => "the scenario's listen_port: a ListenStream= drop-in",
        "60-journal-lab-restart.conf" => "Restart=always, the guide's procedure (base: guide)",
        "61-journal-lab-relay.conf" => {
            "a relay's journal-upload reads the remote journals (base: guide)"
        }
        "60-journal-lab-clock.conf" => {
            "the clock fault's shim, preloaded (a clock-back/forward step)"
        }
        _ => "the scenario's topology (pull, proxy or gateway), staged before boot",
    }
}

/// What staging and provisioning add to `host`: every staged file outside the lab's own staging
/// directory that is not one of the host's files, and what provisioning installs (the lab's
/// certificate, its copies where the configuration reads them, the guide's drop-ins pointing
/// at them, the clock shim, the units it enables).
pub(super) fn staged(
    scenario: &Scenario,
    host: &HostDef,
    credentials: &Credentials,
    files: &[(String, Vec<u8>, u32)],
) -> Vec<AddedFile> {
    let own: Vec<&str> = host.files.iter().map(|f| f.path.as_str()).collect();
    let mut added = Vec::new();
    if let Some((cert, key)) = &credentials.pems {
        let ca = credentials.trusted_ca.as_bytes();
        let installed = [
            (
                format!("{INSTALL_DIR}/{}.pem", host.name),
                cert.as_bytes(),
                "the lab CA's certificate for this host",
            ),
            (
                format!("{INSTALL_DIR}/{}.key", host.name),
                key.as_bytes(),
                "its private key",
            ),
            (
                format!("{INSTALL_DIR}/{CA_FILE}"),
                ca,
                "the CA this host trusts",
            ),
        ];
        for (path, content, why) in &installed {
            added.push(AddedFile::new(path, content, *why));
        }
        let installs = host
            .certificate
            .install
            .iter()
            .chain(&host.certificate.upload_install);
        for install in installs {
            let read = match scenario.base {
                Base::AsIs => "where the configuration reads it (or the setup's certificates: says it is deployed)",
                Base::Guide => "where the setup's certificates: says it is deployed",
            };
            let copies = [&install.cert, &install.key, &install.ca];
            for (to, (from, content, what)) in copies.into_iter().zip(&installed) {
                // A relay's two programs may read one CA file: it is one addition.
                if to != from && !added.iter().any(|a: &AddedFile| a.path == *to) {
                    added.push(AddedFile::new(
                        to.as_str(),
                        content,
                        format!("{what}, {read}"),
                    ));
                }
            }
        }
        if scenario.base == Base::Guide {
            for unit in ["remote", "upload"] {
                let (path, text) = crate::pki::certificates_drop_in(unit, &host.name);
                added.push(AddedFile::new(
                    path,
                    text.as_bytes(),
                    format!("points journal-{unit} at the lab's certificate (base: guide)"),
                ));
            }
        }
    }
    for (path, content, _) in files {
        if path.starts_with(super::STAGE_DIR) || own.contains(&path.as_str()) {
            continue;
        }
        added.push(AddedFile::new(path.as_str(), content, why_staged(path)));
    }
    if super::staging::has_clock_faults(scenario, &host.name) {
        added.push(AddedFile {
            path: super::staging::CLOCK_SHIM.into(),
            sha256: String::new(),
            why: "the clock fault's shim, built in the host (a clock-back/forward step)".into(),
        });
        for unit in ["systemd-journald", "systemd-journal-upload"] {
            let path = format!("/etc/systemd/system/{unit}.service.d/60-journal-lab-clock.conf");
            added.push(AddedFile::new(
                path.as_str(),
                super::staging::clock_drop_in().as_bytes(),
                why_staged(&path),
            ));
        }
    }
    if host.role == crate::domain::Role::Server {
        added.push(enabled(
            &format!("/etc/systemd/system/sockets.target.wants/{REMOTE_SOCKET}"),
            "journal-remote's socket enabled by the lab, as a deployment enables it",
        ));
    }
    added
}

/// A unit the lab enables: the link systemctl makes (no content of its own).
pub(super) fn enabled(path: &str, why: &str) -> AddedFile {
    AddedFile {
        path: format!("{path} (link)"),
        sha256: String::new(),
        why: why.into(),
    }
}

/// What configuration adds to an uploader: the lab's `URL=` drop-in where it sets one (under
/// `base: guide`; as it ships, only for a client the scenario says whom it dials); the upload
/// unit enabled.
pub(super) fn configured_upload(url: Option<&str>, base: Base) -> Vec<AddedFile> {
    let mut added = Vec::new();
    if let Some(url) = url {
        added.push(AddedFile::new(
            "/etc/systemd/journal-upload.conf.d/60-journal-lab-url.conf",
            format!("[Upload]\nURL={url}\n").as_bytes(),
            match base {
                Base::Guide => "URL= set by the lab (base: guide)",
                Base::AsIs => {
                    "URL= set by the lab: the scenario says whom this client dials (its upload:)"
                }
            },
        ));
    }
    added.push(enabled(
        &format!("/etc/systemd/system/multi-user.target.wants/{UPLOAD_UNIT}"),
        "journal-upload enabled and started by the lab, as a deployment does",
    ));
    added
}

/// The name entries the lab appends to a host's /etc/hosts.
pub(super) fn name_entries(lines: &str) -> AddedFile {
    AddedFile::new(
        "/etc/hosts (lines appended)",
        lines.as_bytes(),
        "names: the lab's hosts, and the names the configuration's URL= and the setup's aliases use, resolve to them",
    )
}

#[cfg(test)]
mod tests;

//! What a run observed, as written to `reports/<run-id>/run.json`. Only this module knows the
//! output layout; the lab fills in a [`RunReport`] and hands it over.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::errors::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Server,
    Client,
}

/// run.json. Field names are a contract (CI jobs and later tooling read them).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunReport {
    pub run_id: String,
    /// The scenario's name (file stem), or "lab" for `cargo xtask lab`.
    #[serde(default)]
    pub scenario: String,
    #[serde(default)]
    pub description: String,
    pub release: String,
    /// First line of `systemctl --version` on the server, e.g. "systemd 252 (252.39-1~deb12u2)".
    pub systemd_version: String,
    /// Second line: compile-time features (+OPENSSL -GNUTLS ...).
    pub systemd_features: String,
    pub image: String,
    #[serde(with = "time::serde::rfc3339")]
    pub started: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub finished: OffsetDateTime,
    pub total_seconds: f64,
    /// Wall time of each phase, in order.
    pub phases: Vec<Phase>,
    pub clients: usize,
    pub delivered: usize,
    /// True only if no check failed or errored.
    pub ok: bool,
    pub hosts: Vec<HostReport>,
    /// Things the lab noticed about the software under test that a person must know, even when
    /// every marker arrived (e.g. a server that does not verify client certificates).
    #[serde(default)]
    pub findings: Vec<Finding>,
    /// Every check evaluated, in order of evaluation.
    #[serde(default)]
    pub checks: Vec<crate::checks::CheckResult>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Finding {
    pub host: String,
    pub summary: String,
    /// The observed lines that show it, verbatim.
    pub evidence: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Phase {
    pub name: String,
    pub seconds: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HostReport {
    pub name: String,
    pub role: Role,
    pub ip: String,
    /// `systemctl show -p StatusText` of the journal unit at the end of the run
    /// (systemd-journal-remote on the server, systemd-journal-upload on clients).
    pub status_text: String,
    /// What the lab did to the host's configuration, in order (one line each).
    pub configuration: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered: Option<bool>,
    /// From the marker being logged to it being seen on the server (poll resolution ≤ 0.5 s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds_to_deliver: Option<f64>,
    /// File under /var/log/journal/remote the marker landed in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_file: Option<String>,
    /// For a client that did not deliver: what the lab saw (unit state, its last log lines).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<String>,
}

impl RunReport {
    pub fn clients(&self) -> impl Iterator<Item = &HostReport> {
        self.hosts.iter().filter(|h| h.role == Role::Client)
    }
}

/// Writes `<reports_dir>/<run_id>/run.json` and points `<reports_dir>/latest` at the run.
/// Returns the run's directory.
pub fn write_run(reports_dir: &Path, report: &RunReport) -> Result<PathBuf> {
    let run_dir = reports_dir.join(&report.run_id);
    std::fs::create_dir_all(&run_dir).map_err(Error::io("creating", &run_dir))?;
    let path = run_dir.join("run.json");
    let json = serde_json::to_string_pretty(report)?;
    std::fs::write(&path, json + "\n").map_err(Error::io("writing", &path))?;
    point_latest_at(reports_dir, &report.run_id)?;
    Ok(run_dir)
}

/// Replaces the `latest` symlink atomically (a new link renamed over the old one).
fn point_latest_at(reports_dir: &Path, run_id: &str) -> Result<()> {
    let latest = reports_dir.join("latest");
    let staging = reports_dir.join(format!(".latest-{run_id}"));
    let _ = std::fs::remove_file(&staging);
    std::os::unix::fs::symlink(run_id, &staging).map_err(Error::io("linking", &staging))?;
    std::fs::rename(&staging, &latest).map_err(Error::io("updating", &latest))
}

pub fn read_run(path: &Path) -> Result<RunReport> {
    let text = std::fs::read_to_string(path).map_err(Error::io("reading", path))?;
    Ok(serde_json::from_str(&text)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(run_id: &str) -> RunReport {
        let t = time::macros::datetime!(2026-11-22 14:00:00 UTC);
        RunReport {
            run_id: run_id.into(),
            scenario: "lab".into(),
            description: "d".into(),
            release: "bookworm".into(),
            systemd_version: "systemd 252 (252.39-1~deb12u2)".into(),
            systemd_features: "+PAM -GNUTLS".into(),
            image: "journal-lab/bookworm:0123456789abcdef".into(),
            started: t,
            finished: t + time::Duration::seconds(3),
            total_seconds: 3.0,
            phases: vec![Phase {
                name: "boot".into(),
                seconds: 1.0,
            }],
            clients: 1,
            delivered: 1,
            ok: true,
            hosts: vec![
                HostReport {
                    name: "server".into(),
                    role: Role::Server,
                    ip: "172.18.0.2".into(),
                    status_text: "Processing requests...".into(),
                    configuration: vec![],
                    marker: None,
                    delivered: None,
                    seconds_to_deliver: None,
                    remote_file: None,
                    evidence: vec![],
                },
                HostReport {
                    name: "client1".into(),
                    role: Role::Client,
                    ip: "172.18.0.3".into(),
                    status_text: "Processing input...".into(),
                    configuration: vec![],
                    marker: Some("m".into()),
                    delivered: Some(true),
                    seconds_to_deliver: Some(0.4),
                    remote_file: Some("remote-client1.journal".into()),
                    evidence: vec![],
                },
            ],
            findings: vec![],
            checks: vec![],
        }
    }

    #[test]
    fn run_json_uses_the_contracted_field_names() {
        let value = serde_json::to_value(sample("r1")).unwrap();
        for key in [
            "run_id",
            "release",
            "systemd_version",
            "started",
            "finished",
            "total_seconds",
            "hosts",
        ] {
            assert!(value.get(key).is_some(), "missing {key}");
        }
        let client = &value["hosts"][1];
        for key in [
            "name",
            "role",
            "ip",
            "marker",
            "delivered",
            "seconds_to_deliver",
            "remote_file",
        ] {
            assert!(client.get(key).is_some(), "client missing {key}");
        }
        assert_eq!(client["role"], "client");
        assert_eq!(value["hosts"][0]["role"], "server");
        assert!(
            value["hosts"][0].get("marker").is_none(),
            "servers log no marker"
        );
        assert_eq!(value["started"], "2026-11-22T14:00:00Z");
    }

    #[test]
    fn write_run_round_trips_and_moves_latest() {
        let tmp = tempfile::tempdir().unwrap();
        let first = write_run(tmp.path(), &sample("run-a")).unwrap();
        assert_eq!(read_run(&first.join("run.json")).unwrap().run_id, "run-a");
        write_run(tmp.path(), &sample("run-b")).unwrap();
        let latest = std::fs::read_link(tmp.path().join("latest")).unwrap();
        assert_eq!(
            latest,
            Path::new("run-b"),
            "relative link, so the reports dir can move"
        );
        assert_eq!(
            read_run(&tmp.path().join("latest/run.json"))
                .unwrap()
                .run_id,
            "run-b"
        );
    }
}

//! What a run observed, as written to `reports/<run-id>/run.json`. Only this module knows the
//! output layout; the lab fills in a [`RunReport`] and hands it over.

mod assemble;
pub use assemble::{holds, not_verifiable_after, RunParts};
pub mod format;
pub mod observations;
pub mod rejudge;
pub use format::Format;
pub use render::sarif::places;
pub mod field;
pub use field::{FieldVsLab, HostComparison};
pub mod bench;
pub mod carried;
pub mod prune;
pub mod rates;
pub mod regression;
mod unfinished;
pub use unfinished::{Partial, Unfinished};
pub mod delivery;
pub mod documents;
pub mod journal_files;
pub mod ledger;
pub mod matrix;
pub mod render;
pub mod unit_events;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::errors::{Error, Result};

pub use crate::domain::Role;

/// The version of run.json's shape. Bumped when a field is removed or renamed, or its meaning or
/// type changes; adding a field (with a default, so older files still read) does not bump it.
/// `journal-lab report schema` prints the JSON Schema of this version.
pub const SCHEMA_VERSION: u32 = 1;

/// The JSON Schema of run.json (`journal-lab report schema`).
pub fn run_json_schema() -> serde_json::Value {
    let mut schema =
        serde_json::to_value(schemars::schema_for!(RunReport)).expect("the schema serializes");
    schema["title"] = format!("journal-lab run.json, schema version {SCHEMA_VERSION}").into();
    schema
}

/// run.json. Field names are a contract (CI jobs and later tooling read them).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema, Deserialize)]
pub struct RunReport {
    /// The version of this document's shape ([`SCHEMA_VERSION`]; 0: written before versions).
    #[serde(default)]
    pub schema_version: u32,
    pub run_id: String,
    /// journal-lab's version (and git commit, where known).
    #[serde(default)]
    pub harness_version: String,
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
    #[schemars(with = "String")]
    pub started: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String")]
    pub finished: OffsetDateTime,
    pub total_seconds: f64,
    /// From the start of the run until every marker that had to arrive was seen on its server
    /// (absent when one never arrived, or the run logs no markers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds_to_all_delivered: Option<f64>,
    /// Wall time of each phase, in order.
    pub phases: Vec<Phase>,
    pub clients: usize,
    pub delivered: usize,
    /// True only if no check failed or errored.
    pub ok: bool,
    /// The run was stopped (a signal) before it ended: this is what it had observed by then
    /// (the checks evaluated, the steps done), written as it stopped. Never `ok`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
    pub hosts: Vec<HostReport>,
    /// Things the lab noticed about the software under test that a person must know, even when
    /// every marker arrived (e.g. a server that does not verify client certificates).
    #[serde(default)]
    pub findings: Vec<Finding>,
    /// Every check evaluated, in order of evaluation.
    #[serde(default)]
    pub checks: Vec<crate::checks::CheckResult>,
    /// The conformance profile, evaluated on every host at the end (apart from `checks`: it
    /// does not change `ok`).
    #[serde(default)]
    pub profile: Vec<crate::checks::CheckResult>,
    /// What the profile did in this run: `report` (informs at each item's severity), `gate`
    /// (its failures fail the run) or `off` (not evaluated).
    #[serde(default)]
    pub profile_mode: crate::checks::ProfileMode,
    /// Sum of the hosts' container memory after the steps (bytes), when measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_memory_bytes: Option<u64>,
    /// The lab's marker entries found on the servers at the end: server, remote file, fields.
    #[serde(default)]
    pub journal: Vec<ArrivedEntry>,
    /// Forward Secure Sealing set up by the run: host, interval and the verification key's
    /// fingerprint (never the key).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sealing: Vec<SealingReport>,
    /// Journal files that `tamper` steps damaged.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tampered: Vec<TamperedReport>,
    /// The servers' binary journal files, copied to `journals/<host>/` with their SHA-256.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub journal_files: Vec<journal_files::JournalFile>,
    /// Faults the steps injected, with when each was in force.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<FaultWindow>,
    /// Hosts restarted by `restart` steps, with when.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub restarts: Vec<RestartWindow>,
    /// The scenario file (relative to the working directory when under it), and the line of each
    /// of its checks: where SARIF results point.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario_file: Option<String>,
    /// The setup laid over the scenario (relative to the working directory when under it):
    /// where SARIF results of a setup run point, unless a result names a file of the user's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setup_file: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub check_lines: Vec<CheckLine>,
    /// A replay of a field setup: the field's error lines next to the lab's (`cargo xtask
    /// replay --run`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<FieldVsLab>,
    /// What `send` steps posted with the host-side protocol client, and what each got back.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sends: Vec<crate::checks::hostile::SendRecord>,
    /// What the clients' workloads sent and what arrived (when the run had workloads).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<delivery::Delivery>,
    /// Every step performed, in order: what it did, how it ended, what it printed (bounded).
    /// A step that failed ends the steps; what was observed up to it is still evaluated.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<StepRecord>,
    /// journal-remote on each server over a `soak` step: resident memory, open descriptors,
    /// remote journal files and bytes, every few seconds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub soak: Vec<crate::checks::history::SoakSample>,
    /// The run judged again from its stored observations (`report rejudge`): by which
    /// journal-lab, when, and which verdicts moved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejudged: Option<rejudge::Rejudging>,
}

/// The `do:` of Molecule's idempotence step in the step records (`test` performs it first).
pub const IDEMPOTENCE_STEP: &str = "idempotence";

/// One performed step, as run.json records it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema, Deserialize)]
pub struct StepRecord {
    /// Its place in the scenario's `steps` (0-based; `idempotence`, before the steps: 0).
    pub index: usize,
    /// Its `do:`.
    pub step: String,
    /// For `run`: the host, the command and its exit status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i64>,
    /// What it printed, at most 40 lines.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub output: Vec<String>,
    /// Why it failed, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub seconds: f64,
}

impl StepRecord {
    /// How messages name it: `step 3 (log-markers)`, or `the idempotence step`.
    pub fn title(&self) -> String {
        if self.step == IDEMPOTENCE_STEP {
            "the idempotence step".to_string()
        } else {
            format!("step {} ({})", self.index, self.step)
        }
    }
}

/// When something a step did to a host was in force, as the run recorded it: a fault
/// ([`FaultWindow`]) or a restart ([`RestartWindow`], from the stop to systemd up again).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema, Deserialize)]
pub struct Window<K> {
    /// The fault's kind, or how the host was stopped (`halt`, `power-cut`).
    pub kind: K,
    pub host: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String")]
    pub started: OffsetDateTime,
    /// None while in force (or for a single blow such as kill-upload: then equal to started).
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schemars(with = "Option<String>")]
    pub ended: Option<OffsetDateTime>,
}

pub type FaultWindow = Window<crate::scenario::FaultKind>;
pub type RestartWindow = Window<crate::domain::RestartMode>;

impl<K> Window<K> {
    fn of<'a>(
        events: impl Iterator<Item = (&'a crate::checks::history::Event, K)>,
    ) -> Vec<Window<K>> {
        events
            .map(|(event, kind)| Window {
                kind,
                host: event.host.clone(),
                started: event.started,
                ended: event.ended,
            })
            .collect()
    }
}

impl FaultWindow {
    /// Every fault of the history, in order.
    pub fn faults(history: &crate::checks::history::History) -> Vec<FaultWindow> {
        Window::of(history.faults())
    }
}

impl RestartWindow {
    /// Every restart of the history, in order.
    pub fn restarts(history: &crate::checks::history::History) -> Vec<RestartWindow> {
        Window::of(history.restarts())
    }
}

impl SealingReport {
    /// Every host's sealing in the history (the fingerprint only: the key stays in memory).
    pub fn of(history: &crate::checks::history::History) -> Vec<SealingReport> {
        history
            .sealings()
            .into_iter()
            .map(|(host, sealing)| SealingReport {
                host,
                interval: sealing.interval,
                key_fingerprint: sealing.fingerprint,
            })
            .collect()
    }
}

impl TamperedReport {
    /// Every damage a `tamper` step did, by host.
    pub fn of(history: &crate::checks::history::History) -> Vec<TamperedReport> {
        history
            .tampered()
            .into_iter()
            .flat_map(|(host, files)| {
                files.into_iter().map(move |damage| TamperedReport {
                    host: host.clone(),
                    damage,
                })
            })
            .collect()
    }
}

/// Sealing on one host, as reported: the key's fingerprint only.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema, Deserialize)]
pub struct SealingReport {
    pub host: String,
    pub interval: String,
    /// First 16 hex digits of the verification key's SHA-256.
    pub key_fingerprint: String,
}

/// A journal file a `tamper` step damaged.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema, Deserialize)]
pub struct TamperedReport {
    pub host: String,
    #[serde(flatten)]
    pub damage: crate::checks::Tampered,
}

/// A burst of messages and how fast they reached the servers (the bench's latency figure,
/// from a workload's delivery).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema, Deserialize)]
pub struct BurstResult {
    pub hosts: usize,
    pub per_host: u32,
    pub sent: usize,
    pub delivered: usize,
    /// From `logger` on the client to the harness seeing the line on the server, per message.
    /// Resolution: the poll interval plus one `journalctl` read.
    pub latency_p50_ms: f64,
    pub latency_p99_ms: f64,
    pub latency_max_ms: f64,
    /// From the first message sent to the last one seen.
    pub seconds: f64,
    pub messages_per_second: f64,
    pub poll_interval_ms: u64,
}

/// The `q`-quantile (0..=1) of `values` by the nearest-rank method; 0 for none.
pub fn quantile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// One journal entry as it arrived on a server.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema, Deserialize)]
pub struct ArrivedEntry {
    pub server: String,
    /// File name under /var/log/journal/remote.
    pub file: String,
    pub fields: crate::journal::Entry,
}

impl RunReport {
    /// The arrived marker entries, normalized for snapshots (see `journal::normalize`).
    pub fn normalized_journal(&self) -> String {
        let entries: Vec<(String, String, crate::journal::Entry)> = self
            .journal
            .iter()
            .map(|e| (e.server.clone(), e.file.clone(), e.fields.clone()))
            .collect();
        let addresses = self
            .hosts
            .iter()
            .map(|h| (h.ip.clone(), h.name.clone()))
            .collect();
        crate::journal::normalize(&entries, &self.run_id, &addresses)
    }
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema, Deserialize)]
pub struct Finding {
    pub host: String,
    pub summary: String,
    /// The observed lines that show it, verbatim.
    pub evidence: Vec<String>,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema, Deserialize)]
pub struct Phase {
    pub name: String,
    pub seconds: f64,
}

/// Where a check is written in its scenario file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema, Deserialize)]
pub struct CheckLine {
    pub id: String,
    /// The hosts it names (empty: every host it applies to).
    pub hosts: Vec<String>,
    pub line: usize,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema, Deserialize)]
pub struct HostReport {
    pub name: String,
    pub role: Role,
    pub ip: String,
    /// The Docker engine that held it, when the lab spread over several (`--engine NAME=URL`),
    /// and where a server was published for the other engines' hosts (`ADDRESS:PORT`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_for_other_engines: Option<String>,
    /// `systemctl --version`, first line and compile-time features.
    #[serde(default)]
    pub systemd_version: String,
    #[serde(default)]
    pub systemd_features: String,
    /// The image the host booted (`journal-lab/<release>:<recipe hash>`).
    #[serde(default)]
    pub image: String,
    /// `systemctl show -p StatusText` of the journal unit at the end of the run
    /// (systemd-journal-remote on the server, systemd-journal-upload on clients).
    pub status_text: String,
    /// What the lab did to the host's configuration, in order (one line each).
    pub configuration: Vec<String>,
    /// Uploaders: how the unit looked right after it was started ("Processing input..." or why
    /// not). Timing-dependent by nature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
    /// When the marker was logged on the client.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    #[schemars(with = "Option<String>")]
    pub marker_logged_at: Option<OffsetDateTime>,
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
    /// Its failed units at the end of the run (`systemctl --failed`), each with its status and
    /// last journal lines.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_units: Vec<String>,
    /// The user's own files it carried (`source:`, `--setup`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub carried: Vec<carried::CarriedFile>,
    /// What the lab wrote into the host that its configuration did not have (certificates, name
    /// entries, and under `base: guide` the lab's drop-ins), each with its SHA-256 and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub added_by_lab: Vec<carried::AddedFile>,
    /// A client's journal-upload unit as PID 1 logged it (started, failed, restart scheduled,
    /// start limit hit), oldest first: the timeline marks them on the client's lanes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub upload_unit: Vec<unit_events::UnitEvent>,
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

/// Writes raw journal dumps (name → `journalctl -o json` output) under `<run_dir>/journals/`.
pub fn write_journals(run_dir: &Path, dumps: &[(String, String)]) -> Result<()> {
    let dir = run_dir.join("journals");
    std::fs::create_dir_all(&dir).map_err(Error::io("creating", &dir))?;
    for (name, content) in dumps {
        let path = dir.join(format!("{name}.json"));
        std::fs::write(&path, content).map_err(Error::io("writing", &path))?;
    }
    Ok(())
}

/// Writes the reports of `report` in `formats` into `run_dir`; returns the paths written.
pub fn write_formats(
    run_dir: &Path,
    report: &RunReport,
    formats: &[Format],
) -> Result<Vec<PathBuf>> {
    // The whole evidence of each check the reports excerpt, where their "more lines" point.
    for check in report.checks.iter().chain(&report.profile) {
        if check.evidence.is_empty() {
            continue;
        }
        let path = run_dir.join(render::evidence::file_of(check));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(Error::io("creating", dir))?;
        }
        std::fs::write(&path, check.evidence.join("\n") + "\n")
            .map_err(Error::io("writing", &path))?;
    }
    formats
        .iter()
        .map(|format| {
            let path = run_dir.join(format.file_name());
            std::fs::write(&path, format.render(report)).map_err(Error::io("writing", &path))?;
            Ok(path)
        })
        .collect()
}

/// The largest run.json `report` reads (a soak's with every arrived entry is tens of MiB).
pub const MAX_RUN_JSON_BYTES: u64 = 512 * 1024 * 1024;

/// A run.json, read like every input: a regular file only (not a link, pipe or device), at most
/// [`MAX_RUN_JSON_BYTES`], JSON within serde_json's own nesting limit.
pub fn read_run(path: &Path) -> Result<RunReport> {
    use std::io::Read;
    let bad = |why: String| Error::InvalidSettings(format!("{}: {why}", path.display()));
    let file = crate::scenario::limits::open_regular(path).map_err(bad)?;
    let mut bytes = Vec::new();
    file.take(MAX_RUN_JSON_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(Error::io("reading", path))?;
    if bytes.len() as u64 > MAX_RUN_JSON_BYTES {
        return Err(bad(format!(
            "larger than {} MiB: not a run.json journal-lab wrote",
            MAX_RUN_JSON_BYTES >> 20
        )));
    }
    serde_json::from_slice(&bytes).map_err(|e| bad(format!("not a run.json: {e}")))
}

#[cfg(test)]
pub(crate) mod tests;

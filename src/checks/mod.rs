//! Checks: what must be observed, and how a verdict follows from what the lab observed. Checks
//! only observe: each names the commands to run (probes) and turns their output into a status.
//! Running the probes is the lab's job, through the [`Observer`] it hands in; nothing here
//! touches a host or knows about Docker.
//!
//! Checks come in families, one module each ([`delivery`], [`tls`], [`ports`], [`remediation`],
//! [`audit`], [`journald`], [`integrity`], [`accounting`], [`hostile`], [`compression`],
//! [`timeouts`]); what the steps did is in the [`history`]. A family owns, for its ids: the id itself (an associated constant of
//! [`CheckId`]), its catalog entry, its probes and its pure verdict functions. Adding a family is
//! adding a module and one line in [`FAMILIES`]; see ARCHITECTURE.md.

pub mod accounting;
pub mod audit;
mod catalog;
pub mod compression;
pub mod config;
pub mod delivery;
pub mod history;
pub mod hostile;
pub mod integrity;
pub mod journald;
pub mod knobs;
pub mod ports;
pub mod recorded;
pub mod remediation;
pub mod retention;
pub mod timeouts;
pub mod tls;

use std::borrow::Cow;
use std::fmt;
use std::sync::OnceLock;
use std::time::Instant;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

pub use crate::domain::Status;
use crate::domain::{ExecOutput, Role};
use crate::errors::Result;
pub(crate) use catalog::{judged_by, or_verdict};
pub use catalog::{Entry, Evaluate, Family, Param, Rejection};

/// Every family, in catalog order. The one list a new family is registered in.
pub const FAMILIES: &[&Family] = &[
    &delivery::FAMILY,
    &tls::FAMILY,
    &ports::FAMILY,
    &remediation::FAMILY,
    &audit::FAMILY,
    &journald::FAMILY,
    &integrity::FAMILY,
    &accounting::FAMILY,
    &hostile::FAMILY,
    &compression::FAMILY,
    &timeouts::FAMILY,
    &retention::FAMILY,
    &config::FAMILY,
];

/// A check's stable id, as written in scenarios and run.json (`client-delivers`). Each family
/// defines its ids as associated constants (`CheckId::CLIENT_DELIVERS`); reading an id that no
/// family registers is an error naming the known ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CheckId(&'static str);

/// The conformance profile: checks evaluated on every host at the end of every run, whatever the
/// scenario. Reported apart from the scenario's own checks (they do not change its verdict).
pub const PROFILE: [CheckId; 8] = [
    CheckId::SERVER_HTTPS_ONLY,
    CheckId::TRUSTED_CERTIFICATE_FILE_SET,
    CheckId::KEYS_NOT_WORLD_READABLE,
    CheckId::UPLOAD_RESTART_ALWAYS,
    CheckId::REMOTE_SOCKET_MASKED,
    CheckId::JOURNALD_STORAGE_PERSISTENT,
    CheckId::JOURNALD_COMPRESS,
    CheckId::JOURNALD_RATE_LIMIT,
];

/// Phase name of the profile's evaluation.
pub const PROFILE_PHASE: &str = "profile";

/// How much a profile item weighs when it does not hold: `warning` where logs can be lost or
/// exposed, `note` for hygiene a setup may choose differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    Warning,
    Note,
}

/// The severity of each profile item, as its entry says (None: not a profile item).
/// `tests::the_profile_is_the_entries_that_weigh` holds [`PROFILE`] to the entries.
pub fn profile_severity(id: CheckId) -> Option<Severity> {
    id.entry().profile
}

/// What the conformance profile does in a run (`--profile`): `report` (the default) evaluates
/// it and reports its items at their severity, without changing the verdict or the exit code;
/// `gate` also makes a profile item that does not hold fail the run (and an error in SARIF and
/// JUnit); `off` does not evaluate it.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, schemars::JsonSchema, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum ProfileMode {
    #[default]
    Report,
    Gate,
    Off,
}

impl std::str::FromStr for ProfileMode {
    type Err = String;
    fn from_str(text: &str) -> std::result::Result<ProfileMode, String> {
        match text {
            "report" => Ok(ProfileMode::Report),
            "gate" => Ok(ProfileMode::Gate),
            "off" => Ok(ProfileMode::Off),
            other => Err(format!(
                "unknown profile mode {other:?}: use report, gate or off"
            )),
        }
    }
}

/// A verdict and one line saying what was observed.
pub type Verdict = (Status, String);

/// One evaluated check, as recorded in run.json.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema, Deserialize)]
pub struct CheckResult {
    pub id: CheckId,
    pub title: String,
    pub host: String,
    pub phase: String,
    pub expected: String,
    pub observed: String,
    pub status: Status,
    /// Commands run and what they printed, verbatim.
    pub evidence: Vec<String>,
    pub seconds: f64,
    /// The public rule or documentation the check comes from.
    #[serde(default)]
    pub reference: String,
    /// A setup declared this result's failure known (`expect:`): said, and not failing the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known: Option<Known>,
}

/// What a setup's `expect:` made of a result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema, Deserialize)]
pub struct Known {
    /// `fail` (it fails, for a reason the team knows) or `flaky` (it may go either way).
    pub kind: KnownKind,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// A known failure that passed this time: fixed (with `--strict-expect` it fails the run, so
    /// the stale expectation is removed).
    #[serde(default)]
    pub fixed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KnownKind {
    Fail,
    Flaky,
}

impl CheckResult {
    /// It does not hold, and no expectation made that known.
    pub fn fails(&self) -> bool {
        matches!(self.status, Status::Fail | Status::Error) && self.known.is_none()
    }
}

/// What the lab offers a check: commands on hosts, and what the steps recorded. Implemented by
/// the lab, which runs the commands in batches; a check never knows how.
pub trait Observer: Sync {
    /// What `command` printed on `host`.
    fn exec<'a>(&'a self, host: &'a str, command: &'a str) -> BoxFuture<'a, Result<ExecOutput>>;
    /// What became of `host`'s latest marker, with the evidence it was judged on.
    fn marker<'a>(
        &'a self,
        host: &'a str,
        evidence: &'a mut Vec<String>,
    ) -> BoxFuture<'a, Result<MarkerObservation>>;
    /// What the steps did, with when (faults, restarts, workloads, remediations, sealing,
    /// tampering, sends): the one record checks read step results from.
    fn history(&self) -> &history::History;
    /// A marker to `server` logged after `after` that arrived there: its text, sender and file.
    fn marker_after(&self, server: &str, after: time::OffsetDateTime) -> Option<String>;
}

/// Forward Secure Sealing set up on a host. The verification key is a secret: it can verify and
/// also forge seals, so it never goes into evidence or a report, only its fingerprint does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealing {
    pub verification_key: String,
    pub fingerprint: String,
    pub interval: String,
}

/// A journal file a `tamper` step damaged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema, Deserialize)]
pub struct Tampered {
    pub file: String,
    /// Where the damage starts, in bytes.
    pub offset: u64,
    /// `overwrite` or `truncate`.
    pub how: String,
}

/// The host a check is evaluated on, what its scenario says of it, and how to observe it.
pub struct Target<'a> {
    pub host: &'a str,
    pub role: Role,
    /// Server: the port its socket listens on.
    pub port: u16,
    /// The host has a certificate of its own.
    pub has_certificate: bool,
    /// Client: uploads its journal with journal-upload.
    pub uploads: bool,
    /// The first client of the lab (to look at a server from a client's side of the network).
    pub first_client: Option<&'a str>,
    /// Client: the server it sends to.
    pub server: Option<&'a str>,
    /// Client: the servers its messages pass through, its own server first and the last
    /// (their destination) last; one unless relays forward them.
    pub route: Vec<&'a str>,
    pub run_id: &'a str,
    /// The host's files that came from the user's tree: (path on the host, where it was read
    /// from), so a verdict can name the user's own file.
    pub sources: Vec<(&'a str, String)>,
    /// Under `base: as-is`, how the user's files set each knob read on this host.
    pub configured: Vec<(knobs::Knob, String)>,
    /// The parameters the scenario gave the check (validated against its entry's).
    pub params: Vec<(&'a str, u64)>,
    pub observer: &'a dyn Observer,
}

impl Target<'_> {
    /// Runs `command` on this host, keeping it and its output as evidence.
    pub async fn probe(&self, command: &str, evidence: &mut Vec<String>) -> Result<ExecOutput> {
        self.probe_on(self.host, command, evidence).await
    }

    /// The value of `entry`'s parameter `name`: the scenario's, else its default.
    pub fn param(&self, entry: &Entry, name: &str) -> u64 {
        let declared = entry
            .params
            .iter()
            .find(|p| p.name == name)
            .expect("a check reads only the parameters its entry declares");
        self.params
            .iter()
            .find(|(given, _)| *given == name)
            .map_or(declared.default, |(_, value)| *value)
    }

    /// Runs `command` with `secret` in it (written `{secret}` in the command), keeping the
    /// command as evidence with the secret replaced by `shown`.
    pub async fn probe_secret(
        &self,
        command: &str,
        secret: &str,
        shown: &str,
        evidence: &mut Vec<String>,
    ) -> Result<ExecOutput> {
        let out = self
            .observer
            .exec(self.host, &command.replace("{secret}", secret))
            .await?;
        record_probe(
            evidence,
            self.host,
            &command.replace("{secret}", shown),
            &out,
        );
        Ok(out)
    }

    /// Runs `command` on another host of the lab, keeping it as evidence.
    pub async fn probe_on(
        &self,
        host: &str,
        command: &str,
        evidence: &mut Vec<String>,
    ) -> Result<ExecOutput> {
        let out = self.observer.exec(host, command).await?;
        record_probe(evidence, host, command, &out);
        Ok(out)
    }
}

/// How many lines of output a piece of evidence keeps.
pub const EVIDENCE_LINES: usize = 30;

/// Evidence of one probe: the command, its exit status, and the first lines it printed.
pub fn record_probe(evidence: &mut Vec<String>, host: &str, command: &str, out: &ExecOutput) {
    evidence.push(format!("[{host}]$ {command}  (exit {})", out.exit_code));
    evidence.extend(
        out.combined()
            .lines()
            .take(EVIDENCE_LINES)
            .map(|l| format!("  {l}")),
    );
}

/// Evaluates check `id` on `target` in `phase`.
pub async fn evaluate(id: CheckId, target: &Target<'_>, phase: &str) -> Result<CheckResult> {
    let start = Instant::now();
    let entry = id.entry();
    let mut evidence = Vec::new();
    let (status, observed) = if !id.applies_to(target.role) {
        (
            Status::NotApplicable,
            format!("{id} is about a {:?} host", entry.role.expect("role-bound")).to_lowercase(),
        )
    } else if entry.uploaders_only && target.role == Role::Client && !target.uploads {
        (
            Status::NotApplicable,
            "this client does not upload with journal-upload".to_string(),
        )
    } else {
        (entry.verdict)(entry, target, &mut evidence).await?
    };
    let observed = match knobs::as_configured(entry.knobs, &target.configured) {
        Some(said) if status == Status::Fail => {
            evidence.push(said.clone());
            format!("{observed}; {said}")
        }
        _ => observed,
    };
    Ok(CheckResult {
        id,
        title: entry.title.to_string(),
        host: target.host.to_string(),
        phase: phase.to_string(),
        expected: entry.expected.to_string(),
        observed,
        status,
        evidence,
        seconds: start.elapsed().as_secs_f64(),
        reference: entry.reference.to_string(),
        known: None,
    })
}

impl CheckId {
    /// Every registered id, in catalog order.
    pub fn all() -> impl Iterator<Item = CheckId> {
        FAMILIES.iter().flat_map(|f| f.entries.iter().map(|e| e.id))
    }

    /// The id named `name`, if a family registers it.
    pub fn named(name: &str) -> Option<CheckId> {
        CheckId::all().find(|id| id.0 == name)
    }

    pub fn as_str(self) -> &'static str {
        self.0
    }

    /// The catalog entry of this id.
    pub fn entry(self) -> &'static Entry {
        FAMILIES
            .iter()
            .find_map(|f| f.entries.iter().find(|e| e.id == self))
            .expect("ids exist only as registered constants or by lookup")
    }

    /// Whether the check is about a host of `role` at all.
    pub fn applies_to(self, role: Role) -> bool {
        self.entry().role.is_none_or(|r| r == role)
    }
}

impl fmt::Display for CheckId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl Serialize for CheckId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0)
    }
}

/// Every registered name, for error messages and the schema.
fn names() -> &'static [&'static str] {
    static NAMES: OnceLock<Vec<&'static str>> = OnceLock::new();
    NAMES.get_or_init(|| CheckId::all().map(CheckId::as_str).collect())
}

impl<'de> Deserialize<'de> for CheckId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = Cow::<str>::deserialize(deserializer)?;
        CheckId::named(&name).ok_or_else(|| serde::de::Error::unknown_variant(&name, names()))
    }
}

impl schemars::JsonSchema for CheckId {
    fn schema_name() -> Cow<'static, str> {
        "CheckId".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string", "enum": names() })
    }
}

/// How a client's marker fared on its server, as observed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MarkerObservation {
    /// The marker was logged on the client.
    pub logged: Option<String>,
    /// The server file it was found in, if found.
    pub found_in: Option<String>,
    /// Another client's marker to the same server, logged *after* this one, that arrived:
    /// the proof that absence is not just slowness.
    pub later_reference: Option<String>,
    /// Lines of the sending client's own log (journal-upload or curl) after the marker.
    pub client_log: Vec<String>,
    /// When it was logged.
    #[serde(with = "time::serde::rfc3339::option")]
    pub logged_at: Option<time::OffsetDateTime>,
}

/// The value of `key` in `systemd-analyze cat-config` output: the last uncommented assignment
/// wins, as in systemd's own parser (sections are not distinguished: these files have one).
pub fn effective_setting(config: &str, key: &str) -> Option<String> {
    config
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && !l.starts_with(';'))
        .filter_map(|l| {
            l.strip_prefix(key)?
                .strip_prefix('=')
                .map(|v| v.trim().to_string())
        })
        .next_back()
}

/// A setting that must be present with one of `wanted` values (or with any value if empty).
pub fn setting_verdict(config: &ExecOutput, key: &str, wanted: &[&str]) -> Verdict {
    match effective_setting(&config.stdout, key) {
        None => (
            Status::Fail,
            format!(
                "{key}= is not set (the compiled-in default applies, but it is not configured)"
            ),
        ),
        Some(value) if value.is_empty() => (Status::Fail, format!("{key}= is set to nothing")),
        Some(value) if wanted.is_empty() || wanted.contains(&value.as_str()) => {
            (Status::Pass, format!("{key}={value}"))
        }
        Some(value) => (
            Status::Fail,
            format!("{key}={value} (want {})", wanted.join(" or ")),
        ),
    }
}

/// A TCP connect attempt (`bash -c '</dev/tcp/H/P'`): refused is what we want.
pub fn connect_refused(output: &ExecOutput) -> bool {
    !output.success() && output.combined().contains("Connection refused")
}

#[cfg(test)]
mod tests;

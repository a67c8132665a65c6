//! The last stage of a run: the record of what it observed ([`RunReport`]) made from the parts the
//! lab gathered. What is derived (how many delivered, whether the run held, the server's systemd,
//! what the history says of faults, restarts, sealing, tampering and sends) is derived here, once.

use std::collections::BTreeMap;

use time::OffsetDateTime;

use super::{
    ArrivedEntry, CheckLine, FaultWindow, Finding, HostReport, Phase, RestartWindow, RunReport,
    SealingReport, StepRecord, TamperedReport, SCHEMA_VERSION,
};
use crate::checks::history::History;
use crate::checks::{CheckResult, ProfileMode};
use crate::domain::Role;
use crate::scenario::Scenario;

/// What the lab gathered in a run, for [`RunReport::assemble`].
pub struct RunParts<'a> {
    pub run_id: String,
    /// The scenario's name as the command line gave it, and the scenario.
    pub name: &'a str,
    pub scenario: &'a Scenario,
    pub release: String,
    pub started: OffsetDateTime,
    pub total_seconds: f64,
    pub seconds_to_all_delivered: Option<f64>,
    pub phases: Vec<Phase>,
    pub hosts: Vec<HostReport>,
    /// The image of the (first) server.
    pub image: String,
    pub findings: Vec<Finding>,
    pub checks: Vec<CheckResult>,
    pub profile: Vec<CheckResult>,
    pub profile_mode: ProfileMode,
    pub container_memory_bytes: Option<u64>,
    pub history: &'a History,
    pub journal: Vec<ArrivedEntry>,
    pub journal_files: Vec<super::journal_files::JournalFile>,
    pub delivery: Option<super::delivery::Delivery>,
    pub steps: Vec<StepRecord>,
}

impl RunReport {
    pub fn assemble(mut parts: RunParts<'_>) -> RunReport {
        // The setup's known failures are said as such, and do not fail the run.
        crate::scenario::expect::apply(&parts.scenario.expect, &mut parts.checks);
        crate::scenario::expect::apply(&parts.scenario.expect, &mut parts.profile);
        let delivered = parts
            .hosts
            .iter()
            .filter(|h| h.delivered == Some(true))
            .count();
        let clients = parts
            .hosts
            .iter()
            .filter(|h| h.role == Role::Client)
            .count();
        let server = parts.hosts.iter().find(|h| h.role == Role::Server);
        let scenario = parts.scenario;
        RunReport {
            schema_version: SCHEMA_VERSION,
            run_id: parts.run_id,
            harness_version: crate::HARNESS_VERSION.to_string(),
            scenario: parts.name.to_string(),
            description: scenario.description.clone(),
            release: parts.release,
            systemd_version: server
                .map(|s| s.systemd_version.clone())
                .unwrap_or_default(),
            systemd_features: server
                .map(|s| s.systemd_features.clone())
                .unwrap_or_default(),
            image: parts.image,
            started: parts.started,
            finished: OffsetDateTime::now_utc(),
            total_seconds: parts.total_seconds,
            seconds_to_all_delivered: parts.seconds_to_all_delivered,
            phases: parts.phases,
            clients,
            delivered,
            ok: holds(
                &parts.checks,
                &parts.profile,
                parts.profile_mode,
                &parts.steps,
            ),
            interrupted: false,
            hosts: parts.hosts,
            findings: parts.findings,
            checks: parts.checks,
            profile: parts.profile,
            profile_mode: parts.profile_mode,
            container_memory_bytes: parts.container_memory_bytes,
            sealing: SealingReport::of(parts.history),
            tampered: TamperedReport::of(parts.history),
            journal: parts.journal,
            journal_files: parts.journal_files,
            faults: FaultWindow::faults(parts.history),
            restarts: RestartWindow::restarts(parts.history),
            sends: parts.history.sends(None),
            field: None,
            scenario_file: scenario.source.as_deref().map(relative_to_cwd),
            setup_file: scenario.setup.as_deref().map(relative_to_cwd),
            check_lines: scenario
                .checks
                .iter()
                .map(|c| CheckLine {
                    id: c.id.to_string(),
                    hosts: c.hosts.clone().unwrap_or_default(),
                    line: c.line,
                })
                .collect(),
            delivery: parts.delivery,
            steps: parts.steps,
            soak: parts.history.soak_samples(),
            rejudged: None,
        }
    }
}

/// After a failed step, a check that could not judge (an error: its input was never made, a
/// marker never logged) is not verifiable, and says which step kept it from judging, with that
/// host's journald state as evidence. What the checks did observe (pass, fail) stands.
pub fn not_verifiable_after(
    failed: &StepRecord,
    journald: &BTreeMap<String, String>,
    results: &mut [CheckResult],
) {
    let error = failed.error.as_deref().unwrap_or("");
    for result in results
        .iter_mut()
        .filter(|r| r.status == crate::checks::Status::Error)
    {
        result.status = crate::checks::Status::NotVerifiable;
        result.observed = format!(
            "{} failed, so this could not be judged: {}; the check said: {}",
            failed.title(),
            error.lines().next().unwrap_or(""),
            result.observed
        );
        result.evidence.push(format!("{}: {error}", failed.title()));
        result.evidence.extend(journald.get(&result.host).cloned());
    }
}

/// Whether a run held: no check failed (nor the profile's, when it gates) and every step was
/// performed.
pub fn holds(
    checks: &[CheckResult],
    profile: &[CheckResult],
    profile_mode: ProfileMode,
    steps: &[StepRecord],
) -> bool {
    // A gating profile counts with the scenario's own checks.
    let gated_profile = match profile_mode {
        ProfileMode::Gate => profile,
        _ => &[],
    };
    !checks.iter().chain(gated_profile).any(CheckResult::fails)
        && steps.iter().all(|s| s.error.is_none())
}

/// `path` relative to the working directory when it is under it (a repository's root in CI).
fn relative_to_cwd(path: &std::path::Path) -> String {
    let cwd = std::env::current_dir().unwrap_or_default();
    path.strip_prefix(&cwd)
        .unwrap_or(path)
        .display()
        .to_string()
}

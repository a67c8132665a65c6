//! SARIF 2.1.0 (for GitHub code scanning's `upload-sarif`): one rule per check id, with its
//! title, expectation and reference; one result per verdict that is not a pass, located at the
//! scenario file's line of that check, so failures show inline in the scenario files. Built as
//! JSON; the tests validate it against the OASIS SARIF 2.1.0 schema (tests/data), formats
//! included, so every field is one SARIF defines.

use serde_json::{json, Value};

use super::super::RunReport;
use crate::checks::{profile_severity, CheckId, CheckResult, ProfileMode, Severity, Status};

/// The schema the output declares (and is tested against, vendored in tests/data).
pub const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// A result's level: a scenario check that fails is an error; a profile item is reported at its
/// severity (warning or note), unless the run's profile gates (`--profile=gate`): then it
/// weighs as a scenario check.
fn level(report: &RunReport, result: &CheckResult) -> &'static str {
    let informative = report.profile_mode != ProfileMode::Gate;
    match (profile_severity(result.id), result.status) {
        (Some(_), Status::Pass) => "none",
        (Some(Severity::Warning), _) if informative => "warning",
        (Some(Severity::Note), _) if informative => "note",
        (_, Status::Fail | Status::Error) => "error",
        (_, Status::NotVerifiable) => "warning",
        _ => "note",
    }
}

/// `path` as a URI reference (RFC 3986), as SARIF's `artifactLocation.uri` must be: each byte
/// outside the unreserved set and `/` percent-encoded (so `<default lab>` or a `:` in a file
/// name cannot make it invalid or read as a scheme).
pub fn uri_reference(path: &str) -> String {
    let mut uri = String::new();
    for byte in path.replace('\\', "/").bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            uri.push(byte as char);
        } else {
            uri.push_str(&format!("%{byte:02X}"));
        }
    }
    uri
}

/// The scenario line a result points at: its check's, by id and host (a check may be written
/// once per group of hosts); the profile's checks, not in the file, point at its first line.
fn line_of(report: &RunReport, result: &CheckResult) -> usize {
    let id = result.id.to_string();
    let lines: Vec<_> = report.check_lines.iter().filter(|c| c.id == id).collect();
    lines
        .iter()
        .find(|c| c.hosts.contains(&result.host))
        .or_else(|| lines.iter().find(|c| c.hosts.is_empty()))
        .or(lines.first())
        .map_or(1, |c| c.line.max(1))
}

/// report.sarif: one run's SARIF log.
pub fn sarif(report: &RunReport) -> String {
    sarif_of_runs(std::slice::from_ref(report))
}

/// One SARIF log for many runs (`report sarif`, what the GitHub Action uploads): a SARIF run per
/// journal-lab run, each with its own `automationDetails.id` (scenario/release/run id), so code
/// scanning keeps every one of them.
pub fn sarif_of_runs(reports: &[RunReport]) -> String {
    let document = json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": reports.iter().map(sarif_run).collect::<Vec<Value>>(),
    });
    serde_json::to_string_pretty(&document).unwrap_or_default() + "\n"
}

fn sarif_run(report: &RunReport) -> Value {
    let ids: Vec<CheckId> = CheckId::all().collect();
    let rules: Vec<Value> = ids
        .iter()
        .map(|id| {
            let entry = id.entry();
            json!({
                "id": id.as_str(),
                "name": id.as_str(),
                "shortDescription": {"text": entry.title},
                "fullDescription": {"text": format!("Expected: {}", entry.expected)},
                "help": {"text": format!("{}\nExpected: {}\nReference: {}", entry.title, entry.expected, entry.reference)},
            })
        })
        .collect();
    let uri = uri_reference(
        &report
            .scenario_file
            .clone()
            .unwrap_or_else(|| format!("{}.yaml", report.scenario)),
    );
    let results: Vec<Value> = report
        .checks
        .iter()
        .chain(&report.profile)
        .filter(|c| c.status != Status::Pass)
        .map(|c| {
            let profile = c.phase == crate::checks::PROFILE_PHASE;
            json!({
                "ruleId": c.id.as_str(),
                "ruleIndex": ids.iter().position(|id| *id == c.id).unwrap_or(0),
                "level": level(report, c),
                "message": {"text": format!(
                    "{} on {} ({}{}): {}",
                    c.status,
                    c.host,
                    c.phase,
                    match (profile, report.profile_mode) {
                        (false, _) => "",
                        (true, ProfileMode::Gate) => ", conformance profile, gating",
                        (true, _) => ", conformance profile, reported only",
                    },
                    c.observed
                )},
                "locations": [{"physicalLocation": {
                    "artifactLocation": {"uri": uri},
                    "region": {"startLine": line_of(report, c)},
                }}],
                "properties": {"host": c.host, "phase": c.phase, "run": report.run_id},
            })
        })
        .collect();
    json!({
        "tool": {"driver": {
            "name": "journal-lab",
            "version": report.harness_version,
            "rules": rules,
        }},
        "automationDetails": {"id": format!("{}/{}/{}", report.scenario, report.release, report.run_id)},
        "results": results,
    })
}

//! SARIF 2.1.0 (for GitHub code scanning's `upload-sarif`): one rule per check id, with its
//! title, expectation and reference; one result per verdict that is not a pass, located at the
//! scenario file's line of that check, so failures show inline in the scenario files. One SARIF
//! run per log, whatever the number of journal-lab runs (GitHub's limits: [`sarif_of_runs`]). Built as
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
    // A failure the setup declared known, or a known one that passed: told, never gating.
    if result.known.is_some() {
        return "note";
    }
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

/// The one category every log has (`automationDetails.id`; the Action's upload names it too).
pub const CATEGORY: &str = "journal-lab/";

/// One SARIF log for many runs (`report sarif`, what the GitHub Action uploads): **one** SARIF
/// run, of tool journal-lab in one category, holding every journal-lab run's results, each
/// naming its scenario, release and run. GitHub's code scanning takes at most 20 runs in a file
/// and refuses several runs of one tool and category in one upload: `run --all` is 24
/// journal-lab runs and `--repeat` gives several of one scenario, so they are one SARIF run.
pub fn sarif_of_runs(reports: &[RunReport]) -> String {
    let ids: Vec<CheckId> = CheckId::all().collect();
    let several = reports.len() > 1;
    let results: Vec<Value> = reports
        .iter()
        .flat_map(|report| results_of(report, &ids, several))
        .collect();
    let version = reports.first().map_or("", |r| r.harness_version.as_str());
    let document = json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "journal-lab",
                "version": version,
                "rules": rules(&ids),
            }},
            "automationDetails": {"id": CATEGORY},
            "results": results,
        }],
    });
    serde_json::to_string_pretty(&document).unwrap_or_default() + "\n"
}

/// One rule per check id, in `ids`' order (results point at them by index).
fn rules(ids: &[CheckId]) -> Vec<Value> {
    ids.iter()
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
        .collect()
}

/// Where a result points, in the user's repository: the files and lines of theirs it names
/// (`config-parses-cleanly`, the settings a failure under `as-is` is about); else, for a setup run, the setup file (the built-in scenario it
/// was laid over is not in their repository); else the scenario file's line of its check.
/// JUnit's `file` and `line` are the first of them.
pub fn places(report: &RunReport, result: &CheckResult) -> Vec<(String, usize)> {
    let yours = crate::checks::knobs::your_locations(&result.observed);
    if !yours.is_empty() {
        return yours;
    }
    if let Some(setup) = &report.setup_file {
        return vec![(setup.clone(), 1)];
    }
    let scenario = report
        .scenario_file
        .clone()
        .unwrap_or_else(|| format!("{}.yaml", report.scenario));
    vec![(scenario, line_of(report, result))]
}

fn locations(report: &RunReport, result: &CheckResult) -> Vec<Value> {
    places(report, result)
        .iter()
        .map(|(path, line)| {
            json!({"physicalLocation": {
                "artifactLocation": {"uri": uri_reference(path)},
                "region": {"startLine": (*line).max(1)},
            }})
        })
        .collect()
}

/// A result per verdict of `report` that is not a pass, at its location; `several`: the
/// message starts with the scenario and release, for a log of many runs.
fn results_of(report: &RunReport, ids: &[CheckId], several: bool) -> Vec<Value> {
    let which = if several {
        format!("{} ({}): ", report.scenario, report.release)
    } else {
        String::new()
    };
    report
        .checks
        .iter()
        .chain(&report.profile)
        .filter(|c| c.status != Status::Pass || c.known.as_ref().is_some_and(|k| k.fixed))
        .map(|c| {
            let profile = c.phase == crate::checks::PROFILE_PHASE;
            // Code scanning's word for a known failure (unchanged since the baseline the team
            // accepted) and for a fixed one (absent now).
            let (baseline, known) = match &c.known {
                Some(k) if k.fixed => (
                    Some("absent"),
                    format!(" [fixed: it was known ({})]", k.reason),
                ),
                Some(k) => (Some("unchanged"), format!(" [known: {}]", k.reason)),
                None => (None, String::new()),
            };
            let mut result = json!({
                "ruleId": c.id.as_str(),
                "ruleIndex": ids.iter().position(|id| *id == c.id).unwrap_or(0),
                "level": level(report, c),
                "message": {"text": format!(
                    "{which}{} on {} ({}{}): {}",
                    c.status,
                    c.host,
                    c.phase,
                    match (profile, report.profile_mode) {
                        (false, _) => "",
                        (true, ProfileMode::Gate) => ", conformance profile, gating",
                        (true, _) => ", conformance profile, reported only",
                    },
                    c.observed
                ) + &known},
                "locations": locations(report, c),
                "properties": {
                    "host": c.host,
                    "phase": c.phase,
                    "run": report.run_id,
                    "scenario": report.scenario,
                    "release": report.release,
                },
            });
            if let Some(baseline) = baseline {
                result["baselineState"] = baseline.into();
            }
            result
        })
        .collect()
}

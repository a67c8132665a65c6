use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::*;

fn repo_file(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn the_ledger_reads_and_names_what_exists() {
    let entries = entries();
    assert!(!entries.is_empty());
    let mut ids = BTreeSet::new();
    let scenarios: Vec<String> = crate::scenario::builtin::all()
        .unwrap()
        .into_iter()
        .map(|(name, _)| name.to_string())
        .collect();
    for entry in entries {
        assert!(ids.insert(entry.id.clone()), "{} twice", entry.id);
        let number = entry.id.strip_prefix("JL-").unwrap_or("");
        assert!(
            number.len() == 3 && number.bytes().all(|b| b.is_ascii_digit()),
            "{}: ids are JL-NNN",
            entry.id
        );
        assert!(
            scenarios.contains(&entry.scenario),
            "{}: {}",
            entry.id,
            entry.scenario
        );
        for check in &entry.checks {
            assert!(
                CheckId::named(check).is_some(),
                "{}: no check {check}",
                entry.id
            );
        }
    }
}

/// (scenario, check) → the releases where it failed.
type FailedOn = BTreeMap<(String, String), BTreeSet<String>>;

/// The stored matrix run an entry names: its releases, and where each check failed.
fn failures_in(observed: &str) -> (Vec<String>, FailedOn) {
    let matrix: serde_json::Value = serde_json::from_str(&repo_file(observed)).unwrap();
    let columns: Vec<String> = matrix["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    let mut failed = FailedOn::new();
    for row in matrix["rows"].as_array().unwrap() {
        let key = (
            row["scenario"].as_str().unwrap().to_string(),
            row["check"].as_str().unwrap().to_string(),
        );
        let on = failed.entry(key).or_default();
        for (release, cell) in row["cells"].as_object().unwrap() {
            if matches!(cell["status"].as_str(), Some("fail" | "error")) {
                on.insert(release.clone());
            }
        }
    }
    (columns, failed)
}

/// Each entry's `seen` and `not_seen` are what the run it names showed, release by release;
/// and each failure of that run has an entry (a finding without one is a gap of the ledger).
#[test]
fn every_claim_holds_in_the_run_it_names_and_every_failure_there_has_an_entry() {
    let runs: BTreeSet<&str> = entries().iter().map(|e| e.observed.as_str()).collect();
    for run in runs {
        let (columns, failed) = failures_in(run);
        for entry in entries().iter().filter(|e| e.observed == run) {
            let claimed: BTreeSet<&String> = entry.seen.iter().chain(&entry.not_seen).collect();
            assert_eq!(
                claimed,
                columns.iter().collect(),
                "{}: seen and not seen together name every release of {run}",
                entry.id
            );
            for check in &entry.checks {
                let on = failed
                    .get(&(entry.scenario.clone(), check.clone()))
                    .unwrap_or_else(|| {
                        panic!("{}: {run} has no {check} in {}", entry.id, entry.scenario)
                    });
                let seen: BTreeSet<String> = entry.seen.iter().cloned().collect();
                assert_eq!(
                    on, &seen,
                    "{}: {check} failed on these releases in {run}",
                    entry.id
                );
            }
        }
        for ((scenario, check), on) in &failed {
            if on.is_empty() {
                continue;
            }
            assert!(
                entries().iter().any(|e| e.observed == run
                    && &e.scenario == scenario
                    && e.checks.contains(check)),
                "{check} failed in {scenario} ({run}) and the ledger has no entry for it"
            );
        }
    }
}

/// docs/findings.md explains each entry under its id and title, and an upstream reference is one
/// the explanation or the check's own catalog entry gives (none is made up here).
#[test]
fn the_findings_page_explains_every_entry_and_no_reference_is_made_up() {
    let page = repo_file("docs/findings.md");
    for entry in entries() {
        assert!(
            page.contains(&format!("**{}**", entry.id)) && page.contains(&entry.title),
            "docs/findings.md does not name {} with its title",
            entry.id
        );
        for reference in &entry.upstream {
            let number = reference.trim_start_matches("systemd");
            let in_catalog = entry
                .checks
                .iter()
                .any(|c| CheckId::named(c).is_some_and(|id| id.entry().reference.contains(number)));
            assert!(
                page.contains(reference.as_str()) || in_catalog,
                "{}: {reference} is neither in docs/findings.md nor in its checks' references",
                entry.id
            );
        }
    }
}

#[test]
fn a_failure_of_a_seed_scenario_finds_its_entry() {
    let entry = entry_for(
        "cert-rejection",
        CheckId::SERVER_REJECTS_UNTRUSTED_CLIENT_CA,
    )
    .unwrap();
    assert_eq!(entry.id, "JL-001");
    assert!(entry_for("passive-https", CheckId::CLIENT_DELIVERS).is_none());
    assert!(text().contains("JL-001 (finding): journal-remote built without GnuTLS"));
}

/// Every FINDING of the stored real runs (tests/data/rejudge) is a ledger entry, by its words.
#[test]
fn every_finding_of_the_stored_runs_has_an_entry() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/rejudge");
    let mut seen = 0;
    for run in std::fs::read_dir(&dir).unwrap() {
        let run_json = run.unwrap().path().join("run.json");
        let report = crate::report::read_run(&run_json).unwrap();
        for finding in &report.findings {
            seen += 1;
            assert!(
                entry_for_finding(&finding.summary).is_some(),
                "{}: the FINDING {:?} has no ledger entry",
                run_json.display(),
                finding.summary
            );
        }
    }
    assert!(
        seen > 0,
        "the stored runs hold findings (bookworm's journal-remote is built without GnuTLS)"
    );
    assert_eq!(
        entry_for_finding(
            "systemd-journal-remote does not verify client certificates (it logged ...)"
        )
        .map(|e| e.id.as_str()),
        Some("JL-001")
    );
}

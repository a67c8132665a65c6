//! The seed scenarios end to end on real hosts (bookworm). Expectations come from what each rule
//! and the TLS setup *require*, and from independent evidence, never from a build's quirks:
//! where the software under test may legitimately differ between builds (does the server verify
//! client certificates?), the test demands that the verdict agree with the server's own log.

use std::collections::BTreeMap;
use std::path::PathBuf;

use journal_lab::checks::{CheckId, CheckResult, Status};
use journal_lab::lab::{self, LabOptions};
use journal_lab::report::{render, RunReport};

mod common;
#[path = "common/redact.rs"]
mod redact;
use common::run_json_schema;
#[path = "common/sarif_schema.rs"]
mod sarif_schema;
use journal_lab::scenario::Scenario;
use redact::{redact, redact_added_hashes};

async fn run(name: &str) -> RunReport {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let scenario = Scenario::load(&root.join(format!("scenarios/{name}.yaml"))).unwrap();
    let reports = tempfile::tempdir().unwrap();
    let options = LabOptions::new(journal_lab::images::Recipes::built_in(), reports.path());
    let outcome = lab::run_scenario(name, &scenario, &options, &journal_lab::quiet())
        .await
        .unwrap();
    let errors = run_json_schema::run_json_errors(&outcome.run_dir.join("run.json"));
    assert!(
        errors.is_empty(),
        "{name}'s run.json against the schema: {errors:?}"
    );
    // Every declared check was evaluated on every host and phase it names, and shows its work.
    let declared: usize = scenario
        .checks
        .iter()
        .map(|c| {
            c.phases.len()
                * c.hosts
                    .as_ref()
                    .map_or_else(|| hosts_for(&scenario, c.id), Vec::len)
        })
        .sum();
    assert_eq!(
        outcome.report.checks.len(),
        declared,
        "{name}: one result per check, host and phase"
    );
    for check in &outcome.report.checks {
        assert!(
            !check.observed.is_empty(),
            "{name}: {} on {} says nothing",
            check.id,
            check.host
        );
        if check.status != Status::NotApplicable {
            assert!(
                !check.evidence.is_empty(),
                "{name}: {} on {} has no evidence",
                check.id,
                check.host
            );
        }
    }
    common::judged_again_the_same(&outcome.run_dir, &outcome.report).await;
    snapshot(&outcome.report);
    outcome.report
}

/// Snapshots of what the run observed, normalized: the marker entries that reached the servers,
/// and the Markdown and JSON reports with run ids, addresses, times and durations redacted.
fn snapshot(report: &RunReport) {
    let name = &report.scenario;
    insta::assert_snapshot!(format!("{name}__journal"), report.normalized_journal());
    insta::assert_snapshot!(
        format!("{name}__report_md"),
        redact(
            &redact_added_hashes(&without_failed_units(&render::markdown(report))),
            report
        )
    );
    insta::assert_snapshot!(
        format!("{name}__report_json"),
        redact(&json_for_snapshot(report), report)
    );
    if name == "cert-rejection" {
        insta::assert_snapshot!(
            format!("{name}__junit"),
            redact(&render::junit(report), report)
        );
    }
}

/// Markdown without its "Failed units" section: which units are failed rather than restarting
/// at the end of a run depends on the moment (the section is tested on its own).
fn without_failed_units(md: &str) -> String {
    match md.split_once("\n## Failed units\n") {
        Some((before, after)) => {
            let rest = after
                .split_once("\n## ")
                .map_or(String::new(), |(_, r)| format!("\n## {r}"));
            format!("{before}{rest}")
        }
        None => md.to_string(),
    }
}

/// report.json with what is volatile by nature replaced: full evidence (log lines with their own
/// timestamps and counters), times, durations, phase timings (an image build adds one), the
/// state of units caught mid-restart, and the raw arrived entries (snapshotted normalized, above).
fn json_for_snapshot(report: &RunReport) -> String {
    fn scrub(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                // A client that did not deliver may be in a restart loop, caught at any point of
                // it ("Processing input..." included) when the run reads its state.
                let failing = map.get("delivered") == Some(&serde_json::Value::Bool(false));
                // Where the checks are written (for SARIF) is the file's, not an observation.
                map.remove("scenario_file");
                map.remove("check_lines");
                // A unit in a restart loop is failed or activating depending on the moment.
                map.remove("failed_units");
                // So are the upload unit's state changes (how many restarts, when): the timeline
                // tests count them on recorded runs (tests/data/timeline/).
                map.remove("upload_unit");
                for (key, value) in map.iter_mut() {
                    match key.as_str() {
                        "evidence" => *value = serde_json::json!("[evidence]"),
                        "seconds"
                        | "total_seconds"
                        | "seconds_to_deliver"
                        | "seconds_to_all_delivered" => *value = serde_json::json!("[secs]"),
                        "started" | "finished" | "marker_logged_at" => {
                            *value = serde_json::json!("[time]")
                        }
                        "phases" => *value = serde_json::json!("[phases]"),
                        "readiness" => *value = serde_json::json!("[readiness]"),
                        // A unit in a restart loop is caught at a random point of it.
                        "status_text"
                            if failing
                                || !value.as_str().unwrap_or("").starts_with("Processing") =>
                        {
                            *value = serde_json::json!("[transient: not processing]")
                        }
                        "journal" => *value = serde_json::json!("[see the journal snapshot]"),
                        // Certificates are issued afresh and name entries hold addresses: the
                        // files and why are the observation, their hashes differ every run.
                        "added_by_lab" => {
                            for added in value.as_array_mut().into_iter().flatten() {
                                added["sha256"] = serde_json::json!("[sha256]");
                            }
                        }
                        // Hashes and names (machine ids) of binary files differ in every run.
                        "journal_files" => *value = serde_json::json!("[copied; in run.json]"),
                        // Outputs and durations of the steps vary; their verdicts are the checks.
                        "steps" => *value = serde_json::json!("[steps]"),
                        _ => scrub(value),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(scrub),
            _ => {}
        }
    }
    let mut value: serde_json::Value = serde_json::from_str(&render::json(report)).unwrap();
    scrub(&mut value);
    serde_json::to_string_pretty(&value).unwrap()
}

fn hosts_for(scenario: &Scenario, id: CheckId) -> usize {
    scenario
        .hosts
        .iter()
        .filter(|h| id.applies_to(h.role))
        .count()
}

/// (id, host, phase) → result.
fn by_key(report: &RunReport) -> BTreeMap<(String, String, String), &CheckResult> {
    report
        .checks
        .iter()
        .map(|c| ((c.id.to_string(), c.host.clone(), c.phase.clone()), c))
        .collect()
}

/// Asserts each (id, host, phase) has the status.
fn expect(report: &RunReport, expectations: &[(&str, &str, &str, Status)]) {
    for (id, host, phase, wanted) in expectations {
        assert_eq!(
            status(report, id, host, phase),
            *wanted,
            "{id} on {host} in {phase}"
        );
    }
}

fn status(report: &RunReport, id: &str, host: &str, phase: &str) -> Status {
    let checks = by_key(report);
    let key = (id.to_string(), host.to_string(), phase.to_string());
    checks
        .get(&key)
        .unwrap_or_else(|| panic!("no result for {key:?}"))
        .status
}

fn assert_all_pass(report: &RunReport) {
    let failed: Vec<_> = report
        .checks
        .iter()
        .filter(|c| c.status != Status::Pass)
        .collect();
    assert!(
        failed.is_empty(),
        "{}: not passing: {failed:#?}",
        report.scenario
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn passive_https_holds_end_to_end() {
    let report = run("passive-https").await;
    assert_all_pass(&report);
    assert!(report.ok);
}

#[tokio::test(flavor = "multi_thread")]
async fn port_change_moves_the_listener_and_strands_the_stale_client_visibly() {
    let report = run("port-change").await;
    assert_all_pass(&report);
    let stale = report.hosts.iter().find(|h| h.name == "stale").unwrap();
    assert_eq!(stale.delivered, Some(false));
}

#[tokio::test(flavor = "multi_thread")]
async fn cert_rejection_verdicts_agree_with_the_evidence() {
    let report = run("cert-rejection").await;
    sarif_validates_and_points_at_the_scenario(&report);
    // Clients verify the server with curl/OpenSSL: these refusals are required of every build.
    for (id, host) in [
        ("client-rejects-server-san-mismatch", "by-ip"),
        ("client-rejects-untrusted-server-ca", "distrustful"),
        ("client-rejects-expired-server-cert", "to-stale"),
        ("client-delivers", "good"),
    ] {
        assert_eq!(
            status(&report, id, host, "final"),
            Status::Pass,
            "{id} on {host}"
        );
    }
    // Server-side refusals: a verdict, never a shrug, and it must agree with the server's own
    // word on whether it checks certificates at all.
    let server_checks_nothing = report
        .findings
        .iter()
        .any(|f| f.host == "server" && f.summary.contains("does not verify client certificates"));
    for (id, host) in [
        ("server-rejects-untrusted-client-ca", "rogue-client"),
        ("server-rejects-client-without-cert", "no-cert"),
        ("server-rejects-expired-client-cert", "expired-client"),
    ] {
        let check = by_key(&report)[&(id.to_string(), host.to_string(), "final".to_string())];
        match check.status {
            Status::Fail => {
                assert!(check.observed.starts_with("ACCEPTED"), "{check:#?}");
                assert!(
                    check
                        .evidence
                        .iter()
                        .any(|e| e.contains("found in /var/log/journal/remote/")),
                    "{check:#?}"
                );
            }
            Status::Pass => assert!(
                !server_checks_nothing,
                "{id} passed although the server logged that it checks no certificates"
            ),
            other => panic!("{id} on {host}: {other}: {}", check.observed),
        }
        if server_checks_nothing {
            assert_eq!(
                check.status,
                Status::Fail,
                "a server that checks nothing cannot have refused {host}"
            );
        }
    }
    assert!(!report.ok, "a failed check makes the run not ok");
}

#[tokio::test(flavor = "multi_thread")]
async fn socket_masking_follows_the_rule_and_its_gate() {
    let report = run("socket-masking").await;
    let before = "before-remediation";
    let after = "after-remediation";
    for host in ["plain", "gated"] {
        // The misconfiguration the rule exists for: the rule's check fails before remediation.
        assert_eq!(
            status(&report, "remote-socket-masked", host, before),
            Status::Fail
        );
        assert_eq!(
            status(&report, "remote-socket-refuses", host, before),
            Status::Fail
        );
        assert_eq!(
            status(&report, "remediation-idempotent", host, before),
            Status::NotApplicable
        );
        for phase in [before, after] {
            assert_eq!(
                status(&report, "client-delivers", host, phase),
                Status::Pass,
                "{host} {phase}"
            );
        }
    }
    expect(
        &report,
        &[
            // linux-base installed: the rule applies and its remediation masks the socket.
            ("remediation-applicable", "gated", after, Status::Pass),
            ("remote-socket-masked", "gated", after, Status::Pass),
            ("remote-socket-refuses", "gated", after, Status::Pass),
            ("remediation-idempotent", "gated", after, Status::Pass),
            // No linux-base: the gate is closed, nothing is done, and the check still fails.
            (
                "remediation-applicable",
                "plain",
                after,
                Status::NotApplicable,
            ),
            ("remote-socket-masked", "plain", after, Status::Fail),
            ("remote-socket-refuses", "plain", after, Status::Fail),
        ],
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn audit_rules_are_compiled_and_kernel_audit_is_never_claimed() {
    let report = run("audit-rules").await;
    assert_eq!(
        status(&report, "docker-socket-present", "docker-host", "final"),
        Status::Pass
    );
    assert_eq!(
        status(&report, "docker-socket-audit-rule", "docker-host", "final"),
        Status::Pass
    );
    // Kernel audit is out of a container's reach: not-verifiable, with the reason; never pass.
    let loaded = by_key(&report)[&(
        "docker-socket-audit-loaded".to_string(),
        "docker-host".to_string(),
        "final".to_string(),
    )];
    assert_eq!(loaded.status, Status::NotVerifiable, "{loaded:#?}");
    assert!(loaded.observed.contains("auditctl -l failed"));
    for id in [
        "docker-socket-present",
        "docker-socket-audit-rule",
        "docker-socket-audit-loaded",
    ] {
        assert_eq!(
            status(&report, id, "plain-host", "final"),
            Status::NotApplicable,
            "{id}"
        );
    }
}

/// The run's SARIF validates against the SARIF 2.1.0 schema (vendored from serde-sarif in
/// tests/data), has a result for each verdict that is not a pass, and each result points at a
/// line of the scenario file that names its check (the profile's, not in the file: line 1).
fn sarif_validates_and_points_at_the_scenario(report: &RunReport) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let sarif: serde_json::Value =
        serde_json::from_str(&journal_lab::report::render::sarif::sarif(report)).unwrap();
    let errors = sarif_schema::sarif_errors(&sarif);
    assert!(errors.is_empty(), "SARIF schema errors: {errors:?}");
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    let not_passing = report
        .checks
        .iter()
        .chain(&report.profile)
        .filter(|c| c.status != Status::Pass)
        .count();
    assert_eq!(results.len(), not_passing);
    assert!(
        !results.is_empty(),
        "cert-rejection has failing checks on Debian's builds"
    );
    for result in results {
        let location = &result["locations"][0]["physicalLocation"];
        let uri = location["artifactLocation"]["uri"].as_str().unwrap();
        assert_eq!(uri, "scenarios/cert-rejection.yaml");
        let text = std::fs::read_to_string(root.join(uri)).unwrap();
        let line = location["region"]["startLine"].as_u64().unwrap() as usize;
        let written = text.lines().nth(line - 1).expect("the line exists");
        let rule = result["ruleId"].as_str().unwrap();
        let profile = result["message"]["text"]
            .as_str()
            .unwrap()
            .contains("conformance profile");
        assert!(
            (profile && line == 1) || written.contains(rule),
            "{rule} at line {line}: {written:?}"
        );
    }
}

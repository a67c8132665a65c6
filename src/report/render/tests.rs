use super::*;

#[path = "../../../tests/common/sarif_schema.rs"]
mod sarif_schema;
use crate::checks::CheckId;

fn check(id: CheckId, host: &str, status: Status, observed: &str) -> CheckResult {
    CheckResult {
        id,
        title: id.entry().title.into(),
        host: host.into(),
        phase: "final".into(),
        expected: id.entry().expected.into(),
        observed: observed.into(),
        status,
        evidence: vec!["[server]$ journalctl <x> & y".into(), "  line 2".into()],
        seconds: 0.25,
        reference: id.entry().reference.into(),
        known: None,
    }
}

fn report() -> RunReport {
    let mut report = crate::report::tests::sample("jl-x");
    report.ok = false;
    report.checks = vec![
        check(
            CheckId::CLIENT_DELIVERS,
            "client1",
            Status::Pass,
            "the marker is on the server",
        ),
        check(
            CheckId::SERVER_REJECTS_UNTRUSTED_CLIENT_CA,
            "client1",
            Status::Fail,
            "ACCEPTED: <marker>",
        ),
        check(
            CheckId::DOCKER_SOCKET_AUDIT_LOADED,
            "client1",
            Status::NotVerifiable,
            "auditctl -l failed",
        ),
        check(
            CheckId::DOCKER_SOCKET_PRESENT,
            "server",
            Status::NotApplicable,
            "no docker.socket",
        ),
        check(
            CheckId::CERT_FILES_OWNER_MODE,
            "server",
            Status::Error,
            "no marker",
        ),
    ];
    report
}

#[test]
fn summary_counts_every_status_and_lists_failures_first() {
    let s = summary(&report());
    assert_eq!(s.verdict, "FAIL");
    assert_eq!(
        (
            s.counts["pass"],
            s.counts["fail"],
            s.counts["error"],
            s.counts["not-verifiable"],
            s.counts["not-applicable"]
        ),
        (1, 1, 1, 1, 1)
    );
    assert_eq!(s.failures.len(), 2);
    assert!(s.failures[0]
        .starts_with("server-rejects-untrusted-client-ca on client1 (final): ACCEPTED"));
}

#[test]
fn junit_maps_checks_to_testcases_with_failures_errors_and_skips() {
    let xml = junit(&report());
    let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let suite = root
        .children()
        .find(|n| n.has_tag_name("testsuite"))
        .unwrap();
    assert_eq!(suite.attribute("name"), Some("lab"));
    assert_eq!(suite.attribute("tests"), Some("5"));
    assert_eq!(suite.attribute("failures"), Some("1"));
    assert_eq!(suite.attribute("errors"), Some("1"));
    let cases: Vec<_> = suite
        .children()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), 5);
    let skipped = cases
        .iter()
        .filter(|c| c.children().any(|n| n.has_tag_name("skipped")))
        .count();
    assert_eq!(
        skipped, 2,
        "not-applicable and not-verifiable are skips, with their reason"
    );
    let failed = cases
        .iter()
        .find(|c| c.children().any(|n| n.has_tag_name("failure")))
        .unwrap();
    assert_eq!(
        failed.attribute("name"),
        Some("server-rejects-untrusted-client-ca on client1 [final]")
    );
    assert_eq!(failed.attribute("classname"), Some("journal-lab.lab"));
    let failure = failed
        .children()
        .find(|n| n.has_tag_name("failure"))
        .unwrap();
    assert!(failure.attribute("message").unwrap().contains("ACCEPTED"));
    assert!(
        failure.text().unwrap_or("").contains("journalctl <x> & y"),
        "evidence is escaped, not lost"
    );
}

#[test]
fn html_is_self_contained_and_escaped() {
    let page = html(&report());
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(!page.contains("<script"), "no scripts");
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "nothing fetched from the network"
    );
    assert!(
        page.contains("ACCEPTED: &lt;marker&gt;"),
        "observed text is escaped"
    );
    assert!(page.contains("journalctl &lt;x&gt; &amp; y"));
    assert!(
        page.contains("Delivery") && page.contains("client1"),
        "per-client delivery table"
    );
    assert!(
        page.contains("2026-11-22 14:00:00.000 UTC"),
        "when the marker was logged"
    );
}

#[test]
fn markdown_leads_with_the_summary_and_shows_evidence_of_non_passes() {
    let md = markdown(&report());
    let summary_at = md.find("## Summary").unwrap();
    assert!(summary_at < md.find("## Checks").unwrap());
    assert!(md.contains("| fail | 1 |"));
    assert!(md.contains("### fail `server-rejects-untrusted-client-ca` on client1 (final)"));
    assert!(!md.contains("### pass"), "passes need no evidence section");
    let json: serde_json::Value = serde_json::from_str(&json(&report())).unwrap();
    assert_eq!(json["summary"]["verdict"], "FAIL");
    assert_eq!(json["run"]["run_id"], "jl-x");
}

/// A healthy run whose profile items fail (the guide's own setup): no error-level SARIF result
/// and no JUnit failure unless the profile gates; then both.
fn healthy_run_with_failing_profile(mode: crate::checks::ProfileMode) -> RunReport {
    let mut report = crate::report::tests::sample("jl-x");
    report.ok = true;
    report.profile_mode = mode;
    report.scenario_file = Some("<default lab>".into());
    report.checks = vec![check(
        CheckId::CLIENT_DELIVERS,
        "client1",
        Status::Pass,
        "the marker is on the server",
    )];
    let profile = |id, host| {
        let mut c = check(id, host, Status::Fail, "not set");
        c.phase = crate::checks::PROFILE_PHASE.into();
        c
    };
    report.profile = vec![
        profile(CheckId::UPLOAD_RESTART_ALWAYS, "client1"),
        profile(CheckId::JOURNALD_COMPRESS, "server"),
    ];
    report
}

fn sarif_levels(report: &RunReport) -> Vec<String> {
    let document: serde_json::Value = serde_json::from_str(&sarif::sarif(report)).unwrap();
    document["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["level"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_profile_informs_at_its_severity_unless_it_gates() {
    use crate::checks::ProfileMode;
    let informing = healthy_run_with_failing_profile(ProfileMode::Report);
    assert_eq!(sarif_levels(&informing), ["warning", "note"]);
    let xml = junit(&informing);
    assert_eq!(xml.matches("<failure").count(), 0, "{xml}");
    assert_eq!(xml.matches("reported only").count(), 2, "{xml}");
    let gating = healthy_run_with_failing_profile(ProfileMode::Gate);
    assert_eq!(sarif_levels(&gating), ["error", "error"]);
    assert_eq!(junit(&gating).matches("<failure").count(), 2);
    assert!(markdown(&gating).contains("--profile=gate, an item that does not hold fails the run"));
}

/// Every SARIF log validates against the OASIS SARIF 2.1.0 schema (tests/data), formats
/// included: a scenario "file" such as `<default lab>` is written as a URI reference.
#[test]
fn sarif_validates_against_the_oasis_schema_whatever_the_scenario_path() {
    for path in ["<default lab>", "scenarios/a b:c.yaml", "ünï/x.yaml"] {
        let mut run = healthy_run_with_failing_profile(crate::checks::ProfileMode::Report);
        run.scenario_file = Some(path.into());
        let document: serde_json::Value = serde_json::from_str(&sarif::sarif(&run)).unwrap();
        let errors = sarif_schema::sarif_errors(&document);
        assert!(errors.is_empty(), "{path}: {errors:?}");
    }
    // The check can fail: the raw path is refused by the schema's uri-reference format.
    let mut raw: serde_json::Value = serde_json::from_str(&sarif::sarif(
        &healthy_run_with_failing_profile(crate::checks::ProfileMode::Report),
    ))
    .unwrap();
    raw["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] =
        "<default lab>".into();
    assert!(
        !sarif_schema::sarif_errors(&raw).is_empty(),
        "the schema checks URI references"
    );
    assert_eq!(sarif::uri_reference("<default lab>"), "%3Cdefault%20lab%3E");
    assert_eq!(
        sarif::uri_reference("scenarios/port-change.yaml"),
        "scenarios/port-change.yaml"
    );
}

/// GitHub's code scanning takes at most 20 runs in a SARIF file and one run per tool and
/// category in an upload: a log of `run --all` (24 runs) with `--repeat` (the same scenario
/// twice) is one SARIF run in one category that keeps every result, each naming its scenario,
/// release and run, and still validates.
#[test]
fn a_sarif_log_of_many_runs_keeps_within_code_scannings_limits() {
    let mut reports = Vec::new();
    for n in 0..24 {
        let mut run = healthy_run_with_failing_profile(crate::checks::ProfileMode::Report);
        run.scenario = format!("scenario-{}", n % 12);
        run.release = if n < 12 { "bookworm" } else { "trixie" }.into();
        run.run_id = format!("jl-run-{n}");
        reports.push(run);
    }
    let per_run = serde_json::from_str::<serde_json::Value>(&sarif::sarif(&reports[0])).unwrap()
        ["runs"][0]["results"]
        .as_array()
        .unwrap()
        .len();
    assert!(per_run > 0, "the sample run has results to keep");
    let document: serde_json::Value =
        serde_json::from_str(&sarif::sarif_of_runs(&reports)).unwrap();
    let runs = document["runs"].as_array().unwrap();
    assert!(runs.len() <= 20, "{} runs in one file", runs.len());
    let categories: std::collections::BTreeSet<(&str, &str)> = runs
        .iter()
        .map(|r| {
            (
                r["tool"]["driver"]["name"].as_str().unwrap(),
                r["automationDetails"]["id"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        categories.len(),
        runs.len(),
        "one run per tool and category"
    );
    let results: Vec<&serde_json::Value> = runs
        .iter()
        .flat_map(|r| r["results"].as_array().unwrap())
        .collect();
    assert_eq!(results.len(), 24 * per_run, "no result dropped");
    for (n, report) in reports.iter().enumerate() {
        let of_run: Vec<_> = results
            .iter()
            .filter(|r| r["properties"]["run"] == report.run_id.as_str())
            .collect();
        assert_eq!(of_run.len(), per_run, "run {n}");
        assert!(of_run
            .iter()
            .all(|r| r["properties"]["scenario"] == report.scenario.as_str()
                && r["properties"]["release"] == report.release.as_str()
                && r["message"]["text"]
                    .as_str()
                    .unwrap()
                    .starts_with(&format!("{} ({}): ", report.scenario, report.release))));
    }
    let errors = sarif_schema::sarif_errors(&document);
    assert!(errors.is_empty(), "{errors:?}");
}

/// Text from input lands in report.md and report.html as text: a phase named like an HTML tag
/// is not a tag in either, and escape and bell characters are shown, never written raw.
#[test]
fn input_text_is_shown_never_interpreted_in_markdown_and_html() {
    let mut run = healthy_run_with_failing_profile(crate::checks::ProfileMode::Report);
    run.description = "fleet \u{1b}[31mred\u{7} & co".into();
    for check in run.checks.iter_mut().chain(run.profile.iter_mut()) {
        check.phase = "<img src=x onerror=alert(1)>".into();
    }
    for (format, text) in [("md", markdown(&run)), ("html", super::html(&run))] {
        assert!(!text.contains("<img"), "{format}: a raw tag");
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}'),
            "{format}: a raw control character"
        );
        assert!(
            text.contains("\\u{1b}[31mred\\u{7}"),
            "{format}: the escape shown"
        );
        assert!(
            text.contains("&lt;img src=x onerror=alert(1)&gt;"),
            "{format}"
        );
    }
}

/// Evidence file names: as they were for names of plain characters; bounded, and told apart by a
/// hash, for a phase of 300 characters or one with characters a file name cannot hold; and a
/// run with such a phase writes its reports (before, "File name too long" cost it all of them).
#[test]
fn evidence_file_names_are_bounded_and_distinct_whatever_the_phase() {
    let mut run = healthy_run_with_failing_profile(crate::checks::ProfileMode::Report);
    let mut check = run.profile[0].clone();
    check.phase = "final".into();
    assert_eq!(
        super::evidence::file_of(&check),
        format!("evidence/{}.{}.final.txt", check.id, check.host)
    );
    let named = |phase: &str| {
        let mut c = check.clone();
        c.phase = phase.into();
        super::evidence::file_of(&c)
    };
    let long = named(&"p".repeat(300));
    let file_name = long.trim_start_matches("evidence/");
    assert!(file_name.len() <= 120, "{} bytes: {long}", file_name.len());
    assert_ne!(long, named(&"p".repeat(301)), "cut names stay apart");
    assert_ne!(named("a b"), named("a_b"), "replaced characters stay apart");
    assert_ne!(named("a b"), named("a/b"));
    for c in run.profile.iter_mut() {
        c.phase = "ppp".repeat(100);
        c.evidence = vec!["[client1]$ true".into()];
    }
    let dir = tempfile::tempdir().unwrap();
    let written =
        crate::report::write_formats(dir.path(), &run, &[crate::report::Format::Markdown])
            .expect("reports written with a 300-character phase");
    assert_eq!(written.len(), 1);
    assert!(
        std::fs::read_dir(dir.path().join("evidence"))
            .unwrap()
            .count()
            >= 1
    );
}

/// A setup run's SARIF points into the user's repository: a result that names a file of theirs
/// at that file and line, every other at their setup.yaml, never at the built-in scenario.
#[test]
fn a_setup_runs_sarif_points_at_the_users_files() {
    let mut run = healthy_run_with_failing_profile(crate::checks::ProfileMode::Report);
    run.scenario_file = Some("scenarios/passive-https.yaml".into());
    run.setup_file = Some("ci/journal-lab/setup.yaml".into());
    let mut typo = run.profile[0].clone();
    typo.id = crate::checks::CheckId::CONFIG_PARSES_CLEANLY;
    typo.status = Status::Fail;
    typo.observed = "systemd went on without 1 setting it could not use: /etc/systemd/journal-upload.conf:4 \
                     (your ci/journal-lab/client/journal-upload.conf:4): Unknown key 'ServerCertificateFle' in section [Upload], ignoring."
        .into();
    run.checks.push(typo);
    let document: serde_json::Value = serde_json::from_str(&sarif::sarif(&run)).unwrap();
    let places: Vec<(String, u64)> = document["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let at = &r["locations"][0]["physicalLocation"];
            (
                at["artifactLocation"]["uri"].as_str().unwrap().to_string(),
                at["region"]["startLine"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(
        places.contains(&("ci/journal-lab/client/journal-upload.conf".into(), 4)),
        "{places:?}"
    );
    assert!(
        places.contains(&("ci/journal-lab/setup.yaml".into(), 1)),
        "{places:?}"
    );
    assert!(
        places.iter().all(|(uri, _)| !uri.starts_with("scenarios/")),
        "{places:?}"
    );
    assert!(sarif_schema::sarif_errors(&document).is_empty());
    // JUnit's cases are annotated at the same places.
    let xml = junit(&run);
    assert!(
        xml.contains(r#"file="ci/journal-lab/client/journal-upload.conf" line="4""#),
        "{xml}"
    );
    assert!(!xml.contains("scenarios/passive-https.yaml"), "{xml}");
}

/// A known failure is a note with code scanning's `baselineState: unchanged`, a skipped JUnit
/// case with its reason, and a row of its own in report.md; a fixed one is `absent`.
#[test]
fn known_failures_are_told_apart_in_every_format() {
    use crate::checks::{Known, KnownKind};
    let mut run = healthy_run_with_failing_profile(crate::checks::ProfileMode::Gate);
    let known = |fixed| {
        Some(Known {
            kind: KnownKind::Fail,
            reason: "no GnuTLS in this build".into(),
            link: Some("https://github.com/systemd/systemd/issues/4092".into()),
            fixed,
        })
    };
    let mut failing = run.profile[0].clone();
    failing.status = Status::Fail;
    failing.phase = "final".into();
    failing.known = known(false);
    let mut passing = failing.clone();
    passing.status = Status::Pass;
    passing.host = "client2".into();
    passing.known = known(true);
    run.checks = vec![failing, passing];
    let document: serde_json::Value = serde_json::from_str(&sarif::sarif(&run)).unwrap();
    let results = document["runs"][0]["results"].as_array().unwrap();
    let of = |host: &str| {
        results
            .iter()
            .find(|r| r["properties"]["host"] == host && r["properties"]["phase"] == "final")
            .unwrap_or_else(|| panic!("a result on {host}: {results:?}"))
    };
    assert_eq!(
        (
            of("client1")["level"].as_str(),
            of("client1")["baselineState"].as_str()
        ),
        (Some("note"), Some("unchanged"))
    );
    assert_eq!(of("client2")["baselineState"], "absent");
    assert!(sarif_schema::sarif_errors(&document).is_empty());
    let xml = junit(&run);
    assert!(xml.contains("known failure: no GnuTLS in this build (https://github.com/systemd/systemd/issues/4092)"), "{xml}");
    let md = markdown(&run);
    assert!(
        md.contains("## Known failures (the setup's expect:)"),
        "{md}"
    );
    assert!(md.contains("FIXED: a known failure passed"), "{md}");
    assert!(
        run.checks.iter().all(|c| !c.fails()),
        "neither fails the run"
    );
}

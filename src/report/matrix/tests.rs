//! The matrix on run.json files recorded from real runs (passive-https and port-change on
//! bookworm and trixie), and shards.

use super::*;

fn recorded() -> Vec<RunReport> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/matrix");
    let mut reports: Vec<RunReport> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| super::super::read_run(&e.unwrap().path()).unwrap())
        .collect();
    reports.sort_by(|a, b| a.run_id.cmp(&b.run_id));
    reports
}

#[test]
fn shards_parse_or_say_what_to_write() {
    assert_eq!(
        "2/3".parse::<Shard>().unwrap(),
        Shard { index: 2, count: 3 }
    );
    for (bad, says) in [
        ("0/2", "K counts from 1"),
        ("3/2", "K counts from 1 to N"),
        ("x/y", "write K/N"),
        ("1/0", "at least 1"),
        ("2", "write K/N"),
    ] {
        let message = bad.parse::<Shard>().unwrap_err();
        assert!(message.contains(says), "{bad}: {message}");
    }
}

#[test]
fn shards_are_disjoint_and_cover_the_list() {
    let items: Vec<u32> = (0..11).collect();
    let mut all: Vec<u32> = (1..=3)
        .flat_map(|k| Shard { index: k, count: 3 }.select(items.clone()))
        .collect();
    all.sort();
    assert_eq!(all, items);
    assert_eq!(Shard { index: 1, count: 1 }.select(items.clone()), items);
}

/// Merging the runs split by --shard 1/2 and 2/2 gives the same grid as all of them at once.
#[test]
fn a_merge_of_shards_is_the_whole_grid() {
    let runs = recorded();
    assert_eq!(runs.len(), 4);
    let whole = build(&runs).unwrap();
    let mut merged = Shard { index: 1, count: 2 }.select(runs.clone());
    merged.extend(Shard { index: 2, count: 2 }.select(runs.clone()));
    merged.reverse();
    assert_eq!(build(&merged).unwrap(), whole);
    assert_eq!(whole.columns, ["bookworm", "trixie"]);
    // Every check of every run has its cell.
    let cells: usize = whole.rows.iter().map(|r| r.cells.len()).sum();
    assert_eq!(cells, runs.iter().map(|r| r.checks.len()).sum::<usize>());
}

#[test]
fn differences_list_only_rows_that_differ() {
    let mut runs = recorded();
    let whole = build(&runs).unwrap();
    let before = whole.differences().len();
    // Make one verdict of trixie differ from bookworm's.
    let trixie = runs.iter_mut().find(|r| r.release == "trixie").unwrap();
    let check = &mut trixie.checks[0];
    check.status = if check.status == Status::Pass {
        Status::Fail
    } else {
        Status::Pass
    };
    let changed = build(&runs).unwrap();
    assert_eq!(changed.differences().len(), before + 1);
    let md = changed.markdown();
    assert!(md.contains("## Differences"));
    // The short table counts the hosts of each check per column.
    let by_check = changed.by_check();
    assert!(
        by_check.contains("| passive-https | server-https-only | pass | pass |"),
        "{by_check}"
    );
    assert!(
        by_check.contains("| passive-https | client-delivers | pass | 1 fail, 2 pass |"),
        "{by_check}"
    );
    let html = changed.html();
    assert!(
        html.contains("report.html\">"),
        "cells link to their run's evidence"
    );
}

#[test]
fn runs_of_other_harness_versions_do_not_mix() {
    let mut runs = recorded();
    runs[1].harness_version = "9.9.9".into();
    let message = build(&runs).unwrap_err();
    assert!(
        message.contains("different journal-lab versions"),
        "{message}"
    );
    assert!(build(&[]).is_err());
}

#[test]
fn each_column_gets_a_junit_file_with_its_runs_checks() {
    let reports = recorded();
    let files = junit_by_column(&reports);
    assert_eq!(
        files.keys().collect::<Vec<_>>(),
        ["junit-bookworm.xml", "junit-trixie.xml"]
    );
    for (column, xml) in [
        ("bookworm", &files["junit-bookworm.xml"]),
        ("trixie", &files["junit-trixie.xml"]),
    ] {
        let doc = roxmltree::Document::parse(xml).expect("well-formed XML");
        let suites: Vec<_> = doc
            .root_element()
            .children()
            .filter(|n| n.has_tag_name("testsuite"))
            .collect();
        let runs: Vec<&RunReport> = reports.iter().filter(|r| r.release == column).collect();
        let expected_cases: usize = runs.iter().map(|r| r.checks.len() + r.profile.len()).sum();
        let cases: usize = suites
            .iter()
            .map(|s| s.children().filter(|n| n.has_tag_name("testcase")).count())
            .sum();
        assert_eq!(cases, expected_cases, "{column}");
        assert!(suites
            .iter()
            .all(|s| s
                .descendants()
                .any(|n| n.attribute("name") == Some("release")
                    && n.attribute("value") == Some(column))));
        // Profile items fail a JUnit case only when the run's profile gates (`--profile=gate`);
        // otherwise they are reported as skipped, with their severity.
        let gated = |r: &&RunReport| r.profile_mode == crate::checks::ProfileMode::Gate;
        let failures: usize = runs
            .iter()
            .flat_map(|r| {
                let profile = if gated(r) { &r.profile[..] } else { &[] };
                r.checks.iter().chain(profile)
            })
            .filter(|c| c.status == Status::Fail)
            .count();
        assert_eq!(xml.matches("<failure").count(), failures, "{column}");
        let reported: usize = runs
            .iter()
            .filter(|r| !gated(r))
            .flat_map(|r| &r.profile)
            .filter(|c| c.status == Status::Fail)
            .count();
        assert!(
            reported > 0,
            "the recorded runs have profile items that fail"
        );
        assert_eq!(
            xml.matches("reported only, --profile=gate fails on it")
                .count(),
            reported,
            "{column}"
        );
    }
}

/// With repetitions, a cell shows how often each verdict was seen, and a row that flips within a
/// column is a flaky row, not a difference between the columns.
#[test]
fn repeated_runs_separate_flaky_rows_from_differences() {
    let runs = recorded();
    let bookworm = runs
        .iter()
        .find(|r| r.release == "bookworm")
        .unwrap()
        .clone();
    let mut again = bookworm.clone();
    again.run_id.push_str("-again");
    // The same check, failing this time.
    let flipped = again.checks[0].id;
    let host = again.checks[0].host.clone();
    again.checks[0].status = Status::Fail;
    let mut with_repeat = runs.clone();
    with_repeat.push(again);
    let matrix = build(&with_repeat).unwrap();
    let flaky = matrix.flaky_rows();
    assert!(
        flaky
            .iter()
            .any(|r| r.check == flipped.as_str() && r.host == host),
        "{flaky:?}"
    );
    assert!(matrix.differences().iter().all(|r| !r.flaky()));
    let cell = &flaky[0].cells["bookworm"];
    assert!(cell.text().starts_with("flaky: "), "{}", cell.text());
    assert!(cell.text().contains("fail 1/2") && cell.text().contains("pass 1/2"));
    let md = matrix.markdown();
    assert!(md.contains("## Flaky rows"), "{md}");
    // Without repetitions, nothing is flaky and every cell reads as before.
    let single = build(&runs).unwrap();
    assert!(single.flaky_rows().is_empty());
    assert!(!single.markdown().contains("Flaky rows"));
}

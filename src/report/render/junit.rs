//! junit.xml: the scenario is a test suite, each check on each host and phase a test case; the
//! conformance profile a suite of its own, whose cases fail only when it gates.

use std::time::Duration;

use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};

use super::md_table;
use crate::checks::{CheckResult, Status};
use crate::report::RunReport;

/// junit.xml: the scenario is a test suite, each check on each host and phase a test case.
pub fn junit(report: &RunReport) -> String {
    let mut junit = quick_junit::Report::new("journal-lab");
    junit.add_test_suites(junit_suites(report));
    junit.to_string().expect("JUnit serializes")
}

/// One JUnit file for many runs (a matrix column): each run's suites, side by side.
pub fn junit_of_runs<'a>(name: &str, reports: impl IntoIterator<Item = &'a RunReport>) -> String {
    let mut junit = quick_junit::Report::new(name.to_string());
    for report in reports {
        junit.add_test_suites(junit_suites(report));
    }
    junit.to_string().expect("JUnit serializes")
}

fn junit_suites(report: &RunReport) -> Vec<TestSuite> {
    let mut suites = Vec::new();
    let mut suite = test_suite(report, report.scenario.clone(), &report.checks);
    if let Some(delivery) = &report.delivery {
        // What each client sent and what arrived, for CI systems that show a suite's output.
        suite.set_system_out(md_table(
            &crate::report::delivery::COLUMNS,
            crate::report::delivery::rows(delivery).into_iter(),
        ));
    }
    suites.push(suite);
    if !report.profile.is_empty() {
        suites.push(test_suite(
            report,
            format!("{}.profile", report.scenario),
            &report.profile,
        ));
    }
    suites
}

/// A check's JUnit status. A profile item that does not hold is a failure only when the run's
/// profile gates; otherwise it is reported (skipped, with its severity and what was observed),
/// so a healthy run is not red in CI for what the profile only informs about.
fn junit_status(report: &RunReport, c: &CheckResult) -> TestCaseStatus {
    let informative = report.profile_mode != crate::checks::ProfileMode::Gate;
    // Only a profile item that does not hold is "reported only": a skip stays a skip.
    let holds_not = matches!(c.status, Status::Fail | Status::Error);
    let severity = crate::checks::profile_severity(c.id).filter(|_| informative && holds_not);
    if let Some(known) = c.known.as_ref().filter(|k| !k.fixed) {
        if matches!(c.status, Status::Fail | Status::Error) {
            let mut status = TestCaseStatus::skipped();
            let link = known
                .link
                .as_deref()
                .map(|l| format!(" ({l})"))
                .unwrap_or_default();
            status.set_message(format!(
                "known failure: {}{link}: {}",
                known.reason, c.observed
            ));
            status.set_description(c.evidence.join("\n"));
            return status;
        }
    }
    let mut status = match (c.status, severity) {
        (Status::Pass, _) => return TestCaseStatus::success(),
        (_, Some(_)) => TestCaseStatus::skipped(),
        (Status::Fail, None) => TestCaseStatus::non_success(NonSuccessKind::Failure),
        (Status::Error, None) => TestCaseStatus::non_success(NonSuccessKind::Error),
        (Status::NotApplicable | Status::NotVerifiable, None) => TestCaseStatus::skipped(),
    };
    let prefix = match severity {
        Some(severity) => {
            format!("profile {severity:?} (reported only, --profile=gate fails on it): ")
                .to_lowercase()
        }
        None => String::new(),
    };
    status.set_message(format!("{prefix}{}: {}", c.status, c.observed));
    status.set_description(c.evidence.join("\n"));
    status
}

fn test_suite(report: &RunReport, name: String, checks: &[CheckResult]) -> TestSuite {
    let mut suite = TestSuite::new(name.clone());
    // When the run started and how long its checks took, as CI's JUnit readers show suites.
    let started = report
        .started
        .format(&time::format_description::well_known::Rfc3339)
        .ok()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok());
    if let Some(started) = started {
        suite.set_timestamp(started);
    }
    suite.set_time(Duration::from_secs_f64(
        checks.iter().map(|c| c.seconds.max(0.0)).sum(),
    ));
    suite.add_property(("release", report.release.as_str()));
    suite.add_property(("systemd", report.systemd_version.as_str()));
    suite.add_property(("run_id", report.run_id.as_str()));
    for c in checks {
        let status = junit_status(report, c);
        let mut case = TestCase::new(format!("{} on {} [{}]", c.id, c.host, c.phase), status);
        case.set_classname(format!("journal-lab.{name}"));
        // Where CI annotates it: the same place as its SARIF result (the user's files for a
        // setup run).
        if let Some((file, line)) = super::sarif::places(report, c).into_iter().next() {
            case.extra.insert("file".into(), file.into());
            case.extra
                .insert("line".into(), line.max(1).to_string().into());
        }
        case.set_time(Duration::from_secs_f64(c.seconds.max(0.0)));
        suite.add_test_case(case);
    }
    suite
}

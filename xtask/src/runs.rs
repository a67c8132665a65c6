//! Running labs and scenarios from the command line, and printing what they observed.

use std::path::PathBuf;
use std::process::ExitCode;

use journal_lab::{lab, report, scenario};

use super::{apply_keep, images_dir, progress, KeepWhen};

pub async fn run_lab(
    clients: usize,
    release: String,
    keep: Option<KeepWhen>,
    reports: PathBuf,
) -> anyhow::Result<ExitCode> {
    let mut options = lab::LabOptions::new(images_dir(), reports);
    options.clients = clients;
    options.release = Some(release);
    apply_keep(&mut options, keep);
    let outcome = lab::run(&options, &progress()).await?;
    crate::progress::done();
    let report = &outcome.report;
    println!(
        "run {}  ({}, {})",
        report.run_id, report.release, report.systemd_version
    );
    for host in report.clients() {
        let verdict = match (host.delivered, host.seconds_to_deliver) {
            (Some(true), Some(seconds)) => format!(
                "delivered in {seconds:.2}s  -> {}",
                host.remote_file.as_deref().unwrap_or("?")
            ),
            _ => format!("NOT delivered  (upload status: {:?})", host.status_text),
        };
        println!("  {:<10} {:<15} {verdict}", host.name, host.ip);
    }
    println!(
        "{} of {} clients delivered; total {:.1}s; report: {}",
        report.delivered,
        report.clients,
        report.total_seconds,
        outcome.run_dir.join("run.json").display()
    );
    for finding in &report.findings {
        println!("FINDING on {}: {}", finding.host, finding.summary);
        for line in &finding.evidence {
            println!("    {line}");
        }
    }
    if !report.ok {
        println!("evidence for what did not arrive is in run.json (hosts[].evidence)");
    }
    println!("reports: {}", outcome.run_dir.join("report.html").display());
    if !outcome.kept.is_empty() {
        println!("the lab is still running (--keep):");
        for line in &outcome.kept {
            println!("{line}");
        }
    }
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

pub async fn run_scenarios(
    files: &[PathBuf],
    releases: &[String],
    jobs: usize,
    keep: Option<KeepWhen>,
    reports: PathBuf,
    json: bool,
) -> anyhow::Result<ExitCode> {
    // Validate everything before booting anything.
    let mut scenarios = Vec::new();
    for file in files {
        scenarios.push((scenario::name_of(file), scenario::Scenario::load(file)?));
    }
    let releases: Vec<Option<String>> = if releases.is_empty() {
        vec![None]
    } else {
        releases.iter().cloned().map(Some).collect()
    };
    let mut options = lab::LabOptions::new(images_dir(), reports);
    apply_keep(&mut options, keep);
    let outcomes = lab::run_many(&scenarios, &releases, jobs, &options, &progress()).await?;
    let mut worst = ExitCode::SUCCESS;
    let runs = outcomes.len();
    let mut statuses = std::collections::BTreeMap::<String, usize>::new();
    let mut harness_errors = 0;
    // --format json: stdout is one JSON array (each run's run.json, or its harness error), and
    // nothing else; the summary goes to stderr with the progress.
    let mut documents = Vec::new();
    for (name, outcome) in outcomes {
        match outcome {
            Err(e) => {
                crate::progress::done();
                if json {
                    documents.push(serde_json::json!({"scenario": name, "error": e.to_string()}));
                } else {
                    println!("\n{name}: ERROR: {e}");
                }
                worst = ExitCode::from(2);
                harness_errors += 1;
            }
            Ok(outcome) => {
                for check in &outcome.report.checks {
                    *statuses.entry(check.status.to_string()).or_default() += 1;
                }
                let ok = if json {
                    documents.push(serde_json::to_value(&outcome.report)?);
                    for line in &outcome.kept {
                        eprintln!("{line}");
                    }
                    outcome.report.ok
                } else {
                    print_outcome(&name, &outcome)
                };
                // Not ok: a check failed or errored, or a step failed.
                if !ok && worst == ExitCode::SUCCESS {
                    worst = ExitCode::from(1);
                }
            }
        }
    }
    crate::progress::done();
    let summary = summary_line(runs, &statuses, harness_errors);
    if json {
        println!("{}", serde_json::to_string_pretty(&documents)?);
        eprintln!("{summary}");
    } else if runs > 1 {
        println!("\n{summary}");
    }
    Ok(worst)
}

/// "N scenarios, X checks: a pass, b fail, …" (and the runs that could not complete).
fn summary_line(
    runs: usize,
    statuses: &std::collections::BTreeMap<String, usize>,
    harness_errors: usize,
) -> String {
    let checks: usize = statuses.values().sum();
    let order = ["pass", "fail", "error", "not-verifiable", "not-applicable"];
    let counts: Vec<String> = order
        .iter()
        .map(|s| format!("{} {s}", statuses.get(*s).copied().unwrap_or(0)))
        .collect();
    let mut line = format!(
        "{runs} scenario runs, {checks} checks: {}",
        counts.join(", ")
    );
    if harness_errors > 0 {
        line.push_str(&format!("; {harness_errors} could not run (ERROR above)"));
    }
    line
}

/// A run's checks as a table, its findings, profile and failed steps, and how to reach a kept
/// lab; whether the run was ok.
pub fn print_outcome(name: &str, outcome: &lab::Outcome) -> bool {
    crate::progress::done();
    let report = &outcome.report;
    println!(
        "\n{name} ({}, {}): {}",
        report.release,
        report.systemd_version,
        outcome.run_dir.join("run.json").display()
    );
    for check in &report.checks {
        println!(
            "  {:<15} {:<38} {:<9} {:<20} {}",
            check.status.to_string(),
            check.id.to_string(),
            check.host,
            check.phase,
            check.observed
        );
    }
    for finding in &report.findings {
        println!("  FINDING on {}: {}", finding.host, finding.summary);
    }
    let profile = report::render::summary(report).profile;
    let counts: Vec<String> = profile
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(s, n)| format!("{n} {s}"))
        .collect();
    println!(
        "  conformance profile: {} (details in report.html)",
        counts.join(", ")
    );
    for step in report.steps.iter().filter(|s| s.error.is_some()) {
        println!(
            "  STEP {} ({}) FAILED: {}",
            step.index,
            step.step,
            step.error.as_deref().unwrap_or_default()
        );
    }
    for line in &outcome.kept {
        println!("{line}");
    }
    report.ok
}

//! Running labs and scenarios from the command line, and printing what they observed.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use crate::{lab, report, scenario};

use super::{progress, recipes};

pub async fn run_lab(
    clients: usize,
    release: String,
    keep: Option<KeepWhen>,
    profile: super::values::ProfileArg,
    reports: PathBuf,
) -> anyhow::Result<ExitCode> {
    let mut options = lab::LabOptions::new(recipes(), reports);
    profile.apply(&mut options);
    options.clients = clients;
    options.release = Some(release);
    apply_keep(&mut options, keep);
    let outcome = lab::run_default_lab(&options, &progress()).await?;
    super::progress::done();
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
    size_line(&outcome.run_dir);
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

/// How `run` runs its scenarios (its options, as given).
pub struct RunSettings {
    pub releases: Vec<String>,
    pub jobs: usize,
    pub keep: Option<KeepWhen>,
    pub profile: super::values::ProfileArg,
    pub reports: PathBuf,
    /// `--format json`: one JSON array on stdout and nothing else.
    pub json: bool,
    pub shard: Option<report::matrix::Shard>,
    /// Runs of each scenario × release (`--repeat`): above 1, rates and a verdict per check.
    pub repeat: usize,
    /// `--flaky=allow`: a check seen both passing and failing does not fail the command.
    pub flaky_allowed: bool,
    /// `--strict-expect`: a known failure that passed (fixed) fails the command.
    pub strict_expect: bool,
    /// `test --name`: what a kept lab is called (each run's `NAME-<scenario>` with several).
    pub lab_name: Option<String>,
    /// `test`: Molecule's idempotence step after bring-up.
    pub idempotence: bool,
}

pub async fn run_scenarios(
    scenarios: Vec<(String, scenario::Scenario)>,
    settings: RunSettings,
) -> anyhow::Result<ExitCode> {
    let RunSettings {
        releases,
        jobs,
        keep,
        profile,
        reports,
        json,
        shard,
        repeat,
        flaky_allowed,
        strict_expect,
        lab_name,
        idempotence,
    } = settings;
    let available = crate::images::available_releases(&recipes());
    let releases: Vec<Option<String>> = match &releases[..] {
        [] => vec![None],
        [all] if all == "all" => available.iter().cloned().map(Some).collect(),
        list => {
            if let Some(unknown) = list.iter().find(|r| !available.contains(r)) {
                anyhow::bail!(
                    "unknown release {unknown:?}: the recipes under images/ are {} (or `all`)",
                    available.join(", ")
                );
            }
            list.iter().cloned().map(Some).collect()
        }
    };
    // The scenario × release list, in a fixed order, and this machine's shard of it.
    let mut pairs = lab::pairs(&scenarios, &releases);
    if let Some(shard) = shard {
        pairs = shard.select(pairs);
        eprintln!(
            "shard {}/{}: {} of the runs",
            shard.index,
            shard.count,
            pairs.len()
        );
    }
    if repeat > 1 {
        // Each scenario × release `repeat` times, a fresh lab each time.
        pairs = pairs
            .into_iter()
            .flat_map(|pair| std::iter::repeat_n(pair, repeat))
            .collect();
    }
    if let Some(base) = &lab_name {
        for (scenario, _, release) in &pairs {
            let name = lab::lab_name_of(base, pairs.len(), scenario, release.as_deref(), None);
            super::lifecycle::valid_lab_name(&name)?;
        }
    }
    let mut options = lab::LabOptions::new(recipes(), reports.clone());
    profile.apply(&mut options);
    apply_keep(&mut options, keep);
    options.lab_name = lab_name;
    options.idempotence = idempotence;
    // With --format json, progress is JSON lines too: the same events, machine-readable.
    let progress = if json {
        super::progress::json_reporter()
    } else {
        progress()
    };
    let outcomes = lab::run_pairs(&pairs, jobs, &options, &progress).await?;
    let reports_of_runs: Vec<report::RunReport> = outcomes
        .iter()
        .filter_map(|(_, o)| o.as_ref().ok().map(|o| o.report.clone()))
        .collect();
    if releases.len() > 1 {
        let runs: Vec<report::RunReport> = outcomes
            .iter()
            .filter_map(|(_, o)| o.as_ref().ok().map(|o| o.report.clone()))
            .collect();
        if !runs.is_empty() {
            let dir = write_matrix(&reports, &runs)?;
            // Where to look next goes with the results (stdout), unless stdout is JSON.
            if json {
                eprintln!("matrix: {}", dir.join("matrix.html").display());
            } else {
                println!("matrix: {}", dir.join("matrix.html").display());
            }
        }
    }
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
                super::progress::done();
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
                // Not ok: a check failed or errored, or a step failed; with --strict-expect, a known
                // failure that passed is a stale expectation.
                let fixed = outcome
                    .report
                    .checks
                    .iter()
                    .chain(&outcome.report.profile)
                    .filter(|c| c.known.as_ref().is_some_and(|k| k.fixed))
                    .count();
                if fixed > 0 {
                    eprintln!(
                        "{name}: {fixed} known failure(s) of the setup's expect: passed: remove them{}",
                        if strict_expect { " (--strict-expect: this fails the run)" } else { "" }
                    );
                }
                if (!ok || (strict_expect && fixed > 0)) && worst == ExitCode::SUCCESS {
                    worst = ExitCode::from(1);
                }
            }
        }
    }
    super::progress::done();
    let summary = summary_line(runs, &statuses, harness_errors);
    if json {
        println!("{}", serde_json::to_string_pretty(&documents)?);
        eprintln!("{summary}");
    } else if runs > 1 {
        println!("\n{summary}");
    }
    if repeat > 1 {
        let judged = judge_rates(&reports, &reports_of_runs, json, profile.mode)?;
        if harness_errors == 0 {
            worst = match judged {
                (true, _) => ExitCode::from(1),
                (false, true) if !flaky_allowed => ExitCode::from(1),
                _ => ExitCode::SUCCESS,
            };
        }
    }
    Ok(worst)
}

/// The rates of `runs` (`--repeat`, `report history`): printed, written to
/// reports/rates-<time>.{md,json}; returns (a check failed every time, a check was flaky),
/// counting the profile's rows only when it gates.
pub fn judge_rates(
    reports: &std::path::Path,
    runs: &[report::RunReport],
    json: bool,
    profile: crate::checks::ProfileMode,
) -> anyhow::Result<(bool, bool)> {
    use report::rates::{self, Verdict};
    let rates = rates::rates(runs);
    let md = rates::markdown(&rates);
    std::fs::create_dir_all(reports)?;
    let stamp = time::OffsetDateTime::now_utc().unix_timestamp();
    let base = reports.join(format!("rates-{stamp}"));
    std::fs::write(base.with_extension("md"), &md)?;
    std::fs::write(
        base.with_extension("json"),
        serde_json::to_string_pretty(&rates)?,
    )?;
    let counts = |r: &&rates::Rate| {
        r.phase != crate::checks::PROFILE_PHASE || profile == crate::checks::ProfileMode::Gate
    };
    let stable_fail = rates
        .iter()
        .filter(counts)
        .any(|r| r.verdict == Verdict::StableFail);
    let flaky: Vec<&rates::Rate> = rates
        .iter()
        .filter(counts)
        .filter(|r| r.verdict == Verdict::Flaky)
        .collect();
    // Profile items that fail every time are in the table too: said apart, as reported only.
    let reported_only = rates
        .iter()
        .filter(|r| !counts(r) && r.verdict == Verdict::StableFail)
        .count();
    let out = format!(
        "\nrates over {} runs ({}): {} flaky, {}{}\n{md}",
        runs.len(),
        base.with_extension("md").display(),
        flaky.len(),
        if stable_fail {
            "some checks fail every time"
        } else {
            "no gating check fails every time"
        },
        if reported_only > 0 {
            format!("; {reported_only} profile items fail every time (reported only, not gating)")
        } else {
            String::new()
        }
    );
    if json {
        eprint!("{out}");
    } else {
        print!("{out}");
    }
    Ok((stable_fail, !flaky.is_empty()))
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

/// What the reports cost on disk, and how to free it.
fn size_line(run_dir: &std::path::Path) {
    use crate::report::prune::{disk_usage, human, run_dirs};
    let Some(reports) = run_dir.parent() else {
        return;
    };
    println!(
        "  disk: {} for this run; {} under {} in {} runs (`{} report prune --keep 20` frees the rest)",
        human(disk_usage(run_dir)),
        human(disk_usage(reports)),
        reports.display(),
        run_dirs(reports).len(),
        super::me()
    );
}

/// A run's checks as a table, its findings, profile and failed steps, and how to reach a kept
/// lab; whether the run was ok.
pub fn print_outcome(name: &str, outcome: &lab::Outcome) -> bool {
    super::progress::done();
    let report = &outcome.report;
    println!(
        "\n{name} ({}, {}): {}",
        report.release,
        report.systemd_version,
        outcome.run_dir.join("run.json").display()
    );
    // Columns as wide as their longest entry (host names can be long).
    let width = |f: &dyn Fn(&crate::checks::CheckResult) -> usize, min: usize| {
        report.checks.iter().map(f).max().unwrap_or(0).max(min)
    };
    let (id_w, host_w, phase_w) = (
        width(&|c| c.id.as_str().len(), 24),
        width(&|c| c.host.len(), 8),
        width(&|c| c.phase.len(), 5),
    );
    for check in &report.checks {
        // A result the setup's expect: is about says so, and why.
        let (status, known) = match &check.known {
            Some(k) if k.fixed => (
                format!("{} (FIXED)", check.status),
                format!(" [it was known: {}]", k.reason),
            ),
            Some(k) => (
                format!("{} (known)", check.status),
                format!(" [known: {}]", k.reason),
            ),
            None => (check.status.to_string(), String::new()),
        };
        println!(
            "  {:<15} {:<id_w$} {:<host_w$} {:<phase_w$} {}{known}",
            status,
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
    if !report.profile.is_empty() {
        println!(
            "  conformance profile: {} ({})",
            counts.join(", "),
            match report.profile_mode {
                crate::checks::ProfileMode::Gate => "gating the verdict",
                _ => "reported only; --profile=gate makes it count",
            }
        );
    }
    for step in report.steps.iter().filter(|s| s.error.is_some()) {
        println!(
            "  {} FAILED: {}",
            match step.title().strip_prefix("step ") {
                Some(rest) => format!("STEP {rest}"),
                None => "IDEMPOTENCE".to_string(),
            },
            step.error.as_deref().unwrap_or_default()
        );
    }
    for line in &outcome.kept {
        println!("{line}");
    }
    println!(
        "  report: {}",
        outcome.run_dir.join("report.html").display()
    );
    size_line(&outcome.run_dir);
    report.ok
}

/// Writes `reports/matrix-<time>/matrix.{json,md,html}` for `runs`; returns the directory.
pub fn write_matrix(
    reports: &std::path::Path,
    runs: &[report::RunReport],
) -> anyhow::Result<PathBuf> {
    let matrix = report::matrix::build(runs).map_err(|e| anyhow::anyhow!(e))?;
    let now = time::OffsetDateTime::now_utc();
    let dir = reports.join(format!(
        "matrix-{}{:02}{:02}-{:02}{:02}{:02}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    ));
    std::fs::create_dir_all(&dir)?;
    std::fs::write(
        dir.join("matrix.json"),
        serde_json::to_string_pretty(&matrix)? + "\n",
    )?;
    std::fs::write(dir.join("matrix.md"), matrix.markdown())?;
    std::fs::write(dir.join("matrix.html"), matrix.html())?;
    for (name, xml) in report::matrix::junit_by_column(runs) {
        std::fs::write(dir.join(name), xml)?;
    }
    Ok(dir)
}

/// `cargo xtask report merge DIR…`: the matrix of every run.json under the directories (the
/// shards' reports, from any machines).
/// Every run.json under `dirs`, once per run id (a `latest` link points at one of them).
pub fn runs_under(dirs: &[PathBuf]) -> anyhow::Result<Vec<report::RunReport>> {
    let mut runs = Vec::new();
    for dir in dirs {
        collect_runs(dir, 3, &mut runs)?;
    }
    if runs.is_empty() {
        anyhow::bail!(
            "no run.json under {}",
            dirs.iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    runs.sort_by(|a, b| a.run_id.cmp(&b.run_id));
    runs.dedup_by(|a, b| a.run_id == b.run_id);
    Ok(runs)
}

/// `report sarif DIR… --out FILE`: one SARIF log with a run per run.json (what code scanning
/// takes in one upload, none dropped).
pub fn sarif(dirs: &[PathBuf], out: &std::path::Path) -> anyhow::Result<ExitCode> {
    let runs = runs_under(dirs)?;
    std::fs::write(out, report::render::sarif::sarif_of_runs(&runs))
        .with_context(|| format!("writing {}", out.display()))?;
    println!("{} runs: {}", runs.len(), out.display());
    Ok(ExitCode::SUCCESS)
}

pub fn merge(dirs: &[PathBuf], out: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let runs = runs_under(dirs)?;
    let target = out.unwrap_or_else(|| dirs[0].clone());
    let dir = write_matrix(&target, &runs)?;
    println!(
        "merged {} runs: {}",
        runs.len(),
        dir.join("matrix.html").display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Every run.json at most `depth` directories below `dir`.
fn collect_runs(
    dir: &std::path::Path,
    depth: usize,
    runs: &mut Vec<report::RunReport>,
) -> anyhow::Result<()> {
    let file = dir.join("run.json");
    if file.is_file() {
        runs.push(report::read_run(&file)?);
        return Ok(());
    }
    if depth == 0 || !dir.is_dir() {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() && !path.is_symlink() {
            collect_runs(&path, depth - 1, runs)?;
        }
    }
    Ok(())
}

pub use super::values::{KeepWhen, OutputFormat};

/// Applies `--keep[=WHEN]` to run options.
pub fn apply_keep(options: &mut lab::LabOptions, keep: Option<KeepWhen>) {
    options.keep = keep == Some(KeepWhen::Always);
    options.keep_on_failure = keep == Some(KeepWhen::OnFailure);
}

/// Scenarios at once by default: one per CPU, at most one per 2 GiB of available memory.
pub fn default_jobs() -> usize {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let available_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemAvailable:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        })
        .map(|kib| (kib / (1024 * 1024)) as usize);
    let by_memory = available_gib.map_or(cpus, |gib| gib / 2);
    cpus.min(by_memory).max(1)
}

//! The `report` subcommands: what each takes, and what each does with the runs' records.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;

use super::values::{ListFormat, REPORTS};
use super::{housekeeping, runs};
use crate::report;

#[derive(Subcommand)]
pub(super) enum ReportCommand {
    /// The matrix (grid, differences; JSON, Markdown, HTML) of every run.json under DIRs,
    /// written to OUT/matrix-<time>/ (default: the first DIR). Runs of different journal-lab
    /// versions are refused.
    Merge {
        /// Directories holding run.json files (searched three levels deep).
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Where the matrix-<time>/ directory goes (default: the first DIR).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Remove old run reports: the run directories beyond the newest N (`--keep N`), or older
    /// than a time (`--older-than 7d`), never the one `latest` names; says what it freed.
    Prune {
        /// Keep the newest N runs.
        #[arg(long, value_name = "N", required_unless_present = "older_than")]
        keep: Option<usize>,
        /// Remove runs older than this: 90s, 30min, 12h, 7d.
        #[arg(long, value_name = "AGE", value_parser = crate::report::prune::parse_age)]
        older_than: Option<std::time::Duration>,
        /// Where run reports are (as the other `report` commands take it; `--reports` too).
        #[arg(value_name = "DIR", conflicts_with = "reports")]
        dir: Option<PathBuf>,
        /// Where run reports are.
        #[arg(long, default_value = REPORTS)]
        reports: PathBuf,
        /// Say what would be removed and what it would free, and remove nothing.
        #[arg(long)]
        dry_run: bool,
        /// `text`, or `json` (one document: `report schema --of prune`).
        #[arg(long, value_enum, default_value = "text")]
        format: ListFormat,
    },
    /// Print the JSON Schema of run.json (its `schema_version` names the version), or with
    /// `--of` of another document the command line prints with `--format json`.
    Schema {
        /// run (run.json, and each run of `run --format json`), labs (`ls`), images
        /// (`images list`), prune (`report prune`), scenario-check (`scenario check`), rejudge
        /// (`report rejudge`), or error
        /// (what any command prints instead with `--format json` when it cannot do its job).
        #[arg(long, default_value = "run", value_parser = ["run", "labs", "images", "prune", "scenario-check", "rejudge", "error"])]
        of: String,
    },
    /// Rates across earlier runs: every run.json under DIRs, folded per scenario, release,
    /// check, host and phase into how often each verdict was seen, and stable or flaky (a
    /// trend over days, like Allure's history).
    History {
        /// Directories holding run.json files (searched three levels deep).
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Where the rates-<time>.{md,json} go.
        #[arg(long, default_value = REPORTS)]
        reports: PathBuf,
    },
    /// Judge a stored run again with this build's checks, from what the run observed
    /// (observations.json.zst beside its run.json) and nothing else: no hosts, no engine. Writes
    /// its reports again, saying which verdicts changed; exits 1 when the run, judged again,
    /// does not hold.
    Rejudge {
        /// The run's directory (e.g. reports/latest).
        run_dir: PathBuf,
        /// `text` (what changed), or `json` (the `rejudged` record of run.json: `report schema
        /// --of rejudge`).
        #[arg(long, value_enum, default_value = "text")]
        format: ListFormat,
    },
    /// One SARIF log with a run per run.json under DIRs (for one code-scanning upload).
    Sarif {
        /// Directories holding run.json files (searched three levels deep).
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// The SARIF file to write.
        #[arg(long)]
        out: PathBuf,
    },
}

/// Does what `command` asks.
pub(super) async fn report(command: ReportCommand) -> anyhow::Result<ExitCode> {
    match command {
        ReportCommand::Merge { dirs, out } => runs::merge(&dirs, out),
        ReportCommand::Sarif { dirs, out } => runs::sarif(&dirs, &out),
        ReportCommand::History { dirs, reports } => {
            let runs = runs::runs_under(&dirs)?;
            runs::judge_rates(&reports, &runs, false, crate::checks::ProfileMode::Report)?;
            Ok(ExitCode::SUCCESS)
        }
        ReportCommand::Schema { of } => {
            let document: report::documents::Document = of.parse().map_err(anyhow::Error::msg)?;
            println!(
                "{}",
                serde_json::to_string_pretty(&report::documents::schema_of(document))?
            );
            Ok(ExitCode::SUCCESS)
        }
        ReportCommand::Prune {
            keep,
            older_than,
            dir,
            reports,
            dry_run,
            format,
        } => housekeeping::prune_reports(
            dir.unwrap_or(reports),
            keep,
            older_than,
            dry_run,
            format == ListFormat::Json,
        ),
        ReportCommand::Rejudge { run_dir, format } => {
            rejudge(&run_dir, format == ListFormat::Json).await
        }
    }
}

/// `report rejudge`: the run in `run_dir` judged again, its reports written again.
async fn rejudge(run_dir: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let run_json = run_dir.join("run.json");
    anyhow::ensure!(
        run_json.is_file(),
        "{} holds no run.json: name a run's directory (e.g. reports/latest)",
        run_dir.display()
    );
    let run = report::read_run(&run_json)?;
    let observations = report::observations::read(run_dir)?;
    anyhow::ensure!(
        observations.run_id == run.run_id,
        "{}: its observations are of run {}, its run.json of run {}: they were not written together",
        run_dir.display(),
        observations.run_id,
        run.run_id
    );
    let again = report::rejudge::rejudge(&run, &observations).await;
    // A new file renamed over the old: a run.json is never left half written.
    let staging = run_dir.join(".run.json.rejudged");
    std::fs::write(&staging, serde_json::to_string_pretty(&again)? + "\n")?;
    std::fs::rename(&staging, &run_json)?;
    let written = report::write_formats(run_dir, &again, &report::Format::ALL)?;
    let rejudged = again.rejudged.as_ref().expect("a rejudged report says so");
    if json {
        println!("{}", serde_json::to_string_pretty(rejudged)?);
    } else {
        println!(
            "judged {} again with journal-lab {} (the run's: {}): {} verdicts, {} changed",
            run_dir.display(),
            rejudged.harness_version,
            run.harness_version,
            rejudged.verdicts,
            rejudged.changed.len()
        );
        for change in &rejudged.changed {
            println!("  {}", change.line());
            println!("      was: {}", change.observed_was);
            println!("      now: {}", change.observed_now);
        }
        for kept in &rejudged.kept {
            println!("  {kept}: this build has no such check; the run's result stands");
        }
        println!(
            "the run {} ({} files written again)",
            if again.ok { "holds" } else { "does not hold" },
            written.len() + 1
        );
    }
    Ok(if again.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

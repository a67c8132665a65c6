//! `cargo xtask bench`: its options, handed to the library's bench.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::{images, report};

use super::{progress, recipes};

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// The release the labs boot (a built-in recipe).
    #[arg(long, default_value = images::DEFAULT_RELEASE)]
    pub release: String,
    /// Runs of the happy path.
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// Client counts of the scale runs (comma-separated; 0 to skip).
    #[arg(long, value_delimiter = ',', default_value = "10,25,100")]
    pub scale: Vec<usize>,
    /// Clients of the latency burst (0 to skip).
    #[arg(long, default_value_t = 3)]
    pub burst_clients: usize,
    /// Messages per client in the latency burst.
    #[arg(long, default_value_t = 200)]
    pub burst_messages: u32,
    /// Skip the seed scenarios.
    #[arg(long)]
    pub no_scenarios: bool,
    /// Also run the seed scenarios on each of these releases together (comma-separated,
    /// e.g. bullseye,bookworm,trixie,forky), timed as one batch.
    #[arg(long, value_delimiter = ',')]
    pub matrix: Vec<String>,
    /// Client counts to race against the hand-written peer, src/bench/peer.sh (0 to skip).
    #[arg(long, value_delimiter = ',', default_value = "3,25")]
    pub versus: Vec<usize>,
    /// Alternating runs of the lab and the peer per client count (medians are reported).
    #[arg(long, default_value_t = 3)]
    pub versus_runs: usize,
    /// Measure server capacity: clients logging flat out into one journal-remote, at each
    /// of these client counts (`--capacity` alone: 1,10,50).
    #[arg(long, value_delimiter = ',', num_args = 0.., default_missing_value = "1,10,50")]
    pub capacity: Option<Vec<usize>>,
    /// Remove the base image first and time the first run including its build.
    #[arg(long)]
    pub cold: bool,
    /// Only the leak sweep: N labs (the default lab and every built-in scenario with a fault,
    /// a restart or certificate rejection, in turn, two at a time), then what each left on the
    /// engine. Written to reports/bench/leaks-<time>.json.
    #[arg(long, value_name = "N")]
    pub leaks: Option<usize>,
    /// Only the cold build (a checkout's `cargo xtask bench --cold-build`): `cargo build -p
    /// xtask` into an empty target directory, timed as a whole process, with cargo's
    /// `--timings` report and `cargo tree -d`'s duplicate versions beside it. Written to
    /// reports/bench/cold-build-<time>.md.
    #[arg(long)]
    pub cold_build: bool,
    /// Exit 1 when a measurement is slower than in the last bench recorded on this machine
    /// (reports/bench/), by more than 5% and outside the runs' noise; erratic measurements
    /// (coefficient of variation over 0.1) are never compared.
    #[arg(long)]
    pub gate: bool,
}

pub async fn bench(args: BenchArgs) -> anyhow::Result<ExitCode> {
    if let Some(count) = args.leaks {
        return leaks(count, args.release).await;
    }
    if args.cold_build {
        return cold_build().await;
    }
    let gate = args.gate;
    let positive = |counts: Vec<usize>| counts.into_iter().filter(|&n| n > 0).collect();
    let options = crate::bench::BenchOptions {
        release: args.release,
        runs: args.runs,
        scale: positive(args.scale),
        burst_clients: args.burst_clients,
        burst_messages: args.burst_messages,
        scenarios: !args.no_scenarios,
        matrix: args.matrix,
        versus: positive(args.versus),
        versus_runs: args.versus_runs,
        capacity: positive(args.capacity.unwrap_or_default()),
        suite: super::workspace_root()
            .ok()
            .and_then(|root| super::suite::last_full_run(&root)),
        // The whole process of this CLI's own `lab`, as a user runs it.
        lab_command: vec![
            std::env::current_exe()?.display().to_string(),
            "lab".to_string(),
        ],
        cold: args.cold,
        recipes: recipes(),
        reports_dir: PathBuf::from(super::REPORTS),
    };
    let (bench, md) = crate::bench::measure(&options, &progress()).await?;
    print!("{}", report::bench::markdown(&bench));
    println!("written: {} (and .json)", md.display());
    let regressions = bench
        .gate
        .as_ref()
        .map(|g| g.regressions().len())
        .unwrap_or(0);
    if regressions > 0 {
        eprintln!(
            "{regressions} measurement(s) slower than the last bench on this machine, beyond 5% and the runs' noise (see the report's first section)"
        );
        if gate {
            return Ok(ExitCode::from(1));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `bench --leaks N`.
async fn leaks(count: usize, release: String) -> anyhow::Result<ExitCode> {
    let scratch = crate::temp_dir("journal-lab-leaks-")?;
    let mut options = crate::lab::LabOptions::new(recipes(), scratch.path());
    options.release = Some(release);
    options.journals = crate::lab::Journals::None;
    let started = std::time::Instant::now();
    let report = crate::bench::leaks::sweep_labs(count, &options, &progress()).await?;
    super::progress::done();
    let left: usize = report.networks_left.iter().map(|(_, n)| n.len()).sum();
    println!(
        "{} labs ({} harness errors) of {} in {:.0} s: {left} networks and {} containers left",
        report.labs,
        report.harness_errors,
        report.scenarios.join(", "),
        started.elapsed().as_secs_f64(),
        report
            .containers_left
            .iter()
            .map(|(_, c)| c.len())
            .sum::<usize>(),
    );
    for (run, networks) in &report.networks_left {
        println!("  {run}: {}", networks.join(", "));
    }
    for error in &report.errors {
        println!("  harness error: {error}");
    }
    let dir = PathBuf::from(super::REPORTS).join("bench");
    std::fs::create_dir_all(&dir)?;
    let stamp = time::OffsetDateTime::now_utc().unix_timestamp();
    let path = dir.join(format!("leaks-{stamp}.json"));
    std::fs::write(&path, serde_json::to_string_pretty(&report)?)?;
    println!("written: {}", path.display());
    Ok(if left == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `bench --cold-build`: what a new contributor's first `cargo xtask` costs, measured.
async fn cold_build() -> anyhow::Result<ExitCode> {
    use anyhow::Context;
    let workspace = super::workspace_root()?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let target = crate::temp_dir("journal-lab-cold-build-")?;
    eprintln!(
        "cold build: cargo build -p xtask --timings into the empty {} (about 2½ minutes on 2 CPUs)",
        target.path().display()
    );
    let started = std::time::Instant::now();
    let status = tokio::process::Command::new(&cargo)
        .args(["build", "-p", "xtask", "--timings"])
        .env("CARGO_TARGET_DIR", target.path())
        .current_dir(&workspace)
        .status()
        .await
        .context("running cargo build")?;
    let seconds = started.elapsed().as_secs_f64();
    anyhow::ensure!(status.success(), "the cold build failed: {status}");
    let duplicates = tokio::process::Command::new(&cargo)
        .args([
            "tree", "-d", "-e", "normal", "-p", "xtask", "--prefix", "none",
        ])
        .current_dir(&workspace)
        .output()
        .await
        .context("running cargo tree -d")?;
    let duplicates: std::collections::BTreeSet<String> =
        String::from_utf8_lossy(&duplicates.stdout)
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with(' '))
            .map(|l| l.trim_end_matches(" (*)").to_string())
            .collect();
    let units = std::fs::read_dir(target.path().join("cargo-timings"))
        .map(|d| d.count())
        .unwrap_or(0);
    let dir = PathBuf::from(super::REPORTS).join("bench");
    std::fs::create_dir_all(&dir)?;
    let stamp = time::OffsetDateTime::now_utc().unix_timestamp();
    let path = dir.join(format!("cold-build-{stamp}.md"));
    let text = format!(
        "# Cold build\n\n`cargo build -p xtask --timings` with an empty `CARGO_TARGET_DIR` (the registry's downloads \
         already on the machine), timed as a whole process: **{seconds:.0} s** on {} CPUs ({units} timings report(s) \
         written).\n\nCrates in more than one version (`cargo tree -d -e normal -p xtask`):\n\n{}\n",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        duplicates
            .iter()
            .map(|d| format!("- {d}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    std::fs::write(&path, &text)?;
    print!("{text}");
    println!("written: {}", path.display());
    Ok(ExitCode::SUCCESS)
}

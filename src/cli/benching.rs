//! `cargo xtask bench`: its options, handed to the library's bench.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::{images, report};

use super::{images_dir, progress};

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
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
}

pub async fn bench(args: BenchArgs) -> anyhow::Result<ExitCode> {
    if let Some(count) = args.leaks {
        return leaks(count, args.release).await;
    }
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
        // The whole process of this CLI's own `lab`, as a user runs it.
        lab_command: vec![
            std::env::current_exe()?.display().to_string(),
            "lab".to_string(),
        ],
        cold: args.cold,
        recipes: images_dir(),
        reports_dir: PathBuf::from(super::REPORTS),
    };
    let (bench, md) = crate::bench::run(&options, &progress()).await?;
    print!("{}", report::bench::markdown(&bench));
    println!("written: {} (and .json)", md.display());
    Ok(ExitCode::SUCCESS)
}

/// `bench --leaks N`.
async fn leaks(count: usize, release: String) -> anyhow::Result<ExitCode> {
    let scratch = crate::temp_dir("journal-lab-leaks-")?;
    let mut options = crate::lab::LabOptions::new(images_dir(), scratch.path());
    options.release = Some(release);
    options.copy_journals = false;
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

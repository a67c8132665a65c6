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
}

pub async fn bench(args: BenchArgs) -> anyhow::Result<ExitCode> {
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

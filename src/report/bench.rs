//! `cargo xtask bench` results: the JSON written to `reports/bench/<date>.json` and its Markdown.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::{quantile, BurstResult, Phase};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchReport {
    pub date: String,
    pub harness_version: String,
    pub machine: Machine,
    pub release: String,
    pub happy_path: HappyPath,
    pub scale: Vec<ScalePoint>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<BurstResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenarios: Option<ScenariosRun>,
    /// The seed set on several releases at once (`bench --matrix`).
    #[serde(default)]
    pub matrix: Option<ScenariosRun>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cold_start_seconds: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Machine {
    pub cpus: usize,
    pub memory_bytes: u64,
    pub engine: String,
}

/// 1 server + 3 clients, warm images, end to end (every marker delivered), N runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HappyPath {
    /// Wall time of each run, from the call to the lab being removed.
    pub runs: Vec<f64>,
    /// Seconds of each run from its start until every marker was seen on the server: the time a
    /// hand-written harness is measured by.
    #[serde(default)]
    pub to_delivered: Vec<f64>,
    pub all_delivered: bool,
    /// Median seconds of each phase across the runs, in run order ("teardown" last).
    pub phases: Vec<Phase>,
}

impl HappyPath {
    pub fn median(&self) -> f64 {
        quantile(&self.runs, 0.5)
    }

    pub fn median_to_delivered(&self) -> f64 {
        quantile(&self.to_delivered, 0.5)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScalePoint {
    pub clients: usize,
    pub seconds: f64,
    /// From the start of the run until every client's marker was on the server.
    #[serde(default)]
    pub to_delivered: Option<f64>,
    pub delivered: usize,
    /// Sum of the hosts' container memory after delivery.
    pub container_memory_bytes: u64,
    pub phases: Vec<Phase>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScenariosRun {
    pub release: String,
    pub scenarios: usize,
    pub jobs: usize,
    pub seconds: f64,
    pub harness_errors: usize,
    /// Each scenario's own wall time, and for workloads the seconds from the end of logging to
    /// delivery settled (the accounting's wait).
    #[serde(default)]
    pub each: Vec<ScenarioTime>,
}

/// One seed scenario's run in the bench.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScenarioTime {
    pub name: String,
    pub seconds: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settled_after_seconds: Option<f64>,
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn phase_line(phases: &[Phase]) -> String {
    phases
        .iter()
        .map(|p| format!("{} {:.2}s", p.name, p.seconds))
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn markdown(bench: &BenchReport) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# journal-lab bench, {}\n", bench.date);
    let _ = writeln!(
        md,
        "Machine: {} CPUs, {:.1} GiB; Docker engine {}; release {}; journal-lab {}. Measured with `cargo xtask bench`.\n",
        bench.machine.cpus,
        mib(bench.machine.memory_bytes) / 1024.0,
        bench.machine.engine,
        bench.release,
        bench.harness_version
    );
    let h = &bench.happy_path;
    let _ = writeln!(md, "## Happy path: 1 server + 3 clients, warm images\n");
    let _ = writeln!(
        md,
        "{} runs: median **{:.2}s**, min {:.2}s, max {:.2}s; every marker delivered: {}.\n",
        h.runs.len(),
        h.median(),
        quantile(&h.runs, 0.0),
        quantile(&h.runs, 1.0),
        if h.all_delivered { "yes" } else { "NO" }
    );
    if !h.to_delivered.is_empty() {
        let _ = writeln!(
            md,
            "Every marker on the server (from the start of the run): median **{:.2}s**, min {:.2}s, max {:.2}s. The rest of each run is the checks, the conformance profile, the reports and removing the lab.\n",
            h.median_to_delivered(),
            quantile(&h.to_delivered, 0.0),
            quantile(&h.to_delivered, 1.0),
        );
    }
    let _ = writeln!(md, "Median phases: {}.\n", phase_line(&h.phases));
    if !bench.scale.is_empty() {
        md.push_str("## Scale\n\n");
        md.push_str(&super::render::md_table(
            &[
                "clients",
                "wall",
                "all delivered at",
                "delivered",
                "container memory",
                "phases",
            ],
            bench.scale.iter().map(|p| {
                vec![
                    p.clients.to_string(),
                    format!("{:.1}s", p.seconds),
                    p.to_delivered
                        .map_or("never".to_string(), |s| format!("{s:.1}s")),
                    format!("{}/{}", p.delivered, p.clients),
                    format!("{:.0} MiB", mib(p.container_memory_bytes)),
                    phase_line(&p.phases),
                ]
            }),
        ));
        md.push('\n');
    }
    if let Some(l) = &bench.latency {
        let _ = writeln!(md, "## Delivery latency\n");
        let _ = writeln!(
            md,
            "{} clients × {} messages: {}/{} delivered; latency p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms; {:.0} messages/s ingested (first send to last seen, {:.2}s). Latency is from the client's own journal timestamp of each message (a `workload` step, through journald) to the harness first seeing it on the server, so it includes up to one poll interval ({} ms) and one `journalctl` read.\n",
            l.hosts, l.per_host, l.delivered, l.sent, l.latency_p50_ms, l.latency_p99_ms, l.latency_max_ms, l.messages_per_second, l.seconds, l.poll_interval_ms
        );
    }
    for (title, s) in [
        ("Seed scenarios", &bench.scenarios),
        ("Seed scenarios across releases", &bench.matrix),
    ] {
        let Some(s) = s else { continue };
        let _ = writeln!(
            md,
            "## {title}\n\nAll {} runs on {}, {} at a time: {:.1}s ({} harness errors).\n",
            s.scenarios, s.release, s.jobs, s.seconds, s.harness_errors
        );
        if !s.each.is_empty() {
            md.push_str(&super::render::md_table(
                &["scenario", "wall time", "delivery settled after logging"],
                s.each.iter().map(|e| {
                    vec![
                        e.name.clone(),
                        format!("{:.1}s", e.seconds),
                        e.settled_after_seconds
                            .map_or("—".to_string(), |t| format!("{t:.2}s")),
                    ]
                }),
            ));
        }
    }
    if let Some(cold) = bench.cold_start_seconds {
        let _ = writeln!(
            md,
            "## Cold start\n\nNo image to first run.json (image build included): {cold:.1}s.\n"
        );
    }
    md
}

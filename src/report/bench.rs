//! `cargo xtask bench` results: the JSON written to `reports/bench/<date>.json` and its Markdown.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::{quantile, BurstResult, Phase};

mod gate;
pub use gate::compare;

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
    /// journal-lab against the hand-written peer, per client count.
    #[serde(default)]
    pub versus: Vec<VersusPoint>,
    /// `bench --capacity`, per client count.
    #[serde(default)]
    pub capacity: Vec<CapacityPoint>,
    /// Against the last bench recorded on this machine (the regression gate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<super::regression::Gate>,
    /// The last full `cargo xtask test` of this checkout, as the suite timed itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suite: Option<SuiteRun>,
}

/// The test suite's own timing (`target/journal-lab-suite.json`), copied into the bench report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SuiteRun {
    /// When that run ended (RFC 3339).
    pub finished: String,
    /// Its tests, from the first start to the last end (the build before them not included).
    pub wall_seconds: f64,
    pub jobs: usize,
    pub passed: u64,
    pub failed: u64,
    /// Its three slowest tests, seconds each.
    pub slowest: Vec<(String, f64)>,
}

/// One client count of `bench --capacity`: N clients flat out into one server.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CapacityPoint {
    pub clients: usize,
    /// Sent, delivered, latency and ingest rate (the worst client's latency quantiles).
    pub burst: BurstResult,
    pub mib_per_second: f64,
    /// journal-remote's own CPU time over its life, and its peak resident memory.
    pub server_cpu_seconds: f64,
    pub server_peak_rss_bytes: u64,
    /// Loss, or p99 latency over the bound: where the server stopped keeping up.
    pub gone_bad: Option<String>,
}

/// One client count of `bench`'s comparison with the hand-written peer (whole processes).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VersusPoint {
    pub clients: usize,
    /// Seconds of each successful `cargo xtask lab` process.
    pub lab_seconds: Vec<f64>,
    /// Seconds of each successful peer process.
    pub peer_seconds: Vec<f64>,
    /// Runs of either side that failed, with their last words (not in the medians).
    pub failures: Vec<String>,
    /// The lab's median over the peer's that issue #14 asks for, where it names one.
    pub goal_ratio: Option<f64>,
    /// The engine's floor, once per run: bare hosts created, booted and removed.
    #[serde(default)]
    pub floor_seconds: Vec<f64>,
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
        "Machine: {} CPUs, {:.1} GiB; Docker engine {}; release {}; journal-lab {}. Measured with `journal-lab bench` (`cargo xtask bench`).\n",
        bench.machine.cpus,
        mib(bench.machine.memory_bytes) / 1024.0,
        bench.machine.engine,
        bench.release,
        bench.harness_version
    );
    if let Some(gate) = &bench.gate {
        md.push_str(&super::regression::markdown(gate));
    }
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
    if let Some(suite) = &bench.suite {
        let _ = writeln!(
            md,
            "## The test suite\n\nThe last full `cargo xtask test` of this checkout ({}): {} passed, {} failed, in **{:.0} s** of tests, {} at a time (its build before them not included).{}\n",
            suite.finished,
            suite.passed,
            suite.failed,
            suite.wall_seconds,
            suite.jobs,
            if suite.slowest.is_empty() {
                String::new()
            } else {
                format!(
                    " Slowest: {}.",
                    suite
                        .slowest
                        .iter()
                        .map(|(name, s)| format!("{name} {s:.0} s"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        );
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
    if !bench.versus.is_empty() {
        let _ = writeln!(
            md,
            "## Against a hand-written script\n\n`cargo xtask lab --clients N` against \
             `src/bench/peer.sh` (the Netdata guide's steps by hand with docker: openssl \
             certificates, containers booted one by one, `docker cp`, the two config files, the \
             units restarted, a marker grepped for), whole process each, alternating in one \
             sitting; medians. The lab checks and reports far more than the peer.\n"
        );
        md.push_str(&super::render::md_table(
            &[
                "clients",
                "journal-lab",
                "peer",
                "ratio",
                "goal",
                "engine floor",
                "lab / floor",
                "runs (lab/peer)",
                "failed runs",
            ],
            bench.versus.iter().map(|v| {
                let ratio = v.ratio();
                let median = |runs: &[f64], m: f64| {
                    if runs.is_empty() {
                        "—".to_string()
                    } else {
                        format!("{m:.2}s")
                    }
                };
                vec![
                    format!("1+{}", v.clients),
                    median(&v.lab_seconds, v.lab_median()),
                    median(&v.peer_seconds, v.peer_median()),
                    ratio.map_or("—".into(), |r| format!("{r:.2}")),
                    match (v.goal_ratio, v.goal_met()) {
                        (Some(goal), Some(true)) => format!("≤ {goal}: met"),
                        (Some(goal), Some(false)) => format!("≤ {goal}: **MISSED**"),
                        (Some(goal), None) => format!("≤ {goal}: not measured (runs failed)"),
                        (None, _) => "—".into(),
                    },
                    median(&v.floor_seconds, quantile(&v.floor_seconds, 0.5)),
                    v.over_floor().map_or("—".into(), |r| format!("{r:.2}")),
                    format!("{}/{}", v.lab_seconds.len(), v.peer_seconds.len()),
                    v.failures.len().to_string(),
                ]
            }),
        ));
        for failure in bench.versus.iter().flat_map(|v| &v.failures) {
            let _ = writeln!(md, "- failed: {failure}");
        }
        md.push('\n');
    }
    if !bench.capacity.is_empty() {
        let _ = writeln!(
            md,
            "## Server capacity\n\nN clients log flat out (400-byte messages, bounded in count) \
             into one journal-remote, all on this machine: the clients compete with the server \
             for its CPUs, so this is a lower bound for a server of the same size. Latency is \
             the worst client's; CPU and peak memory are journal-remote's own process.\n"
        );
        md.push_str(&super::render::md_table(
            &[
                "clients",
                "delivered",
                "messages/s",
                "MiB/s",
                "p50",
                "p99",
                "journal-remote CPU",
                "peak RSS",
                "gone bad",
            ],
            bench.capacity.iter().map(|c| {
                vec![
                    c.clients.to_string(),
                    format!("{}/{}", c.burst.delivered, c.burst.sent),
                    format!("{:.0}", c.burst.messages_per_second),
                    format!("{:.2}", c.mib_per_second),
                    format!("{:.0} ms", c.burst.latency_p50_ms),
                    format!("{:.0} ms", c.burst.latency_p99_ms),
                    format!("{:.1} s", c.server_cpu_seconds),
                    format!("{:.0} MiB", mib(c.server_peak_rss_bytes)),
                    c.gone_bad.clone().unwrap_or_else(|| "no".into()),
                ]
            }),
        ));
        match bench.capacity.iter().find(|c| c.gone_bad.is_some()) {
            Some(c) => {
                let _ = writeln!(
                    md,
                    "\nFirst point gone bad: {} clients ({}).\n",
                    c.clients,
                    c.gone_bad.as_deref().unwrap_or_default()
                );
            }
            None => {
                let _ = writeln!(
                    md,
                    "\nNo point went bad (no loss, p99 under the bound) up to {} clients.\n",
                    bench.capacity.last().map_or(0, |c| c.clients)
                );
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> BenchReport {
        BenchReport {
            date: "d".into(),
            harness_version: "0".into(),
            machine: Machine {
                cpus: 2,
                memory_bytes: 1 << 30,
                engine: "20.10".into(),
            },
            release: "bookworm".into(),
            happy_path: HappyPath {
                runs: vec![1.0],
                to_delivered: vec![],
                all_delivered: true,
                phases: vec![],
            },
            scale: vec![],
            latency: None,
            scenarios: None,
            matrix: None,
            cold_start_seconds: None,
            suite: None,
            capacity: vec![],
            versus: vec![
                VersusPoint {
                    clients: 3,
                    lab_seconds: vec![1.0, 1.2, 1.1],
                    peer_seconds: vec![4.0, 4.0, 4.0],
                    failures: vec![],
                    goal_ratio: Some(0.5),
                    floor_seconds: vec![1.0, 2.0, 0.5],
                },
                VersusPoint {
                    clients: 25,
                    lab_seconds: vec![10.0],
                    peer_seconds: vec![20.0],
                    failures: vec!["peer run 2: exit status: 1 (only 3 of 25)".into()],
                    goal_ratio: Some(0.3),
                    floor_seconds: vec![],
                },
            ],
            gate: None,
        }
    }

    /// The gate compares each measurement with runs on both sides, flags the one slower
    /// beyond 5% and the noise, calls the scattered floor erratic, and compares nothing
    /// across machines; the report says so first.
    #[test]
    fn the_gate_flags_a_regression_against_the_last_bench_on_the_same_machine() {
        use crate::report::regression::Judgement;
        let before = fixture();
        let mut now = fixture();
        now.date = "later".into();
        now.versus[0].lab_seconds = vec![1.5, 1.55, 1.45];
        let gate = compare(&before, &now);
        let judged = |name: &str| {
            gate.comparisons
                .iter()
                .find(|c| c.measurement == name)
                .map(|c| c.judgement.clone())
        };
        assert_eq!(judged("lab 1+3: whole process"), Some(Judgement::Slower));
        assert!(matches!(
            judged("engine floor 1+3"),
            Some(Judgement::Erratic(_))
        ));
        assert_eq!(judged("happy path 1+3: whole run"), Some(Judgement::TooFew));
        assert_eq!(gate.regressions().len(), 1);
        now.gate = Some(gate);
        let md = markdown(&now);
        assert!(
            md.contains("## Against the last bench on this machine (d)")
                && md.contains(
                    "| lab 1+3: whole process | 1.10s (3) | 1.50s (3) | +36.4% | **SLOWER** |"
                ),
            "{md}"
        );
        let mut elsewhere = fixture();
        elsewhere.machine.cpus = 8;
        let gate = compare(&elsewhere, &fixture());
        assert!(gate.comparisons.is_empty());
        assert!(gate
            .not_compared
            .is_some_and(|why| why.contains("another machine")));
    }

    #[test]
    fn the_suites_own_timing_is_reported_where_there_is_one() {
        let mut bench = fixture();
        assert!(!markdown(&bench).contains("## The test suite"));
        bench.suite = Some(SuiteRun {
            finished: "2026-11-30T03:01:01Z".into(),
            wall_seconds: 320.3,
            jobs: 4,
            passed: 323,
            failed: 0,
            slowest: vec![("xtask/cli run_all".into(), 148.2)],
        });
        let md = markdown(&bench);
        assert!(
            md.contains("323 passed, 0 failed, in **320 s** of tests, 4 at a time")
                && md.contains("Slowest: xtask/cli run_all 148 s."),
            "{md}"
        );
    }

    #[test]
    fn a_missed_goal_is_said_plainly() {
        let bench = fixture();
        let md = markdown(&bench);
        assert!(
            md.contains("| 1+3 | 1.10s | 4.00s | 0.28 | ≤ 0.5: met | 1.00s | 1.10 | 3/3 | 0 |"),
            "{md}"
        );
        assert!(
            md.contains("| 1+25 | 10.00s | 20.00s | 0.50 | ≤ 0.3: **MISSED** | — | — | 1/1 | 1 |"),
            "{md}"
        );
        assert!(
            md.contains("- failed: peer run 2: exit status: 1 (only 3 of 25)"),
            "{md}"
        );
    }
}

//! `cargo xtask bench` results: the JSON written to `reports/bench/<date>.json` and its Markdown.

use serde::{Deserialize, Serialize};

use super::{quantile, BurstResult, Phase};

mod gate;
mod markdown;
pub use gate::compare;
pub use markdown::markdown;

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
    /// The delivery floor (`src/bench/delivery_floor.sh`), once per run, in turn with the lab
    /// and the peer: hosts booted at once with their files, the units started, one marker each
    /// waited for on the server, removed.
    #[serde(default)]
    pub delivery_floor_seconds: Vec<f64>,
    /// Where the delivery floor's time goes (medians over its runs).
    #[serde(default)]
    pub delivery_floor_phases: Vec<Phase>,
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
    /// The delivery floor of the same size, in the same sitting (see [`VersusPoint`]).
    #[serde(default)]
    pub delivery_floor_seconds: Vec<f64>,
    /// Where the delivery floor's time went.
    #[serde(default)]
    pub delivery_floor_phases: Vec<Phase>,
}

impl ScalePoint {
    /// The run's wall time over its delivery floor's median (None without a floor).
    pub fn over_delivery_floor(&self) -> Option<f64> {
        let floor = quantile(&self.delivery_floor_seconds, 0.5);
        (floor > 0.0).then(|| self.seconds / floor)
    }
}

/// How far above its delivery floor the lab may be (issue 42): 1.25x at 1+3 and 1+25, 1.3x at
/// 1+100.
pub fn delivery_goal(clients: usize) -> Option<f64> {
    match clients {
        3 | 25 => Some(1.25),
        100 => Some(1.3),
        _ => None,
    }
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
                    delivery_floor_seconds: vec![1.0, 1.0, 1.0],
                    delivery_floor_phases: vec![],
                },
                VersusPoint {
                    clients: 25,
                    lab_seconds: vec![10.0],
                    peer_seconds: vec![20.0],
                    failures: vec!["peer run 2: exit status: 1 (only 3 of 25)".into()],
                    goal_ratio: Some(0.3),
                    floor_seconds: vec![],
                    delivery_floor_seconds: vec![],
                    delivery_floor_phases: vec![],
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
        // Its delivery floor held still: the ratio to it, run by run, moved with the lab.
        assert_eq!(
            judged("lab 1+3 over its delivery floor"),
            Some(Judgement::Slower)
        );
        assert_eq!(gate.regressions().len(), 2);
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
            md.contains("| 1+3 | 1.10s | 4.00s | 0.28 | ≤ 0.5: met | 1.00s | 1.10 | 1.00s | 1.10 (≤ 1.25: met) | 3/3 | 0 |"),
            "{md}"
        );
        assert!(
            md.contains(
                "| 1+25 | 10.00s | 20.00s | 0.50 | ≤ 0.3: **MISSED** | — | — | — | — | 1/1 | 1 |"
            ),
            "{md}"
        );
        assert!(
            md.contains("- failed: peer run 2: exit status: 1 (only 3 of 25)"),
            "{md}"
        );
    }
}

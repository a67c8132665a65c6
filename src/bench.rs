//! `cargo xtask bench`: measures the lab on this machine (warm happy path, scale, delivery
//! latency, the seed scenarios, optionally a cold start) and writes `reports/bench/<date>.*`.
//! Timings live here and in its reports, never in tests.

use std::path::PathBuf;
use std::time::Instant;

use crate::engine::Engine;
use crate::errors::{Error, Result};
use crate::images::{self, ImageSpec};
use crate::lab::{self, LabOptions};
use crate::report::bench::{
    BenchReport, HappyPath, Machine, ScalePoint, ScenarioTime, ScenariosRun,
};
use crate::report::{self, Phase};
use crate::scenario::{self, HostGroup, Hosts, Step};
use crate::{Progress, Say};

pub mod capacity;
pub mod leaks;
pub mod versus;

#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub release: String,
    /// Runs of the warm happy path.
    pub runs: usize,
    /// Client counts of the scale runs.
    pub scale: Vec<usize>,
    /// Clients and messages per client of the latency burst (0 clients: skip).
    pub burst_clients: usize,
    pub burst_messages: u32,
    /// Run every seed scenario once on `release`.
    pub scenarios: bool,
    /// Run every seed scenario once on each of these releases, together (empty: skip).
    pub matrix: Vec<String>,
    /// Client counts to race against the hand-written peer (empty: skip).
    pub versus: Vec<usize>,
    /// Alternating runs of each side per client count.
    pub versus_runs: usize,
    /// The command line of this CLI's `lab` command (program first), for whole-process timing.
    pub lab_command: Vec<String>,
    /// Client counts of the server capacity measurement (empty: skip).
    pub capacity: Vec<usize>,
    /// The suite's own timing, where the bench runs in a checkout that ran it.
    pub suite: Option<report::bench::SuiteRun>,
    /// Remove the release's base image first and time the first run with its build.
    pub cold: bool,
    pub recipes: crate::images::Recipes,
    pub reports_dir: PathBuf,
}

/// Seconds of a run's workload step: from the first message logged to delivery settled.
pub(crate) fn workload_seconds(report: &crate::report::RunReport) -> f64 {
    report
        .steps
        .iter()
        .find(|s| s.step == "workload")
        .map_or(0.0, |s| s.seconds)
}

/// The latency figure of a workload's delivery: every client's messages together.
/// `seconds`: the workload step's, from the first message logged to delivery settled.
pub(crate) fn burst_result(
    delivery: &crate::report::delivery::Delivery,
    seconds: f64,
    per_host: u32,
) -> crate::report::BurstResult {
    let streams = &delivery.streams;
    let sent: u64 = streams.iter().map(|s| s.accounting.sent).sum();
    let delivered: u64 = streams.iter().map(|s| s.accounting.arrived).sum();
    // The worst stream's quantiles: the figure must not look better than any client had it.
    let worst = |f: fn(&crate::report::delivery::Latency) -> f64| {
        streams
            .iter()
            .filter_map(|s| s.latency_ms.as_ref().map(f))
            .fold(0.0, f64::max)
    };
    crate::report::BurstResult {
        hosts: streams.len(),
        per_host,
        sent: sent as usize,
        delivered: delivered as usize,
        latency_p50_ms: worst(|l| l.p50),
        latency_p99_ms: worst(|l| l.p99),
        latency_max_ms: worst(|l| l.max),
        seconds,
        messages_per_second: if seconds > 0.0 {
            delivered as f64 / seconds
        } else {
            0.0
        },
        poll_interval_ms: 50,
    }
}

pub async fn measure(
    options: &BenchOptions,
    progress: &Progress,
) -> Result<(BenchReport, PathBuf)> {
    let engine = Engine::connect().await?;
    // The largest lab any part will boot must fit the machine's limits: say so now, with the
    // fix, rather than after minutes of smaller runs (the peer would only hang).
    let largest = [&options.scale, &options.versus, &options.capacity]
        .into_iter()
        .flatten()
        .chain([&options.burst_clients])
        .max()
        .copied()
        .unwrap_or(3)
        .max(3);
    lab::check_host_limits(largest + 1)?;
    let base = ImageSpec::load(&options.recipes, &options.release)?;
    // Each measured lab writes its own reports; they go to a scratch directory.
    let scratch = crate::temp_dir("journal-lab-bench-")?;
    let lab_options = |clients: usize, measure_memory: bool| {
        let mut o = LabOptions::new(options.recipes.clone(), scratch.path());
        o.release = Some(options.release.clone());
        o.clients = clients;
        // The engine answers a memory sample only at its next 1 s stats tick, so only the scale
        // runs (where a second is noise) take one.
        o.measure_memory = measure_memory;
        o
    };

    let cold_start_seconds = if options.cold {
        progress.news("cold start: removing the base image, then one run with the build");
        let _ = engine
            .docker()
            .remove_image(
                &base.reference(),
                None::<bollard::query_parameters::RemoveImageOptions>,
                None,
            )
            .await;
        let clock = Instant::now();
        lab::run_default_lab(&lab_options(3, false), progress).await?;
        Some(clock.elapsed().as_secs_f64())
    } else {
        images::ensure(&engine, &base, progress).await?;
        None
    };

    progress.news(format!(
        "happy path: {} runs of 1 server + 3 clients",
        options.runs
    ));
    let mut runs = Vec::new();
    let mut to_delivered = Vec::new();
    let mut phase_samples: Vec<Vec<Phase>> = Vec::new();
    let mut all_delivered = true;
    for i in 0..options.runs.max(1) {
        let (seconds, outcome) = timed_run(&lab_options(3, false), progress).await?;
        all_delivered &= outcome.report.delivered == 3;
        let delivered_at = outcome.report.seconds_to_all_delivered;
        progress.news(format!(
            "  run {}: {seconds:.2}s (every marker on the server at {})",
            i + 1,
            delivered_at.map_or("never".to_string(), |s| format!("{s:.2}s"))
        ));
        runs.push(seconds);
        to_delivered.extend(delivered_at);
        phase_samples.push(with_teardown(&outcome.report, seconds));
    }
    let happy_path = HappyPath {
        runs,
        to_delivered,
        all_delivered,
        phases: median_phases(&phase_samples),
    };

    let mut scale = Vec::new();
    versus::write_scripts(scratch.path())?;
    for &clients in &options.scale {
        progress.news(format!("scale: 1 server + {clients} clients"));
        let (seconds, outcome) = timed_run(&lab_options(clients, true), progress).await?;
        // The delivery floor of the same size, right after (the same sitting).
        let mut delivery_floor_seconds = Vec::new();
        let mut delivery_floor_phases = Vec::new();
        match versus::delivery_floor(scratch.path(), &base, clients).await? {
            (floor, None, phases) => {
                progress.news(format!("scale 1+{clients}: delivery floor {floor:.2}s"));
                delivery_floor_seconds.push(floor);
                delivery_floor_phases = phases;
            }
            (_, Some(failure), _) => progress.warning(format!(
                "scale 1+{clients}: the delivery floor failed: {failure}"
            )),
        }
        scale.push(ScalePoint {
            delivery_floor_seconds,
            delivery_floor_phases,
            clients,
            seconds,
            to_delivered: outcome.report.seconds_to_all_delivered,
            delivered: outcome.report.delivered,
            container_memory_bytes: outcome.report.container_memory_bytes.unwrap_or(0),
            phases: with_teardown(&outcome.report, seconds),
        });
    }

    let latency = if options.burst_clients > 0 {
        progress.news(format!(
            "latency: {} clients × {} messages",
            options.burst_clients, options.burst_messages
        ));
        let mut burst = lab::default_scenario(options.burst_clients);
        burst.steps.push(Step::Workload {
            hosts: Hosts::Group(HostGroup::Clients),
            count: u64::from(options.burst_messages),
            size: 400,
            content: crate::scenario::Content::Random,
            rate: 0,
            background: false,
            deadline: 60,
            as_service: false,
            protocol: Default::default(),
            namespace: None,
        });
        let outcome = lab::run_scenario(
            "bench-burst",
            &burst,
            &lab_options(options.burst_clients, false),
            progress,
        )
        .await?;
        let seconds = workload_seconds(&outcome.report);
        outcome
            .report
            .delivery
            .as_ref()
            .map(|d| burst_result(d, seconds, options.burst_messages))
    } else {
        None
    };

    let loaded = if options.scenarios || !options.matrix.is_empty() {
        scenario::builtin::all().map_err(|e| Error::InvalidSettings(e.to_string()))?
    } else {
        Vec::new()
    };
    let versus = if options.versus.is_empty() {
        Vec::new()
    } else {
        versus::measure(
            &engine,
            &base,
            &options.lab_command,
            &options.versus,
            options.versus_runs,
            scratch.path(),
            progress,
        )
        .await?
    };
    let capacity = if options.capacity.is_empty() {
        Vec::new()
    } else {
        capacity::measure(
            &engine,
            &options.capacity,
            |n| lab_options(n, false),
            progress,
        )
        .await?
    };
    let scenarios = if options.scenarios {
        let releases = [options.release.clone()];
        Some(
            seed_set(
                &engine,
                &loaded,
                &releases,
                &lab_options(3, false),
                options,
                progress,
            )
            .await?,
        )
    } else {
        None
    };
    let matrix = if options.matrix.is_empty() {
        None
    } else {
        Some(
            seed_set(
                &engine,
                &loaded,
                &options.matrix,
                &lab_options(3, false),
                options,
                progress,
            )
            .await?,
        )
    };

    let version = engine
        .docker()
        .version()
        .await
        .map_err(Error::docker("reading the engine version"))?;
    let now = time::OffsetDateTime::now_utc();
    let date = now
        .format(time::macros::format_description!(
            "[year]-[month]-[day]T[hour][minute][second]Z"
        ))
        .expect("formats");
    let bench = BenchReport {
        date: date.clone(),
        harness_version: crate::HARNESS_VERSION.to_string(),
        machine: Machine {
            cpus: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            memory_bytes: total_memory(),
            engine: version.version.unwrap_or_default(),
        },
        release: options.release.clone(),
        happy_path,
        scale,
        latency,
        scenarios,
        matrix,
        cold_start_seconds,
        versus,
        capacity,
        gate: None,
        suite: options.suite.clone(),
    };
    let dir = options.reports_dir.join("bench");
    std::fs::create_dir_all(&dir).map_err(Error::io("creating", &dir))?;
    let mut bench = bench;
    bench.gate = last_bench(&dir).map(|before| report::bench::compare(&before, &bench));
    let json = dir.join(format!("{date}.json"));
    std::fs::write(&json, serde_json::to_string_pretty(&bench)? + "\n")
        .map_err(Error::io("writing", &json))?;
    let md = dir.join(format!("{date}.md"));
    std::fs::write(&md, report::bench::markdown(&bench)).map_err(Error::io("writing", &md))?;
    Ok((bench, md))
}

use crate::scenario::Scenario;

/// The last bench recorded in `dir` (`<date>.json`, the newest by name) that reads as one.
fn last_bench(dir: &std::path::Path) -> Option<report::bench::BenchReport> {
    let mut names: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|x| x == "json")
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(|c: char| c.is_ascii_digit()))
        })
        .collect();
    names.sort();
    names
        .iter()
        .rev()
        .find_map(|p| serde_json::from_str(&std::fs::read_to_string(p).ok()?).ok())
}

/// Every seed scenario once on each of `releases`, two at a time, timed as a whole and one by
/// one. The images are built first: the measurement is of running, not of building.
async fn seed_set(
    engine: &Engine,
    loaded: &[(String, Scenario)],
    releases: &[String],
    lab_options: &LabOptions,
    options: &BenchOptions,
    progress: &Progress,
) -> Result<ScenariosRun> {
    for release in releases {
        for (_, s) in loaded {
            for spec in lab::image_specs(s, Some(release), &options.recipes)? {
                images::ensure(engine, &spec, progress).await?;
            }
        }
    }
    let release_list = releases.join(",");
    progress.news(format!(
        "seed scenarios: {} on {release_list}",
        loaded.len()
    ));
    let jobs = 2;
    let clock = Instant::now();
    let on: Vec<Option<String>> = releases.iter().cloned().map(Some).collect();
    let outcomes = lab::run_many(loaded, &on, jobs, lab_options, progress).await?;
    let each = outcomes
        .iter()
        .filter_map(|(name, outcome)| {
            let report = &outcome.as_ref().ok()?.report;
            Some(ScenarioTime {
                name: if releases.len() > 1 {
                    format!("{name} ({})", report.release)
                } else {
                    name.clone()
                },
                seconds: report.total_seconds,
                settled_after_seconds: report
                    .delivery
                    .as_ref()
                    .and_then(|d| d.settled_after_seconds),
            })
        })
        .collect();
    Ok(ScenariosRun {
        release: release_list,
        scenarios: loaded.len() * releases.len(),
        jobs,
        seconds: clock.elapsed().as_secs_f64(),
        harness_errors: outcomes.iter().filter(|(_, o)| o.is_err()).count(),
        each,
    })
}

async fn timed_run(options: &LabOptions, progress: &Progress) -> Result<(f64, lab::Outcome)> {
    let clock = Instant::now();
    let outcome = lab::run_default_lab(options, progress).await?;
    Ok((clock.elapsed().as_secs_f64(), outcome))
}

/// The run's phases plus teardown (what the run's own clock did not see).
fn with_teardown(report: &report::RunReport, wall: f64) -> Vec<Phase> {
    let mut phases = report.phases.clone();
    phases.push(Phase {
        name: "report, teardown".into(),
        seconds: (wall - report.total_seconds).max(0.0),
    });
    phases
}

/// Per phase name (in first-seen order), the median across samples.
pub(crate) fn median_phases(samples: &[Vec<Phase>]) -> Vec<Phase> {
    let mut names: Vec<String> = Vec::new();
    for phase in samples.iter().flatten() {
        if !names.contains(&phase.name) {
            names.push(phase.name.clone());
        }
    }
    names
        .into_iter()
        .map(|name| {
            let values: Vec<f64> = samples
                .iter()
                .flatten()
                .filter(|p| p.name == name)
                .map(|p| p.seconds)
                .collect();
            Phase {
                seconds: report::quantile(&values, 0.5),
                name,
            }
        })
        .collect()
}

fn total_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kib| kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phase_medians_keep_order_and_take_the_middle() {
        let run = |boot: f64, deliver: f64| {
            vec![
                Phase {
                    name: "boot".into(),
                    seconds: boot,
                },
                Phase {
                    name: "deliver".into(),
                    seconds: deliver,
                },
            ]
        };
        let medians = median_phases(&[run(1.0, 0.5), run(3.0, 0.1), run(2.0, 0.3)]);
        let flat: Vec<(String, f64)> = medians.into_iter().map(|p| (p.name, p.seconds)).collect();
        assert_eq!(
            flat,
            [("boot".to_string(), 2.0), ("deliver".to_string(), 0.3)]
        );
    }
}

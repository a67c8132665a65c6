//! `bench --leaks N`: N labs one after another (two at a time), cycling through the default lab
//! and every built-in scenario with a fault or a restart, then what each left on the engine,
//! read back by its run label. The measure behind "teardown leaves no network" (a stale
//! endpoint of Docker 20.10 is reported by the sweep, and counted here as left).

use crate::engine::Engine;
use crate::errors::Result;
use crate::lab::{self, LabOptions};
use crate::scenario::{builtin, Scenario, Step};
use crate::{Progress, Say};

/// What the sweep found.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct LeakReport {
    pub labs: usize,
    /// Labs whose run failed as a harness error (they count all the same: their teardown ran).
    pub harness_errors: usize,
    /// What each harness error said.
    #[serde(default)]
    pub errors: Vec<String>,
    /// The scenarios cycled through.
    pub scenarios: Vec<String>,
    /// (run id, container ids) left on the engine.
    pub containers_left: Vec<(String, Vec<String>)>,
    /// (run id, network names) left on the engine.
    pub networks_left: Vec<(String, Vec<String>)>,
}

/// The default lab and every built-in scenario that faults, restarts or partitions.
pub fn leak_scenarios() -> Result<Vec<(String, Scenario)>> {
    let mut list = vec![("lab".to_string(), lab::default_scenario(3))];
    for (name, scenario) in
        builtin::all().map_err(|e| crate::Error::InvalidSettings(e.to_string()))?
    {
        let faults = scenario
            .steps
            .iter()
            .any(|s| matches!(s, Step::Fault { .. } | Step::Restart { .. }));
        if faults || name == "cert-rejection" {
            list.push((name, scenario));
        }
    }
    Ok(list)
}

pub async fn sweep_labs(
    count: usize,
    options: &LabOptions,
    progress: &Progress,
) -> Result<LeakReport> {
    let engine = Engine::connect().await?;
    let scenarios = leak_scenarios()?;
    let pairs: Vec<(String, Scenario, Option<String>)> = scenarios
        .iter()
        .cycle()
        .take(count)
        .map(|(name, s)| (name.clone(), s.clone(), options.release.clone()))
        .collect();
    let mut report = LeakReport {
        scenarios: scenarios.iter().map(|(n, _)| n.clone()).collect(),
        ..Default::default()
    };
    for (n, chunk) in pairs.chunks(10).enumerate() {
        let outcomes = lab::run_pairs(chunk, 2, options, progress).await?;
        for (_, outcome) in &outcomes {
            report.labs += 1;
            let outcome = match outcome {
                Ok(outcome) => outcome,
                Err(e) => {
                    report.harness_errors += 1;
                    report.errors.push(e.to_string());
                    continue;
                }
            };
            let run_id = &outcome.report.run_id;
            let (containers, networks) = engine.leftovers(run_id).await?;
            if !containers.is_empty() {
                report.containers_left.push((run_id.clone(), containers));
            }
            if !networks.is_empty() {
                report.networks_left.push((run_id.clone(), networks));
            }
        }
        progress.news(format!(
            "leak sweep: {} of {count} labs, {} networks left so far",
            ((n + 1) * 10).min(count),
            report
                .networks_left
                .iter()
                .map(|(_, n)| n.len())
                .sum::<usize>()
        ));
    }
    Ok(report)
}

//! Many runs at once: scenarios × releases (or a `--shard` of them), a bounded number at a time,
//! the images they need built first.

use super::plan::image_specs;
use super::runner::{run_scenario, LabOptions, Outcome};
use crate::engine::Engine;
use crate::errors::Result;
use crate::images;
use crate::scenario::Scenario;
use crate::Progress;

/// Runs each scenario on each release (None: the scenario's own), `jobs` at a time, after
/// building every image they need one by one (so concurrent runs never race to build the same).
/// Returns (scenario name, outcome) in input order; one scenario's harness error does not stop
/// the others.
pub async fn run_many(
    scenarios: &[(String, Scenario)],
    releases: &[Option<String>],
    jobs: usize,
    options: &LabOptions,
    progress: &Progress,
) -> Result<Vec<(String, Result<Outcome>)>> {
    run_pairs(&pairs(scenarios, releases), jobs, options, progress).await
}

/// Each scenario on each release, scenario by scenario, in the order given: the list a matrix
/// run works through, and that `--shard` slices (the same on every machine).
pub fn pairs(
    scenarios: &[(String, Scenario)],
    releases: &[Option<String>],
) -> Vec<(String, Scenario, Option<String>)> {
    scenarios
        .iter()
        .flat_map(|(name, s)| {
            releases
                .iter()
                .map(move |r| (name.clone(), s.clone(), r.clone()))
        })
        .collect()
}

/// Runs each (name, scenario, release) of `pairs` (a `--shard` of a matrix, say), `jobs` at a
/// time, building the images they need first.
/// The name of one run's lab when the runs share `base` (`test --name`): `base` for a single
/// run; otherwise `base-<scenario>[-<release>][-<n>]`, so each stays apart.
pub fn lab_name_of(
    base: &str,
    runs: usize,
    scenario: &str,
    release: Option<&str>,
    repeat: Option<usize>,
) -> String {
    if runs <= 1 {
        return base.to_string();
    }
    let mut name = format!("{base}-{scenario}");
    if let Some(release) = release {
        name.push_str(&format!("-{release}"));
    }
    if let Some(n) = repeat {
        name.push_str(&format!("-{n}"));
    }
    name
}

pub async fn run_pairs(
    pairs: &[(String, Scenario, Option<String>)],
    jobs: usize,
    options: &LabOptions,
    progress: &Progress,
) -> Result<Vec<(String, Result<Outcome>)>> {
    use futures::StreamExt;
    // On the lab's first engine: each run copies them to the others it spreads over.
    let first = &options.fleet.engines()[0];
    let engine = Engine::connect_to(&first.name, &first.url).await?;
    for (_, scenario, release) in pairs {
        for spec in image_specs(scenario, release.as_deref(), &options.recipes)? {
            images::ensure(&engine, &spec, progress).await?;
        }
    }
    // The same scenario and release more than once (`--repeat`): each run gets its number.
    let mut seen: std::collections::HashMap<(&str, Option<&str>), usize> = Default::default();
    let numbered: Vec<_> = pairs
        .iter()
        .map(|pair @ (name, _, release)| {
            let n = seen.entry((name.as_str(), release.as_deref())).or_default();
            *n += 1;
            (pair, *n)
        })
        .collect();
    let repeated = seen.values().any(|&n| n > 1);
    // The longest first, and a slot taken as soon as one is free: with a fixed order a long run
    // held its slot's neighbours back (measured: 24 seeds two at a time, 317 s with the machine
    // 90% idle while one 66 s run ran alone). Results go back into input order.
    let mut order: Vec<usize> = (0..numbered.len()).collect();
    order.sort_by_key(|&i| {
        std::cmp::Reverse(crate::scenario::deliberate_seconds(&numbered[i].0 .1.steps))
    });
    let mut outcomes: Vec<(usize, (String, Result<Outcome>))> = futures::stream::iter(order)
        .map(|i| (i, &numbered[i]))
        .map(|(i, ((name, scenario, release), n))| {
            let options = LabOptions {
                release: release.clone(),
                lab_name: options.lab_name.as_deref().map(|base| {
                    lab_name_of(
                        base,
                        pairs.len(),
                        name,
                        release.as_deref(),
                        repeated.then_some(*n),
                    )
                }),
                ..options.clone()
            };
            // With several runs at once, each progress line says which run it is about.
            let tagged: Progress = if pairs.len() > 1 {
                let progress = progress.clone();
                let mut tag = match release {
                    Some(release) => format!("{name} ({release})"),
                    None => name.clone(),
                };
                if repeated {
                    tag.push_str(&format!(" #{n}"));
                }
                std::sync::Arc::new(move |event: crate::Event| {
                    progress(crate::Event::Tagged {
                        tag: tag.clone(),
                        of: Box::new(event),
                    })
                })
            } else {
                progress.clone()
            };
            async move {
                (
                    i,
                    (
                        name.clone(),
                        run_scenario(name, scenario, &options, &tagged).await,
                    ),
                )
            }
        })
        .buffer_unordered(jobs.max(1))
        .collect()
        .await;
    outcomes.sort_by_key(|(i, _)| *i);
    Ok(outcomes.into_iter().map(|(_, outcome)| outcome).collect())
}

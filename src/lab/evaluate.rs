//! Evaluating checks on a lab: which checks are due on which hosts, and probes in batches (a
//! recording pass, one exec per host, an answering pass) through the lab's [`LabObserver`].
//! What a check means is the check family's business, not this module's.

use std::collections::BTreeMap;

use super::configure::def;
use super::observe::{self, ServerView};
use super::observer::LabObserver;
use super::probes::ProbeCache;
use super::steps::RunState;
use super::{Deadlines, Host, Lab};
use crate::checks::{self, CheckId, CheckResult, Target};
use crate::domain::Role;
use crate::errors::Result;
use crate::scenario::{CheckDef, Scenario, NO_ISSUER};
use crate::{Progress, Say};

/// Evaluates the checks that list `phase`, on their hosts, concurrently; the phase's batch also
/// answers what `also_record` asks, and comes back with the results.
pub(super) async fn evaluate(
    lab: &Lab,
    scenario: &Scenario,
    state: &RunState,
    phase: &str,
    deadlines: &Deadlines,
    progress: &Progress,
    also_record: &(dyn Fn(&ProbeCache) + Sync),
) -> Result<(Vec<CheckResult>, ProbeCache)> {
    let due: Vec<&CheckDef> = scenario
        .checks
        .iter()
        .filter(|c| c.phases.iter().any(|p| p == phase))
        .collect();
    evaluate_defs(
        lab,
        scenario,
        state,
        &due,
        phase,
        deadlines,
        progress,
        also_record,
    )
    .await
}

/// The conformance profile, on every host its checks apply to; its batch also reads the
/// end-of-run facts, which come back in the returned cache.
pub(super) async fn evaluate_profile(
    lab: &Lab,
    scenario: &Scenario,
    state: &RunState,
    mode: crate::checks::ProfileMode,
    deadlines: &Deadlines,
    progress: &Progress,
) -> Result<(Vec<CheckResult>, ProbeCache)> {
    // Off: no item is due, and the end-of-run facts are read on their own.
    let items: &[crate::checks::CheckId] = match mode {
        crate::checks::ProfileMode::Off => &[],
        _ => &crate::checks::PROFILE,
    };
    let defs: Vec<CheckDef> = items
        .iter()
        .map(|&id| CheckDef {
            id,
            hosts: None,
            phases: vec![crate::checks::PROFILE_PHASE.to_string()],
            line: 0,
        })
        .collect();
    let due: Vec<&CheckDef> = defs.iter().collect();
    evaluate_defs(
        lab,
        scenario,
        state,
        &due,
        crate::checks::PROFILE_PHASE,
        deadlines,
        progress,
        &|cache| observe::record_facts(lab, cache),
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn evaluate_defs(
    lab: &Lab,
    scenario: &Scenario,
    state: &RunState,
    due: &[&CheckDef],
    phase: &str,
    deadlines: &Deadlines,
    progress: &Progress,
    also_record: &(dyn Fn(&ProbeCache) + Sync),
) -> Result<(Vec<CheckResult>, ProbeCache)> {
    if due.is_empty() {
        return Ok((Vec::new(), ProbeCache::none()));
    }
    let view = ServerView::read(lab, scenario, deadlines).await?;
    let mut due_on_hosts = Vec::new();
    for check in due {
        let hosts: Vec<&Host> = match &check.hosts {
            Some(names) => names.iter().filter_map(|n| lab.host(n)).collect(),
            None => lab
                .hosts()
                .iter()
                .filter(|h| check.id.applies_to(h.role))
                .collect(),
        };
        due_on_hosts.extend(hosts.into_iter().map(|host| (check.id, host)));
    }
    // A recording pass lists every probe; one exec per host runs them (see `probes`).
    let recording = ProbeCache::recording();
    let recorder = LabObserver {
        lab,
        cache: &recording,
        scenario,
        state,
        view: &view,
        deadlines,
    };
    evaluate_on(&recorder, &due_on_hosts, phase).await?;
    also_record(&recording);
    let cache = ProbeCache::execute(recording, lab, deadlines).await?;
    let answering = LabObserver {
        lab,
        cache: &cache,
        scenario,
        state,
        view: &view,
        deadlines,
    };
    let results = evaluate_on(&answering, &due_on_hosts, phase).await?;
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for result in &results {
        *counts.entry(result.status.to_string()).or_default() += 1;
    }
    let counts: Vec<String> = counts
        .iter()
        .map(|(status, n)| format!("{n} {status}"))
        .collect();
    progress.milestone(format!(
        "phase {phase}: {} checks: {}",
        results.len(),
        counts.join(", ")
    ));
    Ok((results, cache))
}

/// Evaluates each (check, host) pair, concurrently.
async fn evaluate_on(
    observer: &LabObserver<'_>,
    due: &[(CheckId, &Host)],
    phase: &str,
) -> Result<Vec<CheckResult>> {
    futures::future::try_join_all(due.iter().map(|&(id, host)| async move {
        let def = def(observer.scenario, host);
        let target = Target {
            host: &host.name,
            role: host.role,
            port: def.port(),
            has_certificate: def.certificate.issuer != NO_ISSUER,
            uploads: def.uploads_with_journal_upload(),
            first_client: observer
                .scenario
                .hosts
                .iter()
                .find(|h| h.role == Role::Client)
                .map(|h| h.name.as_str()),
            server: (host.role == Role::Client)
                .then(|| observer.scenario.server_of(def))
                .flatten()
                .map(|s| s.name.as_str()),
            route: if host.role == Role::Client {
                observer
                    .scenario
                    .route_of(def)
                    .into_iter()
                    // Proxies keep no journal to count.
                    .filter(|s| s.role == Role::Server)
                    .map(|s| s.name.as_str())
                    .collect()
            } else {
                Vec::new()
            },
            run_id: observer.lab.run_id(),
            observer,
        };
        checks::evaluate(id, &target, phase).await
    }))
    .await
}

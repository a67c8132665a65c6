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
use crate::checks::recorded::{
    self, ConfiguredKnob, Due, DuePhase, Evaluation, Recorder, TargetRecord,
};
use crate::checks::{self, CheckResult};
use crate::domain::Role;
use crate::errors::Result;
use crate::scenario::{as_is, Base, CheckDef, Scenario, NO_ISSUER};
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
) -> Result<(Vec<CheckResult>, ProbeCache, Option<Evaluation>)> {
    let due = PhaseDue::listing(scenario, phase);
    let (mut results, cache, evaluation) = evaluate_phases(
        lab,
        scenario,
        state,
        &[due],
        deadlines,
        progress,
        also_record,
    )
    .await?;
    Ok((results.pop().unwrap_or_default(), cache, evaluation))
}

/// The end of a run in one batch per host: the checks that list `final_phase` (of
/// `final_checks`, the scenario itself or the ones a verify asked for), then the conformance
/// profile, then the end-of-run facts and what `also_record` asks. On each host the final
/// checks' probes run first, in the order a phase of their own would have run them; one exec
/// round and one read of the servers instead of two (at 1+25, about half a second).
#[allow(clippy::too_many_arguments)]
pub(super) async fn evaluate_final_and_profile(
    lab: &Lab,
    scenario: &Scenario,
    final_checks: &Scenario,
    final_phase: &str,
    state: &RunState,
    mode: crate::checks::ProfileMode,
    deadlines: &Deadlines,
    progress: &Progress,
    also_record: &(dyn Fn(&ProbeCache) + Sync),
) -> Result<EndResults> {
    let profile = profile_defs(mode);
    let phases = [
        PhaseDue::listing(final_checks, final_phase),
        PhaseDue {
            phase: crate::checks::PROFILE_PHASE,
            defs: profile.iter().collect(),
        },
    ];
    let (results, cache, evaluation) = evaluate_phases(
        lab,
        scenario,
        state,
        &phases,
        deadlines,
        progress,
        &|cache| {
            also_record(cache);
            observe::record_facts(lab, cache);
        },
    )
    .await?;
    let [final_results, profile]: [Vec<CheckResult>; 2] =
        results.try_into().expect("one list of results per phase");
    Ok(EndResults {
        final_results,
        profile,
        answers: cache,
        evaluation,
    })
}

/// What [`evaluate_final_and_profile`] observed: each phase's results, and the batch's answers
/// (the facts and the delivery reads among them).
pub(super) struct EndResults {
    pub final_results: Vec<CheckResult>,
    pub profile: Vec<CheckResult>,
    pub answers: ProbeCache,
    /// What the checks were told, to judge them again.
    pub evaluation: Option<Evaluation>,
}

/// The conformance profile as check definitions on every host they apply to (none when off).
fn profile_defs(mode: crate::checks::ProfileMode) -> Vec<CheckDef> {
    let items: &[crate::checks::CheckId] = match mode {
        crate::checks::ProfileMode::Off => &[],
        _ => &crate::checks::PROFILE,
    };
    items
        .iter()
        .map(|&id| CheckDef {
            id,
            hosts: None,
            phases: vec![crate::checks::PROFILE_PHASE.to_string()],
            params: Default::default(),
            line: 0,
        })
        .collect()
}

/// One phase's checks, evaluated in a shared batch.
struct PhaseDue<'a> {
    phase: &'a str,
    defs: Vec<&'a CheckDef>,
}

impl<'a> PhaseDue<'a> {
    /// The checks of `scenario` that list `phase`.
    fn listing(scenario: &'a Scenario, phase: &'a str) -> PhaseDue<'a> {
        PhaseDue {
            phase,
            defs: scenario
                .checks
                .iter()
                .filter(|c| c.phases.iter().any(|p| p == phase))
                .collect(),
        }
    }
}

/// Evaluates `phases` with one read of the servers and one batch per host (each phase's probes
/// in the phases' order), answering `also_record` too; each phase's results, in order. With no
/// check due at all, nothing is read and the cache answers nothing.
async fn evaluate_phases(
    lab: &Lab,
    scenario: &Scenario,
    state: &RunState,
    phases: &[PhaseDue<'_>],
    deadlines: &Deadlines,
    progress: &Progress,
    also_record: &(dyn Fn(&ProbeCache) + Sync),
) -> Result<(Vec<Vec<CheckResult>>, ProbeCache, Option<Evaluation>)> {
    if phases.iter().all(|p| p.defs.is_empty()) {
        return Ok((vec![Vec::new(); phases.len()], ProbeCache::none(), None));
    }
    let view = ServerView::read(lab, scenario, deadlines).await?;
    let due_phases: Vec<DuePhase> = phases
        .iter()
        .map(|due| DuePhase {
            phase: due.phase.to_string(),
            profile: due.phase == crate::checks::PROFILE_PHASE,
            due: due
                .defs
                .iter()
                .flat_map(|check| {
                    let hosts: Vec<&Host> = match &check.hosts {
                        Some(names) => names.iter().filter_map(|n| lab.host(n)).collect(),
                        None => lab
                            .hosts()
                            .iter()
                            .filter(|h| check.id.applies_to(h.role))
                            .collect(),
                    };
                    hosts.into_iter().map(|host| Due {
                        check: check.id.to_string(),
                        target: target_record(lab, scenario, host, check),
                    })
                })
                .collect(),
        })
        .collect();
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
    for due in &due_phases {
        recorded::judge(&recorder, &due.due, &due.phase).await?;
    }
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
    // What the checks are told is written down, so the run can be judged again from it.
    let observed = Recorder::new(&answering);
    let mut all_results = Vec::with_capacity(phases.len());
    for (due, listed) in due_phases.iter().zip(phases) {
        let results = recorded::judge(&observed, &due.due, &due.phase).await?;
        if !listed.defs.is_empty() {
            say_counts(progress, &due.phase, &results);
        }
        all_results.push(results);
    }
    let evaluation = observed.into_evaluation(due_phases);
    Ok((all_results, cache, Some(evaluation)))
}

/// The phase's milestone: how many checks, and how many of each status.
fn say_counts(progress: &Progress, phase: &str, results: &[CheckResult]) {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for result in results {
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
}

/// What the scenario says of `host`, for `check` due there (with its parameters).
fn target_record(lab: &Lab, scenario: &Scenario, host: &Host, check: &CheckDef) -> TargetRecord {
    let def = def(scenario, host);
    let names = |hosts: Vec<&crate::scenario::HostDef>| -> Vec<String> {
        hosts.into_iter().map(|h| h.name.clone()).collect()
    };
    TargetRecord {
        host: host.name.clone(),
        role: host.role,
        port: def.port(),
        has_certificate: def.certificate.issuer != NO_ISSUER,
        uploads: def.uploads_with_journal_upload(),
        first_client: scenario
            .hosts
            .iter()
            .find(|h| h.role == Role::Client)
            .map(|h| h.name.clone()),
        server: (host.role == Role::Client)
            .then(|| scenario.server_of(def))
            .flatten()
            .map(|s| s.name.clone()),
        route: if host.role == Role::Client {
            names(
                scenario
                    .route_of(def)
                    .into_iter()
                    // Proxies keep no journal to count.
                    .filter(|s| s.role == Role::Server)
                    .collect(),
            )
        } else {
            Vec::new()
        },
        run_id: lab.run_id().to_string(),
        sources: def
            .files
            .iter()
            .filter_map(|f| Some((f.path.clone(), f.origin.as_ref()?.display().to_string())))
            .collect(),
        configured: if scenario.base == Base::AsIs {
            checks::CheckId::all()
                .flat_map(|id| id.entry().knobs)
                .filter(|k| k.role == host.role)
                .map(|k| ConfiguredKnob::of(k, as_is::as_configured(&def.files, k)))
                .collect()
        } else {
            Vec::new()
        },
        params: check.params.clone(),
    }
}

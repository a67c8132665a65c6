//! Evaluating checks on a lab: which checks are due on which hosts, probes in batches (a
//! recording pass, one exec per host, a replay), and the [`Observer`] the checks see the lab
//! through. What a check means is the check family's business, not this module's.

use std::collections::BTreeMap;

use futures::future::BoxFuture;
use futures::FutureExt;

use super::configure::def;
use super::observe::{self, ServerView};
use super::probes::ProbeCache;
use super::steps::RunState;
use super::{Deadlines, Host, Lab};
use crate::checks::{self, CheckId, CheckResult, MarkerObservation, Observer, Target};
use crate::domain::{ExecOutput, Role, REMOTE_UNIT, UPLOAD_UNIT};
use crate::errors::Result;
use crate::journal;
use crate::scenario::{CheckDef, Scenario, Sender, NO_ISSUER};
use crate::{Progress, Say};

/// Evaluates the checks that list `phase`, on their hosts, concurrently.
pub(super) async fn evaluate(
    lab: &Lab,
    scenario: &Scenario,
    state: &RunState,
    phase: &str,
    deadlines: &Deadlines,
    progress: &Progress,
) -> Result<Vec<CheckResult>> {
    let due: Vec<&CheckDef> = scenario
        .checks
        .iter()
        .filter(|c| c.phases.iter().any(|p| p == phase))
        .collect();
    let (results, _) = evaluate_defs(
        lab,
        scenario,
        state,
        &due,
        phase,
        deadlines,
        progress,
        &|_| {},
    )
    .await?;
    Ok(results)
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
    let cache = ProbeCache::run(recording, lab, deadlines).await?;
    let replayer = LabObserver {
        lab,
        cache: &cache,
        scenario,
        state,
        view: &view,
        deadlines,
    };
    let results = evaluate_on(&replayer, &due_on_hosts, phase).await?;
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
            run_id: observer.lab.run_id(),
            observer,
        };
        checks::evaluate(id, &target, phase).await
    }))
    .await
}

/// What checks observe through: the phase's batch of probes (or a command run now), the markers
/// and remediation states the steps recorded, and what arrived on the servers.
struct LabObserver<'a> {
    lab: &'a Lab,
    cache: &'a ProbeCache,
    scenario: &'a Scenario,
    state: &'a RunState,
    view: &'a ServerView,
    deadlines: &'a Deadlines,
}

impl Observer for LabObserver<'_> {
    fn run<'a>(&'a self, host: &'a str, command: &'a str) -> BoxFuture<'a, Result<ExecOutput>> {
        async move {
            match self.cache.ask(host, command) {
                Some(answer) => Ok(answer),
                None => {
                    let host = self.lab.host(host).expect("checks run on lab hosts");
                    self.lab.exec(host, command, self.deadlines.command).await
                }
            }
        }
        .boxed()
    }

    fn marker<'a>(
        &'a self,
        host: &'a str,
        evidence: &'a mut Vec<String>,
    ) -> BoxFuture<'a, Result<MarkerObservation>> {
        self.observe_marker(host, evidence).boxed()
    }

    fn history(&self) -> &crate::checks::history::History {
        &self.state.history
    }

    fn marker_after(&self, server: &str, after: time::OffsetDateTime) -> Option<String> {
        self.state
            .markers
            .iter()
            .filter(|m| m.server == server && m.logged_wall > after)
            .find_map(|m| {
                let file = self.view.find(server, &m.text)?;
                Some(format!("{} from {}, in {file}", m.text, m.host))
            })
    }
}

impl LabObserver<'_> {
    /// Runs `command` on `host` and keeps it as evidence.
    async fn probe(
        &self,
        host: &str,
        command: &str,
        evidence: &mut Vec<String>,
    ) -> Result<ExecOutput> {
        let out = self.run(host, command).await?;
        checks::record_probe(evidence, host, command, &out);
        Ok(out)
    }

    /// What became of `host`'s latest marker, with the evidence: the server's verdict (is it there?),
    /// the proof that absence is not slowness, and the client's and server's own words.
    async fn observe_marker(
        &self,
        host: &str,
        evidence: &mut Vec<String>,
    ) -> Result<MarkerObservation> {
        let (state, view) = (self.state, self.view);
        let sender = self
            .scenario
            .host(host)
            .expect("lab hosts come from the scenario")
            .sender
            .clone();
        let Some(marker) = state.last_marker(host) else {
            return Ok(MarkerObservation::default());
        };
        let found_in = view.find(&marker.server, &marker.text);
        evidence.push(format!("marker: {}", marker.text));
        evidence.push(format!(
            "[{}]$ {}  -> {}",
            marker.server,
            journal::remote_markers_by_file_command(),
            found_in
                .as_deref()
                .map_or("not found".to_string(), |f| format!("found in {f}"))
        ));
        let later_reference = state
            .markers
            .iter()
            .filter(|m| m.server == marker.server && m.seq > marker.seq && m.host != host)
            .find_map(|m| {
                view.find(&m.server, &m.text)
                    .map(|file| format!("{} from {}, in {file}", m.text, m.host))
            });
        if let Some(reference) = &later_reference {
            evidence.push(format!("later marker that did arrive: {reference}"));
        }
        let client_log = match sender {
            Sender::Curl => state.sender_logs.get(host).cloned().unwrap_or_default(),
            Sender::JournalUpload => {
                let command = format!("journalctl -u {UPLOAD_UNIT} -o cat --no-pager -n 20");
                self.probe(host, &command, evidence)
                    .await?
                    .combined()
                    .lines()
                    .map(str::to_string)
                    .collect()
            }
        };
        if sender == Sender::Curl {
            evidence.extend(client_log.iter().map(|l| format!("  {l}")));
        }
        if found_in.is_none() && self.lab.host(&marker.server).is_some() {
            let command = format!("journalctl -u {REMOTE_UNIT} -o cat --no-pager -n 15");
            self.probe(&marker.server, &command, evidence).await?;
        }
        Ok(MarkerObservation {
            logged_at: Some(marker.logged_wall),
            logged: Some(marker.text.clone()),
            found_in,
            later_reference,
            client_log,
        })
    }
}

//! Runs a scenario on a lab: images → certificates → boot → configure (the operator's passive
//! HTTPS procedure) → steps → checks → run.json. `cargo xtask lab` is the default scenario
//! (1 server + N clients, one marker each, `client-delivers`), run through the same code.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use time::OffsetDateTime;

use super::plan::{plan, Plan};
use super::verifying::{self, verified_checks};
use super::{bring_up, evaluate, observe, phase, steps, timed, HostSpec};
use crate::checks::CheckResult;
use crate::errors::{Error, Result};
use crate::report::{self, HostReport, Role, RunReport};
use crate::scenario::{Scenario, Step, FINAL_PHASE};
use crate::{Progress, Say};

pub use super::options::{Journals, LabOptions, RunMode};
pub use crate::scenario::MAX_CLIENTS;

/// A finished run: what it observed and where that was written.
#[derive(Debug)]
pub struct Outcome {
    pub report: RunReport,
    pub run_dir: PathBuf,
    /// With `keep`: how to reach each host, one line each.
    pub kept: Vec<String>,
    /// Host → the verification key of its sealing (`setup-sealing`). A secret: it is in no
    /// report and nothing prints it; it is here for callers that verify on their own.
    pub verification_keys: std::collections::BTreeMap<String, String>,
}

/// The default lab: 1 server + `clients` clients, passive HTTPS, one marker each.
pub fn default_scenario(clients: usize) -> Scenario {
    let text = format!(
        "description: passive journal centralization over HTTPS, 1 server + {clients} clients\n\
         hosts:\n  - {{name: server, role: server}}\n{}\
         steps:\n  - do: log-markers\n\
         checks:\n  - id: client-delivers\n",
        (1..=clients)
            .map(|i| format!("  - {{name: client{i}, role: client}}\n"))
            .collect::<String>()
    );
    Scenario::parse(std::path::Path::new("<default lab>"), &text)
        .expect("the default scenario is valid")
}

/// `cargo xtask lab`.
pub async fn run_default_lab(options: &LabOptions, progress: &Progress) -> Result<Outcome> {
    if options.clients == 0 || options.clients > MAX_CLIENTS {
        return Err(Error::InvalidSettings(format!(
            "--clients must be between 1 and {MAX_CLIENTS} (got {})",
            options.clients
        )));
    }
    run_scenario("lab", &default_scenario(options.clients), options, progress).await
}

/// Runs `scenario` end to end: plan, bring up, execute the steps, observe, assemble the report,
/// write it, tear down. `Err` means the harness could not do its job (no engine, a host that
/// would not boot, a step that failed to start); what the software under test did is in the
/// checks.
pub async fn run_scenario(
    name: &str,
    scenario: &Scenario,
    options: &LabOptions,
    progress: &Progress,
) -> Result<Outcome> {
    let started = OffsetDateTime::now_utc();
    let clock = Instant::now();
    let mut phases = Vec::new();
    let Plan { release, mut specs } = plan(scenario, options)?;
    let up = match &options.mode {
        RunMode::Verify { run_id, .. } => {
            bring_up::attach(run_id, scenario, &options.fleet, progress).await?
        }
        mode => {
            let keeping = bring_up::Keeping {
                keep: options.keep,
                keep_on_failure: options.keep_on_failure,
                up: matches!(mode, RunMode::Up { .. }),
                name: match mode {
                    RunMode::Up { name } => Some(name.as_str()),
                    _ => options.lab_name.as_deref(),
                },
                reports: &options.reports_dir,
            };
            bring_up::boot(
                name,
                scenario,
                keeping,
                &options.deadlines,
                &mut specs,
                &release,
                &options.fleet,
                &mut phases,
                progress,
            )
            .await?
        }
    };
    let bring_up::Up {
        mut lab,
        mut configuration,
        private_dir,
        run_id,
    } = up;
    let attached = options.mode.attached_to().is_some();
    let mut state = steps::RunState {
        private_dir: private_dir.path(),
        markers: bring_up::saved_markers(&options.reports_dir, &run_id, attached),
        ..steps::RunState::default()
    };

    let clock_steps = Instant::now();
    let (checks, step_records, end) =
        execute(&lab, scenario, options, &mut state, progress).await?;
    phases.push(phase(
        "steps and checks (with the profile)",
        clock_steps.elapsed(),
    ));
    // A verify writes a report of its own beside the lab's first.
    let report_id = if attached {
        let now = OffsetDateTime::now_utc();
        format!(
            "{run_id}-verify-{:02}{:02}{:02}",
            now.hour(),
            now.minute(),
            now.second()
        )
    } else {
        run_id.clone()
    };
    // From here on, a run that is stopped keeps what it observed: its checks and steps.
    let mut partial = report::Partial::new(
        &options.reports_dir,
        RunReport::assemble(report::RunParts {
            run_id: report_id.clone(),
            name,
            scenario,
            release: release.clone(),
            started,
            total_seconds: clock.elapsed().as_secs_f64(),
            seconds_to_all_delivered: None,
            phases: phases.clone(),
            hosts: Vec::new(),
            image: String::new(),
            findings: Vec::new(),
            checks: checks.clone(),
            profile: Vec::new(),
            profile_mode: options.profile,
            container_memory_bytes: None,
            history: &state.history,
            journal: Vec::new(),
            journal_files: Vec::new(),
            delivery: None,
            steps: step_records.clone(),
        }),
    );

    let clock_observe = Instant::now();
    let observed = observe_end(&lab, scenario, options, &mut state, end).await?;
    phases.push(phase(
        "observe (facts, journals, delivery)",
        clock_observe.elapsed(),
    ));
    // Everything is observed: a run that keeps nothing removes its clients (and proxies) now,
    // while it copies the servers' journals and writes its reports.
    let removing_early =
        (matches!(options.mode, RunMode::Run) && !options.keep && !options.keep_on_failure)
            .then(|| lab.remove_early(|host| host.role != Role::Server));
    let run_dir = options.reports_dir.join(&report_id);
    // From here on the report directory exists; it stays only once it is complete.
    let unfinished = report::Unfinished::new(&run_dir);
    let (journal_files, took) = timed(async {
        if options.journals == Journals::None {
            return Ok(Vec::new());
        }
        std::fs::create_dir_all(&run_dir).map_err(Error::io("creating", &run_dir))?;
        observe::copy_journals(&lab, &run_dir, options.journals == Journals::Remote).await
    })
    .await;
    let journal_files = journal_files?;
    if options.journals != Journals::None {
        phases.push(phase("journal files copied out", took));
    }
    let Observed {
        mut facts,
        view,
        journal_dumps,
        profile,
        container_memory_bytes,
        delivery,
    } = observed;
    let hosts = host_reports(
        &lab,
        scenario,
        &specs,
        &state,
        &mut facts,
        &mut configuration,
    );
    let report = RunReport::assemble(report::RunParts {
        run_id: report_id,
        name,
        scenario,
        release,
        started,
        total_seconds: clock.elapsed().as_secs_f64(),
        seconds_to_all_delivered: state
            .all_delivered_at
            .map(|at| at.duration_since(clock).as_secs_f64()),
        phases,
        hosts,
        image: specs
            .iter()
            .find(|s| s.role == Role::Server)
            .map(|s| s.image.reference())
            .unwrap_or_default(),
        findings: facts.findings,
        checks,
        profile,
        profile_mode: options.profile,
        container_memory_bytes,
        history: &state.history,
        journal: view
            .entries()
            .into_iter()
            .map(|(server, file, fields)| report::ArrivedEntry {
                server,
                file,
                fields,
            })
            .collect(),
        journal_files,
        delivery,
        steps: step_records,
    });
    let run_dir = report::write_run(&options.reports_dir, &report)?;
    let observations = report::observations::Observations::new(
        &report.run_id,
        std::mem::take(&mut state.evaluations),
        scenario.expect.clone(),
        std::mem::take(&mut state.journald),
    );
    if !report::observations::write(&run_dir, &observations)? {
        progress.warning(format!(
            "the run's observations are larger than {} MiB and were not stored: `report rejudge` cannot judge this run again",
            report::observations::MAX_JSON_BYTES >> 20
        ));
    }
    report::write_journals(&run_dir, &journal_dumps)?;
    report::write_formats(&run_dir, &report, &report::Format::ALL)?;
    let keep = match options.mode {
        RunMode::Run => options.keep || (options.keep_on_failure && !report.ok),
        RunMode::Up { .. } | RunMode::Verify { .. } => true,
    };
    lab.set_keep(keep);
    if keep && !attached {
        // What a later `verify` needs: the markers (in the reports) and the keys (private).
        bring_up::save_for_verify(&run_dir, scenario, &state.markers)?;
        private_dir.keep();
    }
    unfinished.finish()?;
    partial.disarm();
    let kept = if keep {
        lab.keep_instructions()
    } else {
        Vec::new()
    };
    if let Some(removing) = removing_early {
        // What failed here the sweep removes; it is said, not fatal.
        match removing.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => progress.warning(format!("removing the clients early: {e}")),
            Err(e) => progress.warning(format!("removing the clients early: {e}")),
        }
    }
    let (torn_down, took) = timed(lab.teardown()).await;
    super::say_left_networks(progress, torn_down?);
    if !keep {
        progress.milestone(format!("lab removed in {:.1}s", took.as_secs_f64()));
    }
    Ok(Outcome {
        report,
        run_dir,
        kept,
        verification_keys: state
            .history
            .sealings()
            .into_iter()
            .map(|(host, sealing)| (host, sealing.verification_key))
            .collect(),
    })
}

/// The steps as the mode asks (all of them; up to the first `evaluate` for `up`; for `verify`,
/// fresh markers or the steps when asked), the checks of each `evaluate`, then the final ones
/// once every fault still in force is undone. A failed step is an observation: the steps stop
/// and what was seen is evaluated.
async fn execute(
    lab: &super::Lab,
    scenario: &Scenario,
    options: &LabOptions,
    state: &mut steps::RunState,
    progress: &Progress,
) -> Result<(
    Vec<CheckResult>,
    Vec<report::StepRecord>,
    evaluate::EndResults,
)> {
    let mut checks: Vec<CheckResult> = Vec::new();
    let mut step_records = Vec::new();
    let (attached, verify_steps, verify_phase) = match &options.mode {
        RunMode::Verify { steps, phase, .. } => (true, *steps, phase.as_deref()),
        _ => (false, false, None),
    };
    let up = matches!(options.mode, RunMode::Up { .. });
    if attached && !verify_steps {
        step_records.extend(
            verifying::fresh_markers(
                lab,
                scenario,
                options.mode.verified_checks(),
                &options.deadlines,
                state,
                progress,
            )
            .await,
        );
    }
    // Molecule's order: idempotence after converge, before the steps (which may change files
    // on purpose); when it fails, the steps are not performed.
    let mut idempotent = true;
    if options.idempotence && !attached {
        let record = super::converge::idempotence(lab, scenario, progress).await;
        idempotent = record.error.is_none();
        step_records.push(record);
    }
    for (index, step) in scenario.steps.iter().enumerate() {
        if !idempotent {
            break;
        }
        if up && matches!(step, Step::Evaluate { .. }) {
            progress.news(format!("up: steps stop before step {index} (evaluate)"));
            break;
        }
        // verify: the steps only when asked, and one evaluation at the end.
        if attached && (!verify_steps || matches!(step, Step::Evaluate { .. })) {
            continue;
        }
        if let Step::Evaluate { phase } = step {
            let (results, _, evaluation) = evaluate::evaluate(
                lab,
                scenario,
                state,
                phase,
                &options.deadlines,
                progress,
                &|_| {},
            )
            .await?;
            checks.extend(results);
            state.evaluations.extend(evaluation);
            continue;
        }
        let (performed, took) = timed(steps::perform(
            lab,
            scenario,
            step,
            state,
            &options.deadlines,
            progress,
        ))
        .await;
        let record = steps::step_record(index, step, state.last_run.take(), &performed, took);
        step_records.push(record);
        if let Err(e) = performed {
            progress.warning(format!(
                "step {index} failed; evaluating what was observed: {e}"
            ));
            break;
        }
    }
    // Whatever is still in force is undone before the final look (the workloads' too).
    steps::end_faults(lab, scenario, state, &options.deadlines, progress).await?;
    let verified = verified_checks(scenario, options.mode.verified_checks());
    // The final batch also reads what the workloads' delivery is accounted from: the
    // `delivery-exactly-once` check and run.json's `delivery` judge the same read. The profile
    // and the facts come in the same batch.
    let mut end = evaluate::evaluate_final_and_profile(
        lab,
        scenario,
        verified.as_ref().unwrap_or(scenario),
        verify_phase.unwrap_or(FINAL_PHASE),
        state,
        options.profile,
        &options.deadlines,
        progress,
        &|cache| observe::ask_delivery_reads(lab, scenario, &state.history, cache),
    )
    .await?;
    // The final checks join the run's checks; the profile and the answers go on to `observe_end`.
    checks.append(&mut end.final_results);
    state.evaluations.extend(end.evaluation.take());
    if let Some(failed) = step_records.iter().find(|r| r.error.is_some()) {
        state.journald = journald_states(lab, &options.deadlines, &checks).await;
        report::not_verifiable_after(failed, &state.journald, &mut checks);
    }
    Ok((checks, step_records, end))
}

/// How each host's journald stands (its unit's state, result and restarts, and what PID 1 and
/// journald logged of it), for the hosts of `results` that did not judge: after a failed step,
/// the first thing to rule out is the journal those steps log into.
async fn journald_states(
    lab: &super::Lab,
    deadlines: &super::Deadlines,
    results: &[CheckResult],
) -> BTreeMap<String, String> {
    const PROBE: &str = "systemctl show -p ActiveState -p SubState -p Result -p NRestarts systemd-journald.service \
        systemd-journald.socket systemd-journald-dev-log.socket; \
        journalctl -b --no-pager -o cat -u systemd-journald.service 2>&1 | grep -i -E 'watchdog|fail|exit|start.limit|event loop' | tail -n 8";
    let hosts: std::collections::BTreeSet<&str> = results
        .iter()
        .filter(|r| r.status == crate::checks::Status::Error)
        .map(|r| r.host.as_str())
        .collect();
    let reads = hosts
        .into_iter()
        .filter_map(|name| lab.host(name))
        .map(|host| async move {
            let said = match lab.exec(host, PROBE, deadlines.command).await {
                Ok(out) => format!("[{}]$ {PROBE}\n{}{}", host.name, out.stdout, out.stderr),
                Err(e) => format!("[{}] journald's state could not be read: {e}", host.name),
            };
            (host.name.clone(), said)
        });
    futures::future::join_all(reads).await.into_iter().collect()
}

/// What the end of a run looks at.
struct Observed {
    facts: observe::Facts,
    /// What arrived on the servers.
    view: observe::ServerView,
    journal_dumps: Vec<(String, String)>,
    profile: Vec<CheckResult>,
    container_memory_bytes: Option<u64>,
    delivery: Option<report::delivery::Delivery>,
}

/// The end-of-run observations: memory (for the bench), the profile, the facts (versions,
/// status, findings, what arrived) and the workloads' delivery. Independent reads are taken
/// at once.
async fn observe_end(
    lab: &super::Lab,
    scenario: &Scenario,
    options: &LabOptions,
    state: &mut steps::RunState,
    end: evaluate::EndResults,
) -> Result<Observed> {
    let memory = async {
        if !options.measure_memory {
            return Ok(None);
        }
        let samples = lab
            .hosts()
            .iter()
            .map(|h| lab.engine_of(h).memory_usage(h.id()));
        Ok::<_, Error>(Some(
            futures::future::try_join_all(samples)
                .await?
                .iter()
                .sum::<u64>(),
        ))
    };
    let evaluate::EndResults {
        profile, answers, ..
    } = end;
    // The facts were read in the end batch, after the profile's probes on each host: those may
    // be what socket-activates journal-remote (when no client connects), and its log is where a
    // finding comes from, so the order keeps the finding independent of timing.
    let (container_memory_bytes, mut facts) = tokio::try_join!(
        memory,
        observe::observe_facts(lab, &answers, &options.deadlines)
    )?;
    let view = std::mem::replace(&mut facts.view, observe::ServerView::empty());
    let journal_dumps = std::mem::take(&mut facts.journals);
    // Markers that arrived after their wait ended count as delivered too (seconds unknown).
    steps::note_arrivals(state, &view);
    if let Some(watch) = state.arrival_watch.take() {
        watch.stop(&mut state.first_seen).await;
    }
    let workloads: Vec<_> = state.history.workloads().cloned().collect();
    let delivery = if workloads.is_empty() {
        None
    } else {
        let mut delivery = observe::read_delivery(
            lab,
            scenario,
            &workloads,
            &state.first_seen,
            &answers,
            &options.deadlines,
        )
        .await?;
        delivery.settled_after_seconds = state.settled_after;
        Some(delivery)
    };
    Ok(Observed {
        facts,
        view,
        journal_dumps,
        profile,
        container_memory_bytes,
        delivery,
    })
}

/// Each host as the report shows it: what it is, how it was configured, its marker, its facts.
fn host_reports(
    lab: &super::Lab,
    scenario: &Scenario,
    specs: &[HostSpec],
    state: &steps::RunState,
    facts: &mut observe::Facts,
    configuration: &mut super::configure::Configured,
) -> Vec<HostReport> {
    lab.hosts()
        .iter()
        .map(|host| {
            let marker = state.last_marker(&host.name);
            let delivered = marker.map(|m| m.arrived_after.is_some() || m.found_in.is_some());
            let (systemd_version, systemd_features) =
                facts.versions.get(&host.name).cloned().unwrap_or_default();
            HostReport {
                name: host.name.clone(),
                role: host.role,
                ip: host.ip.clone(),
                engine: (lab.engines().len() > 1).then(|| lab.engine_of(host).name().to_string()),
                published_for_other_engines: specs
                    .iter()
                    .find(|s| s.name == host.name)
                    .and_then(|s| s.publish_across)
                    .map(|(address, port)| format!("{address}:{port}")),
                systemd_version,
                systemd_features,
                image: specs
                    .iter()
                    .find(|s| s.name == host.name)
                    .map(|s| s.image.reference())
                    .unwrap_or_default(),
                marker_logged_at: marker.map(|m| m.logged_wall),
                status_text: facts
                    .status_text
                    .get(&host.name)
                    .cloned()
                    .unwrap_or_default(),
                configuration: configuration.done.remove(&host.name).unwrap_or_default(),
                readiness: configuration.readiness.remove(&host.name),
                carried: scenario
                    .host(&host.name)
                    .map(|def| report::carried::carried(&def.files))
                    .unwrap_or_default(),
                added_by_lab: configuration.added.remove(&host.name).unwrap_or_default(),
                marker: marker.map(|m| m.text.clone()),
                delivered,
                seconds_to_deliver: marker.and_then(|m| m.arrived_after),
                remote_file: marker.and_then(|m| m.found_in.clone()),
                failed_units: facts
                    .failed_units
                    .get(&host.name)
                    .cloned()
                    .unwrap_or_default(),
                evidence: if delivered == Some(false) {
                    facts.evidence.get(&host.name).cloned().unwrap_or_default()
                } else {
                    Vec::new()
                },
                upload_unit: facts.upload_unit.remove(&host.name).unwrap_or_default(),
            }
        })
        .collect()
}

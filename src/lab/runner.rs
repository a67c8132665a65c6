//! Runs a scenario on a lab: images → certificates → boot → configure (the operator's passive
//! HTTPS procedure) → steps → checks → run.json. `cargo xtask lab` is the default scenario
//! (1 server + N clients, one marker each, `client-delivers`), run through the same code.

use std::path::PathBuf;
use std::time::Instant;

use time::OffsetDateTime;

use super::verifying::{self, verified_checks};
use super::{bring_up, evaluate, observe, phase, steps, timed, Deadlines, HostSpec};
use crate::checks::CheckResult;
use crate::errors::{Error, Result};
use crate::images::{self, ImageSpec};
use crate::report::{self, HostReport, Role, RunReport};
use crate::scenario::{Scenario, Step, FINAL_PHASE};
use crate::Progress;

pub use crate::scenario::MAX_CLIENTS;

#[derive(Debug, Clone)]
pub struct LabOptions {
    /// The release of every host (overrides what a scenario says).
    pub release: Option<String>,
    /// Clients of the default lab (`cargo xtask lab`).
    pub clients: usize,
    /// Leave the lab running after the run (and say how to reach it).
    pub keep: bool,
    /// Leave it running only if the run did not hold (a check failed, a step failed).
    pub keep_on_failure: bool,
    /// `cargo xtask up`: perform the steps up to the first `evaluate` only, and keep the lab
    /// (removed if the run is interrupted or fails to come up).
    pub up: bool,
    /// The lab's name (`up --name`), a label on everything it has.
    pub name: Option<String>,
    /// `cargo xtask verify`: the run id of a lab that is up, to attach to instead of booting.
    /// The steps are performed only with `verify_steps`; then the checks of `verify_phase` are
    /// evaluated (only `verify_checks`, if any are named), and the report goes to
    /// `<run-id>-verify-<time>`.
    pub attach: Option<String>,
    pub verify_steps: bool,
    pub verify_phase: Option<String>,
    pub verify_checks: Vec<crate::checks::CheckId>,
    /// Where image recipes come from (the built-in ones, unless a test names a directory).
    pub recipes: images::Recipes,
    pub reports_dir: PathBuf,
    pub deadlines: Deadlines,
    /// Sum the hosts' container memory after the steps (for `cargo xtask bench`).
    pub measure_memory: bool,
    /// Which of the servers' binary journal files to copy into the run's report directory.
    pub journals: Journals,
    /// What the conformance profile does: reported (default), gating the verdict, or off.
    pub profile: crate::checks::ProfileMode,
}

impl LabOptions {
    pub fn new(recipes: impl Into<images::Recipes>, reports_dir: impl Into<PathBuf>) -> LabOptions {
        LabOptions {
            release: None,
            clients: 3,
            keep: false,
            keep_on_failure: false,
            up: false,
            name: None,
            attach: None,
            verify_steps: false,
            verify_phase: None,
            verify_checks: Vec::new(),
            recipes: recipes.into(),
            reports_dir: reports_dir.into(),
            deadlines: Deadlines::default(),
            measure_memory: false,
            journals: Journals::All,
            profile: crate::checks::ProfileMode::default(),
        }
    }
}

/// `--journals`: which binary journal files of the servers a run copies into its report (the
/// JSON dumps of what arrived are always written).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Journals {
    /// None: the report holds the JSON dumps only.
    None,
    /// What arrived from the clients (`/var/log/journal/remote`).
    Remote,
    /// The servers' whole /var/log/journal: what arrived and their own journals.
    #[default]
    All,
}

impl std::str::FromStr for Journals {
    type Err = String;
    fn from_str(text: &str) -> std::result::Result<Journals, String> {
        match text {
            "none" => Ok(Journals::None),
            "remote" => Ok(Journals::Remote),
            "all" => Ok(Journals::All),
            other => Err(format!(
                "unknown journals choice {other:?}: use none, remote or all"
            )),
        }
    }
}

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
pub async fn run(options: &LabOptions, progress: &Progress) -> Result<Outcome> {
    if options.clients == 0 || options.clients > MAX_CLIENTS {
        return Err(Error::InvalidSettings(format!(
            "--clients must be between 1 and {MAX_CLIENTS} (got {})",
            options.clients
        )));
    }
    run_scenario("lab", &default_scenario(options.clients), options, progress).await
}

/// Runs `scenario` end to end. `Err` means the harness could not do its job (no engine, a host
/// that would not boot, a step that failed); what the software under test did is in the checks.
pub async fn run_scenario(
    name: &str,
    scenario: &Scenario,
    options: &LabOptions,
    progress: &Progress,
) -> Result<Outcome> {
    let started = OffsetDateTime::now_utc();
    let clock = Instant::now();
    let mut phases = Vec::new();
    let default_release = options
        .release
        .clone()
        .or_else(|| scenario.release.clone())
        .unwrap_or_else(|| images::DEFAULT_RELEASE.to_string());
    let mut specs: Vec<HostSpec> = scenario
        .hosts
        .iter()
        .zip(image_specs(
            scenario,
            options.release.as_deref(),
            &options.recipes,
        )?)
        .map(|(host, image)| HostSpec {
            name: host.name.clone(),
            role: host.role,
            image,
            stage: None,
            // Only servers a `send` step posts to, for the host-side client.
            publish: scenario.is_send_target(&host.name).then(|| host.port()),
        })
        .collect();
    super::check_host_limits(specs.len())?;
    // A fault this machine cannot inject is refused before anything boots.
    for (index, step) in scenario.steps.iter().enumerate() {
        if let Step::Fault { kind, .. } = step {
            if let Some(why) = kind
                .spec()
                .needs_machine_root
                .then(steps::machine_root_unavailable)
                .flatten()
            {
                return Err(Error::InvalidSettings(format!(
                    "steps[{index}] (fault {kind}) cannot be done here: {why}"
                )));
            }
        }
    }
    let up = match &options.attach {
        None => {
            let keeping = bring_up::Keeping {
                keep: options.keep,
                keep_on_failure: options.keep_on_failure,
                up: options.up,
                name: options.name.as_deref(),
            };
            bring_up::boot(
                name,
                scenario,
                keeping,
                &options.deadlines,
                &mut specs,
                &default_release,
                &mut phases,
                progress,
            )
            .await?
        }
        Some(run_id) => bring_up::attach(run_id, scenario, progress).await?,
    };
    let bring_up::Up {
        mut lab,
        mut configuration,
        private_dir,
        run_id,
    } = up;
    let clients = specs.iter().filter(|s| s.role == Role::Client).count();

    let mut state = steps::RunState {
        private_dir: private_dir.path(),
        markers: bring_up::saved_markers(&options.reports_dir, &run_id, options.attach.is_some()),
        ..steps::RunState::default()
    };
    let mut checks: Vec<CheckResult> = Vec::new();
    let clock_steps = Instant::now();
    let mut step_records = Vec::new();
    let attached = options.attach.is_some();
    if attached && !options.verify_steps {
        step_records.extend(
            verifying::fresh_markers(
                &lab,
                scenario,
                &options.verify_checks,
                &options.deadlines,
                &mut state,
                progress,
            )
            .await,
        );
    }
    for (index, step) in scenario.steps.iter().enumerate() {
        if options.up && matches!(step, Step::Evaluate { .. }) {
            progress(&format!("up: steps stop before step {index} (evaluate)"));
            break;
        }
        // verify: the steps only when asked, and one evaluation at the end.
        if attached && (!options.verify_steps || matches!(step, Step::Evaluate { .. })) {
            continue;
        }
        if let Step::Evaluate { phase } = step {
            checks.extend(
                evaluate::evaluate(&lab, scenario, &state, phase, &options.deadlines, progress)
                    .await?,
            );
            continue;
        }
        let (performed, took) = timed(steps::perform(
            &lab,
            scenario,
            step,
            &mut state,
            &options.deadlines,
            progress,
        ))
        .await;
        let record = steps::step_record(index, step, state.last_run.take(), &performed, took);
        step_records.push(record);
        // A failed step is an observation: the steps stop, and what was seen is evaluated.
        if let Err(e) = performed {
            progress(&format!(
                "step {index} failed; evaluating what was observed: {e}"
            ));
            break;
        }
    }
    // Whatever is still in force is undone before the final look (the workloads' too).
    steps::end_faults(&lab, scenario, &mut state, &options.deadlines, progress).await?;
    let verified = verified_checks(scenario, &options.verify_checks);
    checks.extend(
        evaluate::evaluate(
            &lab,
            verified.as_ref().unwrap_or(scenario),
            &state,
            options.verify_phase.as_deref().unwrap_or(FINAL_PHASE),
            &options.deadlines,
            progress,
        )
        .await?,
    );
    phases.push(phase("steps and checks", clock_steps.elapsed()));

    // The end-of-run observations are independent reads: take them at once.
    let clock_observe = Instant::now();
    let memory = async {
        if !options.measure_memory {
            return Ok(None);
        }
        let samples = lab
            .hosts()
            .iter()
            .map(|h| lab.engine().memory_usage(h.id()));
        Ok::<_, Error>(Some(
            futures::future::try_join_all(samples)
                .await?
                .iter()
                .sum::<u64>(),
        ))
    };
    let (container_memory_bytes, (profile, profile_batch)) = tokio::try_join!(
        memory,
        evaluate::evaluate_profile(
            &lab,
            scenario,
            &state,
            options.profile,
            &options.deadlines,
            progress
        ),
    )?;
    // The facts were read in the profile's batch, after its probes on each host: those may be
    // what socket-activates journal-remote (when no client connects), and its log is where a
    // finding comes from, so the order keeps the finding independent of timing.
    let mut facts = observe::observe_facts(&lab, &profile_batch, &options.deadlines).await?;
    let final_view = std::mem::replace(&mut facts.view, observe::ServerView::empty());
    let journal_dumps = std::mem::take(&mut facts.journals);
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
    let run_dir = options.reports_dir.join(&report_id);
    // Markers that arrived after their wait ended count as delivered too (seconds unknown).
    steps::note_arrivals(&mut state, &final_view);
    phases.push(phase(
        "observe (profile, facts, journals)",
        clock_observe.elapsed(),
    ));
    if let Some(watch) = state.arrival_watch.take() {
        watch.stop(&mut state.first_seen).await;
    }
    let workloads: Vec<_> = state.history.workloads().cloned().collect();
    let delivery = if workloads.is_empty() {
        None
    } else {
        let mut delivery = observe::read_delivery(
            &lab,
            scenario,
            &workloads,
            &state.first_seen,
            &options.deadlines,
        )
        .await?;
        delivery.settled_after_seconds = state.settled_after;
        Some(delivery)
    };
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
    let hosts: Vec<HostReport> = lab
        .hosts()
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
            }
        })
        .collect();
    let delivered = hosts.iter().filter(|h| h.delivered == Some(true)).count();
    // A gating profile counts with the scenario's own checks.
    let gated_profile = match options.profile {
        crate::checks::ProfileMode::Gate => &profile[..],
        _ => &[],
    };
    let failed_checks = checks
        .iter()
        .chain(gated_profile)
        .filter(|c| {
            matches!(
                c.status,
                crate::checks::Status::Fail | crate::checks::Status::Error
            )
        })
        .count();
    let server_version = lab
        .hosts()
        .iter()
        .find(|h| h.role == Role::Server)
        .and_then(|h| facts.versions.get(&h.name).cloned())
        .unwrap_or_default();
    let report = RunReport {
        schema_version: report::SCHEMA_VERSION,
        run_id: report_id.clone(),
        harness_version: crate::HARNESS_VERSION.to_string(),
        scenario: name.to_string(),
        description: scenario.description.clone(),
        release: default_release,
        systemd_version: server_version.0,
        systemd_features: server_version.1,
        image: specs
            .iter()
            .find(|s| s.role == Role::Server)
            .map(|s| s.image.reference())
            .unwrap_or_default(),
        started,
        finished: OffsetDateTime::now_utc(),
        total_seconds: clock.elapsed().as_secs_f64(),
        seconds_to_all_delivered: state
            .all_delivered_at
            .map(|at| at.duration_since(clock).as_secs_f64()),
        phases,
        clients,
        delivered,
        ok: failed_checks == 0 && step_records.iter().all(|s| s.error.is_none()),
        hosts,
        findings: facts.findings,
        checks,
        profile,
        profile_mode: options.profile,
        container_memory_bytes,
        sealing: report::SealingReport::of(&state.history),
        tampered: report::TamperedReport::of(&state.history),
        journal: final_view
            .entries()
            .into_iter()
            .map(|(server, file, fields)| report::ArrivedEntry {
                server,
                file,
                fields,
            })
            .collect(),
        journal_files,
        faults: report::FaultWindow::of(&state.history),
        restarts: report::RestartWindow::of(&state.history),
        sends: state.history.sends(None),
        field: None,
        scenario_file: scenario.source.as_ref().map(|path| {
            let cwd = std::env::current_dir().unwrap_or_default();
            path.strip_prefix(&cwd)
                .unwrap_or(path)
                .display()
                .to_string()
        }),
        check_lines: scenario
            .checks
            .iter()
            .map(|c| report::CheckLine {
                id: c.id.to_string(),
                hosts: c.hosts.clone().unwrap_or_default(),
                line: c.line,
            })
            .collect(),
        delivery,
        steps: step_records,
    };
    let run_dir = report::write_run(&options.reports_dir, &report)?;
    report::write_journals(&run_dir, &journal_dumps)?;
    report::write_formats(&run_dir, &report, &report::Format::ALL)?;
    let keep = attached || options.keep || options.up || (options.keep_on_failure && !report.ok);
    lab.set_keep(keep);
    if keep && !attached {
        // What a later `verify` needs: the markers (in the reports) and the keys (private).
        bring_up::save_for_verify(&run_dir, scenario, &state.markers)?;
        private_dir.keep();
    }
    unfinished.finish()?;
    let kept = if keep {
        lab.keep_instructions()
    } else {
        Vec::new()
    };
    let (torn_down, took) = timed(lab.teardown()).await;
    for (network, why) in torn_down? {
        progress(&format!(
            "warning: network {network} was left: {why}; {}",
            crate::engine::STALE_FIX
        ));
    }
    if !keep {
        progress(&format!("lab removed in {:.1}s", took.as_secs_f64()));
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

/// The image of each host of `scenario`, in topology order: its release (the override, else its
/// own, else the scenario's, else the default) plus its extra packages.
pub fn image_specs(
    scenario: &Scenario,
    release: Option<&str>,
    recipes: &images::Recipes,
) -> Result<Vec<ImageSpec>> {
    scenario
        .hosts
        .iter()
        .map(|host| {
            let release = release
                .or(host.release.as_deref())
                .or(scenario.release.as_deref())
                .unwrap_or(images::DEFAULT_RELEASE);
            Ok(ImageSpec::load(recipes, release)?.with_packages(&host.packages))
        })
        .collect()
}

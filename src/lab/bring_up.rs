//! Getting a lab to run a scenario on: booting a new one (images → certificates → staged
//! archives → boot → configure), or attaching to one that is up (`cargo xtask verify`), with
//! what the earlier run recorded of its markers.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::fleet::Fleet;
use super::steps::MarkerRecord;
use super::{configure, phase, staging, timed, Deadlines, Host, HostSpec, Lab};
use crate::engine::Engine;
use crate::errors::{Error, Result};
use crate::images;
use crate::report::{Phase, Role};
use crate::scenario::Scenario;
use crate::{Progress, Say};

/// The run's private directory (its CAs and keys).
pub(super) enum PrivateDir {
    /// Made by this run: removed when it drops, unless kept with the lab.
    Owned(tempfile::TempDir),
    /// An attached lab's, made by the run that brought it up.
    Existing(PathBuf),
    /// An attached lab whose directory is gone (its certificates cannot be issued again).
    Missing,
}

impl PrivateDir {
    pub fn path(&self) -> Option<PathBuf> {
        match self {
            PrivateDir::Owned(dir) => Some(dir.path().to_path_buf()),
            PrivateDir::Existing(path) => Some(path.clone()),
            PrivateDir::Missing => None,
        }
    }

    /// Leaves it on disk with a kept lab (`cargo xtask down` or `clean --run` removes it).
    pub fn keep(self) {
        if let PrivateDir::Owned(dir) = self {
            let _ = dir.keep();
        }
    }
}

/// A lab ready for the steps.
pub(super) struct Up {
    pub lab: Lab,
    pub configuration: configure::Configured,
    pub private_dir: PrivateDir,
    pub run_id: String,
}

/// Whether the lab may stay after the run, and its name.
pub(super) struct Keeping<'a> {
    pub keep: bool,
    pub keep_on_failure: bool,
    pub up: bool,
    pub name: Option<&'a str>,
    /// Where the run's reports go: a label, so `ls` finds them from anywhere.
    pub reports: &'a std::path::Path,
}

/// Boots a new lab for `scenario`: builds missing images, issues certificates, stages each
/// host's archive, boots all hosts and configures them.
#[allow(clippy::too_many_arguments)]
pub(super) async fn boot(
    name: &str,
    scenario: &Scenario,
    options: Keeping<'_>,
    deadlines: &Deadlines,
    specs: &mut [HostSpec],
    default_release: &str,
    fleet: &Fleet,
    phases: &mut Vec<Phase>,
    progress: &Progress,
) -> Result<Up> {
    let engines = connect(fleet).await?;
    let clock_images = std::time::Instant::now();
    let mut built_any = false;
    let mut seen = std::collections::BTreeSet::new();
    for spec in specs.iter() {
        if seen.insert(spec.image.reference()) {
            built_any |= images::ensure(&engines[0], &spec.image, progress).await?;
        }
    }
    // Images are built once, on the first engine, and copied to the others that need them.
    let mut copied = std::collections::BTreeSet::new();
    for spec in specs.iter().filter(|s| s.engine != 0) {
        if copied.insert((spec.engine, spec.image.reference())) {
            let engine = &engines[spec.engine];
            if !images::exists(engine, &spec.image).await? {
                progress.news(format!(
                    "copying image {} to engine {}",
                    spec.image.reference(),
                    engine.name()
                ));
                engine
                    .copy_image_from(&engines[0], &spec.image.reference())
                    .await?;
                built_any = true;
            }
        }
    }
    if built_any {
        phases.push(phase("image", clock_images.elapsed()));
    }
    if fleet.is_spread() {
        let here: Vec<bool> =
            futures::future::join_all(engines.iter().map(Engine::is_on_this_machine)).await;
        refuse_steps_out_of_reach(scenario, specs, &engines, &here)?;
        // The engines on this machine draw on one inotify limit.
        super::check_host_limits(specs.iter().filter(|s| here[s.engine]).count())?;
    }

    let run_id = super::new_run_id();
    let clients = specs.iter().filter(|s| s.role == Role::Client).count();
    progress(crate::Event::RunStarted {
        run_id: run_id.clone(),
        scenario: name.to_string(),
        servers: specs.len() - clients,
        clients,
        release: default_release.to_string(),
    });
    let remaps = futures::future::join_all(engines.iter().map(Engine::remaps_users)).await;
    let exposed: Vec<&str> = engines
        .iter()
        .zip(remaps)
        .filter_map(|(engine, remaps)| super::kernel_exposure(remaps).map(|_| engine.name()))
        .collect();
    if let Some(note) = exposed.first().and_then(|_| super::kernel_exposure(false)) {
        match fleet.is_spread() {
            true => progress.warning(format!("engines {}: {note}", exposed.join(", "))),
            false => progress.warning(note),
        }
    }

    // Certificates (milliseconds with ECDSA) and each host's staged archive come first: the
    // archive goes in between create and start, so configuration overlaps boot.
    let pki_dir = crate::owner::run_private_dir(&run_id)?;
    let (credentials, pki_time) = timed(async {
        // A server published for other engines' clients answers to its engine's address too.
        let addresses = specs
            .iter()
            .filter_map(|s| Some((s.name.clone(), s.publish_across?.0)))
            .collect();
        staging::issue_credentials(pki_dir.path().to_path_buf(), scenario, &run_id, &addresses)
    })
    .await;
    let credentials = credentials?;
    phases.push(phase("pki", pki_time));
    let mut staged_additions = std::collections::BTreeMap::new();
    for spec in specs.iter_mut() {
        let host = scenario
            .host(&spec.name)
            .expect("specs come from the scenario");
        let files = staging::stage_files(scenario, host, &credentials[&spec.name]);
        staged_additions.insert(
            spec.name.clone(),
            super::additions::staged(scenario, host, &credentials[&spec.name], &files),
        );
        spec.stage = Some(staging::tar_archive(&files)?);
    }
    // Labelled "kept" from the start whenever it may stay, so that no `clean` takes it once this
    // process is gone; `up` and `--keep=on-failure` still remove it on every exit until the end.
    let may_keep = options.keep || options.keep_on_failure || options.up;
    let mut lab = Lab::create_named(engines, &run_id, may_keep, options.name).await?;
    lab.set_keep(options.keep && !options.up);
    let reports = std::path::absolute(options.reports).unwrap_or(options.reports.to_path_buf());
    lab.label(crate::engine::REPORTS_LABEL, &reports.display().to_string());
    if let (Some(name), Some(spec)) = (options.name, specs.first()) {
        lab.claim_name(name, &spec.image.reference()).await?;
    }
    let (booted, took) = timed(lab.boot(specs, deadlines.boot)).await;
    booted?;
    phases.push(phase("boot (with provisioning)", took));
    progress.milestone(format!(
        "{} hosts up in {:.1}s",
        specs.len(),
        took.as_secs_f64()
    ));

    let (configured, took) = timed(configure::configure(&lab, scenario, deadlines)).await;
    let mut configuration = configured?;
    // What was staged comes first, then what configuration added.
    for (host, mut added) in staged_additions {
        let later = configuration.added.remove(&host).unwrap_or_default();
        added.extend(later);
        configuration.added.insert(host, added);
    }
    phases.push(phase("configure", took));
    progress.news(format!("configured in {:.1}s", took.as_secs_f64()));
    Ok(Up {
        lab,
        configuration,
        private_dir: PrivateDir::Owned(pki_dir),
        run_id,
    })
}

/// Refuses, before anything boots, a step that needs a host to be on this machine's engine (a
/// blackhole enters its namespaces; `send` reaches its loopback port) when it is elsewhere.
fn refuse_steps_out_of_reach(
    scenario: &Scenario,
    specs: &[HostSpec],
    engines: &[Engine],
    on_this_machine: &[bool],
) -> Result<()> {
    use crate::scenario::Step;
    for (index, step) in scenario.steps.iter().enumerate() {
        let (host, what) = match step {
            Step::Fault { kind, host, .. } if kind.spec().needs_machine_root => (
                host,
                format!("fault {kind} on {host}: its rule goes into {host}'s own network namespace from this machine"),
            ),
            Step::Send { server, .. } => (
                server,
                format!("send to {server}: the host-side client reaches it on this machine's loopback"),
            ),
            _ => continue,
        };
        let Some(spec) = specs.iter().find(|s| &s.name == host) else {
            continue;
        };
        let engine = &engines[spec.engine];
        if !on_this_machine[spec.engine] {
            return Err(Error::InvalidSettings(format!(
                "steps[{index}] ({what}), but {host} is placed on engine {}, which is not on this \
                 machine: put servers on this machine's engine (--servers-on NAME)",
                engine.name()
            )));
        }
    }
    Ok(())
}

/// Connects to every engine of `fleet`, in its order (each must answer).
pub async fn connect(fleet: &Fleet) -> Result<Vec<Engine>> {
    let each = fleet
        .engines()
        .iter()
        .map(|spec| Engine::connect_to(&spec.name, &spec.url));
    futures::future::try_join_all(each).await
}

/// The engines `run` spreads over, as its label names them, connected; for a run on one
/// engine, the `connected` engines it was found on. So a lab brought up with
/// `--engine a=… --engine b=…` is reached by a `verify`, `converge`, `login` or `ls` that names
/// neither.
pub async fn engines_of(
    run: &crate::engine::RunOnEngine,
    connected: &[Engine],
) -> Result<Vec<Engine>> {
    if run.engines.is_empty() {
        return Ok(connected.to_vec());
    }
    let specs = run
        .engines
        .iter()
        .map(|(name, url)| super::fleet::EngineSpec::named(name, url))
        .collect();
    connect(&Fleet::new(specs, None)?).await
}

/// [`engines_of`] the run `run_id`, found on any engine of `known`.
pub(super) async fn engines_of_run(known: &Fleet, run_id: &str) -> Result<Vec<Engine>> {
    let engines = connect(known).await?;
    for engine in &engines {
        if let Some(run) = engine.runs().await?.into_iter().find(|r| r.id == run_id) {
            return engines_of(&run, &engines).await;
        }
    }
    Ok(engines)
}

/// Attaches to the lab of run `run_id` that is up, as `scenario` describes it.
pub(super) async fn attach(
    run_id: &str,
    scenario: &Scenario,
    fleet: &Fleet,
    progress: &Progress,
) -> Result<Up> {
    let engines = engines_of_run(fleet, run_id).await?;
    let lab = Lab::attach(engines, run_id, scenario).await?;
    progress.milestone(format!(
        "attached to lab {run_id} ({} hosts)",
        lab.hosts().len()
    ));
    let private_dir = crate::owner::private_dirs()
        .into_iter()
        .find(|d| d.run_id == run_id)
        .map_or(PrivateDir::Missing, |d| PrivateDir::Existing(d.path));
    Ok(Up {
        lab,
        configuration: configure::Configured::default(),
        private_dir,
        run_id: run_id.to_string(),
    })
}

/// The markers a run logged, as kept in its report directory for a later `verify`.
#[derive(Serialize, Deserialize)]
struct SavedMarker {
    host: String,
    server: String,
    text: String,
    seq: usize,
    #[serde(with = "time::serde::rfc3339")]
    logged_wall: time::OffsetDateTime,
    found_in: Option<String>,
}

const MARKERS_FILE: &str = "markers.json";

/// The scenario a kept lab was brought up with, as `verify` reads it.
pub const SCENARIO_FILE: &str = "scenario.yaml";

/// Writes what a later `verify` of a lab that stays needs, next to its run.json: the scenario
/// and the markers logged.
pub(super) fn save_for_verify(
    run_dir: &Path,
    scenario: &Scenario,
    markers: &[MarkerRecord],
) -> Result<()> {
    save_scenario(run_dir, scenario)?;
    save_markers(run_dir, markers)
}

/// Saves the scenario a kept lab now has (after `up`, or a `converge`) for `verify`.
pub fn save_scenario(run_dir: &Path, scenario: &Scenario) -> Result<()> {
    let path = run_dir.join(SCENARIO_FILE);
    // Files read from a `source:` are saved with their text: the copy stands on its own.
    let mut scenario = scenario.clone();
    for file in scenario.hosts.iter_mut().flat_map(|h| h.files.iter_mut()) {
        file.source = None;
    }
    let yaml = yaml_serde::to_string(&scenario)
        .map_err(|e| crate::errors::Error::InvalidSettings(format!("saving the scenario: {e}")))?;
    std::fs::write(&path, yaml).map_err(crate::errors::Error::io("writing", &path))
}

fn save_markers(run_dir: &Path, markers: &[MarkerRecord]) -> Result<()> {
    let saved: Vec<SavedMarker> = markers
        .iter()
        .map(|m| SavedMarker {
            host: m.host.clone(),
            server: m.server.clone(),
            text: m.text.clone(),
            seq: m.seq,
            logged_wall: m.logged_wall,
            found_in: m.found_in.clone(),
        })
        .collect();
    let path = run_dir.join(MARKERS_FILE);
    std::fs::write(&path, serde_json::to_string_pretty(&saved)?)
        .map_err(crate::errors::Error::io("writing", &path))
}

/// The markers `run_id`'s earlier run saved (none for a new run, or if there is no file).
pub(super) fn saved_markers(reports: &Path, run_id: &str, attached: bool) -> Vec<MarkerRecord> {
    if !attached {
        return Vec::new();
    }
    let Ok(text) = std::fs::read_to_string(reports.join(run_id).join(MARKERS_FILE)) else {
        return Vec::new();
    };
    let saved: Vec<SavedMarker> = serde_json::from_str(&text).unwrap_or_default();
    saved
        .into_iter()
        .map(|m| MarkerRecord {
            host: m.host,
            server: m.server,
            text: m.text,
            seq: m.seq,
            logged_at: std::time::Instant::now(),
            logged_wall: m.logged_wall,
            arrived_after: None,
            found_in: m.found_in,
        })
        .collect()
}

impl Lab {
    /// A lab that is up (`cargo xtask up`, `--keep`), found on the engine by its run id, with
    /// the hosts of `scenario` it still has. It is never removed by this value.
    pub async fn attach(
        engines: Vec<Engine>,
        run_id: &str,
        scenario: &crate::scenario::Scenario,
    ) -> Result<Lab> {
        // Each host with the engine it is on (a lab may spread over several).
        let mut found = Vec::new();
        for (index, engine) in engines.iter().enumerate() {
            for (host, container, state) in engine.hosts_of(run_id).await? {
                found.push((host, container, state, index));
            }
        }
        if found.is_empty() {
            return Err(Error::InvalidSettings(format!(
                "lab {run_id} has no hosts on the engine any more: it is gone (`{} ls` lists the labs that are up)", crate::command_name()
            )));
        }
        let mut hosts = Vec::new();
        for def in &scenario.hosts {
            let Some((_, container_name, state, engine)) =
                found.iter().find(|(h, _, _, _)| *h == def.name)
            else {
                return Err(Error::InvalidSettings(format!(
                    "lab {run_id} has no host {:?} any more (it has {})",
                    def.name,
                    found
                        .iter()
                        .map(|(h, _, _, _)| h.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            };
            if state != "running" {
                return Err(Error::InvalidSettings(format!(
                    "host {} of lab {run_id} is {state}, not running",
                    def.name
                )));
            }
            let publish = scenario.is_send_target(&def.name).then(|| def.port());
            let (ip, published) = engines[*engine]
                .addresses(container_name, run_id, publish)
                .await?;
            hosts.push(Host {
                name: def.name.clone(),
                role: def.role,
                container_name: container_name.clone(),
                ip,
                published,
                engine: *engine,
                reachable_at: None,
                id: container_name.clone(),
            });
        }
        Ok(Lab {
            engines,
            run_id: run_id.to_string(),
            hosts,
            keep: true,
            torn_down: false,
            labels: Vec::new(),
            _must_remove: crate::owner::MustRemove::new(),
        })
    }
}

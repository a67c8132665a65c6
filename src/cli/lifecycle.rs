//! Working with a lab the way people work with Molecule and Test Kitchen: `up` a scenario's lab
//! and keep it, `ls` what is up, `login` to a host, `down` when done.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::engine::{Engine, RunOnEngine};
use crate::{lab, report, scenario};
use anyhow::{anyhow, bail, Context};

use super::{print_outcome, progress, recipes};

/// `cargo xtask up`.
pub async fn up(
    file: PathBuf,
    release: Option<String>,
    setup: Option<PathBuf>,
    name: Option<String>,
    profile: super::values::ProfileArg,
    reports: PathBuf,
) -> anyhow::Result<ExitCode> {
    let (scenario_name, scenario) = scenario::builtin::resolve(&file)?;
    let scenario = match setup {
        Some(dir) => scenario::setup::Setup::load(&dir)?.lay_over(&scenario)?,
        None => scenario,
    };
    let name = name.unwrap_or_else(|| scenario_name.clone());
    valid_lab_name(&name)?;
    let engine = Engine::connect().await?;
    if let Some(run) = engine
        .runs()
        .await?
        .into_iter()
        .find(|r| r.name.as_deref() == Some(name.as_str()))
    {
        bail!(
            "a lab named {name:?} is already up (run {}): use it, take it down with `{} down --lab {name}`, or pick another --name",
            run.id,
            super::me()
        );
    }
    let mut options = lab::LabOptions::new(recipes(), reports.clone());
    options.release = release;
    options.mode = lab::RunMode::Up { name: name.clone() };
    profile.apply(&mut options);
    let outcome = lab::run_scenario(&scenario_name, &scenario, &options, &progress()).await?;
    let held = print_outcome(&scenario_name, &outcome);
    record(
        &reports,
        &outcome.report.run_id,
        "up",
        if held { "held" } else { "failed" },
    );
    println!(
        "\nlab {name} is up (run {}); it stays until `{} down --lab {name}`",
        outcome.report.run_id,
        super::me()
    );
    for host in &outcome.report.hosts {
        println!("  {} login {:<16} --lab {name}", super::me(), host.name);
    }
    Ok(ExitCode::SUCCESS)
}

/// A lab's name is a DNS label (its hosts' search domain is made from it).
pub(super) fn valid_lab_name(name: &str) -> anyhow::Result<()> {
    if !crate::pki::is_valid_name(name) || name.contains('.') {
        bail!(
            "lab name {name:?}: 2 to 63 letters, digits and dashes, not starting or ending with a \
             dash (a DNS label), e.g. --name my-lab"
        );
    }
    Ok(())
}

/// Each lifecycle action on a kept lab, one line each in its report directory
/// (`<time> <action> <outcome>`): what `ls` shows as its last action and state.
const LIFECYCLE_LOG: &str = "lifecycle.log";

fn record(reports: &std::path::Path, run_id: &str, action: &str, outcome: &str) {
    use std::io::Write;
    let dir = reports.join(run_id);
    let Ok(mut log) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(LIFECYCLE_LOG))
    else {
        return; // A lab without its report directory has no history to add to.
    };
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let _ = writeln!(log, "{now} {action} {outcome}");
}

/// The last action recorded for a lab: (action, outcome).
pub(super) fn last_action(reports: &std::path::Path, run_id: &str) -> Option<(String, String)> {
    let log = std::fs::read_to_string(reports.join(run_id).join(LIFECYCLE_LOG)).ok()?;
    let mut words = log.lines().last()?.split(' ').skip(1);
    Some((
        words.next()?.to_string(),
        words.next().unwrap_or("").to_string(),
    ))
}

/// Whether `run` is the caller's to act on, and if not, why: another user's lab, or a live run
/// of another process (the rule `clean` follows). `--force` overrides.
fn not_yours(run: &RunOnEngine) -> Option<String> {
    use crate::owner::{liveness, this_process, this_user, Liveness};
    if let Some(user) = run.user.as_deref().filter(|u| *u != this_user()) {
        return Some(format!("it belongs to {user} (you are {})", this_user()));
    }
    let live = liveness(run.owner.as_deref()) == Liveness::Alive
        && run.owner.as_deref() != Some(this_process());
    // A run kept with --keep is a lab that is up once its run has written its report; until
    // then it is the other process's, in the middle of its steps or checks (a `down --all` took
    // a running test suite's labs from under it). Its label says where the report goes.
    let reported = |dir: &String| {
        std::path::Path::new(dir)
            .join(&run.id)
            .join("run.json")
            .exists()
    };
    let going = run.kept && live && run.reports.as_ref().is_some_and(|dir| !reported(dir));
    if going {
        return Some(
            "its run is still going in another process (it is up, yours to act on, once that run has written its report)"
                .to_string(),
        );
    }
    (!run.kept && live)
        .then(|| "it is a live run of another process, not a lab that is up".to_string())
}

/// The labs that are up (kept on purpose), oldest first: the caller's, or everyone's.
pub(super) async fn labs(engine: &Engine, everyone: bool) -> anyhow::Result<Vec<RunOnEngine>> {
    Ok(engine
        .runs()
        .await?
        .into_iter()
        .filter(|r| r.kept && (everyone || not_yours(r).is_none()))
        .collect())
}

/// The lab `wanted` names (its name or run id), or the caller's only one that is up. A lab that
/// is not the caller's is refused unless `force`.
async fn resolve(
    engine: &Engine,
    wanted: Option<&str>,
    force: bool,
) -> anyhow::Result<RunOnEngine> {
    let runs = engine.runs().await?;
    if let Some(wanted) = wanted {
        let run = runs
            .into_iter()
            .find(|r| r.name.as_deref() == Some(wanted) || r.id == wanted)
            .ok_or_else(|| {
                anyhow!(
                    "no lab named {wanted:?} is on the engine (`{} ls` lists them)",
                    super::me()
                )
            })?;
        if let Some(why) = not_yours(&run).filter(|_| !force) {
            bail!("lab {wanted} is not yours to act on: {why}; --force acts on it anyway");
        }
        return Ok(run);
    }
    let mut up: Vec<RunOnEngine> = runs
        .into_iter()
        .filter(|r| r.kept && not_yours(r).is_none())
        .collect();
    match up.len() {
        0 => bail!(
            "no lab of yours is up: bring one up with `{} up SCENARIO`",
            super::me()
        ),
        1 => Ok(up.remove(0)),
        _ => bail!(
            "{} labs are up; say which with --lab: {}",
            up.len(),
            up.iter().map(label).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// How a lab is called: its name, or its run id.
pub(super) fn label(run: &RunOnEngine) -> String {
    run.name.clone().unwrap_or_else(|| run.id.clone())
}

/// The container of `host` in the lab `lab` names (the caller's unless `force`), or an error
/// listing the hosts it has.
async fn container_of(
    host: &str,
    lab: Option<&str>,
    force: bool,
) -> anyhow::Result<(Engine, RunOnEngine, String)> {
    let engines = lab::connect(&lab::fleet::Fleet::chosen()).await?;
    let run = resolve(&engines[0], lab, force).await?;
    let engines = lab::engines_of(&run, &engines).await?;
    let hosts = hosts_on(&engines, &run.id).await?;
    let Some((_, container, _, at)) = hosts.iter().find(|(h, _, _, _)| *h == host) else {
        let names: Vec<&str> = hosts.iter().map(|(h, _, _, _)| h.as_str()).collect();
        bail!(
            "lab {} has no host {host:?}; its hosts: {}",
            label(&run),
            if names.is_empty() {
                "none left".to_string()
            } else {
                names.join(", ")
            }
        );
    };
    let container = container.clone();
    let engine = engines[*at].clone();
    Ok((engine, run, container))
}

/// A lab's hosts on every engine of the fleet: (host, container, state, engine index).
pub(super) async fn hosts_on(
    engines: &[Engine],
    run_id: &str,
) -> anyhow::Result<Vec<(String, String, String, usize)>> {
    let mut all = Vec::new();
    for (index, engine) in engines.iter().enumerate() {
        for (host, container, state) in engine.hosts_of(run_id).await? {
            all.push((host, container, state, index));
        }
    }
    Ok(all)
}

/// `cargo xtask login`.
pub async fn login(host: String, lab: Option<String>, force: bool) -> anyhow::Result<ExitCode> {
    let (engine, run, container) = container_of(&host, lab.as_deref(), force).await?;
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        bail!(
            "login opens an interactive shell and needs a terminal; for one command use `{} exec {host} --lab {} -- COMMAND`",
            super::me(),
            label(&run)
        );
    }
    // An interactive terminal is the docker CLI's job; the API has no TTY to hand over.
    let status = std::process::Command::new("docker")
        .args(["-H", engine.endpoint(), "exec", "-it", &container, "bash"])
        .status()
        .with_context(|| {
            "running `docker exec -it`: an interactive shell needs the docker CLI (apt-get install docker.io, or docker-ce-cli)"
        })?;
    Ok(ExitCode::from(
        status.code().unwrap_or(1).clamp(0, 255) as u8
    ))
}

/// `converge [SCENARIO] [--setup DIR]`.
pub async fn converge(
    file: Option<PathBuf>,
    lab: Option<String>,
    setup: Option<PathBuf>,
    reports: PathBuf,
    force: bool,
) -> anyhow::Result<ExitCode> {
    let engine = Engine::connect().await?;
    let run = resolve(&engine, lab.as_deref(), force).await?;
    let run_dir = reports.join(&run.id);
    // The scenario as it is now: the one named, else the file the lab came from (its `source:`
    // files read again), else the copy saved with the lab.
    let recorded = report::read_run(&run_dir.join("run.json")).ok();
    let from_file = file.or_else(|| {
        recorded
            .as_ref()
            .and_then(|r| r.scenario_file.as_ref())
            .map(PathBuf::from)
            .filter(|p| p.is_file())
    });
    let scenario = match &from_file {
        Some(path) => scenario::builtin::resolve(path)?.1,
        None => {
            let saved = run_dir.join(lab::SCENARIO_FILE);
            if !saved.exists() {
                bail!(
                    "lab {} has no saved scenario ({} is missing): name the scenario to converge to",
                    label(&run),
                    saved.display()
                );
            }
            scenario::Scenario::load(&saved)?
        }
    };
    let scenario = match setup {
        Some(dir) => scenario::setup::Setup::load(&dir)?.lay_over(&scenario)?,
        None => scenario,
    };
    let converged = lab::converge::converge(
        &run.id,
        &scenario,
        &lab::fleet::Fleet::chosen(),
        &progress(),
    )
    .await?;
    super::progress::done();
    let mut changed = 0;
    for host in &converged {
        for path in &host.changed {
            println!("  {:<12} changed  {path}", host.host);
        }
        changed += host.changed.len();
    }
    let unchanged: usize = converged.iter().map(|h| h.unchanged.len()).sum();
    if changed == 0 {
        println!(
            "lab {}: nothing changed ({unchanged} files as the scenario says): converged",
            label(&run)
        );
    } else {
        println!(
            "lab {}: {changed} files changed, {unchanged} as they were; systemd reloaded and the journal units restarted where they changed",
            label(&run)
        );
    }
    if run_dir.is_dir() {
        lab::save_scenario(&run_dir, &scenario)?;
    }
    record(&reports, &run.id, "converge", &format!("{changed}-changed"));
    Ok(ExitCode::SUCCESS)
}

/// `exec HOST -- COMMAND`: one command in a host of a lab that is up, its output passed through
/// and its exit status returned (no terminal needed).
pub async fn exec(
    host: String,
    lab: Option<String>,
    command: Vec<String>,
    force: bool,
) -> anyhow::Result<ExitCode> {
    let (engine, _, container) = container_of(&host, lab.as_deref(), force).await?;
    // One shell word each, so the command arrives as it was typed.
    let script = command
        .iter()
        .map(|word| format!("'{}'", word.replace('\'', "'\\''")))
        .collect::<Vec<_>>()
        .join(" ");
    let output = engine
        .exec(&container, &script, std::time::Duration::from_secs(600))
        .await?;
    print!("{}", output.stdout);
    eprint!("{}", output.stderr);
    Ok(ExitCode::from(output.exit_code.clamp(0, 255) as u8))
}

/// `cargo xtask down`.
pub async fn down(lab: Option<String>, all: bool, force: bool) -> anyhow::Result<ExitCode> {
    let engines = lab::connect(&lab::fleet::Fleet::chosen()).await?;
    let engine = engines[0].clone();
    let runs = if all {
        labs(&engine, force).await?
    } else {
        match lab.as_deref() {
            // Taking down what is not there is done already (Molecule's destroy is idempotent).
            Some(wanted)
                if !engine
                    .runs()
                    .await?
                    .iter()
                    .any(|r| r.name.as_deref() == Some(wanted) || r.id == wanted) =>
            {
                println!("lab {wanted} is not up: nothing to take down");
                return Ok(ExitCode::SUCCESS);
            }
            _ => match resolve(&engine, lab.as_deref(), force).await {
                Ok(run) => vec![run],
                // A bare `down` with no lab of the caller's up has nothing to do; a named lab
                // that is not the caller's is refused (the error says why).
                Err(_) if lab.is_none() && labs(&engine, force).await?.is_empty() => Vec::new(),
                Err(e) => return Err(e),
            },
        }
    };
    if runs.is_empty() {
        println!("no lab is up: nothing to take down");
    }
    for run in runs {
        let which = lab::clean::Which::Run(run.id.clone());
        let cleaned = lab::clean::clean(&engines, &which, false).await?;
        // Its hosts' containers (the name's claim is not a host).
        let hosts = |swept: &crate::engine::Swept| {
            swept
                .containers
                .iter()
                .filter(|name| !name.starts_with(lab::NAME_CLAIM_PREFIX))
                .count()
        };
        let (containers, networks) = cleaned.removed.iter().fold((0, 0), |(c, n), (_, s)| {
            (c + hosts(s), n + s.networks.len())
        });
        println!(
            "lab {} (run {}) is down: removed {containers} containers, {networks} networks{}",
            label(&run),
            run.id,
            if cleaned.dirs_removed.is_empty() {
                ""
            } else {
                " and its private directory"
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `cargo xtask verify`.
pub async fn verify(
    lab: Option<String>,
    checks: Vec<String>,
    phase: Option<String>,
    steps: bool,
    profile: super::values::ProfileArg,
    reports: PathBuf,
    force: bool,
) -> anyhow::Result<ExitCode> {
    let engine = Engine::connect().await?;
    let run = resolve(&engine, lab.as_deref(), force).await?;
    let file = reports.join(&run.id).join(lab::SCENARIO_FILE);
    if !file.exists() {
        bail!(
            "lab {} has no saved scenario ({} is missing): only labs brought up with `up` or `--keep` can be verified",
            label(&run),
            file.display()
        );
    }
    let scenario = scenario::Scenario::load(&file)?;
    let name = report::read_run(&reports.join(&run.id).join("run.json"))
        .map(|r| r.scenario)
        .unwrap_or_else(|_| label(&run));
    let mut options = lab::LabOptions::new(recipes(), reports.clone());
    profile.apply(&mut options);
    let mut verified = Vec::new();
    for id in &checks {
        let Some(check) = crate::checks::CheckId::named(id) else {
            bail!(
                "unknown check {id:?}; the scenario's: {}",
                scenario
                    .checks
                    .iter()
                    .map(|c| c.id.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        };
        verified.push(check);
    }
    // A verification that checks nothing must not pass.
    let due_phase = phase
        .clone()
        .unwrap_or_else(|| scenario::FINAL_PHASE.to_string());
    let due = scenario
        .checks
        .iter()
        .filter(|c| c.phases.contains(&due_phase))
        .filter(|c| verified.is_empty() || verified.contains(&c.id))
        .count();
    options.mode = lab::RunMode::Verify {
        run_id: run.id.clone(),
        steps,
        phase,
        checks: verified,
    };
    let phase = due_phase;
    if due == 0 {
        let mut phases: Vec<&str> = scenario
            .checks
            .iter()
            .flat_map(|c| c.phases.iter().map(String::as_str))
            .collect();
        phases.sort();
        phases.dedup();
        bail!(
            "nothing to verify: no check of the scenario{} is evaluated in phase {phase:?} (its phases: {}; its checks: {})",
            if checks.is_empty() { String::new() } else { format!(" named {}", checks.join(", ")) },
            phases.join(", "),
            scenario.checks.iter().map(|c| c.id.to_string()).collect::<Vec<_>>().join(", ")
        );
    }
    let outcome = lab::run_scenario(&name, &scenario, &options, &progress()).await?;
    let ok = print_outcome(&name, &outcome);
    record(
        &reports,
        &run.id,
        "verify",
        if ok { "held" } else { "failed" },
    );
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A lab kept with --keep whose run is still going in another process (its report not yet
    /// written) is not the caller's to take down without --force; once its report is there, or
    /// its process has ended, it is.
    #[test]
    fn a_kept_run_still_going_elsewhere_is_not_yours() {
        let reports = tempfile::tempdir().unwrap();
        let mut other = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let mut run = RunOnEngine {
            id: "jl-20261207-000000-00000000".into(),
            owner: Some(crate::owner::owner_of(other.id())),
            kept: true,
            name: None,
            user: Some(crate::owner::this_user().to_string()),
            objects: 2,
            engines: Vec::new(),
            reports: Some(reports.path().display().to_string()),
        };
        let going = not_yours(&run);
        let dir = reports.path().join(&run.id);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("run.json"), "{}").unwrap();
        let reported = not_yours(&run);
        std::fs::remove_file(dir.join("run.json")).unwrap();
        other.kill().unwrap();
        other.wait().unwrap();
        assert!(
            going
                .as_deref()
                .is_some_and(|w| w.contains("still going in another process")),
            "{going:?}"
        );
        assert_eq!(
            reported, None,
            "its report is written: the lab is up, and yours"
        );
        assert_eq!(not_yours(&run), None, "its process has ended");
        run.reports = None;
        assert_eq!(
            not_yours(&run),
            None,
            "an older run without the label: as before"
        );
    }
}

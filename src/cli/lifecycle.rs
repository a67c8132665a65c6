//! Working with a lab the way people work with Molecule and Test Kitchen: `up` a scenario's lab
//! and keep it, `ls` what is up, `login` to a host, `down` when done.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::engine::{Engine, RunOnEngine};
use crate::{lab, report, scenario};
use anyhow::{anyhow, bail, Context};

use super::{images_dir, print_outcome, progress};

/// `cargo xtask up`.
pub async fn up(
    file: PathBuf,
    release: Option<String>,
    name: Option<String>,
    profile: crate::checks::ProfileMode,
    reports: PathBuf,
) -> anyhow::Result<ExitCode> {
    let (scenario_name, scenario) = scenario::builtin::resolve(&file)?;
    let name = name.unwrap_or_else(|| scenario_name.clone());
    if !crate::pki::is_valid_name(&name) || name.contains('.') {
        bail!("lab name {name:?}: letters, digits and dashes (a DNS label), e.g. --name my-lab");
    }
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
    let mut options = lab::LabOptions::new(images_dir(), reports);
    options.release = release;
    options.up = true;
    options.profile = profile;
    options.name = Some(name.clone());
    let outcome = lab::run_scenario(&scenario_name, &scenario, &options, &progress()).await?;
    print_outcome(&scenario_name, &outcome);
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

/// The labs that are up (kept on purpose), oldest first.
async fn labs(engine: &Engine) -> anyhow::Result<Vec<RunOnEngine>> {
    Ok(engine
        .runs()
        .await?
        .into_iter()
        .filter(|r| r.kept)
        .collect())
}

/// The lab `wanted` names (its name or run id), or the only one that is up.
async fn resolve(engine: &Engine, wanted: Option<&str>) -> anyhow::Result<RunOnEngine> {
    let runs = engine.runs().await?;
    if let Some(wanted) = wanted {
        return runs
            .into_iter()
            .find(|r| r.name.as_deref() == Some(wanted) || r.id == wanted)
            .ok_or_else(|| {
                anyhow!(
                    "no lab named {wanted:?} is on the engine (`{} ls` lists them)",
                    super::me()
                )
            });
    }
    let mut up: Vec<RunOnEngine> = runs.into_iter().filter(|r| r.kept).collect();
    match up.len() {
        0 => bail!(
            "no lab is up: bring one up with `{} up SCENARIO`",
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

fn label(run: &RunOnEngine) -> String {
    run.name.clone().unwrap_or_else(|| run.id.clone())
}

/// How long ago a run started, from its id (`jl-YYYYMMDD-HHMMSS-xxxx`).
fn age(run_id: &str) -> String {
    let format = time::macros::format_description!("[year][month][day]-[hour][minute][second]");
    let started = run_id
        .strip_prefix("jl-")
        .and_then(|rest| rest.get(..15))
        .and_then(|stamp| time::PrimitiveDateTime::parse(stamp, format).ok())
        .map(|t| t.assume_utc());
    match started {
        Some(t) => {
            let minutes = (time::OffsetDateTime::now_utc() - t).whole_minutes();
            if minutes < 60 {
                format!("{minutes} min")
            } else {
                format!("{} h {} min", minutes / 60, minutes % 60)
            }
        }
        None => "?".into(),
    }
}

/// `cargo xtask ls`.
pub async fn ls(reports: PathBuf) -> anyhow::Result<ExitCode> {
    let engine = Engine::connect().await?;
    let labs = labs(&engine).await?;
    if labs.is_empty() {
        println!(
            "no lab is up (bring one up with `{} up SCENARIO`)",
            super::me()
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<20} {:<26} {:<12} {:<20} hosts",
        "lab", "run", "age", "scenario"
    );
    for run in labs {
        let scenario = report::read_run(&reports.join(&run.id).join("run.json"))
            .map(|r| r.scenario)
            .unwrap_or_else(|_| "?".into());
        let hosts: Vec<String> = engine
            .hosts_of(&run.id)
            .await?
            .into_iter()
            .map(|(host, _, state)| {
                if state == "running" {
                    host
                } else {
                    format!("{host} ({state})")
                }
            })
            .collect();
        println!(
            "{:<20} {:<26} {:<12} {:<20} {}",
            label(&run),
            run.id,
            age(&run.id),
            scenario,
            if hosts.is_empty() {
                "(none left)".to_string()
            } else {
                hosts.join(", ")
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `cargo xtask login`.
pub async fn login(host: String, lab: Option<String>) -> anyhow::Result<ExitCode> {
    let engine = Engine::connect().await?;
    let run = resolve(&engine, lab.as_deref()).await?;
    let hosts = engine.hosts_of(&run.id).await?;
    let Some((_, container, _)) = hosts.iter().find(|(h, _, _)| *h == host) else {
        let names: Vec<&str> = hosts.iter().map(|(h, _, _)| h.as_str()).collect();
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
        .args(["exec", "-it", container, "bash"])
        .status()
        .with_context(|| {
            "running `docker exec -it`: an interactive shell needs the docker CLI (apt-get install docker.io, or docker-ce-cli)"
        })?;
    Ok(ExitCode::from(
        status.code().unwrap_or(1).clamp(0, 255) as u8
    ))
}

/// `exec HOST -- COMMAND`: one command in a host of a lab that is up, its output passed through
/// and its exit status returned (no terminal needed).
pub async fn exec(
    host: String,
    lab: Option<String>,
    command: Vec<String>,
) -> anyhow::Result<ExitCode> {
    let engine = Engine::connect().await?;
    let run = resolve(&engine, lab.as_deref()).await?;
    let hosts = engine.hosts_of(&run.id).await?;
    let Some((_, container, _)) = hosts.iter().find(|(h, _, _)| *h == host) else {
        let names: Vec<&str> = hosts.iter().map(|(h, _, _)| h.as_str()).collect();
        bail!(
            "lab {} has no host {host:?}; its hosts: {}",
            label(&run),
            names.join(", ")
        );
    };
    // One shell word each, so the command arrives as it was typed.
    let script = command
        .iter()
        .map(|word| format!("'{}'", word.replace('\'', "'\\''")))
        .collect::<Vec<_>>()
        .join(" ");
    let output = engine
        .exec(container, &script, std::time::Duration::from_secs(600))
        .await?;
    print!("{}", output.stdout);
    eprint!("{}", output.stderr);
    Ok(ExitCode::from(output.exit_code.clamp(0, 255) as u8))
}

/// `cargo xtask down`.
pub async fn down(lab: Option<String>, all: bool) -> anyhow::Result<ExitCode> {
    let engine = Engine::connect().await?;
    let runs = if all {
        labs(&engine).await?
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
            _ => match resolve(&engine, lab.as_deref()).await {
                Ok(run) => vec![run],
                Err(_) if labs(&engine).await?.is_empty() => Vec::new(),
                Err(e) => return Err(e),
            },
        }
    };
    if runs.is_empty() {
        println!("no lab is up: nothing to take down");
    }
    for run in runs {
        let which = lab::clean::Which::Run(run.id.clone());
        let cleaned = lab::clean::clean(&engine, &which).await?;
        let (containers, networks) = cleaned.removed.iter().fold((0, 0), |(c, n), (_, s)| {
            (c + s.containers.len(), n + s.networks.len())
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
    profile: crate::checks::ProfileMode,
    reports: PathBuf,
) -> anyhow::Result<ExitCode> {
    let engine = Engine::connect().await?;
    let run = resolve(&engine, lab.as_deref()).await?;
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
    let mut options = lab::LabOptions::new(images_dir(), reports);
    options.attach = Some(run.id.clone());
    options.profile = profile;
    options.verify_steps = steps;
    options.verify_phase = phase;
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
        options.verify_checks.push(check);
    }
    // A verification that checks nothing must not pass.
    let phase = options
        .verify_phase
        .clone()
        .unwrap_or_else(|| scenario::FINAL_PHASE.to_string());
    let due = scenario
        .checks
        .iter()
        .filter(|c| c.phases.contains(&phase))
        .filter(|c| options.verify_checks.is_empty() || options.verify_checks.contains(&c.id))
        .count();
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
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

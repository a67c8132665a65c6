//! Faults: what operators meet in the field, injected on a schedule while workloads run. Each
//! fault's start and end are recorded (the history the accounting is read against), and every
//! fault still in force is undone at the end of the steps; a paused host is also thawed by the
//! sweep, so no exit path leaves one frozen.

use std::time::Duration;

use super::super::{Deadlines, Host, Lab};
use super::RunState;
use crate::checks::history::What;
use crate::domain::FaultAction;
use crate::errors::Result;
use crate::scenario::{FaultKind, Scenario, DEFAULT_PORT};
use crate::{Progress, Say};

/// Why this machine cannot do a fault from the machine itself, if it cannot (blackhole: the rule
/// goes into the server's own network namespace, never the machine's, with this machine's
/// iptables, as root, which needs the engine to be local).
pub fn machine_root_unavailable() -> Option<String> {
    let on_path = |tool: &str| {
        std::env::var_os("PATH")
            .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(tool).is_file()))
    };
    if std::env::var("DOCKER_HOST").is_ok_and(|h| !h.starts_with("unix://")) {
        return Some(
            "the engine is remote (DOCKER_HOST): the rule must be set where the containers run"
                .into(),
        );
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Some("it needs root: run the lab as root (e.g. with sudo)".into());
    }
    for (tool, package) in [("nsenter", "util-linux"), ("iptables", "iptables")] {
        if !on_path(tool) {
            return Some(format!(
                "`{tool}` is not installed: `sudo apt-get install -y {package}`"
            ));
        }
    }
    None
}

/// `iptables` in `host`'s network namespace (never the machine's own tables).
async fn in_host_netns(lab: &Lab, host: &Host, rule: &[&str]) -> Result<()> {
    let inspected = lab
        .engine_of(host)
        .docker()
        .inspect_container(host.id(), None)
        .await
        .map_err(crate::errors::Error::docker(format!(
            "inspecting {}",
            host.name
        )))?;
    let pid = inspected
        .state
        .and_then(|s| s.pid)
        .filter(|p| *p > 0)
        .ok_or_else(|| {
            crate::errors::Error::InvalidSettings(format!("{} is not running", host.name))
        })?;
    let out = tokio::process::Command::new("nsenter")
        .args(["-t", &pid.to_string(), "-n", "iptables"])
        .args(rule)
        .output()
        .await
        .map_err(crate::errors::Error::io("running", "nsenter"))?;
    if out.status.success() {
        return Ok(());
    }
    Err(crate::errors::Error::HostCommand {
        host: host.name.clone(),
        command: format!("nsenter -t {pid} -n iptables {}", rule.join(" ")),
        exit_code: out.status.code().unwrap_or(-1).into(),
        output: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// Does one side of a fault, as its entry says; `port` is journal-remote's on the host.
async fn apply(
    lab: &Lab,
    host: &Host,
    port: u16,
    action: FaultAction,
    deadlines: &Deadlines,
) -> Result<()> {
    match action {
        FaultAction::InHost(command) => lab
            .exec_ok(host, command, deadlines.command)
            .await
            .map(drop),
        FaultAction::Freeze(frozen) => lab.engine_of(host).set_paused(host.id(), frozen).await,
        FaultAction::Connect(connected) => {
            lab.engine_of(host)
                .set_connected(host.id(), lab.run_id(), connected)
                .await
        }
        FaultAction::DropToRemotePort(on) => {
            let port = port.to_string();
            let action = if on { "-I" } else { "-D" };
            let rule = [action, "INPUT", "-p", "tcp", "--dport", &port, "-j", "DROP"];
            in_host_netns(lab, host, &rule).await
        }
        FaultAction::Nothing => Ok(()),
    }
}

/// Starts a fault; with a duration, waits it out and undoes it.
/// A fault on a host: its kind, and journal-remote's port there (for blackhole).
pub(super) struct Fault<'a> {
    pub host: &'a Host,
    pub port: u16,
    pub kind: FaultKind,
}

impl<'a> Fault<'a> {
    /// The fault `kind` on the lab host named `host` (validated with the scenario).
    pub fn on(lab: &'a Lab, scenario: &Scenario, host: &str, kind: FaultKind) -> Fault<'a> {
        Fault {
            host: lab.host(host).expect("validated host"),
            port: scenario.host(host).map_or(DEFAULT_PORT, |h| h.port()),
            kind,
        }
    }
}

pub(super) async fn start(
    lab: &Lab,
    fault: Fault<'_>,
    duration: Option<u64>,
    state: &mut RunState,
    deadlines: &Deadlines,
    progress: &Progress,
) -> Result<()> {
    let (host, kind) = (fault.host, fault.kind);
    apply(lab, host, fault.port, kind.spec().start, deadlines).await?;
    state
        .history
        .record(&host.name, What::Fault(kind), !kind.spec().single_blow);
    progress.milestone(format!("fault {kind} on {} started", host.name));
    if let Some(seconds) = duration {
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        end(lab, fault, state, deadlines, progress).await?;
    }
    Ok(())
}

/// Undoes a fault in force.
pub(super) async fn end(
    lab: &Lab,
    fault: Fault<'_>,
    state: &mut RunState,
    deadlines: &Deadlines,
    progress: &Progress,
) -> Result<()> {
    let (host, kind) = (fault.host, fault.kind);
    apply(lab, host, fault.port, kind.spec().stop, deadlines).await?;
    if let Some(in_force) = state.history.fault_in_force(kind, &host.name) {
        state.history.end(in_force);
    }
    progress.milestone(format!("fault {kind} on {} ended", host.name));
    Ok(())
}

/// Ends every fault still in force (the steps are over).
pub async fn end_all(
    lab: &Lab,
    scenario: &Scenario,
    state: &mut RunState,
    deadlines: &Deadlines,
    progress: &Progress,
) -> Result<()> {
    let open: Vec<(FaultKind, String)> = state
        .history
        .faults()
        .filter(|(event, _)| event.ended.is_none())
        .map(|(event, kind)| (kind, event.host.clone()))
        .collect();
    for (kind, name) in open {
        if lab.host(&name).is_some() {
            end(
                lab,
                Fault::on(lab, scenario, &name, kind),
                state,
                deadlines,
                progress,
            )
            .await?;
        }
    }
    Ok(())
}

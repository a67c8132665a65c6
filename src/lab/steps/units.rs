//! Steps on hosts and their units: `run` a command, `unit` (systemctl), `restart` a host.

use super::super::{Deadlines, Lab};
use super::RunState;
use crate::engine;
use crate::errors::{Error, Result};
use crate::scenario::{Hosts, Scenario, UnitAction};
use crate::{Progress, Say};

pub(super) async fn run_command(
    lab: &Lab,
    host: &str,
    command: &str,
    may_fail: bool,
    state: &mut RunState,
    deadlines: &Deadlines,
    progress: &Progress,
) -> Result<()> {
    let host = lab.host(host).expect("validated host");
    let out = lab.exec(host, command, deadlines.command).await?;
    state.last_run = Some((
        host.name.clone(),
        command.to_string(),
        out.exit_code,
        out.combined(),
    ));
    progress.news(format!(
        "{}: `{}` exited {}",
        host.name,
        engine::first_line(command),
        out.exit_code
    ));
    if !out.success() && !may_fail {
        return Err(Error::HostCommand {
            host: host.name.clone(),
            command: command.to_string(),
            exit_code: out.exit_code,
            output: out.combined(),
        });
    }
    Ok(())
}

pub(super) async fn unit(
    lab: &Lab,
    scenario: &Scenario,
    hosts: &Hosts,
    action: UnitAction,
    unit: &str,
    deadlines: &Deadlines,
    progress: &Progress,
) -> Result<()> {
    // Validated as a unit name when the scenario was loaded; quoted all the same.
    let command = format!(
        "systemctl {} '{}' 2>&1",
        action.systemctl(),
        unit.replace('\'', "")
    );
    let runs = super::selected(lab, scenario, hosts)
        .into_iter()
        .map(|host| lab.exec_ok(host, &command, deadlines.command));
    futures::future::try_join_all(runs).await?;
    progress.news(format!(
        "`{command}` on {}",
        scenario.select(hosts).join(", ")
    ));
    Ok(())
}

pub(super) async fn restart(
    lab: &Lab,
    host: &str,
    how: crate::scenario::RestartMode,
    deadlines: &Deadlines,
    progress: &Progress,
) -> Result<()> {
    let host = lab.host(host).expect("validated host");
    let clock = std::time::Instant::now();
    lab.restart(host, how, deadlines.boot).await?;
    progress.news(format!(
        "{} restarted ({how}) in {:.1}s",
        host.name,
        clock.elapsed().as_secs_f64()
    ));
    Ok(())
}

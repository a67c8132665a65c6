//! Faults: what operators meet in the field, injected on a schedule while workloads run. Each
//! fault's start and end are recorded (the history the accounting is read against), and every
//! fault still in force is undone at the end of the steps; a paused host is also thawed by the
//! sweep, so no exit path leaves one frozen.

use std::time::Duration;

use time::OffsetDateTime;

use super::super::{Deadlines, Host, Lab};
use super::RunState;
use crate::domain::{REMOTE_SOCKET, REMOTE_UNIT, UPLOAD_UNIT};
use crate::errors::Result;
use crate::report::FaultWindow;
use crate::scenario::FaultKind;
use crate::Progress;

async fn apply(
    lab: &Lab,
    host: &Host,
    kind: FaultKind,
    on: bool,
    deadlines: &Deadlines,
) -> Result<()> {
    match kind {
        FaultKind::ServerDown => {
            let command = if on {
                format!("systemctl stop {REMOTE_SOCKET} {REMOTE_UNIT} 2>&1")
            } else {
                format!("systemctl start {REMOTE_SOCKET} 2>&1")
            };
            lab.run(host, &command, deadlines.command).await.map(drop)
        }
        FaultKind::KillUpload if on => lab
            .run(
                host,
                &format!("systemctl kill -s KILL {UPLOAD_UNIT} 2>&1"),
                deadlines.command,
            )
            .await
            .map(drop),
        FaultKind::KillUpload => Ok(()),
        FaultKind::Pause => lab.engine().set_paused(host.id(), on).await,
        FaultKind::Partition => {
            lab.engine()
                .set_connected(host.id(), lab.run_id(), !on)
                .await
        }
    }
}

/// Starts a fault; with a duration, waits it out and undoes it.
pub(super) async fn start(
    lab: &Lab,
    host: &Host,
    kind: FaultKind,
    duration: Option<u64>,
    state: &mut RunState,
    deadlines: &Deadlines,
    progress: &Progress,
) -> Result<()> {
    apply(lab, host, kind, true, deadlines).await?;
    let started = OffsetDateTime::now_utc();
    let single_blow = kind == FaultKind::KillUpload;
    state.faults.push(FaultWindow {
        kind,
        host: host.name.clone(),
        started,
        ended: single_blow.then_some(started),
    });
    progress(&format!("fault {kind:?} on {} started", host.name));
    if let Some(seconds) = duration {
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        end(lab, host, kind, state, deadlines, progress).await?;
    }
    Ok(())
}

/// Undoes a fault in force.
pub(super) async fn end(
    lab: &Lab,
    host: &Host,
    kind: FaultKind,
    state: &mut RunState,
    deadlines: &Deadlines,
    progress: &Progress,
) -> Result<()> {
    apply(lab, host, kind, false, deadlines).await?;
    if let Some(window) = state
        .faults
        .iter_mut()
        .rev()
        .find(|w| w.kind == kind && w.host == host.name && w.ended.is_none())
    {
        window.ended = Some(OffsetDateTime::now_utc());
    }
    progress(&format!("fault {kind:?} on {} ended", host.name));
    Ok(())
}

/// Ends every fault still in force (the steps are over).
pub async fn end_all(
    lab: &Lab,
    state: &mut RunState,
    deadlines: &Deadlines,
    progress: &Progress,
) -> Result<()> {
    let open: Vec<(FaultKind, String)> = state
        .faults
        .iter()
        .filter(|w| w.ended.is_none())
        .map(|w| (w.kind, w.host.clone()))
        .collect();
    for (kind, name) in open {
        if let Some(host) = lab.host(&name) {
            end(lab, host, kind, state, deadlines, progress).await?;
        }
    }
    Ok(())
}

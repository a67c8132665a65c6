//! Accounting through relays: a client's messages are judged where they end (the last server of
//! its route), and each relay on the way is counted too, so a loss is placed on the hop that
//! caused it (two hops: client -> relay, relay -> destination).

use super::lines::{lines_command, JournalOf};
use super::{parse_arrivals, verdict, Workload};
use crate::checks::Target;
use crate::domain::Status;

/// Where the verdict is judged: the last server of the client's route.
pub fn destination<'a>(target: &Target<'a>) -> Option<&'a str> {
    target.route.last().copied().or(target.server)
}

/// `target`'s workload messages in the remote journals of `server`, in their order, with the
/// read kept as evidence. The command is the delivery reads' (timed, every host's): a phase's
/// batch reads each server once for all its clients.
pub async fn read_arrivals(
    target: &Target<'_>,
    server: &str,
    evidence: &mut Vec<String>,
) -> crate::Result<Vec<(u32, u64)>> {
    let command = lines_command(target.run_id, None, JournalOf::Remote, true);
    let out = target.observer.exec(server, &command).await?;
    let arrivals = parse_arrivals(&out.stdout, target.host);
    evidence.push(format!(
        "[{server}]$ {command}  (exit {}): {} workload lines of {}",
        out.exit_code,
        arrivals.len(),
        target.host
    ));
    Ok(arrivals)
}

/// What each relay before the destination holds of the client's workload, read and accounted
/// against what the client logged: one sentence per relay, for the verdict.
pub async fn relay_hops(
    target: &Target<'_>,
    workloads: &[Workload],
    logged: &[(u32, u64)],
    evidence: &mut Vec<String>,
) -> crate::Result<Vec<String>> {
    let relays = &target.route[..target.route.len().saturating_sub(1)];
    let mut hops = Vec::new();
    for relay in relays {
        let arrivals = read_arrivals(target, relay, evidence).await?;
        let (status, text) = verdict(workloads, logged, &arrivals);
        let judged = if status == Status::Pass {
            "exactly once"
        } else {
            "not exactly once"
        };
        hops.push(format!("at relay {relay} ({judged}): {text}"));
    }
    Ok(hops)
}

//! Steps: what a scenario does to its hosts after they are configured, one family per module.
//! Each records what the checks will read in [`RunState`]; `evaluate` steps are the runner's.

mod faults;
mod markers;
mod remediations;
mod sealing;
mod send;
mod soak;
mod units;
mod workload;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use super::{Deadlines, Host, Lab};
use crate::checks::history::{History, What};
use crate::errors::Result;
use crate::scenario::{Hosts, Scenario, Step};
use crate::{Progress, Say};

pub use faults::{end_all as end_faults, machine_root_unavailable};
pub use markers::note_arrivals;

/// A marker logged during the run, and what became of it.
#[derive(Debug, Clone)]
pub struct MarkerRecord {
    pub host: String,
    pub server: String,
    pub text: String,
    /// Order of logging across the run (proves "later").
    pub seq: usize,
    pub logged_at: Instant,
    pub logged_wall: time::OffsetDateTime,
    /// Seconds from logging to first sight on the server, if seen while waiting.
    pub arrived_after: Option<f64>,
    pub found_in: Option<String>,
}

/// What happened during the steps, for the checks to read.
#[derive(Default)]
pub struct RunState {
    /// What the steps did, with when: faults, restarts, workloads, remediations, sealing (the
    /// verification key stays in memory and the private directory), tampering, sends.
    pub history: History,
    pub markers: Vec<MarkerRecord>,
    /// Output of curl senders, per host.
    pub sender_logs: BTreeMap<String, Vec<String>>,
    /// When the last wait for markers saw every marker that had to arrive (None if a wait ended
    /// without one of them: then the run has no such moment).
    pub all_delivered_at: Option<Instant>,
    pub some_undelivered: bool,
    /// The run's private directory (0700), for what must not reach a report.
    pub private_dir: Option<PathBuf>,
    /// Workloads still being logged in the background.
    pub background: Vec<workload::Running>,
    /// While workloads log in the background: the watch noting when each message arrives.
    pub arrival_watch: Option<workload::ArrivalWatch>,
    /// Seconds from the end of logging to delivery settled, at the last wait for it.
    pub settled_after: Option<f64>,
    /// When the harness first saw each workload message on a server (unix seconds), by
    /// (host, stream, seq): with its logging time, its delivery latency.
    pub first_seen: workload::FirstSeen,
    /// What the last `run` step ran and printed: (host, command, exit status, output).
    pub last_run: Option<(String, String, i64, String)>,
    /// What every evaluation's checks were told, in order (stored with the run, to judge it
    /// again: `report rejudge`).
    pub evaluations: Vec<crate::checks::recorded::Evaluation>,
    /// After a failed step: each host's journald state, the evidence of the checks it kept from
    /// judging.
    pub journald: BTreeMap<String, String>,
}

impl RunState {
    pub fn last_marker(&self, host: &str) -> Option<&MarkerRecord> {
        self.markers.iter().rev().find(|m| m.host == host)
    }
}

/// Performs one step (all but `evaluate`, which the runner handles).
pub async fn perform(
    lab: &Lab,
    scenario: &Scenario,
    step: &Step,
    state: &mut RunState,
    deadlines: &Deadlines,
    progress: &Progress,
) -> Result<()> {
    match step {
        Step::LogMarkers { hosts, deadline } => {
            let hosts = selected(lab, scenario, hosts);
            let deadlines = Deadlines {
                deliver: deadline.map_or(deadlines.deliver, std::time::Duration::from_secs),
                ..deadlines.clone()
            };
            markers::log_markers(lab, scenario, &hosts, state, &deadlines, progress).await
        }
        Step::Run {
            host,
            command,
            may_fail,
            timeout,
        } => {
            let deadlines = Deadlines {
                command: timeout.map_or(deadlines.command, std::time::Duration::from_secs),
                ..deadlines.clone()
            };
            units::run_command(lab, host, command, *may_fail, state, &deadlines, progress).await
        }
        Step::Unit {
            hosts,
            action,
            unit,
        } => units::unit(lab, scenario, hosts, *action, unit, deadlines, progress).await,
        Step::Remediate { rule, hosts } => {
            let states =
                remediations::apply_twice(lab, &selected(lab, scenario, hosts), *rule, deadlines)
                    .await?;
            for (host, (first, second)) in states {
                state
                    .history
                    .record(&host, What::Remediated { first, second }, false);
            }
            progress.news(format!(
                "remediation {rule:?} applied (twice) on {}",
                scenario.select(hosts).join(", ")
            ));
            Ok(())
        }
        Step::Restart { host, how } => {
            let started = time::OffsetDateTime::now_utc();
            units::restart(lab, host, *how, deadlines, progress).await?;
            let ended = Some(time::OffsetDateTime::now_utc());
            state
                .history
                .record_at(host, What::Restart(*how), started, ended);
            Ok(())
        }
        Step::SetupSealing { hosts, interval } => {
            let hosts = selected(lab, scenario, hosts);
            sealing::setup(lab, &hosts, interval, state, deadlines).await?;
            let names: Vec<&str> = hosts.iter().map(|h| h.name.as_str()).collect();
            progress.news(format!(
                "sealing set up on {} (interval {interval})",
                names.join(", ")
            ));
            Ok(())
        }
        Step::Rotate { hosts } => {
            sealing::rotate(lab, &selected(lab, scenario, hosts), deadlines).await?;
            progress.news(format!(
                "journals rotated on {}",
                scenario.select(hosts).join(", ")
            ));
            Ok(())
        }
        Step::Tamper { host, journal, how } => {
            let host = lab.host(host).expect("validated host");
            let tampered = sealing::tamper(lab, host, journal, *how, state, deadlines).await?;
            progress.news(format!(
                "{}: tampered with {} at byte {} ({})",
                host.name, tampered.file, tampered.offset, tampered.how
            ));
            Ok(())
        }
        Step::Workload {
            hosts,
            count,
            size,
            content,
            rate,
            background,
            deadline,
            as_service,
            protocol,
            namespace,
        } => {
            let spec = workload::Spec {
                count: *count,
                size: *size,
                content: *content,
                rate: *rate,
                as_service: *as_service || namespace.is_some(),
                protocol: *protocol,
                namespace: namespace.clone(),
            };
            let hosts = selected(lab, scenario, hosts);
            let settle = std::time::Duration::from_secs(*deadline);
            workload::start(
                lab,
                scenario,
                &hosts,
                spec,
                *background,
                settle,
                state,
                deadlines,
                progress,
            )
            .await
        }
        Step::Soak { duration, every } => {
            soak::soak(
                lab,
                scenario,
                std::time::Duration::from_secs(*duration),
                std::time::Duration::from_secs(*every),
                state,
                progress,
            )
            .await
        }
        Step::WaitWorkload { deadline } => {
            let settle = std::time::Duration::from_secs(*deadline);
            workload::wait(lab, scenario, state, settle, progress).await
        }
        Step::Fault {
            kind,
            host,
            duration,
        } => {
            let fault = faults::Fault::on(lab, scenario, host, *kind);
            faults::start(lab, fault, *duration, state, deadlines, progress).await
        }
        Step::EndFault { kind, host } => {
            let fault = faults::Fault::on(lab, scenario, host, *kind);
            faults::end(lab, fault, state, deadlines, progress).await
        }
        Step::Send {
            server,
            identity,
            payload,
            content_encoding,
            pace,
            connections,
        } => {
            let plan = send::Plan {
                server,
                identity: *identity,
                payloads: payload.named().into_iter().map(|(_, name)| name).collect(),
                encoding: content_encoding
                    .as_deref()
                    .and_then(crate::protocol::encoding::Encoding::named),
                pace: std::time::Duration::from_secs(*pace),
                connections: *connections,
            };
            send::send(lab, scenario, plan, state, deadlines, progress).await
        }
        Step::Evaluate { .. } => Ok(()),
    }
}

/// Which hosts a selector names, as running hosts.
fn selected<'a>(lab: &'a Lab, scenario: &Scenario, hosts: &Hosts) -> Vec<&'a Host> {
    scenario
        .select(hosts)
        .iter()
        .filter_map(|name| lab.host(name))
        .collect()
}

/// How a step went, for run.json: what it was, what `run` printed (40 lines at most), the error.
pub(super) fn step_record(
    index: usize,
    step: &Step,
    run: Option<(String, String, i64, String)>,
    performed: &crate::errors::Result<()>,
    took: std::time::Duration,
) -> crate::report::StepRecord {
    let name = serde_json::to_value(step)
        .ok()
        .and_then(|v| v.get("do").and_then(|d| d.as_str()).map(str::to_string))
        .unwrap_or_default();
    let (host, command, exit_code, output) = match run {
        Some((host, command, code, output)) => (
            Some(host),
            Some(command),
            Some(code),
            output.lines().take(40).map(str::to_string).collect(),
        ),
        None => (None, None, None, Vec::new()),
    };
    crate::report::StepRecord {
        index,
        step: name,
        host,
        command,
        exit_code,
        output,
        error: performed.as_ref().err().map(|e| e.to_string()),
        seconds: took.as_secs_f64(),
    }
}

//! The steps of a scenario: the hosts they name, the bounds of what they do (bursts, workloads,
//! sealing intervals), and what must come before what (sealing before tampering, a background
//! workload before waiting for it).

use std::collections::BTreeSet;

use super::{file_path, host_ref, invalid, Invalid};
use crate::domain::Role;
use crate::protocol::catalog::{Payload, MAX_CONNECTIONS, MAX_PACE};
use crate::protocol::encoding::Encoding;
use crate::scenario::{FaultKind, Hosts, Payloads, Scenario, Step, FINAL_PHASE};

/// Host references in steps; returns the phases the steps declare.
pub(super) fn steps<'a>(
    s: &'a Scenario,
    names: &BTreeSet<&str>,
) -> Result<BTreeSet<&'a str>, Invalid> {
    let mut phases: BTreeSet<&str> = BTreeSet::from([FINAL_PHASE]);
    // Hosts that an earlier step set up sealing on.
    let mut sealed: BTreeSet<String> = BTreeSet::new();
    let (mut workload_bytes, mut backgrounded) = (0u64, false);
    // Faults started without a duration and not ended yet.
    let mut active: BTreeSet<(FaultKind, &str)> = BTreeSet::new();
    for (i, step) in s.steps.iter().enumerate() {
        let at = |field: &str| format!("steps[{i}].{field}");
        match step {
            Step::LogMarkers { hosts, deadline } => {
                selector(hosts, &at("hosts"), names)?;
                if deadline.is_some_and(|d| d == 0 || d > 600) {
                    return invalid(at("deadline"), "a marker wait lasts 1 to 600 seconds");
                }
            }
            Step::Unit { hosts, unit, .. } => {
                selector(hosts, &at("hosts"), names)?;
                if !is_unit_name(unit) {
                    return invalid(
                        at("unit"),
                        format!(
                            "{unit:?} is not a systemd unit name (letters, digits and `:_.@-\\`, \
                             ending in a unit type such as .service or .socket), e.g. \
                             systemd-journal-upload.service"
                        ),
                    );
                }
            }
            Step::Remediate { hosts, .. } => selector(hosts, &at("hosts"), names)?,
            Step::Run { host, timeout, .. } => {
                host_ref(host, &at("host"), names, "this step")?;
                if timeout.is_some_and(|t| t == 0 || t > 3600) {
                    return invalid(at("timeout"), "a command may take 1 to 3600 seconds");
                }
            }
            Step::Restart { host, .. } => host_ref(host, &at("host"), names, "this step")?,
            Step::SetupSealing { hosts, interval } => {
                selector(hosts, &at("hosts"), names)?;
                if !is_seal_interval(interval) {
                    return invalid(
                        at("interval"),
                        format!(
                            "interval {interval:?}: write seconds, minutes or hours between 1s and \
                             24h, e.g. 10s, 15min or 1h"
                        ),
                    );
                }
                sealed.extend(s.select(hosts));
            }
            Step::Rotate { hosts } => selector(hosts, &at("hosts"), names)?,
            Step::Tamper { host, journal, .. } => {
                host_ref(host, &at("host"), names, "this step")?;
                tamper_target(s, host, journal, &at("journal"))?;
                if !sealed.contains(host) {
                    return invalid(
                        at("host"),
                        format!(
                            "tamper on {host:?}, which has no sealing: add a `do: setup-sealing` \
                             step that covers {host} before this one"
                        ),
                    );
                }
            }
            Step::Workload {
                hosts,
                count,
                size,
                rate,
                background,
                deadline,
                protocol,
                namespace,
                ..
            } => {
                if let Some(ns) = namespace {
                    if !super::is_host_name(ns) {
                        return invalid(
                            at("namespace"),
                            format!("namespace {ns:?}: use lowercase letters, digits and dashes (a journal namespace's name)"),
                        );
                    }
                }
                selector(hosts, &at("hosts"), names)?;
                for name in s.select(hosts) {
                    if s.host(&name).is_some_and(|h| h.role != Role::Client) {
                        return invalid(
                            at("hosts"),
                            format!("a workload runs on clients (their journals are uploaded); {name} is a server"),
                        );
                    }
                }
                workload_bounds(&at, *count, *size, *rate, *deadline, *protocol)?;
                workload_bytes += count * *size as u64 * s.select(hosts).len() as u64;
                if workload_bytes > MAX_WORKLOAD_BYTES {
                    return invalid(
                        at("count"),
                        format!(
                            "the workloads log {workload_bytes} bytes, more than the {} MiB a lab \
                             server's journal is sized for: fewer or smaller messages",
                            MAX_WORKLOAD_BYTES / (1024 * 1024)
                        ),
                    );
                }
                backgrounded |= *background;
            }
            Step::Soak { duration, every } => {
                if !(1..=86_400).contains(duration) {
                    return invalid(
                        at("duration"),
                        format!("duration {duration}: a soak lasts 1 to 86400 seconds"),
                    );
                }
                if *every == 0 || every > duration {
                    return invalid(
                        at("every"),
                        format!("every {every}: a sample every 1 to {duration} seconds (the soak's duration)"),
                    );
                }
            }
            Step::WaitWorkload { deadline } => {
                if !backgrounded {
                    return invalid(
                        format!("steps[{i}]"),
                        "wait-workload waits for a `background: true` workload, and none comes before it",
                    );
                }
                workload_bounds(&at, 1, MIN_MESSAGE, 0, *deadline, Default::default())?;
            }
            Step::Fault {
                kind,
                host,
                duration,
            } => {
                host_ref(host, &at("host"), names, "this fault")?;
                fault_target(s, *kind, host, &at("host"))?;
                match (kind.spec().single_blow, duration) {
                    (true, Some(_)) => {
                        return invalid(
                            at("duration"),
                            format!("{kind} is a single blow: it takes no duration"),
                        )
                    }
                    (_, Some(d)) if *d == 0 || *d > 600 => {
                        return invalid(
                            at("duration"),
                            format!("duration {d}: a fault lasts 1 to 600 seconds"),
                        )
                    }
                    (true, None) | (_, Some(_)) => {}
                    (_, None) => {
                        if !active.insert((*kind, host.as_str())) {
                            return invalid(
                                at("kind"),
                                format!("{kind} on {host} is already in force; end it first"),
                            );
                        }
                    }
                }
            }
            Step::EndFault { kind, host } => {
                if !active.remove(&(*kind, host.as_str())) {
                    return invalid(
                        at("kind"),
                        format!(
                            "no {kind} fault on {host} is in force here: end-fault ends one \
                             started without a duration"
                        ),
                    );
                }
            }
            Step::Evaluate { phase } => {
                phases.insert(phase);
            }
            Step::Send {
                server,
                payload,
                content_encoding,
                pace,
                connections,
                ..
            } => send(
                s,
                &at,
                names,
                server,
                payload,
                content_encoding.as_deref(),
                *pace,
                *connections,
            )?,
        }
    }
    Ok(phases)
}

/// A `send` step: a server, payloads and an encoding from the catalog, bounded pacing.
#[allow(clippy::too_many_arguments)]
fn send(
    s: &Scenario,
    at: &dyn Fn(&str) -> String,
    names: &BTreeSet<&str>,
    server: &str,
    payloads: &Payloads,
    encoding: Option<&str>,
    pace: u64,
    connections: u32,
) -> Result<(), Invalid> {
    host_ref(server, &at("server"), names, "this send")?;
    if s.host(server).is_some_and(|h| h.role != Role::Server) {
        return invalid(
            at("server"),
            format!("send posts to journal-remote, which runs on servers; {server} is a client"),
        );
    }
    let named = payloads.named();
    if named.is_empty() {
        return invalid(at("payload"), "name at least one payload");
    }
    // Each payload is one request (the largest is 64 MiB): a step sends the catalog, not a flood.
    if named.len() > MAX_PAYLOADS_PER_SEND {
        return invalid(
            at("payload"),
            format!(
                "{} payloads in one send: at most {MAX_PAYLOADS_PER_SEND} (the whole catalog is {})",
                named.len(),
                Payload::names().len()
            ),
        );
    }
    for (path, name) in named {
        if Payload::named(name).is_none() {
            return invalid(
                at(&path),
                format!(
                    "unknown payload {name:?}; the catalog (docs/scenarios.md): {}",
                    Payload::names().join(", ")
                ),
            );
        }
    }
    if let Some(name) = encoding {
        if Encoding::named(name).is_none() {
            let known: Vec<&str> = Encoding::ALL.iter().map(|e| e.name()).collect();
            return invalid(
                at("content-encoding"),
                format!(
                    "unknown content-encoding {name:?}; the catalog has {}",
                    known.join(", ")
                ),
            );
        }
    }
    if pace == 0 || pace > MAX_PACE {
        return invalid(at("pace"), format!("pace {pace}: 1 to {MAX_PACE} seconds"));
    }
    if connections == 0 || connections > MAX_CONNECTIONS {
        return invalid(
            at("connections"),
            format!("connections {connections}: 1 to {MAX_CONNECTIONS}"),
        );
    }
    Ok(())
}

/// Workload sizes: messages must carry their numbering, fit journald's line limit, and the
/// whole must fit a lab server.
const MIN_MESSAGE: usize = 64;
const MAX_MESSAGE: usize = 48 * 1024;
/// The largest message through the native protocol: well past the 1 MiB of the field reports,
/// well under journald's own entry limit.
const MAX_NATIVE_MESSAGE: usize = 16 * 1024 * 1024;
/// The most payloads one `send` step posts.
const MAX_PAYLOADS_PER_SEND: usize = 64;
const MAX_WORKLOAD_MESSAGES: u64 = 1_000_000;
const MAX_WORKLOAD_BYTES: u64 = 256 * 1024 * 1024;

fn workload_bounds(
    at: &dyn Fn(&str) -> String,
    count: u64,
    size: usize,
    rate: u32,
    deadline: u64,
    protocol: crate::scenario::WorkloadProtocol,
) -> Result<(), Invalid> {
    if count == 0 || count > MAX_WORKLOAD_MESSAGES {
        return invalid(
            at("count"),
            format!(
                "count {count}: a workload logs 1 to {MAX_WORKLOAD_MESSAGES} messages per host"
            ),
        );
    }
    let (largest, why) = match protocol {
        crate::scenario::WorkloadProtocol::Stream => (
            MAX_MESSAGE,
            "journald's LineMax= is the second; `protocol: native` goes up to 16 MiB",
        ),
        crate::scenario::WorkloadProtocol::Native => {
            (MAX_NATIVE_MESSAGE, "16 MiB through the native protocol")
        }
    };
    if !(MIN_MESSAGE..=largest).contains(&size) {
        return invalid(
            at("size"),
            format!(
                "size {size}: a message has {MIN_MESSAGE} to {largest} bytes (its numbering \
                 needs the first; {why})"
            ),
        );
    }
    if rate > 100_000 {
        return invalid(
            at("rate"),
            format!(
                "rate {rate}: at most 100000 messages per second, or 0 for as fast as possible"
            ),
        );
    }
    if deadline == 0 || deadline > 3600 {
        return invalid(
            at("deadline"),
            format!("deadline {deadline}: 1 to 3600 seconds"),
        );
    }
    Ok(())
}

/// Which role a fault applies to, as its entry says.
fn fault_target(s: &Scenario, kind: FaultKind, host: &str, path: &str) -> Result<(), Invalid> {
    match (kind.spec().only, s.host(host).map(|h| h.role)) {
        (Some((only, why)), Some(role)) if role != only => invalid(
            path,
            format!(
                "{kind} applies to {}s only ({why}); {host} is a {}",
                only.as_str(),
                role.as_str()
            ),
        ),
        _ => Ok(()),
    }
}

/// `system`, `remote` (servers only) or a journal file's absolute path under /var/log/journal.
fn tamper_target(s: &Scenario, host: &str, journal: &str, path: &str) -> Result<(), Invalid> {
    let is_server = s.host(host).is_some_and(|h| h.role == Role::Server);
    match journal {
        "system" => Ok(()),
        "remote" if is_server => Ok(()),
        "remote" => invalid(
            path,
            format!("journal: remote is a server's; {host} is a client (write system or a path)"),
        ),
        other
            if other.starts_with("/var/log/journal/")
                && other.ends_with(".journal")
                && file_path(other).is_ok() =>
        {
            Ok(())
        }
        other => invalid(
            path,
            format!(
                "journal {other:?} names no journal: write system, remote (servers) or the \
                 absolute path of a .journal file under /var/log/journal"
            ),
        ),
    }
}

/// `10s`, `15min`, `1h`: what journalctl --interval= takes, between 1 s and a day.
/// A systemd unit name (systemd.unit(5)): at most 255 characters of ASCII letters, digits and
/// `:_.@-\`, with a unit type suffix. What systemctl gets is then a plain word: no shell.
pub(crate) fn is_unit_name(unit: &str) -> bool {
    const TYPES: [&str; 11] = [
        "service",
        "socket",
        "device",
        "mount",
        "automount",
        "swap",
        "target",
        "path",
        "timer",
        "slice",
        "scope",
    ];
    let Some((stem, kind)) = unit.rsplit_once('.') else {
        return false;
    };
    unit.len() <= 255
        && !stem.is_empty()
        && TYPES.contains(&kind)
        && unit
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ":_.@-\\".contains(c))
}

fn is_seal_interval(interval: &str) -> bool {
    let digits = interval.chars().take_while(char::is_ascii_digit).count();
    let (number, unit) = interval.split_at(digits);
    let seconds = match unit {
        "s" => 1,
        "min" => 60,
        "h" => 3600,
        _ => return false,
    };
    number
        .parse::<u64>()
        .is_ok_and(|n| n >= 1 && n.checked_mul(seconds).is_some_and(|s| s <= 24 * 3600))
}

fn selector(hosts: &Hosts, path: &str, names: &BTreeSet<&str>) -> Result<(), Invalid> {
    if let Hosts::Named(list) = hosts {
        for (i, name) in list.iter().enumerate() {
            host_ref(name, &format!("{path}[{i}]"), names, "this step")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_intervals_are_what_journalctl_takes_within_a_day() {
        for good in ["1s", "10s", "15min", "1h", "24h"] {
            assert!(is_seal_interval(good), "{good}");
        }
        for bad in [
            "",
            "0s",
            "10",
            "s",
            "25h",
            "10 s",
            "1d",
            "-1s",
            "99999999999999999999s",
        ] {
            assert!(!is_seal_interval(bad), "{bad}");
        }
    }
}

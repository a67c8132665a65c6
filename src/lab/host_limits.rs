//! What the machine allows before anything boots: every host's systemd draws on root's inotify
//! instances, and running out hangs a boot instead of failing it.

use crate::errors::Result;

/// inotify instances one host takes (measured: 6 when idle; journal-upload adds one).
pub(super) const INOTIFY_PER_HOST: u64 = 7;
/// What the engine and everything else running as root keep for themselves.
pub(super) const INOTIFY_RESERVE: u64 = 8;

/// The inotify instances `hosts` systemd hosts need. Every container runs as root on the host, so
/// they all draw on root's `fs.inotify.max_user_instances` (128 by default: 17 hosts with this margin; the 22nd idle host hung in a measured run).
pub fn inotify_instances_needed(hosts: usize) -> u64 {
    hosts as u64 * INOTIFY_PER_HOST + INOTIFY_RESERVE
}

/// Refuses, before anything boots, to start more hosts than this machine's inotify limit allows,
/// with the command that raises it. (Only for a local engine: a remote one has its own limits.)
pub fn check_host_limits(hosts: usize) -> Result<()> {
    if std::env::var("DOCKER_HOST").is_ok_and(|h| !h.starts_with("unix://")) {
        return Ok(());
    }
    let Some(available) = std::fs::read_to_string("/proc/sys/fs/inotify/max_user_instances")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
    else {
        return Ok(());
    };
    host_limit_verdict(hosts, available)
}

pub(super) fn host_limit_verdict(hosts: usize, available: u64) -> Result<()> {
    let required = inotify_instances_needed(hosts);
    if available >= required {
        return Ok(());
    }
    Err(crate::errors::Error::HostLimit {
        hosts,
        available,
        required,
        suggested: required.next_power_of_two().max(8192),
    })
}

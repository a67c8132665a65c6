//! `bench --capacity`: how much one journal-remote takes, the figure operators size a central
//! server by. N clients log flat out (bounded: at most `MAX_TOTAL` messages in all, 400 bytes
//! each, within a deadline) into one server; the exactly-once accounting of the workload step
//! says what arrived, and journal-remote's own process says what it cost (CPU time and peak
//! RSS from /proc on the kept server, read before the lab is removed).

use std::time::Duration;

use crate::engine::Engine;
use crate::errors::Result;
use crate::lab::{self, LabOptions};
use crate::report::bench::CapacityPoint;
use crate::scenario::{Content, HostGroup, Hosts, Step};
use crate::{Progress, Say};

/// Messages in all per client count, so 50 clients take no longer than 1 does.
const MAX_TOTAL: u64 = 30_000;
/// Messages per client at most (what 1 client sends).
const MAX_PER_CLIENT: u64 = 10_000;
const MESSAGE_BYTES: usize = 400;
/// A p99 delivery latency above this is "gone bad" (on top of any loss).
pub const BAD_P99_MS: f64 = 5_000.0;

/// journal-remote's CPU ticks, the tick rate and its peak RSS (kB), from /proc.
const SERVER_USAGE_COMMAND: &str =
    "pid=$(systemctl show -p MainPID --value systemd-journal-remote.service); \
     echo ticks=$(awk '{print $14 + $15}' /proc/$pid/stat) hz=$(getconf CLK_TCK) \
     hwm_kb=$(awk '/^VmHWM:/ {print $2}' /proc/$pid/status)";

fn per_client(clients: usize) -> u64 {
    (MAX_TOTAL / clients.max(1) as u64).min(MAX_PER_CLIENT)
}

/// Parses [`SERVER_USAGE_COMMAND`]'s line: (CPU seconds, peak RSS bytes).
pub(crate) fn parse_usage(line: &str) -> Option<(f64, u64)> {
    let field = |name: &str| {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(name)?.strip_prefix('='))
            .and_then(|v| v.parse::<f64>().ok())
    };
    let hz = field("hz").filter(|&hz| hz > 0.0)?;
    Some((field("ticks")? / hz, field("hwm_kb")? as u64 * 1024))
}

/// What went bad at this point, if anything: loss first, then latency.
pub(crate) fn gone_bad(point: &CapacityPoint) -> Option<String> {
    let b = &point.burst;
    if b.delivered < b.sent {
        Some(format!(
            "{} of {} messages lost",
            b.sent - b.delivered,
            b.sent
        ))
    } else if b.latency_p99_ms > BAD_P99_MS {
        Some(format!(
            "p99 latency {:.1} s (over {:.0} s)",
            b.latency_p99_ms / 1000.0,
            BAD_P99_MS / 1000.0
        ))
    } else {
        None
    }
}

pub async fn measure(
    engine: &Engine,
    counts: &[usize],
    lab_options: impl Fn(usize) -> LabOptions,
    progress: &Progress,
) -> Result<Vec<CapacityPoint>> {
    let mut points = Vec::new();
    for &clients in counts {
        let count = per_client(clients);
        progress.news(format!(
            "capacity: {clients} clients × {count} messages of {MESSAGE_BYTES} bytes, flat out"
        ));
        let mut scenario = lab::default_scenario(clients);
        scenario.steps.push(Step::Workload {
            hosts: Hosts::Group(HostGroup::Clients),
            count,
            size: MESSAGE_BYTES,
            content: Content::Random,
            rate: 0,
            background: false,
            deadline: 180,
            as_service: false,
            protocol: Default::default(),
            namespace: None,
        });
        let mut options = lab_options(clients);
        // Kept only until journal-remote's own usage is read, then removed below.
        options.keep = true;
        let outcome = lab::run_scenario("bench-capacity", &scenario, &options, progress).await?;
        let run_id = outcome.report.run_id.clone();
        let usage = engine
            .exec(
                &format!("server.{run_id}"),
                SERVER_USAGE_COMMAND,
                Duration::from_secs(30),
            )
            .await;
        engine.sweep(&run_id).await?;
        let (server_cpu_seconds, server_peak_rss_bytes) = usage
            .ok()
            .and_then(|u| parse_usage(u.stdout.trim()))
            .unwrap_or((f64::NAN, 0));
        let seconds = super::workload_seconds(&outcome.report);
        let Some(delivery) = outcome.report.delivery.as_ref() else {
            continue;
        };
        let burst = super::burst_result(delivery, seconds, count as u32);
        let mut point = CapacityPoint {
            clients,
            mib_per_second: burst.messages_per_second * MESSAGE_BYTES as f64 / (1024.0 * 1024.0),
            burst,
            server_cpu_seconds,
            server_peak_rss_bytes,
            gone_bad: None,
        };
        point.gone_bad = gone_bad(&point);
        progress.news(format!(
            "  {clients} clients: {}/{} delivered, {:.0} msg/s, p99 {:.0} ms, journal-remote {:.1} s CPU, {:.0} MiB peak{}",
            point.burst.delivered,
            point.burst.sent,
            point.burst.messages_per_second,
            point.burst.latency_p99_ms,
            server_cpu_seconds,
            server_peak_rss_bytes as f64 / (1024.0 * 1024.0),
            point.gone_bad.as_deref().map_or(String::new(), |b| format!("; GONE BAD: {b}"))
        ));
        points.push(point);
    }
    Ok(points)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::BurstResult;

    #[test]
    fn usage_is_read_from_procs_words() {
        assert_eq!(
            parse_usage("ticks=250 hz=100 hwm_kb=8192"),
            Some((2.5, 8192 * 1024))
        );
        assert_eq!(parse_usage("ticks= hz=100 hwm_kb=8192"), None, "no process");
        assert_eq!(parse_usage("ticks=1 hz=0 hwm_kb=1"), None);
    }

    #[test]
    fn loads_are_bounded_in_count() {
        assert_eq!(per_client(1), MAX_PER_CLIENT);
        assert_eq!(per_client(10), 3_000);
        assert_eq!(per_client(50), 600);
        assert!(per_client(50) * 50 <= MAX_TOTAL);
    }

    #[test]
    fn loss_or_slow_delivery_is_gone_bad() {
        let point = |sent: usize, delivered: usize, p99: f64| CapacityPoint {
            clients: 10,
            burst: BurstResult {
                hosts: 10,
                per_host: 100,
                sent,
                delivered,
                latency_p50_ms: 10.0,
                latency_p99_ms: p99,
                latency_max_ms: p99,
                seconds: 1.0,
                messages_per_second: 1000.0,
                poll_interval_ms: 50,
            },
            mib_per_second: 0.4,
            server_cpu_seconds: 1.0,
            server_peak_rss_bytes: 1,
            gone_bad: None,
        };
        assert_eq!(gone_bad(&point(1000, 1000, 200.0)), None);
        assert_eq!(
            gone_bad(&point(1000, 990, 200.0)).as_deref(),
            Some("10 of 1000 messages lost")
        );
        assert!(gone_bad(&point(1000, 1000, 9000.0))
            .unwrap()
            .contains("p99 latency 9.0 s"));
    }
}

//! `log-burst`: many messages at once, each carrying its send time, and the latency until each
//! shows on the server.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::super::{Deadlines, Host, Lab};
use crate::errors::{Error, Result};
use crate::journal;
use crate::scenario::Scenario;

const BURST_IDENTIFIER: &str = "journal-lab-burst";
const BURST_POLL: Duration = Duration::from_millis(50);

fn unix_now() -> f64 {
    time::OffsetDateTime::now_utc().unix_timestamp_nanos() as f64 / 1e9
}

/// Logs `count` messages on each host, each carrying its send time, while polling the servers;
/// every line's latency is the time from its send to the poll that first shows it.
pub(super) async fn burst(
    lab: &Lab,
    scenario: &Scenario,
    hosts: &[&Host],
    count: u32,
    deadlines: &Deadlines,
) -> Result<crate::report::BurstResult> {
    let run_id = lab.run_id();
    let expected = hosts.len() * count as usize;
    let started = unix_now();
    let send = futures::future::try_join_all(hosts.iter().map(|host| {
        let script = format!(
            "i=0; while [ $i -lt {count} ]; do logger -t {BURST_IDENTIFIER} \"burst run={run_id} host={} seq=$i sent=$(date +%s.%N)\"; i=$((i+1)); done",
            host.name
        );
        async move { lab.run(host, &script, deadlines.command).await }
    }));
    let servers: Vec<&Host> = scenario
        .servers()
        .filter_map(|s| lab.host(&s.name))
        .collect();
    let read = format!(
        "journalctl -D {} -o cat --no-pager SYSLOG_IDENTIFIER={BURST_IDENTIFIER}",
        journal::REMOTE_DIR
    );
    let observe = async {
        let mut latencies: BTreeMap<(String, u32), f64> = BTreeMap::new();
        let mut last_seen = started;
        let clock = Instant::now();
        while latencies.len() < expected && clock.elapsed() < deadlines.deliver {
            for server in &servers {
                let out = lab.exec(server, &read, deadlines.command).await?;
                let now = unix_now();
                for line in out.stdout.lines() {
                    let Some((host, seq, sent)) = parse_burst_line(line, run_id) else {
                        continue;
                    };
                    latencies.entry((host, seq)).or_insert_with(|| {
                        last_seen = now;
                        (now - sent) * 1000.0
                    });
                }
            }
            tokio::time::sleep(BURST_POLL).await;
        }
        Ok::<_, Error>((latencies, last_seen))
    };
    let (sent, observed) = tokio::join!(send, observe);
    sent?;
    let (latencies, last_seen) = observed?;
    let values: Vec<f64> = latencies.values().copied().collect();
    let seconds = (last_seen - started).max(0.0);
    Ok(crate::report::BurstResult {
        hosts: hosts.len(),
        per_host: count,
        sent: expected,
        delivered: values.len(),
        latency_p50_ms: crate::report::quantile(&values, 0.5),
        latency_p99_ms: crate::report::quantile(&values, 0.99),
        latency_max_ms: crate::report::quantile(&values, 1.0),
        seconds,
        messages_per_second: if seconds > 0.0 {
            values.len() as f64 / seconds
        } else {
            0.0
        },
        poll_interval_ms: BURST_POLL.as_millis() as u64,
    })
}

/// `burst run=R host=H seq=N sent=EPOCH` → (H, N, EPOCH) for run R.
fn parse_burst_line(line: &str, run_id: &str) -> Option<(String, u32, f64)> {
    let rest = line
        .strip_prefix("burst run=")?
        .strip_prefix(run_id)?
        .strip_prefix(" host=")?;
    let (host, rest) = rest.split_once(" seq=")?;
    let (seq, sent) = rest.split_once(" sent=")?;
    Some((
        host.to_string(),
        seq.parse().ok()?,
        sent.trim().parse().ok()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_lines_parse_only_for_this_run() {
        let line = "burst run=jl-1 host=client2 seq=41 sent=1700000000.125";
        assert_eq!(
            parse_burst_line(line, "jl-1"),
            Some(("client2".to_string(), 41, 1700000000.125))
        );
        assert_eq!(parse_burst_line(line, "jl-2"), None);
        assert_eq!(
            parse_burst_line("burst run=jl-1 host=x seq=a sent=1", "jl-1"),
            None
        );
    }
}

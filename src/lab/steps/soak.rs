//! `soak`: journal-remote on every server sampled over time (PR #32233: its memory over a long
//! run), while background workloads log: resident memory, open descriptors, and the remote
//! journal files and bytes. Each sample goes into the history, from which run.json's `soak`
//! and the HTML report's chart are made.

use std::time::{Duration, Instant};

use super::super::Lab;
use super::RunState;
use crate::checks::history::{SoakSample, What};
use crate::domain::REMOTE_UNIT;
use crate::errors::Result;
use crate::scenario::Scenario;
use crate::{Progress, Say};

/// One sample on a server, in one exec: `PID RSS_KIB FDS FILES BYTES`.
fn sample_command() -> String {
    format!(
        "pid=$(systemctl show -p MainPID --value {REMOTE_UNIT}); pid=${{pid:-0}}; \
         rss=$(awk '/^VmRSS:/ {{print $2}}' /proc/$pid/status 2>/dev/null); \
         fds=$(ls /proc/$pid/fd 2>/dev/null | wc -l); \
         files=$(find {dir} -name '*.journal*' 2>/dev/null | wc -l); \
         bytes=$(du -sb {dir} 2>/dev/null | cut -f1); \
         [ \"$pid\" = 0 ] && fds=0; echo \"$pid ${{rss:-0}} $fds $files ${{bytes:-0}}\"",
        dir = crate::journal::REMOTE_DIR
    )
}

/// A sample from what [`sample_command`] printed.
fn parse(server: &str, seconds: f64, output: &str) -> Option<SoakSample> {
    let numbers: Vec<u64> = output
        .split_whitespace()
        .map(|n| n.parse().ok())
        .collect::<Option<_>>()?;
    let [pid, rss_kib, fds, files, bytes] = numbers[..] else {
        return None;
    };
    Some(SoakSample {
        server: server.to_string(),
        seconds,
        pid: u32::try_from(pid).ok()?,
        rss_bytes: rss_kib * 1024,
        open_fds: fds,
        remote_files: files,
        remote_bytes: bytes,
    })
}

/// Samples every server every `every` for `duration` (the first at once, the last at the end).
pub(super) async fn soak(
    lab: &Lab,
    scenario: &Scenario,
    duration: Duration,
    every: Duration,
    state: &mut RunState,
    progress: &Progress,
) -> Result<()> {
    let servers: Vec<_> = scenario
        .servers()
        .filter_map(|s| lab.host(&s.name))
        .collect();
    let command = sample_command();
    let start = Instant::now();
    let mut next = Duration::ZERO;
    loop {
        let reads = servers
            .iter()
            .map(|server| lab.exec(server, &command, Duration::from_secs(30)));
        let seconds = start.elapsed().as_secs_f64();
        for (server, out) in servers.iter().zip(futures::future::join_all(reads).await) {
            let out = out?;
            match parse(&server.name, seconds, &out.stdout) {
                Some(sample) => {
                    state
                        .history
                        .record(&server.name, What::Sampled(sample), false);
                }
                None => progress.warning(format!(
                    "soak: could not read journal-remote on {} (it printed {:?})",
                    server.name,
                    out.combined().trim()
                )),
            }
        }
        if next >= duration {
            break;
        }
        next = (next + every).min(duration);
        tokio::time::sleep(next.saturating_sub(start.elapsed())).await;
    }
    let samples = state.history.soak_samples();
    if let Some(last) = samples.last() {
        progress.news(format!(
            "soak: {} samples over {}s; journal-remote on {} at {:.1} MiB, {} descriptors, {} remote files",
            samples.len(),
            duration.as_secs(),
            last.server,
            last.rss_bytes as f64 / (1024.0 * 1024.0),
            last.open_fds,
            last.remote_files
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sampling command, run here against this process: its five numbers parse, and a
    /// server whose journal-remote has not started yet reads as pid 0, no memory, no descriptors.
    #[test]
    fn a_sample_is_five_numbers_and_a_missing_process_is_zero() {
        let sample = parse("server", 1.5, "812 10240 12 3 25165824\n").unwrap();
        assert_eq!(
            (
                sample.pid,
                sample.rss_bytes,
                sample.open_fds,
                sample.remote_files,
                sample.remote_bytes
            ),
            (812, 10 * 1024 * 1024, 12, 3, 25_165_824)
        );
        assert!(parse("server", 0.0, "0 0 0 0 0").is_some_and(|s| s.pid == 0));
        assert!(parse("server", 0.0, "systemctl: not found").is_none());
        assert!(parse("server", 0.0, "1 2 3").is_none());
        // The command itself is shell that prints exactly five numbers, even with nothing to read.
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(sample_command().replace("systemctl show", "false"))
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            parse("server", 0.0, &text).is_some_and(|s| s.pid == 0 && s.open_fds == 0),
            "{text:?}"
        );
    }
}

//! `workload` and `wait-workload`: a known, sequence-numbered stream of messages on clients, and
//! the wait until what was sent has settled on the servers. The accounting itself is the
//! `delivery-exactly-once` check's (checks/accounting.rs); this only logs, waits, and records
//! what was sent.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::super::{Deadlines, Host, Lab};
use super::RunState;
use crate::checks::accounting::{Workload, WORKLOAD_IDENTIFIER};
use crate::checks::history::What;
use crate::engine::ExecOutput;
use crate::errors::Result;
use crate::scenario::{Content, Scenario};
use crate::{Progress, Say};

/// A workload logging in the background.
pub struct Running {
    pub host: String,
    task: tokio::task::JoinHandle<Result<ExecOutput>>,
}

/// Watches the servers while workloads log in the background, noting when each message is first
/// seen there: what the timeline draws as its arrival (a fault's effect shows while it lasts, not
/// only once the run waits). One read per server per poll, as [`wait`] does; errors (a server
/// that is down) are skipped.
pub struct ArrivalWatch {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<FirstSeen>,
}

/// When the harness first saw each workload message on a server (unix seconds), by
/// (host, stream, seq).
pub type FirstSeen = std::collections::HashMap<(String, u32, u64), f64>;

/// How often the watch reads the servers while few messages have arrived.
const WATCH_POLL: Duration = Duration::from_millis(250);

impl ArrivalWatch {
    fn start(lab: &Lab, scenario: &Scenario) -> ArrivalWatch {
        let command = arrivals_command(lab.run_id());
        let servers: Vec<(crate::engine::Engine, String, String)> = scenario
            .destinations()
            .filter_map(|s| lab.host(&s.name))
            .map(|h| (lab.engine_of(h).clone(), h.id().to_string(), h.name.clone()))
            .collect();
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(async move {
            let mut first_seen = FirstSeen::new();
            let mut delay = WATCH_POLL;
            loop {
                let reads = servers
                    .iter()
                    .map(|(engine, id, _)| engine.exec(id, &command, Duration::from_secs(30)));
                let outputs = futures::future::join_all(reads).await;
                let now = time::OffsetDateTime::now_utc().unix_timestamp_nanos() as f64 / 1e9;
                let mut total = 0;
                for out in outputs.into_iter().flatten() {
                    total += note_first_seen(&out.stdout, now, &mut first_seen).len();
                }
                if total > 20_000 {
                    delay = (delay * 3 / 2).min(Duration::from_secs(2));
                }
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = stopped.changed() => break,
                }
            }
            first_seen
        });
        ArrivalWatch { stop, task }
    }

    /// Stops watching and folds what it saw into `first_seen` (the earlier sighting wins).
    pub async fn stop(self, first_seen: &mut FirstSeen) {
        let _ = self.stop.send(true);
        if let Ok(seen) = self.task.await {
            for (key, at) in seen {
                let entry = first_seen.entry(key).or_insert(at);
                *entry = entry.min(at);
            }
        }
    }
}

/// What one workload is.
pub(super) struct Spec {
    pub count: u64,
    pub size: usize,
    pub content: Content,
    pub rate: u32,
    /// From a service of its own ([`crate::checks::accounting::workload_unit`]).
    pub as_service: bool,
    pub protocol: crate::scenario::WorkloadProtocol,
    /// The journal namespace it logs into (`LogNamespace=`), as a service.
    pub namespace: Option<String>,
}

/// How long delivery may stand still before it counts as settled.
const QUIET: Duration = Duration::from_secs(3);

/// The script that logs `spec` on a host as stream `stream`: each line is the message's numbering
/// (see `accounting::message_prefix`) padded to `size` bytes, piped to journald by systemd-cat.
/// Random padding comes from /dev/urandom (base64), text padding is one sentence repeated.
fn script(run_id: &str, host: &str, stream: u32, spec: &Spec) -> String {
    let padding = match spec.content {
        Content::Random => format!(
            "head -c {} /dev/urandom | base64 -w {}",
            (spec.count + 2) * spec.size as u64 * 3 / 4 + 3,
            spec.size
        ),
        Content::Text => format!(
            "yes 'the quick brown fox jumps over the lazy dog' | tr '\\n' ' ' | fold -w {} | head -n {}",
            spec.size,
            spec.count + 1
        ),
    };
    // Paced: a batch of rate/10 lines, then a tenth of a second.
    let (batch, pause) = match spec.rate {
        0 => (0, 0.0),
        rate => {
            let batch = (rate / 10).max(1);
            (batch, f64::from(batch) / f64::from(rate))
        }
    };
    // Each message: through the stream, a line to systemd-cat; natively, an entry file of
    // MESSAGE= and SYSLOG_IDENTIFIER= that `logger --journald` sends as one entry.
    let (emit, sink) = match spec.protocol {
        crate::scenario::WorkloadProtocol::Stream => (
            "print m".to_string(),
            format!(" | systemd-cat -t {WORKLOAD_IDENTIFIER}"),
        ),
        crate::scenario::WorkloadProtocol::Native => (
            format!(
                "f = \"/run/jl-entry-{stream}\"; print \"MESSAGE=\" m > f; \
                 print \"SYSLOG_IDENTIFIER={WORKLOAD_IDENTIFIER}\" > f; close(f); \
                 system(\"logger --journald=\" f)"
            ),
            String::new(),
        ),
    };
    let generator = format!(
        "{padding} | awk -v n={count} -v size={size} -v batch={batch} -v pause={pause} \
         -v head='{head}' \
         '{{ p = head (NR - 1) \" \"; m = p substr($0, 1, size - length(p)); {emit}; \
         if (batch > 0 && NR % batch == 0) {{ fflush(); system(\"sleep \" pause) }} \
         if (NR >= n) exit }}'{sink}",
        count = spec.count,
        size = spec.size,
        head = crate::checks::accounting::numbering_head(run_id, host, stream),
    );
    if !spec.as_service {
        return generator;
    }
    // The same generator as a transient service, waited for; its script goes through a file
    // (it quotes in both ways).
    let unit = crate::checks::accounting::workload_unit(stream);
    let namespace = spec
        .namespace
        .as_ref()
        .map(|ns| format!(" --property=LogNamespace={ns}"))
        .unwrap_or_default();
    format!(
        "cat > /run/{unit}.sh <<'JL_WORKLOAD'\n{generator}\nJL_WORKLOAD\n\
         systemd-run --quiet --wait --collect --unit={unit}{namespace} sh /run/{unit}.sh"
    )
}

/// How long logging `spec` may take.
fn logging_deadline(spec: &Spec, deadlines: &Deadlines) -> Duration {
    let paced = match spec.rate {
        0 => 0,
        rate => spec.count / u64::from(rate),
    };
    deadlines.command + Duration::from_secs(paced + spec.count / 1000)
}

/// Starts `spec` on each host; in the foreground it then waits for delivery to settle.
#[allow(clippy::too_many_arguments)]
pub(super) async fn start(
    lab: &Lab,
    scenario: &Scenario,
    hosts: &[&Host],
    spec: Spec,
    background: bool,
    settle: Duration,
    state: &mut RunState,
    deadlines: &Deadlines,
    progress: &Progress,
) -> Result<()> {
    let mut running = Vec::new();
    for host in hosts {
        let stream = state.history.workloads_of(&host.name).len() as u32;
        let workload = Workload {
            host: host.name.clone(),
            stream,
            count: spec.count,
            size: spec.size,
        };
        state
            .history
            .record(&host.name, What::Workload(workload), false);
        let script = script(lab.run_id(), &host.name, stream, &spec);
        let (engine, id, name) = (
            lab.engine_of(host).clone(),
            host.id().to_string(),
            host.name.clone(),
        );
        let deadline = logging_deadline(&spec, deadlines);
        running.push(Running {
            host: host.name.clone(),
            task: tokio::spawn(async move { engine.exec_ok(&id, &name, &script, deadline).await }),
        });
    }
    progress.news(format!(
        "workload: {} messages of {} bytes on {}{}",
        spec.count,
        spec.size,
        hosts
            .iter()
            .map(|h| h.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        if background {
            " (in the background)"
        } else {
            ""
        }
    ));
    state.background.extend(running);
    if background {
        if state.arrival_watch.is_none() {
            state.arrival_watch = Some(ArrivalWatch::start(lab, scenario));
        }
        return Ok(());
    }
    wait(lab, scenario, state, settle, progress).await
}

/// Waits for every background workload to finish logging, then for delivery to settle: every
/// message counted on its server, or nothing new for a quiet while, or `settle` passed.
pub(super) async fn wait(
    lab: &Lab,
    scenario: &Scenario,
    state: &mut RunState,
    settle: Duration,
    progress: &Progress,
) -> Result<()> {
    for running in std::mem::take(&mut state.background) {
        // A workload cut short (its host restarted, say) is an observation, not a harness
        // failure: the accounting counts what the client's journal holds, and says the rest.
        match running.task.await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => progress.warning(format!("workload on {} cut short: {e}", running.host)),
            Err(e) => progress.warning(format!("workload on {} stopped: {e}", running.host)),
        }
    }
    if let Some(watch) = state.arrival_watch.take() {
        watch.stop(&mut state.first_seen).await;
    }
    let mut expected: BTreeMap<&str, u64> = BTreeMap::new();
    for workload in state.history.workloads() {
        *expected.entry(&workload.host).or_default() += workload.count;
    }
    let start = Instant::now();
    let (mut last_total, mut last_change) = (u64::MAX, Instant::now());
    let mut delay = Duration::from_millis(50);
    loop {
        let arrived = arrived_per_host(lab, scenario, &mut state.first_seen).await?;
        let total: u64 = arrived.values().sum();
        let complete = expected
            .iter()
            .all(|(host, n)| arrived.get(*host).copied().unwrap_or(0) >= *n);
        if total != last_total {
            (last_total, last_change) = (total, Instant::now());
        }
        let quiet = last_change.elapsed() >= QUIET;
        if complete || quiet || start.elapsed() >= settle {
            let sent: u64 = expected.values().sum();
            state.settled_after = Some(start.elapsed().as_secs_f64());
            progress.milestone(format!(
                "workload: {total} of {sent} messages on the servers after {:.1}s ({})",
                start.elapsed().as_secs_f64(),
                if complete {
                    "all there"
                } else if quiet {
                    "nothing new for 3 s"
                } else {
                    "deadline"
                }
            ));
            return Ok(());
        }
        tokio::time::sleep(delay).await;
        // Short polls while little has arrived (they time each arrival: its latency), longer
        // ones for big workloads, where one read costs more.
        if total > 20_000 {
            delay = (delay * 3 / 2).min(Duration::from_millis(500));
        }
    }
}

/// The command that prints `host=H stream=S seq=N` for every workload message of run `run_id`
/// a server holds (duplicates included).
fn arrivals_command(run_id: &str) -> String {
    use crate::checks::accounting::{lines_command, JournalOf};
    lines_command(run_id, None, JournalOf::Remote, false)
}

/// Parses [`arrivals_command`]'s output, noting `now` as the first sighting of each message not
/// seen before; returns the sending host of every line (duplicates included).
fn note_first_seen<'a>(output: &'a str, now: f64, first_seen: &mut FirstSeen) -> Vec<&'a str> {
    let mut hosts = Vec::new();
    for line in crate::checks::accounting::parse_lines(output) {
        hosts.push(line.host);
        first_seen
            .entry((line.host.to_string(), line.stream, line.seq))
            .or_insert(now);
    }
    hosts
}

/// Workload lines of this run on every destination server (not relays), per sending host (duplicates counted), noting
/// when each message was first seen (unix seconds): one read per server.
async fn arrived_per_host(
    lab: &Lab,
    scenario: &Scenario,
    first_seen: &mut FirstSeen,
) -> Result<BTreeMap<String, u64>> {
    let command = arrivals_command(lab.run_id());
    let reads = scenario
        .destinations()
        .filter_map(|s| lab.host(&s.name))
        .map(|server| lab.exec(server, &command, Duration::from_secs(60)));
    let outputs = futures::future::try_join_all(reads).await?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp_nanos() as f64 / 1e9;
    let mut counts = BTreeMap::new();
    for out in &outputs {
        for host in note_first_seen(&out.stdout, now, first_seen) {
            *counts.entry(host.to_string()).or_default() += 1;
        }
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::accounting::{lines_command, parse_arrivals, read_here, JournalOf};

    /// The generator, run here: exactly `count` lines of `size` bytes, numbered from 0, in
    /// order, each as the accounting parses it (systemd-cat replaced by cat).
    #[test]
    fn the_generator_writes_numbered_lines_of_the_size_asked() {
        for content in [Content::Random, Content::Text] {
            let spec = Spec {
                count: 250,
                size: 120,
                content,
                rate: 0,
                as_service: false,
                protocol: Default::default(),
                namespace: None,
            };
            let script = script("jl-1", "c1", 2, &spec)
                .replace(&format!("systemd-cat -t {WORKLOAD_IDENTIFIER}"), "cat");
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(&script)
                .output()
                .unwrap();
            assert!(out.status.success(), "{out:?}");
            let text = String::from_utf8(out.stdout).unwrap();
            let lines: Vec<&str> = text.lines().collect();
            assert_eq!(lines.len(), 250, "{content:?}");
            assert!(
                lines.iter().all(|l| l.len() == 120),
                "{content:?}: {:?}",
                lines[0]
            );
            let numbering = read_here(
                &lines_command("jl-1", Some("c1"), JournalOf::Host, false),
                &text,
            );
            let arrivals = parse_arrivals(&numbering, "c1");
            assert_eq!(arrivals, (0..250).map(|s| (2, s)).collect::<Vec<_>>());
        }
    }

    /// Natively, each message is an entry file of MESSAGE= (the numbered message, `size`
    /// bytes, here 1 MiB) and the workload's identifier, handed to `logger --journald` (here
    /// `cat`, which prints it).
    #[test]
    fn the_native_generator_writes_one_entry_per_message() {
        let size = 1024 * 1024;
        let spec = Spec {
            count: 3,
            size,
            content: Content::Random,
            rate: 0,
            as_service: false,
            protocol: crate::scenario::WorkloadProtocol::Native,
            namespace: None,
        };
        let dir = tempfile::tempdir().unwrap();
        let script = script("jl-1", "c1", 1, &spec)
            .replace("/run/jl-entry-", &format!("{}/e-", dir.path().display()))
            .replace("logger --journald=", "cat ");
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(&script)
            .output()
            .unwrap();
        assert!(out.status.success(), "{:?}", out.status);
        let text = String::from_utf8(out.stdout).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 6);
        for (seq, entry) in lines.chunks(2).enumerate() {
            let message = entry[0].strip_prefix("MESSAGE=").unwrap();
            assert_eq!(message.len(), size);
            assert!(message.starts_with(&format!("jl-work run=jl-1 host=c1 stream=1 seq={seq} ")));
            assert_eq!(entry[1], format!("SYSLOG_IDENTIFIER={WORKLOAD_IDENTIFIER}"));
        }
    }

    #[test]
    fn a_paced_workload_sleeps_between_batches() {
        let spec = Spec {
            count: 30,
            size: 100,
            content: Content::Text,
            rate: 100,
            as_service: false,
            protocol: Default::default(),
            namespace: None,
        };
        let script = script("jl-1", "c1", 0, &spec)
            .replace(&format!("systemd-cat -t {WORKLOAD_IDENTIFIER}"), "wc -l");
        let start = Instant::now();
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(&script)
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "30");
        // 30 messages at 100/s: three pauses of 0.1 s.
        assert!(
            start.elapsed() >= Duration::from_millis(250),
            "{:?}",
            start.elapsed()
        );
    }
}

//! The field's topologies end to end (issue 26): relays, retention and pull mode, each verdict
//! cross-checked against what this test counts itself in the hosts' journals.

mod common;

use std::path::PathBuf;

use journal_lab::checks::{CheckId, Status};
use journal_lab::engine::Engine;
use journal_lab::lab::{LabOptions, Outcome};
use journal_lab::scenario::Scenario;

fn seed(name: &str) -> Scenario {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    Scenario::load(&root.join(format!("scenarios/{name}.yaml"))).unwrap()
}

/// Runs a seed scenario and keeps its lab for the test to read; returns the outcome and an
/// engine to read it with (the caller sweeps it).
async fn run_kept(name: &str, reports: &std::path::Path) -> (Outcome, Engine) {
    let mut options = LabOptions::new(journal_lab::images::Recipes::built_in(), reports);
    options.keep = true;
    let outcome = common::run_or_clean(name, &seed(name), &options).await;
    (outcome, Engine::connect().await.unwrap())
}

/// The exactly-once verdict of `host` is a pass exactly when `counted` (lines, distinct) on
/// the server it ends at is each of the `logged` messages once, and it says how many arrived.
fn assert_judged_as_counted(outcome: &Outcome, host: &str, logged: u64, counted: (u64, u64)) {
    let (status, observed) = common::check_of(outcome, CheckId::DELIVERY_EXACTLY_ONCE, host);
    assert_eq!(
        status,
        if counted == (logged, logged) {
            Status::Pass
        } else {
            Status::Fail
        },
        "{host}: logged {logged}, the server has {counted:?} (lines, distinct); the check said: {observed}"
    );
    assert!(
        observed.contains(&format!("sent {logged}, arrived {}", counted.1)),
        "{host}: {observed}"
    );
}

/// How many lines of what `read` prints in `container` (a journal, `-o cat`) hold `needle`,
/// counted there.
async fn grep_count(engine: &Engine, container: &str, read: &str, needle: &str) -> u64 {
    let script = format!("{read} | grep -c -F '{needle}' || true");
    common::sh(engine, container, &script)
        .await
        .trim()
        .parse()
        .unwrap()
}

/// What run.json's delivery section says arrived of `host`'s workload.
fn delivered(outcome: &Outcome, host: &str) -> u64 {
    let delivery = outcome
        .report
        .delivery
        .as_ref()
        .expect("a delivery section");
    delivery
        .streams
        .iter()
        .filter(|s| s.host == host)
        .map(|s| s.accounting.arrived)
        .sum()
}

/// relay: each client's verdict is a pass exactly when the central server holds each message
/// the client logged once, and the relay's own count is said apart; all counted here on the
/// three hosts. run.json's delivery counts the destination only (not the relay's copies too).
#[tokio::test(flavor = "multi_thread")]
async fn a_relay_is_accounted_over_both_hops_as_counted() {
    let reports = tempfile::tempdir().unwrap();
    let (outcome, engine) = run_kept("relay", reports.path()).await;
    relay_judged_as_counted(&outcome, &engine).await;
}

/// A relay as its team ships it (examples/relay, `base: as-is`, issue 38): the relay's
/// journal-upload runs the unit as the team wrote it (their drop-in, no drop-in of the lab's),
/// dials the URL= of their file, and is judged over both hops as counted; without the
/// SupplementaryGroups= line of their drop-in nothing reaches the central server, and the
/// verdict says so: the lab adds no group of its own.
#[tokio::test(flavor = "multi_thread")]
async fn a_relay_as_it_ships_runs_its_unit_as_written() {
    let example = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/relay");
    let without_group = tempfile::tempdir().unwrap();
    for entry in ["relay.yaml", "central", "relay", "client"] {
        let status = std::process::Command::new("cp")
            .arg("-r")
            .arg(example.join(entry))
            .arg(without_group.path())
            .status()
            .unwrap();
        assert!(status.success());
    }
    let drop_in = without_group.path().join("relay/forward-received.conf");
    let text = std::fs::read_to_string(&drop_in).unwrap();
    let line = "SupplementaryGroups=systemd-journal-remote\n";
    assert!(text.contains(line));
    std::fs::write(&drop_in, text.replace(line, "")).unwrap();

    let reports = tempfile::tempdir().unwrap();
    let mut options = LabOptions::new(journal_lab::images::Recipes::built_in(), reports.path());
    options.keep = true;
    let as_written = Scenario::load(&example.join("relay.yaml")).unwrap();
    let broken = Scenario::load(&without_group.path().join("relay.yaml")).unwrap();
    let (outcome, broken) = tokio::join!(
        common::run_or_clean("relay-as-is", &as_written, &options),
        common::run_or_clean("relay-as-is-without-group", &broken, &options)
    );
    let engine = Engine::connect().await.unwrap();
    let unit = format!("relay.{}", outcome.report.run_id);
    let shown = common::sh(
        &engine,
        &unit,
        "systemctl cat systemd-journal-upload.service",
    )
    .await;
    let configuration = common::sh(
        &engine,
        &unit,
        "cat /etc/systemd/journal-upload.conf; ls /etc/systemd/journal-upload.conf.d 2>/dev/null || true",
    )
    .await;
    let broken_run = broken.report.run_id.clone();
    let mut at_central = Vec::new();
    for client in ["client1", "client2"] {
        at_central
            .push(common::count_workload(&engine, &broken_run, "central", true, client).await);
    }
    common::remove_run(&engine, &broken_run).await;
    assert!(
        shown.contains("50-forward-received.conf") && !shown.contains("journal-lab"),
        "the relay's journal-upload runs the team's unit and drop-in only:\n{shown}"
    );
    assert_eq!(
        configuration,
        std::fs::read_to_string(example.join("relay/journal-upload.conf")).unwrap(),
        "its journal-upload reads their file and no drop-in (the URL= is theirs)"
    );
    let relay = outcome
        .report
        .hosts
        .iter()
        .find(|h| h.name == "relay")
        .unwrap();
    let added: Vec<&str> = relay.added_by_lab.iter().map(|a| a.path.as_str()).collect();
    assert!(
        added.iter().all(|p| p.starts_with("/etc/ssl/")
            || p.ends_with("(link)")
            || *p == "/etc/hosts (lines appended)"),
        "certificates, names and enabled units only: {added:?}"
    );
    for path in [
        "/etc/ssl/journal/server.key",
        "/etc/ssl/journal/upstream.key",
    ] {
        assert!(
            added.contains(&path),
            "{path} where their files read it: {added:?}"
        );
    }
    relay_judged_as_counted(&outcome, &engine).await;

    for (client, counted) in ["client1", "client2"].into_iter().zip(at_central) {
        assert_eq!(counted, (0, 0), "{client}: nothing can be forwarded");
        let (status, observed) = common::check_of(&broken, CheckId::DELIVERY_EXACTLY_ONCE, client);
        assert_eq!(status, Status::Fail, "{client}: {observed}");
        assert!(
            observed.starts_with("at central, the destination: stream 0: sent 300, arrived 0"),
            "{client}: {observed}"
        );
    }
}

/// Counts each client's workload on the relay and the central server of a kept relay lab, removes
/// it, and holds its exactly-once verdicts to the counts.
async fn relay_judged_as_counted(outcome: &Outcome, engine: &Engine) {
    let run_id = outcome.report.run_id.clone();
    let mut counts = Vec::new();
    for client in ["client1", "client2"] {
        let (_, logged) = common::count_workload(engine, &run_id, client, false, client).await;
        let at_relay = common::count_workload(engine, &run_id, "relay", true, client).await;
        let at_central = common::count_workload(engine, &run_id, "central", true, client).await;
        counts.push((client, logged, at_relay, at_central));
    }
    common::remove_run(engine, &run_id).await;
    for (client, logged, at_relay, at_central) in counts {
        assert_eq!(logged, 300, "{client} logged its workload");
        let (status, observed) = common::check_of(outcome, CheckId::DELIVERY_EXACTLY_ONCE, client);
        let exactly_once = at_central == (logged, logged);
        assert_eq!(
            status,
            if exactly_once { Status::Pass } else { Status::Fail },
            "{client}: the central server has {at_central:?} (lines, distinct), the relay {at_relay:?}; the check said: {observed}"
        );
        assert!(
            observed.starts_with(&format!(
                "at central, the destination: stream 0: sent {logged}, arrived {}",
                at_central.1
            )),
            "{client}: {observed}"
        );
        let relay_judged = if at_relay == (logged, logged) {
            "exactly once"
        } else {
            "not exactly once"
        };
        assert!(
            observed.contains(&format!(
                "at relay relay ({relay_judged}): stream 0: sent {logged}, arrived {}",
                at_relay.1
            )),
            "{client}: {observed}"
        );
        assert_eq!(delivered(outcome, client), at_central.1, "{client}");
    }
}

/// retention on trixie (whose journal-remote knows MaxUse=): the remote-retention verdict agrees
/// with the sizes this test reads on the server, and each client's messages missing from the
/// server are said rotated away exactly when they are the oldest ones and journal-remote said
/// it deleted archived journals (counted here with grep).
#[tokio::test(flavor = "multi_thread")]
async fn retention_is_judged_and_rotation_said_apart_as_counted() {
    let reports = tempfile::tempdir().unwrap();
    let mut options = LabOptions::new(journal_lab::images::Recipes::built_in(), reports.path());
    options.keep = true;
    options.release = Some("trixie".into());
    let outcome = common::run_or_clean("retention", &seed("retention"), &options).await;
    let engine = Engine::connect().await.unwrap();
    let run_id = outcome.report.run_id.clone();
    let server = format!("server.{run_id}");
    let sizes = common::sh(
        &engine,
        &server,
        "find /var/log/journal/remote -name '*.journal*' -type f -printf '%s %b\\n'",
    )
    .await;
    let deleted = common::sh(
        &engine,
        &server,
        "journalctl -u systemd-journal-remote -o cat --no-pager | grep -c '^Deleted archived journal' || true",
    )
    .await;
    let mut seqs = Vec::new();
    for client in ["client1", "client2"] {
        let script = format!(
            "journalctl -D /var/log/journal/remote -o cat --no-pager | grep -F 'jl-work run={run_id} host={client} ' \
             | cut -d' ' -f5 | cut -d= -f2 | sort -n | uniq -c | awk '{{print $2, $1}}'"
        );
        let counted = common::sh(&engine, &server, &script).await;
        let per_seq: Vec<(u64, u64)> = counted
            .lines()
            .map(|l| {
                let (seq, n) = l.split_once(' ').unwrap();
                (seq.parse().unwrap(), n.parse().unwrap())
            })
            .collect();
        seqs.push((client, per_seq));
    }
    common::remove_run(&engine, &run_id).await;

    let files: Vec<(u64, u64)> = sizes
        .lines()
        .map(|l| {
            let (size, blocks) = l.split_once(' ').unwrap();
            (size.parse().unwrap(), blocks.parse::<u64>().unwrap() * 512)
        })
        .collect();
    let on_disk: u64 = files.iter().map(|f| f.1).sum();
    let largest = files.iter().map(|f| f.0).max().unwrap();
    let within = on_disk <= 4 << 20 && largest <= 1 << 20;
    let (status, observed) = common::check_of(&outcome, CheckId::REMOTE_RETENTION, "server");
    assert_eq!(
        status,
        if within { Status::Pass } else { Status::Fail },
        "measured here: {on_disk} bytes on disk, largest file {largest}; the check said: {observed}"
    );
    assert!(
        observed.contains(&format!("{} remote journal files", files.len())),
        "{observed}"
    );
    let deleted: u64 = deleted.trim().parse().unwrap();
    for (client, per_seq) in seqs {
        let (status, observed) = common::check_of(&outcome, CheckId::DELIVERY_EXACTLY_ONCE, client);
        let oldest_left = per_seq.first().map(|s| s.0).unwrap_or(0);
        // Exactly once from the oldest left to the last, the rest gone with deleted files.
        let rest_once =
            per_seq.iter().all(|(_, n)| *n == 1) && per_seq.len() as u64 == 20000 - oldest_left;
        let rotated_apart = deleted > 0 && oldest_left > 0;
        assert_eq!(
            status,
            if rest_once { Status::Pass } else { Status::Fail },
            "{client}: oldest left {oldest_left}, {} distinct; {deleted} files deleted; the check said: {observed}",
            per_seq.len()
        );
        assert!(
            observed.contains(&format!("arrived {}", per_seq.len())),
            "{client}: {observed}"
        );
        if rotated_apart {
            assert!(
                observed.contains(&format!(
                    "ROTATED AWAY {oldest_left} (seq 0–{}): the oldest, gone with the {deleted} archived journals",
                    oldest_left - 1
                )),
                "{client}: {observed}"
            );
        } else {
            assert!(!observed.contains("ROTATED"), "{client}: {observed}");
        }
    }
}

/// pull: each source's verdict is a pass exactly when the collector holds each message the
/// source logged once, and client-delivers agrees with this test's own grep for the source's
/// marker in the collector's remote journals.
#[tokio::test(flavor = "multi_thread")]
async fn pulled_journals_are_accounted_as_counted() {
    let reports = tempfile::tempdir().unwrap();
    let (outcome, engine) = run_kept("pull", reports.path()).await;
    let run_id = outcome.report.run_id.clone();
    let mut counts = Vec::new();
    for source in ["source1", "source2"] {
        let (_, logged) = common::count_workload(&engine, &run_id, source, false, source).await;
        let at_collector =
            common::count_workload(&engine, &run_id, "collector", true, source).await;
        let markers = grep_count(
            &engine,
            &format!("collector.{run_id}"),
            common::READ_REMOTE_FILES,
            &format!("journal-lab marker run={run_id} host={source} "),
        )
        .await;
        counts.push((source, logged, at_collector, markers));
    }
    common::remove_run(&engine, &run_id).await;
    for (source, logged, at_collector, markers) in counts {
        assert_eq!(logged, 300, "{source} logged its workload");
        assert_judged_as_counted(&outcome, source, logged, at_collector);
        let (status, observed) = common::check_of(&outcome, CheckId::CLIENT_DELIVERS, source);
        assert_eq!(
            status,
            if markers > 0 {
                Status::Pass
            } else {
                Status::Fail
            },
            "{source}: {markers} markers on the collector; the check said: {observed}"
        );
    }
}

/// proxy: each client's verdict agrees with the server's journal counted here, and the
/// messages came through the client's proxy: they are in the remote journal journal-remote
/// named after the proxy's address (read here from the proxy itself), none in any other.
#[tokio::test(flavor = "multi_thread")]
async fn uploads_through_proxies_are_accounted_as_counted() {
    let reports = tempfile::tempdir().unwrap();
    let (outcome, engine) = run_kept("proxy", reports.path()).await;
    let run_id = outcome.report.run_id.clone();
    let server = format!("server.{run_id}");
    let mut counts = Vec::new();
    for (client, proxy) in [("client1", "tcp-proxy"), ("client2", "tls-proxy")] {
        let (_, logged) = common::count_workload(&engine, &run_id, client, false, client).await;
        let at_server = common::count_workload(&engine, &run_id, "server", true, client).await;
        let address = common::sh(&engine, &format!("{proxy}.{run_id}"), "hostname -i").await;
        let in_proxys_file = grep_count(
            &engine,
            &server,
            &format!(
                "journalctl --file /var/log/journal/remote/remote-{}.journal -o cat --no-pager",
                address.trim()
            ),
            &format!("jl-work run={run_id} host={client} "),
        )
        .await;
        counts.push((client, logged, at_server, in_proxys_file));
    }
    common::remove_run(&engine, &run_id).await;
    for (client, logged, at_server, in_proxys_file) in counts {
        assert_eq!(logged, 300, "{client} logged its workload");
        assert_eq!(
            in_proxys_file, at_server.0,
            "{client}: every line the server holds came from its proxy's address"
        );
        assert_judged_as_counted(&outcome, client, logged, at_server);
    }
}

/// (lines, distinct) of each of `host`'s three workload streams in a journal of `on`.
async fn count_streams(
    engine: &Engine,
    run_id: &str,
    on: &str,
    remote: bool,
    host: &str,
) -> Vec<(u64, u64)> {
    let read = if remote {
        common::READ_REMOTE_FILES
    } else {
        "journalctl -o cat --no-pager"
    };
    let mut counts = Vec::new();
    for stream in 0..3 {
        let script = format!(
            "{read} | grep -F 'jl-work run={run_id} host={host} stream={stream} ' > /tmp/s; \
             wc -l < /tmp/s; cut -d' ' -f5 /tmp/s | sort -u | wc -l"
        );
        let out = common::sh(engine, &format!("{on}.{run_id}"), &script).await;
        let n: Vec<u64> = out
            .split_whitespace()
            .filter_map(|n| n.parse().ok())
            .collect();
        let [lines, distinct] = n[..] else {
            panic!("{host}'s stream {stream} on {on}: two counts expected from `{script}`, it printed {out:?}")
        };
        counts.push((lines, distinct));
    }
    counts
}

/// clock-skew: the client's clock was faked (stream 1, logged with the clock set back or
/// forward, carries times an hour off stream 0's, read here from the client's journal), the
/// restart was a new boot (two boot IDs in the client's journal), and each client's verdict
/// agrees with the per-stream counts read here on both ends.
#[tokio::test(flavor = "multi_thread")]
async fn a_clock_skew_across_a_reboot_is_accounted_as_counted() {
    let reports = tempfile::tempdir().unwrap();
    let (outcome, engine) = run_kept("clock-skew", reports.path()).await;
    let run_id = outcome.report.run_id.clone();
    let mut read = Vec::new();
    for (client, sign) in [("client1", -1.0), ("client2", 1.0)] {
        let on_client = count_streams(&engine, &run_id, client, false, client).await;
        let on_server = count_streams(&engine, &run_id, "server", true, client).await;
        let times = common::sh(
            &engine,
            &format!("{client}.{run_id}"),
            &format!(
                "journalctl -o short-unix --no-pager | grep -F 'jl-work run={run_id} host={client} ' | grep -E 'stream=[01] seq=0 ' | cut -d' ' -f1; \
                 journalctl --list-boots --no-pager | tail -n +2 | wc -l"
            ),
        )
        .await;
        read.push((client, sign, on_client, on_server, times));
    }
    // The lab's own entries (workload and markers) in the server's files, read one by one, and
    // through `journalctl -D`: for the merged-view FINDING, when the lab made one.
    let lab_entries =
        "-o cat --no-pager SYSLOG_IDENTIFIER=journal-lab-workload SYSLOG_IDENTIFIER=journal-lab";
    let in_files = common::sh(
        &engine,
        &format!("server.{run_id}"),
        &format!("for f in /var/log/journal/remote/*.journal*; do journalctl --file \"$f\" {lab_entries}; done | wc -l"),
    )
    .await;
    common::remove_run(&engine, &run_id).await;
    let in_files: u64 = in_files
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("a count of the server's lab entries, not {in_files:?}"));
    if let Some(finding) = outcome
        .report
        .findings
        .iter()
        .find(|f| f.summary.starts_with("journalctl -D "))
    {
        let numbers: Vec<u64> = finding
            .summary
            .split(' ')
            .filter_map(|w| w.parse().ok())
            .collect();
        let (shown, held) = (numbers[0], numbers[1]);
        assert!(
            shown < held && held == in_files,
            "the FINDING's counts agree with the files read here ({in_files}): {}",
            finding.summary
        );
    }
    for (client, sign, on_client, on_server, times) in read {
        // Every stream must have reached the client's journal: the clock fault moves the wall
        // clock only, and journald must keep logging through it (issue 43: faking the monotonic
        // timers killed it). If not, say what the run recorded.
        let (_, said) = common::check_of(&outcome, CheckId::DELIVERY_EXACTLY_ONCE, client);
        let failed_steps: Vec<String> = outcome
            .report
            .steps
            .iter()
            .filter_map(|s| {
                s.error
                    .as_ref()
                    .map(|e| format!("step {} ({}): {e}", s.index, s.step))
            })
            .collect();
        for (stream, (lines, _)) in on_client.iter().enumerate() {
            assert_eq!(
                *lines, 300,
                "{client}: its journal holds {lines} of stream {stream}'s 300 messages; the run said: \
                 {said}; failed steps: {failed_steps:?}"
            );
        }
        let mut lines = times.lines();
        let mut next = |what: &str| -> String {
            lines
                .next()
                .map(|l| l.trim().to_string())
                .unwrap_or_else(|| {
                    panic!("{client}: {what} is missing from what the client printed: {times:?}")
                })
        };
        let number = |text: String, what: &str| -> f64 {
            text.parse().unwrap_or_else(|_| {
                panic!("{client}: {what} is not a number: {text:?} (all: {times:?})")
            })
        };
        let first = number(
            next("stream 0's first timestamp"),
            "stream 0's first timestamp",
        );
        let second = number(
            next("stream 1's first timestamp"),
            "stream 1's first timestamp",
        );
        let boots = number(next("the number of boots"), "the number of boots") as u64;
        let offset = second - first;
        assert!(
            (offset - sign * 3600.0).abs() < 120.0,
            "{client}: stream 1 is {offset:.0} s from stream 0, not an hour {}",
            if sign < 0.0 { "back" } else { "forward" }
        );
        assert_eq!(boots, 2, "{client}: the restart is a boot of its own");
        let (status, observed) = common::check_of(&outcome, CheckId::DELIVERY_EXACTLY_ONCE, client);
        let exact = on_client
            .iter()
            .zip(&on_server)
            .all(|((_, logged), server)| *server == (*logged, *logged));
        assert_eq!(
            status,
            if exact { Status::Pass } else { Status::Fail },
            "{client}: client {on_client:?}, server {on_server:?}; the check said: {observed}"
        );
        for (stream, ((_, logged), (_, distinct))) in on_client.iter().zip(&on_server).enumerate() {
            assert!(
                observed.contains(&format!(
                    "stream {stream}: sent {logged}, arrived {distinct}"
                )),
                "{client} stream {stream}: {observed}"
            );
        }
    }
}

/// clock-skew under load (issue 43): two labs of it at once, beside whatever else the suite runs
/// (two, not more: every host draws on root's 128 inotify instances, about 17 hosts at once, and
/// the suite runs four tests at a time), judge as one alone does. The clock fault moves the wall clock only, so journald keeps
/// logging through it on every client (every stream's 300 messages in the client's journal,
/// all 300 on the server); no step fails; no check errs or is left not verifiable; every marker
/// arrives. (What journal-upload does with the message in flight at the reboot, a duplicate, is
/// the software's and may differ run to run; the check says it.)
#[tokio::test(flavor = "multi_thread")]
async fn clock_skew_judges_the_same_under_load() {
    let reports = tempfile::tempdir().unwrap();
    let options = LabOptions::new(journal_lab::images::Recipes::built_in(), reports.path());
    let scenario = seed("clock-skew");
    let (a, b) = tokio::join!(
        common::run_or_clean("clock-skew", &scenario, &options),
        common::run_or_clean("clock-skew", &scenario, &options),
    );
    for outcome in [a, b] {
        let run = &outcome.report.run_id;
        for step in &outcome.report.steps {
            assert!(
                step.error.is_none(),
                "{run}: step {} ({}) failed: {:?}",
                step.index,
                step.step,
                step.error
            );
        }
        for result in &outcome.report.checks {
            assert!(
                !matches!(result.status, Status::Error | Status::NotVerifiable),
                "{run}: {} on {} is {}: {}",
                result.id,
                result.host,
                result.status,
                result.observed
            );
        }
        for client in ["client1", "client2"] {
            let (status, said) = common::check_of(&outcome, CheckId::CLIENT_DELIVERS, client);
            assert_eq!(status, Status::Pass, "{run} {client}: {said}");
            let (_, said) = common::check_of(&outcome, CheckId::DELIVERY_EXACTLY_ONCE, client);
            for stream in 0..3 {
                assert!(
                    said.contains(&format!("stream {stream}: sent 300, arrived 300")),
                    "{run} {client} stream {stream}: {said}"
                );
            }
        }
    }
}

//! Exactly-once accounting of a workload: every sequence number a client logged must be on the
//! server once. The history is what the lab recorded (what was sent) and what the server's
//! journal holds (in its order); the verdict names the anomaly precisely: lost ranges,
//! duplicated ranges, reorderings.

use super::judged_by;
use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::{CheckId, Entry, Family, Target, Verdict};
use crate::domain::{Role, Status};

impl CheckId {
    pub const DELIVERY_EXACTLY_ONCE: CheckId = CheckId("delivery-exactly-once");
    pub const UPLOAD_RECOVERS: CheckId = CheckId("upload-recovers");
}

pub const FAMILY: Family = Family {
    name: "accounting",
    entries: &[
        Entry::new(
            CheckId::DELIVERY_EXACTLY_ONCE,
            "Every message the client logged is on the server exactly once",
            "each sequence number of the client's workloads arrives once: none lost, none twice",
            Some(Role::Client),
            "systemd-journal-upload.service(8) --save-state; systemd#13576, #19426, #2102",
            judged_by!(exactly_once),
        )
        .about(super::knobs::UPLOAD_CONNECTION),
        Entry::new(
            CheckId::UPLOAD_RECOVERS,
            "Uploading recovers after the faults",
            "after the last fault ended, journal-upload is active and a marker logged since then reached the server",
            Some(Role::Client),
            "systemd.unit(5) StartLimitIntervalSec=; systemd.service(5) Restart=, RestartSec=; systemd#19426, #2877",
            judged_by!(upload_recovers),
        )
        .for_uploaders()
        .about(super::knobs::UPLOAD_RECOVERY),
    ],
};

/// The identifier workload messages are logged with.
pub const WORKLOAD_IDENTIFIER: &str = "journal-lab-workload";

mod lines;
mod recovery;
mod retention;
mod route;
mod source;
#[cfg(test)]
pub(crate) use lines::read_here;
pub use lines::{
    lines_command, message_prefix, numbering_head, parse_lines, parse_numbering, run_prefix,
    JournalOf, WorkLine,
};
pub use recovery::{recovery_verdict, KEEP_RETRYING_DROP_IN};
pub use source::{parse_suppressed, workload_unit, SUPPRESSED_COMMAND};

/// A workload a client ran: what it logged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema, Deserialize)]
pub struct Workload {
    pub host: String,
    pub stream: u32,
    /// Sequence numbers 0..count were logged.
    pub count: u64,
    pub size: usize,
}

/// One stream's accounting.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema, Deserialize)]
pub struct Accounting {
    /// Distinct sequence numbers in the client's own journal: what it had to send.
    pub sent: u64,
    /// Asked for but never in the client's journal (the generator was cut short by a restart,
    /// or journald dropped them): not a delivery failure, but said.
    #[serde(default)]
    pub never_logged: u64,
    /// Distinct sequence numbers that arrived.
    pub arrived: u64,
    pub lost: Vec<(u64, u64)>,
    /// Sequence numbers that arrived more than once, as ranges.
    pub duplicated: Vec<(u64, u64)>,
    /// Arrivals whose sequence number is lower than one that arrived before it.
    pub out_of_order: u64,
}

impl Accounting {
    pub fn exactly_once(&self) -> bool {
        self.lost.is_empty() && self.duplicated.is_empty() && self.arrived == self.sent
    }
}

/// `seq 3–7, 9` for ranges.
pub struct Ranges<'a>(pub &'a [(u64, u64)]);

impl fmt::Display for Ranges<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|(a, b)| {
                if a == b {
                    format!("{a}")
                } else {
                    format!("{a}–{b}")
                }
            })
            .collect();
        write!(f, "seq {}", parts.join(", "))
    }
}

/// Sorted numbers as inclusive ranges.
fn ranges(numbers: impl IntoIterator<Item = u64>) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = Vec::new();
    for n in numbers {
        match out.last_mut() {
            Some((_, end)) if *end + 1 == n => *end = n,
            _ => out.push((n, n)),
        }
    }
    out
}

/// Accounts `arrivals` (sequence numbers in the server's order) against `sent` messages
/// numbered 0..sent. Numbers outside that range (another run's, a typo) are not counted.
pub fn account(sent: u64, arrivals: &[u64]) -> Accounting {
    account_logged(sent, &(0..sent).collect(), arrivals)
}

/// Accounts `arrivals` against the numbers the client's journal holds (`logged`), of the
/// `requested` 0..requested: what is logged must arrive, once.
pub fn account_logged(
    requested: u64,
    logged: &std::collections::BTreeSet<u64>,
    arrivals: &[u64],
) -> Accounting {
    let logged: std::collections::BTreeSet<u64> =
        logged.iter().copied().filter(|s| *s < requested).collect();
    let sent = logged.len() as u64;
    let mut seen: BTreeMap<u64, u64> = BTreeMap::new();
    let mut out_of_order = 0;
    let mut highest: Option<u64> = None;
    for &seq in arrivals.iter().filter(|&&s| s < requested) {
        *seen.entry(seq).or_default() += 1;
        if highest.is_some_and(|h| seq < h) {
            out_of_order += 1;
        }
        highest = highest.max(Some(seq));
    }
    Accounting {
        sent,
        never_logged: requested - sent,
        arrived: seen.len() as u64,
        lost: ranges(logged.iter().copied().filter(|s| !seen.contains_key(s))),
        duplicated: ranges(seen.iter().filter(|(_, n)| **n > 1).map(|(s, _)| *s)),
        out_of_order,
    }
}

/// (stream, seq) of each workload message of `host` in what [`lines_command`] printed, in order.
pub fn parse_arrivals(output: &str, host: &str) -> Vec<(u32, u64)> {
    parse_lines(output)
        .filter(|line| line.host == host)
        .map(|line| (line.stream, line.seq))
        .collect()
}

/// The verdict over all of a client's streams: `logged` is what the client's own journal holds,
/// `arrivals` what the server's does, both as (stream, seq).
pub fn verdict(workloads: &[Workload], logged: &[(u32, u64)], arrivals: &[(u32, u64)]) -> Verdict {
    verdict_with(workloads, logged, arrivals, &BTreeMap::new(), 0)
}

/// [`verdict`], with what journald said it suppressed of each stream ([`parse_suppressed`]):
/// messages asked for and never in the client's journal are dropped at the source when journald
/// said so, apart from delivery (the network cannot lose what was never logged).
pub fn verdict_with(
    workloads: &[Workload],
    logged: &[(u32, u64)],
    arrivals: &[(u32, u64)],
    suppressed: &BTreeMap<u32, u64>,
    deleted_files: u64,
) -> Verdict {
    if workloads.is_empty() {
        return (Status::NotApplicable, "this client ran no workload".into());
    }
    let mut parts = Vec::new();
    let mut exact = true;
    for workload in workloads {
        let seqs: Vec<u64> = arrivals
            .iter()
            .filter(|(s, _)| *s == workload.stream)
            .map(|(_, q)| *q)
            .collect();
        let on_client = logged
            .iter()
            .filter(|(s, _)| *s == workload.stream)
            .map(|(_, q)| *q)
            .collect();
        let mut a = account_logged(workload.count, &on_client, &seqs);
        let (rotated, lost) =
            retention::split_rotated(&a.lost, seqs.iter().min().copied(), deleted_files);
        a.lost = lost;
        let rotated_count: u64 = rotated.iter().map(|(x, y)| y - x + 1).sum();
        exact &=
            a.lost.is_empty() && a.duplicated.is_empty() && a.arrived + rotated_count == a.sent;
        let mut text = format!(
            "stream {}: sent {}, arrived {}",
            workload.stream, a.sent, a.arrived
        );
        match (a.never_logged, suppressed.get(&workload.stream)) {
            (0, _) => {}
            (never, Some(dropped)) => text.push_str(&format!(
                " ({never} of {} asked for never reached the client's journal: DROPPED AT THE SOURCE, \
                 journald's rate limit suppressed {dropped} messages of {}.service, by its own word{})",
                workload.count,
                workload_unit(workload.stream),
                if *dropped < never {
                    "; it says a window's count when the unit next logs, so the last window's goes unsaid"
                } else {
                    ""
                }
            )),
            (never, None) => text.push_str(&format!(
                " ({never} of {} asked for never reached the client's journal; journald said it suppressed none)",
                workload.count
            )),
        }
        if !rotated.is_empty() {
            text.push_str(&format!(
                ", ROTATED AWAY {rotated_count} ({}): the oldest, gone with the {deleted_files} archived journals the server's retention deleted (journal-remote said so); their delivery is no longer seen",
                Ranges(&rotated)
            ));
        }
        if !a.lost.is_empty() {
            let lost: u64 = a.lost.iter().map(|(x, y)| y - x + 1).sum();
            text.push_str(&format!(", LOST {lost} ({})", Ranges(&a.lost)));
        }
        if !a.duplicated.is_empty() {
            text.push_str(&format!(", DUPLICATED {}", Ranges(&a.duplicated)));
        }
        if a.out_of_order > 0 {
            text.push_str(&format!(", {} out of order", a.out_of_order));
        }
        parts.push(text);
    }
    (
        if exact { Status::Pass } else { Status::Fail },
        parts.join("; "),
    )
}

async fn upload_recovers(
    _: &Entry,
    target: &Target<'_>,
    evidence: &mut Vec<String>,
) -> crate::Result<Verdict> {
    let marker = target.observer.marker(target.host, evidence).await?;
    let unit = format!(
        "systemctl show -p ActiveState -p SubState -p Result -p NRestarts {0}; journalctl -u {0} -o cat --no-pager -n 10",
        crate::domain::UPLOAD_UNIT
    );
    let unit = target.probe(&unit, evidence).await?;
    Ok(recovery_verdict(
        target.observer.history().last_fault_ended(),
        &marker,
        &unit,
    ))
}

async fn exactly_once(
    _: &Entry,
    target: &Target<'_>,
    evidence: &mut Vec<String>,
) -> crate::Result<Verdict> {
    let workloads = target.observer.history().workloads_of(target.host);
    // Judged where the messages end, through relays if any.
    let Some(server) = route::destination(target) else {
        return Ok((Status::Error, "the client has no server".into()));
    };
    if workloads.is_empty() {
        return Ok(verdict(&workloads, &[], &[]));
    }
    // What the client's own journal holds is what it had to send.
    // The same reads as run.json's `delivery` (timed, the server's for every client): in a
    // phase's batch they are read once for both.
    let own = lines_command(target.run_id, Some(target.host), JournalOf::Host, true);
    let own_out = target.observer.exec(target.host, &own).await?;
    let logged = parse_arrivals(&own_out.stdout, target.host);
    evidence.push(format!(
        "[{}]$ {own}  (exit {}): {} workload lines in the client's journal",
        target.host,
        own_out.exit_code,
        logged.len()
    ));
    // One read of the server's journal for the whole client (not one per message).
    let arrivals = route::read_arrivals(target, server, evidence).await?;
    // A client whose journal shows none of what its server received from it was not read
    // right (a read racing a busy journal came back empty once, on sid): look again, and if it
    // still says nothing, say so rather than call the server's copies "never logged".
    let mut logged = logged;
    if logged.is_empty() && !arrivals.is_empty() {
        let again = lines_command(target.run_id, Some(target.host), JournalOf::Host, false);
        let out = target.observer.exec(target.host, &again).await?;
        logged = parse_arrivals(&out.stdout, target.host);
        evidence.push(format!(
            "[{}]$ {again}  (exit {}, a second look): {} workload lines in the client's journal",
            target.host,
            out.exit_code,
            logged.len()
        ));
        if logged.is_empty() {
            return Ok((
                Status::NotVerifiable,
                format!(
                    "the client's journal read back none of its workload although the server holds {} of its messages: \
                     the client's journal could not be read",
                    arrivals.len()
                ),
            ));
        }
    }
    // journald's own word on what it dropped at the source (its rate limit).
    let dropped = target
        .observer
        .exec(target.host, SUPPRESSED_COMMAND)
        .await?;
    let suppressed = parse_suppressed(&dropped.stdout);
    evidence.push(format!(
        "[{}]$ {SUPPRESSED_COMMAND}\n{}",
        target.host,
        dropped.stdout.trim_end()
    ));
    // The server's word on what its retention deleted.
    let deleted = target
        .observer
        .exec(server, retention::DELETED_COMMAND)
        .await?;
    let deleted_files = retention::parse_deleted(&deleted.stdout);
    if deleted_files > 0 {
        evidence.push(format!(
            "[{server}]$ {}  : {deleted_files} archived journals deleted",
            retention::DELETED_COMMAND
        ));
    }
    let (status, mut observed) =
        verdict_with(&workloads, &logged, &arrivals, &suppressed, deleted_files);
    let hops = route::relay_hops(target, &workloads, &logged, evidence).await?;
    if !hops.is_empty() {
        observed = format!(
            "at {server}, the destination: {observed}; {}",
            hops.join("; ")
        );
    }
    if status != Status::Pass {
        // Why: the upload unit's state and both ends' own words.
        let unit = format!(
            "systemctl show -p ActiveState -p SubState -p Result -p NRestarts {}; journalctl -u {} -o cat --no-pager -n 10",
            crate::domain::UPLOAD_UNIT,
            crate::domain::UPLOAD_UNIT
        );
        target.probe(&unit, evidence).await?;
        let remote = format!(
            "journalctl -u {} -o cat --no-pager -n 10",
            crate::domain::REMOTE_UNIT
        );
        target.probe_on(server, &remote, evidence).await?;
    }
    Ok((status, observed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_number_once_is_exactly_once() {
        let a = account(5, &[0, 1, 2, 3, 4]);
        assert!(a.exactly_once(), "{a:?}");
        assert_eq!((a.arrived, a.out_of_order), (5, 0));
    }

    #[test]
    fn a_gap_in_the_middle_is_a_lost_range() {
        let arrivals: Vec<u64> = (0..3000)
            .filter(|s| !(1855..=2999).contains(s) || *s == 2999)
            .collect();
        let a = account(3000, &arrivals);
        assert_eq!(a.lost, vec![(1855, 2998)]);
        assert_eq!(format!("{}", Ranges(&a.lost)), "seq 1855–2998");
        assert!(!a.exactly_once());
    }

    #[test]
    fn numbers_that_arrive_twice_are_duplicates() {
        let a = account(6, &[0, 1, 2, 3, 2, 3, 4, 5, 5]);
        assert_eq!(a.duplicated, vec![(2, 3), (5, 5)]);
        assert!(a.lost.is_empty());
        assert_eq!(a.arrived, 6);
        assert!(!a.exactly_once());
        // Sending the same entries again after a reconnect puts one behind a later one.
        assert_eq!(a.out_of_order, 1);
    }

    #[test]
    fn a_reordering_alone_loses_nothing() {
        let a = account(4, &[0, 2, 1, 3]);
        assert!(a.exactly_once());
        assert_eq!(a.out_of_order, 1);
    }

    #[test]
    fn an_empty_stream_loses_everything_and_nothing_sent_is_nothing_lost() {
        let a = account(3, &[]);
        assert_eq!(a.lost, vec![(0, 2)]);
        assert!(account(0, &[]).exactly_once());
    }

    /// Recorded `systemctl show` + journal output of journal-upload after server-outage
    /// (bookworm): the restart loop ended in the start limit.
    #[test]
    fn recovery_fails_with_the_remedy_when_the_start_limit_was_hit() {
        use crate::checks::MarkerObservation;
        use crate::domain::ExecOutput;
        let t = |s: i64| time::OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(s);
        let gave_up = ExecOutput {
            exit_code: 0,
            stdout: "Result=exit-code\nNRestarts=5\nActiveState=failed\nSubState=failed\n\
                     systemd-journal-upload.service: Start request repeated too quickly.\n"
                .into(),
            stderr: String::new(),
        };
        let after = MarkerObservation {
            logged: Some("m".into()),
            logged_at: Some(t(100)),
            ..MarkerObservation::default()
        };
        let (status, observed) = recovery_verdict(Some(t(50)), &after, &gave_up);
        assert_eq!(status, Status::Fail);
        assert!(
            observed.contains("failed/failed") && observed.contains("StartLimitIntervalSec=0"),
            "{observed}"
        );
        let running = ExecOutput {
            stdout: "Result=success\nNRestarts=3\nActiveState=active\nSubState=running\n".into(),
            ..gave_up.clone()
        };
        let arrived = MarkerObservation {
            found_in: Some("/var/log/journal/remote/remote-1.journal".into()),
            ..after.clone()
        };
        assert_eq!(
            recovery_verdict(Some(t(50)), &arrived, &running).0,
            Status::Pass
        );
        // Active but the marker is missing: not recovered, and no start-limit remedy offered.
        let (status, observed) = recovery_verdict(Some(t(50)), &after, &running);
        assert_eq!(status, Status::Fail);
        assert!(!observed.contains("StartLimitIntervalSec"), "{observed}");
        // A marker from before the fault ended proves nothing.
        let before = MarkerObservation {
            logged_at: Some(t(10)),
            ..arrived.clone()
        };
        assert_eq!(
            recovery_verdict(Some(t(50)), &before, &running).0,
            Status::NotVerifiable
        );
        assert_eq!(
            recovery_verdict(None, &arrived, &running).0,
            Status::NotApplicable
        );
    }

    /// A client restarted while it logs: the generator dies, and what it never logged is not
    /// lost in delivery (it is said apart); what the client's journal holds must arrive.
    #[test]
    fn only_what_the_client_logged_had_to_arrive() {
        let logged: std::collections::BTreeSet<u64> = (0..250).collect();
        let a = account_logged(400, &logged, &(0..250).collect::<Vec<_>>());
        assert!(a.exactly_once(), "{a:?}");
        assert_eq!((a.sent, a.never_logged), (250, 150));
        let w = [Workload {
            host: "c1".into(),
            stream: 0,
            count: 400,
            size: 400,
        }];
        let on_client: Vec<(u32, u64)> = (0..250).map(|s| (0, s)).collect();
        let (status, observed) = verdict(&w, &on_client, &on_client[..200]);
        assert_eq!(status, Status::Fail);
        assert!(
            observed.contains("LOST 50 (seq 200–249)") && observed.contains("150 of 400"),
            "{observed}"
        );
    }

    #[test]
    fn the_reading_command_selects_the_run_and_the_parser_reads_what_it_prints() {
        let lines = "jl-work run=jl-1 host=c1 stream=0 seq=0 aaaa\n\
                     jl-work run=jl-2 host=c1 stream=0 seq=1 bbbb\n\
                     jl-work run=jl-1 host=c2 stream=0 seq=1 cccc\n\
                     jl-work run=jl-1 host=c1 stream=0 seq=1 dddd\n\
                     something else\n";
        let run = read_here;
        let out = run(
            &lines_command("jl-1", Some("c1"), JournalOf::Host, false),
            lines,
        );
        assert_eq!(out, "host=c1 stream=0 seq=0\nhost=c1 stream=0 seq=1\n");
        assert_eq!(parse_arrivals(&out, "c1"), vec![(0, 0), (0, 1)]);
        let timed = "1700000000.250000 client1 journal-lab-workload[7]: jl-work run=jl-1 host=c1 stream=2 seq=5 xx\n";
        let out = run(&lines_command("jl-1", None, JournalOf::Remote, true), timed);
        assert_eq!(out, "1700000000.250000 host=c1 stream=2 seq=5\n");
        let line = parse_lines(&out).next().unwrap();
        assert_eq!(
            (line.host, line.stream, line.seq, line.at),
            ("c1", 2, 5, Some(1_700_000_000.25))
        );
        // What the generator writes is what the readers select.
        assert!(message_prefix("jl-1", "c1", 0, 7).starts_with(&run_prefix("jl-1")));

        let w = [Workload {
            host: "c1".into(),
            stream: 0,
            count: 2,
            size: 400,
        }];
        let all = [(0, 0), (0, 1)];
        let arrived = run(
            &lines_command("jl-1", Some("c1"), JournalOf::Remote, false),
            lines,
        );
        assert_eq!(
            verdict(&w, &all, &parse_arrivals(&arrived, "c1")).0,
            Status::Pass
        );
        let other_run = run(
            &lines_command("jl-2", Some("c1"), JournalOf::Remote, false),
            lines,
        );
        let (status, observed) = verdict(&w, &all, &parse_arrivals(&other_run, "c1"));
        assert_eq!(status, Status::Fail);
        assert!(observed.contains("LOST 1 (seq 0)"), "{observed}");
    }
}

//! What journal-upload does when its server goes silent: a `blackhole` fault drops every packet
//! to journal-remote's port without a reset, so an upload in flight waits for an answer that
//! never comes (systemd#32354). `NetworkTimeoutSec=` (journal-upload.conf, systemd 249) bounds
//! that wait: the check measures, from the client's own log, how long the upload hung before it
//! gave up, against the timeout in force.

use super::judged_by;

use super::{effective_setting, CheckId, Entry, Family, Target, Verdict};
use crate::domain::{FaultKind, Role, Status};

impl CheckId {
    pub const UPLOAD_NETWORK_TIMEOUT: CheckId = CheckId("upload-network-timeout");
}

pub const FAMILY: Family = Family {
    name: "timeouts",
    entries: &[Entry::new(
        CheckId::UPLOAD_NETWORK_TIMEOUT,
        "journal-upload gives up on a silent server within its NetworkTimeoutSec=",
        "during a blackhole of its server, journal-upload logs a failed upload within \
         NetworkTimeoutSec= (and 5 s) of the blackhole's start; with no NetworkTimeoutSec= it has \
         no timeout of its own",
        Some(Role::Client),
        "journal-upload.conf(5) NetworkTimeoutSec= (systemd 249); systemd#32354, PR #19827",
        judged_by!(network_timeout),
    )
    .for_uploaders()],
};

/// How far past `NetworkTimeoutSec=` a give-up still counts as in time: one poll of curl's
/// timer and the log's own latency, with room for a loaded machine.
const SLACK_SECONDS: f64 = 5.0;

async fn network_timeout(
    _: &Entry,
    target: &Target<'_>,
    evidence: &mut Vec<String>,
) -> crate::Result<Verdict> {
    let history = target.observer.history();
    let Some(server) = target.server else {
        return Ok((Status::Error, "the client has no server".into()));
    };
    let Some((blackhole, _)) = history
        .faults()
        .find(|(event, kind)| *kind == FaultKind::Blackhole && event.host == server)
    else {
        return Ok((
            Status::NotApplicable,
            format!("no blackhole of {server} in this run"),
        ));
    };
    if history.workloads_of(target.host).is_empty() {
        return Ok((
            Status::NotVerifiable,
            "the client logged no workload: nothing was being uploaded when its server went silent"
                .into(),
        ));
    }
    let started = unix(blackhole.started);
    let ended = blackhole.ended.map(unix);
    let config = target
        .probe(
            "systemd-analyze cat-config systemd/journal-upload.conf",
            evidence,
        )
        .await?;
    let timeout = effective_setting(&config.stdout, "NetworkTimeoutSec");
    let log = target
        .probe(
            &format!(
                "journalctl -u {} -o short-unix --no-pager --since @{}",
                crate::domain::UPLOAD_UNIT,
                started.floor() as i64 - 1
            ),
            evidence,
        )
        .await?;
    Ok(verdict(
        timeout.as_deref(),
        started,
        ended,
        &first_failure(&log.stdout, started),
    ))
}

fn unix(t: time::OffsetDateTime) -> f64 {
    t.unix_timestamp_nanos() as f64 / 1e9
}

/// The first "Upload to … failed" line at or after `since`, with its time (`-o short-unix`).
fn first_failure(log: &str, since: f64) -> Option<(f64, String)> {
    log.lines().find_map(|line| {
        let (at, rest) = line.split_once(' ')?;
        let at: f64 = at.parse().ok()?;
        let said = rest.split_once(": ").map_or(rest, |(_, said)| said);
        (at >= since && said.starts_with("Upload to ") && said.contains(" failed"))
            .then(|| (at, said.to_string()))
    })
}

/// A systemd time span as journal-upload.conf takes it (`10`, `10s`, `1min`, `1.5s`, `500ms`),
/// in seconds; None for what is not one (`infinity` included).
fn span_seconds(text: &str) -> Option<f64> {
    let text = text.trim();
    let digits = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let number: f64 = number.parse().ok()?;
    let factor = match unit.trim() {
        "" | "s" | "sec" | "second" | "seconds" => 1.0,
        "ms" | "msec" => 0.001,
        "us" | "usec" => 0.000_001,
        "m" | "min" | "minute" | "minutes" => 60.0,
        "h" | "hr" | "hour" | "hours" => 3600.0,
        _ => return None,
    };
    Some(number * factor)
}

/// The verdict from the timeout in force (`NetworkTimeoutSec=`'s value, if set), when the
/// blackhole started and ended (None: still in force), and the first failed upload after its
/// start.
fn verdict(
    timeout: Option<&str>,
    started: f64,
    ended: Option<f64>,
    failure: &Option<(f64, String)>,
) -> Verdict {
    let lasted = ended.map(|end| end - started);
    let gave_up = failure.as_ref().map(|(at, said)| (at - started, said));
    let Some(setting) = timeout else {
        return (
            Status::Fail,
            match gave_up {
                Some((after, said)) => format!(
                    "no NetworkTimeoutSec= is set; journal-upload gave up after {after:.1} s anyway: {said}"
                ),
                None => format!(
                    "no NetworkTimeoutSec= is set, and journal-upload hung{}: it never logged a failed upload",
                    lasted.map_or(String::new(), |s| format!(" through the whole {s:.0} s blackhole"))
                ),
            },
        );
    };
    let Some(limit) = span_seconds(setting) else {
        return (
            Status::Fail,
            format!("NetworkTimeoutSec={setting} is not a finite time span: journal-upload has no timeout"),
        );
    };
    match gave_up {
        Some((after, said)) if after <= limit + SLACK_SECONDS => (
            Status::Pass,
            format!("gave up after {after:.1} s (NetworkTimeoutSec={setting}): {said}"),
        ),
        Some((after, said)) => (
            Status::Fail,
            format!("hung {after:.1} s before it gave up, past NetworkTimeoutSec={setting}: {said}"),
        ),
        None => match lasted {
            Some(lasted) if lasted < limit + SLACK_SECONDS => (
                Status::NotVerifiable,
                format!(
                    "the blackhole lasted {lasted:.0} s, not longer than NetworkTimeoutSec={setting} (and {SLACK_SECONDS:.0} s): \
                     there was no time to give up in"
                ),
            ),
            Some(lasted) => (
                Status::Fail,
                format!(
                    "hung through the whole {lasted:.0} s blackhole without giving up (NetworkTimeoutSec={setting})"
                ),
            ),
            None => (
                Status::Fail,
                format!("hung without giving up while the blackhole lasted (NetworkTimeoutSec={setting})"),
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "\
1000.100000 client1 systemd[1]: Started systemd-journal-upload.service - Journal Remote Upload Service.
1012.400000 client1 systemd-journal-upload[52]: Upload to https://server:19532/upload failed: Operation timed out after 10001 milliseconds with 0 bytes received
1012.500000 client1 systemd[1]: systemd-journal-upload.service: Main process exited, code=exited, status=1/FAILURE
";

    #[test]
    fn the_first_failed_upload_after_the_start_is_found() {
        let (at, said) = first_failure(LOG, 1002.0).unwrap();
        assert_eq!(at, 1012.4);
        assert!(
            said.starts_with("Upload to https://server:19532/upload failed: Operation timed out")
        );
        assert_eq!(
            first_failure(LOG, 1013.0),
            None,
            "only after the blackhole started"
        );
    }

    #[test]
    fn spans_read_as_systemd_reads_them() {
        assert_eq!(span_seconds("10"), Some(10.0));
        assert_eq!(span_seconds("10s"), Some(10.0));
        assert_eq!(span_seconds("1min"), Some(60.0));
        assert_eq!(span_seconds("500ms"), Some(0.5));
        assert_eq!(span_seconds("infinity"), None);
        assert_eq!(span_seconds(""), None);
    }

    #[test]
    fn giving_up_in_time_passes_and_hanging_says_how_long() {
        let failed = first_failure(LOG, 1002.0);
        assert_eq!(
            verdict(Some("10s"), 1002.0, Some(1032.0), &failed).0,
            Status::Pass
        );
        let (status, observed) = verdict(Some("3s"), 1002.0, Some(1032.0), &failed);
        assert_eq!(status, Status::Fail);
        assert!(
            observed.contains("hung 10.4 s before it gave up"),
            "{observed}"
        );
        let (status, observed) = verdict(None, 1002.0, Some(1032.0), &None);
        assert_eq!(status, Status::Fail);
        assert!(
            observed.contains("through the whole 30 s blackhole"),
            "{observed}"
        );
        let (status, observed) = verdict(Some("10s"), 1002.0, Some(1032.0), &None);
        assert_eq!(status, Status::Fail);
        assert!(
            observed.contains("hung through the whole 30 s"),
            "{observed}"
        );
        assert_eq!(
            verdict(Some("60s"), 1002.0, Some(1032.0), &None).0,
            Status::NotVerifiable,
            "a blackhole shorter than the timeout proves nothing"
        );
        assert_eq!(
            verdict(Some("infinity"), 1002.0, None, &None).0,
            Status::Fail
        );
    }
}

//! The state changes of a client's journal-upload unit, as PID 1 logged them on the host
//! (started, failed, a restart scheduled, the start limit hit): the timeline marks them on the
//! client's lanes, so a reader sees when the upload gave up or came back, not only what it lost.

use serde::{Deserialize, Serialize};

/// At most this many of a unit's events are read (the newest): a restart loop logs five lines
/// a restart.
pub const MAX_EVENTS: usize = 400;

/// What happened to the unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum UnitEventKind {
    /// Its start job finished: it runs.
    Started,
    /// Its main process ended in failure (`Failed with result '…'`).
    Failed,
    /// `Restart=` scheduled another start.
    RestartScheduled,
    /// systemd refused to start it again: `StartLimitBurst=` starts within
    /// `StartLimitIntervalSec=`; it stays down until someone starts it.
    StartLimitHit,
    /// A start job failed (after the start limit, or a dependency).
    FailedToStart,
}

impl UnitEventKind {
    /// The words the timeline and the legend use.
    pub fn words(self) -> &'static str {
        match self {
            UnitEventKind::Started => "started",
            UnitEventKind::Failed => "failed",
            UnitEventKind::RestartScheduled => "restart scheduled",
            UnitEventKind::StartLimitHit => "start limit hit",
            UnitEventKind::FailedToStart => "failed to start",
        }
    }
}

/// One state change of the upload unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UnitEvent {
    /// When PID 1 logged it (unix seconds, the host's clock: the machine's).
    pub at: f64,
    pub kind: UnitEventKind,
    /// PID 1's message, as logged.
    pub message: String,
}

/// systemd's catalog ids (src/systemd/sd-messages.h) of the messages read, by what they mean.
const STARTED: &str = "39f53479d3a045ac8e11786248231fbf";
const FAILED: &str = "d9b373ed55a64feb8242e02dbe79a49c";
const RESTART_SCHEDULED: &str = "5eb03494b6584870a536b337290809b3";
const FAILED_TO_START: &str = "be02cf6855d2428ba40df7e9d022f03d";
/// 252 logs the refusal with no id, in these words (later releases also fail the unit with
/// result `start-limit-hit`).
const START_LIMIT_WORDS: &str = "Start request repeated too quickly";

/// The events in what `journalctl -o json _PID=1 UNIT=…` printed (the lab's fact read) (lines that are not such JSON are passed over).
pub fn parse(output: &str) -> Vec<UnitEvent> {
    output
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter_map(|entry| {
            let field = |name: &str| entry.get(name).and_then(|v| v.as_str()).unwrap_or("");
            let message = field("MESSAGE");
            let kind = match field("MESSAGE_ID") {
                STARTED if field("JOB_RESULT") == "done" => UnitEventKind::Started,
                FAILED if field("UNIT_RESULT") == "start-limit-hit" => UnitEventKind::StartLimitHit,
                FAILED => UnitEventKind::Failed,
                RESTART_SCHEDULED => UnitEventKind::RestartScheduled,
                FAILED_TO_START => UnitEventKind::FailedToStart,
                _ if message.contains(START_LIMIT_WORDS) => UnitEventKind::StartLimitHit,
                _ => return None,
            };
            let at = field("__REALTIME_TIMESTAMP").parse::<f64>().ok()? / 1e6;
            Some(UnitEvent {
                at,
                kind,
                message: message.chars().take(200).collect(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What bookworm's PID 1 logged of a journal-upload that lost its server and hit the start
    /// limit (read from a server-outage lab, fields as the command selects them).
    #[test]
    fn a_restart_loop_ending_at_the_start_limit_is_read_in_order() {
        let output = r#"{"__REALTIME_TIMESTAMP":"1796682176564859","MESSAGE_ID":"39f53479d3a045ac8e11786248231fbf","JOB_TYPE":"start","JOB_RESULT":"done","MESSAGE":"Started systemd-journal-upload.service - Journal Remote Upload Service."}
{"__REALTIME_TIMESTAMP":"1796682176916618","MESSAGE_ID":"98e322203f7a4ed290d09fe03c09fe15","MESSAGE":"systemd-journal-upload.service: Main process exited, code=exited, status=1/FAILURE"}
{"__REALTIME_TIMESTAMP":"1796682176916944","MESSAGE_ID":"d9b373ed55a64feb8242e02dbe79a49c","UNIT_RESULT":"exit-code","MESSAGE":"systemd-journal-upload.service: Failed with result 'exit-code'."}
{"__REALTIME_TIMESTAMP":"1796682177262545","MESSAGE_ID":"5eb03494b6584870a536b337290809b3","MESSAGE":"systemd-journal-upload.service: Scheduled restart job, restart counter is at 1."}
{"__REALTIME_TIMESTAMP":"1796682177262667","MESSAGE_ID":"9d1aaa27d60140bd96365438aad20286","JOB_TYPE":"restart","JOB_RESULT":"done","MESSAGE":"Stopped systemd-journal-upload.service - Journal Remote Upload Service."}
{"__REALTIME_TIMESTAMP":"1796682178262039","MESSAGE":"systemd-journal-upload.service: Start request repeated too quickly."}
{"__REALTIME_TIMESTAMP":"1796682178262180","MESSAGE_ID":"be02cf6855d2428ba40df7e9d022f03d","JOB_TYPE":"start","JOB_RESULT":"failed","MESSAGE":"Failed to start systemd-journal-upload.service - Journal Remote Upload Service."}
not json
"#;
        let events = parse(output);
        let kinds: Vec<UnitEventKind> = events.iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            [
                UnitEventKind::Started,
                UnitEventKind::Failed,
                UnitEventKind::RestartScheduled,
                UnitEventKind::StartLimitHit,
                UnitEventKind::FailedToStart,
            ]
        );
        assert!((events[0].at - 1_796_682_176.564_859).abs() < 1e-6);
        // A later release's refusal: the unit fails with result start-limit-hit.
        let later = r#"{"__REALTIME_TIMESTAMP":"1","MESSAGE_ID":"d9b373ed55a64feb8242e02dbe79a49c","UNIT_RESULT":"start-limit-hit","MESSAGE":"x"}"#;
        assert_eq!(parse(later)[0].kind, UnitEventKind::StartLimitHit);
    }
}

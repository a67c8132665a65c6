//! Delivery: a client's journal reaches its server, and both ends say they are working.

use super::judged_by;

use super::{knobs, CheckId, Entry, Family, MarkerObservation, Param, Target, Verdict};
use crate::domain::{ExecOutput, Role, Status, REMOTE_UNIT, UPLOAD_UNIT};

const JOURNAL_REMOTE_DOC: &str = "systemd-journal-remote.service(8), journal-remote.conf(5)";
pub(super) const JOURNAL_UPLOAD_DOC: &str =
    "systemd-journal-upload.service(8), journal-upload.conf(5)";

impl CheckId {
    pub const CLIENT_DELIVERS: CheckId = CheckId("client-delivers");
    pub const SERVER_STATUS_PROCESSING: CheckId = CheckId("server-status-processing");
    pub const CLIENT_STATUS_PROCESSING: CheckId = CheckId("client-status-processing");
    pub const UPLOAD_RESTART_ALWAYS: CheckId = CheckId("upload-restart-always");
    pub const UPLOAD_RESTARTS_AT_MOST: CheckId = CheckId("upload-restarts-at-most");
}

/// `upload-restarts-at-most`'s one parameter.
const MAX_RESTARTS: Param = Param {
    name: "max",
    doc: "the restarts by journal-upload's Restart= policy allowed",
    default: 0,
    max: 1_000_000,
};

pub const FAMILY: Family = Family {
    name: "delivery",
    entries: &[
        Entry::new(
            CheckId::CLIENT_DELIVERS,
            "The client's journal reaches the server",
            "the client's marker is in the server's /var/log/journal/remote",
            Some(Role::Client),
            JOURNAL_UPLOAD_DOC,
            judged_by!(client_delivers),
        )
        .about(knobs::UPLOAD_CONNECTION),
        Entry::new(
            CheckId::SERVER_STATUS_PROCESSING,
            "journal-remote is processing requests",
            "StatusText=Processing requests...",
            Some(Role::Server),
            JOURNAL_REMOTE_DOC,
            judged_by!(status_processing),
        )
        .about(knobs::REMOTE_LISTENING),
        Entry::new(
            CheckId::CLIENT_STATUS_PROCESSING,
            "journal-upload is processing input",
            "StatusText=Processing input...",
            Some(Role::Client),
            JOURNAL_UPLOAD_DOC,
            judged_by!(status_processing),
        )
        .for_uploaders()
        .about(knobs::UPLOAD_CONNECTION),
        Entry::new(
            CheckId::UPLOAD_RESTART_ALWAYS,
            "journal-upload restarts always and is enabled",
            "Restart=always, enabled",
            Some(Role::Client),
            JOURNAL_UPLOAD_DOC,
            judged_by!(restart_always),
        )
        .for_uploaders()
        .about(knobs::UPLOAD_RESTART)
        .in_profile(super::Severity::Warning),
        Entry::new(
            CheckId::UPLOAD_RESTARTS_AT_MOST,
            "journal-upload restarted at most `max` times",
            "NRestarts (restarts by its Restart= policy) at most `max` (default 0)",
            Some(Role::Client),
            JOURNAL_UPLOAD_DOC,
            judged_by!(restarts_at_most),
        )
        .for_uploaders()
        .about(knobs::UPLOAD_RESTART)
        .with_params(&[MAX_RESTARTS]),
    ],
};

async fn client_delivers(
    _: &Entry,
    target: &Target<'_>,
    evidence: &mut Vec<String>,
) -> crate::Result<Verdict> {
    Ok(delivery_verdict(
        &target.observer.marker(target.host, evidence).await?,
    ))
}

async fn restart_always(
    _: &Entry,
    target: &Target<'_>,
    evidence: &mut Vec<String>,
) -> crate::Result<Verdict> {
    let command = format!(
        "systemctl show -p Restart --value {UPLOAD_UNIT}; systemctl is-enabled {UPLOAD_UNIT}"
    );
    Ok(restart_always_verdict(
        &target.probe(&command, evidence).await?,
    ))
}

async fn restarts_at_most(
    entry: &Entry,
    target: &Target<'_>,
    evidence: &mut Vec<String>,
) -> crate::Result<Verdict> {
    let command = format!("systemctl show -p NRestarts -p ActiveState -p Result {UPLOAD_UNIT}");
    Ok(restarts_verdict(
        &target.probe(&command, evidence).await?,
        target.param(entry, MAX_RESTARTS.name),
    ))
}

/// journal-remote's or journal-upload's status line, by the host's role.
async fn status_processing(
    _: &Entry,
    target: &Target<'_>,
    evidence: &mut Vec<String>,
) -> crate::Result<Verdict> {
    let (unit, wanted) = match target.role {
        Role::Server => (REMOTE_UNIT, "Processing requests..."),
        Role::Client => (UPLOAD_UNIT, "Processing input..."),
        Role::Proxy => return Ok(proxy_not_applicable()),
    };
    let command =
        format!("systemctl show -p StatusText -p ActiveState -p SubState -p Result {unit}");
    Ok(status_text_verdict(
        &target.probe(&command, evidence).await?,
        wanted,
    ))
}

/// What a check about journal-remote or journal-upload says of a proxy, which runs neither.
pub fn proxy_not_applicable() -> Verdict {
    (
        Status::NotApplicable,
        "a proxy runs neither journal-remote nor journal-upload".into(),
    )
}

pub fn delivery_verdict(marker: &MarkerObservation) -> Verdict {
    match (&marker.logged, &marker.found_in) {
        (None, _) => (
            Status::Error,
            "no marker was logged on this client (the scenario needs a log-markers step)".into(),
        ),
        (Some(_), Some(file)) => (
            Status::Pass,
            format!("the marker is on the server, in {file}"),
        ),
        (Some(text), None) => (
            Status::Fail,
            format!("the marker {text:?} did not reach the server"),
        ),
    }
}

/// `systemctl show -p StatusText -p ActiveState -p SubState -p Result UNIT`: StatusText must
/// equal `wanted`; when it does not, the unit's state says why (stopped by hand, failed after
/// its start limit, ...).
pub fn status_text_verdict(output: &ExecOutput, wanted: &str) -> Verdict {
    let property = |name: &str| shown(output, name).to_string();
    let seen = property("StatusText");
    if seen == wanted {
        (Status::Pass, format!("StatusText={seen}"))
    } else {
        (
            Status::Fail,
            format!(
                "StatusText={seen:?} (ActiveState={} SubState={} Result={})",
                property("ActiveState"),
                property("SubState"),
                property("Result")
            ),
        )
    }
}

/// Output of `systemctl show -p Restart --value U; systemctl is-enabled U`.
pub fn restart_always_verdict(output: &ExecOutput) -> Verdict {
    let mut lines = output.stdout.lines().map(str::trim);
    let (restart, enabled) = (lines.next().unwrap_or(""), lines.next().unwrap_or(""));
    let status = if restart == "always" && enabled == "enabled" {
        Status::Pass
    } else {
        Status::Fail
    };
    (status, format!("Restart={restart}, {enabled}"))
}

/// Output of `systemctl show -p NRestarts -p ActiveState -p Result U`: at most `max` restarts.
/// No number (a systemd without the property, or no such unit) is not a pass.
pub fn restarts_verdict(output: &ExecOutput, max: u64) -> Verdict {
    let property = |name: &str| shown(output, name);
    let state = format!(
        "ActiveState={} Result={}",
        property("ActiveState"),
        property("Result")
    );
    match property("NRestarts").parse::<u64>() {
        Err(_) => (
            Status::Error,
            format!("systemd gave no NRestarts for journal-upload ({state})"),
        ),
        Ok(restarts) if restarts <= max => (
            Status::Pass,
            format!("NRestarts={restarts}, at most {max} ({state})"),
        ),
        Ok(restarts) => (
            Status::Fail,
            format!("NRestarts={restarts}, more than the {max} allowed ({state})"),
        ),
    }
}

/// Property `name` in `systemctl show -p NAME …` output ("" where it is not there).
fn shown<'a>(output: &'a ExecOutput, name: &str) -> &'a str {
    output
        .stdout
        .lines()
        .find_map(|line| line.trim().strip_prefix(name)?.strip_prefix('='))
        .unwrap_or("")
}

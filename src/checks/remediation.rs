//! Remediation: Datadog def-000-s9r / ComplianceAsCode socket_systemd-journal-remote_disabled
//! (clients must not receive logs): whether the rule applies, whether it holds, whether applying
//! it twice changes nothing.

use super::judged_by;

use super::{connect_refused, CheckId, Entry, Family, Target, Verdict};
use crate::domain::{ExecOutput, Role, Status, DEFAULT_PORT, REMOTE_SOCKET};

const RULE: &str = "Datadog def-000-s9r; ComplianceAsCode socket_systemd-journal-remote_disabled";

impl CheckId {
    pub const REMEDIATION_APPLICABLE: CheckId = CheckId("remediation-applicable");
    pub const REMOTE_SOCKET_MASKED: CheckId = CheckId("remote-socket-masked");
    pub const REMOTE_SOCKET_REFUSES: CheckId = CheckId("remote-socket-refuses");
    pub const REMEDIATION_IDEMPOTENT: CheckId = CheckId("remediation-idempotent");
}

pub const FAMILY: Family = Family {
    name: "remediation",
    entries: &[
        Entry::new(
            CheckId::REMEDIATION_APPLICABLE,
            "The rule applies to this host",
            "package linux-base is installed (the rule's applicability condition)",
            Some(Role::Client),
            RULE,
            judged_by!(applicable),
        ),
        Entry::new(
            CheckId::REMOTE_SOCKET_MASKED,
            "systemd-journal-remote.socket is masked",
            "systemctl is-enabled says masked",
            Some(Role::Client),
            RULE,
            judged_by!(socket_masked),
        )
        .in_profile(super::Severity::Note),
        Entry::new(
            CheckId::REMOTE_SOCKET_REFUSES,
            "The client does not receive logs",
            "a TCP connection to 19532 is refused and starting the socket fails",
            Some(Role::Client),
            RULE,
            judged_by!(socket_refuses),
        ),
        Entry::new(
            CheckId::REMEDIATION_IDEMPOTENT,
            "Applying the remediation again changes nothing",
            "the unit state and files are the same after a second application",
            Some(Role::Client),
            "Datadog def-000-s9r",
            judged_by!(idempotent),
        ),
    ],
};

async fn applicable(
    _: &Entry,
    target: &Target<'_>,
    evidence: &mut Vec<String>,
) -> crate::Result<Verdict> {
    let command = "dpkg-query --show --showformat='${db:Status-Status}' linux-base";
    Ok(applicable_verdict(&target.probe(command, evidence).await?))
}

async fn socket_masked(
    _: &Entry,
    target: &Target<'_>,
    evidence: &mut Vec<String>,
) -> crate::Result<Verdict> {
    let command = format!("systemctl is-enabled {REMOTE_SOCKET}");
    Ok(masked_verdict(&target.probe(&command, evidence).await?))
}

async fn socket_refuses(
    _: &Entry,
    target: &Target<'_>,
    evidence: &mut Vec<String>,
) -> crate::Result<Verdict> {
    let connect = format!("timeout 5 bash -c '</dev/tcp/127.0.0.1/{DEFAULT_PORT}'");
    let connect = target.probe(&connect, evidence).await?;
    let start = format!("systemctl start {REMOTE_SOCKET}");
    Ok(socket_refuses_verdict(
        &connect,
        &target.probe(&start, evidence).await?,
    ))
}

async fn idempotent(
    _: &Entry,
    target: &Target<'_>,
    evidence: &mut Vec<String>,
) -> crate::Result<Verdict> {
    let recorded = target.observer.history().remediation(target.host);
    if let Some((first, second)) = &recorded {
        evidence.push(format!(
            "state after the first application:\n  {}",
            first.replace('\n', "\n  ")
        ));
        evidence.push(format!(
            "state after the second application:\n  {}",
            second.replace('\n', "\n  ")
        ));
    }
    Ok(idempotent_verdict(
        recorded.as_ref().map(|r| r.0.as_str()),
        recorded.as_ref().map(|r| r.1.as_str()),
    ))
}

/// `dpkg-query -W -f='${db:Status-Status}' linux-base`.
pub fn applicable_verdict(output: &ExecOutput) -> Verdict {
    if output.stdout.trim() == "installed" {
        (
            Status::Pass,
            "linux-base is installed: the rule applies".into(),
        )
    } else {
        (
            Status::NotApplicable,
            "linux-base is not installed: the rule's applicability condition is false".into(),
        )
    }
}

pub fn masked_verdict(output: &ExecOutput) -> Verdict {
    let state = output.stdout.trim();
    (
        if state == "masked" {
            Status::Pass
        } else {
            Status::Fail
        },
        format!("is-enabled: {state}"),
    )
}

/// The socket refuses: a TCP connect is refused *and* `systemctl start` of the socket fails.
pub fn socket_refuses_verdict(connect: &ExecOutput, start: &ExecOutput) -> Verdict {
    let refused = connect_refused(connect);
    let start_failed = !start.success();
    let observed = format!(
        "TCP connect to 19532: {}; systemctl start systemd-journal-remote.socket: {}",
        if refused {
            "refused".to_string()
        } else if connect.success() {
            "ACCEPTED".to_string()
        } else {
            connect.combined()
        },
        if start_failed {
            format!("failed ({})", start.combined())
        } else {
            "SUCCEEDED".to_string()
        }
    );
    (
        if refused && start_failed {
            Status::Pass
        } else {
            Status::Fail
        },
        observed,
    )
}

/// Compares the state recorded after the first and the second application of a remediation.
pub fn idempotent_verdict(after_first: Option<&str>, after_second: Option<&str>) -> Verdict {
    match (after_first, after_second) {
        (Some(a), Some(b)) if a == b => (
            Status::Pass,
            "state after the second application equals the state after the first".into(),
        ),
        (Some(_), Some(_)) => (
            Status::Fail,
            "the second application changed the host's state".into(),
        ),
        _ => (
            Status::NotApplicable,
            "the remediation has not been applied to this host".into(),
        ),
    }
}

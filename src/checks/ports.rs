//! Ports and transport: journal-remote serves HTTPS only, on the port it is configured for, and
//! a port it left behind is closed (and a client still pointed at it fails visibly).

use super::judged_by;

use super::{connect_refused, delivery, tls, CheckId, Entry, Family, Target, Verdict};
use crate::domain::{ExecOutput, Role, Status, DEFAULT_PORT, REMOTE_UNIT};

/// What a client's log says when the port it dials is closed.
pub const OLD_PORT_REFUSALS: &[&str] = &[
    "Connection refused",
    "Failed to connect",
    "Couldn't connect",
];

const SOCKET_DOC: &str = "systemd.socket(5) ListenStream=";

impl CheckId {
    pub const SERVER_HTTPS_ONLY: CheckId = CheckId("server-https-only");
    pub const SERVER_LISTENS_NEW_PORT: CheckId = CheckId("server-listens-new-port");
    pub const SERVER_REFUSES_OLD_PORT: CheckId = CheckId("server-refuses-old-port");
    pub const CLIENT_ON_OLD_PORT_FAILS: CheckId = CheckId("client-on-old-port-fails");
}

pub const FAMILY: Family = Family {
    name: "ports",
    entries: &[
        Entry::new(
            CheckId::SERVER_HTTPS_ONLY,
            "journal-remote accepts HTTPS only",
            "ExecStart uses --listen-https and no --listen-http; \
             a plain-HTTP request gets no HTTP answer",
            Some(Role::Server),
            "systemd-journal-remote.service(8), journal-remote.conf(5)",
            judged_by!(https_only),
        )
        .about(super::knobs::REMOTE_LISTENING)
        .in_profile(super::Severity::Warning),
        Entry::new(
            CheckId::SERVER_LISTENS_NEW_PORT,
            "journal-remote listens on the configured port",
            "the socket listens on the port of its ListenStream= drop-in",
            Some(Role::Server),
            SOCKET_DOC,
            judged_by!(listens_new_port),
        ),
        Entry::new(
            CheckId::SERVER_REFUSES_OLD_PORT,
            "Nothing listens on the old port any more",
            "a TCP connection to the server's port 19532 is refused",
            Some(Role::Server),
            SOCKET_DOC,
            judged_by!(refuses_old_port),
        ),
        Entry::new(
            CheckId::CLIENT_ON_OLD_PORT_FAILS,
            "A client left on the old port fails visibly",
            "its upload logs a connection error; its marker never arrives",
            Some(Role::Client),
            delivery::JOURNAL_UPLOAD_DOC,
            judged_by!(client_on_old_port_fails),
        ),
    ],
};

async fn https_only(
    _: &Entry,
    target: &Target<'_>,
    evidence: &mut Vec<String>,
) -> crate::Result<Verdict> {
    let exec_start = format!("systemctl show -p ExecStart --value {REMOTE_UNIT}");
    let exec_start = target.probe(&exec_start, evidence).await?;
    let plain = format!(
        "curl -sS -m 5 -o /dev/null -w '%{{http_code}}' -X POST -H 'Content-Type: application/vnd.fdo.journal' \
         --data-binary '' http://127.0.0.1:{}/upload",
        target.port
    );
    Ok(https_only_verdict(
        &exec_start,
        &target.probe(&plain, evidence).await?,
    ))
}

async fn listens_new_port(
    _: &Entry,
    target: &Target<'_>,
    evidence: &mut Vec<String>,
) -> crate::Result<Verdict> {
    let command = format!("ss -Hltn 'sport = :{}'", target.port);
    Ok(listening_verdict(
        &target.probe(&command, evidence).await?,
        target.port,
    ))
}

async fn refuses_old_port(
    _: &Entry,
    target: &Target<'_>,
    evidence: &mut Vec<String>,
) -> crate::Result<Verdict> {
    // From a client's side of the network, as a misconfigured client would see it.
    let from = target.first_client.unwrap_or(target.host);
    let target_port = format!("{}:{DEFAULT_PORT}", target.host);
    let command = format!(
        "timeout 5 bash -c '</dev/tcp/{}/{DEFAULT_PORT}'",
        target.host
    );
    Ok(refused_verdict(
        &target.probe_on(from, &command, evidence).await?,
        &target_port,
    ))
}

async fn client_on_old_port_fails(
    _: &Entry,
    target: &Target<'_>,
    evidence: &mut Vec<String>,
) -> crate::Result<Verdict> {
    let marker = target.observer.marker(target.host, evidence).await?;
    Ok(tls::rejection_verdict(Some(OLD_PORT_REFUSALS), &marker))
}

/// Plain HTTP must not be served: ExecStart has --listen-https and no --listen-http, and a plain
/// request gets no HTTP status (curl's `%{http_code}` is 000).
pub fn https_only_verdict(exec_start: &ExecOutput, plain_request: &ExecOutput) -> Verdict {
    let command_line = exec_start.stdout.trim();
    let https = command_line.contains("--listen-https=");
    let http = command_line.contains("--listen-http=");
    let code = plain_request.stdout.trim();
    let answered = !code.is_empty() && code != "000";
    let observed = format!(
        "ExecStart {} --listen-https, {} --listen-http; plain HTTP request: {}",
        if https { "has" } else { "lacks" },
        if http { "has" } else { "has no" },
        if answered {
            format!("answered with HTTP {code}")
        } else {
            "no HTTP answer".to_string()
        }
    );
    (
        if https && !http && !answered {
            Status::Pass
        } else {
            Status::Fail
        },
        observed,
    )
}

/// `ss -Hltn 'sport = :PORT'`: something listens.
pub fn listening_verdict(output: &ExecOutput, port: u16) -> Verdict {
    if output.stdout.lines().any(|l| l.contains("LISTEN")) {
        (Status::Pass, format!("listening on {port}"))
    } else {
        (Status::Fail, format!("nothing listens on {port}"))
    }
}

pub fn refused_verdict(output: &ExecOutput, target: &str) -> Verdict {
    if connect_refused(output) {
        (Status::Pass, format!("connection to {target} refused"))
    } else if output.success() {
        (Status::Fail, format!("connection to {target} ACCEPTED"))
    } else {
        (
            Status::Fail,
            format!(
                "connection to {target} did not get a refusal: {}",
                output.combined()
            ),
        )
    }
}

//! Mutual TLS: who may talk to whom (the six rejections), and how the certificates and keys that
//! decide it are configured and protected.

use super::judged_by;

use super::{
    setting_verdict, CheckId, Entry, Family, MarkerObservation, Rejection, Severity, Target,
    Verdict,
};
use crate::domain::{ExecOutput, Role, Status};
use crate::pki::INSTALL_DIR;

const MTLS_DOC: &str = "journal-remote.conf(5) TrustedCertificateFile=; journal-upload.conf(5)";
const CIS_CERTS: &str = "CIS Debian Linux benchmark, journald / systemd-journal-remote items";
const CLIENT_KEEPS_OUT: &str =
    "TLS verification fails on the client; its marker never reaches the server";

impl CheckId {
    pub const SERVER_REJECTS_UNTRUSTED_CLIENT_CA: CheckId =
        CheckId("server-rejects-untrusted-client-ca");
    pub const SERVER_REJECTS_CLIENT_WITHOUT_CERT: CheckId =
        CheckId("server-rejects-client-without-cert");
    pub const SERVER_REJECTS_EXPIRED_CLIENT_CERT: CheckId =
        CheckId("server-rejects-expired-client-cert");
    pub const CLIENT_REJECTS_SERVER_SAN_MISMATCH: CheckId =
        CheckId("client-rejects-server-san-mismatch");
    pub const CLIENT_REJECTS_UNTRUSTED_SERVER_CA: CheckId =
        CheckId("client-rejects-untrusted-server-ca");
    pub const CLIENT_REJECTS_EXPIRED_SERVER_CERT: CheckId =
        CheckId("client-rejects-expired-server-cert");
    pub const CERT_FILES_OWNER_MODE: CheckId = CheckId("cert-files-owner-mode");
    pub const TRUSTED_CERTIFICATE_FILE_SET: CheckId = CheckId("trusted-certificate-file-set");
    pub const KEYS_NOT_WORLD_READABLE: CheckId = CheckId("keys-not-world-readable");
}

pub const FAMILY: Family = Family {
    name: "tls",
    entries: &[
        Entry::new(CheckId::CERT_FILES_OWNER_MODE, "Certificate files are owned and protected", "/etc/ssl/systemd-journal is systemd-journal-remote:systemd-journal 0750, its files 0640", None, CIS_CERTS, judged_by!(owner_mode)),
        Entry::new(CheckId::SERVER_REJECTS_UNTRUSTED_CLIENT_CA, "The server refuses a client certificate from an untrusted CA", "the client's marker never reaches the server", Some(Role::Client), MTLS_DOC, judged_by!(rejection)).rejected(Rejection::ByServer),
        Entry::new(CheckId::SERVER_REJECTS_CLIENT_WITHOUT_CERT, "The server refuses a client without a certificate", "the client's marker never reaches the server", Some(Role::Client), MTLS_DOC, judged_by!(rejection)).rejected(Rejection::ByServer),
        Entry::new(CheckId::SERVER_REJECTS_EXPIRED_CLIENT_CERT, "The server refuses an expired client certificate", "the client's marker never reaches the server", Some(Role::Client), MTLS_DOC, judged_by!(rejection)).rejected(Rejection::ByServer),
        Entry::new(CheckId::CLIENT_REJECTS_SERVER_SAN_MISMATCH, "The client refuses a server whose certificate does not name the address it dialled", CLIENT_KEEPS_OUT, Some(Role::Client), MTLS_DOC, judged_by!(rejection)).rejected(Rejection::ByClient(SAN_MISMATCH_WORDS)),
        Entry::new(CheckId::CLIENT_REJECTS_UNTRUSTED_SERVER_CA, "The client refuses a server certificate from an untrusted CA", CLIENT_KEEPS_OUT, Some(Role::Client), MTLS_DOC, judged_by!(rejection)).rejected(Rejection::ByClient(UNTRUSTED_CA_WORDS)),
        Entry::new(CheckId::CLIENT_REJECTS_EXPIRED_SERVER_CERT, "The client refuses an expired server certificate", CLIENT_KEEPS_OUT, Some(Role::Client), MTLS_DOC, judged_by!(rejection)).rejected(Rejection::ByClient(EXPIRED_WORDS)),
        Entry::new(CheckId::TRUSTED_CERTIFICATE_FILE_SET, "Peers are verified against a CA", "TrustedCertificateFile= is set in the effective journal-remote.conf (server) / journal-upload.conf (client)", None, MTLS_DOC, judged_by!(trusted_certificate_file_set)).for_uploaders().about(super::knobs::TRUST).in_profile(Severity::Warning),
        Entry::new(CheckId::KEYS_NOT_WORLD_READABLE, "Private keys are not world-readable", "no *.key under /etc/ssl/systemd-journal is readable by others", None, CIS_CERTS, judged_by!(keys_not_world_readable)).in_profile(Severity::Warning),
    ],
};

async fn owner_mode(
    _: &Entry,
    target: &Target<'_>,
    evidence: &mut Vec<String>,
) -> crate::Result<Verdict> {
    if !target.has_certificate {
        return Ok((
            Status::NotApplicable,
            "the host has no certificate".to_string(),
        ));
    }
    let command = format!("stat -c '%U:%G %a %n' {INSTALL_DIR} {INSTALL_DIR}/*");
    Ok(owner_mode_verdict(
        &target.probe(&command, evidence).await?,
        INSTALL_DIR,
    ))
}

async fn trusted_certificate_file_set(
    _: &Entry,
    target: &Target<'_>,
    evidence: &mut Vec<String>,
) -> crate::Result<Verdict> {
    let config = match target.role {
        Role::Server => "systemd/journal-remote.conf",
        Role::Client => "systemd/journal-upload.conf",
        Role::Proxy => return Ok(super::delivery::proxy_not_applicable()),
    };
    let command = format!("systemd-analyze cat-config {config}");
    Ok(setting_verdict(
        &target.probe(&command, evidence).await?,
        "TrustedCertificateFile",
        &[],
    ))
}

async fn keys_not_world_readable(
    _: &Entry,
    target: &Target<'_>,
    evidence: &mut Vec<String>,
) -> crate::Result<Verdict> {
    let command = format!("ls {INSTALL_DIR}/*.key 2>/dev/null; echo ---; find {INSTALL_DIR} -name '*.key' -perm -o+r 2>/dev/null");
    Ok(keys_verdict(&target.probe(&command, evidence).await?))
}

/// A rejection, judged by who its entry says refuses.
async fn rejection(
    entry: &Entry,
    target: &Target<'_>,
    evidence: &mut Vec<String>,
) -> crate::Result<Verdict> {
    let marker = target.observer.marker(target.host, evidence).await?;
    Ok(rejection_verdict(
        entry.rejection.and_then(Rejection::client_words),
        &marker,
    ))
}

/// What curl says when the server's certificate does not name the address the client dialled.
const SAN_MISMATCH_WORDS: &[&str] = &[
    "SSL: no alternative certificate subject name",
    "does not match target host",
    "SSL peer certificate",
    "certificate subject name",
];
/// ... when the server's CA is not one it trusts.
const UNTRUSTED_CA_WORDS: &[&str] = &[
    "SSL certificate problem",
    "unable to get local issuer certificate",
    "self-signed certificate",
    "self signed certificate",
];
/// ... when the server's certificate has expired.
const EXPIRED_WORDS: &[&str] = &["certificate has expired", "SSL certificate problem"];

/// Whether a line of the sender's log says the server *accepted* the request (curl senders
/// print "HTTP status NNN").
fn says_accepted(line: &str) -> bool {
    line.contains("HTTP status 2")
}

/// Whether a line of the sender's log says the request was refused or failed: journal-upload's
/// "Upload to ... failed ...", curl's own errors, or a non-2xx/000 status.
fn says_refused(line: &str) -> bool {
    (line.contains("Upload to") && line.contains("failed"))
        || line.starts_with("curl: (")
        || ["HTTP status 000", "HTTP status 4", "HTTP status 5"]
            .iter()
            .any(|p| line.contains(p))
}

/// Rejection checks. A pass needs three things: the marker is absent from the server; the
/// client's own log says the request was refused (so absence is not a lost or dropped entry);
/// and, for refusals the *server* must make, a later marker from another client arrived (so
/// absence is not slowness). An accepted request is a fail even if the entry was then dropped.
/// `client_patterns` are the words of a refusal the client itself makes (None: the server
/// refuses).
pub fn rejection_verdict(client_patterns: Option<&[&str]>, marker: &MarkerObservation) -> Verdict {
    let Some(text) = &marker.logged else {
        return (
            Status::Error,
            "no marker was logged on this client (the scenario needs a log-markers step)".into(),
        );
    };
    if let Some(file) = &marker.found_in {
        return (
            Status::Fail,
            format!("ACCEPTED: the marker {text:?} is on the server, in {file}"),
        );
    }
    if let Some(line) = marker.client_log.iter().find(|l| says_accepted(l)) {
        return (
            Status::Fail,
            format!("ACCEPTED: the server accepted the request ({}), though the marker is not in its journal", line.trim()),
        );
    }
    let refusal = match client_patterns {
        Some(patterns) => marker
            .client_log
            .iter()
            .find(|l| patterns.iter().any(|p| l.contains(p))),
        None => marker.client_log.iter().find(|l| says_refused(l)),
    };
    match (refusal, client_patterns.is_some(), &marker.later_reference) {
        (Some(line), true, _) => (Status::Pass, format!("refused; the client logged: {}", line.trim())),
        (Some(line), false, Some(reference)) => (
            Status::Pass,
            format!("refused ({}); absent from the server while a later marker arrived ({reference})", line.trim()),
        ),
        (Some(_), false, None) => (
            Status::NotVerifiable,
            "the request failed, but no later marker from an accepted client arrived either, so the server's part is unproven".into(),
        ),
        (None, _, _) => (
            Status::NotVerifiable,
            "the marker did not arrive, but the client logged no refusal; absence alone does not show who refused".into(),
        ),
    }
}

/// Output of `stat -c '%U:%G %a %n' DIR DIR/*`.
pub fn owner_mode_verdict(output: &ExecOutput, dir: &str) -> Verdict {
    if !output.success() {
        return (
            Status::Fail,
            format!("cannot stat {dir}: {}", output.combined()),
        );
    }
    let mut wrong = Vec::new();
    let mut seen = 0;
    for line in output.stdout.lines() {
        let mut parts = line.splitn(3, ' ');
        let (Some(owner), Some(mode), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        seen += 1;
        let want_mode = if path == dir { "750" } else { "640" };
        if owner != "systemd-journal-remote:systemd-journal" || mode != want_mode {
            wrong.push(format!("{path} is {owner} {mode} (want systemd-journal-remote:systemd-journal {want_mode})"));
        }
    }
    match (seen, wrong.is_empty()) {
        (0, _) => (Status::Fail, format!("nothing found in {dir}")),
        (_, true) => (Status::Pass, format!("{seen} entries, all as required")),
        (_, false) => (Status::Fail, wrong.join("; ")),
    }
}

/// Output of `ls DIR/*.key; echo ---; find DIR -name '*.key' -perm -o+r`.
pub fn keys_verdict(output: &ExecOutput) -> Verdict {
    let (keys, readable) = output
        .stdout
        .split_once("---")
        .unwrap_or((&output.stdout, ""));
    let keys: Vec<&str> = keys.lines().filter(|l| !l.trim().is_empty()).collect();
    let readable: Vec<&str> = readable.lines().filter(|l| !l.trim().is_empty()).collect();
    match (keys.is_empty(), readable.is_empty()) {
        (true, _) => (Status::NotApplicable, "no private keys on this host".into()),
        (false, true) => (
            Status::Pass,
            format!("{} key(s), none readable by others", keys.len()),
        ),
        (false, false) => (
            Status::Fail,
            format!("readable by others: {}", readable.join(", ")),
        ),
    }
}

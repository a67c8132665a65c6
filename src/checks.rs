//! The check catalog: stable ids, what each expects, and how a verdict follows from what the lab
//! observed. Checks only observe: each names the commands to run (probes) and turns their output
//! into a status. Running the probes is the lab's job; nothing here touches a host.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::engine::ExecOutput;
use crate::report::Role;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum CheckId {
    ClientDelivers,
    ServerHttpsOnly,
    ServerStatusProcessing,
    ClientStatusProcessing,
    CertFilesOwnerMode,
    UploadRestartAlways,
    ServerRejectsUntrustedClientCa,
    ServerRejectsClientWithoutCert,
    ServerRejectsExpiredClientCert,
    ClientRejectsServerSanMismatch,
    ClientRejectsUntrustedServerCa,
    ClientRejectsExpiredServerCert,
    ServerListensNewPort,
    ServerRefusesOldPort,
    ClientOnOldPortFails,
    RemediationApplicable,
    RemoteSocketMasked,
    RemoteSocketRefuses,
    RemediationIdempotent,
    DockerSocketPresent,
    DockerSocketAuditRule,
    DockerSocketAuditLoaded,
    TrustedCertificateFileSet,
    KeysNotWorldReadable,
    JournaldStoragePersistent,
    JournaldCompress,
    JournaldRateLimit,
}

/// The conformance profile: checks evaluated on every host at the end of every run, whatever the
/// scenario. Reported apart from the scenario's own checks (they do not change its verdict).
pub const PROFILE: [CheckId; 8] = [
    CheckId::ServerHttpsOnly,
    CheckId::TrustedCertificateFileSet,
    CheckId::KeysNotWorldReadable,
    CheckId::UploadRestartAlways,
    CheckId::RemoteSocketMasked,
    CheckId::JournaldStoragePersistent,
    CheckId::JournaldCompress,
    CheckId::JournaldRateLimit,
];

/// Phase name of the profile's evaluation.
pub const PROFILE_PHASE: &str = "profile";

impl fmt::Display for CheckId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = serde_json::to_value(self).expect("ids serialize");
        f.write_str(value.as_str().expect("ids are strings"))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Pass,
    Fail,
    NotApplicable,
    NotVerifiable,
    Error,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::NotApplicable => "not-applicable",
            Status::NotVerifiable => "not-verifiable",
            Status::Error => "error",
        })
    }
}

/// One evaluated check, as recorded in run.json.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckResult {
    pub id: CheckId,
    pub title: String,
    pub host: String,
    pub phase: String,
    pub expected: String,
    pub observed: String,
    pub status: Status,
    /// Commands run and what they printed, verbatim.
    pub evidence: Vec<String>,
    pub seconds: f64,
    /// The public rule or documentation the check comes from.
    #[serde(default)]
    pub reference: String,
}

/// What a check says about itself.
pub struct Spec {
    pub title: &'static str,
    pub expected: &'static str,
    /// The role of the host a check is evaluated on.
    pub role: Option<Role>,
    /// Public rule or documentation it comes from.
    pub reference: &'static str,
}

const JOURNAL_REMOTE_DOC: &str = "systemd-journal-remote.service(8), journal-remote.conf(5)";
const JOURNAL_UPLOAD_DOC: &str = "systemd-journal-upload.service(8), journal-upload.conf(5)";
const MTLS_DOC: &str = "journal-remote.conf(5) TrustedCertificateFile=; journal-upload.conf(5)";

impl CheckId {
    pub fn spec(self) -> Spec {
        use CheckId::*;
        let (title, expected, role, reference) = match self {
            ClientDelivers => ("The client's journal reaches the server", "the client's marker is in the server's /var/log/journal/remote", Some(Role::Client), JOURNAL_UPLOAD_DOC),
            ServerHttpsOnly => ("journal-remote accepts HTTPS only", "ExecStart uses --listen-https and no --listen-http; a plain-HTTP request gets no HTTP answer", Some(Role::Server), JOURNAL_REMOTE_DOC),
            ServerStatusProcessing => ("journal-remote is processing requests", "StatusText=Processing requests...", Some(Role::Server), JOURNAL_REMOTE_DOC),
            ClientStatusProcessing => ("journal-upload is processing input", "StatusText=Processing input...", Some(Role::Client), JOURNAL_UPLOAD_DOC),
            CertFilesOwnerMode => ("Certificate files are owned and protected", "/etc/ssl/systemd-journal is systemd-journal-remote:systemd-journal 0750, its files 0640", None, "CIS Debian Linux benchmark, journald / systemd-journal-remote items"),
            UploadRestartAlways => ("journal-upload restarts always and is enabled", "Restart=always, enabled", Some(Role::Client), JOURNAL_UPLOAD_DOC),
            ServerRejectsUntrustedClientCa => ("The server refuses a client certificate from an untrusted CA", "the client's marker never reaches the server", Some(Role::Client), MTLS_DOC),
            ServerRejectsClientWithoutCert => ("The server refuses a client without a certificate", "the client's marker never reaches the server", Some(Role::Client), MTLS_DOC),
            ServerRejectsExpiredClientCert => ("The server refuses an expired client certificate", "the client's marker never reaches the server", Some(Role::Client), MTLS_DOC),
            ClientRejectsServerSanMismatch => ("The client refuses a server whose certificate does not name the address it dialled", "TLS verification fails on the client; its marker never reaches the server", Some(Role::Client), MTLS_DOC),
            ClientRejectsUntrustedServerCa => ("The client refuses a server certificate from an untrusted CA", "TLS verification fails on the client; its marker never reaches the server", Some(Role::Client), MTLS_DOC),
            ClientRejectsExpiredServerCert => ("The client refuses an expired server certificate", "TLS verification fails on the client; its marker never reaches the server", Some(Role::Client), MTLS_DOC),
            ServerListensNewPort => ("journal-remote listens on the configured port", "the socket listens on the port of its ListenStream= drop-in", Some(Role::Server), "systemd.socket(5) ListenStream="),
            ServerRefusesOldPort => ("Nothing listens on the old port any more", "a TCP connection to the server's port 19532 is refused", Some(Role::Server), "systemd.socket(5) ListenStream="),
            ClientOnOldPortFails => ("A client left on the old port fails visibly", "its upload logs a connection error; its marker never arrives", Some(Role::Client), JOURNAL_UPLOAD_DOC),
            RemediationApplicable => ("The rule applies to this host", "package linux-base is installed (the rule's applicability condition)", Some(Role::Client), "Datadog def-000-s9r; ComplianceAsCode socket_systemd-journal-remote_disabled"),
            RemoteSocketMasked => ("systemd-journal-remote.socket is masked", "systemctl is-enabled says masked", Some(Role::Client), "Datadog def-000-s9r; ComplianceAsCode socket_systemd-journal-remote_disabled"),
            RemoteSocketRefuses => ("The client does not receive logs", "a TCP connection to 19532 is refused and starting the socket fails", Some(Role::Client), "Datadog def-000-s9r; ComplianceAsCode socket_systemd-journal-remote_disabled"),
            RemediationIdempotent => ("Applying the remediation again changes nothing", "the unit state and files are the same after a second application", Some(Role::Client), "Datadog def-000-s9r"),
            DockerSocketPresent => ("The host has a docker.socket unit", "systemctl show -p FragmentPath docker.socket names a file", None, "CIS Docker Benchmark 1.2.7"),
            DockerSocketAuditRule => ("docker.socket is audited", "/etc/audit/audit.rules watches docker.socket's FragmentPath with key docker", None, "CIS Docker Benchmark 1.2.7"),
            DockerSocketAuditLoaded => ("The docker.socket audit rule is loaded", "auditctl -l lists the watch", None, "CIS Docker Benchmark 1.2.7"),
            TrustedCertificateFileSet => ("Peers are verified against a CA", "TrustedCertificateFile= is set in the effective journal-remote.conf (server) / journal-upload.conf (client)", None, MTLS_DOC),
            KeysNotWorldReadable => ("Private keys are not world-readable", "no *.key under /etc/ssl/systemd-journal is readable by others", None, "CIS Debian Linux benchmark, journald / systemd-journal-remote items"),
            JournaldStoragePersistent => ("The server's journald keeps logs on disk", "Storage=persistent in the effective journald.conf", Some(Role::Server), "CIS Debian Linux benchmark: ensure journald Storage is configured; journald.conf(5)"),
            JournaldCompress => ("The server's journald compresses large entries", "Compress=yes in the effective journald.conf", Some(Role::Server), "CIS Debian Linux benchmark: ensure journald Compress is configured; journald.conf(5)"),
            JournaldRateLimit => ("journald rate limiting is configured", "RateLimitIntervalSec= and RateLimitBurst= set in the effective journald.conf", Some(Role::Server), "journald.conf(5) RateLimitIntervalSec=, RateLimitBurst="),
        };
        Spec {
            title,
            expected,
            role,
            reference,
        }
    }

    /// Whether the check is about a host of `role` at all.
    pub fn applies_to(self, role: Role) -> bool {
        self.spec().role.is_none_or(|r| r == role)
    }

    /// Rejections the *client* must perform: they need the client's own word (a TLS or
    /// connection error in its log), not only the marker's absence.
    fn client_error_pattern(self) -> Option<&'static [&'static str]> {
        use CheckId::*;
        match self {
            ClientRejectsServerSanMismatch => Some(&[
                "SSL: no alternative certificate subject name",
                "does not match target host",
                "SSL peer certificate",
                "certificate subject name",
            ]),
            ClientRejectsUntrustedServerCa => Some(&[
                "SSL certificate problem",
                "unable to get local issuer certificate",
                "self-signed certificate",
                "self signed certificate",
            ]),
            ClientRejectsExpiredServerCert => {
                Some(&["certificate has expired", "SSL certificate problem"])
            }
            ClientOnOldPortFails => Some(&[
                "Connection refused",
                "Failed to connect",
                "Couldn't connect",
            ]),
            _ => None,
        }
    }
}

/// How a client's marker fared on its server, as observed.
#[derive(Debug, Clone, Default)]
pub struct MarkerObservation {
    /// The marker was logged on the client (and when, in seconds since the run started).
    pub logged: Option<String>,
    /// The server file it was found in, if found.
    pub found_in: Option<String>,
    /// Another client's marker to the same server, logged *after* this one, that arrived:
    /// the proof that absence is not just slowness.
    pub later_reference: Option<String>,
    /// Lines of the sending client's own log (journal-upload or curl) after the marker.
    pub client_log: Vec<String>,
}

/// A verdict and one line saying what was observed.
pub type Verdict = (Status, String);

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
pub fn rejection_verdict(id: CheckId, marker: &MarkerObservation) -> Verdict {
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
    let refusal = match id.client_error_pattern() {
        Some(patterns) => marker
            .client_log
            .iter()
            .find(|l| patterns.iter().any(|p| l.contains(p))),
        None => marker.client_log.iter().find(|l| says_refused(l)),
    };
    match (refusal, id.client_error_pattern().is_some(), &marker.later_reference) {
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

/// `systemctl show -p StatusText --value UNIT` must equal `wanted`.
pub fn status_text_verdict(output: &ExecOutput, wanted: &str) -> Verdict {
    let seen = output.stdout.trim();
    if seen == wanted {
        (Status::Pass, format!("StatusText={seen}"))
    } else {
        (Status::Fail, format!("StatusText={seen:?}"))
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

/// A TCP connect attempt (`bash -c '</dev/tcp/H/P'`): refused is what we want.
pub fn connect_refused(output: &ExecOutput) -> bool {
    !output.success() && output.combined().contains("Connection refused")
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

/// `systemctl show -p FragmentPath --value docker.socket`.
pub fn fragment_path(output: &ExecOutput) -> Option<String> {
    let path = output.stdout.trim();
    (!path.is_empty()).then(|| path.to_string())
}

pub fn docker_socket_present_verdict(fragment: Option<&str>) -> Verdict {
    match fragment {
        Some(path) => (Status::Pass, format!("docker.socket is {path}")),
        None => (
            Status::NotApplicable,
            "no docker.socket unit on this host".into(),
        ),
    }
}

/// Whether a rules text watches `path` with key docker (`-w PATH ... -k docker` or `-F key=docker`).
pub fn watches_with_docker_key(rules: &str, path: &str) -> bool {
    rules.lines().any(|line| {
        let words: Vec<&str> = line.split_whitespace().collect();
        let watches = words.windows(2).any(|w| w[0] == "-w" && w[1] == path)
            || words.iter().any(|w| *w == format!("path={path}"));
        let keyed = words.windows(2).any(|w| w[0] == "-k" && w[1] == "docker")
            || words.contains(&"key=docker");
        watches && keyed
    })
}

pub fn audit_rule_verdict(fragment: Option<&str>, compiled_rules: &ExecOutput) -> Verdict {
    let Some(path) = fragment else {
        return (
            Status::NotApplicable,
            "no docker.socket unit on this host".into(),
        );
    };
    if !compiled_rules.success() {
        return (
            Status::Fail,
            format!(
                "cannot read /etc/audit/audit.rules: {}",
                compiled_rules.combined()
            ),
        );
    }
    if watches_with_docker_key(&compiled_rules.stdout, path) {
        (
            Status::Pass,
            format!("/etc/audit/audit.rules watches {path} with key docker"),
        )
    } else {
        (
            Status::Fail,
            format!("/etc/audit/audit.rules has no watch on {path} with key docker"),
        )
    }
}

/// `auditctl -l`: in a container the kernel's audit subsystem is out of reach; say so, never pass.
pub fn audit_loaded_verdict(fragment: Option<&str>, auditctl: &ExecOutput) -> Verdict {
    let Some(path) = fragment else {
        return (
            Status::NotApplicable,
            "no docker.socket unit on this host".into(),
        );
    };
    if !auditctl.success() {
        return (
            Status::NotVerifiable,
            format!(
                "auditctl -l failed ({}): the kernel audit subsystem is reachable only from the initial \
                 PID and network namespaces, not from a container",
                auditctl.combined().lines().next().unwrap_or("")
            ),
        );
    }
    if watches_with_docker_key(&auditctl.stdout, path) {
        (
            Status::Pass,
            format!("the loaded rules watch {path} with key docker"),
        )
    } else {
        (
            Status::Fail,
            format!("the loaded rules do not watch {path} with key docker"),
        )
    }
}

/// The value of `key` in `systemd-analyze cat-config` output: the last uncommented assignment
/// wins, as in systemd's own parser (sections are not distinguished: these files have one).
pub fn effective_setting(config: &str, key: &str) -> Option<String> {
    config
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && !l.starts_with(';'))
        .filter_map(|l| {
            l.strip_prefix(key)?
                .strip_prefix('=')
                .map(|v| v.trim().to_string())
        })
        .next_back()
}

/// A setting that must be present with one of `wanted` values (or with any value if empty).
pub fn setting_verdict(config: &ExecOutput, key: &str, wanted: &[&str]) -> Verdict {
    match effective_setting(&config.stdout, key) {
        None => (
            Status::Fail,
            format!(
                "{key}= is not set (the compiled-in default applies, but it is not configured)"
            ),
        ),
        Some(value) if value.is_empty() => (Status::Fail, format!("{key}= is set to nothing")),
        Some(value) if wanted.is_empty() || wanted.contains(&value.as_str()) => {
            (Status::Pass, format!("{key}={value}"))
        }
        Some(value) => (
            Status::Fail,
            format!("{key}={value} (want {})", wanted.join(" or ")),
        ),
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

#[cfg(test)]
mod tests;

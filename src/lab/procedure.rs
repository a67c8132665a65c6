//! What the lab *does* to hosts (the operator's passive-HTTPS procedure, scenario steps,
//! remediations) and how it *observes* them for checks (probes run here, verdicts in `checks`).
//!
//! Server: certificates from its bundle; journal-remote's effective ExecStart checked for
//! `--listen-https=-3` (a drop-in if not); a `ListenStream=` drop-in for another port; the socket
//! enabled and listening. Clients: certificates from their bundles, `URL=`, `Restart=always`,
//! journal-upload enabled and started.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::probes::{answers, ProbeCache};
use super::runner::{selected, Credentials};
use super::{Deadlines, Host, Lab};
use crate::checks::{self, CheckId, CheckResult, MarkerObservation, Status};
use crate::engine::{self, ExecOutput};
use crate::errors::{Error, Result};
use crate::journal::{self, Entry};
use crate::report::{Finding, Role};
use crate::scenario::{HostDef, Protocol, Remediation, Scenario, Sender, Step, DEFAULT_PORT};
use crate::Progress;

const REMOTE_UNIT: &str = "systemd-journal-remote.service";
const REMOTE_SOCKET: &str = "systemd-journal-remote.socket";
const UPLOAD_UNIT: &str = "systemd-journal-upload.service";
const BUNDLE_DIR: &str = super::STAGE_DIR;
const INSTALL_DIR: &str = crate::pki::INSTALL_DIR;
/// How many lines of output a piece of evidence keeps.
const EVIDENCE_LINES: usize = 30;

/// A marker logged during the run, and what became of it.
#[derive(Debug, Clone)]
pub struct MarkerRecord {
    pub host: String,
    pub server: String,
    pub text: String,
    /// Order of logging across the run (proves "later").
    pub seq: usize,
    pub logged_at: Instant,
    pub logged_wall: time::OffsetDateTime,
    /// Seconds from logging to first sight on the server, if seen while waiting.
    pub arrived_after: Option<f64>,
    pub found_in: Option<String>,
}

/// What happened during the steps, for the checks to read.
#[derive(Debug, Default)]
pub struct RunState {
    pub markers: Vec<MarkerRecord>,
    /// Host → state snapshot after the first and after the second application.
    pub remediations: BTreeMap<String, (String, String)>,
    /// Output of curl senders, per host.
    pub sender_logs: BTreeMap<String, Vec<String>>,
    pub bursts: Vec<crate::report::BurstResult>,
    /// When the last wait for markers saw every marker that had to arrive (None if a wait ended
    /// without one of them: then the run has no such moment).
    pub all_delivered_at: Option<Instant>,
    pub some_undelivered: bool,
}

impl RunState {
    pub fn last_marker(&self, host: &str) -> Option<&MarkerRecord> {
        self.markers.iter().rev().find(|m| m.host == host)
    }
}

/// Every server's marker entries, by remote file: one read per server per evaluation.
pub struct ServerView {
    entries: BTreeMap<String, Vec<(String, Entry)>>,
}

impl ServerView {
    pub fn empty() -> ServerView {
        ServerView {
            entries: BTreeMap::new(),
        }
    }

    pub async fn read(lab: &Lab, scenario: &Scenario, deadlines: &Deadlines) -> Result<ServerView> {
        let reads = scenario
            .servers()
            .filter_map(|s| lab.host(&s.name))
            .map(|server| async move {
                let out = lab
                    .exec(
                        server,
                        &journal::remote_markers_by_file_command(),
                        deadlines.command,
                    )
                    .await?;
                Ok::<_, Error>((
                    server.name.clone(),
                    journal::parse_entries_by_file(&out.stdout),
                ))
            });
        Ok(ServerView {
            entries: futures::future::try_join_all(reads)
                .await?
                .into_iter()
                .collect(),
        })
    }

    /// Every entry seen, as (server, remote file name, entry).
    pub fn entries(&self) -> Vec<(String, String, Entry)> {
        self.entries
            .iter()
            .flat_map(|(server, entries)| {
                entries
                    .iter()
                    .map(move |(file, entry)| (server.clone(), file.clone(), entry.clone()))
            })
            .collect()
    }

    /// The remote file (full path) `marker` is in on `server`.
    pub fn find(&self, server: &str, marker: &str) -> Option<String> {
        self.entries
            .get(server)?
            .iter()
            .find(|(_, entry)| journal::is_marker(entry, marker))
            .map(|(file, _)| format!("{}/{file}", journal::REMOTE_DIR))
    }
}

fn def<'a>(scenario: &'a Scenario, host: &Host) -> &'a HostDef {
    scenario
        .host(&host.name)
        .expect("lab hosts come from the scenario")
}

fn server_port(server: &HostDef) -> u16 {
    server.listen_port.unwrap_or(DEFAULT_PORT)
}

/// The URL a client sends to, as configured.
fn upload_url(lab: &Lab, scenario: &Scenario, client: &HostDef) -> String {
    let server = scenario
        .server_of(client)
        .expect("validated: a server exists");
    let upload = client.upload.clone().unwrap_or(crate::scenario::UploadDef {
        server: None,
        via: "name".into(),
        port: None,
        protocol: Protocol::Https,
    });
    let target = match upload.via.as_str() {
        "name" => server.name.clone(),
        "ip" => lab
            .host(&server.name)
            .map(|h| h.ip.clone())
            .unwrap_or_default(),
        alias => alias.to_string(),
    };
    format!(
        "{}://{target}:{}",
        upload.protocol,
        upload.port.unwrap_or(server_port(server))
    )
}

fn uploads_with_journal_upload(host: &HostDef) -> bool {
    host.role == Role::Client && host.configure_upload && host.sender == Sender::JournalUpload
}

/// The files a host gets before it boots, as one archive: its certificate bundle (or, without a
/// certificate, the CA it trusts), unit drop-ins, the scenario's files, and `provision.sh`, the
/// part of the operator's procedure that needs no running systemd (see [`super::BOOT_COMMAND`]).
pub fn stage_files(host: &HostDef, credentials: &Credentials) -> Vec<(String, Vec<u8>, u32)> {
    let mut files = Vec::new();
    let mut provision = String::from("set -eu\n");
    match &credentials.bundle {
        Some(bundle) => {
            let bundle_path = format!("{BUNDLE_DIR}/runme-on-{}.sh", host.name);
            provision.push_str(&format!("sh {bundle_path}\n"));
            files.push((bundle_path, bundle.clone(), 0o700));
        }
        // Without a certificate of its own the host still knows whom to trust (for curl).
        None => files.push((
            format!("{BUNDLE_DIR}/ca.pem"),
            credentials.trusted_ca.clone().into_bytes(),
            0o644,
        )),
    }
    if host.role == Role::Server {
        if server_port(host) != DEFAULT_PORT {
            files.push((
                format!("/etc/systemd/system/{REMOTE_SOCKET}.d/60-journal-lab-port.conf"),
                format!(
                    "[Socket]\nListenStream=\nListenStream={}\n",
                    server_port(host)
                )
                .into_bytes(),
                0o644,
            ));
        }
        // Enabled before boot, the socket listens as soon as systemd reaches sockets.target.
        provision.push_str(&format!("systemctl enable {REMOTE_SOCKET} 2>&1\n"));
    }
    if uploads_with_journal_upload(host) {
        files.push((
            format!("/etc/systemd/system/{UPLOAD_UNIT}.d/60-journal-lab-restart.conf"),
            b"[Service]\nRestart=always\n".to_vec(),
            0o644,
        ));
    }
    for file in &host.files {
        // Validated as octal permission bits when the scenario was loaded.
        let mode = u32::from_str_radix(&file.mode, 8).unwrap_or(0o644);
        files.push((file.path.clone(), file.content.clone().into_bytes(), mode));
    }
    files.push((
        format!("{BUNDLE_DIR}/provision.sh"),
        provision.into_bytes(),
        0o700,
    ));
    files
}

/// A tar archive of (absolute path, contents, mode), owned by root. Paths were validated with the
/// scenario; one the archive format still refuses is an error naming it, never a panic.
pub fn tar_archive(files: &[(String, Vec<u8>, u32)]) -> Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    let mtime = time::OffsetDateTime::now_utc().unix_timestamp() as u64;
    for (path, contents, mode) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(contents.len() as u64);
        header.set_mode(*mode);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(mtime);
        header.set_entry_type(tar::EntryType::Regular);
        builder
            .append_data(
                &mut header,
                path.trim_start_matches('/'),
                contents.as_slice(),
            )
            .map_err(|e| Error::InvalidSettings(format!("cannot stage the file {path:?}: {e}")))?;
    }
    builder
        .into_inner()
        .map_err(|e| Error::InvalidSettings(format!("cannot finish a host's archive: {e}")))
}

/// Prints what provisioning before boot did, and fails if it failed.
const PROVISION_RECORD: &str = r#"d=/root/journal-lab
cat "$d/provision.log" 2>/dev/null || true
if [ -e "$d/stage.tar" ]; then
    status=$(cat "$d/provisioned" 2>/dev/null || echo "none (it never ran)")
    if [ "$status" != 0 ]; then echo "provisioning before boot failed: exit status $status" >&2; exit 1; fi
fi
"#;

/// Separates what configuration did from how the host looked afterwards.
const OBSERVED: &str = "--- observed";

/// After boot, on a server: journal-remote's effective ExecStart checked for `--listen-https=-3`
/// (a drop-in if not), then a wait until the socket is active and listening on `port`.
fn server_configure_script(port: u16, deadline: Duration) -> String {
    let listening = format!(
        "systemctl is-active -q {REMOTE_SOCKET} && ss -Hltn 'sport = :{port}' | grep -q LISTEN"
    );
    format!(
        r#"exec_start=$(systemctl show -p ExecStart --value {REMOTE_UNIT})
if printf '%s' "$exec_start" | grep -q -- '--listen-https=-3'; then
    echo "{REMOTE_UNIT} already runs with --listen-https=-3"
else
    bin=/usr/lib/systemd/systemd-journal-remote
    [ -x "$bin" ] || bin=/lib/systemd/systemd-journal-remote
    mkdir -p /etc/systemd/system/{REMOTE_UNIT}.d
    printf '[Service]\nExecStart=\nExecStart=%s --listen-https=-3 --output=/var/log/journal/remote/\n' "$bin" \
        > /etc/systemd/system/{REMOTE_UNIT}.d/60-journal-lab-listen-https.conf
    systemctl daemon-reload
    echo "added drop-in 60-journal-lab-listen-https.conf: ExecStart was: $exec_start"
fi
set +e
echo '{OBSERVED}'
{wait}
if {listening}; then echo listening; else systemctl is-active {REMOTE_SOCKET}; ss -Hltn; fi
"#,
        wait = super::shell_wait(&listening, deadline),
    )
}

/// After boot and once the servers listen, on an uploading client: `URL=` (which may name the
/// server's address, known only now), journal-upload enabled and started, then a wait for
/// "Processing input..." that gives up once the unit has restarted twice (it is failing).
fn client_configure_script(url: &str, deadline: Duration) -> String {
    let state = unit_state_command(UPLOAD_UNIT);
    let settled = format!(
        "s=$({state}); case \"$s\" in *'StatusText=Processing input...'*) true;; *NRestarts=[2-9]*|*NRestarts=[1-9][0-9]*) true;; *) false;; esac"
    );
    format!(
        r#"mkdir -p /etc/systemd/journal-upload.conf.d
printf '[Upload]\nURL=%s\n' '{url}' > /etc/systemd/journal-upload.conf.d/60-journal-lab-url.conf
echo "journal-upload: URL={url}, Restart=always (drop-in)"
echo "systemctl --no-reload enable --now {UPLOAD_UNIT}"
systemctl --no-reload enable --now {UPLOAD_UNIT} 2>&1
set +e
echo '{OBSERVED}'
{wait}
echo "$s"
"#,
        wait = super::shell_wait(&settled, deadline),
    )
}

/// Configures every host concurrently (what needs no running systemd was staged before boot);
/// uploading clients start once every server listens, each in one exec. Returns what was done on
/// each host, line by line, and how each uploader looked right after it started.
pub async fn configure(
    lab: &Lab,
    scenario: &Scenario,
    deadlines: &Deadlines,
) -> Result<Configured> {
    let hosts_lines: String = lab
        .hosts()
        .iter()
        .flat_map(|h| {
            def(scenario, h)
                .aliases
                .iter()
                .map(move |alias| format!("{} {alias}\n", h.ip))
        })
        .collect();
    let prelude = {
        let mut prelude = format!("set -eu\n{PROVISION_RECORD}");
        if !hosts_lines.is_empty() {
            // Aliases resolve like DNS names would on a LAN (the lab's DNS knows container names).
            prelude.push_str(&format!("printf '%s' '{hosts_lines}' >> /etc/hosts\n"));
        }
        prelude
    };
    let (uploaders, others): (Vec<&Host>, Vec<&Host>) = lab
        .hosts()
        .iter()
        .partition(|h| uploads_with_journal_upload(def(scenario, h)));
    let settle = others.into_iter().map(|host| {
        let prelude = &prelude;
        async move {
            let host_def = def(scenario, host);
            let mut script = prelude.clone();
            if host.role == Role::Server {
                script.push_str(&server_configure_script(
                    server_port(host_def),
                    deadlines.ready,
                ));
            }
            let output = lab
                .run(host, &script, deadlines.command + deadlines.ready)
                .await?;
            let (mut lines, observed) = split_observed(&output.stdout);
            if host.role == Role::Server {
                let port = server_port(host_def);
                if observed.first().map(String::as_str) != Some("listening") {
                    return Err(Error::Timeout {
                        what: format!("{REMOTE_SOCKET} on {} to listen on {port}", host.name),
                        waited: deadlines.ready,
                        last_seen: observed.join("\n"),
                    });
                }
                lines.push(format!("{REMOTE_SOCKET} active, listening on {port}"));
            }
            Ok::<_, Error>((host.name.clone(), lines))
        }
    });
    let mut done: BTreeMap<String, Vec<String>> = futures::future::try_join_all(settle)
        .await?
        .into_iter()
        .collect();

    let start_uploads = uploaders.into_iter().map(|host| {
        let prelude = &prelude;
        async move {
            let url = upload_url(lab, scenario, def(scenario, host));
            let script = format!(
                "{prelude}{}",
                client_configure_script(&url, deadlines.ready)
            );
            let output = lab
                .run(host, &script, deadlines.command + deadlines.ready)
                .await?;
            let (lines, observed) = split_observed(&output.stdout);
            // A client that never gets going is an observation (its evidence goes in the
            // report), not a harness failure. How it looked at this moment is timing-dependent
            // (a failing upload may flash "Processing input..." first), so it is kept apart.
            let state = observed.join(" ");
            let readiness = if state.contains("StatusText=Processing input...") {
                "Processing input...".to_string()
            } else {
                format!("not ready within {}s: {state}", deadlines.ready.as_secs())
            };
            Ok::<_, Error>((host.name.clone(), lines, readiness))
        }
    });
    let mut readiness = BTreeMap::new();
    for (name, lines, ready) in futures::future::try_join_all(start_uploads).await? {
        done.insert(name.clone(), lines);
        readiness.insert(name, ready);
    }
    Ok(Configured { done, readiness })
}

/// Splits a configuration script's output at [`OBSERVED`]: (what was done, what was seen after).
fn split_observed(stdout: &str) -> (Vec<String>, Vec<String>) {
    let mut done = Vec::new();
    let mut observed = Vec::new();
    let mut after = false;
    for line in stdout.lines() {
        if line == OBSERVED {
            after = true;
        } else if after {
            observed.push(line.to_string());
        } else {
            done.push(line.to_string());
        }
    }
    (done, observed)
}

/// What configuration did on each host (line by line), and how each uploader looked right after
/// it was started.
pub struct Configured {
    pub done: BTreeMap<String, Vec<String>>,
    pub readiness: BTreeMap<String, String>,
}

fn unit_state_command(unit: &str) -> String {
    format!("systemctl show -p ActiveState -p SubState -p Result -p NRestarts -p StatusText {unit}")
}

/// Performs one step (all but `evaluate`, which the runner handles).
pub async fn perform(
    lab: &Lab,
    scenario: &Scenario,
    step: &Step,
    state: &mut RunState,
    deadlines: &Deadlines,
    progress: &Progress,
) -> Result<()> {
    match step {
        Step::LogMarkers { hosts } => {
            log_markers(
                lab,
                scenario,
                &selected(lab, scenario, hosts),
                state,
                deadlines,
                progress,
            )
            .await
        }
        Step::Run {
            host,
            command,
            may_fail,
        } => {
            let host = lab.host(host).expect("validated host");
            let out = lab.exec(host, command, deadlines.command).await?;
            progress(&format!(
                "{}: `{}` exited {}",
                host.name,
                engine::first_line(command),
                out.exit_code
            ));
            if !out.success() && !may_fail {
                return Err(Error::HostCommand {
                    host: host.name.clone(),
                    command: command.clone(),
                    exit_code: out.exit_code,
                    output: out.combined(),
                });
            }
            Ok(())
        }
        Step::Unit {
            hosts,
            action,
            unit,
        } => {
            let command = format!("systemctl {} {unit} 2>&1", action.systemctl());
            let runs = selected(lab, scenario, hosts)
                .into_iter()
                .map(|host| lab.run(host, &command, deadlines.command));
            futures::future::try_join_all(runs).await?;
            progress(&format!(
                "`{command}` on {}",
                scenario.select(hosts).join(", ")
            ));
            Ok(())
        }
        Step::Remediate { rule, hosts } => {
            let (apply, snapshot) = remediation_scripts(*rule);
            let runs = selected(lab, scenario, hosts)
                .into_iter()
                .map(|host| async move {
                    let mut states = Vec::new();
                    for _ in 0..2 {
                        lab.run(host, apply, deadlines.command).await?;
                        states.push(
                            lab.exec(host, snapshot, deadlines.command)
                                .await?
                                .combined(),
                        );
                    }
                    Ok::<_, Error>((host.name.clone(), (states.remove(0), states.remove(0))))
                });
            state
                .remediations
                .extend(futures::future::try_join_all(runs).await?);
            progress(&format!(
                "remediation {rule:?} applied (twice) on {}",
                scenario.select(hosts).join(", ")
            ));
            Ok(())
        }
        Step::Restart { host } => {
            let host = lab.host(host).expect("validated host");
            lab.restart(host, deadlines.boot).await?;
            progress(&format!("{} restarted", host.name));
            Ok(())
        }
        Step::LogBurst { hosts, count } => {
            let result = burst(
                lab,
                scenario,
                &selected(lab, scenario, hosts),
                *count,
                deadlines,
            )
            .await?;
            progress(&format!(
                "burst: {} of {} messages on the server; latency p50 {:.0} ms, p99 {:.0} ms; {:.0} messages/s",
                result.delivered, result.sent, result.latency_p50_ms, result.latency_p99_ms, result.messages_per_second
            ));
            state.bursts.push(result);
            Ok(())
        }
        Step::Evaluate { .. } => Ok(()),
    }
}

/// The remediation script of a rule, and a command that prints the state it changes.
pub fn remediation_scripts(rule: Remediation) -> (&'static str, &'static str) {
    match rule {
        // ComplianceAsCode's bash remediation for socket_systemd-journal-remote_disabled, with
        // its platform gate (package linux-base).
        Remediation::DisableJournalRemoteSocket => (
            r#"if dpkg-query --show --showformat='${db:Status-Status}' 'linux-base' 2>/dev/null | grep -q '^installed$'; then
SOCKET_NAME="systemd-journal-remote.socket"
if systemctl -q list-unit-files --type socket | grep -q "$SOCKET_NAME"; then
    systemctl stop "$SOCKET_NAME"
    systemctl mask "$SOCKET_NAME"
fi
else
    >&2 echo 'Remediation is not applicable, nothing was done'
fi"#,
            "systemctl is-enabled systemd-journal-remote.socket; systemctl is-active systemd-journal-remote.socket; \
             ls -l /etc/systemd/system/systemd-journal-remote.socket 2>&1 | awk '{print $1, $9, $10, $11}'",
        ),
        // CIS Docker 1.2.7: watch docker.socket's unit file with key docker; compile with augenrules.
        Remediation::AuditDockerSocket => (
            r#"p=$(systemctl show -p FragmentPath --value docker.socket)
if [ -z "$p" ]; then
    >&2 echo 'Remediation is not applicable: no docker.socket unit'
    exit 0
fi
mkdir -p /etc/audit/rules.d
printf -- '-w %s -k docker\n' "$p" > /etc/audit/rules.d/50-docker-socket.rules
augenrules"#,
            "cat /etc/audit/rules.d/50-docker-socket.rules /etc/audit/audit.rules 2>&1 | sha256sum",
        ),
    }
}

/// The command that sends `marker` from a curl sender (the journal export format over HTTPS).
fn curl_send_command(url: &str, marker: &str, cert: Option<&str>) -> String {
    let (ca, identity) = match cert {
        Some(name) => (
            format!("{INSTALL_DIR}/ca.pem"),
            format!(" --cert {INSTALL_DIR}/{name}.pem --key {INSTALL_DIR}/{name}.key"),
        ),
        None => (format!("{BUNDLE_DIR}/ca.pem"), String::new()),
    };
    format!(
        // A complete export-format entry: newer journal-remote drops entries without a
        // monotonic timestamp and boot id ("Entry is invalid, ignoring.").
        "printf '__REALTIME_TIMESTAMP=%s\\n__MONOTONIC_TIMESTAMP=%s\\n_BOOT_ID=%s\\nMESSAGE=%s\\nSYSLOG_IDENTIFIER={id}\\n_HOSTNAME=%s\\n\\n' \
         \"$(date +%s%6N)\" \"$(awk '{{printf \"%d\", $1 * 1000000}}' /proc/uptime)\" \"$(tr -d - < /proc/sys/kernel/random/boot_id)\" \
         {msg} \"$(hostname)\" \
         | curl -sS -m 10 -o /dev/null -w 'HTTP status %{{http_code}}\\n' --cacert {ca}{identity} \
         -H 'Content-Type: application/vnd.fdo.journal' --data-binary @- {url}/upload 2>&1",
        id = journal::MARKER_IDENTIFIER,
        msg = journal::shell_quote(marker),
    )
}

/// Logs a marker on each host, then waits until those that must arrive (the hosts of
/// `client-delivers` checks) are on their servers, noting every arrival it sees meanwhile.
async fn log_markers(
    lab: &Lab,
    scenario: &Scenario,
    hosts: &[&Host],
    state: &mut RunState,
    deadlines: &Deadlines,
    progress: &Progress,
) -> Result<()> {
    let sends = hosts.iter().map(|host| async move {
        let host_def = def(scenario, host);
        let server = scenario
            .server_of(host_def)
            .expect("validated: a server exists")
            .name
            .clone();
        let text = journal::marker(lab.run_id(), &host.name, rand::random());
        let sender_log = if host_def.sender == Sender::Curl {
            let cert = (host_def.certificate.issuer != crate::scenario::NO_ISSUER)
                .then_some(host.name.as_str());
            let command = curl_send_command(&upload_url(lab, scenario, host_def), &text, cert);
            let out = lab.exec(host, &command, deadlines.command).await?;
            Some(vec![
                format!("$ curl ... {}/upload", upload_url(lab, scenario, host_def)),
                out.combined(),
            ])
        } else {
            lab.run(host, &journal::log_marker_command(&text), deadlines.command)
                .await?;
            None
        };
        Ok::<_, Error>((host.name.clone(), server, text, Instant::now(), sender_log))
    });
    for (host, server, text, logged_at, sender_log) in futures::future::try_join_all(sends).await? {
        if let Some(log) = sender_log {
            state
                .sender_logs
                .entry(host.clone())
                .or_default()
                .extend(log);
        }
        let seq = state.markers.len();
        state.markers.push(MarkerRecord {
            host,
            server,
            text,
            seq,
            logged_at,
            logged_wall: time::OffsetDateTime::now_utc()
                - time::Duration::seconds_f64(logged_at.elapsed().as_secs_f64()),
            arrived_after: None,
            found_in: None,
        });
    }
    let first_new = state.markers.len() - hosts.len();
    let must_arrive: Vec<usize> = (first_new..state.markers.len())
        .filter(|&i| expects_delivery(scenario, &state.markers[i].host))
        .collect();
    let start = Instant::now();
    let mut delay = Duration::from_millis(25);
    loop {
        let view = ServerView::read(lab, scenario, deadlines).await?;
        note_arrivals(state, &view);
        let pending = must_arrive
            .iter()
            .filter(|&&i| state.markers[i].found_in.is_none())
            .count();
        if pending == 0 || start.elapsed() >= deadlines.deliver {
            state.some_undelivered |= pending > 0;
            state.all_delivered_at = (!state.some_undelivered).then(Instant::now);
            progress(&format!(
                "{} of {} expected markers on the server after {:.1}s",
                must_arrive.len() - pending,
                must_arrive.len(),
                start.elapsed().as_secs_f64()
            ));
            return Ok(());
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 3 / 2).min(Duration::from_millis(250));
    }
}

const BURST_IDENTIFIER: &str = "journal-lab-burst";
const BURST_POLL: Duration = Duration::from_millis(50);

fn unix_now() -> f64 {
    time::OffsetDateTime::now_utc().unix_timestamp_nanos() as f64 / 1e9
}

/// Logs `count` messages on each host, each carrying its send time, while polling the servers;
/// every line's latency is the time from its send to the poll that first shows it.
async fn burst(
    lab: &Lab,
    scenario: &Scenario,
    hosts: &[&Host],
    count: u32,
    deadlines: &Deadlines,
) -> Result<crate::report::BurstResult> {
    let run_id = lab.run_id();
    let expected = hosts.len() * count as usize;
    let started = unix_now();
    let send = futures::future::try_join_all(hosts.iter().map(|host| {
        let script = format!(
            "i=0; while [ $i -lt {count} ]; do logger -t {BURST_IDENTIFIER} \"burst run={run_id} host={} seq=$i sent=$(date +%s.%N)\"; i=$((i+1)); done",
            host.name
        );
        async move { lab.run(host, &script, deadlines.command).await }
    }));
    let servers: Vec<&Host> = scenario
        .servers()
        .filter_map(|s| lab.host(&s.name))
        .collect();
    let read = format!(
        "journalctl -D {} -o cat --no-pager SYSLOG_IDENTIFIER={BURST_IDENTIFIER}",
        journal::REMOTE_DIR
    );
    let observe = async {
        let mut latencies: BTreeMap<(String, u32), f64> = BTreeMap::new();
        let mut last_seen = started;
        let clock = Instant::now();
        while latencies.len() < expected && clock.elapsed() < deadlines.deliver {
            for server in &servers {
                let out = lab.exec(server, &read, deadlines.command).await?;
                let now = unix_now();
                for line in out.stdout.lines() {
                    let Some((host, seq, sent)) = parse_burst_line(line, run_id) else {
                        continue;
                    };
                    latencies.entry((host, seq)).or_insert_with(|| {
                        last_seen = now;
                        (now - sent) * 1000.0
                    });
                }
            }
            tokio::time::sleep(BURST_POLL).await;
        }
        Ok::<_, Error>((latencies, last_seen))
    };
    let (sent, observed) = tokio::join!(send, observe);
    sent?;
    let (latencies, last_seen) = observed?;
    let values: Vec<f64> = latencies.values().copied().collect();
    let seconds = (last_seen - started).max(0.0);
    Ok(crate::report::BurstResult {
        hosts: hosts.len(),
        per_host: count,
        sent: expected,
        delivered: values.len(),
        latency_p50_ms: crate::report::quantile(&values, 0.5),
        latency_p99_ms: crate::report::quantile(&values, 0.99),
        latency_max_ms: crate::report::quantile(&values, 1.0),
        seconds,
        messages_per_second: if seconds > 0.0 {
            values.len() as f64 / seconds
        } else {
            0.0
        },
        poll_interval_ms: BURST_POLL.as_millis() as u64,
    })
}

/// `burst run=R host=H seq=N sent=EPOCH` → (H, N, EPOCH) for run R.
fn parse_burst_line(line: &str, run_id: &str) -> Option<(String, u32, f64)> {
    let rest = line
        .strip_prefix("burst run=")?
        .strip_prefix(run_id)?
        .strip_prefix(" host=")?;
    let (host, rest) = rest.split_once(" seq=")?;
    let (seq, sent) = rest.split_once(" sent=")?;
    Some((
        host.to_string(),
        seq.parse().ok()?,
        sent.trim().parse().ok()?,
    ))
}

/// Records the first sighting of every marker in `view`.
pub fn note_arrivals(state: &mut RunState, view: &ServerView) {
    for marker in &mut state.markers {
        if marker.found_in.is_none() {
            if let Some(file) = view.find(&marker.server, &marker.text) {
                marker.arrived_after = Some(marker.logged_at.elapsed().as_secs_f64());
                marker.found_in = Some(file);
            }
        }
    }
}

fn expects_delivery(scenario: &Scenario, host: &str) -> bool {
    scenario.checks.iter().any(|c| {
        c.id == CheckId::ClientDelivers
            && c.hosts
                .as_ref()
                .is_none_or(|hosts| hosts.iter().any(|h| h == host))
    })
}

/// Runs a probe and keeps it as evidence.
async fn probe(
    lab: &Lab,
    cache: &ProbeCache,
    host: &Host,
    command: &str,
    evidence: &mut Vec<String>,
    deadlines: &Deadlines,
) -> Result<ExecOutput> {
    let out = match cache.ask(&host.name, command) {
        Some(answer) => answer,
        None => lab.exec(host, command, deadlines.command).await?,
    };
    evidence.push(format!(
        "[{}]$ {command}  (exit {})",
        host.name, out.exit_code
    ));
    evidence.extend(
        out.combined()
            .lines()
            .take(EVIDENCE_LINES)
            .map(|l| format!("  {l}")),
    );
    Ok(out)
}

/// Evaluates one check on one host.
#[allow(clippy::too_many_arguments)]
pub async fn evaluate_check(
    lab: &Lab,
    cache: &ProbeCache,
    scenario: &Scenario,
    state: &RunState,
    view: &ServerView,
    id: CheckId,
    host: &Host,
    phase: &str,
    deadlines: &Deadlines,
) -> Result<CheckResult> {
    let start = Instant::now();
    let spec = id.spec();
    let host_def = def(scenario, host);
    let mut evidence = Vec::new();
    let ev = &mut evidence;
    let (status, observed) = if !id.applies_to(host.role) {
        (
            Status::NotApplicable,
            format!("{id} is about a {:?} host", spec.role.expect("role-bound")).to_lowercase(),
        )
    } else if matches!(
        id,
        CheckId::UploadRestartAlways
            | CheckId::ClientStatusProcessing
            | CheckId::TrustedCertificateFileSet
    ) && host.role == Role::Client
        && !uploads_with_journal_upload(host_def)
    {
        (
            Status::NotApplicable,
            "this client does not upload with journal-upload".to_string(),
        )
    } else {
        match id {
            CheckId::ClientDelivers => {
                let marker =
                    observe_marker(lab, cache, scenario, state, view, host, ev, deadlines).await?;
                checks::delivery_verdict(&marker)
            }
            CheckId::ServerRejectsUntrustedClientCa
            | CheckId::ServerRejectsClientWithoutCert
            | CheckId::ServerRejectsExpiredClientCert
            | CheckId::ClientRejectsServerSanMismatch
            | CheckId::ClientRejectsUntrustedServerCa
            | CheckId::ClientRejectsExpiredServerCert
            | CheckId::ClientOnOldPortFails => {
                let marker =
                    observe_marker(lab, cache, scenario, state, view, host, ev, deadlines).await?;
                checks::rejection_verdict(id, &marker)
            }
            CheckId::ServerHttpsOnly => {
                let exec_start = probe(
                    lab,
                    cache,
                    host,
                    &format!("systemctl show -p ExecStart --value {REMOTE_UNIT}"),
                    ev,
                    deadlines,
                )
                .await?;
                let plain = probe(lab, cache, host,
                    &format!(
                        "curl -sS -m 5 -o /dev/null -w '%{{http_code}}' -X POST -H 'Content-Type: application/vnd.fdo.journal' \
                         --data-binary '' http://127.0.0.1:{}/upload",
                        server_port(host_def)
                    ),
                    ev,
                    deadlines,
                )
                .await?;
                checks::https_only_verdict(&exec_start, &plain)
            }
            CheckId::ServerStatusProcessing | CheckId::ClientStatusProcessing => {
                let (unit, wanted) = match host.role {
                    Role::Server => (REMOTE_UNIT, "Processing requests..."),
                    Role::Client => (UPLOAD_UNIT, "Processing input..."),
                };
                let out = probe(
                    lab,
                    cache,
                    host,
                    &format!("systemctl show -p StatusText --value {unit}"),
                    ev,
                    deadlines,
                )
                .await?;
                checks::status_text_verdict(&out, wanted)
            }
            CheckId::CertFilesOwnerMode
                if host_def.certificate.issuer == crate::scenario::NO_ISSUER =>
            {
                (
                    Status::NotApplicable,
                    "the host has no certificate".to_string(),
                )
            }
            CheckId::CertFilesOwnerMode => {
                let out = probe(
                    lab,
                    cache,
                    host,
                    &format!("stat -c '%U:%G %a %n' {INSTALL_DIR} {INSTALL_DIR}/*"),
                    ev,
                    deadlines,
                )
                .await?;
                checks::owner_mode_verdict(&out, INSTALL_DIR)
            }
            CheckId::UploadRestartAlways => {
                let command = format!("systemctl show -p Restart --value {UPLOAD_UNIT}; systemctl is-enabled {UPLOAD_UNIT}");
                checks::restart_always_verdict(
                    &probe(lab, cache, host, &command, ev, deadlines).await?,
                )
            }
            CheckId::ServerListensNewPort => {
                let port = server_port(host_def);
                let out = probe(
                    lab,
                    cache,
                    host,
                    &format!("ss -Hltn 'sport = :{port}'"),
                    ev,
                    deadlines,
                )
                .await?;
                checks::listening_verdict(&out, port)
            }
            CheckId::ServerRefusesOldPort => {
                // From a client's side of the network, as a misconfigured client would see it.
                let from = lab
                    .hosts()
                    .iter()
                    .find(|h| h.role == Role::Client)
                    .unwrap_or(host);
                let target = format!("{}:{DEFAULT_PORT}", host.name);
                let command = format!("timeout 5 bash -c '</dev/tcp/{}/{DEFAULT_PORT}'", host.name);
                checks::refused_verdict(
                    &probe(lab, cache, from, &command, ev, deadlines).await?,
                    &target,
                )
            }
            CheckId::RemediationApplicable => {
                let command = "dpkg-query --show --showformat='${db:Status-Status}' linux-base";
                checks::applicable_verdict(&probe(lab, cache, host, command, ev, deadlines).await?)
            }
            CheckId::RemoteSocketMasked => checks::masked_verdict(
                &probe(
                    lab,
                    cache,
                    host,
                    &format!("systemctl is-enabled {REMOTE_SOCKET}"),
                    ev,
                    deadlines,
                )
                .await?,
            ),
            CheckId::RemoteSocketRefuses => {
                let connect = probe(
                    lab,
                    cache,
                    host,
                    &format!("timeout 5 bash -c '</dev/tcp/127.0.0.1/{DEFAULT_PORT}'"),
                    ev,
                    deadlines,
                )
                .await?;
                let start_socket = probe(
                    lab,
                    cache,
                    host,
                    &format!("systemctl start {REMOTE_SOCKET}"),
                    ev,
                    deadlines,
                )
                .await?;
                checks::socket_refuses_verdict(&connect, &start_socket)
            }
            CheckId::RemediationIdempotent => {
                let recorded = state.remediations.get(&host.name);
                if let Some((first, second)) = recorded {
                    ev.push(format!(
                        "state after the first application:\n  {}",
                        first.replace('\n', "\n  ")
                    ));
                    ev.push(format!(
                        "state after the second application:\n  {}",
                        second.replace('\n', "\n  ")
                    ));
                }
                checks::idempotent_verdict(
                    recorded.map(|r| r.0.as_str()),
                    recorded.map(|r| r.1.as_str()),
                )
            }
            CheckId::DockerSocketPresent
            | CheckId::DockerSocketAuditRule
            | CheckId::DockerSocketAuditLoaded => {
                let fragment = checks::fragment_path(
                    &probe(
                        lab,
                        cache,
                        host,
                        "systemctl show -p FragmentPath --value docker.socket",
                        ev,
                        deadlines,
                    )
                    .await?,
                );
                match id {
                    CheckId::DockerSocketPresent => {
                        checks::docker_socket_present_verdict(fragment.as_deref())
                    }
                    CheckId::DockerSocketAuditRule => {
                        let rules = probe(
                            lab,
                            cache,
                            host,
                            "cat /etc/audit/audit.rules",
                            ev,
                            deadlines,
                        )
                        .await?;
                        checks::audit_rule_verdict(fragment.as_deref(), &rules)
                    }
                    _ => {
                        let loaded = probe(lab, cache, host, "auditctl -l", ev, deadlines).await?;
                        checks::audit_loaded_verdict(fragment.as_deref(), &loaded)
                    }
                }
            }
            CheckId::TrustedCertificateFileSet => {
                let config = match host.role {
                    Role::Server => "systemd/journal-remote.conf",
                    Role::Client => "systemd/journal-upload.conf",
                };
                let out = probe(
                    lab,
                    cache,
                    host,
                    &format!("systemd-analyze cat-config {config}"),
                    ev,
                    deadlines,
                )
                .await?;
                checks::setting_verdict(&out, "TrustedCertificateFile", &[])
            }
            CheckId::KeysNotWorldReadable => {
                let command = format!("ls {INSTALL_DIR}/*.key 2>/dev/null; echo ---; find {INSTALL_DIR} -name '*.key' -perm -o+r 2>/dev/null");
                checks::keys_verdict(&probe(lab, cache, host, &command, ev, deadlines).await?)
            }
            CheckId::JournaldStoragePersistent
            | CheckId::JournaldCompress
            | CheckId::JournaldRateLimit => {
                let out = probe(
                    lab,
                    cache,
                    host,
                    "systemd-analyze cat-config systemd/journald.conf",
                    ev,
                    deadlines,
                )
                .await?;
                match id {
                    CheckId::JournaldStoragePersistent => {
                        checks::setting_verdict(&out, "Storage", &["persistent"])
                    }
                    CheckId::JournaldCompress => {
                        checks::setting_verdict(&out, "Compress", &["yes", "true", "1", "on"])
                    }
                    _ => {
                        let interval = checks::setting_verdict(&out, "RateLimitIntervalSec", &[]);
                        let burst = checks::setting_verdict(&out, "RateLimitBurst", &[]);
                        let status = if interval.0 == Status::Pass && burst.0 == Status::Pass {
                            Status::Pass
                        } else {
                            Status::Fail
                        };
                        (status, format!("{}; {}", interval.1, burst.1))
                    }
                }
            }
        }
    };
    Ok(CheckResult {
        id,
        title: spec.title.to_string(),
        host: host.name.clone(),
        phase: phase.to_string(),
        expected: spec.expected.to_string(),
        observed,
        status,
        evidence,
        seconds: start.elapsed().as_secs_f64(),
        reference: spec.reference.to_string(),
    })
}

/// What became of `host`'s latest marker, with the evidence: the server's verdict (is it there?),
/// the proof that absence is not slowness, and the client's and server's own words.
#[allow(clippy::too_many_arguments)]
async fn observe_marker(
    lab: &Lab,
    cache: &ProbeCache,
    scenario: &Scenario,
    state: &RunState,
    view: &ServerView,
    host: &Host,
    evidence: &mut Vec<String>,
    deadlines: &Deadlines,
) -> Result<MarkerObservation> {
    let Some(marker) = state.last_marker(&host.name) else {
        return Ok(MarkerObservation::default());
    };
    let found_in = view.find(&marker.server, &marker.text);
    evidence.push(format!("marker: {}", marker.text));
    evidence.push(format!(
        "[{}]$ {}  -> {}",
        marker.server,
        journal::remote_markers_by_file_command(),
        found_in
            .as_deref()
            .map_or("not found".to_string(), |f| format!("found in {f}"))
    ));
    let later_reference = state
        .markers
        .iter()
        .filter(|m| m.server == marker.server && m.seq > marker.seq && m.host != host.name)
        .find_map(|m| {
            view.find(&m.server, &m.text)
                .map(|file| format!("{} from {}, in {file}", m.text, m.host))
        });
    if let Some(reference) = &later_reference {
        evidence.push(format!("later marker that did arrive: {reference}"));
    }
    let client_log = match def(scenario, host).sender {
        Sender::Curl => state
            .sender_logs
            .get(&host.name)
            .cloned()
            .unwrap_or_default(),
        Sender::JournalUpload => {
            let command = format!("journalctl -u {UPLOAD_UNIT} -o cat --no-pager -n 20");
            probe(lab, cache, host, &command, evidence, deadlines)
                .await?
                .combined()
                .lines()
                .map(str::to_string)
                .collect()
        }
    };
    if def(scenario, host).sender == Sender::Curl {
        evidence.extend(client_log.iter().map(|l| format!("  {l}")));
    }
    if found_in.is_none() {
        if let Some(server) = lab.host(&marker.server) {
            let command = format!("journalctl -u {REMOTE_UNIT} -o cat --no-pager -n 15");
            probe(lab, cache, server, &command, evidence, deadlines).await?;
        }
    }
    Ok(MarkerObservation {
        logged: Some(marker.text.clone()),
        found_in,
        later_reference,
        client_log,
    })
}

/// Facts read off the hosts at the end of a run.
pub struct Facts {
    pub status_text: BTreeMap<String, String>,
    pub evidence: BTreeMap<String, Vec<String>>,
    pub findings: Vec<Finding>,
    /// Host → (`systemctl --version` first line, features line).
    pub versions: BTreeMap<String, (String, String)>,
    /// What arrived on the servers, for the report and the last arrivals.
    pub view: ServerView,
    /// Raw journals for the report: each server's whole remote directory, and what each client
    /// logged as the lab (`name` → `journalctl -o json` output).
    pub journals: Vec<(String, String)>,
}

/// What journal-remote says when it will not verify client certificates (builds without GnuTLS
/// default to trusting everyone, even with TrustedCertificateFile set).
const NO_CERT_CHECKING: &str = "Certificate checking disabled";

/// The commands whose output makes a host's end-of-run facts, in order.
fn fact_commands(host: &Host) -> Vec<String> {
    let (unit, journal_command) = match host.role {
        Role::Server => (
            REMOTE_UNIT,
            format!("journalctl -D {} -o json --no-pager", journal::REMOTE_DIR),
        ),
        Role::Client => (
            UPLOAD_UNIT,
            format!(
                "journalctl -o json --no-pager SYSLOG_IDENTIFIER={}",
                journal::MARKER_IDENTIFIER
            ),
        ),
    };
    let mut commands = vec![
        "systemctl --version".to_string(),
        format!(
            "{}; echo '--- last log lines of {unit}'; journalctl -u {unit} -n 12 --no-pager -o short-precise",
            unit_state_command(unit)
        ),
        journal_command,
    ];
    if host.role == Role::Server {
        commands.push(finding_command());
        commands.push(journal::remote_markers_by_file_command());
    }
    commands
}

fn finding_command() -> String {
    format!("journalctl -u {REMOTE_UNIT} -o cat --no-pager | grep -F '{NO_CERT_CHECKING}' || true")
}

/// Notes every host's fact commands in a recording cache, so that they join the batch being
/// recorded (after its probes: on the server, the profile's probes may be what socket-activates
/// journal-remote, and its log is where a finding comes from).
pub fn record_facts(lab: &Lab, cache: &ProbeCache) {
    for host in lab.hosts() {
        for command in fact_commands(host) {
            cache.ask(&host.name, &command);
        }
    }
}

/// Reads the end-of-run facts: from `cache` where [`record_facts`] put them in a batch, the rest
/// in one exec per host.
pub async fn observe_facts(lab: &Lab, cache: &ProbeCache, deadlines: &Deadlines) -> Result<Facts> {
    let observe = lab.hosts().iter().map(|host| async move {
        let journal_name = match host.role {
            Role::Server => format!("{}-remote", host.name),
            Role::Client => host.name.clone(),
        };
        let mut outputs = answers(lab, host, &fact_commands(host), cache, deadlines)
            .await?
            .into_iter();
        let mut next = || outputs.next().expect("one output per command");
        let version = next();
        let mut version_lines = version.stdout.lines().map(str::to_string);
        let version = (
            version_lines.next().unwrap_or_default(),
            version_lines.next().unwrap_or_default(),
        );
        let state = next().stdout;
        let journal = (journal_name, next().stdout);
        let server = (host.role == Role::Server).then(|| {
            let finding = server_finding(&host.name, &finding_command(), &next().stdout);
            let markers = journal::parse_entries_by_file(&next().stdout);
            (finding, markers)
        });
        Ok::<_, Error>((host.name.clone(), version, state, journal, server))
    });
    let mut facts = Facts {
        status_text: BTreeMap::new(),
        evidence: BTreeMap::new(),
        findings: Vec::new(),
        versions: BTreeMap::new(),
        view: ServerView::empty(),
        journals: Vec::new(),
    };
    for (name, version, output, journal, server) in futures::future::try_join_all(observe).await? {
        facts.versions.insert(name.clone(), version);
        let status = output
            .lines()
            .find_map(|l| l.strip_prefix("StatusText="))
            .unwrap_or_default()
            .to_string();
        facts.status_text.insert(name.clone(), status);
        facts
            .evidence
            .insert(name.clone(), output.lines().map(str::to_string).collect());
        facts.journals.push(journal);
        if let Some((finding, markers)) = server {
            facts.findings.extend(finding);
            facts.view.entries.insert(name, markers);
        }
    }
    Ok(facts)
}

fn server_finding(server: &str, command: &str, output: &str) -> Option<Finding> {
    let evidence: Vec<String> = output
        .lines()
        .map(|l| format!("[{server}]$ {command}: {l}"))
        .collect();
    (!evidence.is_empty()).then(|| Finding {
        host: server.to_string(),
        summary: "systemd-journal-remote does not verify client certificates (it logged \"Certificate checking \
                  disabled.\") although TrustedCertificateFile is set: any client that reaches the port can write \
                  to this server"
            .to_string(),
        evidence,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_lines_parse_only_for_this_run() {
        let line = "burst run=jl-1 host=client2 seq=41 sent=1700000000.125";
        assert_eq!(
            parse_burst_line(line, "jl-1"),
            Some(("client2".to_string(), 41, 1700000000.125))
        );
        assert_eq!(parse_burst_line(line, "jl-2"), None);
        assert_eq!(
            parse_burst_line("burst run=jl-1 host=x seq=a sent=1", "jl-1"),
            None
        );
    }

    /// What each kind of host gets before it boots: the server its socket enabled (and moved),
    /// an uploader its `Restart=always`, a host without a certificate only the CA it trusts.
    #[test]
    fn staged_files_carry_the_part_of_the_procedure_that_needs_no_systemd() {
        let scenario = Scenario::parse(
            std::path::Path::new("t.yaml"),
            "description: d\nhosts:\n  - {name: server, role: server, listen_port: 19600}\n  - {name: client1, role: client}\n\
             \x20 - {name: bare, role: client, sender: curl, certificate: {issuer: none}}\n\
             steps: []\nchecks: []\n",
        )
        .unwrap();
        let with_bundle = Credentials {
            bundle: Some(b"#!/bin/sh\n".to_vec()),
            trusted_ca: "CA".into(),
        };
        let without = Credentials {
            bundle: None,
            trusted_ca: "CA".into(),
        };
        let staged = |name: &str, creds: &Credentials| -> BTreeMap<String, String> {
            stage_files(scenario.host(name).unwrap(), creds)
                .into_iter()
                .map(|(path, bytes, _)| (path, String::from_utf8(bytes).unwrap()))
                .collect()
        };
        let server = staged("server", &with_bundle);
        let provision = &server["/root/journal-lab/provision.sh"];
        assert!(provision.contains("sh /root/journal-lab/runme-on-server.sh"));
        assert!(provision.contains("systemctl enable systemd-journal-remote.socket"));
        assert!(server
            ["/etc/systemd/system/systemd-journal-remote.socket.d/60-journal-lab-port.conf"]
            .contains("ListenStream=19600"));
        let client = staged("client1", &with_bundle);
        assert!(client
            ["/etc/systemd/system/systemd-journal-upload.service.d/60-journal-lab-restart.conf"]
            .contains("Restart=always"));
        assert!(!client["/root/journal-lab/provision.sh"].contains("systemctl"));
        let bare = staged("bare", &without);
        assert_eq!(bare["/root/journal-lab/ca.pem"], "CA");
        assert_eq!(bare.len(), 2, "{bare:?}");
        assert_eq!(bare["/root/journal-lab/provision.sh"], "set -eu\n");
        // What reads the provisioning record after boot looks where PID 1 wrote it.
        assert!(PROVISION_RECORD.starts_with(&format!("d={BUNDLE_DIR}\n")));
    }

    #[test]
    fn archives_hold_each_file_with_its_mode() {
        let archive = tar_archive(&[
            ("/etc/a.conf".into(), b"x=1\n".to_vec(), 0o644),
            ("/root/b.sh".into(), b"#!/bin/sh\n".to_vec(), 0o700),
        ])
        .unwrap();
        let mut reader = tar::Archive::new(archive.as_slice());
        let entries: Vec<(String, u32, u64)> = reader
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.path().unwrap().display().to_string(),
                    e.header().mode().unwrap(),
                    e.header().size().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            entries,
            [
                ("etc/a.conf".to_string(), 0o644, 4),
                ("root/b.sh".to_string(), 0o700, 10)
            ]
        );
    }
}

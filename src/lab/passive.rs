//! The spine: passive journal centralization over HTTPS, configured the way an operator does it,
//! and delivery observed on the server.
//!
//! Server: certificates from its bundle, journal-remote's unit checked for `--listen-https=-3`
//! (fixed with a drop-in if not), the socket enabled and listening on 19532.
//! Clients: certificates from their bundles, `URL=https://server:19532`, `Restart=always`,
//! journal-upload enabled and started. Then every client logs a marker and the lab waits until
//! `journalctl -D /var/log/journal/remote` on the server shows each one.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use time::OffsetDateTime;

use super::{timed, Deadlines, Host, HostSpec, Lab};
use crate::engine::{self, Engine};
use crate::errors::{Error, Result};
use crate::images::{self, ImageSpec};
use crate::journal;
use crate::pki::{Alias, CertDir, CertRequest};
use crate::report::{self, Finding, HostReport, Phase, Role, RunReport};
use crate::Progress;

pub const SERVER: &str = "server";
pub const REMOTE_PORT: u16 = 19532;
const REMOTE_UNIT: &str = "systemd-journal-remote.service";
const REMOTE_SOCKET: &str = "systemd-journal-remote.socket";
const UPLOAD_UNIT: &str = "systemd-journal-upload.service";
const BUNDLE_DIR: &str = "/root/journal-lab";
pub const MAX_CLIENTS: usize = 200;

#[derive(Debug, Clone)]
pub struct LabOptions {
    pub release: String,
    pub clients: usize,
    /// Leave the lab running after the run (and say how to reach it).
    pub keep: bool,
    pub images_dir: PathBuf,
    pub reports_dir: PathBuf,
    pub deadlines: Deadlines,
}

impl LabOptions {
    pub fn new(images_dir: impl Into<PathBuf>, reports_dir: impl Into<PathBuf>) -> LabOptions {
        LabOptions {
            release: images::DEFAULT_RELEASE.to_string(),
            clients: 3,
            keep: false,
            images_dir: images_dir.into(),
            reports_dir: reports_dir.into(),
            deadlines: Deadlines::default(),
        }
    }
}

/// A finished run: what it observed and where that was written.
#[derive(Debug)]
pub struct Outcome {
    pub report: RunReport,
    pub run_dir: PathBuf,
    /// With `keep`: how to reach each host, one line each.
    pub kept: Vec<String>,
}

/// Runs the lab end to end. `Err` means the harness could not do its job (no engine, a host that
/// would not boot, ...); a client that does not deliver is an *observation*, in the report.
pub async fn run(options: &LabOptions, progress: &Progress) -> Result<Outcome> {
    if options.clients == 0 || options.clients > MAX_CLIENTS {
        return Err(Error::InvalidSettings(format!(
            "--clients must be between 1 and {MAX_CLIENTS} (got {})",
            options.clients
        )));
    }
    let started = OffsetDateTime::now_utc();
    let clock = Instant::now();
    let mut phases = Vec::new();
    let image = ImageSpec::load(&options.images_dir, &options.release)?;
    let engine = Engine::connect().await?;

    let (built, took) = timed(images::ensure(&engine, &image, progress)).await;
    if built? {
        phases.push(phase("image", took));
    }

    let run_id = super::new_run_id();
    let specs = host_specs(options.clients);
    progress(&format!(
        "run {run_id}: booting 1 server + {} clients ({}, {})",
        options.clients,
        options.release,
        image.reference()
    ));

    // Certificates are issued while the hosts boot.
    let pki_dir = tempfile::Builder::new()
        .prefix("journal-lab-pki-")
        .tempdir()
        .map_err(Error::io(
            "creating a temporary directory in",
            std::env::temp_dir(),
        ))?;
    let pki = tokio::task::spawn_blocking({
        let (dir, specs, run_id) = (pki_dir.path().to_path_buf(), specs.clone(), run_id.clone());
        move || issue_certificates(dir, &specs, &run_id)
    });
    let mut lab = Lab::create(engine, &run_id, options.keep).await?;
    let ((), boot_time) = {
        let (result, took) = timed(lab.boot(&image, &specs, options.deadlines.boot)).await;
        (result?, took)
    };
    phases.push(phase("boot", boot_time));
    progress(&format!(
        "{} hosts up in {:.1}s",
        specs.len(),
        boot_time.as_secs_f64()
    ));
    let bundles = pki.await.expect("certificate issuing does not panic")?;

    let (configured, took) = timed(configure(&lab, &bundles, &options.deadlines)).await;
    let mut configuration = configured?;
    phases.push(phase("configure", took));
    progress(&format!(
        "configured and started in {:.1}s",
        took.as_secs_f64()
    ));

    let (deliveries, took) = timed(deliver(&lab, &options.deadlines, progress)).await;
    let deliveries = deliveries?;
    phases.push(phase("deliver", took));

    let facts = observe_facts(&lab, &options.deadlines).await?;
    let hosts = lab
        .hosts()
        .iter()
        .map(|host| {
            let delivery = deliveries.get(&host.name);
            HostReport {
                name: host.name.clone(),
                role: host.role,
                ip: host.ip.clone(),
                status_text: facts
                    .status_text
                    .get(&host.name)
                    .cloned()
                    .unwrap_or_default(),
                configuration: configuration.remove(&host.name).unwrap_or_default(),
                marker: delivery.map(|d| d.marker.clone()),
                delivered: delivery.map(|d| d.seconds.is_some()),
                seconds_to_deliver: delivery.and_then(|d| d.seconds),
                remote_file: delivery.and_then(|d| d.remote_file.clone()),
                evidence: Vec::new(),
            }
        })
        .collect::<Vec<_>>();
    let delivered = hosts.iter().filter(|h| h.delivered == Some(true)).count();
    let ok = delivered == options.clients;
    // Evidence is kept where something did not arrive: the client that failed, and the server.
    let mut hosts = hosts;
    for host in hosts
        .iter_mut()
        .filter(|h| !ok && h.delivered != Some(true))
    {
        host.evidence = facts.evidence.get(&host.name).cloned().unwrap_or_default();
    }
    let report = RunReport {
        run_id: run_id.clone(),
        release: options.release.clone(),
        systemd_version: facts.systemd_version,
        systemd_features: facts.systemd_features,
        image: image.reference(),
        started,
        finished: OffsetDateTime::now_utc(),
        total_seconds: clock.elapsed().as_secs_f64(),
        phases,
        clients: options.clients,
        delivered,
        ok,
        hosts,
        findings: facts.findings,
    };
    let run_dir = report::write_run(&options.reports_dir, &report)?;
    let kept = if options.keep {
        lab.keep_instructions()
    } else {
        Vec::new()
    };
    let (torn_down, took) = timed(lab.teardown()).await;
    torn_down?;
    if !options.keep {
        progress(&format!("lab removed in {:.1}s", took.as_secs_f64()));
    }
    Ok(Outcome {
        report,
        run_dir,
        kept,
    })
}

fn phase(name: &str, took: Duration) -> Phase {
    Phase {
        name: name.to_string(),
        seconds: took.as_secs_f64(),
    }
}

pub fn host_specs(clients: usize) -> Vec<HostSpec> {
    std::iter::once(HostSpec {
        name: SERVER.to_string(),
        role: Role::Server,
    })
    .chain((1..=clients).map(|i| HostSpec {
        name: format!("client{i}"),
        role: Role::Client,
    }))
    .collect()
}

/// Issues every host's certificate and returns each host's install bundle (the script's text).
fn issue_certificates(
    dir: PathBuf,
    specs: &[HostSpec],
    run_id: &str,
) -> Result<BTreeMap<String, Vec<u8>>> {
    let (cert_dir, _) = CertDir::open(dir)?;
    specs
        .iter()
        .map(|spec| {
            // The fully qualified container name is a SAN too, so either name verifies.
            let aliases = vec![Alias::Dns(format!("{}.{run_id}", spec.name))];
            let files = cert_dir.issue(&CertRequest::new(spec.name.clone(), aliases))?;
            let bundle =
                std::fs::read(&files.bundle).map_err(Error::io("reading", &files.bundle))?;
            Ok((spec.name.clone(), bundle))
        })
        .collect()
}

/// The files each host gets, as one tar archive extracted at `/`.
fn host_archive(host: &Host, bundle: &[u8]) -> Vec<u8> {
    let mut files: Vec<(String, Vec<u8>, u32)> = vec![(
        format!("{BUNDLE_DIR}/runme-on-{}.sh", host.name),
        bundle.to_vec(),
        0o700,
    )];
    if host.role == Role::Client {
        files.push((
            "/etc/systemd/journal-upload.conf.d/60-journal-lab-url.conf".into(),
            format!("[Upload]\nURL=https://{SERVER}:{REMOTE_PORT}\n").into_bytes(),
            0o644,
        ));
        files.push((
            format!("/etc/systemd/system/{UPLOAD_UNIT}.d/60-journal-lab-restart.conf"),
            b"[Service]\nRestart=always\n".to_vec(),
            0o644,
        ));
    }
    tar_archive(&files)
}

/// A tar archive of (absolute path, contents, mode), owned by root.
pub fn tar_archive(files: &[(String, Vec<u8>, u32)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let mtime = OffsetDateTime::now_utc().unix_timestamp() as u64;
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
            .expect("appending to an in-memory archive");
    }
    builder
        .into_inner()
        .expect("finishing an in-memory archive")
}

const SERVER_CONFIGURE: &str = r#"set -eu
sh /root/journal-lab/runme-on-server.sh
exec_start=$(systemctl show -p ExecStart --value systemd-journal-remote.service)
if printf '%s' "$exec_start" | grep -q -- '--listen-https=-3'; then
    echo "systemd-journal-remote.service already runs with --listen-https=-3"
else
    bin=/usr/lib/systemd/systemd-journal-remote
    [ -x "$bin" ] || bin=/lib/systemd/systemd-journal-remote
    mkdir -p /etc/systemd/system/systemd-journal-remote.service.d
    printf '[Service]\nExecStart=\nExecStart=%s --listen-https=-3 --output=/var/log/journal/remote/\n' "$bin" \
        > /etc/systemd/system/systemd-journal-remote.service.d/60-journal-lab-listen-https.conf
    systemctl daemon-reload
    echo "added drop-in 60-journal-lab-listen-https.conf: ExecStart was: $exec_start"
fi
systemctl enable --now systemd-journal-remote.socket 2>&1
"#;

const CLIENT_CONFIGURE: &str = r#"set -eu
sh /root/journal-lab/runme-on-$(hostname).sh
systemctl daemon-reload
echo "URL=https://server:19532 (journal-upload.conf.d/60-journal-lab-url.conf), Restart=always (drop-in)"
systemctl enable systemd-journal-upload.service 2>&1
"#;

/// Configures every host concurrently (clients start uploading once the server listens).
/// Returns what was done on each host, line by line.
async fn configure(
    lab: &Lab,
    bundles: &BTreeMap<String, Vec<u8>>,
    deadlines: &Deadlines,
) -> Result<BTreeMap<String, Vec<String>>> {
    let install = lab.hosts().iter().map(|host| async move {
        lab.engine()
            .put_archive(host.id(), host_archive(host, &bundles[&host.name]))
            .await?;
        let script = match host.role {
            Role::Server => SERVER_CONFIGURE,
            Role::Client => CLIENT_CONFIGURE,
        };
        let output = lab.run(host, script, deadlines.command).await?;
        let mut lines: Vec<String> = output.stdout.lines().map(str::to_string).collect();
        if host.role == Role::Server {
            wait_for_server_socket(lab, host, deadlines.ready).await?;
            lines.push(format!(
                "{REMOTE_SOCKET} active, listening on {REMOTE_PORT}"
            ));
        }
        Ok::<_, Error>((host.name.clone(), lines))
    });
    let mut done: BTreeMap<String, Vec<String>> = futures::future::try_join_all(install)
        .await?
        .into_iter()
        .collect();

    let start_uploads =
        lab.hosts()
            .iter()
            .filter(|h| h.role == Role::Client)
            .map(|host| async move {
                lab.run(
                    host,
                    &format!("systemctl start {UPLOAD_UNIT}"),
                    deadlines.command,
                )
                .await?;
                // A client that never gets going is an observation (its evidence goes in the report),
                // not a harness failure.
                let line = match wait_for_upload_ready(lab, host, deadlines.ready).await {
                    Ok(()) => format!("{UPLOAD_UNIT} started: \"Processing input...\""),
                    Err(e) => format!("{UPLOAD_UNIT} started but not ready: {e}"),
                };
                Ok::<_, Error>((host.name.clone(), line))
            });
    for (name, line) in futures::future::try_join_all(start_uploads).await? {
        done.entry(name).or_default().push(line);
    }
    Ok(done)
}

async fn wait_for_server_socket(lab: &Lab, server: &Host, deadline: Duration) -> Result<()> {
    let what = format!(
        "{REMOTE_SOCKET} on {} to listen on {REMOTE_PORT}",
        server.name
    );
    let probe = format!("systemctl is-active {REMOTE_SOCKET}; ss -Hltn 'sport = :{REMOTE_PORT}'");
    engine::poll(&what, deadline, || async {
        let out = lab.exec(server, &probe, Duration::from_secs(10)).await?;
        let mut lines = out.stdout.lines();
        let active = lines.next() == Some("active");
        let listening = lines.any(|l| l.contains("LISTEN"));
        Ok(if active && listening {
            Ok(())
        } else {
            Err(out.combined())
        })
    })
    .await
}

fn unit_state_command(unit: &str) -> String {
    format!("systemctl show -p ActiveState -p SubState -p Result -p NRestarts -p StatusText {unit}")
}

async fn wait_for_upload_ready(lab: &Lab, client: &Host, deadline: Duration) -> Result<()> {
    let what = format!(
        "{UPLOAD_UNIT} on {} to report \"Processing input...\"",
        client.name
    );
    let probe = unit_state_command(UPLOAD_UNIT);
    engine::poll(&what, deadline, || async {
        let out = lab.exec(client, &probe, Duration::from_secs(10)).await?;
        Ok(if out.stdout.contains("StatusText=Processing input...") {
            Ok(())
        } else {
            Err(out.stdout.split_whitespace().collect::<Vec<_>>().join(" "))
        })
    })
    .await
}

/// One client's marker and what became of it.
#[derive(Debug, Clone)]
struct Delivery {
    marker: String,
    seconds: Option<f64>,
    remote_file: Option<String>,
}

/// Logs a marker on every client and waits (with backoff, up to the deadline) until the server's
/// remote journal shows each. Missing markers are recorded as not delivered.
async fn deliver(
    lab: &Lab,
    deadlines: &Deadlines,
    progress: &Progress,
) -> Result<BTreeMap<String, Delivery>> {
    let server = lab.host(SERVER).expect("the lab has a server");
    let clients: Vec<&Host> = lab
        .hosts()
        .iter()
        .filter(|h| h.role == Role::Client)
        .collect();
    let log = clients.iter().map(|client| async move {
        let marker = journal::marker(lab.run_id(), &client.name, rand::random());
        lab.run(
            client,
            &journal::log_marker_command(&marker),
            deadlines.command,
        )
        .await?;
        Ok::<_, Error>((client.name.clone(), (marker, Instant::now())))
    });
    let logged: BTreeMap<String, (String, Instant)> = futures::future::try_join_all(log)
        .await?
        .into_iter()
        .collect();

    let mut arrived: BTreeMap<String, f64> = BTreeMap::new();
    let start = Instant::now();
    let mut delay = Duration::from_millis(50);
    loop {
        let out = lab
            .exec(
                server,
                &journal::remote_markers_command(),
                deadlines.command,
            )
            .await?;
        let entries = journal::parse_json_lines(&out.stdout);
        for (name, (marker, logged_at)) in &logged {
            if !arrived.contains_key(name) && entries.iter().any(|e| journal::is_marker(e, marker))
            {
                arrived.insert(name.clone(), logged_at.elapsed().as_secs_f64());
            }
        }
        if arrived.len() == logged.len() || start.elapsed() >= deadlines.deliver {
            break;
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_millis(500));
    }
    progress(&format!(
        "{} of {} markers on the server after {:.1}s",
        arrived.len(),
        logged.len(),
        start.elapsed().as_secs_f64()
    ));

    // Which file under /var/log/journal/remote each marker landed in.
    let listing = lab
        .exec(
            server,
            &journal::remote_markers_by_file_command(),
            deadlines.command,
        )
        .await?;
    let by_file = journal::parse_entries_by_file(&listing.stdout);
    Ok(logged
        .into_iter()
        .map(|(name, (marker, _))| {
            let remote_file = by_file
                .iter()
                .find(|(_, entry)| journal::is_marker(entry, &marker))
                .map(|(file, _)| format!("{}/{file}", journal::REMOTE_DIR));
            let seconds = arrived.get(&name).copied();
            (
                name,
                Delivery {
                    marker,
                    seconds,
                    remote_file,
                },
            )
        })
        .collect())
}

/// Facts read off the hosts at the end of a run.
struct Facts {
    systemd_version: String,
    systemd_features: String,
    status_text: BTreeMap<String, String>,
    evidence: BTreeMap<String, Vec<String>>,
    findings: Vec<Finding>,
}

/// What journal-remote says when it will not verify client certificates (builds without GnuTLS
/// do this even with TrustedCertificateFile set).
const NO_CERT_CHECKING: &str = "Certificate checking disabled";

/// Findings about the server's journal-remote, from its own log.
async fn server_findings(lab: &Lab, server: &Host, deadlines: &Deadlines) -> Result<Vec<Finding>> {
    let command = format!(
        "journalctl -u {REMOTE_UNIT} -o cat --no-pager | grep -F '{NO_CERT_CHECKING}' || true"
    );
    let out = lab.exec(server, &command, deadlines.command).await?;
    let evidence: Vec<String> = out
        .stdout
        .lines()
        .map(|l| format!("{command}: {l}"))
        .collect();
    Ok(if evidence.is_empty() {
        Vec::new()
    } else {
        vec![Finding {
            host: server.name.clone(),
            summary: "systemd-journal-remote does not verify client certificates (it logged \
                      \"Certificate checking disabled.\") although TrustedCertificateFile is set: \
                      any client that reaches the port can write to this server"
                .to_string(),
            evidence,
        }]
    })
}

async fn observe_facts(lab: &Lab, deadlines: &Deadlines) -> Result<Facts> {
    let server = lab.host(SERVER).expect("the lab has a server");
    let version = lab
        .run(server, "systemctl --version", deadlines.command)
        .await?;
    let mut version_lines = version.stdout.lines().map(str::to_string);
    let observe = lab.hosts().iter().map(|host| async move {
        let unit = match host.role {
            Role::Server => REMOTE_UNIT,
            Role::Client => UPLOAD_UNIT,
        };
        let script = format!(
            "{}; echo '--- last log lines of {unit}'; journalctl -u {unit} -n 12 --no-pager -o short-precise",
            unit_state_command(unit)
        );
        let out = lab.exec(host, &script, deadlines.command).await?;
        Ok::<_, Error>((host.name.clone(), out.stdout))
    });
    let mut facts = Facts {
        systemd_version: version_lines.next().unwrap_or_default(),
        systemd_features: version_lines.next().unwrap_or_default(),
        status_text: BTreeMap::new(),
        evidence: BTreeMap::new(),
        findings: server_findings(lab, server, deadlines).await?,
    };
    for (name, output) in futures::future::try_join_all(observe).await? {
        let status = output
            .lines()
            .find_map(|l| l.strip_prefix("StatusText="))
            .unwrap_or_default()
            .to_string();
        facts.status_text.insert(name.clone(), status);
        facts
            .evidence
            .insert(name, output.lines().map(str::to_string).collect());
    }
    Ok(facts)
}

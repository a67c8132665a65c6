//! After boot: the part of the operator's passive-HTTPS procedure that needs a running systemd.
//! Server: journal-remote's effective ExecStart checked for `--listen-https=-3` (a drop-in if
//! not), the socket listening. Clients: `URL=`, journal-upload enabled and started.

use std::collections::BTreeMap;
use std::time::Duration;

use super::staging::PROVISION_RECORD;
use super::{Deadlines, Host, Lab};
use crate::domain::{Role, REMOTE_SOCKET, REMOTE_UNIT, UPLOAD_UNIT};
use crate::errors::{Error, Result};
use crate::scenario::as_is::lab_sets_url;
use crate::scenario::{Backlog, Base, HostDef, Protocol, Scenario, Sender};

pub(super) fn def<'a>(scenario: &'a Scenario, host: &Host) -> &'a HostDef {
    scenario
        .host(&host.name)
        .expect("lab hosts come from the scenario")
}

/// The URL a client sends to, as configured.
pub(super) fn upload_url(lab: &Lab, scenario: &Scenario, client_host: &Host) -> String {
    let client = def(scenario, client_host);
    let server = scenario
        .server_of(client)
        .expect("validated: a server exists");
    let upload = client.upload.clone().unwrap_or(crate::scenario::UploadDef {
        server: None,
        via: "name".into(),
        port: None,
        protocol: Protocol::Https,
        read: None,
        backlog: Backlog::All,
    });
    let target = match upload.via.as_str() {
        "name" => server.name.clone(),
        // On another engine, the server's address is where it is published for this one.
        "ip" => lab
            .host(&server.name)
            .map(|h| match h.reachable_at {
                Some(address) if h.engine != client_host.engine => address.to_string(),
                _ => h.ip.clone(),
            })
            .unwrap_or_default(),
        alias => alias.to_string(),
    };
    format!(
        "{}://{target}:{}",
        upload.protocol,
        upload.port.unwrap_or(server.port())
    )
}

/// What the server's configuration says when it replaced journal-remote's ExecStart.
const LISTEN_HTTPS_ADDED: &str = "added drop-in 60-journal-lab-listen-https.conf";

/// Separates what configuration did from how the host looked afterwards.
const OBSERVED: &str = "--- observed";

/// After boot, on a server: journal-remote's effective ExecStart checked for `--listen-https=-3`
/// (under `base: guide` a drop-in if not; as it ships, only said), then a wait until the socket
/// is active and listening on `port`.
fn server_configure_script(port: u16, base: Base, deadline: Duration) -> String {
    let listening = format!(
        "systemctl is-active -q {REMOTE_SOCKET} && ss -Hltn 'sport = :{port}' | grep -q LISTEN"
    );
    let repair = match base {
        Base::Guide => "true",
        Base::AsIs => "false",
    };
    format!(
        r#"exec_start=$(systemctl show -p ExecStart --value {REMOTE_UNIT})
if printf '%s' "$exec_start" | grep -q -- '--listen-https=-3'; then
    echo "{REMOTE_UNIT} already runs with --listen-https=-3"
elif ! {repair}; then
    echo "{REMOTE_UNIT} runs without --listen-https=-3 (as it ships: left so): $exec_start"
else
    bin=/usr/lib/systemd/systemd-journal-remote
    [ -x "$bin" ] || bin=/lib/systemd/systemd-journal-remote
    mkdir -p /etc/systemd/system/{REMOTE_UNIT}.d
    printf '[Service]\nExecStart=\nExecStart=%s --listen-https=-3 --output=/var/log/journal/remote/\n' "$bin" \
        > /etc/systemd/system/{REMOTE_UNIT}.d/60-journal-lab-listen-https.conf
    systemctl daemon-reload
    echo "{LISTEN_HTTPS_ADDED}: ExecStart was: $exec_start"
fi
set +e
echo '{OBSERVED}'
{wait}
if {listening}; then echo listening; else systemctl is-active {REMOTE_SOCKET}; ss -Hltn; fi
"#,
        wait = super::shell_wait(&listening, deadline),
    )
}

/// Seeds journal-upload's state file with the cursor of the journal's last entry.
const SEED_STATE_AFTER_LAST_ENTRY: &str = r#"d=/var/lib/private/systemd/journal-upload; mkdir -p "$d"; chmod 0700 /var/lib/private
cursor=$(journalctl -n 1 -o export --no-pager | sed -n 's/^__CURSOR=//p')
printf '# This is private data. Do not parse.\nLAST_CURSOR=%s\n' "$cursor" > "$d/state"
echo "journal-upload starts after the journal's last entry (no backlog): $cursor"
"#;

/// After boot and once the servers listen, on an uploading client: `URL=` (which may name the
/// server's address, known only now), journal-upload enabled and started, then a wait for
/// "Processing input..." that gives up once the unit has restarted twice (it is failing).
fn client_configure_script(
    url: Option<&str>,
    base: Base,
    backlog: Backlog,
    deadline: Duration,
    waiters: usize,
) -> String {
    let state = unit_state_command(UPLOAD_UNIT);
    let settled = format!(
        "s=$({state}); case \"$s\" in *'StatusText=Processing input...'*) true;; *NRestarts=[2-9]*|*NRestarts=[1-9][0-9]*) true;; *) false;; esac"
    );
    // Without a backlog: journal-upload's state file (its StateDirectory=, under
    // /var/lib/private for its dynamic user, who is given it at start) names the journal's
    // last entry, so the first start resumes after it.
    let seed_state = match backlog {
        Backlog::All => String::new(),
        Backlog::None => SEED_STATE_AFTER_LAST_ENTRY.to_string(),
    };
    // Under `base: guide` the lab sets URL= (it may name the server's address, known only now);
    // as it ships, the user's URL= stands and names the lab resolves.
    let set_url = match url {
        Some(url) => format!(
            "mkdir -p /etc/systemd/journal-upload.conf.d
printf '[Upload]\\nURL=%s\\n' '{url}' > /etc/systemd/journal-upload.conf.d/60-journal-lab-url.conf
echo \"journal-upload: URL={url}{}\"
",
            match base {
                Base::Guide => ", Restart=always (drop-in)",
                Base::AsIs => " (drop-in: the scenario says whom this client dials)",
            }
        ),
        None => "echo \"journal-upload: its own URL= and restart settings (as it ships)\"\n".into(),
    };
    format!(
        r#"{seed_state}{set_url}echo "systemctl --no-reload enable --now {UPLOAD_UNIT}"
systemctl --no-reload enable --now {UPLOAD_UNIT} 2>&1
set +e
echo '{OBSERVED}'
{wait}
echo "$s"
"#,
        wait = super::shell_wait_among(&settled, deadline, waiters),
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
    // Aliases resolve like DNS names would on a LAN (the lab's DNS knows container names);
    // a host on another engine resolves by its name and aliases to where it is published.
    let hosts_lines = |on: &Host| -> String {
        lab.hosts()
            .iter()
            .flat_map(|h| {
                let (address, names) = if h.engine == on.engine {
                    (Some(h.ip.clone()), def(scenario, h).aliases.clone())
                } else {
                    let mut names = vec![h.name.clone(), format!("{}.{}", h.name, lab.run_id())];
                    names.extend(def(scenario, h).aliases.iter().cloned());
                    (h.reachable_at.map(|a| a.to_string()), names)
                };
                address
                    .into_iter()
                    .flat_map(move |a| names.clone().into_iter().map(move |n| format!("{a} {n}\n")))
            })
            .collect()
    };
    let prelude = |on: &Host| {
        let hosts_lines = hosts_lines(on);
        let mut prelude = format!("set -eu\n{PROVISION_RECORD}");
        if !hosts_lines.is_empty() {
            prelude.push_str(&format!("printf '%s' '{hosts_lines}' >> /etc/hosts\n"));
        }
        prelude
    };
    // A relay is configured twice: as a server with the others, then as an uploader once the
    // server it forwards to listens.
    let uploaders: Vec<&Host> = lab
        .hosts()
        .iter()
        .filter(|h| def(scenario, h).uploads_with_journal_upload())
        .collect();
    let others = lab
        .hosts()
        .iter()
        .filter(|h| h.role == Role::Server || !def(scenario, h).uploads_with_journal_upload());
    let settle = others.map(|host| {
        let prelude = &prelude;
        async move {
            let host_def = def(scenario, host);
            let mut script = prelude(host);
            if host.role == Role::Server {
                script.push_str(&server_configure_script(
                    host_def.port(),
                    scenario.base,
                    deadlines.ready,
                ));
            }
            if host.role == Role::Proxy {
                script.push_str(&super::proxy::proxy_configure_script(
                    host_def.port(),
                    deadlines.ready,
                ));
            }
            if host_def.sender == Sender::Gateway && host.role == Role::Client {
                script.push_str(&super::pull::gateway_ready_script(deadlines.ready));
            }
            let output = lab
                .exec_ok(host, &script, deadlines.command + deadlines.ready)
                .await?;
            let (mut lines, observed) = split_observed(&output.stdout);
            if host.role == Role::Server {
                let port = host_def.port();
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

    let waiters = uploaders.len();
    let mut added: BTreeMap<String, Vec<crate::report::carried::AddedFile>> = lab
        .hosts()
        .iter()
        .map(|h| {
            let lines = hosts_lines(h);
            let entries = (!lines.is_empty()).then(|| super::additions::name_entries(&lines));
            (h.name.clone(), entries.into_iter().collect())
        })
        .collect();
    for host in &uploaders {
        let url = lab_sets_url(scenario.base, def(scenario, host))
            .then(|| upload_url(lab, scenario, host));
        added
            .entry(host.name.clone())
            .or_default()
            .extend(super::additions::configured_upload(
                url.as_deref(),
                scenario.base,
            ));
    }
    let start_uploads = uploaders.into_iter().map(|host| {
        let prelude = &prelude;
        async move {
            let url = lab_sets_url(scenario.base, def(scenario, host))
                .then(|| upload_url(lab, scenario, host));
            // A relay's names and provisioning record were written with its server half.
            let prelude = if host.role == Role::Server {
                "set -eu\n".to_string()
            } else {
                prelude(host)
            };
            let script = format!(
                "{prelude}{}",
                client_configure_script(
                    url.as_deref(),
                    scenario.base,
                    def(scenario, host)
                        .upload
                        .as_ref()
                        .map(|u| u.backlog)
                        .unwrap_or_default(),
                    deadlines.ready,
                    waiters,
                )
            );
            let output = lab
                .exec_ok(host, &script, deadlines.command + deadlines.ready)
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
    // Collectors start pulling once their sources listen (they do: the first batch waited).
    let start_pulls = lab.hosts().iter().filter_map(|host| {
        let sources = super::pull::sources_of(scenario, &host.name);
        (host.role == Role::Server && !sources.is_empty()).then_some(async move {
            let script = format!("set -eu\n{}", super::pull::start_pulls_script(&sources));
            let output = lab.exec_ok(host, &script, deadlines.command).await?;
            Ok::<_, Error>((host.name.clone(), output.stdout))
        })
    });
    let (uploads, pulls) = futures::future::join(
        futures::future::try_join_all(start_uploads),
        futures::future::try_join_all(start_pulls),
    )
    .await;
    for (name, stdout) in pulls? {
        done.entry(name)
            .or_default()
            .extend(stdout.lines().map(str::to_string));
    }
    let mut readiness = BTreeMap::new();
    for (name, lines, ready) in uploads? {
        done.entry(name.clone()).or_default().extend(lines);
        readiness.insert(name, ready);
    }
    for (name, lines) in &done {
        if lines.iter().any(|l| l.starts_with(LISTEN_HTTPS_ADDED)) {
            added
                .entry(name.clone())
                .or_default()
                .push(crate::report::carried::AddedFile {
                path: format!(
                    "/etc/systemd/system/{REMOTE_UNIT}.d/60-journal-lab-listen-https.conf"
                ),
                sha256: String::new(),
                why: "journal-remote's ExecStart lacked --listen-https=-3: replaced (base: guide)"
                    .into(),
            });
        }
    }
    Ok(Configured {
        done,
        readiness,
        added,
    })
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
#[derive(Default)]
pub struct Configured {
    pub done: BTreeMap<String, Vec<String>>,
    pub readiness: BTreeMap<String, String>,
    /// What the lab wrote into each host that its configuration did not have.
    pub added: BTreeMap<String, Vec<crate::report::carried::AddedFile>>,
}

pub(super) fn unit_state_command(unit: &str) -> String {
    format!("systemctl show -p ActiveState -p SubState -p Result -p NRestarts -p StatusText {unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without a backlog, the state file names the journal's last entry before the first start
    /// (run here on a recorded export, journalctl replaced): with one, nothing is seeded.
    #[test]
    fn no_backlog_seeds_the_state_with_the_last_cursor() {
        let all = client_configure_script(
            Some("https://s:19532"),
            Base::Guide,
            Backlog::All,
            Duration::from_secs(1),
            1,
        );
        assert!(!all.contains("LAST_CURSOR"), "{all}");
        let none = client_configure_script(
            Some("https://s:19532"),
            Base::Guide,
            Backlog::None,
            Duration::from_secs(1),
            1,
        );
        let seed: String = none.lines().take(4).map(|l| format!("{l}\n")).collect();
        let dir = tempfile::tempdir().unwrap();
        let seed = seed
            .replace("/var/lib/private", &dir.path().display().to_string())
            .replace(
                "journalctl -n 1 -o export --no-pager",
                "printf '__CURSOR=s=abc;i=2a\\nMESSAGE=x\\n'",
            );
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(&seed)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let state =
            std::fs::read_to_string(dir.path().join("systemd/journal-upload/state")).unwrap();
        assert_eq!(
            state,
            "# This is private data. Do not parse.\nLAST_CURSOR=s=abc;i=2a\n"
        );
    }
}

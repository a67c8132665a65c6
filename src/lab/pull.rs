//! Active (pull) centralization: a client with `sender: gateway` serves its journal with
//! systemd-journal-gatewayd over HTTPS (port 19531, its own certificate), and its server pulls
//! it with `systemd-journal-remote --url` (systemd-journal-remote(8)), one service per source,
//! writing `remote-<source>.journal` beside what clients upload.
//!
//! Two things an operator meets are done here as one would: gatewayd takes `--cert`/`--key`
//! on its command line (a drop-in), and journal-remote's `--url` spawns curl with no options
//! of its own, so the collector's certificate and the CA reach curl through a `.curlrc` in
//! `CURL_HOME`.

use std::time::Duration;

use crate::pki::{CA_FILE, INSTALL_DIR};
use crate::scenario::{HostDef, Scenario, Sender};

/// gatewayd's port (systemd-journal-gatewayd.socket).
pub const GATEWAY_PORT: u16 = 19531;
/// The socket that starts gatewayd.
pub const GATEWAY_SOCKET: &str = "systemd-journal-gatewayd.socket";
pub const GATEWAY_UNIT: &str = "systemd-journal-gatewayd.service";
/// Where the collector's curl finds its `.curlrc`.
const CURL_HOME: &str = "/etc/journal-lab/pull";

/// The unit on a collector that pulls `source`'s journal.
pub fn pull_unit(source: &str) -> String {
    format!("journal-lab-pull-{source}.service")
}

/// The URL a collector pulls `source` from: every entry, then new ones as they come.
pub fn pull_url(source: &str) -> String {
    format!("https://{source}:{GATEWAY_PORT}/entries?follow")
}

/// The sources `server` pulls: the clients with `sender: gateway` whose server it is.
pub fn sources_of<'a>(scenario: &'a Scenario, server: &str) -> Vec<&'a HostDef> {
    scenario
        .hosts
        .iter()
        .filter(|h| h.sender == Sender::Gateway)
        .filter(|h| scenario.server_of(h).is_some_and(|s| s.name == server))
        .collect()
}

type StagedFile = (String, Vec<u8>, u32);

/// A source's files: gatewayd's drop-in with its certificate, and the socket enabled (in
/// `provision`, run before boot).
pub fn gateway_files(host: &HostDef, provision: &mut String) -> Vec<StagedFile> {
    let name = &host.name;
    provision.push_str(&format!("systemctl enable {GATEWAY_SOCKET} 2>&1\n"));
    vec![(
        format!("/etc/systemd/system/{GATEWAY_UNIT}.d/60-journal-lab-https.conf"),
        format!(
            "[Service]\nExecStart=\nExecStart=/lib/systemd/systemd-journal-gatewayd \
             --cert={INSTALL_DIR}/{name}.pem --key={INSTALL_DIR}/{name}.key\n"
        )
        .into_bytes(),
        0o644,
    )]
}

/// A collector's files: curl's options and one pull service per source (started once the
/// sources listen, by [`start_pulls_script`]).
pub fn collector_files(server: &HostDef, sources: &[&HostDef]) -> Vec<StagedFile> {
    if sources.is_empty() {
        return Vec::new();
    }
    let name = &server.name;
    let mut files = vec![(
        format!("{CURL_HOME}/.curlrc"),
        format!(
            "cert = {INSTALL_DIR}/{name}.pem\nkey = {INSTALL_DIR}/{name}.key\ncacert = {INSTALL_DIR}/{CA_FILE}\n"
        )
        .into_bytes(),
        0o644,
    )];
    for source in sources {
        let source = &source.name;
        files.push((
            format!("/etc/systemd/system/{}", pull_unit(source)),
            format!(
                "[Unit]\nDescription=journal-lab: pull the journal of {source} (systemd-journal-remote --url)\n\
                 [Service]\nUser=systemd-journal-remote\nEnvironment=CURL_HOME={CURL_HOME}\n\
                 ExecStart=/lib/systemd/systemd-journal-remote --url={url} --split-mode=none \
                 --output={dir}/remote-{source}.journal\nRestart=always\nRestartSec=1\n",
                url = pull_url(source),
                dir = crate::journal::REMOTE_DIR,
            )
            .into_bytes(),
            0o644,
        ));
    }
    files
}

/// On a source after boot: a wait until gatewayd's socket listens.
pub fn gateway_ready_script(deadline: Duration) -> String {
    let listening = format!("ss -Hltn 'sport = :{GATEWAY_PORT}' | grep -q LISTEN");
    format!(
        "{wait}\nif {listening}; then echo \"{GATEWAY_SOCKET} listening on {GATEWAY_PORT}\"; \
         else echo \"{GATEWAY_SOCKET} not listening on {GATEWAY_PORT}\" >&2; systemctl status {GATEWAY_SOCKET} --no-pager >&2; exit 1; fi\n",
        wait = super::shell_wait(&listening, deadline),
    )
}

/// On a collector once its sources listen: each pull service started (its own directory for
/// the files it writes), and how each looks a moment later.
pub fn start_pulls_script(sources: &[&HostDef]) -> String {
    let mut script = format!(
        "install -d -o systemd-journal-remote -g systemd-journal-remote -m 0755 {}\nsystemctl daemon-reload\n",
        crate::journal::REMOTE_DIR
    );
    for source in sources {
        let unit = pull_unit(&source.name);
        script.push_str(&format!(
            "systemctl start {unit}\necho \"started {unit}: $(systemctl is-active {unit}) (pulls {})\"\n",
            pull_url(&source.name)
        ));
    }
    script
}

#[cfg(test)]
mod tests {
    use super::*;

    const PULL: &str = "description: d
hosts:
  - {name: collector, role: server}
  - {name: other, role: server}
  - {name: src1, role: client, sender: gateway}
  - {name: src2, role: client, sender: gateway, upload: {server: other}}
  - {name: pusher, role: client}
checks: [{id: delivery-exactly-once}]
";

    #[test]
    fn a_collector_pulls_each_of_its_sources_with_journal_remote_through_curl() {
        let scenario = Scenario::parse(std::path::Path::new("p.yaml"), PULL).unwrap();
        let sources = sources_of(&scenario, "collector");
        let names: Vec<&str> = sources.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["src1"], "src2 goes to other, pusher uploads");
        let files = collector_files(scenario.host("collector").unwrap(), &sources);
        let text = |path: &str| {
            let f = files.iter().find(|f| f.0 == path).unwrap();
            String::from_utf8(f.1.clone()).unwrap()
        };
        let unit = text("/etc/systemd/system/journal-lab-pull-src1.service");
        assert!(unit.contains("--url=https://src1:19531/entries?follow --split-mode=none --output=/var/log/journal/remote/remote-src1.journal"), "{unit}");
        assert!(
            unit.contains("Environment=CURL_HOME=/etc/journal-lab/pull"),
            "{unit}"
        );
        let curlrc = text("/etc/journal-lab/pull/.curlrc");
        assert!(
            curlrc.contains("cert = /etc/ssl/systemd-journal/collector.pem"),
            "{curlrc}"
        );
        assert!(
            curlrc.contains("cacert = /etc/ssl/systemd-journal/ca.pem"),
            "{curlrc}"
        );
        assert!(collector_files(scenario.host("other").unwrap(), &[]).is_empty());

        let mut provision = String::new();
        let gateway = gateway_files(scenario.host("src1").unwrap(), &mut provision);
        let dropin = String::from_utf8(gateway[0].1.clone()).unwrap();
        assert!(
            dropin.contains(
                "--cert=/etc/ssl/systemd-journal/src1.pem --key=/etc/ssl/systemd-journal/src1.key"
            ),
            "{dropin}"
        );
        assert!(provision.contains("systemctl enable systemd-journal-gatewayd.socket"));
    }
}

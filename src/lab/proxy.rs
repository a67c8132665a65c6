//! Proxies between clients and a server (systemd#38775): a host with `role: proxy` runs
//! HAProxy from Debian's packages, configured before boot and restarted once every host is up
//! (HAProxy resolves its server's name when it starts).
//!
//! `passthrough` forwards TCP: the client's TLS reaches journal-remote, whose certificate then
//! carries the proxy's name (the name in the clients' URL). `terminate` ends TLS at the proxy,
//! which requires and checks the client's certificate against the lab CA and connects to the
//! server over TLS with its own certificate: journal-remote sees the proxy as its one client.

use std::time::Duration;

use crate::pki::{CA_FILE, INSTALL_DIR};
use crate::scenario::{HostDef, ProxyMode, Scenario};

/// The unit that runs the proxy.
pub const PROXY_UNIT: &str = "haproxy.service";
/// The package that provides it.
pub const PROXY_PACKAGE: &str = "haproxy";
const CONFIG: &str = "/etc/haproxy/haproxy.cfg";
/// The proxy's certificate and key in one file, as HAProxy's `crt` wants them.
const COMBINED_PEM: &str = "/etc/haproxy/journal-lab.pem";

type StagedFile = (String, Vec<u8>, u32);

/// The names of the proxies that pass TLS through to `server`: its certificate must carry them.
pub fn passthrough_names<'a>(scenario: &'a Scenario, server: &str) -> Vec<&'a str> {
    scenario
        .hosts
        .iter()
        .filter(|h| h.proxied_server() == Some(server))
        .filter(|h| {
            h.proxy
                .as_ref()
                .is_some_and(|p| p.mode == ProxyMode::Passthrough)
        })
        .map(|h| h.name.as_str())
        .collect()
}

/// HAProxy's configuration for `proxy`, forwarding to `server`.
pub fn haproxy_config(proxy: &HostDef, server: &HostDef) -> String {
    let mode = proxy.proxy.as_ref().map(|p| p.mode).unwrap_or_default();
    let (listen, backend) = match mode {
        ProxyMode::Passthrough => (
            format!("    mode tcp\n    bind :{}\n", proxy.port()),
            format!("    mode tcp\n    server {0} {0}:{1}\n", server.name, server.port()),
        ),
        ProxyMode::Terminate => (
            format!(
                "    mode http\n    bind :{} ssl crt {COMBINED_PEM} ca-file {INSTALL_DIR}/{CA_FILE} verify required\n",
                proxy.port()
            ),
            format!(
                "    mode http\n    server {0} {0}:{1} ssl crt {COMBINED_PEM} ca-file {INSTALL_DIR}/{CA_FILE} verify required\n",
                server.name,
                server.port()
            ),
        ),
    };
    format!(
        "# journal-lab: {name} forwards uploads to {server} ({mode:?})\n\
         global\n    log stdout format raw local0 info\n\
         defaults\n    log global\n    option dontlognull\n    timeout connect 5s\n    timeout client 5m\n    timeout server 5m\n\
         frontend journal\n{listen}    default_backend remote\n\
         backend remote\n{backend}",
        name = proxy.name,
        server = server.name,
    )
}

/// A proxy's files (HAProxy's configuration), and in `provision` its certificate and key put
/// together where HAProxy reads them.
pub fn proxy_files(proxy: &HostDef, server: &HostDef, provision: &mut String) -> Vec<StagedFile> {
    provision.push_str(&format!(
        "cat {INSTALL_DIR}/{0}.pem {INSTALL_DIR}/{0}.key > {COMBINED_PEM} && chmod 0600 {COMBINED_PEM}\n",
        proxy.name
    ));
    vec![(
        CONFIG.to_string(),
        haproxy_config(proxy, server).into_bytes(),
        0o644,
    )]
}

/// On a proxy after boot: HAProxy restarted (every host's name resolves now), then a wait
/// until it listens.
pub fn proxy_configure_script(port: u16, deadline: Duration) -> String {
    let listening = format!("ss -Hltn 'sport = :{port}' | grep -q LISTEN");
    format!(
        "systemctl restart {PROXY_UNIT}\n{wait}\nif {listening}; then echo \"{PROXY_UNIT} listening on {port}\"; \
         else echo \"{PROXY_UNIT} not listening on {port}\" >&2; journalctl -u {PROXY_UNIT} -n 20 --no-pager >&2; exit 1; fi\n",
        wait = super::shell_wait(&listening, deadline),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROXIED: &str = "description: d
hosts:
  - {name: server, role: server}
  - {name: tcp, role: proxy, proxy: {server: server}}
  - {name: tls, role: proxy, listen_port: 443, proxy: {server: server, mode: terminate}}
  - {name: c1, role: client, upload: {server: tcp}}
  - {name: c2, role: client, upload: {server: tls}}
checks: [{id: delivery-exactly-once}]
";

    #[test]
    fn proxies_forward_tcp_or_end_tls_with_the_lab_ca() {
        let scenario = Scenario::parse(std::path::Path::new("p.yaml"), PROXIED).unwrap();
        let server = scenario.host("server").unwrap();
        let tcp = haproxy_config(scenario.host("tcp").unwrap(), server);
        assert!(tcp.contains("    mode tcp\n    bind :19532\n"), "{tcp}");
        assert!(tcp.contains("server server server:19532\n"), "{tcp}");
        let tls = haproxy_config(scenario.host("tls").unwrap(), server);
        assert!(
            tls.contains("bind :443 ssl crt /etc/haproxy/journal-lab.pem ca-file /etc/ssl/systemd-journal/ca.pem verify required"),
            "{tls}"
        );
        assert!(tls.contains("server server server:19532 ssl crt"), "{tls}");
        assert_eq!(passthrough_names(&scenario, "server"), ["tcp"]);
        let route: Vec<&str> = scenario
            .route_of(scenario.host("c2").unwrap())
            .iter()
            .map(|h| h.name.as_str())
            .collect();
        assert_eq!(route, ["tls", "server"]);
    }

    #[test]
    fn a_proxy_must_name_a_server_and_only_a_proxy_may() {
        let parse = |t: &str| Scenario::parse(std::path::Path::new("p.yaml"), t);
        let e = parse(&PROXIED.replace("proxy: {server: server}}", "proxy: {server: c1}}"))
            .unwrap_err();
        assert!(
            e.message.contains("proxy.server \"c1\" is not a server"),
            "{e}"
        );
        let e = parse(&PROXIED.replace(
            "{name: tcp, role: proxy, proxy: {server: server}}",
            "{name: tcp, role: proxy}",
        ))
        .unwrap_err();
        assert!(e.message.contains("name the server it forwards to"), "{e}");
        let e = parse(&PROXIED.replace(
            "{name: c1, role: client, upload: {server: tcp}}",
            "{name: c1, role: client, proxy: {server: server}}",
        ))
        .unwrap_err();
        assert!(e.message.contains("proxy is for proxies"), "{e}");
    }
}

//! Reproducing a field setup: the collect script an operator runs on a real host, the bundle it
//! makes, and the scenario a bundle (or several: a server and its clients) turns into. The same
//! configuration files and drop-ins, installed verbatim; certificates re-issued by the lab CA
//! with the originals' subject, names, window and kind of key; the server the URL names made
//! resolvable; the standard checks for each role. And, after a run, the field's error lines next
//! to the lab's.

pub mod bundle;
mod compare;
pub mod data;
pub mod mirror;
pub use compare::{compare, error_lines, normalize};

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{json, Value};

use crate::domain::{Role, DEFAULT_PORT};
use crate::errors::{Error, Result};
use crate::scenario::Scenario;
use bundle::{last_setting, sections, Bundle};

/// The collect script, printed by `cargo xtask collect-script`.
pub const COLLECT_SCRIPT: &str = include_str!("replay/collect.sh");

/// A bundle and the host it becomes.
pub struct Replayed {
    pub bundle: Bundle,
    pub host: String,
    pub role: Role,
}

/// What `replay` makes of bundles.
pub struct Replay {
    pub scenario: Scenario,
    /// The scenario file's text (with a header saying where it came from).
    pub yaml: String,
    pub hosts: Vec<Replayed>,
    /// Lines of the bundles that are code, kept because `--allow-exec` said so.
    pub code: Vec<String>,
}

/// Whether a bundle is of a client or a server: an upload URL or an enabled/running uploader
/// makes a client; otherwise an enabled or listening journal-remote socket makes a server.
pub fn role_of(bundle: &Bundle) -> Option<Role> {
    let upload = "systemd-journal-upload.service";
    let state = |unit: &str, key: &str| bundle.unit_property(unit, key).unwrap_or_default();
    let url = last_setting(bundle.file("cat-config-journal-upload.conf"), "URL").is_some();
    let uploads = state(upload, "UnitFileState") == "enabled"
        || matches!(
            state(upload, "ActiveState").as_str(),
            "active" | "activating" | "failed"
        );
    if url || uploads {
        return Some(Role::Client);
    }
    let socket = "systemd-journal-remote.socket";
    (state(socket, "UnitFileState") == "enabled" || state(socket, "ActiveState") == "active")
        .then_some(Role::Server)
}

/// A host name for the lab from a field host name: RFC 1123, lower case, unique in `taken`.
fn lab_name(field: &str, taken: &mut Vec<String>) -> String {
    let first = field.split('.').next().unwrap_or("");
    let mut name: String = first
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    // A DNS label: at most 63 characters.
    name = name.trim_matches('-').chars().take(63).collect();
    if name.is_empty() {
        name = "field-host".into();
    }
    let mut unique = name.clone();
    let mut n = 2;
    while taken.contains(&unique) {
        unique = format!("{name}-{n}");
        n += 1;
    }
    taken.push(unique.clone());
    unique
}

/// The shipped release for a field host: its own codename when a recipe exists, else the one
/// whose systemd is nearest. Returns (release, why).
pub fn nearest_release(bundle: &Bundle, available: &[(String, Option<u32>)]) -> (String, String) {
    let codename = bundle.os("VERSION_CODENAME").unwrap_or_default();
    if available.iter().any(|(release, _)| *release == codename) {
        return (codename.clone(), format!("the field host runs {codename}"));
    }
    let version = bundle.systemd_version().unwrap_or(0);
    let best = available
        .iter()
        .filter_map(|(release, systemd)| Some((release, (*systemd)?)))
        .min_by_key(|(_, v)| v.abs_diff(version))
        .map_or(
            available
                .first()
                .map_or("", |(release, _)| release.as_str()),
            |(release, _)| release.as_str(),
        );
    let shown = if codename.is_empty() {
        "an unknown release".into()
    } else {
        codename
    };
    (
        best.to_string(),
        format!("the field host runs {shown} with systemd {version}; {best} is the nearest shipped release"),
    )
}

/// The configuration files under /etc the bundle shows (effective configs and unit drop-ins),
/// to install as the field had them: vetted as data ([`data::vet`]), so a file that is not the
/// journal's, or a line of a unit that is code, refuses the bundle; with `allow_exec` the code
/// is kept and each line of it is in `code`.
fn config_files(bundle: &Bundle, allow_exec: bool, code: &mut Vec<String>) -> Result<Vec<Value>> {
    let sources = [
        "cat-config-journal-upload.conf",
        "cat-config-journal-remote.conf",
        "cat-config-journald.conf",
        "cat-systemd-journal-upload.service",
        "cat-systemd-journal-remote.service",
        "cat-systemd-journal-remote.socket",
    ];
    let mut seen = std::collections::BTreeSet::new();
    let mut files = Vec::new();
    for member in sources {
        for (path, content) in sections(bundle.file(member)) {
            if !path.starts_with("/etc/") || !seen.insert(path.clone()) {
                continue;
            }
            let refuse = |reason: String| Error::Bundle {
                path: bundle.source.clone(),
                reason: format!("{member}: {reason}"),
            };
            let (content, found) = data::vet(&path, &content).map_err(refuse)?;
            if let Some(first) = found.first().filter(|_| !allow_exec) {
                return Err(refuse(format!(
                    "{first}: code, not configuration ({} such line{}): a bundle is data and is \
                     not run; replay it with --allow-exec to run it in the lab anyway (said \
                     in the scenario and the report)",
                    found.len(),
                    if found.len() == 1 { "" } else { "s" }
                )));
            }
            code.extend(
                found
                    .iter()
                    .map(|c| format!("{}: {c}", bundle.source.display())),
            );
            files.push(json!({"path": path, "content": content}));
        }
    }
    Ok(files)
}

/// The mirrored certificate of one side (`upload` or `remote`), with where the field keeps it.
fn certificate(bundle: &Bundle, side: &str) -> Result<Value> {
    let Some(pem) = bundle.files.get(&format!("certs/{side}-cert.pem")) else {
        return Ok(json!({"issuer": "none"}));
    };
    let mut mirror = mirror::mirror_of(pem).map_err(|reason| Error::Bundle {
        path: bundle.source.clone(),
        reason: format!("certs/{side}-cert.pem: {reason}"),
    })?;
    let paths = bundle.cert_paths();
    let path = |kind: &str| paths.get(&(side.to_string(), kind.to_string())).cloned();
    if let (Some(cert), Some(key), Some(ca)) = (path("cert"), path("key"), path("ca")) {
        let key = key.split(" type=").next().unwrap_or(&key).to_string();
        mirror.install = Some(crate::scenario::InstallPaths { cert, key, ca });
    }
    Ok(json!({"issuer": "lab", "mirror": serde_json::to_value(&mirror)?}))
}

/// The port of the effective `ListenStream=` of a socket (`19600`, `0.0.0.0:19600`, `[::]:19600`).
/// Not set: the default port; set to something that is no port (`99999`, a path): an error
/// naming the bundle member, never the default in its place.
fn listen_port(bundle: &Bundle) -> Result<u16> {
    let member = "cat-systemd-journal-remote.socket";
    let Some(value) = last_setting(bundle.file(member), "ListenStream") else {
        return Ok(DEFAULT_PORT);
    };
    value
        .rsplit(':')
        .next()
        .and_then(|port| port.trim().parse::<u16>().ok())
        .filter(|port| *port > 0)
        .ok_or_else(|| Error::Bundle {
            path: bundle.source.clone(),
            reason: format!(
                "{member}: ListenStream={value} is not a TCP port the lab can listen on (1-65535)"
            ),
        })
}

/// A URL's (scheme, host in lower case, port, whether it carried credentials). Credentials
/// (`user:password@`) are dropped, never kept or shown; a port that is not one is an error.
fn parse_url(url: &str) -> std::result::Result<(String, String, u16, bool), String> {
    let (scheme, rest) = url.split_once("://").unwrap_or(("https", url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let (credentials, authority) = match authority.rsplit_once('@') {
        Some((_, after)) => (true, after),
        None => (false, authority),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => {
            let port =
                p.parse::<u16>().ok().filter(|&p| p != 0).ok_or_else(|| {
                    format!("port {p:?} of the upload URL is not a port (1-65535)")
                })?;
            (h.trim_matches(['[', ']']).to_string(), port)
        }
        _ => (authority.to_string(), DEFAULT_PORT),
    };
    Ok((scheme.to_string(), host.to_lowercase(), port, credentials))
}

/// The scenario for `bundles` (`as_role` decides a lone bundle's role when given).
/// `available`: the releases with a recipe and the systemd each ships (`images::shipped`).
pub fn replay(
    bundles: Vec<Bundle>,
    as_role: Option<Role>,
    available: &[(String, Option<u32>)],
    allow_exec: bool,
) -> Result<Replay> {
    if available.is_empty() {
        return Err(Error::InvalidSettings(
            "no image recipes to replay on (images/*.yaml)".into(),
        ));
    }
    let single = bundles.len() == 1;
    let mut taken = Vec::new();
    // The names clients' URLs give servers: a client is not given one of them (the lab's server
    // must answer to it), whatever the field host was called.
    let dialled: Vec<String> = bundles
        .iter()
        .filter_map(|b| last_setting(b.file("cat-config-journal-upload.conf"), "URL"))
        .filter_map(|url| parse_url(&url).ok())
        .map(|(_, host, _, _)| host.split('.').next().unwrap_or("").to_string())
        .collect();
    let mut hosts: Vec<Replayed> = Vec::new();
    for bundle in bundles {
        let role = match (as_role.filter(|_| single), role_of(&bundle)) {
            (Some(role), _) | (None, Some(role)) => role,
            (None, None) => {
                return Err(Error::Bundle {
                    path: bundle.source.clone(),
                    reason: "neither an uploading client nor a listening server: say which with \
                             --as client or --as server"
                        .into(),
                })
            }
        };
        let field = bundle.hostname();
        let first = field.split('.').next().unwrap_or("").to_lowercase();
        let host = if role == Role::Client && dialled.contains(&first) {
            lab_name(&format!("{first}-client"), &mut taken)
        } else {
            lab_name(&field, &mut taken)
        };
        hosts.push(Replayed { bundle, host, role });
    }
    let mut notes = Vec::new();
    let mut code = Vec::new();
    let (release, why) = nearest_release(&hosts[0].bundle, available);
    notes.push(format!("release {release}: {why}"));
    let mut defs: Vec<Value> = Vec::new();
    let mut checks: Vec<Value> = Vec::new();
    // Servers first: clients' URLs are matched against them.
    let mut servers: BTreeMap<String, (Value, Vec<String>)> = BTreeMap::new();
    for h in hosts.iter().filter(|h| h.role == Role::Server) {
        let cert = certificate(&h.bundle, "remote")?;
        let dns: Vec<String> = cert["mirror"]["names"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|n| n.as_str()?.strip_prefix("DNS:").map(str::to_string))
            .filter(|n| *n != h.host)
            .collect();
        let def = json!({
            "name": h.host, "role": "server", "release": nearest_release(&h.bundle, available).0,
            "listen_port": listen_port(&h.bundle)?, "certificate": cert, "files": config_files(&h.bundle, allow_exec, &mut code)?,
        });
        servers.insert(h.host.clone(), (def, dns));
        checks.push(json!({"id": "server-status-processing", "hosts": [h.host]}));
    }
    let mut clients: Vec<Value> = Vec::new();
    for h in hosts.iter().filter(|h| h.role == Role::Client) {
        let url = last_setting(h.bundle.file("cat-config-journal-upload.conf"), "URL")
            .unwrap_or_else(|| "https://server:19532".into());
        let (scheme, url_host, port, credentials) =
            parse_url(&url).map_err(|reason| Error::Bundle {
                path: h.bundle.source.clone(),
                reason,
            })?;
        if credentials {
            notes.push(format!(
                "{}: its URL carried credentials (user:password@); they are not kept",
                h.host
            ));
        }
        let matched = servers
            .iter()
            .find(|(name, (_, dns))| {
                **name == url_host
                    || url_host.split('.').next() == Some(name.as_str())
                    || dns.contains(&url_host)
            })
            .map(|(name, _)| name.clone())
            .or_else(|| {
                (servers.len() == 1)
                    .then(|| servers.keys().next().cloned())
                    .flatten()
            });
        let server = match matched {
            Some(name) => name,
            None => {
                let name = lab_name("server", &mut taken);
                let def = json!({"name": name, "role": "server", "listen_port": port});
                notes.push(format!(
                    "{name}: a lab server for {scheme}://{url_host}:{port} (no server bundle names it)"
                ));
                servers.insert(name.clone(), (def, Vec::new()));
                name
            }
        };
        let via = if url_host == server {
            "name".to_string()
        } else if url_host.parse::<std::net::IpAddr>().is_ok() {
            notes.push(format!("{}: its URL names an address ({url_host}); the lab's server has another, so the lab dials the server's address", h.host));
            "ip".to_string()
        } else {
            let (def, dns) = servers.get_mut(&server).expect("just found");
            if !dns.contains(&url_host) {
                dns.push(url_host.clone());
            }
            let aliases = def["aliases"].as_array().cloned().unwrap_or_default();
            if !aliases.iter().any(|a| a == &url_host) {
                let mut aliases = aliases;
                aliases.push(json!(url_host));
                def["aliases"] = Value::Array(aliases);
            }
            url_host.clone()
        };
        clients.push(json!({
            "name": h.host, "role": "client", "release": nearest_release(&h.bundle, available).0,
            "certificate": certificate(&h.bundle, "upload")?, "files": config_files(&h.bundle, allow_exec, &mut code)?,
            "upload": {"server": server, "via": via, "port": port, "protocol": scheme},
        }));
        checks.push(json!({"id": "client-delivers", "hosts": [h.host]}));
    }
    if clients.is_empty() {
        for _ in 0..2 {
            let name = lab_name("lab-client", &mut taken);
            let server = servers.keys().next().expect("a server bundle").clone();
            let (def, dns) = &servers[&server];
            let via = dns.first().cloned().unwrap_or_else(|| "name".into());
            let mut upload = json!({"server": server, "port": def["listen_port"]});
            if via != "name" {
                upload["via"] = json!(via);
            }
            clients.push(json!({"name": name, "role": "client", "upload": upload}));
            checks.push(json!({"id": "client-delivers", "hosts": [name]}));
        }
        notes.push("two lab clients upload to the replayed server".into());
    }
    for (_, (mut def, dns)) in servers {
        // The server's DNS names resolve in the lab like on the field's network.
        let mut aliases: Vec<Value> = def["aliases"].as_array().cloned().unwrap_or_default();
        for name in dns {
            if !aliases.iter().any(|a| a == &json!(name)) && crate::pki::is_valid_name(&name) {
                aliases.push(json!(name));
            }
        }
        if !aliases.is_empty() {
            def["aliases"] = Value::Array(aliases);
        }
        defs.push(def);
    }
    defs.extend(clients);
    let sources: Vec<String> = hosts
        .iter()
        .map(|h| {
            format!(
                "{} ({}, {:?}, {})",
                h.bundle.source.display(),
                h.bundle.hostname(),
                h.role,
                h.bundle
                    .file("systemctl-version")
                    .lines()
                    .next()
                    .unwrap_or("?")
            )
        })
        .collect();
    let hosts_in_order = defs
        .into_iter()
        .map(serde_json::from_value)
        .collect::<std::result::Result<Vec<HostDoc>, _>>()?;
    let order: Vec<String> = hosts_in_order.iter().map(|h| h.name.clone()).collect();
    let document = Doc {
        description: format!("Replay of a field setup: {}", sources.join("; ")),
        release,
        hosts: hosts_in_order,
        // A field symptom is often a marker that never arrives: wait less than the default.
        steps: json!([{"do": "log-markers", "deadline": 15}]),
        checks: Value::Array(checks),
    };
    let mut yaml = format!(
        "# Written by `journal-lab replay` from field bundles:\n{}# The configuration files are the field's, verbatim; certificates are new, from the lab CA,\n# with the originals' subject, names, validity and kind of key. Edit it like any scenario.\n{}",
        sources.iter().map(|s| format!("#   {}\n", comment_text(s))).collect::<String>(),
        notes.iter().map(|n| format!("# {}\n", comment_text(n))).collect::<String>(),
    );
    if !code.is_empty() {
        yaml.push_str("# CODE FROM THE BUNDLE, kept with --allow-exec (it runs in the lab):\n");
        for line in &code {
            yaml.push_str(&format!("#   {}\n", comment_text(line)));
        }
    }
    yaml.push_str(
        &yaml_serde::to_string(&document)
            .map_err(|e| Error::InvalidSettings(format!("writing the replay scenario: {e}")))?,
    );
    let scenario = Scenario::parse(Path::new("replay.yaml"), &yaml).map_err(|e| {
        // Said of the bundle whose host the error is about (`hosts[N]...`), not of a file that
        // was never written.
        let host = e
            .message
            .strip_prefix("hosts[")
            .and_then(|rest| rest.split(']').next()?.parse::<usize>().ok())
            .and_then(|n| order.get(n));
        let bundle = host.and_then(|name| hosts.iter().find(|h| &h.host == name));
        match bundle {
            Some(h) => Error::Bundle {
                path: h.bundle.source.clone(),
                reason: format!(
                    "its host {} does not make a scenario: {}",
                    h.host, e.message
                ),
            },
            None => Error::InvalidSettings(format!(
                "the bundles ({}) do not make a scenario: {}",
                sources.join("; "),
                e.message
            )),
        }
    })?;
    Ok(Replay {
        scenario,
        yaml,
        hosts,
        code,
    })
}

/// The scenario file's layout: keys in the order people read them (a JSON map would sort them).
#[derive(serde::Serialize)]
struct Doc {
    description: String,
    release: String,
    hosts: Vec<HostDoc>,
    steps: Value,
    checks: Value,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct HostDoc {
    name: String,
    role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    release: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    listen_port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    aliases: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    upload: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    certificate: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    files: Option<Vec<FileDoc>>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct FileDoc {
    path: String,
    content: String,
}

/// `text` for a YAML comment line: field text (host names, paths, URLs) may hold a line break
/// that would end the comment and start YAML of its own; every control character is escaped.
fn comment_text(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;

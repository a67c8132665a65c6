//! What serde cannot check about a scenario: references between its parts, names that become DNS
//! names or file paths, ports, and sizes. Scenario files come from pull requests, so everything a
//! run would later trust is checked here, before anything boots. Each error names the path of the
//! node it is about (`hosts[2].files[0].path`), which `spans` turns into a line and column.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path};

use super::{Scenario, Sender, LAB_CA, MAX_CLIENTS, MAX_SERVERS, NO_ISSUER};
use crate::domain::Role;

/// A semantic error: the path of the node it is about, and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub path: String,
    pub message: String,
}

fn invalid<T>(path: impl Into<String>, message: impl Into<String>) -> Result<T, Invalid> {
    Err(Invalid {
        path: path.into(),
        message: message.into(),
    })
}

/// Ports journal-remote must not be moved to: 0 means "any" to the kernel, and these are used by
/// other services the lab's hosts may run.
const TAKEN_PORTS: &[(u16, &str)] = &[
    (0, "port 0 is not a port a client can connect to"),
    (
        19531,
        "19531 is systemd-journal-gatewayd's port (systemd-journal-remote also ships it)",
    ),
];

/// The longest file path accepted (PATH_MAX on Linux).
const MAX_PATH_BYTES: usize = 4096;

mod params;
mod routes;
mod steps;
use params::check_params;
use routes::{proxy, relay, upload};

pub(super) fn validate(s: &Scenario) -> Result<(), Invalid> {
    let names = hosts(s)?;
    cas(s)?;
    for i in 0..s.hosts.len() {
        host_refs(s, i, &names)?;
    }
    unique_aliases(s)?;
    let phases = steps::steps(s, &names)?;
    checks(s, &names, &phases)
}

/// A name resolves to one host: every alias once in the whole scenario (one pass, so 40 000
/// aliases take milliseconds).
fn unique_aliases(s: &Scenario) -> Result<(), Invalid> {
    let mut owners: std::collections::HashMap<&str, &str> = std::collections::HashMap::new();
    for (i, host) in s.hosts.iter().enumerate() {
        for (a, alias) in host.aliases.iter().enumerate() {
            if let Some(owner) = owners.insert(alias.as_str(), host.name.as_str()) {
                return invalid(
                    format!("hosts[{i}].aliases[{a}]"),
                    format!(
                        "alias {alias:?} is given twice (also to {owner}): a name resolves to one host"
                    ),
                );
            }
        }
    }
    Ok(())
}

/// Names, counts and roles; returns the set of host names.
fn hosts(s: &Scenario) -> Result<BTreeSet<&str>, Invalid> {
    let mut names = BTreeSet::new();
    for (i, host) in s.hosts.iter().enumerate() {
        if !is_host_name(&host.name) {
            return invalid(
                format!("hosts[{i}].name"),
                format!(
                    "host name {:?} must match ^[a-z0-9][a-z0-9-]*$ and be at most 63 characters \
                     (it is also a DNS label)",
                    host.name
                ),
            );
        }
        if !names.insert(host.name.as_str()) {
            return invalid(
                format!("hosts[{i}].name"),
                format!(
                    "host {:?} is defined twice (hosts need distinct names)",
                    host.name
                ),
            );
        }
    }
    let servers = s.servers().count();
    let clients = s.hosts.len() - servers;
    if servers == 0 {
        return invalid(
            "hosts",
            "the topology needs at least one host with role: server",
        );
    }
    if servers > MAX_SERVERS || clients > MAX_CLIENTS {
        return invalid(
            "hosts",
            format!(
                "{servers} servers and {clients} clients: a lab holds at most {MAX_SERVERS} servers \
                 and {MAX_CLIENTS} clients"
            ),
        );
    }
    if let Some(release) = &s.release {
        release_name("release", release)?;
    }
    Ok(names)
}

fn release_name(path: &str, release: &str) -> Result<(), Invalid> {
    if is_host_name(release) && release.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Ok(());
    }
    invalid(
        path,
        format!(
            "release {release:?} is not a release name: write a recipe name under images/ such as \
             bookworm or trixie (lowercase letters, digits and dashes)"
        ),
    )
}

fn cas(s: &Scenario) -> Result<(), Invalid> {
    let mut seen = BTreeSet::new();
    for (i, ca) in s.cas.iter().enumerate() {
        let path = format!("cas[{i}]");
        if ca == LAB_CA || ca == NO_ISSUER {
            return invalid(
                path,
                format!("{ca:?} is built in: list only the extra CAs (e.g. rogue)"),
            );
        }
        if !is_host_name(ca) {
            return invalid(
                path,
                format!("CA name {ca:?} must match ^[a-z0-9][a-z0-9-]*$"),
            );
        }
        if !seen.insert(ca) {
            return invalid(path, format!("CA {ca:?} is listed twice"));
        }
    }
    Ok(())
}

/// One host's own settings and what they name.
fn host_refs(s: &Scenario, i: usize, names: &BTreeSet<&str>) -> Result<(), Invalid> {
    let host = &s.hosts[i];
    let at = |field: &str| format!("hosts[{i}].{field}");
    let known_cas: Vec<&str> = std::iter::once(LAB_CA)
        .chain(s.cas.iter().map(String::as_str))
        .collect();
    let issuer = host.certificate.issuer.as_str();
    if issuer != NO_ISSUER && !known_cas.contains(&issuer) {
        return invalid(
            at("certificate.issuer"),
            format!(
                "host {:?}: issuer {issuer:?} is not a CA of this scenario (known: {}, or none)",
                host.name,
                known_cas.join(", ")
            ),
        );
    }
    if let Some(mirror) = &host.certificate.mirror {
        mirror_def(mirror, &|field| at(&format!("certificate.mirror.{field}")))?;
    }
    if let Some(install) = &host.certificate.install {
        install_paths(install, &|field| at(&format!("certificate.{field}")))?;
    }
    if !known_cas.contains(&host.trusts.as_str()) {
        return invalid(
            at("trusts"),
            format!(
                "host {:?}: trusts {:?}, which is not a CA of this scenario (known: {})",
                host.name,
                host.trusts,
                known_cas.join(", ")
            ),
        );
    }
    if let Some(release) = &host.release {
        release_name(&at("release"), release)?;
    }
    for (p, package) in host.packages.iter().enumerate() {
        if !is_package_name(package) {
            return invalid(
                at(&format!("packages[{p}]")),
                format!("{package:?} is not a Debian package name (^[a-z0-9][a-z0-9+.-]+$)"),
            );
        }
    }
    for (a, alias) in host.aliases.iter().enumerate() {
        let path = at(&format!("aliases[{a}]"));
        // A DNS name, dotted or not: aliases go into /etc/hosts and subjectAltNames.
        if !crate::pki::is_valid_name(alias) || alias.chars().any(|c| c.is_ascii_uppercase()) {
            return invalid(
                path,
                format!("alias {alias:?} must be a DNS name in lower case (labels of a-z, 0-9 and -, separated by dots)"),
            );
        }
        if names.contains(alias.as_str()) {
            return invalid(
                path,
                format!("alias {alias:?} of {} is the name of a host", host.name),
            );
        }
    }
    if host.proxy.is_some() && host.role != Role::Proxy {
        return invalid(
            at("proxy"),
            format!(
                "host {:?} is a {}: proxy is for proxies (role: proxy)",
                host.name,
                host.role.as_str()
            ),
        );
    }
    match host.role {
        Role::Server => {
            if host.sender != Sender::JournalUpload {
                return invalid(
                    at("sender"),
                    format!("host {:?} is a server: sender is for clients", host.name),
                );
            }
            if let Some(port) = host.listen_port {
                port_free(&at("listen_port"), port)?;
            }
            if host.upload.is_some() {
                relay(s, i)?;
                upload(s, i)?;
            }
        }
        Role::Proxy => proxy(s, i)?,
        Role::Client => {
            if host.listen_port.is_some() {
                return invalid(
                    at("listen_port"),
                    format!(
                        "host {:?} is a client: listen_port is for servers",
                        host.name
                    ),
                );
            }
            if host.upload.as_ref().is_some_and(|u| u.read.is_some()) {
                return invalid(
                    at("upload.read"),
                    format!(
                        "host {:?} is a client: upload.read is for relays (servers with upload:)",
                        host.name
                    ),
                );
            }
            upload(s, i)?;
        }
    }
    files(s, i)
}

fn port_free(path: &str, port: u16) -> Result<(), Invalid> {
    match TAKEN_PORTS.iter().find(|(taken, _)| *taken == port) {
        Some((_, why)) => invalid(
            path,
            format!("port {port} cannot be used: {why}; choose another (1-65535)"),
        ),
        None => Ok(()),
    }
}

/// Files written into a host before it boots: each an absolute path to a file, normal components
/// only, once per host, with a mode of permission bits.
fn files(s: &Scenario, i: usize) -> Result<(), Invalid> {
    let mut seen = BTreeSet::new();
    for (f, file) in s.hosts[i].files.iter().enumerate() {
        let at = |field: &str| format!("hosts[{i}].files[{f}].{field}");
        if let Err(why) = file_path(&file.path) {
            return invalid(at("path"), format!("file path {:?}: {why}", file.path));
        }
        if !seen.insert(file.path.as_str()) {
            return invalid(
                at("path"),
                format!("file {:?} is given twice for this host", file.path),
            );
        }
        if let Err(why) = file_mode(file) {
            return invalid(at("mode"), why);
        }
    }
    Ok(())
}

/// A file's mode: octal permission bits, 3 or 4 digits (a setup's files are held to it at
/// their own line too).
pub(super) fn file_mode(file: &super::FileDef) -> Result<(), String> {
    let octal =
        (3..=4).contains(&file.mode.len()) && file.mode.bytes().all(|b| (b'0'..=b'7').contains(&b));
    if !octal || !matches!(u32::from_str_radix(&file.mode, 8), Ok(mode) if mode <= 0o7777) {
        return Err(format!(
            "file {:?}: mode {:?} must be octal permission bits, 0000 to 7777 (e.g. \"0644\")",
            file.path, file.mode
        ));
    }
    Ok(())
}

/// A mirrored certificate: a CN, names that parse, an RFC 3339 window in order, plain paths.
fn mirror_def(
    mirror: &crate::scenario::MirrorDef,
    at: &dyn Fn(&str) -> String,
) -> Result<(), Invalid> {
    let cn = &mirror.common_name;
    if cn.is_empty() || cn.len() > 64 || cn.chars().any(char::is_control) {
        return invalid(
            at("common_name"),
            format!("common name {cn:?}: 1 to 64 printable characters"),
        );
    }
    for (n, name) in mirror.names.iter().enumerate() {
        if let Err(e) = name.parse::<crate::pki::Alias>() {
            return invalid(at(&format!("names[{n}]")), e.to_string());
        }
    }
    let parse = |field: &str, value: &str| {
        time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339).map_err(
            |e| Invalid {
                path: at(field),
                message: format!(
                    "{value:?} is not an RFC 3339 time ({e}), e.g. 2026-01-31T12:00:00Z"
                ),
            },
        )
    };
    let (from, to) = (
        parse("not_before", &mirror.not_before)?,
        parse("not_after", &mirror.not_after)?,
    );
    if from >= to {
        return invalid(at("not_after"), "not_after must come after not_before");
    }
    if let Some(install) = &mirror.install {
        install_paths(install, at)?;
    }
    Ok(())
}

/// Where a host's configuration expects its certificate files: plain absolute file paths.
pub(super) fn install_paths(
    install: &crate::scenario::InstallPaths,
    at: &dyn Fn(&str) -> String,
) -> Result<(), Invalid> {
    for (field, path) in [
        ("install.cert", &install.cert),
        ("install.key", &install.key),
        ("install.ca", &install.ca),
    ] {
        if let Err(why) = file_path(path) {
            return invalid(at(field), format!("path {path:?}: {why}"));
        }
    }
    Ok(())
}

pub(super) fn file_path(path: &str) -> Result<(), &'static str> {
    if path.len() > MAX_PATH_BYTES || path.contains('\0') {
        return Err("must be a path of at most 4096 bytes without NUL");
    }
    if !path.starts_with('/') {
        return Err("must be absolute (start with /)");
    }
    if path.ends_with('/') {
        return Err("names a directory; give the file's path");
    }
    let components: Vec<Component> = Path::new(path).components().collect();
    let normal = components[1..]
        .iter()
        .all(|c| matches!(c, Component::Normal(_)));
    // `components()` drops `.` parts, so they are looked for in the text too.
    let dotted = path.split('/').any(|part| part == "." || part == "..");
    if !normal || dotted || components.len() < 2 || path.contains("//") {
        return Err("must be a plain absolute path (no `..`, `.` or empty parts)");
    }
    Ok(())
}

fn host_ref(name: &str, path: &str, names: &BTreeSet<&str>, context: &str) -> Result<(), Invalid> {
    if names.contains(name) {
        return Ok(());
    }
    invalid(
        path,
        format!(
            "{context} names host {name:?}, which is not in hosts (known: {})",
            names.iter().copied().collect::<Vec<_>>().join(", ")
        ),
    )
}

fn checks(s: &Scenario, names: &BTreeSet<&str>, phases: &BTreeSet<&str>) -> Result<(), Invalid> {
    // (id, host, phase) → the check that first asked for it.
    let mut asked: BTreeMap<(String, &str, &str), usize> = BTreeMap::new();
    for (i, check) in s.checks.iter().enumerate() {
        let context = format!("check {}", check.id);
        for (h, name) in check.hosts.iter().flatten().enumerate() {
            let path = format!("checks[{i}].hosts[{h}]");
            host_ref(name, &path, names, &context)?;
            let host = s.host(name).expect("just checked");
            if !check.id.applies_to(host.role) {
                return invalid(
                    path,
                    format!(
                        "check {} is about {} hosts, and {name:?} is a {}: list it on hosts it applies to",
                        check.id,
                        host.role.other().as_str(),
                        host.role.as_str()
                    ),
                );
            }
        }
        check_params(check, i)?;
        for (p, phase) in check.phases.iter().enumerate() {
            if !phases.contains(phase.as_str()) {
                return invalid(
                    format!("checks[{i}].phases[{p}]"),
                    format!(
                        "check {} is evaluated in phase {phase:?}, but no step says `do: evaluate, phase: {phase}` \
                         (phases: {})",
                        check.id,
                        phases.iter().copied().collect::<Vec<_>>().join(", ")
                    ),
                );
            }
        }
        let hosts: Vec<&str> = match &check.hosts {
            Some(list) => list.iter().map(String::as_str).collect(),
            None => s
                .hosts
                .iter()
                .filter(|h| check.id.applies_to(h.role))
                .map(|h| h.name.as_str())
                .collect(),
        };
        // A check that selects no host, or no phase, evaluates nothing: a gate that would pass
        // having checked nothing.
        if hosts.is_empty() {
            let (path, why) = match &check.hosts {
                Some(_) => (
                    format!("checks[{i}].hosts"),
                    "its `hosts:` list is empty".to_string(),
                ),
                None => (
                    format!("checks[{i}].id"),
                    format!(
                        "the scenario has no {} host",
                        check.id.entry().role.map_or("", |r| r.as_str())
                    ),
                ),
            };
            return invalid(
                path,
                format!("check {} would be evaluated on no host ({why}): name the hosts it is about, or remove it", check.id),
            );
        }
        if check.phases.is_empty() {
            return invalid(
                format!("checks[{i}].phases"),
                format!("check {} would be evaluated in no phase (`phases: []`): name a phase, or leave `phases:` out for the final one", check.id),
            );
        }
        for host in hosts {
            for phase in &check.phases {
                let key = (check.id.to_string(), host, phase.as_str());
                if let Some(first) = asked.insert(key, i) {
                    return invalid(
                        format!("checks[{i}].id"),
                        format!(
                            "check {} on {host} in phase {phase} is already asked for by checks[{first}]: \
                             list each check once per host and phase",
                            check.id
                        ),
                    );
                }
            }
        }
    }
    Ok(())
}

/// `^[a-z0-9][a-z0-9-]*$`, at most 63 characters: a DNS label the lab can also use in names.
pub fn is_host_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && name.len() <= 63
        && !name.ends_with('-')
}

fn is_package_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.len() >= 2
        && name.len() <= 100
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+.-".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_paths_are_plain_absolute_file_paths() {
        for good in ["/etc/x.conf", "/etc/systemd/system/a.service.d/x.conf"] {
            assert_eq!(file_path(good), Ok(()), "{good}");
        }
        for bad in [
            "/",
            "etc/x",
            "/etc/../../tmp/evil",
            "/../etc/x",
            "/etc/systemd/",
            "/etc//x",
            "/etc/./x",
            "/etc/x\0",
        ] {
            assert!(file_path(bad).is_err(), "{bad:?} accepted");
        }
        assert!(file_path(&format!("/{}", "a".repeat(5000))).is_err());
    }

    #[test]
    fn names_that_become_dns_labels_or_package_names() {
        assert!(is_host_name("client-1"));
        assert!(!is_host_name("client-") && !is_host_name("-a") && !is_host_name("A"));
        assert!(is_host_name(&"a".repeat(63)) && !is_host_name(&"a".repeat(64)));
        assert!(is_package_name("linux-base") && is_package_name("libstdc++6"));
        assert!(!is_package_name("a,b") && !is_package_name("$(x)") && !is_package_name("a"));
    }
}

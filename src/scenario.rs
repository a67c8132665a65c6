//! Scenario files: a topology, what to change, and what must be observed.
//!
//! A scenario states the *secure, intended* behaviour of a centralization setup; running it
//! reports what actually happened. This module is the format only (types, loading, validation,
//! JSON Schema): it knows nothing about Docker.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::checks::CheckId;
use crate::report::Role;

/// The CA every scenario has; more can be declared under `cas`.
pub const LAB_CA: &str = "lab";
/// `issuer: none` means the host gets no certificate at all.
pub const NO_ISSUER: &str = "none";
pub const DEFAULT_PORT: u16 = 19532;
/// Phase of checks evaluated at the end of a run (when no `evaluate` step names another).
pub const FINAL_PHASE: &str = "final";

/// A scenario file.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// What the scenario shows, for people reading reports.
    pub description: String,
    /// Debian release of every host unless a host says otherwise (default: bookworm).
    /// `cargo xtask run --release R` overrides it.
    #[serde(default)]
    pub release: Option<String>,
    /// Extra certificate authorities besides `lab` (e.g. a rogue CA).
    #[serde(default)]
    pub cas: Vec<String>,
    pub hosts: Vec<HostDef>,
    /// What happens after the hosts are configured, in order.
    #[serde(default)]
    pub steps: Vec<Step>,
    /// What must be observed.
    pub checks: Vec<CheckDef>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HostDef {
    /// Hostname, certificate CN and DNS name in the lab (`^[a-z0-9][a-z0-9-]*$`).
    pub name: String,
    pub role: Role,
    /// Overrides the scenario's release for this host.
    #[serde(default)]
    pub release: Option<String>,
    /// Extra Debian packages in this host's image (e.g. linux-base, docker.io).
    #[serde(default)]
    pub packages: Vec<String>,
    /// Extra DNS names for the host: subjectAltNames of its certificate, resolvable by the others.
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub certificate: CertificateDef,
    /// The CA this host trusts (its TrustedCertificateFile).
    #[serde(default = "lab_ca")]
    pub trusts: String,
    /// Server: the port journal-remote's socket listens on (a `ListenStream=` drop-in if not 19532).
    #[serde(default)]
    pub listen_port: Option<u16>,
    /// Client: where journal-upload sends (default: the only server, by name, on its port).
    #[serde(default)]
    pub upload: Option<UploadDef>,
    /// Client: send markers with curl instead of journal-upload (to probe the server with
    /// requests journal-upload cannot make, e.g. without a client certificate).
    #[serde(default)]
    pub sender: Sender,
    /// Client: whether journal-upload is configured and started at all.
    #[serde(default = "yes")]
    pub configure_upload: bool,
    /// Arbitrary files written before configuration (unit drop-ins, config files).
    #[serde(default)]
    pub files: Vec<FileDef>,
}

fn lab_ca() -> String {
    LAB_CA.to_string()
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Sender {
    #[default]
    JournalUpload,
    Curl,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CertificateDef {
    /// The CA that signs this host's certificate, or `none` for no certificate at all.
    #[serde(default = "lab_ca")]
    pub issuer: String,
    #[serde(default)]
    pub validity: Validity,
    /// Whether the certificate carries the host's name and aliases as subjectAltNames.
    #[serde(default = "yes")]
    pub sans: bool,
}

impl Default for CertificateDef {
    fn default() -> Self {
        CertificateDef {
            issuer: lab_ca(),
            validity: Validity::Valid,
            sans: true,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Validity {
    #[default]
    Valid,
    /// Expired yesterday.
    Expired,
    /// Valid from tomorrow.
    NotYetValid,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UploadDef {
    /// The server host to send to (default: the only server).
    #[serde(default)]
    pub server: Option<String>,
    /// How the URL names the server: `name`, `ip`, or one of the server's aliases.
    #[serde(default = "by_name")]
    pub via: String,
    /// Port in the URL (default: the server's listen port).
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub protocol: Protocol,
}

fn by_name() -> String {
    "name".to_string()
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    #[default]
    Https,
    Http,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Https => "https",
            Protocol::Http => "http",
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileDef {
    pub path: String,
    pub content: String,
    /// Octal mode, e.g. "0644".
    #[serde(default = "default_mode")]
    pub mode: String,
}

fn default_mode() -> String {
    "0644".to_string()
}

/// Which hosts a step applies to: `all`, `clients`, `servers`, or a list of names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Hosts {
    Group(HostGroup),
    Named(Vec<String>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum HostGroup {
    All,
    Clients,
    Servers,
}

impl Default for Hosts {
    fn default() -> Self {
        Hosts::Group(HostGroup::All)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum UnitAction {
    Start,
    Stop,
    Restart,
    Enable,
    EnableNow,
    Disable,
    Mask,
    Unmask,
}

impl UnitAction {
    /// The systemctl words for the action.
    pub fn systemctl(self) -> &'static str {
        match self {
            UnitAction::Start => "start",
            UnitAction::Stop => "stop",
            UnitAction::Restart => "restart",
            UnitAction::Enable => "enable",
            UnitAction::EnableNow => "enable --now",
            UnitAction::Disable => "disable",
            UnitAction::Mask => "mask",
            UnitAction::Unmask => "unmask",
        }
    }
}

/// A remediation the lab knows how to apply, by the public rule it comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Remediation {
    /// Datadog def-000-s9r "Disable systemd-journal-remote Socket": mask the socket, if the
    /// package `linux-base` is installed (the rule's applicability condition).
    DisableJournalRemoteSocket,
    /// CIS Docker 1.2.7: audit docker.socket (a watch rule on its FragmentPath, key `docker`).
    AuditDockerSocket,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "do", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Step {
    /// Log a unique marker on each host (clients by default) and wait for it where it should go.
    LogMarkers {
        #[serde(default = "clients")]
        hosts: Hosts,
    },
    /// Run a shell command on a host; the step fails if it exits non-zero unless `may_fail`.
    Run {
        host: String,
        command: String,
        #[serde(default)]
        may_fail: bool,
    },
    /// systemctl ACTION UNIT on the hosts.
    Unit {
        #[serde(default)]
        hosts: Hosts,
        action: UnitAction,
        unit: String,
    },
    /// Apply a named remediation (twice if `twice`, to show idempotence).
    Remediate {
        rule: Remediation,
        #[serde(default)]
        hosts: Hosts,
    },
    /// Restart a host's container (systemd boots again).
    Restart { host: String },
    /// Log `count` messages as fast as possible on each host and measure, per message, the time
    /// from logging to its arrival on the server (delivery latency and ingest rate).
    LogBurst {
        #[serde(default = "clients")]
        hosts: Hosts,
        count: u32,
    },
    /// Evaluate the checks that list this phase.
    Evaluate { phase: String },
}

fn clients() -> Hosts {
    Hosts::Group(HostGroup::Clients)
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckDef {
    pub id: CheckId,
    /// Hosts to evaluate it on (default: every host its role applies to).
    #[serde(default)]
    pub hosts: Option<Vec<String>>,
    /// Phases at which to evaluate it (default: `final`, after all steps).
    #[serde(default = "final_phase")]
    pub phases: Vec<String>,
}

fn final_phase() -> Vec<String> {
    vec![FINAL_PHASE.to_string()]
}

/// A problem in a scenario file, located in it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}:{column}: {message}", .file.display())]
pub struct ScenarioError {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl Scenario {
    /// Loads and validates a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
            file: path.to_path_buf(),
            line: 0,
            column: 0,
            message: format!("cannot read the file: {e}"),
        })?;
        Scenario::parse(path, &text)
    }

    /// Parses and validates scenario text; `file` is used in error messages only.
    pub fn parse(file: &Path, text: &str) -> Result<Scenario, ScenarioError> {
        let scenario: Scenario = yaml_serde::from_str(text).map_err(|e| {
            let (line, column) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
            ScenarioError {
                file: file.to_path_buf(),
                line,
                column,
                message: strip_location(&e.to_string()),
            }
        })?;
        scenario.validate().map_err(|(needle, message)| {
            let (line, column) = locate(text, &needle);
            ScenarioError {
                file: file.to_path_buf(),
                line,
                column,
                message,
            }
        })?;
        Ok(scenario)
    }

    pub fn host(&self, name: &str) -> Option<&HostDef> {
        self.hosts.iter().find(|h| h.name == name)
    }

    pub fn servers(&self) -> impl Iterator<Item = &HostDef> {
        self.hosts.iter().filter(|h| h.role == Role::Server)
    }

    /// The names a host selector stands for, in topology order.
    pub fn select(&self, hosts: &Hosts) -> Vec<String> {
        match hosts {
            Hosts::Group(group) => self
                .hosts
                .iter()
                .filter(|h| match group {
                    HostGroup::All => true,
                    HostGroup::Clients => h.role == Role::Client,
                    HostGroup::Servers => h.role == Role::Server,
                })
                .map(|h| h.name.clone())
                .collect(),
            Hosts::Named(names) => names.clone(),
        }
    }

    /// The server a client uploads to.
    pub fn server_of(&self, client: &HostDef) -> Option<&HostDef> {
        match client.upload.as_ref().and_then(|u| u.server.as_deref()) {
            Some(name) => self.host(name),
            None => self.servers().next(),
        }
    }

    /// Semantic checks serde cannot do. Errors carry a text to locate in the file.
    fn validate(&self) -> Result<(), (String, String)> {
        let mut names = BTreeSet::new();
        for host in &self.hosts {
            if !is_host_name(&host.name) {
                return Err((
                    host.name.clone(),
                    format!(
                        "host name {:?} must match ^[a-z0-9][a-z0-9-]*$ (it is also a DNS label)",
                        host.name
                    ),
                ));
            }
            if !names.insert(host.name.as_str()) {
                return Err((
                    host.name.clone(),
                    format!("host {:?} is defined twice", host.name),
                ));
            }
        }
        if self.servers().count() == 0 {
            return Err((
                "hosts".into(),
                "the topology needs at least one host with role: server".into(),
            ));
        }
        let known_cas: Vec<&str> = std::iter::once(LAB_CA)
            .chain(self.cas.iter().map(String::as_str))
            .collect();
        let host_ref = |name: &str, context: &str| -> Result<(), (String, String)> {
            if names.contains(name) {
                Ok(())
            } else {
                Err((
                    name.to_string(),
                    format!(
                        "{context} names host {name:?}, which is not in hosts (known: {})",
                        names.iter().copied().collect::<Vec<_>>().join(", ")
                    ),
                ))
            }
        };
        for host in &self.hosts {
            let issuer = host.certificate.issuer.as_str();
            if issuer != NO_ISSUER && !known_cas.contains(&issuer) {
                return Err((
                    issuer.to_string(),
                    format!(
                        "host {:?}: issuer {issuer:?} is not a CA of this scenario (known: {}, or none)",
                        host.name,
                        known_cas.join(", ")
                    ),
                ));
            }
            if !known_cas.contains(&host.trusts.as_str()) {
                return Err((
                    host.trusts.clone(),
                    format!(
                        "host {:?}: trusts {:?}, which is not a CA of this scenario",
                        host.name, host.trusts
                    ),
                ));
            }
            for alias in &host.aliases {
                if !is_host_name(alias) {
                    return Err((
                        alias.clone(),
                        format!("alias {alias:?} must be a DNS label"),
                    ));
                }
            }
            if host.role == Role::Server
                && (host.upload.is_some() || host.sender != Sender::JournalUpload)
            {
                return Err((
                    host.name.clone(),
                    format!(
                        "host {:?} is a server: upload and sender are for clients",
                        host.name
                    ),
                ));
            }
            if host.role == Role::Client && host.listen_port.is_some() {
                return Err((
                    host.name.clone(),
                    format!(
                        "host {:?} is a client: listen_port is for servers",
                        host.name
                    ),
                ));
            }
            if let Some(upload) = &host.upload {
                if let Some(server) = &upload.server {
                    host_ref(server, &format!("host {:?} upload.server", host.name))?;
                    if self.host(server).is_some_and(|s| s.role != Role::Server) {
                        return Err((
                            server.clone(),
                            format!("upload.server {server:?} is not a server"),
                        ));
                    }
                }
                let server = self.server_of(host).expect("a server exists");
                if upload.via != "name"
                    && upload.via != "ip"
                    && !server.aliases.contains(&upload.via)
                {
                    return Err((
                        upload.via.clone(),
                        format!(
                            "upload.via {:?}: write name, ip, or an alias of {} ({})",
                            upload.via,
                            server.name,
                            server.aliases.join(", ")
                        ),
                    ));
                }
            }
            for file in &host.files {
                if !file.path.starts_with('/') || u32::from_str_radix(&file.mode, 8).is_err() {
                    return Err((
                        file.path.clone(),
                        format!("file {:?}: path must be absolute and mode octal", file.path),
                    ));
                }
            }
        }
        let mut phases: BTreeSet<&str> = BTreeSet::from([FINAL_PHASE]);
        for step in &self.steps {
            match step {
                Step::LogMarkers { hosts }
                | Step::LogBurst { hosts, .. }
                | Step::Unit { hosts, .. }
                | Step::Remediate { hosts, .. } => {
                    if let Hosts::Named(list) = hosts {
                        for name in list {
                            host_ref(name, "a step")?;
                        }
                    }
                }
                Step::Run { host, .. } | Step::Restart { host } => host_ref(host, "a step")?,
                Step::Evaluate { phase } => {
                    phases.insert(phase);
                }
            }
        }
        for check in &self.checks {
            for name in check.hosts.iter().flatten() {
                host_ref(name, &format!("check {}", check.id))?;
            }
            for phase in &check.phases {
                if !phases.contains(phase.as_str()) {
                    return Err((
                        phase.clone(),
                        format!(
                            "check {} is evaluated in phase {phase:?}, but no step says `do: evaluate, phase: {phase}` \
                             (phases: {})",
                            check.id,
                            phases.iter().copied().collect::<Vec<_>>().join(", ")
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

fn is_host_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && name.len() <= 40
}

/// yaml_serde appends " at line L column C" to messages; the location is reported up front instead.
fn strip_location(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// Line and column (1-based) of the first occurrence of `needle` as a whole YAML scalar,
/// or of the first line if it does not occur.
fn locate(text: &str, needle: &str) -> (usize, usize) {
    for (index, line) in text.lines().enumerate() {
        let content = line.split(" #").next().unwrap_or(line);
        let mut from = 0;
        while let Some(pos) = content[from..].find(needle) {
            let start = from + pos;
            let end = start + needle.len();
            let before = content[..start].chars().last();
            let after = content[end..].chars().next();
            let delimiter = |c: Option<char>| c.is_none_or(|c| " \t:,[]{}\"'-".contains(c));
            if delimiter(before)
                && (after.is_none() || after.is_some_and(|c| " \t:,[]{}\"'#".contains(c)))
            {
                return (index + 1, start + 1);
            }
            from = end;
        }
    }
    (1, 1)
}

/// The JSON Schema of the scenario format (`cargo xtask scenario schema`).
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Scenario)).expect("the schema serializes")
}

/// Scenario files in a directory, sorted by name.
pub fn files_in(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    Ok(files)
}

/// A scenario's name: its file stem.
pub fn name_of(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;

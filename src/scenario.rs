//! Scenario files: a topology, what to change, and what must be observed.
//!
//! A scenario states the *secure, intended* behaviour of a centralization setup; running it
//! reports what actually happened. This module is the format only (types, loading, validation,
//! JSON Schema): it knows nothing about Docker.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::checks::CheckId;
use crate::domain::Role;

pub mod as_is;
pub mod builtin;
pub mod expect;
pub mod init;
pub mod limits;
pub mod selection;
pub mod setup;
mod source;
mod spans;
mod step;
mod upload;
mod validate;

pub use as_is::Base;
pub use upload::{Backlog, Protocol, ProxyDef, ProxyMode, RelayRead, UploadDef};

pub use step::*;

pub use limits::{MAX_DEPTH, MAX_FILE_BYTES};
pub use validate::is_host_name;

/// The CA every scenario has; more can be declared under `cas`.
pub const LAB_CA: &str = "lab";
/// `issuer: none` means the host gets no certificate at all.
pub const NO_ISSUER: &str = "none";
pub use crate::domain::DEFAULT_PORT;
/// The most clients one lab holds (each is a container with systemd; see the README's limits).
pub const MAX_CLIENTS: usize = 200;
/// The most servers one lab holds.
pub const MAX_SERVERS: usize = 8;
/// Phase of checks evaluated at the end of a run (when no `evaluate` step names another).
pub const FINAL_PHASE: &str = "final";

/// systemd's own complaints about the configuration are results of every run, on every host,
/// whatever the scenario lists: a typo'd key is otherwise silent (the program goes on with its
/// compiled-in default), and a scenario's own files, or the lab's drop-ins under `base: guide`,
/// can hold one as well as a user's.
fn lay_config_check(scenario: &mut Scenario) {
    let id = crate::checks::CheckId::CONFIG_PARSES_CLEANLY;
    if !scenario.checks.iter().any(|c| c.id == id) {
        scenario.checks.push(CheckDef {
            id,
            hosts: None,
            phases: vec![FINAL_PHASE.to_string()],
            params: BTreeMap::new(),
            line: 0,
        });
    }
}

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
    /// Whose configuration the journal units run with: `guide` (the default: the lab points
    /// them at its certificates, sets `URL=` and `Restart=always` with drop-ins of its own) or
    /// `as-is` (the hosts' files exactly as written; the lab only places certificates where they
    /// are read and resolves the names `URL=` uses).
    #[serde(default)]
    pub base: Base,
    pub hosts: Vec<HostDef>,
    /// What happens after the hosts are configured, in order.
    #[serde(default)]
    pub steps: Vec<Step>,
    /// What must be observed.
    pub checks: Vec<CheckDef>,
    /// The file it was read from, as given.
    #[serde(skip)]
    #[schemars(skip)]
    pub source: Option<PathBuf>,
    /// The setup laid over it (`--setup`): its results point at the user's files, not at a
    /// built-in scenario that is not in their repository.
    #[serde(skip)]
    #[schemars(skip)]
    pub setup: Option<PathBuf>,
    /// The setup's known failures about this scenario (`expect:` entries naming it).
    #[serde(skip)]
    #[schemars(skip)]
    pub expect: Vec<expect::Expectation>,
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
    /// Client: where journal-upload sends (default: the first server in `hosts`, by name, on its port).
    /// Server: makes it a relay, which forwards what it receives to `upload.server` with its own
    /// journal-upload (systemd#42285).
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
    /// Proxy: the server it forwards to and how (HAProxy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<ProxyDef>,
}

impl Scenario {
    /// Whether a `send` step posts to `host` (its port is then published on 127.0.0.1).
    pub fn is_send_target(&self, host: &str) -> bool {
        self.steps
            .iter()
            .any(|step| matches!(step, Step::Send { server, .. } if server == host))
    }
}

impl HostDef {
    /// Server: the port journal-remote's socket listens on.
    pub fn port(&self) -> u16 {
        self.listen_port.unwrap_or(DEFAULT_PORT)
    }

    /// Client: uploads its journal with journal-upload (not curl, not unconfigured). A relay
    /// uploads too: what it received.
    pub fn uploads_with_journal_upload(&self) -> bool {
        (self.role == Role::Client && self.configure_upload && self.sender == Sender::JournalUpload)
            || self.is_relay()
    }

    /// Proxy: the server it forwards to.
    pub fn proxied_server(&self) -> Option<&str> {
        self.proxy
            .as_ref()
            .filter(|_| self.role == Role::Proxy)
            .map(|p| p.server.as_str())
    }

    /// Server: forwards what it receives (it has an `upload:`).
    pub fn is_relay(&self) -> bool {
        self.role == Role::Server && self.upload.is_some()
    }
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
    /// Serves its journal with systemd-journal-gatewayd (HTTPS, port 19531) for its server to
    /// pull with `systemd-journal-remote --url` (active centralization).
    Gateway,
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
    /// A field certificate to mirror (written by `cargo xtask replay`): the lab CA issues one
    /// with this subject, these names, this validity window and this kind of key, instead of
    /// its defaults. `validity` and `sans` are then not used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror: Option<MirrorDef>,
    /// Where this host's own configuration expects its certificate, key and CA file: the lab
    /// installs copies there too (0640, as its own). A `--setup`'s `certificates:`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install: Option<InstallPaths>,
    /// A relay's journal-upload's paths as its own configuration reads them (`base: as-is`),
    /// where they are not journal-remote's: copies go there too.
    #[serde(skip)]
    #[schemars(skip)]
    pub upload_install: Option<InstallPaths>,
}

impl CertificateDef {
    /// Every place besides the lab's own where the host's configuration expects its
    /// certificate, key and CA: the setup's or the configuration's, else a mirrored field
    /// certificate's; then a relay's journal-upload's.
    pub fn installs(&self) -> impl Iterator<Item = &InstallPaths> {
        self.install
            .as_ref()
            .or(self.mirror.as_ref().and_then(|m| m.install.as_ref()))
            .into_iter()
            .chain(self.upload_install.as_ref())
    }
}

/// A certificate as the field had it, to be issued anew by the lab CA.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MirrorDef {
    pub common_name: String,
    /// subjectAltNames, `DNS:name` or `IP:address`, in order (may be empty).
    #[serde(default)]
    pub names: Vec<String>,
    /// RFC 3339.
    pub not_before: String,
    pub not_after: String,
    #[serde(default)]
    pub key: crate::pki::KeyKind,
    /// Where the field's configuration expects the certificate, its key and the CA file: the
    /// lab installs copies there too (0640, as its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install: Option<InstallPaths>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InstallPaths {
    pub cert: String,
    pub key: String,
    pub ca: String,
}

impl Default for CertificateDef {
    fn default() -> Self {
        CertificateDef {
            issuer: lab_ca(),
            validity: Validity::Valid,
            sans: true,
            mirror: None,
            install: None,
            upload_install: None,
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
pub struct FileDef {
    pub path: String,
    /// The file's text, inline. Give this or `source`.
    #[serde(default)]
    pub content: String,
    /// A file beside the scenario whose text becomes `content`: a relative path inside the
    /// scenario file's directory (no `..`, no links), read when the scenario is loaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Where a `source` was read from, as found (for reports: which of your files a host carried).
    #[serde(skip)]
    #[schemars(skip)]
    pub origin: Option<PathBuf>,
    /// Octal mode, e.g. "0644".
    #[serde(default = "default_mode")]
    pub mode: String,
}

fn default_mode() -> String {
    "0644".to_string()
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
    /// The check's parameters, where it takes any (e.g. `upload-restarts-at-most`'s `max`):
    /// whole numbers, each within the check's bound (docs/scenarios.md lists them).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, u64>,
    /// The line of the scenario file it is written on (for SARIF locations).
    #[serde(skip)]
    #[schemars(skip)]
    pub line: usize,
}

fn final_phase() -> Vec<String> {
    vec![FINAL_PHASE.to_string()]
}

/// A problem in a scenario file, located in it (line 0: the file as a whole, e.g. it cannot be
/// read; then no position is printed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}: {}", printable(&.file.display().to_string()), position(*.line, *.column), printable(.message))]
pub struct ScenarioError {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

use crate::domain::printable;

fn position(line: usize, column: usize) -> String {
    if line == 0 {
        String::new()
    } else {
        format!(":{line}:{column}")
    }
}

impl Scenario {
    /// Loads and validates a scenario file. Files come from pull requests: a file that is not a
    /// small regular text file, or nests too deep, is refused before it is parsed.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = limits::read_bounded(path).map_err(|message| ScenarioError {
            file: path.to_path_buf(),
            line: 0,
            column: 0,
            message,
        })?;
        Scenario::parse(path, &text)
    }

    /// Parses and validates scenario text; `file` names it in error messages, and its directory
    /// is where `source:` files are read from.
    pub fn parse(file: &Path, text: &str) -> Result<Scenario, ScenarioError> {
        let (mut scenario, spans) = parse_located::<Scenario>(
            file,
            text,
            "a scenario needs description, hosts and checks (see docs/scenarios.md)",
        )?;
        let error = |(line, column): (usize, usize), message: String| ScenarioError {
            file: file.to_path_buf(),
            line,
            column,
            message,
        };
        validate::validate(&scenario).map_err(|invalid| {
            error(
                spans.locate(&invalid.path),
                format!("{}: {}", invalid.path, invalid.message),
            )
        })?;
        for (i, host) in scenario.hosts.iter_mut().enumerate() {
            source::read_sources(file, &mut host.files, &format!("hosts[{i}]"), &spans)?;
        }
        for (i, check) in scenario.checks.iter_mut().enumerate() {
            check.line = spans.locate(&format!("checks[{i}]")).0;
        }
        lay_config_check(&mut scenario);
        if scenario.base == Base::AsIs {
            as_is::surround(&mut scenario, &|_| None).map_err(|refusal| match refusal.origin {
                Some(origin) => ScenarioError {
                    file: origin,
                    line: refusal.line,
                    column: 1,
                    message: refusal.message,
                },
                None => error(spans.locate("base"), refusal.message),
            })?;
            validate::validate(&scenario).map_err(|invalid| {
                error(
                    spans.locate("base"),
                    format!("under `base: as-is`: {}: {}", invalid.path, invalid.message),
                )
            })?;
        }
        scenario.source = Some(file.to_path_buf());
        Ok(scenario)
    }

    pub fn host(&self, name: &str) -> Option<&HostDef> {
        self.hosts.iter().find(|h| h.name == name)
    }

    pub fn servers(&self) -> impl Iterator<Item = &HostDef> {
        self.hosts.iter().filter(|h| h.role == Role::Server)
    }

    /// The servers where messages end: every server but the relays.
    pub fn destinations(&self) -> impl Iterator<Item = &HostDef> {
        self.servers().filter(|h| !h.is_relay())
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

    /// The server a client uploads to: the one it names, else the first server in `hosts`.
    pub fn server_of(&self, client: &HostDef) -> Option<&HostDef> {
        match client.upload.as_ref().and_then(|u| u.server.as_deref()) {
            Some(name) => self.host(name),
            None => self.servers().next(),
        }
    }

    /// Where a client's messages end: its server, or, through relays, the last server they
    /// are forwarded to (validated: relays form no loop).
    pub fn destination_of(&self, client: &HostDef) -> Option<&HostDef> {
        self.route_of(client).last().copied()
    }

    /// The hosts a client's messages pass through, in order: its server (or proxy), then each
    /// proxy's server and each relay's.
    pub fn route_of(&self, client: &HostDef) -> Vec<&HostDef> {
        let mut route: Vec<&HostDef> = Vec::new();
        let mut next = self.server_of(client);
        while let Some(server) = next {
            if route.iter().any(|h| h.name == server.name) {
                break;
            }
            route.push(server);
            next = match server.proxied_server() {
                Some(name) => self.host(name),
                None => server.is_relay().then(|| self.server_of(server)).flatten(),
            };
        }
        route
    }
}

/// Reads YAML text as a `T` the way every file the lab takes from users is read: bounded before
/// the parser sees it (size, depth, alias expansion), repeated keys refused, and every error
/// located at file:line:col. Returns the value and where each of its nodes is.
pub(crate) fn parse_located<T: serde::de::DeserializeOwned>(
    file: &Path,
    text: &str,
    needs: &str,
) -> Result<(T, spans::Spans), ScenarioError> {
    let error = |(line, column): (usize, usize), message: String| ScenarioError {
        file: file.to_path_buf(),
        line,
        column,
        message,
    };
    // A UTF-8 byte order mark is not YAML: without it, the file reads as its author meant.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // Within the bounds (size, nesting, what aliases expand to) before serde expands anything;
    // positions for what serde reports without one, and for semantic errors.
    let spans = limits::check(text).map_err(|b| error((b.line, b.column), b.message))?;
    let parsed = yaml_serde::from_str::<T>(text);
    if let Some((key, at)) = &spans.duplicate_key {
        return Err(error(
            *at,
            format!("{key}: this key is given twice in the same mapping; keep one"),
        ));
    }
    let value = parsed.map_err(|e| {
        let message = strip_location(&e.to_string());
        if text.trim().is_empty() {
            return error((1, 1), format!("the file is empty: {needs}"));
        }
        // Broken syntax can surface in serde as a type error further on (an unclosed `{`
        // swallows the next line into a value): the syntax error is the one to show.
        if let Some((at, info)) = &spans.syntax_error {
            let index = text_index(text, *at);
            if let Some(open) = limits::unclosed_bracket(text, index) {
                return error(
                    open,
                    format!(
                        "this bracket is never closed (the YAML parser stops at line {}: {info})",
                        at.0
                    ),
                );
            }
            return error(*at, format!("YAML syntax: {info}"));
        }
        if message.contains("repetition limit exceeded") {
            return error(
                spans.first_alias.unwrap_or((1, 1)),
                "YAML aliases (*name) here expand to more than the parser allows; \
                 write the repeated parts out instead of nesting aliases"
                    .to_string(),
            );
        }
        let at = e.location().map_or((1, 1), |l| (l.line(), l.column()));
        error(at, message)
    })?;
    Ok((value, spans))
}

/// The byte offset of a 1-based (line, column) in `text`.
fn text_index(text: &str, (line, column): (usize, usize)) -> usize {
    text.split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum::<usize>()
        + column.saturating_sub(1)
}

/// yaml_serde appends " at line L column C" to messages; the location is reported up front instead.
fn strip_location(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
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

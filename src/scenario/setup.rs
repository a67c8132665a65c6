//! A setup: a team's own centralization configuration (the files its servers and clients carry,
//! the names its clients use for the server, where its certificates live), laid over the
//! built-in suites by `run --setup DIR`, so "does OUR configuration survive an outage, refuse a
//! rogue client, seal its journals" is one command. `init` writes a commented starting one.
//!
//! A setup is hostile input like a scenario (it comes from pull requests): read with the same
//! bounds, its `source:` files with the same rules, every error at file:line:col.

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{parse_located, FileDef, InstallPaths, Scenario, ScenarioError};
use crate::domain::Role;

/// The file `run --setup DIR` reads in DIR.
pub const SETUP_FILE: &str = "setup.yaml";

/// The built-in suites a setup is laid over by default: delivery, certificate rejection, port
/// change, outage, partition, restart, burst and sealing (and on every one, the profile).
pub const SUITES: &[&str] = &[
    "passive-https",
    "cert-rejection",
    "port-change",
    "server-outage",
    "network-partition",
    "client-restart",
    "burst",
    "fss-sealing",
];

/// `setup.yaml`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Setup {
    /// What the setup is, for people reading reports.
    #[serde(default)]
    pub description: Option<String>,
    /// `as-is` (the default): your files exactly as they ship, nothing of the lab's laid into
    /// them; `guide`: the lab's own drop-ins over them, as the seed scenarios have (see
    /// docs/scenarios.md).
    #[serde(default = "as_is")]
    pub base: super::Base,
    /// What every server carries.
    #[serde(default)]
    pub server: RoleSetup,
    /// What every client carries.
    #[serde(default)]
    pub client: RoleSetup,
    /// Built-in suites to run it through when no scenario is named (default: all of [`SUITES`]).
    #[serde(default)]
    pub suites: Option<Vec<String>>,
    /// Known failures: results reported as known (with their reason) that do not fail the run.
    #[serde(default)]
    pub expect: Vec<super::expect::Expectation>,
    /// The file it was read from.
    #[serde(skip)]
    #[schemars(skip)]
    pub file: PathBuf,
}

/// What one role's hosts carry.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleSetup {
    /// Files (`path` + `source:` beside setup.yaml, or inline `content`): a file the scenario
    /// also writes at the same path is replaced by yours.
    #[serde(default)]
    pub files: Vec<FileDef>,
    /// Servers: the names your clients' configuration uses for the server (subjectAltNames of
    /// its certificate, resolvable in the lab).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Where your configuration expects the host's certificate, key and CA file: the lab's are
    /// installed there too (0640).
    #[serde(default)]
    pub certificates: Option<InstallPaths>,
}

fn as_is() -> super::Base {
    super::Base::AsIs
}

impl Setup {
    /// Reads `DIR/setup.yaml` (or a setup file named directly).
    pub fn load(dir_or_file: &Path) -> Result<Setup, ScenarioError> {
        let file = if dir_or_file.is_dir() {
            dir_or_file.join(SETUP_FILE)
        } else {
            dir_or_file.to_path_buf()
        };
        let text = super::limits::read_bounded(&file).map_err(|message| ScenarioError {
            file: file.clone(),
            line: 0,
            column: 0,
            message: if dir_or_file.is_dir() && !file.exists() {
                format!("{message} (a setup directory holds {SETUP_FILE}; `journal-lab init DIR` writes one)")
            } else {
                message
            },
        })?;
        Setup::parse(&file, &text)
    }

    pub fn parse(file: &Path, text: &str) -> Result<Setup, ScenarioError> {
        let (mut setup, spans) = parse_located::<Setup>(
            file,
            text,
            "a setup names the files of `server` and `client` (see `journal-lab init`)",
        )?;
        let located = |path: String, message: String| {
            let (line, column) = spans.locate(&path);
            ScenarioError {
                file: file.to_path_buf(),
                line,
                column,
                message: format!("{path}: {message}"),
            }
        };
        for (role, part) in [("server", &setup.server), ("client", &setup.client)] {
            let mut seen = std::collections::BTreeSet::new();
            for (f, def) in part.files.iter().enumerate() {
                let at = |field: &str| format!("{role}.files[{f}].{field}");
                if let Err(why) = super::validate::file_path(&def.path) {
                    return Err(located(
                        at("path"),
                        format!("file path {:?}: {why}", def.path),
                    ));
                }
                if !seen.insert(def.path.as_str()) {
                    return Err(located(
                        at("path"),
                        format!("file {:?} is named twice for the {role}s", def.path),
                    ));
                }
                if let Err(why) = super::validate::file_mode(def) {
                    return Err(located(at("mode"), why));
                }
                if def.source.is_none() && def.content.is_empty() {
                    return Err(located(
                        at("source"),
                        format!("file {:?}: give its `source:` (a file beside {SETUP_FILE}) or its `content:`", def.path),
                    ));
                }
            }
            if let Some(install) = &part.certificates {
                super::validate::install_paths(install, &|field| {
                    format!(
                        "{role}.certificates.{}",
                        field.trim_start_matches("install.")
                    )
                })
                .map_err(|invalid| located(invalid.path, invalid.message))?;
            }
            for (a, alias) in part.aliases.iter().enumerate() {
                if !crate::pki::is_valid_name(alias)
                    || alias.chars().any(|c| c.is_ascii_uppercase())
                {
                    return Err(located(
                        format!("{role}.aliases[{a}]"),
                        format!("alias {alias:?} must be a DNS name in lower case (labels of a-z, 0-9 and -, separated by dots)"),
                    ));
                }
            }
        }
        if let Some(suites) = &setup.suites {
            for (n, suite) in suites.iter().enumerate() {
                if super::builtin::load(suite).is_none() {
                    return Err(located(
                        format!("suites[{n}]"),
                        format!(
                            "no built-in suite {suite:?}; the built-in scenarios are: {}",
                            super::builtin::names().join(", ")
                        ),
                    ));
                }
            }
        }
        // A setup that lays nothing over the suites, or names no suite, tests nothing of the
        // team's: it would pass having checked nothing of theirs.
        let carries_nothing = [&setup.server, &setup.client]
            .iter()
            .all(|p| p.files.is_empty() && p.aliases.is_empty() && p.certificates.is_none());
        if carries_nothing {
            return Err(ScenarioError {
                file: file.to_path_buf(),
                line: 1,
                column: 1,
                message: "the setup names no file, alias or certificate path of yours: it would run the \
                          built-in suites and test nothing of your configuration (see `journal-lab init`)"
                    .into(),
            });
        }
        if setup.suites.as_ref().is_some_and(Vec::is_empty) {
            return Err(located(
                "suites".into(),
                "`suites: []` runs nothing: name the suites, or leave `suites:` out for the default ones".into(),
            ));
        }
        super::source::read_sources(file, &mut setup.server.files, "server", &spans)?;
        super::source::read_sources(file, &mut setup.client.files, "client", &spans)?;
        setup.file = file.to_path_buf();
        // Each expectation is about something its suite evaluates, with this setup laid over it.
        for (n, expectation) in setup.expect.iter().enumerate() {
            if expectation.reason.trim().is_empty() {
                return Err(located(
                    format!("expect[{n}].reason"),
                    "say why it is known (`reason:`): the report shows it beside the result".into(),
                ));
            }
            let Some(Ok(suite)) = super::builtin::load(&expectation.suite) else {
                return Err(located(
                    format!("expect[{n}].suite"),
                    format!(
                        "no built-in suite {:?}; the built-in scenarios are: {}",
                        expectation.suite,
                        super::builtin::names().join(", ")
                    ),
                ));
            };
            let laid = setup.lay_over(&suite)?;
            if let Some(why) = super::expect::stale(expectation, &laid) {
                let field = if expectation.host.is_some() {
                    "host"
                } else {
                    "check"
                };
                return Err(located(format!("expect[{n}].{field}"), why));
            }
        }
        Ok(setup)
    }

    /// The suites `run --setup` runs when no scenario is named.
    pub fn suites(&self) -> Vec<String> {
        match &self.suites {
            Some(suites) => suites.clone(),
            None => SUITES.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// `scenario` with this setup laid over it: every host of a role carries that role's files
    /// (replacing the scenario's at the same path), the first server gets the aliases, and certificates
    /// are also installed where the setup says. Hosts that probe with curl or do not upload
    /// still carry the files: they are the team's hosts too.
    pub fn lay_over(&self, scenario: &Scenario) -> Result<Scenario, ScenarioError> {
        let mut laid = scenario.clone();
        // A name resolves to one host: the aliases go to the first server, the one clients
        // upload to unless they name another.
        let first_server = scenario.servers().next().map(|s| s.name.clone());
        for host in &mut laid.hosts {
            let part = match host.role {
                Role::Server => &self.server,
                Role::Client => &self.client,
                Role::Proxy => continue,
            };
            for file in &part.files {
                host.files.retain(|f| f.path != file.path);
                host.files.push(file.clone());
            }
            let first = Some(&host.name) == first_server.as_ref();
            for alias in part.aliases.iter().filter(|_| first) {
                if !host.aliases.contains(alias) {
                    host.aliases.push(alias.clone());
                }
            }
            if part.certificates.is_some() {
                host.certificate.install = part.certificates.clone();
            }
        }
        laid.base = self.base;
        laid.setup = Some(self.file.clone());
        // The suite a scenario is: the name of the file it came from.
        let suite = scenario.source.as_deref().map(super::name_of);
        laid.expect = self
            .expect
            .iter()
            .filter(|e| suite.as_deref() == Some(e.suite.as_str()))
            .cloned()
            .collect();
        if self.base == super::Base::AsIs {
            let deployed = |role: Role| match role {
                Role::Server => self.server.certificates.clone(),
                Role::Client => self.client.certificates.clone(),
                Role::Proxy => None,
            };
            super::as_is::surround(&mut laid, &deployed).map_err(|refusal| ScenarioError {
                file: refusal.origin.unwrap_or_else(|| self.file.clone()),
                line: refusal.line,
                column: 1,
                message: refusal.message,
            })?;
        }
        if let Some(description) = &self.description {
            laid.description = format!(
                "{} With the setup: {description}",
                laid.description.trim_end()
            );
        }
        super::validate::validate(&laid).map_err(|invalid| ScenarioError {
            file: self.file.clone(),
            line: 0,
            column: 0,
            message: format!(
                "laid over {}: {}: {}",
                scenario
                    .source
                    .as_deref()
                    .map_or("the scenario".into(), |p| p.display().to_string()),
                invalid.path,
                invalid.message
            ),
        })?;
        Ok(laid)
    }
}

#[cfg(test)]
mod tests;

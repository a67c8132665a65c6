//! The engines one lab spreads over: what the user names (`--engine NAME=URL[,key=value…]`,
//! repeatable, or an `engines:` file), each engine's limits and the address the others reach
//! its published ports at, and where each host goes ([`place`]). Pure: connecting is the
//! engine module's, booting the lab's.

use std::net::IpAddr;
use std::path::Path;

use serde::Deserialize;

use crate::domain::{engine_url, Role};
use crate::errors::{Error, Result};

/// The name of the one engine of a lab that names none (DOCKER_HOST, or the local socket).
pub const DEFAULT_ENGINE: &str = "default";

/// The memory a client host's container may use ([`super::HOST_MEMORY_LIMIT`]): what a
/// `memory=` limit is divided by.
const CLIENT_MEMORY: u64 = super::HOST_MEMORY_LIMIT as u64;

/// One engine: its name in the lab (and in reports), how to reach it, and its limits.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineSpec {
    pub name: String,
    /// `unix:///path/to/docker.sock` (also a socket forwarded over SSH) or `tcp://HOST:PORT`.
    pub url: String,
    /// The address of this engine's machine that the other engines' hosts can route to. A
    /// server here whose clients are elsewhere publishes its port on it (and its certificate
    /// carries it). Never 0.0.0.0 unless named.
    #[serde(default)]
    pub address: Option<IpAddr>,
    /// At most this many hosts here.
    #[serde(default)]
    pub hosts: Option<usize>,
    /// At most this much host memory here (`8GiB`, `512MiB`, or bytes): hosts count at their
    /// container limit.
    #[serde(default, deserialize_with = "memory_size")]
    pub memory: Option<u64>,
    /// The inotify instances the engine's machine gives root (`fs.inotify.max_user_instances`).
    #[serde(default)]
    pub inotify: Option<u64>,
}

impl EngineSpec {
    /// The engine DOCKER_HOST names (or the local default socket), as every single-engine lab uses.
    pub fn from_environment() -> EngineSpec {
        EngineSpec {
            name: DEFAULT_ENGINE.to_string(),
            url: std::env::var("DOCKER_HOST")
                .unwrap_or_else(|_| "unix:///var/run/docker.sock".to_string()),
            address: None,
            hosts: None,
            memory: None,
            inotify: None,
        }
    }

    /// An engine by name and URL, no limits, no address (as a lab's label names it).
    pub fn named(name: &str, url: &str) -> EngineSpec {
        EngineSpec {
            name: name.to_string(),
            url: url.to_string(),
            address: None,
            hosts: None,
            memory: None,
            inotify: None,
        }
    }

    /// The most hosts its limits allow (None: no limit named).
    fn capacity(&self) -> Option<usize> {
        let by_memory = self.memory.map(|m| (m / CLIENT_MEMORY) as usize);
        let by_inotify = self.inotify.map(|i| {
            (i.saturating_sub(super::host_limits::INOTIFY_RESERVE)
                / super::host_limits::INOTIFY_PER_HOST) as usize
        });
        [self.hosts, by_memory, by_inotify]
            .into_iter()
            .flatten()
            .min()
    }
}

impl std::str::FromStr for EngineSpec {
    type Err = String;

    /// `NAME=URL[,address=IP][,hosts=N][,memory=SIZE][,inotify=N]`.
    fn from_str(given: &str) -> std::result::Result<EngineSpec, String> {
        // Messages quote what was given, its credentials hidden.
        let shown = given
            .split_once('=')
            .map(|(name, rest)| {
                let url = rest.split(',').next().unwrap_or_default();
                format!("{name}={}", engine_url::hide_in(rest, url))
            })
            .unwrap_or_else(|| given.to_string());
        let text = shown.as_str();
        let usage = "use NAME=URL[,address=IP][,hosts=N][,memory=SIZE][,inotify=N], e.g. \
                     b=unix:///run/b.sock,address=10.0.0.2";
        let (name, rest) = given
            .split_once('=')
            .ok_or_else(|| format!("{text:?} names no URL: {usage}"))?;
        let mut parts = rest.split(',');
        let url = parts.next().unwrap_or_default().to_string();
        let mut spec = EngineSpec {
            name: name.to_string(),
            url,
            address: None,
            hosts: None,
            memory: None,
            inotify: None,
        };
        for part in parts {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| format!("{part:?} in {text:?} is not key=value: {usage}"))?;
            let bad = |what: &str| format!("{key}={value:?} in {text:?}: {what}");
            match key {
                "address" => {
                    spec.address = Some(value.parse().map_err(|_| bad("not an IP address"))?)
                }
                "hosts" => spec.hosts = Some(value.parse().map_err(|_| bad("not a number"))?),
                "inotify" => spec.inotify = Some(value.parse().map_err(|_| bad("not a number"))?),
                "memory" => spec.memory = Some(parse_size(value).map_err(|e| bad(&e))?),
                _ => return Err(format!("unknown key {key:?} in {text:?}: {usage}")),
            }
        }
        validate(&spec)?;
        Ok(spec)
    }
}

/// A name that reads well in reports and labels, a URL the lab can speak to, limits above 0.
fn validate(spec: &EngineSpec) -> std::result::Result<(), String> {
    let name = &spec.name;
    let name_ok = !name.is_empty()
        && name.len() <= 32
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-');
    if !name_ok {
        return Err(format!(
            "engine name {name:?}: use 1-32 lowercase letters, digits and dashes"
        ));
    }
    let scheme_ok = ["unix:///", "tcp://", "http://"]
        .iter()
        .any(|scheme| spec.url.starts_with(scheme) && spec.url.len() > scheme.len());
    if !scheme_ok {
        return Err(format!(
            "engine {name}: URL {:?} is not unix:///PATH or tcp://HOST:PORT (for an engine on \
             another machine, forward its socket over SSH: \
             `ssh -nNT -L /tmp/{name}.sock:/var/run/docker.sock MACHINE`, then {name}=unix:///tmp/{name}.sock)",
            engine_url::shown(&spec.url)
        ));
    }
    // An IPv4 address written as IPv6 (`::ffff:127.0.0.1`) is the IPv4 one.
    let loopback = |a: IpAddr| match a {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map_or(v6.is_loopback(), |v4| v4.is_loopback()),
        IpAddr::V4(v4) => v4.is_loopback(),
    };
    if spec.address.is_some_and(loopback) {
        return Err(format!(
            "engine {name}: address {} is a loopback address, which no other engine's host can reach",
            spec.address.expect("checked")
        ));
    }
    if spec.hosts == Some(0) || spec.capacity() == Some(0) {
        return Err(format!("engine {name}: its limits leave room for no host"));
    }
    Ok(())
}

/// `8GiB`, `512MiB`, `2G`, `1048576`: bytes.
fn parse_size(text: &str) -> std::result::Result<u64, String> {
    let digits: String = text.chars().take_while(|c| c.is_ascii_digit()).collect();
    let number: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a size like 8GiB"))?;
    let unit = match text[digits.len()..].trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" | "kb" => 1 << 10,
        "m" | "mib" | "mb" => 1 << 20,
        "g" | "gib" | "gb" => 1 << 30,
        "t" | "tib" | "tb" => 1 << 40,
        other => {
            return Err(format!(
                "unknown unit {other:?} in {text:?}: use KiB, MiB or GiB"
            ))
        }
    };
    number
        .checked_mul(unit)
        .ok_or_else(|| format!("{text:?} is too large"))
}

fn memory_size<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Size {
        Bytes(u64),
        Text(String),
    }
    match Option::<Size>::deserialize(deserializer)? {
        None => Ok(None),
        Some(Size::Bytes(b)) => Ok(Some(b)),
        Some(Size::Text(t)) => parse_size(&t).map(Some).map_err(serde::de::Error::custom),
    }
}

/// The engines of a lab, the first the primary (images are built there; servers go there
/// unless `servers_on` names another).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fleet {
    engines: Vec<EngineSpec>,
    servers_on: usize,
}

impl Default for Fleet {
    fn default() -> Fleet {
        Fleet {
            engines: vec![EngineSpec::from_environment()],
            servers_on: 0,
        }
    }
}

/// The fleet the command line chose, for every command of this process.
static CHOSEN: std::sync::OnceLock<Fleet> = std::sync::OnceLock::new();

/// The engines the command line named (`--engine`, `--engines`, `--servers-on`): set once, by
/// the CLI, before any command runs, so that every command (a run, `ls`, `down`, `clean`)
/// covers them. A later call changes nothing.
pub fn choose(fleet: Fleet) {
    let _ = CHOSEN.set(fleet);
}

/// An `engines:` file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FleetFile {
    engines: Vec<EngineSpec>,
    #[serde(default)]
    servers_on: Option<String>,
}

impl Fleet {
    /// The engines named (none: the one DOCKER_HOST names), servers on `servers_on` or the first.
    pub fn new(engines: Vec<EngineSpec>, servers_on: Option<&str>) -> Result<Fleet> {
        if engines.is_empty() {
            return match servers_on {
                None => Ok(Fleet::default()),
                Some(name) => Err(Error::InvalidSettings(format!(
                    "--servers-on {name}: no engine is named (add --engine {name}=URL)"
                ))),
            };
        }
        for spec in &engines {
            validate(spec).map_err(Error::InvalidSettings)?;
        }
        for (i, spec) in engines.iter().enumerate() {
            if let Some(twin) = engines[..i].iter().find(|e| e.name == spec.name) {
                return Err(Error::InvalidSettings(format!(
                    "engine {} is named twice ({} and {})",
                    spec.name,
                    engine_url::shown(&twin.url),
                    engine_url::shown(&spec.url)
                )));
            }
            let same = engine_url::identity(&spec.url);
            if let Some(twin) = engines[..i]
                .iter()
                .find(|e| engine_url::identity(&e.url) == same)
            {
                return Err(Error::InvalidSettings(format!(
                    "engines {} and {} are the same engine ({} and {}): a lab's engines must differ",
                    twin.name,
                    spec.name,
                    engine_url::shown(&twin.url),
                    engine_url::shown(&spec.url)
                )));
            }
        }
        let servers_on = match servers_on {
            None => 0,
            Some(name) => engines.iter().position(|e| e.name == name).ok_or_else(|| {
                Error::InvalidSettings(format!(
                    "--servers-on {name}: no such engine (the lab's: {})",
                    names(&engines)
                ))
            })?,
        };
        Ok(Fleet {
            engines,
            servers_on,
        })
    }

    /// An `engines:` file (YAML: `engines: [{name, url, address, hosts, memory, inotify}]`,
    /// `servers_on: NAME`), read as hostile input like a scenario.
    pub fn load(path: &Path) -> Result<Fleet> {
        let text = crate::scenario::limits::read_bounded(path)
            .map_err(|message| Error::InvalidSettings(format!("{}: {message}", path.display())))?;
        Fleet::parse(path, &text)
    }

    /// An `engines:` file's text (`path` names it in errors), bounded like a scenario.
    pub fn parse(path: &Path, text: &str) -> Result<Fleet> {
        let bad =
            |message: String| Error::InvalidSettings(format!("{}: {message}", path.display()));
        crate::scenario::limits::check(text).map_err(|broken| {
            bad(format!(
                "line {}, column {}: {}",
                broken.line, broken.column, broken.message
            ))
        })?;
        let file: FleetFile = yaml_serde::from_str(text).map_err(|e| bad(e.to_string()))?;
        if file.engines.is_empty() {
            return Err(bad("`engines:` names no engine".into()));
        }
        Fleet::new(file.engines, file.servers_on.as_deref()).map_err(|e| bad(e.to_string()))
    }

    /// What the command line chose ([`choose`]), or DOCKER_HOST's engine alone.
    pub fn chosen() -> Fleet {
        CHOSEN.get().cloned().unwrap_or_default()
    }

    pub fn engines(&self) -> &[EngineSpec] {
        &self.engines
    }

    /// More than one engine.
    pub fn is_spread(&self) -> bool {
        self.engines.len() > 1
    }

    /// Where servers go.
    pub fn servers_on(&self) -> usize {
        self.servers_on
    }
}

fn names(engines: &[EngineSpec]) -> String {
    engines
        .iter()
        .map(|e| e.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Which engine each host goes on (an index into `fleet.engines()`, per host in order):
/// servers on the servers' engine, then each client on the engine holding the fewest hosts
/// that has room (ties: the first named). An error, before anything boots, if they do not fit.
pub fn place(roles: &[Role], fleet: &Fleet) -> Result<Vec<usize>> {
    let engines = fleet.engines();
    let mut held = vec![0usize; engines.len()];
    let room = |held: &[usize], i: usize| engines[i].capacity().is_none_or(|cap| held[i] < cap);
    let mut placement = vec![0usize; roles.len()];
    for (host, role) in roles.iter().enumerate() {
        if *role != Role::Client {
            let i = fleet.servers_on;
            if !room(&held, i) {
                return Err(not_fitting(roles, engines));
            }
            placement[host] = i;
            held[i] += 1;
        }
    }
    for (host, role) in roles.iter().enumerate() {
        if *role == Role::Client {
            let i = (0..engines.len())
                .filter(|&i| room(&held, i))
                .min_by_key(|&i| held[i])
                .ok_or_else(|| not_fitting(roles, engines))?;
            placement[host] = i;
            held[i] += 1;
        }
    }
    Ok(placement)
}

fn not_fitting(roles: &[Role], engines: &[EngineSpec]) -> Error {
    let limits: Vec<String> = engines
        .iter()
        .map(|e| match e.capacity() {
            Some(cap) => format!("{} holds at most {cap}", e.name),
            None => format!("{} has no limit", e.name),
        })
        .collect();
    Error::InvalidSettings(format!(
        "{} hosts do not fit on the lab's engines ({}): add an engine (--engine NAME=URL) or raise a limit",
        roles.len(),
        limits.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(text: &str) -> EngineSpec {
        text.parse().expect("valid engine")
    }

    #[test]
    fn an_engine_is_a_name_a_url_and_optional_limits() {
        let b = spec("b=unix:///run/b.sock,address=10.0.0.2,hosts=80,memory=8GiB,inotify=1024");
        assert_eq!(b.name, "b");
        assert_eq!(b.url, "unix:///run/b.sock");
        assert_eq!(b.address, Some("10.0.0.2".parse().unwrap()));
        assert_eq!(b.hosts, Some(80));
        assert_eq!(b.memory, Some(8 << 30));
        // inotify 1024: (1024 - 8) / 7 = 145 hosts; memory 8 GiB / 256 MiB = 32 hosts.
        assert_eq!(b.capacity(), Some(32));
        assert_eq!(spec("a=tcp://10.0.0.1:2375").capacity(), None);
    }

    #[test]
    fn a_bad_engine_says_what_is_wrong_and_how_to_write_it() {
        for (text, says) in [
            ("b", "names no URL"),
            ("b=ssh://machine", "forward its socket over SSH"),
            ("B=unix:///x", "lowercase"),
            ("b=unix:///x,address=here", "not an IP address"),
            ("b=unix:///x,address=127.0.0.1", "loopback"),
            ("b=unix:///x,hosts=0", "room for no host"),
            ("b=unix:///x,memory=8 parsecs", "unknown unit"),
            ("b=unix:///x,colour=blue", "unknown key \"colour\""),
            ("b=unix:///x,hosts", "not key=value"),
        ] {
            let error = text.parse::<EngineSpec>().expect_err(text);
            assert!(error.contains(says), "{text}: {error}");
        }
    }

    #[test]
    fn a_fleet_refuses_twins_and_an_unknown_servers_engine() {
        let a = spec("a=unix:///a.sock");
        let a_again = spec("a=unix:///other.sock");
        let same_url = spec("b=unix:///a.sock");
        let error = |r: Result<Fleet>| r.expect_err("refused").to_string();
        assert!(error(Fleet::new(vec![a.clone(), a_again], None)).contains("named twice"));
        assert!(error(Fleet::new(vec![a.clone(), same_url], None)).contains("same engine"));
        assert!(error(Fleet::new(vec![a.clone()], Some("z"))).contains("no such engine"));
        assert!(error(Fleet::new(vec![], Some("z"))).contains("no engine is named"));
        assert_eq!(Fleet::new(vec![], None).unwrap(), Fleet::default());
    }

    #[test]
    fn servers_go_first_where_named_and_clients_to_the_emptiest_engine() {
        let fleet = Fleet::new(
            vec![spec("a=unix:///a.sock"), spec("b=unix:///b.sock")],
            Some("b"),
        )
        .unwrap();
        let roles = [Role::Server, Role::Client, Role::Client, Role::Client];
        // The server on b; client1 to a (empty), client2 to b... ties go to the first named.
        assert_eq!(place(&roles, &fleet).unwrap(), vec![1, 0, 0, 1]);
        let default = Fleet::new(
            vec![spec("a=unix:///a.sock"), spec("b=unix:///b.sock")],
            None,
        )
        .unwrap();
        // With the server on a, the first client goes to b: server and client on different engines.
        assert_eq!(place(&roles, &default).unwrap(), vec![0, 1, 0, 1]);
    }

    #[test]
    fn limits_are_honoured_and_a_lab_that_does_not_fit_is_refused_before_boot() {
        let fleet = Fleet::new(
            vec![spec("a=unix:///a.sock,hosts=2"), spec("b=unix:///b.sock")],
            None,
        )
        .unwrap();
        let mut roles = vec![Role::Server];
        roles.extend(std::iter::repeat_n(Role::Client, 5));
        let placed = place(&roles, &fleet).unwrap();
        assert_eq!(placed.iter().filter(|&&i| i == 0).count(), 2);
        assert_eq!(placed.iter().filter(|&&i| i == 1).count(), 4);
        let small = Fleet::new(
            vec![
                spec("a=unix:///a.sock,hosts=2"),
                spec("b=unix:///b.sock,hosts=1"),
            ],
            None,
        )
        .unwrap();
        let error = place(&roles, &small).expect_err("6 hosts in 3 places");
        assert!(
            error
                .to_string()
                .contains("a holds at most 2, b holds at most 1"),
            "{error}"
        );
    }

    #[test]
    fn an_engines_file_is_read_like_a_scenario() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("engines.yaml");
        std::fs::write(
            &path,
            "engines:\n  - {name: a, url: 'unix:///a.sock', address: 10.0.0.1}\n  - {name: b, url: 'tcp://10.0.0.2:2375', memory: 4GiB}\nservers_on: b\n",
        )
        .unwrap();
        let fleet = Fleet::load(&path).unwrap();
        assert_eq!(fleet.engines().len(), 2);
        assert_eq!(fleet.servers_on(), 1);
        assert_eq!(fleet.engines()[1].memory, Some(4 << 30));
        std::fs::write(
            &path,
            "engines:\n  - {name: a, url: 'unix:///a.sock', colour: red}\n",
        )
        .unwrap();
        let error = Fleet::load(&path).expect_err("unknown key").to_string();
        assert!(
            error.contains("engines.yaml") && error.contains("colour"),
            "{error}"
        );
    }

    /// Issue 39: one engine under two spellings is refused before anything connects (it left
    /// two networks of one name); credentials are never in a message; an engines file is bounded
    /// like a scenario (aliases expanding past 16 MiB of text stop at the alias).
    #[test]
    fn one_engine_twice_credentials_and_alias_bombs_are_refused() {
        let twice = Fleet::new(
            vec![
                spec("a=unix:///var/run/docker.sock"),
                spec("b=unix:////var/run/docker.sock"),
            ],
            None,
        )
        .expect_err("one engine");
        assert!(twice.to_string().contains("are the same engine"), "{twice}");
        let mapped = "a=unix:///a.sock,address=::ffff:127.0.0.1"
            .parse::<EngineSpec>()
            .expect_err("loopback");
        assert!(mapped.contains("loopback"), "{mapped}");
        let secret = "a=tcp://admin:s3cr3t@10.0.0.2:2376,hosts=x"
            .parse::<EngineSpec>()
            .expect_err("hosts=x");
        assert!(
            !secret.contains("s3cr3t") && secret.contains("***@10.0.0.2"),
            "{secret}"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("engines.yaml");
        let url = format!("unix:///{}", "x".repeat(300_000));
        let refs = vec!["*e"; 80_000].join(", ");
        std::fs::write(
            &path,
            format!("engines: [&e {{name: a, url: \"{url}\"}}, {refs}]\n"),
        )
        .unwrap();
        let started = std::time::Instant::now();
        let bomb = Fleet::load(&path).expect_err("a bomb").to_string();
        assert!(bomb.contains("16 MiB"), "{bomb}");
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }
}

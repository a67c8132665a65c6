//! `base: as-is`: the user's configuration tested as it ships. The lab changes nothing in their
//! files and adds no drop-in of its own to journal-remote or journal-upload; what a lab must
//! still do it does *around* the configuration, read from it here:
//! - **names**: the host of every client's `URL=` resolves to the server it uploads to, and the
//!   server's certificate carries it;
//! - **certificates**: placed where the deployment puts them (the setup's `certificates:`), else
//!   where the configuration reads them (`ServerKeyFile=`, `ServerCertificateFile=`,
//!   `TrustedCertificateFile=`), else at the paths compiled into the programs.
//!
//! Read as systemd reads it: the main file, then `NAME.conf.d/*.conf` in the order of their
//! file names, the last setting winning; an empty value resets to the compiled-in default.

use serde::{Deserialize, Serialize};

use super::{FileDef, InstallPaths, Scenario, NO_ISSUER};
use crate::checks::knobs::Knob;
use crate::domain::Role;

/// Whose configuration a run tests.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Base {
    /// The Netdata guide's procedure: the lab points journal-remote and journal-upload at its
    /// certificates, sets the client's `URL=` and `Restart=always` with drop-ins of its own (the
    /// seed scenarios).
    #[default]
    Guide,
    /// The user's files exactly as they ship: the lab adds no drop-in to the journal units or
    /// their configuration, only certificates where the configuration expects them and the names
    /// its `URL=` uses (the default of `--setup`).
    AsIs,
}

impl Base {
    pub fn as_str(self) -> &'static str {
        match self {
            Base::Guide => "guide",
            Base::AsIs => "as-is",
        }
    }
}

/// The certificate root the Debian builds compile in (`-Dcertificate-root=/etc/ssl`).
const CERTIFICATE_ROOT: &str = "/etc/ssl";

/// Where `program` (`journal-remote` or `journal-upload`) reads its key, certificate and trusted
/// CA when its configuration names none: `PRIV_KEY_FILE`, `CERT_FILE` and `TRUST_FILE` in
/// systemd's src/journal-remote.
pub fn compiled_in(program: &str) -> InstallPaths {
    InstallPaths {
        key: format!("{CERTIFICATE_ROOT}/private/{program}.pem"),
        cert: format!("{CERTIFICATE_ROOT}/certs/{program}.pem"),
        ca: format!("{CERTIFICATE_ROOT}/ca/trusted.pem"),
    }
}

/// A setting as the program will read it: its value, and the file and line it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub value: String,
    /// Its path on the host.
    pub path: String,
    pub line: usize,
    /// The user's file it was read from (`source:`), if it came from one.
    pub origin: Option<std::path::PathBuf>,
}

impl Setting {
    /// Where to point a person at it: the user's own file and line where there is one.
    pub fn at(&self) -> String {
        match &self.origin {
            Some(origin) => format!("{}:{} ({})", origin.display(), self.line, self.path),
            None => format!("{}:{}", self.path, self.line),
        }
    }
}

/// Why an `as-is` run cannot be set up without changing the user's configuration: the user's file
/// and line where it is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub origin: Option<std::path::PathBuf>,
    pub line: usize,
    pub message: String,
}

/// The program a role's journal unit runs, and the section of its configuration.
pub fn program_of(role: Role) -> Option<(&'static str, &'static str)> {
    match role {
        Role::Server => Some(("journal-remote", "Remote")),
        Role::Client => Some(("journal-upload", "Upload")),
        Role::Proxy => None,
    }
}

/// The value of `key` in `[section]` of `program`'s configuration among `files`, as the program
/// reads it (main file, then drop-ins by file name; the last wins; empty resets). None: not set.
pub fn setting(files: &[FileDef], program: &str, section: &str, key: &str) -> Option<Setting> {
    settings(files, program, section, key).pop().flatten()
}

/// Every assignment of `key`, in the order the program reads them (None: an empty value, which
/// resets it).
pub fn settings(
    files: &[FileDef],
    program: &str,
    section: &str,
    key: &str,
) -> Vec<Option<Setting>> {
    settings_in(files, &format!("{program}.conf"), section, key)
}

/// Every assignment of `key` in `[section]` of `file` among `files`, in systemd's order: a
/// program's configuration (`journal-upload.conf`: /etc/systemd/journal-upload.conf, then
/// `journal-upload.conf.d/*.conf`) or a unit (`systemd-journal-upload.service`:
/// /etc/systemd/system/systemd-journal-upload.service, then its `.service.d/*.conf`).
pub fn settings_in(
    files: &[FileDef],
    file: &str,
    section: &str,
    key: &str,
) -> Vec<Option<Setting>> {
    let main = if file.ends_with(".conf") {
        format!("/etc/systemd/{file}")
    } else {
        format!("/etc/systemd/system/{file}")
    };
    let drop_ins = format!("{main}.d/");
    let mut sources: Vec<&FileDef> = files
        .iter()
        .filter(|f| {
            f.path == main
                || f.path
                    .strip_prefix(&drop_ins)
                    .is_some_and(|name| name.ends_with(".conf") && !name.contains('/'))
        })
        .collect();
    // The main file first, then the drop-ins in the order of their names.
    sources.sort_by_key(|f| {
        (
            f.path != main,
            f.path.rsplit('/').next().map(str::to_string),
        )
    });
    let mut found = Vec::new();
    for file in sources {
        let mut in_section = false;
        for (n, raw) in file.content.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                in_section = name.trim() == section;
                continue;
            }
            let Some((k, v)) = line.split_once('=') else {
                continue;
            };
            if in_section && k.trim() == key {
                let value = v.trim().to_string();
                found.push((!value.is_empty()).then(|| Setting {
                    value,
                    path: file.path.clone(),
                    line: n + 1,
                    origin: file.origin.clone(),
                }));
            }
        }
    }
    found
}

/// How `files` set `knob`, for a failing verdict: the value and the user's file and line
/// (`URL=http://logs:19532 (your client/journal-upload.conf:2)`), or that none of them sets it.
pub fn as_configured(files: &[FileDef], knob: &Knob) -> String {
    let key = knob.key;
    match settings_in(files, knob.file, knob.section, key).pop() {
        Some(Some(set)) => match &set.origin {
            Some(origin) => format!(
                "{key}={} {}",
                set.value,
                crate::checks::knobs::yours(origin.display(), set.line)
            ),
            None => format!("{key}={} (at {}:{})", set.value, set.path, set.line),
        },
        Some(None) => format!("{key}= is emptied in {} (its default applies)", knob.file),
        None => format!(
            "{key}= is set in none of your files for {} (its default applies)",
            knob.file
        ),
    }
}

/// Where a host of `role` reads its key, certificate and CA: its configuration's settings, else
/// the compiled-in paths. None for a proxy.
pub fn configured_paths(files: &[FileDef], role: Role) -> Option<InstallPaths> {
    let (program, section) = program_of(role)?;
    let default = compiled_in(program);
    let read = |key: &str, fallback: String| {
        setting(files, program, section, key).map_or(fallback, |s| s.value)
    };
    Some(InstallPaths {
        key: read("ServerKeyFile", default.key),
        cert: read("ServerCertificateFile", default.cert),
        ca: read("TrustedCertificateFile", default.ca),
    })
}

/// Whether the lab can put a file at `path`: a plain absolute file path, not in the kernel's
/// file systems.
fn fillable(path: &str) -> Result<(), &'static str> {
    super::validate::file_path(path)?;
    if ["/proc/", "/sys/", "/dev/"]
        .iter()
        .any(|k| path.starts_with(k))
    {
        return Err("is in a kernel file system (/proc, /sys, /dev)");
    }
    Ok(())
}

/// The host a client's `URL=` names (`https://logs.example.org:19532/` → `logs.example.org`),
/// with the setting it came from. None: no `URL=` (journal-upload will say so itself).
pub fn url_host(files: &[FileDef]) -> Option<(String, Setting)> {
    let url = setting(files, "journal-upload", "Upload", "URL")?;
    let rest = url
        .value
        .split_once("://")
        .map_or(url.value.as_str(), |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or("").to_string()
    } else {
        authority.split(':').next().unwrap_or("").to_string()
    };
    Some((host.to_ascii_lowercase(), url))
}

use super::upload::VIA_OWN_URL;

/// Whether the lab sets `host`'s `URL=`: under the guide's procedure always; as it ships only where
/// the scenario says how the host dials (`upload:`, e.g. by address or on another port) and not
/// that it dials its own (`via: own`).
pub fn lab_sets_url(base: Base, host: &super::HostDef) -> bool {
    base == Base::Guide
        || host
            .upload
            .as_ref()
            .is_some_and(|upload| upload.via != VIA_OWN_URL)
}

/// Lays around `scenario`'s configuration what `base: as-is` needs, changing none of its files:
/// each host's certificates go where its deployment puts them (`deployed`, a setup's
/// `certificates:` for the role) or else where its configuration reads them; the host each
/// client's `URL=` names becomes a name of the server it uploads to (resolvable in the lab, in
/// the server's certificate). A URL the lab cannot make true without changing it (an address, a
/// name of another host) is refused, naming the file and line.
pub fn surround(
    scenario: &mut Scenario,
    deployed: &dyn Fn(Role) -> Option<InstallPaths>,
) -> Result<(), Refusal> {
    let mut names: Vec<(String, String)> = Vec::new();
    for host in &scenario.hosts {
        // A client whose scenario says whom it dials (`upload:`) is the scenario's stimulus: the
        // lab sets its URL= (and lists it); every other client, and a relay whose files set a
        // URL=, dials what its URL= says.
        if !host.uploads_with_journal_upload() || lab_sets_url(Base::AsIs, host) {
            continue;
        }
        if host.upload.is_some() && url_host(&host.files).is_none() {
            return Err(Refusal {
                origin: None,
                line: 0,
                message: format!(
                    "{} has upload.via own, but none of its files sets URL= in \
                     /etc/systemd/journal-upload.conf (or a drop-in of it)",
                    host.name
                ),
            });
        }
        // Two URL=s that disagree: which one the team meant is not for the lab to guess.
        let urls: Vec<Setting> = settings(&host.files, "journal-upload", "Upload", "URL")
            .into_iter()
            .flatten()
            .collect();
        if let Some(later) = urls.iter().skip(1).find(|u| u.value != urls[0].value) {
            return Err(Refusal {
                origin: later.origin.clone(),
                line: later.line,
                message: format!(
                    "URL= is set to {} ({}) and to {} ({}): the files disagree; keep one",
                    urls[0].value,
                    urls[0].at(),
                    later.value,
                    later.at()
                ),
            });
        }
        let Some((name, at)) = url_host(&host.files) else {
            continue;
        };
        let Some(server) = scenario.server_of(host) else {
            continue;
        };
        let said = || format!("URL={} ({})", at.value, at.at());
        let refuse = |message: String| Refusal {
            origin: at.origin.clone(),
            line: at.line,
            message,
        };
        if name.parse::<std::net::IpAddr>().is_ok() {
            return Err(refuse(format!(
                "{} names an address: under `base: as-is` the lab cannot give {} that address \
                 without changing the configuration; name the server by a DNS name (or use \
                 `base: guide`)",
                said(),
                server.name
            )));
        }
        if let Some(other) = scenario
            .hosts
            .iter()
            .find(|h| h.name == name && h.name != server.name)
        {
            return Err(refuse(format!(
                "{} names {}, a {} of the lab, not the server {} uploads to ({})",
                said(),
                other.name,
                other.role.as_str(),
                host.name,
                server.name
            )));
        }
        if name != server.name && !crate::pki::is_valid_name(&name) {
            return Err(refuse(format!(
                "{}: {name:?} is not a DNS name the lab can resolve",
                said()
            )));
        }
        if name != server.name {
            names.push((server.name.clone(), name));
        }
    }
    for (server, name) in names {
        let server = scenario
            .hosts
            .iter_mut()
            .find(|h| h.name == server)
            .expect("a server of the scenario");
        if !server.aliases.contains(&name) {
            server.aliases.push(name);
        }
    }
    for host in &mut scenario.hosts {
        if host.certificate.issuer == NO_ISSUER {
            continue;
        }
        // A path the configuration names must be one the lab can put a file at; a relay's
        // journal-upload reads its own.
        let relay_upload = host.is_relay().then(|| program_of(Role::Client)).flatten();
        for (program, section) in program_of(host.role).into_iter().chain(relay_upload) {
            for key in [
                "ServerKeyFile",
                "ServerCertificateFile",
                "TrustedCertificateFile",
            ] {
                let Some(at) = setting(&host.files, program, section, key) else {
                    continue;
                };
                if let Err(why) = fillable(&at.value) {
                    return Err(Refusal {
                        origin: at.origin.clone(),
                        line: at.line,
                        message: format!(
                            "{key}={} ({}): {why}: the lab cannot put the certificate there",
                            at.value,
                            at.at()
                        ),
                    });
                }
            }
        }
        if let Some(paths) =
            deployed(host.role).or_else(|| configured_paths(&host.files, host.role))
        {
            host.certificate.install = Some(paths);
        }
        if host.is_relay() {
            host.certificate.upload_install = configured_paths(&host.files, Role::Client)
                .filter(|upload| Some(upload) != host.certificate.install.as_ref());
        }
    }
    scenario.base = Base::AsIs;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, content: &str) -> FileDef {
        FileDef {
            path: path.into(),
            content: content.into(),
            source: None,
            origin: None,
            mode: "0644".into(),
        }
    }

    /// Settings are read as systemd reads them: section by section, the main file then its
    /// drop-ins by name, the last winning and an empty value resetting; other programs' files
    /// and misplaced drop-ins do not count.
    #[test]
    fn settings_are_read_in_systemds_order() {
        let files = vec![
            file(
                "/etc/systemd/journal-upload.conf.d/90-late.conf",
                "[Upload]\nServerKeyFile=/late.key\n",
            ),
            file(
                "/etc/systemd/journal-upload.conf",
                "[Upload]\n# ServerKeyFile=/commented.key\nServerKeyFile=/main.key\nURL=https://logs.example.org:19532\n[Other]\nServerCertificateFile=/not-upload.pem\n",
            ),
            file(
                "/etc/systemd/journal-upload.conf.d/10-early.conf",
                "[Upload]\nServerKeyFile=/early.key\nTrustedCertificateFile=\n",
            ),
            file("/etc/systemd/journal-upload.d/00-misplaced.conf", "[Upload]\nServerKeyFile=/no.key\n"),
            file("/etc/systemd/journal-remote.conf", "[Remote]\nServerKeyFile=/remote.key\n"),
        ];
        let key = setting(&files, "journal-upload", "Upload", "ServerKeyFile").unwrap();
        assert_eq!(
            (key.value.as_str(), key.path.as_str(), key.line),
            (
                "/late.key",
                "/etc/systemd/journal-upload.conf.d/90-late.conf",
                2
            )
        );
        let paths = configured_paths(&files, Role::Client).unwrap();
        assert_eq!(paths.key, "/late.key");
        assert_eq!(
            paths.cert, "/etc/ssl/certs/journal-upload.pem",
            "[Other] is not [Upload]"
        );
        assert_eq!(paths.ca, "/etc/ssl/ca/trusted.pem", "an empty value resets");
        let server = configured_paths(&files, Role::Server).unwrap();
        assert_eq!(server.key, "/remote.key");
        assert_eq!(server.cert, "/etc/ssl/certs/journal-remote.pem");
        assert_eq!(configured_paths(&files, Role::Proxy), None);
    }

    /// A failing verdict says how the user's files set what it is about: the value at their
    /// file and line, a unit's setting among its drop-ins, or that none of their files sets it.
    #[test]
    fn a_knob_is_said_at_the_users_line() {
        use crate::checks::knobs::{as_configured as said, UPLOAD_CONNECTION, UPLOAD_RECOVERY};
        let mut conf = file(
            "/etc/systemd/journal-upload.conf",
            "[Upload]\nURL=http://logs:19532\nServerKeyFile=\n",
        );
        conf.origin = Some("ci/client/journal-upload.conf".into());
        let unit = file(
            "/etc/systemd/system/systemd-journal-upload.service.d/70.conf",
            "[Unit]\nStartLimitBurst=3\n[Service]\nRestart=on-failure\n",
        );
        let files = [conf, unit];
        let configured: Vec<_> = UPLOAD_CONNECTION
            .iter()
            .chain(UPLOAD_RECOVERY)
            .map(|k| (*k, as_configured(&files, k)))
            .collect();
        assert_eq!(
            said(UPLOAD_CONNECTION, &configured).unwrap(),
            "as your files set it: URL=http://logs:19532 (your ci/client/journal-upload.conf:2); \
             ServerKeyFile= is emptied in journal-upload.conf (its default applies); \
             ServerCertificateFile= is set in none of your files for journal-upload.conf (its \
             default applies); TrustedCertificateFile= is set in none of your files for \
             journal-upload.conf (its default applies)"
        );
        let recovery = said(UPLOAD_RECOVERY, &configured).unwrap();
        assert!(
            recovery.starts_with(
                "as your files set it: Restart=on-failure (at \
                 /etc/systemd/system/systemd-journal-upload.service.d/70.conf:4); RestartSec= is \
                 set in none of your files"
            ),
            "{recovery}"
        );
        assert!(
            recovery.contains("StartLimitBurst=3 (at /etc/systemd/system/systemd-journal-upload.service.d/70.conf:2)"),
            "{recovery}"
        );
        assert_eq!(
            crate::checks::knobs::your_locations(&recovery),
            [("ci/client/journal-upload.conf".to_string(), 2)]
        );
        assert_eq!(
            said(UPLOAD_CONNECTION, &[]),
            None,
            "not read here: nothing said"
        );
    }

    #[test]
    fn the_url_names_its_host() {
        let with = |url: &str| {
            url_host(&[file(
                "/etc/systemd/journal-upload.conf",
                &format!("[Upload]\nURL={url}\n"),
            )])
            .map(|(host, at)| (host, at.line))
        };
        assert_eq!(
            with("https://Logs.Example.org:19532"),
            Some(("logs.example.org".into(), 2))
        );
        assert_eq!(with("https://logs/"), Some(("logs".into(), 2)));
        assert_eq!(with("http://u:p@logs:1/x"), Some(("logs".into(), 2)));
        assert_eq!(with("https://[::1]:19532"), Some(("::1".into(), 2)));
        assert_eq!(url_host(&[]), None);
    }
}

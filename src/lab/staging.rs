//! What a host gets before it boots: its credentials (certificate bundle, trusted CA), unit
//! drop-ins, the scenario's files and `provision.sh`, as one archive (see [`super::BOOT_COMMAND`]).

use std::collections::BTreeMap;
use std::path::PathBuf;

use time::OffsetDateTime;

use crate::domain::{Role, REMOTE_SOCKET, UPLOAD_UNIT};
use crate::errors::{Error, Result};
use crate::journal::shell_quote;
use crate::pki::{Alias, CertDir, CertRequest};
use crate::scenario::{self, Base, HostDef, Scenario, Validity, DEFAULT_PORT};

pub(super) const BUNDLE_DIR: &str = super::STAGE_DIR;

/// A host's credentials: its install bundle (None for a host without a certificate), and the
/// PEM of the CA it trusts.
pub struct Credentials {
    pub bundle: Option<Vec<u8>>,
    pub trusted_ca: String,
    /// The host's certificate and key (PEM) the bundle installs, for the list of what the lab
    /// added (their SHA-256, never their text).
    pub pems: Option<(String, String)>,
}

/// One certificate directory per CA; each host's certificate from its issuer, with its validity
/// and SANs; each bundle carrying the CA the host *trusts* (which may differ from its issuer).
pub(super) fn issue_credentials(
    dir: PathBuf,
    scenario: &Scenario,
    run_id: &str,
    addresses: &BTreeMap<String, std::net::IpAddr>,
) -> Result<BTreeMap<String, Credentials>> {
    let mut cas = BTreeMap::new();
    for ca in std::iter::once(scenario::LAB_CA.to_string()).chain(scenario.cas.iter().cloned()) {
        let (cert_dir, _) = CertDir::open(dir.join(&ca))?;
        let pem = std::fs::read_to_string(cert_dir.ca_cert_path())
            .map_err(Error::io("reading", cert_dir.ca_cert_path()))?;
        cas.insert(ca, (cert_dir, pem));
    }
    let now = OffsetDateTime::now_utc();
    let mut credentials = BTreeMap::new();
    for host in &scenario.hosts {
        let trusted_ca = cas[&host.trusts].1.clone();
        let (bundle, pems) = if host.certificate.issuer == scenario::NO_ISSUER {
            (None, None)
        } else {
            let (issuer, _) = &cas[&host.certificate.issuer];
            let mut aliases: Vec<Alias> =
                host.aliases.iter().map(|a| Alias::Dns(a.clone())).collect();
            // The container's own name verifies too.
            aliases.push(Alias::Dns(format!("{}.{run_id}", host.name)));
            // The proxies that pass TLS through to it: the clients' URL names them.
            aliases.extend(
                super::proxy::passthrough_names(scenario, &host.name)
                    .into_iter()
                    .map(|name| Alias::Dns(name.to_string())),
            );
            // A server other engines reach at their engine's address (`--engine …,address=`).
            aliases.extend(addresses.get(&host.name).map(|a| Alias::Ip(*a)));
            let mut request = CertRequest::new(host.name.clone(), aliases);
            request.sans = host.certificate.sans;
            if let Some(mirror) = &host.certificate.mirror {
                mirror_request(&mut request, mirror)?;
            }
            request.validity = request.validity.or(match host.certificate.validity {
                Validity::Valid => None,
                Validity::Expired => Some((
                    now - time::Duration::days(30),
                    now - time::Duration::days(1),
                )),
                Validity::NotYetValid => Some((
                    now + time::Duration::days(1),
                    now + time::Duration::days(365),
                )),
            });
            let files = issuer.issue(&request)?;
            let read =
                |path: &PathBuf| std::fs::read_to_string(path).map_err(Error::io("reading", path));
            let (cert, key) = (read(&files.cert)?, read(&files.key)?);
            (
                Some(crate::pki::bundle_script(&host.name, &trusted_ca, &cert, &key).into_bytes()),
                Some((cert, key)),
            )
        };
        credentials.insert(
            host.name.clone(),
            Credentials {
                bundle,
                trusted_ca,
                pems,
            },
        );
    }
    Ok(credentials)
}

/// A mirrored field certificate's subject, names, window and key (validated with the scenario).
fn mirror_request(request: &mut CertRequest, mirror: &scenario::MirrorDef) -> Result<()> {
    let time = |value: &str| {
        OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339).map_err(|e| {
            Error::InvalidSettings(format!("mirrored certificate time {value:?}: {e}"))
        })
    };
    request.common_name = Some(mirror.common_name.clone());
    request.names = Some(
        mirror
            .names
            .iter()
            .map(|n| n.parse::<Alias>())
            .collect::<Result<_>>()?,
    );
    request.validity = Some((time(&mirror.not_before)?, time(&mirror.not_after)?));
    request.key = mirror.key;
    Ok(())
}

/// The files a host gets before it boots, as one archive: its certificate bundle (or, without a
/// certificate, the CA it trusts), unit drop-ins, the scenario's files, and `provision.sh`, the
/// part of the operator's procedure that needs no running systemd (see [`super::BOOT_COMMAND`]).
pub fn stage_files(
    scenario: &Scenario,
    host: &HostDef,
    credentials: &Credentials,
) -> Vec<(String, Vec<u8>, u32)> {
    let mut files = Vec::new();
    let mut provision = String::from("set -eu\n");
    match &credentials.bundle {
        Some(bundle) => {
            let bundle_path = format!("{BUNDLE_DIR}/runme-on-{}.sh", host.name);
            // As it ships: the certificates only, no drop-in pointing the units at them.
            let point = match scenario.base {
                Base::Guide => "",
                Base::AsIs => "POINT_CONFIG=no ",
            };
            provision.push_str(&format!("{point}sh {bundle_path}\n"));
            files.push((bundle_path, bundle.clone(), 0o700));
            // Where the host's own configuration expects them: a setup's, else a mirrored
            // field certificate's.
            for install in host.certificate.installs() {
                provision.push_str(&mirror_copies(&host.name, install));
            }
        }
        // Without a certificate of its own the host still knows whom to trust (for curl).
        None => files.push((
            format!("{BUNDLE_DIR}/ca.pem"),
            credentials.trusted_ca.clone().into_bytes(),
            0o644,
        )),
    }
    if host.role == Role::Server {
        if host.port() != DEFAULT_PORT {
            files.push((
                format!("/etc/systemd/system/{REMOTE_SOCKET}.d/60-journal-lab-port.conf"),
                format!("[Socket]\nListenStream=\nListenStream={}\n", host.port()).into_bytes(),
                0o644,
            ));
        }
        // Enabled before boot, the socket listens as soon as systemd reaches sockets.target.
        provision.push_str(&format!("systemctl enable {REMOTE_SOCKET} 2>&1\n"));
        files.extend(super::pull::collector_files(
            host,
            &super::pull::sources_of(scenario, &host.name),
        ));
    }
    if let Some(server) = host.proxied_server().and_then(|name| scenario.host(name)) {
        files.extend(super::proxy::proxy_files(host, server, &mut provision));
    }
    if has_clock_faults(scenario, &host.name) {
        files.extend(clock_files());
        provision.push_str(&clock_provision());
    }
    if host.role == Role::Client && host.sender == scenario::Sender::Gateway {
        files.extend(super::pull::gateway_files(host, &mut provision));
    }
    if host.uploads_with_journal_upload() && scenario.base == Base::Guide {
        files.push((
            format!("/etc/systemd/system/{UPLOAD_UNIT}.d/60-journal-lab-restart.conf"),
            b"[Service]\nRestart=always\n".to_vec(),
            0o644,
        ));
    }
    // As it ships, a relay runs the user's unit as written.
    let relay = host.is_relay() && scenario.base == Base::Guide;
    if let Some(read) = host.upload.as_ref().filter(|_| relay) {
        // A relay's journal-upload reads what journal-remote wrote: files of group
        // systemd-journal-remote (0640), which the shipped unit's dynamic user is not in.
        let read = read.read.unwrap_or_default();
        files.push((
            format!("/etc/systemd/system/{UPLOAD_UNIT}.d/61-journal-lab-relay.conf"),
            format!(
                "[Service]\nSupplementaryGroups=systemd-journal-remote\nExecStart=\n\
                 ExecStart=/lib/systemd/systemd-journal-upload --save-state {}\n",
                read.upload_options()
            )
            .into_bytes(),
            0o644,
        ));
        // Where it reads must exist before the first client's upload arrives.
        provision.push_str(&format!(
            "install -d -o systemd-journal-remote -g systemd-journal-remote -m 0755 {}\n",
            crate::journal::REMOTE_DIR
        ));
    }
    for file in &host.files {
        // Validated as octal permission bits when the scenario was loaded.
        let mode = u32::from_str_radix(&file.mode, 8).unwrap_or(0o644);
        files.push((file.path.clone(), file.content.clone().into_bytes(), mode));
    }
    files.push((
        format!("{BUNDLE_DIR}/provision.sh"),
        provision.into_bytes(),
        0o700,
    ));
    files
}

/// Whether a step fakes `host`'s clock.
pub(super) fn has_clock_faults(scenario: &Scenario, host: &str) -> bool {
    scenario.steps.iter().any(|step| {
        matches!(step, scenario::Step::Fault { kind, host: h, .. } if kind.is_clock() && h == host)
    })
}

/// The packages a host whose clock a fault fakes needs: a C compiler and the C library's headers,
/// to build the clock shim against the release's own C library when it is provisioned.
pub(super) const CLOCK_PACKAGES: &[&str] = &["gcc", "libc6-dev"];

/// The clock shim's source (see its header: only the wall clock moves, as in a real step).
const CLOCK_SHIM_SOURCE: &str = include_str!("clock_shim.c");

/// Where the clock shim is built, and preloaded from.
pub const CLOCK_SHIM: &str = "/usr/local/lib/journal-lab-clock.so";

/// Before boot, on a host whose clock a fault fakes: the clock shim built and preloaded into
/// journald and journal-upload, reading its offset from the clock file at every call (`+0` until
/// a fault writes it), and a boot ID of its own at every boot. A shim that does not build fails
/// the provisioning, with the compiler's words in its record.
fn clock_provision() -> String {
    let clock = crate::domain::CLOCK_FILE;
    format!(
        r#"mkdir -p "$(dirname {clock})"
echo +0 > {clock}
cc -O2 -shared -fPIC -DCLOCK_FILE='"{clock}"' -o {CLOCK_SHIM} {BUNDLE_DIR}/clock_shim.c -ldl || exit 1
for unit in systemd-journald {UPLOAD_UNIT}; do
    unit=${{unit%.service}}
    mkdir -p /etc/systemd/system/$unit.service.d
    printf '%s' '{drop_in}' > /etc/systemd/system/$unit.service.d/60-journal-lab-clock.conf
done
touch {BUNDLE_DIR}/own-boot-id
"#,
        drop_in = clock_drop_in()
    )
}

/// The drop-in that preloads the clock shim into journald and journal-upload.
pub(super) fn clock_drop_in() -> String {
    format!("[Service]\nEnvironment=LD_PRELOAD={CLOCK_SHIM}\n")
}

/// The staged files of a host whose clock a fault fakes: the clock shim's source.
fn clock_files() -> Vec<(String, Vec<u8>, u32)> {
    vec![(
        format!("{BUNDLE_DIR}/clock_shim.c"),
        CLOCK_SHIM_SOURCE.as_bytes().to_vec(),
        0o644,
    )]
}

/// Copies of the installed certificate, key and CA where a replayed field configuration expects
/// them (paths validated as plain absolute paths with the scenario), owned and moded as the
/// bundle's own.
fn mirror_copies(name: &str, install: &scenario::InstallPaths) -> String {
    let dir = crate::pki::INSTALL_DIR;
    [
        (format!("{dir}/{name}.pem"), &install.cert),
        (format!("{dir}/{name}.key"), &install.key),
        (format!("{dir}/{}", crate::pki::CA_FILE), &install.ca),
    ]
    .iter()
    .filter(|(from, to)| from != *to)
    .map(|(from, to)| {
        let (from, to) = (shell_quote(from), shell_quote(to));
        format!(
            "mkdir -p \"$(dirname {to})\" && install -m 0640 -o systemd-journal-remote -g systemd-journal {from} {to}\n"
        )
    })
    .collect()
}

/// A tar archive of (absolute path, contents, mode), owned by root. Paths were validated with the
/// scenario; one the archive format still refuses is an error naming it, never a panic.
pub fn tar_archive(files: &[(String, Vec<u8>, u32)]) -> Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    let mtime = time::OffsetDateTime::now_utc().unix_timestamp() as u64;
    for (path, contents, mode) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(contents.len() as u64);
        header.set_mode(*mode);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(mtime);
        header.set_entry_type(tar::EntryType::Regular);
        builder
            .append_data(
                &mut header,
                path.trim_start_matches('/'),
                contents.as_slice(),
            )
            .map_err(|e| Error::InvalidSettings(format!("cannot stage the file {path:?}: {e}")))?;
    }
    builder
        .into_inner()
        .map_err(|e| Error::InvalidSettings(format!("cannot finish a host's archive: {e}")))
}

/// Prints what provisioning before boot did, and fails if it failed.
pub(super) const PROVISION_RECORD: &str = r#"d=/root/journal-lab
cat "$d/provision.log" 2>/dev/null || true
if [ -e "$d/stage.tar" ]; then
    status=$(cat "$d/provisioned" 2>/dev/null || echo "none (it never ran)")
    if [ "$status" != 0 ]; then echo "provisioning before boot failed: exit status $status" >&2; exit 1; fi
fi
"#;

#[cfg(test)]
mod tests {
    use super::*;

    /// What each kind of host gets before it boots: the server its socket enabled (and moved),
    /// an uploader its `Restart=always`, a host without a certificate only the CA it trusts.
    #[test]
    fn staged_files_carry_the_part_of_the_procedure_that_needs_no_systemd() {
        let scenario = Scenario::parse(
            std::path::Path::new("t.yaml"),
            "description: d\nhosts:\n  - {name: server, role: server, listen_port: 19600}\n  - {name: client1, role: client}\n\
             \x20 - {name: bare, role: client, sender: curl, certificate: {issuer: none}}\n\
             steps: []\nchecks: []\n",
        )
        .unwrap();
        let with_bundle = Credentials {
            bundle: Some(b"#!/bin/sh\n".to_vec()),
            trusted_ca: "CA".into(),
            pems: None,
        };
        let without = Credentials {
            bundle: None,
            trusted_ca: "CA".into(),
            pems: None,
        };
        let staged = |name: &str, creds: &Credentials| -> BTreeMap<String, String> {
            stage_files(&scenario, scenario.host(name).unwrap(), creds)
                .into_iter()
                .map(|(path, bytes, _)| (path, String::from_utf8(bytes).unwrap()))
                .collect()
        };
        let server = staged("server", &with_bundle);
        let provision = &server["/root/journal-lab/provision.sh"];
        assert!(provision.contains("sh /root/journal-lab/runme-on-server.sh"));
        assert!(provision.contains("systemctl enable systemd-journal-remote.socket"));
        assert!(server
            ["/etc/systemd/system/systemd-journal-remote.socket.d/60-journal-lab-port.conf"]
            .contains("ListenStream=19600"));
        let client = staged("client1", &with_bundle);
        assert!(client
            ["/etc/systemd/system/systemd-journal-upload.service.d/60-journal-lab-restart.conf"]
            .contains("Restart=always"));
        assert!(!client["/root/journal-lab/provision.sh"].contains("systemctl"));
        let bare = staged("bare", &without);
        assert_eq!(bare["/root/journal-lab/ca.pem"], "CA");
        assert_eq!(bare.len(), 2, "{bare:?}");
        assert_eq!(bare["/root/journal-lab/provision.sh"], "set -eu\n");
        // What reads the provisioning record after boot looks where PID 1 wrote it.
        assert!(PROVISION_RECORD.starts_with(&format!("d={BUNDLE_DIR}\n")));
    }

    #[test]
    fn archives_hold_each_file_with_its_mode() {
        let archive = tar_archive(&[
            ("/etc/a.conf".into(), b"x=1\n".to_vec(), 0o644),
            ("/root/b.sh".into(), b"#!/bin/sh\n".to_vec(), 0o700),
        ])
        .unwrap();
        let mut reader = tar::Archive::new(archive.as_slice());
        let entries: Vec<(String, u32, u64)> = reader
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.path().unwrap().display().to_string(),
                    e.header().mode().unwrap(),
                    e.header().size().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            entries,
            [
                ("etc/a.conf".to_string(), 0o644, 4),
                ("root/b.sh".to_string(), 0o700, 10)
            ]
        );
    }
}

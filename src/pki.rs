//! The lab's certificate authority, with the semantics operators know from the classic
//! self-signed-certs script for journal-remote: one CA per directory (created on first use), one
//! certificate per host name, `DNS:`/`IP:` aliases as subjectAltNames, and an existing certificate
//! is never re-issued. For every host it writes `runme-on-NAME.sh`, a self-contained bundle that
//! installs CA + cert + key under /etc/ssl/systemd-journal and points journal-remote and
//! journal-upload at them. The lab installs certificates by running these very bundles.

use std::fmt;
use std::fs;
use std::net::IpAddr;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType, SerialNumber,
};
use time::{Duration, OffsetDateTime};

use crate::errors::{Error, Result};

/// Where the bundles install credentials on a host.
pub const INSTALL_DIR: &str = "/etc/ssl/systemd-journal";
pub const CA_FILE: &str = "ca.pem";
const CA_KEY_FILE: &str = "ca.key";

/// A subjectAltName given on the command line as `DNS:name` or `IP:address`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Alias {
    Dns(String),
    Ip(IpAddr),
}

impl FromStr for Alias {
    type Err = Error;
    fn from_str(s: &str) -> Result<Alias> {
        let invalid = || Error::InvalidAlias(s.to_string());
        match s.split_once(':') {
            Some((kind, value)) if kind.eq_ignore_ascii_case("DNS") && is_valid_name(value) => {
                Ok(Alias::Dns(value.to_string()))
            }
            Some((kind, value)) if kind.eq_ignore_ascii_case("IP") => {
                value.parse().map(Alias::Ip).map_err(|_| invalid())
            }
            _ => Err(invalid()),
        }
    }
}

impl fmt::Display for Alias {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Alias::Dns(name) => write!(f, "DNS:{name}"),
            Alias::Ip(ip) => write!(f, "IP:{ip}"),
        }
    }
}

/// A host name as RFC 1123 defines it (and at least two characters, like the classic script's
/// rule): dot-separated labels of 1-63 letters, digits and dashes that neither start nor end with
/// a dash, at most 253 characters in all. Checked before anything is written, so a bad name never
/// leaves a half-made CA behind.
pub fn is_valid_name(name: &str) -> bool {
    name.len() >= 2
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

pub fn validate_name(name: &str) -> Result<()> {
    if is_valid_name(name) {
        Ok(())
    } else {
        Err(Error::InvalidName(name.to_string()))
    }
}

/// What to issue for one host.
#[derive(Debug, Clone)]
pub struct CertRequest {
    /// The canonical name: the certificate's CN, and the host the bundle is for.
    pub name: String,
    pub aliases: Vec<Alias>,
    /// Validity window; None means "from an hour ago for ten years".
    pub validity: Option<(OffsetDateTime, OffsetDateTime)>,
    /// Whether the name and aliases go into subjectAltName (without, only the CN names the host).
    pub sans: bool,
    /// The CN, when it is not `name` (a certificate mirrored from the field).
    pub common_name: Option<String>,
    /// The exact subjectAltNames, instead of `name` and `aliases` (a mirrored certificate).
    pub names: Option<Vec<Alias>>,
    pub key: KeyKind,
}

/// The kind of key a certificate is made with.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum KeyKind {
    #[default]
    EcP256,
    EcP384,
    Ed25519,
    Rsa2048,
    Rsa3072,
    Rsa4096,
}

impl KeyKind {
    /// A fresh key of this kind.
    pub fn generate(self) -> Result<KeyPair> {
        let rsa_bits = match self {
            KeyKind::EcP256 => return KeyPair::generate().map_err(pki("generating a key")),
            KeyKind::EcP384 => {
                return KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384)
                    .map_err(pki("generating a key"))
            }
            KeyKind::Ed25519 => {
                return KeyPair::generate_for(&rcgen::PKCS_ED25519).map_err(pki("generating a key"))
            }
            KeyKind::Rsa2048 => 2048,
            KeyKind::Rsa3072 => 3072,
            KeyKind::Rsa4096 => 4096,
        };
        use rsa::pkcs8::EncodePrivateKey;
        let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, rsa_bits).map_err(|e| {
            Error::InvalidSettings(format!("generating an RSA-{rsa_bits} key: {e}"))
        })?;
        let pem = key
            .to_pkcs8_pem(rsa::pkcs8::LineEnding::LF)
            .map_err(|e| Error::InvalidSettings(format!("encoding an RSA key: {e}")))?;
        KeyPair::from_pkcs8_pem_and_sign_algo(&pem, &rcgen::PKCS_RSA_SHA256)
            .map_err(pki("loading an RSA key"))
    }
}

impl CertRequest {
    pub fn new(name: impl Into<String>, aliases: Vec<Alias>) -> CertRequest {
        CertRequest {
            name: name.into(),
            aliases,
            validity: None,
            sans: true,
            common_name: None,
            names: None,
            key: KeyKind::default(),
        }
    }
}

/// The files of one host in a certificate directory.
#[derive(Debug, Clone)]
pub struct HostFiles {
    pub name: String,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub bundle: PathBuf,
    /// False when the certificate already existed and was kept as it was.
    pub newly_issued: bool,
}

/// A directory holding one CA and the certificates it issued.
#[derive(Debug, Clone)]
pub struct CertDir {
    dir: PathBuf,
}

impl CertDir {
    /// Opens (creating if needed) `dir`, and the CA in it (creating it on first use).
    /// Returns whether the CA was created now.
    pub fn open(dir: impl Into<PathBuf>) -> Result<(CertDir, bool)> {
        let dir = dir.into();
        // Owner-only from the start: the directory holds the CA's private key.
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(Error::io("creating", &dir))?;
        let cert_dir = CertDir { dir };
        let created = cert_dir.ensure_ca()?;
        Ok((cert_dir, created))
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    pub fn ca_cert_path(&self) -> PathBuf {
        self.dir.join(CA_FILE)
    }

    fn ensure_ca(&self) -> Result<bool> {
        let (cert_path, key_path) = (self.ca_cert_path(), self.dir.join(CA_KEY_FILE));
        if cert_path.exists() && key_path.exists() {
            return Ok(false);
        }
        let key = KeyPair::generate().map_err(pki("generating the CA key"))?;
        let mut params = CertificateParams::default();
        params.distinguished_name.push(
            DnType::CommonName,
            format!("journal-lab CA ({})", self.dir.display()),
        );
        params
            .distinguished_name
            .push(DnType::OrganizationName, "journal-lab");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::hours(1);
        params.not_after = now + Duration::days(3650);
        params.serial_number = Some(random_serial());
        let cert = params
            .self_signed(&key)
            .map_err(pki("self-signing the CA"))?;
        write_private(&key_path, &key.serialize_pem())?;
        write_file(&cert_path, &cert.pem(), 0o644)?;
        Ok(true)
    }

    fn issuer(&self) -> Result<Issuer<'static, KeyPair>> {
        let key_path = self.dir.join(CA_KEY_FILE);
        let key_pem = read(&key_path)?;
        let key = KeyPair::from_pem(&key_pem).map_err(|e| Error::BadCertificate {
            path: key_path.clone(),
            reason: e.to_string(),
        })?;
        let cert_path = self.ca_cert_path();
        Issuer::from_ca_cert_pem(&read(&cert_path)?, key).map_err(|e| Error::BadCertificate {
            path: cert_path,
            reason: e.to_string(),
        })
    }

    /// Issues a certificate for `request.name` unless one exists (then it is kept untouched, and
    /// `newly_issued` is false). Writes the install bundle if it is missing.
    pub fn issue(&self, request: &CertRequest) -> Result<HostFiles> {
        validate_name(&request.name)?;
        let name = &request.name;
        let files = HostFiles {
            name: name.clone(),
            cert: self.dir.join(format!("{name}.pem")),
            key: self.dir.join(format!("{name}.key")),
            bundle: self.dir.join(format!("runme-on-{name}.sh")),
            newly_issued: false,
        };
        let files = if files.cert.exists() && files.key.exists() {
            files
        } else {
            let (cert_pem, key_pem) = self.sign(request)?;
            write_private(&files.key, &key_pem)?;
            write_file(&files.cert, &cert_pem, 0o644)?;
            HostFiles {
                newly_issued: true,
                ..files
            }
        };
        if files.newly_issued || !files.bundle.exists() {
            let script = bundle_script(
                name,
                &read(&self.ca_cert_path())?,
                &read(&files.cert)?,
                &read(&files.key)?,
            );
            // The bundle carries the private key: owner-only, like the key itself.
            write_file(&files.bundle, &script, 0o700)?;
        }
        Ok(files)
    }

    fn sign(&self, request: &CertRequest) -> Result<(String, String)> {
        let issuer = self.issuer()?;
        let key = request.key.generate()?;
        let mut params = CertificateParams::default();
        params.distinguished_name.push(
            DnType::CommonName,
            request.common_name.clone().unwrap_or(request.name.clone()),
        );
        if let Some(names) = &request.names {
            params.subject_alt_names = names.iter().map(san).collect::<Result<_>>()?;
        } else if request.sans {
            params.subject_alt_names = std::iter::once(Alias::Dns(request.name.clone()))
                .chain(request.aliases.iter().cloned())
                .map(|alias| san(&alias))
                .collect::<Result<_>>()?;
        }
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        // One certificate serves a host as TLS server (journal-remote) and client (journal-upload).
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let now = OffsetDateTime::now_utc();
        let (not_before, not_after) = request
            .validity
            .unwrap_or((now - Duration::hours(1), now + Duration::days(3650)));
        params.not_before = not_before;
        params.not_after = not_after;
        params.serial_number = Some(random_serial());
        let cert = params
            .signed_by(&key, &issuer)
            .map_err(pki(format!("signing the certificate of {}", request.name)))?;
        Ok((cert.pem(), key.serialize_pem()))
    }
}

fn san(alias: &Alias) -> Result<SanType> {
    Ok(match alias {
        Alias::Dns(name) => SanType::DnsName(
            name.clone()
                .try_into()
                .map_err(|_| Error::InvalidAlias(alias.to_string()))?,
        ),
        Alias::Ip(ip) => SanType::IpAddress(*ip),
    })
}

fn random_serial() -> SerialNumber {
    let mut bytes: [u8; 16] = rand::random();
    bytes[0] &= 0x7f; // keep the DER INTEGER positive
    bytes[0] |= 0x01; // and of a fixed length
    SerialNumber::from_slice(&bytes)
}

fn pki(context: impl Into<String>) -> impl FnOnce(rcgen::Error) -> Error {
    let context = context.into();
    move |source| Error::Pki { context, source }
}

fn read(path: &Path) -> Result<String> {
    fs::read_to_string(path).map_err(Error::io("reading", path))
}

fn write_private(path: &Path, contents: &str) -> Result<()> {
    write_file(path, contents, 0o600)
}

/// Opens `path` for writing with `mode` from the moment it exists (`O_CREAT` with that mode, so a
/// key is never readable by others, not even for an instant), truncated, and never through a
/// symbolic link. An existing file gets `mode` before a byte is written to it.
pub fn create_with_mode(path: &Path, mode: u32) -> Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(Error::io("creating", path))?;
    file.set_permissions(fs::Permissions::from_mode(mode))
        .map_err(Error::io("setting the mode of", path))?;
    Ok(file)
}

fn write_file(path: &Path, contents: &str, mode: u32) -> Result<()> {
    use std::io::Write;
    create_with_mode(path, mode)?
        .write_all(contents.as_bytes())
        .map_err(Error::io("writing", path))
}

/// Where the bundle points journal-`unit` (`remote` or `upload`) at the installed files, and
/// the drop-in's text, exactly as the bundle writes it under `base: guide`.
pub fn certificates_drop_in(unit: &str, name: &str) -> (String, String) {
    let section = match unit {
        "remote" => "Remote",
        _ => "Upload",
    };
    (
        format!("/etc/systemd/journal-{unit}.conf.d/50-journal-lab-certificates.conf"),
        format!(
            "[{section}]\nServerKeyFile={INSTALL_DIR}/{name}.key\n\
             ServerCertificateFile={INSTALL_DIR}/{name}.pem\n\
             TrustedCertificateFile={INSTALL_DIR}/{CA_FILE}\n"
        ),
    )
}

/// The install bundle for host `name`: a POSIX shell script with the PEMs embedded.
///
/// Run as root on the host. `DESTDIR` installs below another root; `OWNER`/`GROUP` override the
/// owner (both exist for tests and image builds; operators use neither). `POINT_CONFIG=no`
/// installs the files only, with no drop-in pointing journal-remote and journal-upload at them
/// (a lab testing a configuration as it ships places copies where that configuration reads).
pub fn bundle_script(name: &str, ca_pem: &str, cert_pem: &str, key_pem: &str) -> String {
    format!(
        r#"#!/bin/sh
# runme-on-{name}.sh: installs the journal certificate of {name} (generated by journal-lab).
# Run as root on {name}:  sh runme-on-{name}.sh
# Installs {INSTALL_DIR}/{{{CA_FILE},{name}.pem,{name}.key}} owned by
# systemd-journal-remote:systemd-journal (files 0640, directory 0750), and points
# journal-remote.conf and journal-upload.conf at them with drop-ins.
set -eu
root="${{DESTDIR:-}}"
owner="${{OWNER:-systemd-journal-remote}}"
group="${{GROUP:-systemd-journal}}"
if ! getent passwd "$owner" >/dev/null || ! getent group "$group" >/dev/null; then
    echo "runme-on-{name}.sh: user '$owner' or group '$group' does not exist." >&2
    echo "Install systemd-journal-remote first: apt-get install systemd-journal-remote" >&2
    exit 1
fi
umask 077
dir="$root{INSTALL_DIR}"
mkdir -p "$dir"
cat > "$dir/{CA_FILE}" <<'JOURNAL_LAB_PEM'
{ca}
JOURNAL_LAB_PEM
cat > "$dir/{name}.pem" <<'JOURNAL_LAB_PEM'
{cert}
JOURNAL_LAB_PEM
cat > "$dir/{name}.key" <<'JOURNAL_LAB_PEM'
{key}
JOURNAL_LAB_PEM
chown "$owner:$group" "$dir" "$dir/{CA_FILE}" "$dir/{name}.pem" "$dir/{name}.key"
chmod 0750 "$dir"
chmod 0640 "$dir/{CA_FILE}" "$dir/{name}.pem" "$dir/{name}.key"
umask 022
[ "${{POINT_CONFIG:-yes}}" = no ] && {{ echo "runme-on-{name}.sh: installed the certificate of {name} in {INSTALL_DIR} (configuration left as it is)"; exit 0; }}
for pair in remote:Remote upload:Upload; do
    unit=${{pair%%:*}} section=${{pair#*:}}
    mkdir -p "$root/etc/systemd/journal-$unit.conf.d"
    cat > "$root/etc/systemd/journal-$unit.conf.d/50-journal-lab-certificates.conf" <<JOURNAL_LAB_CONF
[$section]
ServerKeyFile={INSTALL_DIR}/{name}.key
ServerCertificateFile={INSTALL_DIR}/{name}.pem
TrustedCertificateFile={INSTALL_DIR}/{CA_FILE}
JOURNAL_LAB_CONF
done
echo "runme-on-{name}.sh: installed the certificate of {name} in {INSTALL_DIR}"
"#,
        ca = ca_pem.trim_end(),
        cert = cert_pem.trim_end(),
        key = key_pem.trim_end(),
    )
}

#[cfg(test)]
mod tests;

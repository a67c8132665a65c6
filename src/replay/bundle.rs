//! A field bundle (the collect script's tarball), read as hostile input: only regular files
//! under `bundle/`, plain relative paths, bounded sizes and counts, and no private key anywhere
//! (a bundle holding one is refused whole, its path named, and nothing of it is used).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use crate::errors::{Error, Result};

/// Largest file read from a bundle (the collect script caps each at 1 MiB).
pub const MAX_FILE: u64 = 1024 * 1024 + 4096;
/// Largest bundle, unpacked.
pub const MAX_TOTAL: u64 = 32 * 1024 * 1024;
/// Bytes of headers (tar blocks, long names, pax records) a bundle may add to its files.
pub const MAX_HEADERS: u64 = 4 * 1024 * 1024;
/// Most characters of an entry's name shown in a message.
const SHOWN_NAME: usize = 120;
/// Most entries in a bundle.
pub const MAX_ENTRIES: usize = 256;
/// What every bundle must hold.
pub const REQUIRED: [&str; 4] = [
    "os-release",
    "systemctl-version",
    "cat-config-journal-upload.conf",
    "cat-config-journal-remote.conf",
];

/// A bundle's files, by their name below `bundle/` (`certs/upload-cert.pem`).
#[derive(Debug, Clone, Default)]
pub struct Bundle {
    pub source: PathBuf,
    pub files: BTreeMap<String, String>,
}

impl Bundle {
    /// Reads a `.tar.gz` bundle.
    pub fn read(path: &Path) -> Result<Bundle> {
        // A FIFO would hang the reader for ever, a link could lead anywhere: one opener for
        // every input file refuses both on the open itself.
        let file = crate::scenario::limits::open_regular(path).map_err(|reason| Error::Bundle {
            path: path.to_path_buf(),
            reason,
        })?;
        Bundle::from_reader(path, file)
    }

    pub fn from_reader(path: &Path, reader: impl Read) -> Result<Bundle> {
        // The archive's own bytes can reach a reason (the tar reader quotes bad headers): the
        // error's message escapes them.
        let refuse = |reason: String| Error::Bundle {
            path: path.to_path_buf(),
            reason,
        };
        // Everything the tar reader sees is bounded, headers included: a GNU long name or a pax
        // header can claim a gigabyte that a small gzip stream inflates to.
        let inflated = flate2::read::GzDecoder::new(reader).take(MAX_TOTAL + MAX_HEADERS);
        let mut archive = tar::Archive::new(inflated);
        let entries = archive.entries().map_err(|e| {
            refuse(format!(
                "not a gzip-compressed tarball ({e}); make one with the collect script"
            ))
        })?;
        let mut bundle = Bundle {
            source: path.to_path_buf(),
            files: BTreeMap::new(),
        };
        let (mut count, mut total) = (0usize, 0u64);
        for entry in entries {
            let mut entry = entry.map_err(|e| {
                refuse(format!(
                    "not a gzip-compressed tarball, or a damaged one ({e})"
                ))
            })?;
            count += 1;
            if count > MAX_ENTRIES {
                return Err(refuse(format!("more than {MAX_ENTRIES} entries")));
            }
            let name = entry
                .path()
                .map_err(|e| refuse(format!("an entry with an unreadable path ({e})")))?
                .into_owned();
            // Shown escaped (`{:?}`) and cut: a name is the bundle author's text.
            let mut shown = name.display().to_string();
            if shown.chars().count() > SHOWN_NAME {
                shown = format!("{}…", shown.chars().take(SHOWN_NAME).collect::<String>());
            }
            if name.is_absolute()
                || name
                    .components()
                    .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
            {
                return Err(refuse(format!(
                    "{shown:?}: an absolute path or `..` inside the archive; refused"
                )));
            }
            let kind = entry.header().entry_type();
            if kind.is_dir() {
                continue;
            }
            if !kind.is_file() {
                return Err(refuse(format!(
                    "{shown:?}: not a regular file (a link or device); refused"
                )));
            }
            let Ok(relative) = name.strip_prefix("bundle") else {
                return Err(refuse(format!("{shown:?} is not under bundle/")));
            };
            let size = entry.header().size().unwrap_or(u64::MAX);
            if size > MAX_FILE {
                return Err(refuse(format!(
                    "{shown:?} has {size} bytes; a bundle file has at most {MAX_FILE}"
                )));
            }
            total += size;
            if total > MAX_TOTAL {
                return Err(refuse(format!("more than {MAX_TOTAL} bytes unpacked")));
            }
            let mut bytes = Vec::new();
            (&mut entry)
                .take(MAX_FILE + 1)
                .read_to_end(&mut bytes)
                .map_err(|e| refuse(format!("{shown:?}: {e}")))?;
            let text = String::from_utf8_lossy(&bytes).into_owned();
            if holds_key(&text) {
                return Err(refuse(format!(
                    "{shown:?} holds a private key: the bundle is refused and nothing of it is \
                     used or copied; delete the bundle, and make a new one with the collect \
                     script, which never copies keys"
                )));
            }
            bundle
                .files
                .insert(relative.to_string_lossy().into_owned(), text);
        }
        let missing: Vec<&str> = REQUIRED
            .iter()
            .copied()
            .filter(|f| !bundle.files.contains_key(*f))
            .collect();
        if !missing.is_empty() {
            return Err(refuse(format!(
                "missing {}: is this a bundle from `journal-lab collect-script`?",
                missing.join(", ")
            )));
        }
        Ok(bundle)
    }

    pub fn file(&self, name: &str) -> &str {
        self.files.get(name).map_or("", String::as_str)
    }

    /// `KEY=value` of /etc/os-release.
    pub fn os(&self, key: &str) -> Option<String> {
        self.file("os-release").lines().find_map(|l| {
            let value = l.strip_prefix(key)?.strip_prefix('=')?;
            Some(value.trim_matches('"').to_string())
        })
    }

    /// The systemd version number (`systemd 252 (...)` → 252).
    pub fn systemd_version(&self) -> Option<u32> {
        self.file("systemctl-version")
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    }

    pub fn hostname(&self) -> String {
        self.file("hostname").trim().to_string()
    }

    /// `KEY=value` of `systemctl show UNIT`.
    pub fn unit_property(&self, unit: &str, key: &str) -> Option<String> {
        self.file(&format!("show-{unit}"))
            .lines()
            .find_map(|l| Some(l.strip_prefix(key)?.strip_prefix('=')?.to_string()))
    }

    /// `certs/paths`: (side, kind) → the path on the field host (and, for keys, the rest of
    /// the line: type and size).
    pub fn cert_paths(&self) -> BTreeMap<(String, String), String> {
        self.file("certs/paths")
            .lines()
            .filter_map(|l| {
                let mut words = l.splitn(3, ' ');
                let (side, kind, rest) = (words.next()?, words.next()?, words.next()?);
                Some(((side.to_string(), kind.to_string()), rest.to_string()))
            })
            .collect()
    }
}

/// The files a `systemd-analyze cat-config` or `systemctl cat` output is made of: each file's
/// `# /path` header line, then its contents as written.
pub fn sections(output: &str) -> Vec<(String, String)> {
    let mut sections: Vec<(String, String)> = Vec::new();
    for line in output.lines() {
        let header = line
            .strip_prefix("# /")
            .filter(|rest| !rest.is_empty() && !rest.contains(char::is_whitespace));
        match header {
            Some(rest) => sections.push((format!("/{rest}"), String::new())),
            None => {
                if let Some((_, content)) = sections.last_mut() {
                    content.push_str(line);
                    content.push('\n');
                }
            }
        }
    }
    // The tools separate files with one empty line.
    for (_, content) in &mut sections {
        if content.ends_with("\n\n") {
            content.pop();
        }
    }
    sections
}

/// The value of `key` in a config or unit text: the last assignment wins, an empty one resets.
pub fn last_setting(text: &str, key: &str) -> Option<String> {
    let mut value = None;
    for line in text.lines().map(str::trim) {
        if let Some(v) = line
            .strip_prefix(key)
            .and_then(|r| r.trim_start().strip_prefix('='))
        {
            let v = v.trim();
            value = (!v.is_empty()).then(|| v.to_string());
        }
    }
    value
}

/// Whether `text` holds private key material in a common form: PEM (any `PRIVATE KEY`,
/// OpenSSH's included), PuTTY's key file, a JSON Web Key with its private part.
pub fn holds_key(text: &str) -> bool {
    let jwk = text.contains("\"kty\"") && text.contains("\"d\"");
    text.contains("PRIVATE KEY-----") || text.contains("PuTTY-User-Key-File-") || jwk
}

#[cfg(test)]
mod key_tests {
    #[test]
    fn keys_in_every_common_form_are_found() {
        for key in [
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n",
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\n",
            "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\n",
            "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"a\",\"y\":\"b\",\"d\":\"secret\"}",
        ] {
            assert!(super::holds_key(key), "{key}");
        }
        assert!(
            !super::holds_key("{\"kty\":\"EC\",\"x\":\"a\"}"),
            "a public JWK"
        );
        assert!(!super::holds_key("-----BEGIN CERTIFICATE-----\n"));
    }
}

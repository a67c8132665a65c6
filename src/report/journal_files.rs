//! The servers' binary journal files, copied out of the lab as evidence: written under
//! `reports/<run-id>/journals/<host>/`, with a SHA-256 manifest in run.json, so that anyone can
//! open each with `journalctl --file` and re-verify a report offline.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Component, Path};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::errors::{Error, Result};

/// One copied journal file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema, Deserialize)]
pub struct JournalFile {
    pub host: String,
    /// Its path in the host.
    pub path: String,
    /// Where the copy is, relative to the run's directory.
    pub copy: String,
    pub bytes: u64,
    pub sha256: String,
}

/// Writes the journal files (`*.journal`, `*.journal~`) of a tar archive of `source` (a
/// directory of `host`) under `run_dir/journals/<host>/`, keeping their relative paths. Runs of
/// zeros are skipped over rather than written (journal files are allocated in 8 MiB steps and
/// mostly empty), so a copy takes the disk space of its content.
pub fn unpack(
    run_dir: &Path,
    host: &str,
    source: &str,
    archive: impl Read,
    only_remote: bool,
) -> Result<Vec<JournalFile>> {
    let base = run_dir.join("journals").join(host);
    let mut files = Vec::new();
    let mut tar = tar::Archive::new(archive);
    let entries = tar
        .entries()
        .map_err(Error::io("reading the journal archive of", base.clone()))?;
    for entry in entries {
        let mut entry = entry.map_err(Error::io("reading the journal archive of", base.clone()))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let inner = entry
            .path()
            .map_err(Error::io("reading the journal archive of", base.clone()))?
            .into_owned();
        let name = inner.to_string_lossy().into_owned();
        if !(name.ends_with(".journal") || name.ends_with(".journal~")) {
            continue;
        }
        // The archive's root is the copied directory's own name; the rest is kept as it is,
        // but only plain components, whatever the archive says.
        let relative: std::path::PathBuf = inner
            .components()
            .skip(1)
            .filter_map(|c| match c {
                Component::Normal(part) => Some(part),
                _ => None,
            })
            .collect();
        // `--journals=remote`: what arrived from the clients, not the server's own journal.
        if only_remote && !relative.starts_with("remote") {
            continue;
        }
        let target = base.join(&relative);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(Error::io("creating", parent))?;
        }
        let (bytes, sha256) = write_sparse(&mut entry, &target)?;
        files.push(JournalFile {
            host: host.to_string(),
            path: format!("{}/{}", source.trim_end_matches('/'), relative.display()),
            copy: target
                .strip_prefix(run_dir)
                .unwrap_or(&target)
                .display()
                .to_string(),
            bytes,
            sha256,
        });
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// Copies `reader` to `path`, seeking over blocks of zeros; returns its length and SHA-256.
fn write_sparse(reader: &mut impl Read, path: &Path) -> Result<(u64, String)> {
    let mut file = std::fs::File::create(path).map_err(Error::io("creating", path))?;
    let mut hash = Sha256::new();
    let mut block = vec![0u8; 64 * 1024];
    let mut length = 0u64;
    loop {
        let n = read_full(reader, &mut block).map_err(Error::io("copying into", path))?;
        if n == 0 {
            break;
        }
        hash.update(&block[..n]);
        if block[..n].iter().all(|b| *b == 0) {
            file.seek(SeekFrom::Current(n as i64))
                .map_err(Error::io("writing", path))?;
        } else {
            file.write_all(&block[..n])
                .map_err(Error::io("writing", path))?;
        }
        length += n as u64;
    }
    // A file that ends in zeros gets its full length.
    file.set_len(length).map_err(Error::io("writing", path))?;
    let digest = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Ok((length, digest))
}

/// Reads until `buffer` is full or the input ends.
fn read_full(reader: &mut impl Read, buffer: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match reader.read(&mut buffer[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archive(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, content) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(content.len() as u64);
            header.set_mode(0o640);
            header.set_entry_type(tar::EntryType::Regular);
            builder.append_data(&mut header, path, *content).unwrap();
        }
        builder.into_inner().unwrap()
    }

    #[test]
    fn journal_files_are_copied_whole_with_their_hashes() {
        let run = tempfile::tempdir().unwrap();
        let mut big = vec![0u8; 300 * 1024];
        big[0..4].copy_from_slice(b"LPKS");
        big[200_000] = 7;
        let tar = archive(&[
            ("journal/remote/remote-1.journal", &big),
            ("journal/abc/system.journal", b"LPKSHHRH"),
            ("journal/abc/notes.txt", b"not a journal"),
        ]);
        let files = unpack(
            run.path(),
            "server",
            "/var/log/journal",
            tar.as_slice(),
            false,
        )
        .unwrap();
        assert_eq!(files.len(), 2, "{files:?}");
        // `--journals=remote`: only what arrived.
        let only = tempfile::tempdir().unwrap();
        let remote_only = unpack(
            only.path(),
            "server",
            "/var/log/journal",
            tar.as_slice(),
            true,
        )
        .unwrap();
        assert_eq!(remote_only.len(), 1, "{remote_only:?}");
        assert_eq!(
            remote_only[0].copy,
            "journals/server/remote/remote-1.journal"
        );
        let remote = &files[1];
        assert_eq!(remote.path, "/var/log/journal/remote/remote-1.journal");
        assert_eq!(remote.copy, "journals/server/remote/remote-1.journal");
        let copied = std::fs::read(run.path().join(&remote.copy)).unwrap();
        assert_eq!(copied, big, "the copy is the file, zeros included");
        let expected: String = Sha256::digest(&big)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            (remote.bytes, remote.sha256.as_str()),
            (big.len() as u64, expected.as_str())
        );
    }

    #[test]
    fn paths_in_the_archive_cannot_leave_the_copy_directory() {
        let run = tempfile::tempdir().unwrap();
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(3);
        header.set_entry_type(tar::EntryType::Regular);
        // `set_path` refuses `..`; write the name bytes directly, as a hostile archive would.
        header.as_old_mut().name[..27].copy_from_slice(b"journal/../../evil.journal\0");
        header.set_cksum();
        builder.append(&header, &b"abc"[..]).unwrap();
        let tar = builder.into_inner().unwrap();
        let files = unpack(
            run.path(),
            "server",
            "/var/log/journal",
            tar.as_slice(),
            false,
        )
        .unwrap();
        assert_eq!(files[0].copy, "journals/server/evil.journal");
        assert!(run.path().join("journals/server/evil.journal").exists());
    }
}

//! Journal integrity steps: `setup-sealing` (Forward Secure Sealing keys, a rotation so the new
//! file is sealed, `Seal=yes` for journal-remote on servers), `rotate` (stable files to verify),
//! and `tamper` (damage a journal file as an intruder would).
//!
//! The sealing key never leaves its host. The verification key is kept in the run's private
//! directory and in memory for the checks; a report carries only its fingerprint.

use std::path::Path;

use sha2::{Digest, Sha256};

use super::super::{Deadlines, Host, Lab};
use super::RunState;
use crate::checks::history::What;
use crate::checks::{Sealing, Tampered};
use crate::domain::{Role, REMOTE_UNIT};
use crate::errors::{Error, Result};
use crate::journal;
use crate::scenario::Tampering;

/// What journal-remote reads to seal its output (journal-remote.conf(5) `Seal=`).
const REMOTE_SEAL_DROP_IN: &str = "/etc/systemd/journal-remote.conf.d/60-journal-lab-seal.conf";

/// The script that sets up sealing on a host and prints the verification key last.
fn setup_script(role: Role, interval: &str) -> String {
    let mut script = format!(
        "key=$(journalctl --setup-keys --force --interval={interval} 2>/tmp/journal-lab-setup-keys.err) \
         || {{ cat /tmp/journal-lab-setup-keys.err >&2; exit 1; }}\n\
         set -e\n\
         journalctl --rotate\n"
    );
    if role == Role::Server {
        // New remote files are created sealed only if Seal=yes is set when they are opened:
        // journal-remote is stopped (its socket stays) and its current files are set aside.
        script.push_str(&format!(
            "mkdir -p {dir}\n\
             printf '[Remote]\\nSeal=yes\\n' > {REMOTE_SEAL_DROP_IN}\n\
             systemctl stop {REMOTE_UNIT}\n\
             for f in {remote}/remote-*.journal; do [ -e \"$f\" ] || continue; mv \"$f\" \"{remote}/presealing-${{f##*/}}\"; done\n",
            dir = Path::new(REMOTE_SEAL_DROP_IN)
                .parent()
                .map(|d| d.display().to_string())
                .unwrap_or_default(),
            remote = journal::REMOTE_DIR,
        ));
    }
    script.push_str("echo \"verification-key: $key\"\n");
    script
}

/// `journalctl --setup-keys` prints `SEED/START-INTERVAL` in hex.
fn parse_key(output: &str) -> Option<String> {
    let key = output
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("verification-key: "))?
        .trim();
    let (seed, rest) = key.split_once('/')?;
    let (start, interval) = rest.split_once('-')?;
    let hex = |s: &str, extra: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_hexdigit() || extra.contains(c))
    };
    (hex(seed, "-") && hex(start, "") && hex(interval, "")).then(|| key.to_string())
}

/// A short, stable name for a key that says nothing of it: the first 16 hex digits of its SHA-256.
pub fn fingerprint(key: &str) -> String {
    Sha256::digest(key.as_bytes())
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub(super) async fn setup(
    lab: &Lab,
    hosts: &[&Host],
    interval: &str,
    state: &mut RunState,
    deadlines: &Deadlines,
) -> Result<()> {
    let runs = hosts.iter().map(|host| async move {
        let script = setup_script(host.role, interval);
        let out = lab
            .exec_ok(host, &script, deadlines.command)
            .await
            .map_err(with_gcrypt_hint)?;
        let key = parse_key(&out.stdout).ok_or_else(|| Error::HostCommand {
            host: host.name.clone(),
            command: "journalctl --setup-keys".into(),
            exit_code: out.exit_code,
            output: "no verification key in its output (is journald built with +GCRYPT?)".into(),
        })?;
        Ok::<_, Error>((host.name.clone(), key))
    });
    for (host, key) in futures::future::try_join_all(runs).await? {
        if let Some(dir) = &state.private_dir {
            keep_private(&dir.join("sealing"), &host, &key)?;
        }
        let sealing = Sealing {
            fingerprint: fingerprint(&key),
            verification_key: key,
            interval: interval.to_string(),
        };
        state
            .history
            .record(&host, What::SealingSetUp(sealing), false);
    }
    Ok(())
}

/// systemd ≥ 257 loads libgcrypt only when sealing needs it: without the library, key generation
/// says "Operation not supported". Name the fix.
fn with_gcrypt_hint(error: Error) -> Error {
    match error {
        Error::HostCommand {
            host,
            command,
            exit_code,
            output,
        } if output.contains("Operation not supported") => Error::HostCommand {
            host,
            command,
            exit_code,
            output: format!(
                "{output}\n(this journalctl cannot make sealing keys: systemd 257 and later load \
                 libgcrypt at run time; install it on the host, e.g. `packages: [libgcrypt20]` in \
                 the scenario)"
            ),
        },
        other => other,
    }
}

/// Writes a verification key where only this user can read it.
fn keep_private(dir: &Path, host: &str, key: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(Error::io("creating", dir))?;
    let path = dir.join(format!("{host}.verification-key"));
    crate::pki::create_with_mode(&path, 0o600)?
        .write_all(format!("{key}\n").as_bytes())
        .map_err(Error::io("writing", &path))
}

pub(super) async fn rotate(lab: &Lab, hosts: &[&Host], deadlines: &Deadlines) -> Result<()> {
    let runs = hosts.iter().map(|host| {
        let mut script = String::from("journalctl --rotate 2>&1");
        if host.role == Role::Server {
            script.push_str(&format!(" && systemctl stop {REMOTE_UNIT} 2>&1"));
        }
        async move { lab.exec_ok(host, &script, deadlines.command).await }
    });
    futures::future::try_join_all(runs).await?;
    Ok(())
}

/// The script that damages a journal file and says which and where: `tampered FILE at OFFSET`.
/// A remote file is set aside (`tampered-*`) first, so the restarted journal-remote opens a new
/// one and the damaged file stays as it was left.
fn tamper_script(journal: &str, how: Tampering, needle: &str) -> String {
    let remote = journal::REMOTE_DIR;
    let pick = match journal {
        "system" => "journalctl --rotate >/dev/null\nf=$(ls -t /var/log/journal/*/system@*.journal 2>/dev/null | head -n 1)".to_string(),
        "remote" => format!(
            "systemctl stop {REMOTE_UNIT}\n\
             f=$(ls -t {remote}/remote-*.journal 2>/dev/null | head -n 1)\n\
             if [ -n \"$f\" ]; then mv \"$f\" \"{remote}/tampered-${{f##*/}}\"; f=\"{remote}/tampered-${{f##*/}}\"; fi"
        ),
        path => format!("f={}", journal::shell_quote(path)),
    };
    let damage = match how {
        // The needle's last byte, inside the message's payload.
        Tampering::Overwrite => "at=$((off + ${#needle} - 1))\nprintf X | dd of=\"$f\" bs=1 seek=\"$at\" conv=notrunc 2>/dev/null",
        Tampering::Truncate => "at=$off\ntruncate -s \"$at\" \"$f\"",
    };
    format!(
        "set -e\n{pick}\n\
         [ -n \"$f\" ] && [ -f \"$f\" ] || {{ echo \"no journal file to tamper with ({journal})\" >&2; exit 1; }}\n\
         needle={needle}\n\
         off=$(grep -obUa -- \"$needle\" \"$f\" | tail -n 1 | cut -d: -f1)\n\
         if [ -z \"$off\" ]; then needle=MESSAGE=; off=$(grep -obUa -- \"$needle\" \"$f\" | tail -n 1 | cut -d: -f1); fi\n\
         [ -n \"$off\" ] || {{ echo \"nothing logged in $f to tamper with\" >&2; exit 1; }}\n\
         {damage}\n\
         echo \"tampered $f at $at\"\n",
        needle = journal::shell_quote(needle),
    )
}

pub(super) async fn tamper(
    lab: &Lab,
    host: &Host,
    journal: &str,
    how: Tampering,
    state: &mut RunState,
    deadlines: &Deadlines,
) -> Result<Tampered> {
    // The run's markers are in every journal the lab writes to: damage one's message (the
    // marker's text is also in logger's _CMDLINE field, which would leave the message intact).
    let needle = format!("MESSAGE=journal-lab marker run={}", lab.run_id());
    let out = lab
        .exec_ok(
            host,
            &tamper_script(journal, how, &needle),
            deadlines.command,
        )
        .await?;
    let (file, offset) = out
        .stdout
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("tampered "))
        .and_then(|l| l.rsplit_once(" at "))
        .ok_or_else(|| Error::HostCommand {
            host: host.name.clone(),
            command: format!("tamper {journal}"),
            exit_code: out.exit_code,
            output: out.combined(),
        })?;
    let tampered = Tampered {
        file: file.to_string(),
        offset: offset.trim().parse().unwrap_or(0),
        how: format!("{how:?}").to_lowercase(),
    };
    state
        .history
        .record(&host.name, What::Tampered(tampered.clone()), false);
    Ok(tampered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_verification_key_is_read_and_only_its_fingerprint_shown() {
        let out =
            "Generating seed...\nverification-key: 2e3e47-82afb0-70b306-406744/ab3b7b6-989680\n";
        let key = parse_key(out).unwrap();
        assert_eq!(key, "2e3e47-82afb0-70b306-406744/ab3b7b6-989680");
        let print = fingerprint(&key);
        assert_eq!(print.len(), 16);
        assert!(!key.contains(&print) && !print.contains("2e3e47"));
        assert_eq!(parse_key("verification-key: \n"), None);
        assert_eq!(parse_key("verification-key: zz/1-2\n"), None);
    }

    #[test]
    fn servers_seal_journal_remote_and_set_its_open_files_aside() {
        let server = setup_script(Role::Server, "10s");
        assert!(server.contains("--interval=10s") && server.contains("Seal=yes"));
        assert!(server.contains("presealing-"));
        assert!(!setup_script(Role::Client, "10s").contains("Seal=yes"));
    }

    /// The tamper script, run here on a file standing in for a journal: one byte of the last
    /// marker changes, or the file ends where that marker starts.
    #[test]
    fn tampering_changes_the_last_marker_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("x.journal");
        let content = b"\0\0MESSAGE=a\0journal-lab marker run=jl-1 host=a\0MESSAGE=b\0journal-lab marker run=jl-1 host=b\0\0";
        let needle = b"journal-lab marker run=jl-1";
        let last = content
            .windows(needle.len())
            .rposition(|w| w == needle)
            .unwrap();
        let mut overwritten = content.to_vec();
        overwritten[last + needle.len() - 1] = b'X';
        for (how, expect) in [
            (Tampering::Overwrite, overwritten),
            (Tampering::Truncate, content[..last].to_vec()),
        ] {
            std::fs::write(&file, content).unwrap();
            let script = tamper_script(file.to_str().unwrap(), how, "journal-lab marker run=jl-1");
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(&script)
                .output()
                .unwrap();
            assert!(out.status.success(), "{out:?}");
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                stdout.starts_with(&format!("tampered {} at ", file.display())),
                "{stdout}"
            );
            assert_eq!(std::fs::read(&file).unwrap(), expect, "{how:?}");
        }
        let missing = tamper_script("/nonexistent/x.journal", Tampering::Overwrite, "n");
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(&missing)
            .output()
            .unwrap();
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("no journal file"));
    }
}

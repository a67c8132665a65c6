//! systemd's own complaints about the journal units and their configuration, as results: a key
//! it does not know, a section it does not know, a value it cannot parse. Each is a line systemd
//! logs and then goes on without (`... ignoring`), so a typo'd `ServerCertificateFle=` leaves a
//! unit running with its compiled-in default and nothing else says so.
//!
//! Read from the host's journal since boot (PID 1 on units and drop-ins when it loads them; each
//! program on its own configuration when it starts) and from `systemd-analyze verify` of the
//! journal units. Recorded wording, bookworm (systemd 252):
//! `/etc/systemd/journal-upload.conf:3: Unknown key 'ServerCertificateFle' in section [Upload], ignoring.`,
//! `/etc/systemd/journal-upload.conf:4: Unknown section 'Uplaod'. Ignoring.`,
//! `/etc/systemd/journal-remote.conf:3: Failed to parse split mode setting, ignoring: hots`;
//! older releases say `Unknown key name 'X' in section 'Y'` or `Unknown lvalue`.

use super::judged_by;

use super::{CheckId, Entry, Family, Target, Verdict};
use crate::domain::Status;

impl CheckId {
    pub const CONFIG_PARSES_CLEANLY: CheckId = CheckId("config-parses-cleanly");
}

pub const FAMILY: Family = Family {
    name: "config",
    entries: &[Entry::new(
        CheckId::CONFIG_PARSES_CLEANLY,
        "systemd parses the journal units and their configuration without a complaint",
        "no unknown key, unknown section or value that cannot be parsed in journal-remote.conf, \
         journal-upload.conf, journald.conf, the journal units, their sockets or drop-ins",
        None,
        "systemd.syntax(7); journal-remote.conf(5), journal-upload.conf(5), journald.conf(5)",
        judged_by!(parses_cleanly),
    )],
};

/// The journal units whose files `systemd-analyze verify` reads.
const UNITS: &str = "systemd-journal-remote.service systemd-journal-remote.socket \
                     systemd-journal-upload.service systemd-journald.service";

/// Every `PATH:LINE: message` line about a file whose path names the journal (journal-remote,
/// journal-upload, journald, gatewayd and their units and drop-ins), from the journal since boot
/// and from `systemd-analyze verify` of the journal units that exist, each once; then how many
/// lines were read ([`READ`]): a probe that read nothing has not shown that systemd said nothing.
fn warnings_command() -> String {
    format!(
        "{{ journalctl -b -o cat --no-pager 2>/dev/null; \
         for u in {UNITS}; do systemctl cat \"$u\" >/dev/null 2>&1 && systemd-analyze verify --man=no \"$u\" 2>&1; done; }} \
         | awk '/^\\/[^ :]*journal[^ :]*:[0-9]+: / && !seen[$0]++ {{ print }} END {{ print \"{READ}\" NR }}'"
    )
}

/// The last line of [`warnings_command`]'s output, before the number of lines it read.
const READ: &str = "=== lines read: ";

async fn parses_cleanly(
    _: &Entry,
    target: &Target<'_>,
    evidence: &mut Vec<String>,
) -> crate::Result<Verdict> {
    let output = target.probe(&warnings_command(), evidence).await?;
    Ok(parse_verdict(&output.stdout, &target.sources))
}

/// One complaint of systemd's about a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Complaint {
    pub path: String,
    pub line: usize,
    pub message: String,
}

/// The complaints among `output`'s lines: `PATH:LINE: message` where the message is one systemd
/// writes when it goes on without a setting (an unknown key, lvalue or section, a value it could
/// not parse, or something invalid that it ignored).
pub fn complaints(output: &str) -> Vec<Complaint> {
    const SAID: &[&str] = &[
        "Unknown key",
        "Unknown section",
        "Unknown lvalue",
        "Failed to parse",
    ];
    let mut found: Vec<Complaint> = output
        .lines()
        .filter_map(|line| {
            let (path, rest) = line.split_once(':')?;
            let (number, message) = rest.split_once(": ")?;
            let message = message.trim();
            let ignored = message.to_ascii_lowercase().contains("ignor");
            let complaint = SAID.iter().any(|s| message.contains(s))
                || (message.contains("Invalid") && ignored);
            (path.starts_with('/') && complaint)
                .then(|| {
                    Some(Complaint {
                        path: path.to_string(),
                        line: number.parse().ok()?,
                        message: message.to_string(),
                    })
                })
                .flatten()
        })
        .collect();
    found.sort_by(|a, b| (&a.path, a.line, &a.message).cmp(&(&b.path, b.line, &b.message)));
    found.dedup();
    found
}

/// The verdict on `output` (see [`warnings_command`]): a pass when systemd complained of nothing;
/// else a failure naming each file, line and complaint, and for a file of the user's (`sources`:
/// the host path and where it was read from) their own file and line.
pub fn parse_verdict(output: &str, sources: &[(&str, String)]) -> Verdict {
    let read = output
        .lines()
        .find_map(|line| line.strip_prefix(READ)?.trim().parse::<u64>().ok());
    if read.unwrap_or(0) == 0 {
        return (
            Status::NotVerifiable,
            "nothing was read of the journal since boot (nor from systemd-analyze verify): \
             systemd's complaints cannot be ruled out"
                .into(),
        );
    }
    let found = complaints(output);
    if found.is_empty() {
        return (
            Status::Pass,
            "systemd complained of nothing in the journal units or their configuration since boot"
                .into(),
        );
    }
    let said: Vec<String> = found
        .iter()
        .map(|c| {
            let yours = sources
                .iter()
                .find(|(path, _)| *path == c.path)
                .map(|(_, source)| format!(" {}", super::knobs::yours(source, c.line)))
                .unwrap_or_default();
            format!("{}:{}{yours}: {}", c.path, c.line, c.message)
        })
        .collect();
    (
        Status::Fail,
        format!(
            "systemd went on without {} setting{} it could not use: {}",
            found.len(),
            if found.len() == 1 { "" } else { "s" },
            said.join("; ")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Recorded on bookworm (systemd 252): journal-upload on its configuration, PID 1's
    /// `systemd-analyze verify` on a drop-in, journald on its own; a man-page line and a line
    /// that is no complaint do not count; the user's file and line are named where known.
    #[test]
    fn each_complaint_is_a_failure_at_the_users_file_and_line() {
        let recorded = "\
/etc/systemd/journal-upload.conf:3: Unknown key 'ServerCertificateFle' in section [Upload], ignoring.
/etc/systemd/journal-upload.conf:4: Unknown section 'Uplaod'. Ignoring.
/etc/systemd/system/systemd-journal-upload.service.d/70.conf:3: Failed to parse service restart specifier, ignoring: sometimes
/etc/systemd/journald.conf:2: Unknown key name 'Storag' in section 'Journal', ignoring.
/etc/systemd/journal-remote.conf:7: Unknown lvalue 'Foo' in section 'Remote'
/etc/systemd/journal-upload.conf:9: Processing input...
/etc/systemd/journal-remote.conf:8: Invalid URL, refusing to start
/usr/share/man: Command 'man systemd-journal-upload(8)' failed with code 1
=== lines read: 812
";
        let found = complaints(recorded);
        assert_eq!(
            found
                .iter()
                .map(|c| (c.path.as_str(), c.line))
                .collect::<Vec<_>>(),
            [
                ("/etc/systemd/journal-remote.conf", 7),
                ("/etc/systemd/journal-upload.conf", 3),
                ("/etc/systemd/journal-upload.conf", 4),
                ("/etc/systemd/journald.conf", 2),
                (
                    "/etc/systemd/system/systemd-journal-upload.service.d/70.conf",
                    3
                ),
            ],
            "a status line, an Invalid that was not ignored and a man-page line are not complaints"
        );
        let sources = [(
            "/etc/systemd/journal-upload.conf",
            "ci/journal-lab/client/journal-upload.conf".to_string(),
        )];
        let (status, observed) = parse_verdict(recorded, &sources);
        assert_eq!(status, Status::Fail);
        assert!(
            observed.starts_with("systemd went on without 5 settings"),
            "{observed}"
        );
        assert!(
            observed.contains(
                "/etc/systemd/journal-upload.conf:3 (your ci/journal-lab/client/journal-upload.conf:3): \
                 Unknown key 'ServerCertificateFle' in section [Upload], ignoring."
            ),
            "{observed}"
        );
        assert_eq!(
            crate::checks::knobs::your_locations(&observed),
            [
                ("ci/journal-lab/client/journal-upload.conf".to_string(), 3),
                ("ci/journal-lab/client/journal-upload.conf".to_string(), 4)
            ],
            "what the verdict names, read back for SARIF"
        );
        let (status, _) = parse_verdict("=== lines read: 240\n", &sources);
        assert_eq!(status, Status::Pass);
    }

    /// Nothing read is not "nothing said": an empty output, or a probe that read no line, is
    /// not a pass.
    #[test]
    fn a_probe_that_read_nothing_is_not_a_pass() {
        for output in ["", "=== lines read: 0\n", "=== lines read: \n"] {
            assert_eq!(
                parse_verdict(output, &[]).0,
                Status::NotVerifiable,
                "{output:?}"
            );
        }
    }

    /// The probe as the lab runs it, on a host whose journal is a script's: each complaint once,
    /// other lines left out, the count of what was read last.
    #[test]
    fn the_probe_keeps_each_complaint_once_and_counts_what_it_read() {
        let bin = tempfile::tempdir().unwrap();
        let script = |name: &str, body: &str| {
            let path = bin.path().join(name);
            std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
            std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755))
                .unwrap();
        };
        script(
            "journalctl",
            "printf '%s\\n' 'Started x.' '/etc/systemd/journald.conf:2: Unknown key' '/etc/systemd/journald.conf:2: Unknown key' 'Stopped x.'",
        );
        script("systemctl", "exit 1");
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(warnings_command())
            .env("PATH", format!("{}:/usr/bin:/bin", bin.path().display()))
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "/etc/systemd/journald.conf:2: Unknown key\n=== lines read: 4\n"
        );
    }
}

//! Journal integrity: Forward Secure Sealing on the hosts' journals and on the server's remote
//! journals, verification of what is sealed, and detection of tampering.
//!
//! Verification runs only on stable files (archived, or not being written): a journal being
//! written can fail `--verify` for no fault of its own (systemd#27532, #1386). The verification
//! key is passed to the host for the command and replaced by its fingerprint in the evidence.

use super::{judged_by, or_verdict};

use super::{CheckId, Entry, Family, Target, Verdict};
use crate::domain::{ExecOutput, Role, Status, REMOTE_UNIT};

/// No public rule catalog covers sealing (ComplianceAsCode's journald group has Storage=,
/// Compress= and ForwardToSyslog=, none for Seal=), so the references are systemd's own.
const FSS_DOC: &str = "journald.conf(5) Seal=; journalctl(1) --setup-keys, --verify (no ComplianceAsCode or CIS rule covers sealing)";
const REMOTE_SEAL_DOC: &str = "journal-remote.conf(5) Seal=; systemd#35595";

impl CheckId {
    pub const JOURNAL_SEALED: CheckId = CheckId("journal-sealed");
    pub const JOURNAL_VERIFIES: CheckId = CheckId("journal-verifies");
    pub const TAMPER_DETECTED: CheckId = CheckId("tamper-detected");
    pub const REMOTE_JOURNAL_SEALED: CheckId = CheckId("remote-journal-sealed");
}

pub const FAMILY: Family = Family {
    name: "integrity",
    entries: &[
        Entry::new(
            CheckId::JOURNAL_SEALED,
            "The host's journal is sealed",
            "journalctl --header of the current system journal shows the SEALED flag",
            None,
            FSS_DOC,
            judged_by!(journal_sealed),
        ),
        Entry::new(
            CheckId::JOURNAL_VERIFIES,
            "The sealed journal verifies",
            "journalctl --verify --verify-key passes on every stable sealed journal file",
            None,
            FSS_DOC,
            judged_by!(journal_verifies),
        ),
        Entry::new(
            CheckId::TAMPER_DETECTED,
            "Tampering with a journal is detected",
            "journalctl --verify fails on each tampered file and names where",
            None,
            FSS_DOC,
            judged_by!(tamper_detected),
        ),
        Entry::new(
            CheckId::REMOTE_JOURNAL_SEALED,
            "The server's remote journals are sealed",
            "every remote-*.journal under /var/log/journal/remote has the SEALED flag",
            Some(Role::Server),
            REMOTE_SEAL_DOC,
            judged_by!(remote_journal_sealed),
        ),
    ],
};

/// Prints a section per file: `=== KIND FILE`, what the command said, `=== exit N`.
const SEALED_TEST: &str =
    "journalctl --header --file \"$f\" 2>/dev/null | grep -q '^Compatible flags:.*SEALED'";

/// The host's sealing key, as a verification command takes it (`secret`) and as evidence
/// shows it (`shown`, its fingerprint).
struct SealingKey {
    secret: String,
    shown: String,
}

/// The sealing set up on the host, or the verdict of a check that needs one.
fn sealing_key(target: &Target<'_>) -> Result<SealingKey, Verdict> {
    let sealing = target.observer.history().sealing(target.host).ok_or((
        Status::NotApplicable,
        "no sealing was set up on this host (a setup-sealing step must come first)".into(),
    ))?;
    Ok(SealingKey {
        shown: super::recorded::stand_in(&sealing.fingerprint),
        secret: sealing.verification_key,
    })
}

async fn journal_sealed(
    _: &Entry,
    target: &Target<'_>,
    evidence: &mut Vec<String>,
) -> crate::Result<Verdict> {
    let command = "for f in /var/log/journal/*/system.journal; do \
         journalctl --header --file \"$f\" 2>&1 | grep -E '^(File path|State|Compatible flags):'; done";
    Ok(sealed_verdict(&target.probe(command, evidence).await?))
}

async fn remote_journal_sealed(
    _: &Entry,
    target: &Target<'_>,
    evidence: &mut Vec<String>,
) -> crate::Result<Verdict> {
    let command = format!(
        "for f in /var/log/journal/remote/remote-*.journal; do [ -e \"$f\" ] || continue; \
         echo \"=== $f\"; journalctl --header --file \"$f\" 2>&1 | grep -E '^(State|Compatible flags):'; done; \
         echo '=== log'; journalctl -u {REMOTE_UNIT} -o cat --no-pager | grep -iE 'fss|seal' | tail -n 5"
    );
    Ok(remote_sealed_verdict(
        &target.probe(&command, evidence).await?,
    ))
}

async fn journal_verifies(
    _: &Entry,
    target: &Target<'_>,
    evidence: &mut Vec<String>,
) -> crate::Result<Verdict> {
    let SealingKey { secret, shown } = or_verdict!(sealing_key(target));
    let remote = if target.role == Role::Server {
        " /var/log/journal/remote/*.journal"
    } else {
        ""
    };
    let command = format!(
        "for f in /var/log/journal/*/system@*.journal{remote}; do [ -e \"$f\" ] || continue; \
         if ! {SEALED_TEST}; then echo \"=== unsealed $f\"; continue; fi; \
         if journalctl --header --file \"$f\" 2>/dev/null | grep -q '^State: *ONLINE'; then echo \"=== online $f\"; continue; fi; \
         echo \"=== verify $f\"; journalctl --verify --verify-key='{{secret}}' --file=\"$f\" 2>&1; echo \"=== exit $?\"; done"
    );
    Ok(verifies_verdict(
        &target
            .probe_secret(&command, &secret, &shown, evidence)
            .await?,
    ))
}

async fn tamper_detected(
    _: &Entry,
    target: &Target<'_>,
    evidence: &mut Vec<String>,
) -> crate::Result<Verdict> {
    let SealingKey { secret, shown } = or_verdict!(sealing_key(target));
    let tampered = target
        .observer
        .history()
        .tampered()
        .remove(target.host)
        .unwrap_or_default();
    if tampered.is_empty() {
        return Ok((
            Status::NotApplicable,
            "no tamper step damaged a journal on this host".into(),
        ));
    }
    let mut verdicts = Vec::new();
    for file in &tampered {
        evidence.push(format!(
            "tampered: {} at byte {} ({})",
            file.file, file.offset, file.how
        ));
        let command = format!(
            "f={}; if [ ! -e \"$f\" ]; then echo \"=== missing $f\"; \
             elif {SEALED_TEST}; then echo \"=== sealed $f\"; journalctl --verify --verify-key='{{secret}}' --file=\"$f\" 2>&1; echo \"=== exit $?\"; \
             else echo \"=== unsealed $f\"; journalctl --verify --file=\"$f\" 2>&1; echo \"=== exit $?\"; fi",
            crate::journal::shell_quote(&file.file)
        );
        let out = target
            .probe_secret(&command, &secret, &shown, evidence)
            .await?;
        verdicts.push(tamper_verdict(&file.file, &out));
    }
    Ok(combine(verdicts))
}

/// The worst of several verdicts (fail over not-verifiable over pass), their texts joined.
fn combine(verdicts: Vec<Verdict>) -> Verdict {
    let rank = |s: Status| match s {
        Status::Fail | Status::Error => 0,
        Status::NotVerifiable => 1,
        _ => 2,
    };
    let status = verdicts
        .iter()
        .map(|v| v.0)
        .min_by_key(|s| rank(*s))
        .unwrap_or(Status::NotVerifiable);
    let text: Vec<String> = verdicts.into_iter().map(|v| v.1).collect();
    (status, text.join("; "))
}

/// `journalctl --header` lines of the current system journal.
pub fn sealed_verdict(output: &ExecOutput) -> Verdict {
    let flags: Vec<&str> = output
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("Compatible flags:"))
        .map(str::trim)
        .collect();
    match flags.as_slice() {
        [] => (
            Status::Fail,
            format!(
                "no system journal header could be read: {}",
                output.combined()
            ),
        ),
        flags
            if flags
                .iter()
                .all(|f| f.split_whitespace().any(|w| w == "SEALED")) =>
        {
            (Status::Pass, "the current system journal is SEALED".into())
        }
        flags => (
            Status::Fail,
            format!(
                "the current system journal is not sealed (compatible flags: {:?})",
                flags.join(" | ")
            ),
        ),
    }
}

/// One `=== KIND FILE` section of a per-file script, with what was printed and the exit status.
#[derive(Debug, PartialEq)]
struct Section<'a> {
    kind: &'a str,
    file: &'a str,
    lines: Vec<&'a str>,
    exit: Option<i64>,
}

fn sections(output: &str) -> Vec<Section<'_>> {
    let mut sections: Vec<Section> = Vec::new();
    for line in output.lines() {
        if let Some(rest) = line.strip_prefix("=== ") {
            if let Some(code) = rest.strip_prefix("exit ") {
                if let Some(last) = sections.last_mut() {
                    last.exit = code.trim().parse().ok();
                }
                continue;
            }
            let (kind, file) = rest.split_once(' ').unwrap_or((rest, ""));
            sections.push(Section {
                kind,
                file,
                lines: Vec::new(),
                exit: None,
            });
        } else if let Some(last) = sections.last_mut() {
            last.lines.push(line);
        }
    }
    sections
}

/// Every stable sealed file must verify; unsealed and still-written files are said, not judged.
pub fn verifies_verdict(output: &ExecOutput) -> Verdict {
    let sections = sections(&output.stdout);
    let verified: Vec<&Section> = sections.iter().filter(|s| s.kind == "verify").collect();
    let failed: Vec<&&Section> = verified.iter().filter(|s| s.exit != Some(0)).collect();
    let passed = verified.len() - failed.len();
    let skipped = format!(
        "{} unsealed, {} being written",
        sections.iter().filter(|s| s.kind == "unsealed").count(),
        sections.iter().filter(|s| s.kind == "online").count()
    );
    if let Some(first) = failed.first() {
        let why = first
            .lines
            .iter()
            .find(|l| l.contains("FAIL") || l.contains("corruption"))
            .unwrap_or(&"");
        return (
            Status::Fail,
            format!(
                "{} of {} sealed files FAIL verification: {} ({})",
                failed.len(),
                verified.len(),
                first.file,
                why.trim()
            ),
        );
    }
    if passed == 0 {
        return (
            Status::NotVerifiable,
            format!(
                "no stable sealed journal file to verify ({skipped}): rotate after setup-sealing"
            ),
        );
    }
    (
        Status::Pass,
        format!("{passed} sealed file(s) verify with the key (not judged: {skipped})"),
    )
}

/// What `journalctl --verify` says when a file's content does not hold: only these count as a
/// detection (a wrong key or a missing file also fails, and proves nothing).
const CORRUPTION: &[&str] = &[
    "File corruption detected",
    "Bad message",
    "Invalid",
    "failed verification",
    "tag failed",
];

/// After a tamper step: verification must fail on the file, saying the file is corrupt.
pub fn tamper_verdict(file: &str, output: &ExecOutput) -> Verdict {
    let Some(section) = sections(&output.stdout)
        .into_iter()
        .find(|s| s.file == file)
    else {
        return (
            Status::NotVerifiable,
            format!("{file}: verification printed nothing about it"),
        );
    };
    let sealed = section.kind == "sealed";
    match (section.kind, section.exit) {
        ("missing", _) => (
            Status::NotVerifiable,
            format!("{file} is gone: its writer may have set it aside"),
        ),
        (_, Some(0)) => (
            Status::Fail,
            format!("the tampered file {file} still VERIFIES: the damage went unnoticed"),
        ),
        (_, Some(_)) => {
            // The line that names file and position first, else any word of corruption.
            let named = CORRUPTION
                .iter()
                .find_map(|word| section.lines.iter().find(|l| l.contains(word)));
            match named {
                Some(line) if sealed => (Status::Pass, format!("detected: {}", line.trim())),
                Some(line) => (
                    Status::Pass,
                    format!(
                        "detected by the file's hashes alone (it is not sealed, so a rewrite that \
                         also fixes the hashes would pass): {}",
                        line.trim()
                    ),
                ),
                None => (
                    Status::NotVerifiable,
                    format!(
                        "verification of {file} failed without naming corruption: {}",
                        section.lines.join(" ").trim()
                    ),
                ),
            }
        }
        _ => (
            Status::NotVerifiable,
            format!("{file}: verification did not finish"),
        ),
    }
}

/// Remote journal headers and journal-remote's words about sealing.
pub fn remote_sealed_verdict(output: &ExecOutput) -> Verdict {
    let sections = sections(&output.stdout);
    let files: Vec<&Section> = sections.iter().filter(|s| s.kind != "log").collect();
    let log: Vec<&str> = sections
        .iter()
        .filter(|s| s.kind == "log")
        .flat_map(|s| s.lines.iter().copied())
        .collect();
    // A section's kind is the first word after `===`; for files it is the path.
    let is_sealed = |s: &Section| {
        s.lines.iter().any(|l| {
            l.strip_prefix("Compatible flags:")
                .is_some_and(|f| f.split_whitespace().any(|w| w == "SEALED"))
        })
    };
    if files.is_empty() {
        return (
            Status::NotVerifiable,
            "no remote journal file: no client uploaded since sealing was set up".into(),
        );
    }
    let unsealed: Vec<&str> = files
        .iter()
        .filter(|s| !is_sealed(s))
        .map(|s| s.kind)
        .collect();
    if unsealed.is_empty() {
        return (
            Status::Pass,
            format!("all {} remote journal files are SEALED", files.len()),
        );
    }
    (
        Status::Fail,
        format!(
            "{} of {} remote journal files are NOT sealed ({}){}",
            unsealed.len(),
            files.len(),
            unsealed.join(", "),
            log.last()
                .map(|l| format!("; journal-remote said: {}", l.trim()))
                .unwrap_or_default()
        ),
    )
}

//! Retention on a server: `MaxUse=` and `MaxFileSize=` in journal-remote.conf (systemd 254)
//! bound its remote journals (systemd#36938, PR #25076). The check reads the settings in force
//! and journal-remote's own word on them, and measures the remote journals on disk.

use super::judged_by;

use super::{effective_setting, CheckId, Entry, Family, Target, Verdict};
use crate::domain::{Role, Status};

impl CheckId {
    pub const REMOTE_RETENTION: CheckId = CheckId("remote-retention");
}

pub const FAMILY: Family = Family {
    name: "retention",
    entries: &[Entry::new(
        CheckId::REMOTE_RETENTION,
        "The remote journals stay within the server's MaxUse= and MaxFileSize=",
        "journal-remote knows the settings, the remote journals together take at most MaxUse= \
         on disk, and no remote journal file is larger than MaxFileSize=",
        Some(Role::Server),
        "journal-remote.conf(5) MaxUse=, MaxFileSize= (systemd 254); systemd#36938, PR #25076, systemd#20921",
        judged_by!(remote_retention),
    )],
};

/// Each remote journal file: its size and the bytes it takes on disk (`%s %b`, blocks of 512).
const SIZES_COMMAND: &str =
    "find /var/log/journal/remote -name '*.journal*' -type f -printf '%s %b %f\\n'";

/// journal-remote's complaints about its configuration ("Unknown key 'MaxUse' in section
/// [Remote], ignoring.").
const UNKNOWN_KEYS_COMMAND: &str = "journalctl -u systemd-journal-remote.service -o cat --no-pager | grep -F 'Unknown key' || true";

async fn remote_retention(
    _: &Entry,
    target: &Target<'_>,
    evidence: &mut Vec<String>,
) -> crate::Result<Verdict> {
    let config = target
        .probe(
            "systemd-analyze cat-config systemd/journal-remote.conf",
            evidence,
        )
        .await?;
    let unknown = target.probe(UNKNOWN_KEYS_COMMAND, evidence).await?;
    let sizes = target.probe(SIZES_COMMAND, evidence).await?;
    Ok(verdict(
        effective_setting(&config.stdout, "MaxUse").as_deref(),
        effective_setting(&config.stdout, "MaxFileSize").as_deref(),
        &unknown.stdout,
        &sizes.stdout,
    ))
}

/// A size as systemd writes it (`4M`, `512K`, `1G`, bytes without a suffix; base 1024).
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let (digits, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, ""),
    };
    let factor: u64 = match unit.trim() {
        "" | "B" => 1,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        "T" => 1 << 40,
        _ => return None,
    };
    digits.parse::<u64>().ok()?.checked_mul(factor)
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
}

/// The verdict from the settings in force, journal-remote's complaints and the files' sizes
/// (what [`SIZES_COMMAND`] printed).
pub fn verdict(
    max_use: Option<&str>,
    max_file_size: Option<&str>,
    unknown_keys: &str,
    sizes: &str,
) -> Verdict {
    let settings: Vec<(&str, &str)> = [("MaxUse", max_use), ("MaxFileSize", max_file_size)]
        .into_iter()
        .filter_map(|(key, value)| Some((key, value.filter(|v| !v.is_empty())?)))
        .collect();
    if settings.is_empty() {
        return (
            Status::NotApplicable,
            "neither MaxUse= nor MaxFileSize= is set in journal-remote.conf".into(),
        );
    }
    let files: Vec<(u64, u64)> = sizes
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            Some((
                words.next()?.parse().ok()?,
                words.next()?.parse::<u64>().ok()? * 512,
            ))
        })
        .collect();
    let on_disk: u64 = files.iter().map(|(_, disk)| disk).sum();
    let largest = files.iter().map(|(size, _)| *size).max().unwrap_or(0);
    let measured = format!(
        "{} remote journal files take {} on disk, the largest {}",
        files.len(),
        mib(on_disk),
        mib(largest)
    );
    let ignored: Vec<&str> = settings
        .iter()
        .filter(|(key, _)| unknown_keys.contains(&format!("Unknown key '{key}'")))
        .map(|(key, _)| *key)
        .collect();
    if !ignored.is_empty() {
        return (
            Status::Fail,
            format!(
                "journal-remote does not know {} (it logged \"Unknown key\", ignoring): nothing bounds \
                 the remote journals; {measured}",
                ignored.join("= or ") + "="
            ),
        );
    }
    let mut over = Vec::new();
    let mut within = Vec::new();
    for (key, value) in &settings {
        let Some(limit) = parse_size(value) else {
            return (
                Status::NotVerifiable,
                format!("{key}={value} is not a size the lab reads; {measured}"),
            );
        };
        let (what, amount) = if *key == "MaxUse" {
            ("on disk", on_disk)
        } else {
            ("in the largest file", largest)
        };
        let line = format!("{key}={value}: {} {what}", mib(amount));
        if amount > limit {
            over.push(line);
        } else {
            within.push(line);
        }
    }
    if over.is_empty() {
        (
            Status::Pass,
            format!("within {}; {measured}", within.join(", ")),
        )
    } else {
        (
            Status::Fail,
            format!("OVER {}; {measured}", over.join(", ")),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIZES: &str = "1048576 2048 remote-a.journal\n1048576 2048 remote-b.journal\n1048576 2048 remote-b@x.journal\n";

    #[test]
    fn sizes_read_as_systemd_writes_them() {
        assert_eq!(parse_size("4M"), Some(4 << 20));
        assert_eq!(parse_size("512K"), Some(512 << 10));
        assert_eq!(parse_size("100"), Some(100));
        assert_eq!(parse_size("4 M"), Some(4 << 20));
        assert_eq!(parse_size("4MiB"), None);
        assert_eq!(parse_size("99999999999999999999G"), None);
    }

    #[test]
    fn within_the_limits_passes_and_over_fails_with_the_numbers() {
        let (status, text) = verdict(Some("4M"), Some("1M"), "", SIZES);
        assert_eq!(status, Status::Pass, "{text}");
        assert!(
            text.contains("3 remote journal files take 3.0 MiB on disk"),
            "{text}"
        );
        let (status, text) = verdict(Some("2M"), Some("1M"), "", SIZES);
        assert_eq!(status, Status::Fail);
        assert!(
            text.starts_with("OVER MaxUse=2M: 3.0 MiB on disk"),
            "{text}"
        );
    }

    #[test]
    fn settings_journal_remote_ignores_fail_and_none_set_is_not_applicable() {
        // bookworm's journal-remote (252), as recorded.
        let unknown = "/etc/systemd/journal-remote.conf.d/60-retention.conf:2: Unknown key 'MaxUse' in section [Remote], ignoring.\n";
        let (status, text) = verdict(Some("4M"), None, unknown, SIZES);
        assert_eq!(status, Status::Fail);
        assert!(text.contains("does not know MaxUse="), "{text}");
        assert_eq!(verdict(None, Some(""), "", SIZES).0, Status::NotApplicable);
    }
}

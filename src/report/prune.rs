//! What reports cost on disk, and pruning them: `report prune --keep N | --older-than D` removes
//! whole run directories (never the one `latest` names), oldest first.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::errors::{Error, Result};

/// Bytes `path` takes on disk (blocks, so sparse journal copies count as what they use).
pub fn disk_usage(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(metadata) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    let own = metadata.blocks() * 512;
    if !metadata.is_dir() {
        return own;
    }
    own + std::fs::read_dir(path)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| disk_usage(&e.path()))
        .sum::<u64>()
}

/// The run directories under `reports` (`jl-*`, verifies included), oldest first (run ids sort
/// by time).
pub fn run_dirs(reports: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(reports)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("jl-"))
                && std::fs::symlink_metadata(p).is_ok_and(|m| m.is_dir())
        })
        .collect();
    dirs.sort();
    dirs
}

/// `7d`, `12h`, `30min`, `90s`.
pub fn parse_age(text: &str) -> std::result::Result<Duration, String> {
    let digits = text.chars().take_while(char::is_ascii_digit).count();
    let (number, unit) = text.split_at(digits);
    let seconds = match unit {
        "s" => 1,
        "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => {
            return Err(format!(
                "{text:?}: write a number and s, min, h or d, e.g. 7d"
            ))
        }
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(seconds))
        .map(Duration::from_secs)
        .ok_or_else(|| format!("{text:?}: write a number and s, min, h or d, e.g. 7d"))
}

/// What a prune removed: each directory and the bytes it took.
#[derive(Debug, Default)]
pub struct Pruned {
    pub removed: Vec<(PathBuf, u64)>,
    pub kept: usize,
}

/// Removes the run directories beyond the newest `keep`, and those older than `older_than`;
/// never the one `latest` points at.
/// Removes the run directories under `reports` beyond the newest `keep` or older than
/// `older_than` (never the one `latest` names); with `dry_run`, removes nothing and says the same.
pub fn prune(
    reports: &Path,
    keep: Option<usize>,
    older_than: Option<Duration>,
    dry_run: bool,
) -> Result<Pruned> {
    let latest = std::fs::read_link(reports.join("latest")).ok();
    let dirs = run_dirs(reports);
    let now = SystemTime::now();
    let mut pruned = Pruned::default();
    let total = dirs.len();
    for (n, dir) in dirs.into_iter().enumerate() {
        let newest = total - n; // 1 for the newest
        let beyond = keep.is_some_and(|keep| newest > keep);
        let old = older_than.is_some_and(|age| {
            std::fs::metadata(&dir)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| now.duration_since(t).ok())
                .is_some_and(|elapsed| elapsed > age)
        });
        let is_latest = latest
            .as_deref()
            .is_some_and(|l| dir.file_name() == l.file_name());
        if (beyond || old) && !is_latest {
            let bytes = disk_usage(&dir);
            if !dry_run {
                std::fs::remove_dir_all(&dir).map_err(Error::io("removing", &dir))?;
            }
            pruned.removed.push((dir, bytes));
        } else {
            pruned.kept += 1;
        }
    }
    Ok(pruned)
}

/// `12.3 MiB`.
pub fn human(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prune_keeps_the_newest_and_latest_and_counts_what_it_frees() {
        let tmp = tempfile::tempdir().unwrap();
        for id in [
            "jl-20261101-000000-0001",
            "jl-20261102-000000-0002",
            "jl-20261103-000000-0003",
        ] {
            std::fs::create_dir_all(tmp.path().join(id)).unwrap();
            std::fs::write(tmp.path().join(id).join("run.json"), vec![b'x'; 10_000]).unwrap();
        }
        std::fs::create_dir(tmp.path().join("matrix-x")).unwrap();
        // `latest` names the oldest: it stays whatever the rule.
        std::os::unix::fs::symlink("jl-20261101-000000-0001", tmp.path().join("latest")).unwrap();
        let would = prune(tmp.path(), Some(1), None, true).unwrap();
        assert_eq!(would.removed.len(), 1);
        assert!(would.removed[0].0.exists(), "a dry run removes nothing");
        let pruned = prune(tmp.path(), Some(1), None, false).unwrap();
        assert_eq!(pruned.removed.len(), 1);
        assert!(pruned.removed[0].0.ends_with("jl-20261102-000000-0002"));
        assert!(pruned.removed[0].1 >= 10_000);
        assert_eq!(pruned.kept, 2);
        assert!(tmp.path().join("matrix-x").exists());
        assert!(
            prune(tmp.path(), None, Some(Duration::from_secs(3600)), false)
                .unwrap()
                .removed
                .is_empty()
        );
        assert_eq!(parse_age("7d").unwrap(), Duration::from_secs(7 * 86_400));
        assert!(parse_age("7 days").is_err() && parse_age("99999999999999999999d").is_err());
    }
}

//! Which process a run belongs to, and whether that process still lives. The engine is shared (CI
//! jobs, a developer's kept lab, someone else's tests): `cargo xtask clean` must remove only what
//! was abandoned, so every container and network of a run carries its owner, and so does the run's
//! private directory.
//!
//! An owner is `<hostname>/<boot id>/<pid>/<start time>`: the pid alone could be reused, the start
//! time (clock ticks since boot, from /proc/PID/stat) and the boot id make it unique, and the
//! hostname says whether this machine can tell at all.

use std::sync::OnceLock;

/// Label carrying a run's owner on its containers and network.
pub const OWNER_LABEL: &str = "journal-lab.owner";
/// Label saying a run was started with `--keep`: its lab is meant to outlive its process.
pub const KEPT_LABEL: &str = "journal-lab.kept";

/// Label carrying who started a run (`uid@host`): lifecycle commands act on their caller's labs.
pub const USER_LABEL: &str = "journal-lab.user";

/// This user on this machine, as the user label has it: `<uid>@<hostname>`.
pub fn this_user() -> &'static str {
    static USER: OnceLock<String> = OnceLock::new();
    // SAFETY: getuid has no preconditions and cannot fail.
    USER.get_or_init(|| format!("{}@{}", unsafe { libc::getuid() }, hostname()))
}

/// This process, as an owner string.
pub fn this_process() -> &'static str {
    static OWNER: OnceLock<String> = OnceLock::new();
    OWNER.get_or_init(|| owner_of(std::process::id()))
}

/// Process `pid` of this machine, as an owner string (host, boot, pid, start time: a pid
/// reused by another process is not the same owner).
pub fn owner_of(pid: u32) -> String {
    format!(
        "{}/{}/{pid}/{}",
        hostname(),
        boot_id(),
        start_time(pid).unwrap_or_default()
    )
}

/// Something this process made and removes when it drops (a lab, a half-written report): while
/// any is held, an interrupted process waits for the drops before it exits; with none held, it
/// may exit at once, even from the middle of synchronous work.
pub struct MustRemove(());

static MUST_REMOVE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

impl MustRemove {
    pub fn new() -> MustRemove {
        MUST_REMOVE.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        MustRemove(())
    }

    /// How many are held in this process now.
    pub fn held() -> usize {
        MUST_REMOVE.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Default for MustRemove {
    fn default() -> Self {
        MustRemove::new()
    }
}

impl Drop for MustRemove {
    fn drop(&mut self) {
        MUST_REMOVE.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Whether the owner of a run is still running, and why we think so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Liveness {
    Alive,
    Gone,
    /// Its owner ran elsewhere (another machine using the same engine), or the label is not one
    /// this version wrote: nothing here can tell, so the run is left alone.
    Unknown(String),
}

/// Judges an owner string against this machine.
pub fn liveness(owner: Option<&str>) -> Liveness {
    let Some(owner) = owner else {
        return Liveness::Unknown(
            "it carries no owner label (an older journal-lab made it)".into(),
        );
    };
    let parts: Vec<&str> = owner.split('/').collect();
    let [host, boot, pid, started] = parts[..] else {
        return Liveness::Unknown(format!(
            "its owner label {owner:?} is not one this version reads"
        ));
    };
    if host != hostname() {
        return Liveness::Unknown(format!("it was started on another machine ({host})"));
    }
    if boot != boot_id() {
        return Liveness::Gone; // this machine rebooted since
    }
    match (pid.parse::<u32>(), started.parse::<u64>()) {
        (Ok(pid), Ok(started)) if start_time(pid) == Some(started) => Liveness::Alive,
        (Ok(_), Ok(_)) => Liveness::Gone,
        _ => Liveness::Unknown(format!(
            "its owner label {owner:?} is not one this version reads"
        )),
    }
}

/// Where a run keeps what must not outlive it or leave this machine (its CAs and keys):
/// `$TMPDIR/journal-lab-pki-<run-id>-XXXX`, 0700, with an `owner` file, so that `clean` can tell
/// an abandoned one (its process was killed) from one in use.
pub fn run_private_dir(run_id: &str) -> crate::Result<tempfile::TempDir> {
    let dir = crate::temp_dir(&format!("{PRIVATE_DIR_PREFIX}{run_id}-"))?;
    let owner = dir.path().join("owner");
    std::fs::write(&owner, this_process()).map_err(crate::Error::io("writing", owner))?;
    Ok(dir)
}

const PRIVATE_DIR_PREFIX: &str = "journal-lab-pki-";

/// A run's private directory found on this machine.
#[derive(Debug)]
pub struct PrivateDir {
    pub path: std::path::PathBuf,
    pub run_id: String,
    pub owner: Liveness,
}

/// Every run's private directory in `$TMPDIR` that this user may remove.
pub fn private_dirs() -> Vec<PrivateDir> {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return Vec::new();
    };
    let mut dirs: Vec<PrivateDir> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let rest = name.strip_prefix(PRIVATE_DIR_PREFIX)?;
            // `<run-id>-XXXXXX`: the run id is all but the random suffix.
            let run_id = rest.rsplit_once('-')?.0.to_string();
            let path = entry.path();
            if !path.is_dir() || path.is_symlink() {
                return None;
            }
            let owner = std::fs::read_to_string(path.join("owner")).ok();
            Some(PrivateDir {
                owner: liveness(owner.as_deref().map(str::trim)),
                path,
                run_id,
            })
        })
        .collect();
    dirs.sort_by(|a, b| a.path.cmp(&b.path));
    dirs
}

fn hostname() -> String {
    read_trimmed("/proc/sys/kernel/hostname").unwrap_or_else(|| "unknown-host".into())
}

fn boot_id() -> String {
    read_trimmed("/proc/sys/kernel/random/boot_id").unwrap_or_else(|| "unknown-boot".into())
}

fn read_trimmed(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

/// Field 22 of /proc/PID/stat: when the process started, in clock ticks since boot. The command
/// name (field 2) may hold spaces and parentheses, so fields are counted after its last `)`.
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_finished_one_is_gone() {
        assert_eq!(liveness(Some(this_process())), Liveness::Alive);
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        let started = start_time(pid);
        child.wait().unwrap();
        let gone = format!(
            "{}/{}/{pid}/{}",
            hostname(),
            boot_id(),
            started.unwrap_or(1)
        );
        assert_eq!(liveness(Some(&gone)), Liveness::Gone);
        // A reused pid with another start time is not the owner.
        let reused = format!("{}/{}/{}/1", hostname(), boot_id(), std::process::id());
        assert_eq!(liveness(Some(&reused)), Liveness::Gone);
        let rebooted = format!("{}/another-boot/{}/1", hostname(), std::process::id());
        assert_eq!(liveness(Some(&rebooted)), Liveness::Gone);
    }

    #[test]
    fn owners_this_machine_cannot_judge_are_unknown() {
        assert!(matches!(liveness(None), Liveness::Unknown(_)));
        assert!(matches!(
            liveness(Some("elsewhere/b/1/2")),
            Liveness::Unknown(why) if why.contains("another machine (elsewhere)")
        ));
        assert!(matches!(liveness(Some("garbage")), Liveness::Unknown(_)));
    }

    #[test]
    fn private_dirs_are_owner_only_and_found_by_run() {
        use std::os::unix::fs::PermissionsExt;
        let run_id = format!("jl-test-{}", std::process::id());
        let dir = run_private_dir(&run_id).unwrap();
        let mode = std::fs::metadata(dir.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let found: Vec<PrivateDir> = private_dirs()
            .into_iter()
            .filter(|d| d.run_id == run_id)
            .collect();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].owner, Liveness::Alive);
        assert_eq!(found[0].path, dir.path());
    }

    #[test]
    fn start_time_reads_past_a_command_name_with_spaces() {
        assert!(start_time(std::process::id()).is_some_and(|t| t > 0));
        assert_eq!(start_time(u32::MAX), None);
    }
}

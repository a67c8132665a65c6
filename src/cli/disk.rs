//! Free disk space, said where a full disk would otherwise show only as a linker's crash: the
//! suite's build writes its test binaries under target/, and a linker whose output file cannot
//! grow dies of signal 7 (Bus error) with no word about the disk (seen on a CI machine).

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// What a fresh clone's `cargo xtask test` build leaves under target/ (the xtask, the lab's
/// rlibs and the test binaries, `debug = "line-tables-only"`): 2,430 MB by `du -sm target`
/// after the build of a fresh clone (2026-12-08; 5,181 MB with `debug = 1`), rounded up.
pub(super) const SUITE_BUILD_BYTES: u64 = 3 * GIB;

const GIB: u64 = 1 << 30;

/// Bytes an unprivileged writer may still use on the file system that holds `path` (or its
/// nearest existing ancestor: target/ may not exist yet). None where it cannot be read.
pub(super) fn free_bytes(path: &Path) -> Option<u64> {
    let existing = path.ancestors().find(|p| p.exists())?;
    let c_path = CString::new(existing.as_os_str().as_bytes()).ok()?;
    let mut stat = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: c_path is NUL-terminated and outlives the call; statvfs fills `stat` when it
    // returns 0, and it is read only then.
    if unsafe { libc::statvfs(c_path.as_ptr(), stat.as_mut_ptr()) } != 0 {
        return None;
    }
    let stat = unsafe { stat.assume_init() };
    #[allow(clippy::useless_conversion)] // u32 on some targets
    let (blocks, size) = (u64::from(stat.f_bavail), u64::from(stat.f_frsize));
    Some(blocks.saturating_mul(size))
}

/// `1.4 GB` style, one decimal.
pub(super) fn gigabytes(bytes: u64) -> String {
    format!("{:.1} GB", bytes as f64 / GIB as f64)
}

/// The sentence for a disk that holds less than `needed` free, naming what needs it; None when
/// it holds enough or cannot be read.
pub(super) fn shortage(path: &Path, needed: u64, what: &str) -> Option<String> {
    let free = free_bytes(path)?;
    (free < needed).then(|| {
        format!(
            "the disk holding {} has {} free, and {what} takes about {}: free some space there \
             (a linker that dies of signal 7, Bus error, is what a full disk looks like)",
            path.display(),
            gigabytes(free),
            gigabytes(needed)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_free_space_of_a_path_not_yet_made_is_its_ancestors() {
        let dir = tempfile::tempdir().unwrap();
        let free = free_bytes(&dir.path().join("target/debug")).expect("statvfs of the temp dir");
        assert!(
            free > 0,
            "a temp dir was just made there, so its disk is not full"
        );
        // No disk has u64::MAX bytes free: the shortage is said, with the path and both sizes.
        let said = shortage(dir.path(), u64::MAX, "the suite's build").expect("a shortage");
        assert!(said.contains(&dir.path().display().to_string()), "{said}");
        assert!(said.contains("the suite's build takes about"), "{said}");
        assert_eq!(shortage(dir.path(), 0, "nothing"), None);
    }

    #[test]
    fn sizes_read_in_gigabytes() {
        assert_eq!(gigabytes(3 * GIB / 2), "1.5 GB");
        assert_eq!(gigabytes(0), "0.0 GB");
    }
}

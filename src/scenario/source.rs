//! `source:` files: a host's file read from beside the scenario (or the setup) that names it.
//! Such files come from pull requests like the scenario itself, so the path is plain and
//! relative, stays inside the naming file's directory, passes through no link, and is a small
//! regular UTF-8 text file.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use super::spans::Spans;
use super::{FileDef, ScenarioError};

/// The most bytes one `source:` file may have.
pub const MAX_SOURCE_BYTES: u64 = 256 * 1024;
/// The most bytes all `source:` files of one scenario or setup may have together.
pub const MAX_SOURCES_BYTES: u64 = 4 * 1024 * 1024;

/// Fills `content` of each file that names a `source`, read relative to `named_in`'s directory.
/// `at` is the YAML path of the list's owner (`hosts[2]`, `client`) for error positions.
pub(crate) fn read_sources(
    named_in: &Path,
    files: &mut [FileDef],
    at: &str,
    spans: &Spans,
) -> Result<(), ScenarioError> {
    let base = match named_in.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut total = 0u64;
    for (f, file) in files.iter_mut().enumerate() {
        let Some(source) = file.source.clone() else {
            continue;
        };
        let located = |field: &str, message: String| {
            let path = format!("{at}.files[{f}].{field}");
            let (line, column) = spans.locate(&path);
            ScenarioError {
                file: named_in.to_path_buf(),
                line,
                column,
                message: format!("{path}: {message}"),
            }
        };
        if !file.content.is_empty() {
            return Err(located(
                "source",
                format!("file {:?} has both content and source: give one", file.path),
            ));
        }
        let (path, text) = read_source(&base, &source).map_err(|why| {
            located(
                "source",
                format!("source {source:?} (for {:?}): {why}", file.path),
            )
        })?;
        total += text.len() as u64;
        if total > MAX_SOURCES_BYTES {
            return Err(located(
                "source",
                format!(
                    "the source files add up to more than {} MiB; a setup's files are configuration, not data",
                    MAX_SOURCES_BYTES / (1024 * 1024)
                ),
            ));
        }
        file.content = text;
        file.origin = Some(path);
    }
    Ok(())
}

/// Reads `source` below `base`: the path it was read from, and its text.
pub(crate) fn read_source(base: &Path, source: &str) -> Result<(PathBuf, String), String> {
    let relative = Path::new(source);
    if source.is_empty() || source.chars().any(char::is_control) {
        return Err("a source is a relative path of printable characters".into());
    }
    if !relative
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(
            "must be a relative path inside the directory of the file that names it (no `/` at the start, no `..`)"
                .into(),
        );
    }
    // Every step from the base must be a real directory or, at the end, a regular file: a link
    // could lead anywhere on the machine.
    let mut path = base.to_path_buf();
    let steps: Vec<_> = relative.components().collect();
    for (n, component) in steps.iter().enumerate() {
        path.push(component);
        let metadata = std::fs::symlink_metadata(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => format!("{} does not exist", path.display()),
            _ => format!("cannot read {}: {e}", path.display()),
        })?;
        if metadata.file_type().is_symlink() {
            return Err(format!(
                "{} is a symbolic link; sources must be plain files inside the directory (copy the file instead)",
                path.display()
            ));
        }
        let last = n + 1 == steps.len();
        if last && !metadata.is_file() {
            return Err(format!("{} is not a regular file", path.display()));
        }
    }
    // Opened by the one opener (O_NOFOLLOW, O_NONBLOCK, fstat): a link or FIFO swapped in
    // after the walk above is refused, not followed or waited on.
    let mut bytes = Vec::new();
    super::limits::open_regular(&path)
        .map_err(|why| format!("{}: {why}", path.display()))?
        .take(MAX_SOURCE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if bytes.len() as u64 > MAX_SOURCE_BYTES {
        return Err(format!(
            "{} is larger than the limit of {} KiB for a source file",
            path.display(),
            MAX_SOURCE_BYTES / 1024
        ));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        format!(
            "{} is not UTF-8 text (invalid byte at offset {}): sources are configuration files",
            path.display(),
            e.utf8_error().valid_up_to()
        )
    })?;
    Ok((path, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_inside_the_directory_are_read_and_everything_else_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        std::fs::create_dir(dir.join("client")).unwrap();
        std::fs::write(dir.join("client/upload.conf"), "[Upload]\n").unwrap();
        std::fs::write(dir.join("big"), vec![b'x'; MAX_SOURCE_BYTES as usize + 1]).unwrap();
        std::fs::write(dir.join("binary"), [0xff, 0xfe]).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.join("link")).unwrap();
        std::os::unix::fs::symlink(dir.join("client"), dir.join("linkdir")).unwrap();
        let (path, text) = read_source(dir, "client/upload.conf").unwrap();
        assert_eq!(text, "[Upload]\n");
        assert_eq!(path, dir.join("client/upload.conf"));
        for (source, why) in [
            ("../etc/passwd", "no `..`"),
            ("/etc/passwd", "no `/` at the start"),
            ("client/../../x", "no `..`"),
            ("missing.conf", "does not exist"),
            ("link", "symbolic link"),
            ("linkdir/upload.conf", "symbolic link"),
            ("client", "not a regular file"),
            ("big", "larger than the limit"),
            ("binary", "not UTF-8"),
            ("", "relative path"),
            ("a\u{1b}b", "printable"),
        ] {
            let err = read_source(dir, source).unwrap_err();
            assert!(err.contains(why), "{source:?}: {err}");
            assert!(
                !err.contains("root:"),
                "never the content of a link's target"
            );
        }
    }
}

//! Limits checked before a scenario file reaches the YAML parser. Scenario files come from pull
//! requests: a file that is huge, not a file at all (a link to `/dev/zero`), or nested thousands
//! deep would otherwise cost memory or minutes of parsing (libyaml's time grows with the square of
//! the nesting depth) before any error could be shown.

use std::io::Read;
use std::path::Path;

/// The largest scenario file accepted. The seed scenarios are about 1 KiB; a file's `content`
/// entries are the only reason for a large one.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

pub use super::spans::{Broken, MAX_DEPTH};

/// Reads at most [`MAX_FILE_BYTES`] of a regular file (never through a link) as UTF-8 text.
pub fn read_bounded(path: &Path) -> Result<String, String> {
    read_text(open_regular(path)?)
}

/// At most [`MAX_FILE_BYTES`] of UTF-8 text from `input` (a file, or standard input for
/// `scenario check -`), refused past that.
pub fn read_text(input: impl Read) -> Result<String, String> {
    let mut bytes = Vec::new();
    input
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read the file: {e}"))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large());
    }
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "not UTF-8 text (invalid byte at offset {}): a scenario is a YAML text file",
            e.utf8_error().valid_up_to()
        )
    })
}

/// Opens an input file (a scenario, setup, engines file or bundle) for reading only if it is a
/// regular file, judged on what was opened: the open itself refuses a link (`O_NOFOLLOW`: a link
/// could lead to any file on the machine, whose text an error would then quote; and no link can
/// be swapped in between a check and the open) and does not wait on a FIFO (`O_NONBLOCK`), and
/// `fstat` of the open file refuses a pipe, device or directory.
pub fn open_regular(path: &Path) -> Result<std::fs::File, String> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => "is a symbolic link: input files are read only as plain files (copy the file, or name its target)".to_string(),
            _ => format!("cannot read the file: {e}"),
        })?;
    let metadata = file
        .metadata()
        .map_err(|e| format!("cannot read the file: {e}"))?;
    if !metadata.is_file() {
        return Err(
            "not a regular file (input files must be plain files, not a device, directory or pipe)"
                .into(),
        );
    }
    Ok(file)
}

fn too_large() -> String {
    format!(
        "the file is larger than the limit of {} KiB for scenario files; keep large file contents out of scenarios",
        MAX_FILE_BYTES / 1024
    )
}

/// The one bound every YAML input passes before it is deserialized: its size, then a walk of
/// the parser's events ([`super::spans::Spans::index`]: nesting, what aliases expand to, a time
/// budget), which also gives the positions of its nodes.
pub fn check(text: &str) -> Result<super::spans::Spans, Broken> {
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(Broken {
            line: 1,
            column: 1,
            message: too_large(),
        });
    }
    if let Some(at) = text.find('\0') {
        let line = text[..at].matches('\n').count() + 1;
        let column = at - text[..at].rfind('\n').map_or(0, |n| n + 1) + 1;
        return Err(Broken {
            line,
            column,
            message: "a NUL byte (\\0): these files are text; remove it".into(),
        });
    }
    super::spans::Spans::index(text)
}

/// Whether a node starts right after `before` (the line's text up to here): at the start of the
/// line's content, or after `[`, `{`, `,`, `:`, `?` or a `- ` entry marker and blanks.
fn starts_node(before: &str) -> bool {
    let trimmed = before.trim_end_matches([' ', '\t']);
    trimmed.is_empty()
        || trimmed.ends_with(['[', '{', ',', ':', '?'])
        || (trimmed.ends_with('-') && trimmed.len() < before.len())
}

/// The position of the last `{` or `[` before byte `end` that is not closed before it (outside
/// quotes and comments), to point at when the parser stumbles later over the missing bracket.
pub fn unclosed_bracket(text: &str, end: usize) -> Option<(usize, usize)> {
    let mut open: Vec<(usize, usize)> = Vec::new();
    let mut offset = 0;
    for (index, line) in text.lines().enumerate() {
        let mut quote: Option<char> = None;
        for (column, c) in line.char_indices() {
            if offset + column >= end {
                return open.pop();
            }
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                // A quote opens a quoted scalar only where a node starts (`a'b` is plain text).
                (None, '"' | '\'') if starts_node(&line[..column]) => quote = Some(c),
                (None, '#') if column == 0 || line[..column].ends_with([' ', '\t']) => break,
                (None, '[' | '{') => open.push((index + 1, column + 1)),
                (None, ']' | '}') => {
                    open.pop();
                }
                _ => {}
            }
        }
        offset += line.len() + 1;
    }
    open.pop()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_scenarios_are_well_within_the_limits() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        for file in crate::scenario::files_in(&dir).unwrap() {
            let text = read_bounded(&file).unwrap();
            assert!(check(&text).is_ok(), "{}", file.display());
        }
    }

    #[test]
    fn deep_flow_nesting_is_refused_where_it_goes_too_deep() {
        let text = format!("description: {}\n", "[".repeat(10_000));
        let broken = check(&text).unwrap_err();
        assert_eq!(broken.line, 1);
        assert!(broken.message.contains("deeper than 32"), "{broken:?}");
        assert!(check(&format!("a: {}{}\n", "[".repeat(30), "]".repeat(30))).is_ok());
    }

    #[test]
    fn deep_block_nesting_is_refused() {
        let mut text = String::new();
        for depth in 0..40 {
            text.push_str(&format!("{}k{depth}:\n", " ".repeat(depth)));
        }
        assert_eq!(check(&text).unwrap_err().line, MAX_DEPTH + 1);
        let dashes = format!("x:\n{}1\n", "- ".repeat(40));
        assert_eq!(check(&dashes).unwrap_err().line, 2);
    }

    #[test]
    fn block_scalars_and_quotes_are_text_not_structure() {
        let deep_text: String = (0..60)
            .map(|d| format!("      {}{{[\n", " ".repeat(d)))
            .collect();
        let text = format!("files:\n  - path: /etc/x\n    content: |\n{deep_text}    mode: \"0644\"\nq: '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[['\n");
        assert!(check(&text).is_ok());
    }

    #[test]
    fn a_nul_byte_is_named_where_it_is() {
        let broken = check("description: d\nhosts: a\0b\n").unwrap_err();
        assert_eq!((broken.line, broken.column), (2, 9));
        assert!(broken.message.contains("NUL byte"), "{broken:?}");
    }

    #[test]
    fn the_bracket_left_open_is_found() {
        let text = "a: [1, 2]\nb: {c: 1\nd: '{'\n";
        assert_eq!(unclosed_bracket(text, text.len()), Some((2, 4)));
        assert_eq!(unclosed_bracket(text, 8), Some((1, 4)));
        assert_eq!(unclosed_bracket("a: [1]\n", 7), None);
    }

    #[test]
    fn files_that_are_not_small_regular_text_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_bounded(Path::new("/dev/zero"))
            .unwrap_err()
            .contains("not a regular file"));
        assert!(read_bounded(dir.path())
            .unwrap_err()
            .contains("not a regular file"));
        let big = dir.path().join("big.yaml");
        std::fs::write(&big, vec![b'#'; MAX_FILE_BYTES as usize + 1]).unwrap();
        assert!(read_bounded(&big).unwrap_err().contains("1024 KiB"));
        let binary = dir.path().join("bin.yaml");
        std::fs::write(&binary, [b'a', 0xff, 0xfe]).unwrap();
        assert!(read_bounded(&binary).unwrap_err().contains("offset 1"));
    }

    /// A FIFO (no writer: a plain open would wait for one for ever) is refused at once, as a
    /// scenario and as a replay bundle; a link is refused on the open itself.
    #[test]
    fn a_fifo_or_a_link_is_refused_without_waiting() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("bundle.tar.gz");
        let c_path = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        let (done, finished) = std::sync::mpsc::channel();
        let path = fifo.clone();
        std::thread::spawn(move || {
            let scenario = read_bounded(&path).unwrap_err();
            let bundle = crate::replay::bundle::Bundle::read(&path)
                .unwrap_err()
                .to_string();
            done.send((scenario, bundle)).unwrap();
        });
        let (scenario, bundle) = finished
            .recv_timeout(std::time::Duration::from_secs(5))
            .expect("refused within 5 s, not waiting on the FIFO");
        assert!(scenario.contains("not a regular file"), "{scenario}");
        assert!(bundle.contains("not a regular file"), "{bundle}");
        let link = dir.path().join("link.yaml");
        std::os::unix::fs::symlink("/etc/hostname", &link).unwrap();
        assert!(open_regular(&link)
            .unwrap_err()
            .contains("is a symbolic link"));
    }
}

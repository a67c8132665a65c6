//! Scenario files come from pull requests. Each file of `tests/hostile-scenarios/` (and a few
//! made here: huge, deep, binary, not a file) must be refused by `cargo xtask scenario check`
//! with exit 2, within a second, with a message that names the file, line and column of the
//! mistake and what to write instead. No panic, no hang, no guess at the wrong line.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// (file, line, column, what the message must say).
const CORPUS: &[(&str, usize, usize, &str)] = &[
    ("alias-bomb", 7, 34, "more than the limit of 1000000"),
    // Issue 39: 20 KB behind one anchor, 1000 aliases: 20 MB of text; the depth behind a quoted
    // scalar over two lines (the line-by-line count saw depth 2).
    ("alias-bytes", 4, 7, "expand the file to more than 16 MiB of text"),
    (
        "depth-hidden-by-a-quote",
        5,
        261,
        "nesting deeper than 32 levels",
    ),
    (
        "alias-is-host",
        3,
        44,
        "alias \"client1\" of server is the name of a host",
    ),
    ("bad-package", 3, 45, "is not a Debian package name"),
    ("burst-huge", 7, 12, "a workload logs 1 to 1000000 messages"),
    (
        "cas-duplicate",
        2,
        7,
        "\"lab\" is built in: list only the extra CAs",
    ),
    ("check-twice", 7, 9, "already asked for by checks[0]"),
    (
        "check-no-hosts",
        7,
        12,
        "check client-delivers would be evaluated on no host",
    ),
    (
        "check-no-phases",
        7,
        13,
        "check client-delivers would be evaluated in no phase",
    ),
    (
        "check-wrong-role",
        7,
        13,
        "is about client hosts, and \"server\" is a server",
    ),
    ("duplicate-host", 5, 12, "host \"client1\" is defined twice"),
    (
        "duplicate-key",
        6,
        5,
        "hosts[1].role: this key is given twice",
    ),
    ("empty", 1, 1, "the file is empty"),
    ("invalid-yaml", 2, 8, "this bracket is never closed"),
    ("listen-port-zero", 3, 47, "port 0 cannot be used"),
    (
        "mode-too-large",
        7,
        42,
        "must be octal permission bits, 0000 to 7777",
    ),
    (
        "no-server",
        3,
        3,
        "needs at least one host with role: server",
    ),
    (
        "path-directory",
        7,
        16,
        "names a directory; give the file's path",
    ),
    ("path-dotdot", 7, 16, "no `..`, `.` or empty parts"),
    ("path-root", 7, 16, "names a directory"),
    ("path-root-dotdot", 7, 15, "no `..`, `.` or empty parts"),
    (
        "port-taken",
        5,
        18,
        "19531 is systemd-journal-gatewayd's port",
    ),
    ("release-traversal", 2, 10, "is not a release name"),
    ("seal-interval-overflow", 6, 53, "between 1s and 24h"),
    ("send-flood", 6, 41, "65 payloads in one send: at most 64"),
    ("unit-empty", 6, 37, "\"\" is not a systemd unit name"),
    ("unit-injection", 6, 37, "is not a systemd unit name"),
    ("mode-plus", 7, 42, "must be octal permission bits"),
    ("path-dot", 7, 16, "no `..`, `.` or empty parts"),
    (
        "send-client-target",
        6,
        24,
        "send posts to journal-remote, which runs on servers",
    ),
    (
        "send-missing-target",
        6,
        24,
        "names host \"logs\", which is not in hosts",
    ),
    (
        "send-too-many-connections",
        5,
        72,
        "connections 100000: 1 to 200",
    ),
    (
        "send-unknown-encoding",
        9,
        23,
        "unknown content-encoding \"brotli\"; the catalog has gzip",
    ),
    (
        "send-unknown-payload",
        8,
        27,
        "unknown payload \"drop-tables\"; the catalog",
    ),
    ("unclosed-brace", 3, 5, "this bracket is never closed"),
    (
        "workload-line-too-long",
        8,
        11,
        "a message has 64 to 49152 bytes (its numbering needs the first; journald's LineMax= is the second; `protocol: native` goes up to 16 MiB)",
    ),
    (
        "workload-native-too-large",
        9,
        11,
        "a message has 64 to 16777216 bytes",
    ),
    ("unknown-key", 7, 5, "unknown field `hots`, expected one of"),
    (
        "unknown-step",
        6,
        9,
        "unknown variant `format-disk`, expected one of",
    ),
    ("upload-port-zero", 6, 20, "port 0 cannot be used"),
    (
        "relay-loop",
        3,
        46,
        "relay \"a\" forwards in a loop (a -> b -> a)",
    ),
    (
        "proxy-to-client",
        4,
        49,
        "proxy.server \"client1\" is not a server",
    ),
    (
        "proxy-without-server",
        4,
        26,
        "is a proxy: name the server it forwards to",
    ),
];

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .join("tests/hostile-scenarios")
}

/// Runs `scenario check` on `file`; returns its stderr after asserting exit 2, no panic, and
/// an answer within a second.
fn refused(file: &Path) -> String {
    let start = Instant::now();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["scenario", "check"])
        .arg(file)
        .output()
        .unwrap();
    let took = start.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{}: {stderr}", file.display());
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        took < Duration::from_secs(1),
        "{} took {took:?}",
        file.display()
    );
    stderr
}

#[test]
fn every_hostile_file_is_refused_at_its_line_with_the_fix() {
    let mut listed: Vec<&str> = CORPUS.iter().map(|c| c.0).collect();
    listed.sort();
    let mut on_disk: Vec<String> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|e| {
            e.unwrap()
                .path()
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    on_disk.sort();
    assert_eq!(listed, on_disk, "every corpus file has an expectation");
    for (name, line, column, says) in CORPUS {
        let file = corpus_dir().join(format!("{name}.yaml"));
        let stderr = refused(&file);
        let at = format!("{}:{line}:{column}: ", file.display());
        assert!(stderr.starts_with(&at), "{name}: wanted {at}, got {stderr}");
        assert!(
            stderr.contains(says),
            "{name}: wanted {says:?}, got {stderr}"
        );
    }
}

#[test]
fn files_too_large_too_deep_binary_or_not_files_are_refused_up_front() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    };
    // A 200 KB and a 1 MB file of nested `[`: libyaml needs minutes for these.
    for size in [200_000, 1_000_000] {
        let mut text = b"description: ".to_vec();
        text.extend(std::iter::repeat_n(b'[', size));
        let stderr = refused(&write(&format!("deep{size}.yaml"), &text));
        // Where the parser stopped, counting by its own events: past the 32nd bracket.
        assert!(
            stderr.contains(":1:") && stderr.contains(": nesting deeper than 32 levels"),
            "{stderr}"
        );
    }
    let stderr = refused(&write("huge.yaml", &vec![b'#'; 2 * 1024 * 1024]));
    assert!(
        stderr.contains("larger than the limit of 1024 KiB"),
        "{stderr}"
    );
    let stderr = refused(&write("binary.yaml", &[0x7f, 0x45, 0x4c, 0x46, 0xff, 0x00]));
    assert!(stderr.contains("not UTF-8 text"), "{stderr}");
    let stderr = refused(&write("nul.yaml", b"description: a\0b\n"));
    assert!(stderr.contains("nul.yaml:1:"), "{stderr}");
    let zero = dir.path().join("zero.yaml");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    assert!(refused(&zero).contains("is a symbolic link"));
    assert!(refused(dir.path()).contains("not a regular file"));
    assert!(refused(&dir.path().join("missing.yaml")).contains("cannot read the file"));
}

/// What a second round of attacks found: a quote inside a plain scalar hid deep nesting from the
/// depth check (minutes of CPU); a link to a secret printed it in the error; control bytes
/// reached the terminal; a byte order mark hid the first key; 40 000 aliases took 30 s.
#[test]
fn second_round_hostile_inputs_are_refused_fast_and_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    };
    let mut text = b"hosts: [a'b, ".to_vec();
    text.extend(std::iter::repeat_n(b'[', 120_000));
    text.extend(std::iter::repeat_n(b']', 120_000));
    let stderr = refused(&write("quoted-deep.yaml", &text));
    assert!(stderr.contains("nesting deeper than 32 levels"), "{stderr}");

    let secret = dir.path().join("secret");
    std::fs::write(&secret, "root:*:19000:0:99999:7:::\n").unwrap();
    let link = dir.path().join("link.yaml");
    std::os::unix::fs::symlink(&secret, &link).unwrap();
    let stderr = refused(&link);
    assert!(stderr.contains("is a symbolic link"), "{stderr}");
    assert!(
        !stderr.contains("root:"),
        "never the target's content: {stderr}"
    );

    let stderr = refused(&write(
        "escape.yaml",
        // YAML's own escapes put ESC and BEL into the key.
        b"description: x\nhosts: []\nchecks: []\n\"\\e[31mevil\\a\": 1\n",
    ));
    assert!(
        !stderr.contains('\u{1b}') && !stderr.contains('\u{7}'),
        "{stderr:?}"
    );
    assert!(stderr.contains("\\u{1b}"), "escaped, not dropped: {stderr}");

    // A byte order mark is read past, not taken for part of the first key.
    let bom = write(
        "bom.yaml",
        "\u{feff}description: x\nhosts:\n  - {name: server, role: server}\n  - {name: client1, role: client}\nchecks:\n  - id: client-delivers\n".as_bytes(),
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["scenario", "check"])
        .arg(&bom)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let aliases: String = (0..40_000).map(|n| format!("a{n}, ")).collect();
    let many = write(
        "aliases.yaml",
        format!("description: x\nhosts:\n  - {{name: server, role: server, aliases: [{aliases}a0]}}\n  - {{name: client1, role: client}}\nchecks:\n  - id: client-delivers\n").as_bytes(),
    );
    let stderr = refused(&many);
    assert!(stderr.contains("alias \"a0\" is given twice"), "{stderr}");
}

use super::*;

/// A setup directory with the given setup.yaml and files.
fn setup_dir(yaml: &str, files: &[(&str, &str)]) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let path = tmp.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    std::fs::write(tmp.path().join(SETUP_FILE), yaml).unwrap();
    tmp
}

const SETUP: &str = "\
description: our fleet
server:
  aliases: [logs.example.org]
  files:
    - {path: /etc/systemd/journal-remote.conf, source: server/journal-remote.conf}
client:
  certificates: {cert: /etc/pki/journal/client.pem, key: /etc/pki/journal/client.key, ca: /etc/pki/journal/ca.pem}
  files:
    - path: /etc/systemd/system/systemd-journal-upload.service.d/70-keep-retrying.conf
      source: client/keep-retrying.conf
";

#[test]
fn a_setup_is_laid_over_every_host_of_its_role() {
    let dir = setup_dir(
        SETUP,
        &[
            ("server/journal-remote.conf", "[Remote]\nSplitMode=host\n"),
            (
                "client/keep-retrying.conf",
                "[Unit]\nStartLimitIntervalSec=0\n",
            ),
        ],
    );
    let setup = Setup::load(dir.path()).unwrap();
    assert_eq!(setup.suites(), SUITES);
    let (_, outage) =
        crate::scenario::builtin::resolve(Path::new("server-outage-hardened")).unwrap();
    let laid = setup.lay_over(&outage).unwrap();
    let server = laid.host("server").unwrap();
    assert_eq!(server.aliases, ["logs.example.org"]);
    assert_eq!(server.files.len(), 1);
    assert_eq!(server.files[0].content, "[Remote]\nSplitMode=host\n");
    assert_eq!(
        server.files[0].origin.as_deref(),
        Some(dir.path().join("server/journal-remote.conf").as_path())
    );
    let client = laid.host("client1").unwrap();
    // The scenario's drop-in at the same path is replaced by the setup's.
    assert_eq!(client.files.len(), 1);
    assert_eq!(client.files[0].content, "[Unit]\nStartLimitIntervalSec=0\n");
    assert_eq!(
        client.certificate.install.as_ref().unwrap().key,
        "/etc/pki/journal/client.key"
    );
    assert!(laid.description.ends_with("With the setup: our fleet"));
}

#[test]
fn bad_setups_are_refused_at_their_line() {
    for (yaml, files, line, says) in [
        (
            "server:\n  files:\n    - {path: /etc/a.conf, source: ../a.conf}\n",
            &[][..],
            3,
            "no `..`",
        ),
        (
            "client:\n  files:\n    - {path: /etc/a.conf, source: a.conf}\n    - {path: /etc/a.conf, source: a.conf}\n",
            &[("a.conf", "x")][..],
            4,
            "named twice",
        ),
        ("relay:\n  files: []\n", &[][..], 1, "unknown field `relay`"),
        (
            "client:\n  files:\n    - {path: /etc/a.conf, source: missing.conf}\n",
            &[][..],
            3,
            "does not exist",
        ),
        (
            "client:\n  files:\n    - {path: etc/a.conf, source: a.conf}\n",
            &[("a.conf", "x")][..],
            3,
            "file path",
        ),
        ("suites: [no-such-suite]\n", &[][..], 1, "no built-in suite"),
        (
            "server:\n  certificates: {cert: /x.pem, key: relative.key, ca: /ca.pem}\n",
            &[][..],
            2,
            "certificates.key",
        ),
        (
            "client:\n  files:\n    - {path: /etc/a.conf}\n",
            &[][..],
            3,
            "give its `source:`",
        ),
    ] {
        let dir = setup_dir(yaml, files);
        let err = Setup::load(dir.path()).unwrap_err();
        assert_eq!(err.line, line, "{yaml}: {err}");
        assert!(err.to_string().contains(says), "{yaml}: {err}");
    }
    let empty = tempfile::tempdir().unwrap();
    let err = Setup::load(empty.path()).unwrap_err().to_string();
    assert!(err.contains("journal-lab init"), "{err}");
}

#[test]
fn a_link_as_a_source_is_refused_without_showing_its_target() {
    let dir = setup_dir(
        "client:\n  files:\n    - {path: /etc/a.conf, source: shadow}\n",
        &[],
    );
    std::os::unix::fs::symlink("/etc/passwd", dir.path().join("shadow")).unwrap();
    let err = Setup::load(dir.path()).unwrap_err().to_string();
    assert!(err.contains("symbolic link"), "{err}");
    assert!(!err.contains("root:"), "{err}");
}

/// A setup that would test nothing of the team's is refused at its line: `suites: []`, and a
/// setup with no file, alias or certificate path of theirs (an empty file included).
#[test]
fn a_setup_that_tests_nothing_is_refused() {
    let none = setup_dir("server:\n  aliases: [logs.example.org]\nsuites: []\n", &[]);
    let err = Setup::load(none.path()).unwrap_err();
    assert_eq!((err.line, err.column), (3, 9), "{err}");
    assert!(err.message.contains("`suites: []` runs nothing"), "{err}");
    for yaml in ["description: ours\n", "server: {}\nclient: {files: []}\n"] {
        let empty = setup_dir(yaml, &[]);
        let err = Setup::load(empty.path()).unwrap_err();
        assert!(
            err.message
                .contains("names no file, alias or certificate path of yours"),
            "{yaml:?}: {err}"
        );
    }
    // One alias is something of theirs.
    let one = setup_dir("server:\n  aliases: [logs.example.org]\n", &[]);
    assert!(Setup::load(one.path()).is_ok());
}

/// As it ships (a setup's default): the certificates go where the configuration reads them (the
/// client's journal-upload.conf; the server's compiled-in paths) unless the setup says where its
/// deployment puts them, and the host of the clients' URL= becomes a name of their server, with
/// no alias listed. Under `base: guide` none of that is derived.
#[test]
fn as_it_ships_certificates_go_where_they_are_read_and_the_url_resolves() {
    let upload = "[Upload]\nURL=https://central.example.net:19532\nServerKeyFile=/etc/pki/up.key\n";
    let setup = |extra: &str| {
        setup_dir(
            &format!("client:\n  files:\n    - {{path: /etc/systemd/journal-upload.conf, source: up.conf}}\n{extra}"),
            &[("up.conf", upload)],
        )
    };
    let (_, suite) = crate::scenario::builtin::resolve(Path::new("server-outage")).unwrap();
    let dir = setup("");
    let laid = Setup::load(dir.path()).unwrap().lay_over(&suite).unwrap();
    assert_eq!(laid.base, crate::scenario::Base::AsIs);
    let client = laid.host("client1").unwrap();
    let install = client.certificate.install.as_ref().unwrap();
    assert_eq!(install.key, "/etc/pki/up.key");
    assert_eq!(install.cert, "/etc/ssl/certs/journal-upload.pem");
    let server = laid.host("server").unwrap();
    assert_eq!(
        server.certificate.install.as_ref().unwrap().key,
        "/etc/ssl/private/journal-remote.pem"
    );
    assert_eq!(server.aliases, ["central.example.net"]);
    assert!(
        laid.checks
            .iter()
            .any(|c| c.id == crate::checks::CheckId::CONFIG_PARSES_CLEANLY && c.hosts.is_none()),
        "systemd's complaints are judged on every host"
    );

    // Where the deployment puts them, when the setup says so: there, not where the (mistaken)
    // configuration reads, so the mistake shows.
    let dir = setup("  certificates: {cert: /etc/ssl/journal/c.pem, key: /etc/ssl/journal/c.key, ca: /etc/ssl/journal/ca.pem}\n");
    let laid = Setup::load(dir.path()).unwrap().lay_over(&suite).unwrap();
    let install = laid
        .host("client1")
        .unwrap()
        .certificate
        .install
        .clone()
        .unwrap();
    assert_eq!(install.key, "/etc/ssl/journal/c.key");

    let dir = setup("base: guide\n");
    let laid = Setup::load(dir.path()).unwrap().lay_over(&suite).unwrap();
    assert_eq!(laid.base, crate::scenario::Base::Guide);
    assert!(laid.host("client1").unwrap().certificate.install.is_none());
    assert!(laid.host("server").unwrap().aliases.is_empty());
    assert_eq!(
        laid.checks.len(),
        suite.checks.len(),
        "nothing laid over the guide's suite"
    );
}

/// A URL the lab cannot make true without changing it is refused before anything boots, at the
/// user's own file and line; a base that does not exist at setup.yaml's line.
#[test]
fn as_it_ships_a_url_the_lab_cannot_resolve_is_refused_at_its_line() {
    let dir = setup_dir(
        "client:\n  files:\n    - {path: /etc/systemd/journal-upload.conf, source: up.conf}\n",
        &[("up.conf", "[Upload]\n# ours\nURL=https://10.1.2.3:19532\n")],
    );
    let (_, suite) = crate::scenario::builtin::resolve(Path::new("server-outage")).unwrap();
    let err = Setup::load(dir.path())
        .unwrap()
        .lay_over(&suite)
        .unwrap_err();
    assert!(err.file.ends_with("up.conf"), "{err}");
    assert_eq!(err.line, 3, "{err}");
    assert!(err.message.contains("names an address"), "{err}");

    let dir = setup_dir(
        "base: verbatim\nserver:\n  aliases: [logs.example.org]\n",
        &[],
    );
    let err = Setup::load(dir.path()).unwrap_err();
    assert_eq!((err.line, err.column), (1, 7), "{err}");
    assert!(err.message.contains("as-is"), "{err}");
}

/// `expect:` entries are refused at their line when they name a suite, check or host that
/// would never be evaluated, or give no reason; a good one reaches its suite's scenario only.
#[test]
fn expectations_are_checked_against_their_suite_before_anything_boots() {
    let with = |entry: &str| {
        setup_dir(
            &format!("server:\n  aliases: [logs.example.org]\nexpect:\n  - {entry}\n"),
            &[],
        )
    };
    // (entry, the value the error points at (None: the entry itself), what it says)
    for (entry, at, says) in [
        (
            "{suite: cert-rejection, check: no-such-check, known: fail, reason: r}",
            None,
            "unknown variant `no-such-check`",
        ),
        (
            "{suite: no-such-suite, check: client-delivers, known: fail, reason: r}",
            Some("no-such-suite"),
            "no built-in suite",
        ),
        (
            "{suite: cert-rejection, check: client-delivers, host: by-ip, known: fail, reason: r}",
            Some("by-ip"),
            "evaluates client-delivers on good, not on \"by-ip\"",
        ),
        (
            "{suite: cert-rejection, check: client-delivers, known: fail, reason: ' '}",
            Some("' '"),
            "say why it is known",
        ),
    ] {
        let dir = with(entry);
        let err = Setup::load(dir.path()).unwrap_err();
        // The entry starts at column 5 of line 4 (`  - {`).
        let column = at.map_or(5, |value| 5 + entry.find(value).unwrap());
        assert_eq!((err.line, err.column), (4, column), "{entry}: {err}");
        assert!(err.message.contains(says), "{entry}: {err}");
    }
    let dir = with("{suite: cert-rejection, check: server-rejects-untrusted-client-ca, host: rogue-client, known: fail, reason: no GnuTLS, link: 'https://github.com/systemd/systemd/issues/4092'}");
    let setup = Setup::load(dir.path()).unwrap();
    for (name, expected) in [("cert-rejection", 1), ("passive-https", 0)] {
        let (_, suite) = crate::scenario::builtin::resolve(Path::new(name)).unwrap();
        assert_eq!(
            setup.lay_over(&suite).unwrap().expect.len(),
            expected,
            "{name}"
        );
    }
}

/// As it ships, files that disagree (two URL=s) and a certificate path the lab cannot fill are
/// refused before boot at the user's own file and line.
#[test]
fn as_it_ships_disagreeing_files_and_unfillable_paths_are_refused_at_their_line() {
    let (_, suite) = crate::scenario::builtin::resolve(Path::new("passive-https")).unwrap();
    let two_urls = setup_dir(
        "client:\n  files:\n    - {path: /etc/systemd/journal-upload.conf, source: up.conf}\n    - {path: /etc/systemd/journal-upload.conf.d/90-ours.conf, source: late.conf}\n",
        &[
            ("up.conf", "[Upload]\nURL=https://logs.example.org:19532\n"),
            ("late.conf", "# ours\n[Upload]\nURL=https://logs2.example.org:19532\n"),
        ],
    );
    let err = Setup::load(two_urls.path())
        .unwrap()
        .lay_over(&suite)
        .unwrap_err();
    assert!(err.file.ends_with("late.conf") && err.line == 3, "{err}");
    assert!(err.message.contains("the files disagree"), "{err}");
    // The same value twice is no disagreement.
    let same = setup_dir(
        "client:\n  files:\n    - {path: /etc/systemd/journal-upload.conf, source: up.conf}\n    - {path: /etc/systemd/journal-upload.conf.d/90-ours.conf, source: up.conf}\n",
        &[("up.conf", "[Upload]\nURL=https://logs.example.org:19532\n")],
    );
    assert!(Setup::load(same.path()).unwrap().lay_over(&suite).is_ok());
    for (key_line, says) in [
        ("ServerKeyFile=/proc/self/key.pem", "kernel file system"),
        ("ServerKeyFile=/etc/ssl/journal/", "names a directory"),
        ("ServerKeyFile=keys/client.key", "must be absolute"),
    ] {
        let dir = setup_dir(
            "client:\n  files:\n    - {path: /etc/systemd/journal-upload.conf, source: up.conf}\n",
            &[(
                "up.conf",
                &format!("[Upload]\nURL=https://logs.example.org:19532\n{key_line}\n"),
            )],
        );
        let err = Setup::load(dir.path())
            .unwrap()
            .lay_over(&suite)
            .unwrap_err();
        assert!(
            err.file.ends_with("up.conf") && err.line == 3,
            "{key_line}: {err}"
        );
        assert!(err.message.contains(says), "{key_line}: {err}");
    }
}

/// Issue 39: a setup file's mode is refused at the setup's own line, not at a path of the
/// scenario it is laid over.
#[test]
fn a_setup_files_mode_is_refused_at_its_line() {
    let dir = setup_dir(
        "description: x\nserver:\n  files:\n    - {path: /etc/systemd/journal-remote.conf, content: \"[Remote]\\n\", mode: \"9999\"}\n",
        &[],
    );
    let err = Setup::load(dir.path()).unwrap_err();
    assert_eq!(err.line, 4, "{err}");
    assert!(err.message.starts_with("server.files[0].mode: "), "{err}");
}

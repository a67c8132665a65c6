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

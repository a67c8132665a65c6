//! `collect-script` and `replay` at the command line, on bundles recorded from the port-change
//! seed scenario's hosts and on broken ones; no engine needed.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;

fn xtask() -> Command {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .join("tests/data")
        .join(name)
}

#[test]
fn the_collect_script_is_printed_and_promises_no_keys() {
    xtask()
        .arg("collect-script")
        .assert()
        .success()
        .stdout(predicate::str::starts_with("#!/bin/sh"))
        .stdout(predicate::str::contains("It never copies a private key"));
}

/// The script passes shellcheck. CI installs it (`.ci/run`: Debian's shellcheck package);
/// elsewhere, without it, this test says how to get it and does not pretend to have checked.
#[test]
fn the_collect_script_and_the_benchs_scripts_pass_shellcheck() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    match std::process::Command::new("shellcheck")
        .arg("--version")
        .output()
    {
        Ok(_) => {
            for (script, shell) in [
                ("src/replay/collect.sh", "sh"),
                ("src/bench/delivery_floor.sh", "bash"),
            ] {
                let out = std::process::Command::new("shellcheck")
                    .args([&format!("--shell={shell}"), "--severity=style"])
                    .arg(root.join(script))
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "{script}: {}",
                    String::from_utf8_lossy(&out.stdout)
                );
            }
        }
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!("shellcheck is not installed: apt-get install shellcheck")
        }
        Err(_) => {
            eprintln!("NOT CHECKED: shellcheck is not installed (apt-get install shellcheck)")
        }
    }
}

#[test]
fn bundles_replay_into_a_scenario_that_checks_clean() {
    let dir = tempfile::tempdir().unwrap();
    for host in ["server", "stale"] {
        std::fs::copy(
            data(&format!("port-change-{host}.tar.gz")),
            dir.path().join(format!("{host}.tar.gz")),
        )
        .unwrap();
    }
    xtask()
        .arg("replay")
        .arg(dir.path().join("server.tar.gz"))
        .arg(dir.path().join("stale.tar.gz"))
        .assert()
        .success()
        .stdout(predicate::str::contains("server.yaml"))
        .stdout(predicate::str::contains("run it with: cargo xtask run"));
    let written = dir.path().join("server.yaml");
    let text = std::fs::read_to_string(&written).unwrap();
    assert!(
        text.contains("ListenStream=19600"),
        "the field's drop-in, verbatim"
    );
    assert!(!text.contains("PRIVATE KEY"));
    // Never over an existing file without --force, never through a link.
    let again = || {
        let mut command = xtask();
        command
            .arg("replay")
            .arg(dir.path().join("server.tar.gz"))
            .arg(dir.path().join("stale.tar.gz"));
        command
    };
    again()
        .assert()
        .code(2)
        .stderr(predicate::str::contains("exists: nothing was written"));
    again().arg("--force").assert().success();
    let target = dir.path().join("elsewhere.txt");
    std::fs::write(&target, "keep me").unwrap();
    std::fs::remove_file(&written).unwrap();
    std::os::unix::fs::symlink(&target, &written).unwrap();
    again()
        .arg("--force")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is a symbolic link"));
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");
    std::fs::remove_file(&written).unwrap();
    std::fs::write(&written, &text).unwrap();
    xtask()
        .args(["scenario", "check"])
        .arg(&written)
        .assert()
        .success();
}

#[test]
fn broken_bundles_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let not_a_tarball = dir.path().join("notes.tar.gz");
    std::fs::write(&not_a_tarball, "these are my notes").unwrap();
    xtask()
        .arg("replay")
        .arg(&not_a_tarball)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not a gzip-compressed tarball"))
        .stderr(predicate::str::contains("notes.tar.gz"));
    xtask()
        .arg("replay")
        .arg(dir.path().join("missing.tar.gz"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("missing.tar.gz"));
    assert!(
        !dir.path().join("notes.yaml").exists(),
        "nothing written for a refused bundle"
    );
}

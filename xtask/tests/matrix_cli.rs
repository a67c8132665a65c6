//! The conformance matrix at the command line, without an engine: `--shard` errors, and
//! `report merge` of run.json files recorded from real runs (passive-https and port-change on
//! bookworm and trixie), split as two shards would write them.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;

fn xtask() -> Command {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
}

fn recorded() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .join("tests/data/matrix");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

/// Copies each run.json into `dir/<n>/run.json`, as a reports directory holds them.
fn reports_dir(dir: &Path, runs: &[PathBuf]) {
    for (n, run) in runs.iter().enumerate() {
        let target = dir.join(format!("run-{n}"));
        std::fs::create_dir_all(&target).unwrap();
        std::fs::copy(run, target.join("run.json")).unwrap();
    }
}

fn matrix_json(dir: &Path) -> serde_json::Value {
    let matrix = matrix_dir(dir);
    serde_json::from_str(&std::fs::read_to_string(matrix.join("matrix.json")).unwrap()).unwrap()
}

fn matrix_dir(dir: &Path) -> PathBuf {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("matrix-")
        })
        .expect("a matrix directory")
}

#[test]
fn malformed_shards_are_clear_errors() {
    for (shard, says) in [
        ("0/2", "K counts from 1"),
        ("3/2", "K counts from 1 to N"),
        ("x/y", "write K/N"),
    ] {
        xtask()
            .args(["run", "--all", "--shard", shard])
            .assert()
            .code(2)
            .stderr(predicate::str::contains(says));
    }
    xtask()
        .args(["run", "--all", "--release", "nosuch"])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("unknown release \"nosuch\"")
                .and(predicate::str::contains("bookworm")),
        );
}

#[test]
fn merged_shards_make_the_same_grid_as_one_machine() {
    let runs = recorded();
    assert_eq!(runs.len(), 4);
    let (whole, one, two, out) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    reports_dir(whole.path(), &runs);
    // --shard 1/2 takes items 0 and 2 of the list, 2/2 items 1 and 3.
    reports_dir(one.path(), &[runs[0].clone(), runs[2].clone()]);
    reports_dir(two.path(), &[runs[1].clone(), runs[3].clone()]);
    xtask()
        .args(["report", "merge"])
        .arg(whole.path())
        .assert()
        .success();
    xtask()
        .args(["report", "merge"])
        .arg(one.path())
        .arg(two.path())
        .arg("--out")
        .arg(out.path())
        .assert()
        .success()
        .stdout(predicate::str::contains("merged 4 runs"));
    let (a, b) = (matrix_json(whole.path()), matrix_json(out.path()));
    assert_eq!(a, b);
    assert_eq!(a["columns"], serde_json::json!(["bookworm", "trixie"]));
    for column in ["bookworm", "trixie"] {
        let junit =
            std::fs::read_to_string(matrix_dir(out.path()).join(format!("junit-{column}.xml")))
                .expect("a JUnit file per column");
        assert_eq!(
            junit.matches("<testsuite ").count(),
            4,
            "two runs, each with its profile suite"
        );
    }
}

#[test]
fn runs_of_different_versions_are_not_merged() {
    let runs = recorded();
    let dir = tempfile::tempdir().unwrap();
    reports_dir(dir.path(), &runs[..2]);
    let file = dir.path().join("run-1/run.json");
    let text = std::fs::read_to_string(&file).unwrap().replace(
        "\"harness_version\": \"0.1.0\"",
        "\"harness_version\": \"9.9.9\"",
    );
    std::fs::write(&file, text).unwrap();
    xtask()
        .args(["report", "merge"])
        .arg(dir.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("different journal-lab versions"));
}

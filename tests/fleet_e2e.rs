//! examples/fleet, a user's repository, run the way its CI runs it through the GitHub Action:
//! the installed binary, from a directory of its own, `run --setup DIR`. The hardened setup
//! must come through the outage suite (every message there, upload back on its own, nothing
//! lost; duplicates are what journal-upload itself does, said in the verdict), and the broken
//! one (its retry drop-in in a directory systemd never reads) must fail `upload-recovers` with
//! the start limit in the evidence. Both reports must say which of the team's files each host
//! carried, and nothing may be written outside the reports directory.

use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "common/run_json_schema.rs"]
mod run_json_schema;
#[path = "common/sarif_schema.rs"]
mod sarif_schema;

use journal_lab::checks::Status;
use journal_lab::report::RunReport;

fn fleet(variant: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/fleet")
        .join(variant)
}

/// `journal-lab run --setup DIR --format json` from an empty directory: its exit code and runs.
fn run_setup(variant: &str) -> (i32, Vec<RunReport>, tempfile::TempDir) {
    let cwd = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_journal-lab"))
        .current_dir(cwd.path())
        .args(["run", "--format", "json", "--setup"])
        .arg(fleet(variant))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let runs: Vec<RunReport> = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!("{variant}: stdout is not the runs' JSON ({e}); stderr:\n{stderr}")
    });
    (output.status.code().unwrap_or(-1), runs, cwd)
}

fn status(run: &RunReport, id: &str) -> (Status, String, String) {
    let check = run
        .checks
        .iter()
        .find(|c| c.id.as_str() == id)
        .unwrap_or_else(|| panic!("{id} was evaluated"));
    (
        check.status,
        check.observed.clone(),
        check.evidence.join("\n"),
    )
}

fn carries_the_setup(run: &RunReport, variant: &str, drop_in: &str) {
    let client = run.hosts.iter().find(|h| h.name == "client1").unwrap();
    let from: Vec<(&str, &str)> = client
        .carried
        .iter()
        .map(|f| (f.path.as_str(), f.source.as_str()))
        .collect();
    let expected_source = fleet(variant).join("client/keep-retrying.conf");
    assert!(
        from.contains(&(drop_in, expected_source.to_str().unwrap())),
        "{variant}: {from:?}"
    );
    let server = run.hosts.iter().find(|h| h.name == "server").unwrap();
    assert_eq!(server.carried.len(), 1, "{variant}");
}

#[test]
fn the_hardened_fleet_survives_the_outage_and_the_broken_one_fails_with_evidence() {
    let (code, runs, cwd) = run_setup("hardened");
    assert_eq!(runs.len(), 1, "the setup lists one suite");
    let run = &runs[0];
    assert_eq!(run.scenario, "server-outage");
    carries_the_setup(
        run,
        "hardened",
        "/etc/systemd/system/systemd-journal-upload.service.d/70-keep-retrying.conf",
    );
    for id in ["client-delivers", "upload-recovers"] {
        let (status, observed, _) = status(run, id);
        assert_eq!(status, Status::Pass, "hardened {id}: {observed}");
    }
    let delivery = run.delivery.as_ref().expect("the outage has a workload");
    for stream in &delivery.streams {
        assert!(
            stream.accounting.lost.is_empty(),
            "hardened: nothing is lost: {:?}",
            stream.accounting
        );
    }
    // journal-upload may send a message twice after the outage: then the verdict says so, and
    // the run fails on it honestly.
    let (exactly_once, observed, _) = status(run, "delivery-exactly-once");
    match exactly_once {
        Status::Pass => assert_eq!(code, 0, "a run whose checks hold exits 0"),
        Status::Fail => {
            assert!(
                observed.contains("DUPLICATED"),
                "only duplicates: {observed}"
            );
            assert_eq!(code, 1);
        }
        other => panic!("hardened delivery-exactly-once: {other}: {observed}"),
    }
    let written: Vec<_> = std::fs::read_dir(cwd.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(written, ["reports"], "only ./reports is written");
    assert_eq!(
        run_json_schema::run_json_errors(&cwd.path().join("reports/latest/run.json")),
        Vec::<String>::new()
    );
    assert_eq!(
        sarif_errors(&cwd.path().join("reports/latest/report.sarif")),
        Vec::<String>::new(),
        "run's SARIF validates against the OASIS schema"
    );

    let (code, runs, _cwd) = run_setup("broken");
    assert_eq!(code, 1, "a setup that does not hold exits 1");
    let run = &runs[0];
    carries_the_setup(
        run,
        "broken",
        "/etc/systemd/system/systemd-journal-upload.d/70-keep-retrying.conf",
    );
    let (status, observed, evidence) = status(run, "upload-recovers");
    assert_eq!(status, Status::Fail, "broken upload-recovers: {observed}");
    assert!(
        evidence.contains("start-limit-hit") || evidence.contains("repeated too quickly"),
        "the evidence names the start limit: {observed}\n{evidence}"
    );
}

/// The OASIS SARIF 2.1.0 schema's complaints about the SARIF file at `path`.
fn sarif_errors(path: &Path) -> Vec<String> {
    sarif_schema::sarif_errors(
        &serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap(),
    )
}

/// A happy-path `journal-lab lab` from an empty directory: its SARIF validates, has no
/// error-level result and its JUnit no failure (the profile informs); with `--profile=gate`
/// the same profile items are errors and failures, and the run fails.
#[test]
fn a_healthy_lab_is_not_flagged_unless_the_profile_gates() {
    for (gate, expected_code) in [(false, 0), (true, 1)] {
        let cwd = tempfile::tempdir().unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_journal-lab"));
        command
            .current_dir(cwd.path())
            .args(["lab", "--clients", "1"]);
        if gate {
            command.arg("--profile=gate");
        }
        let out = command.output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(expected_code),
            "gate={gate}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let run = cwd.path().join("reports/latest");
        assert_eq!(
            sarif_errors(&run.join("report.sarif")),
            Vec::<String>::new()
        );
        let sarif: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(run.join("report.sarif")).unwrap())
                .unwrap();
        let levels: Vec<&str> = sarif["runs"][0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["level"].as_str().unwrap())
            .collect();
        let junit = std::fs::read_to_string(run.join("junit.xml")).unwrap();
        assert!(!levels.is_empty(), "the guide's setup fails profile items");
        if gate {
            assert!(levels.iter().all(|l| *l == "error"), "{levels:?}");
            assert!(junit.contains("<failure"), "{junit}");
        } else {
            assert!(
                levels.iter().all(|l| *l == "warning" || *l == "note"),
                "{levels:?}"
            );
            assert!(!junit.contains("<failure"), "{junit}");
        }
    }
}

/// A copy of examples/fleet/hardened with `change` made to it (file relative to the setup,
/// text replaced), in a directory of its own.
fn variant(change: Option<(&str, &str, &str)>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let copy = |from: &Path, to: &Path| {
        for entry in walk(from) {
            let target = to.join(entry.strip_prefix(from).unwrap());
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            std::fs::copy(&entry, &target).unwrap();
        }
    };
    copy(&fleet("hardened"), dir.path());
    if let Some((file, from, to)) = change {
        let path = dir.path().join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{file} holds {from:?}");
        std::fs::write(&path, text.replace(from, to)).unwrap();
    }
    dir
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// `journal-lab run --setup DIR passive-https --format json` from an empty directory.
fn run_as_it_ships(setup: &Path) -> RunReport {
    let cwd = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_journal-lab"))
        .current_dir(cwd.path())
        .args(["run", "--format", "json", "--setup"])
        .arg(setup)
        .arg("passive-https")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let mut runs: Vec<RunReport> = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("stdout is not the runs' JSON ({e}); stderr:\n{stderr}"));
    assert_eq!(runs.len(), 1, "{stderr}");
    runs.remove(0)
}

/// The fleet's files as they ship (issue 38): the correct setup passes, and each of four
/// realistic mistakes, which all passed while the lab laid its own drop-ins over them, fails the
/// check that is about it. What the lab added to a client is its certificates (where the
/// deployment puts them), the name entries and the enabled unit: nothing in the configuration.
#[test]
fn the_fleet_is_tested_as_it_ships_and_each_mistake_fails_its_check() {
    let good = variant(None);
    let run = run_as_it_ships(good.path());
    for check in &run.checks {
        assert_eq!(
            check.status,
            Status::Pass,
            "{} on {}: {}",
            check.id,
            check.host,
            check.observed
        );
    }
    let client = run.hosts.iter().find(|h| h.name == "client1").unwrap();
    let added: Vec<&str> = client
        .added_by_lab
        .iter()
        .map(|a| a.path.as_str())
        .collect();
    assert_eq!(
        added,
        [
            "/etc/ssl/systemd-journal/client1.pem",
            "/etc/ssl/systemd-journal/client1.key",
            "/etc/ssl/systemd-journal/ca.pem",
            "/etc/ssl/journal/client.pem",
            "/etc/ssl/journal/client.key",
            "/etc/ssl/journal/ca.pem",
            "/etc/hosts (lines appended)",
            "/etc/systemd/system/multi-user.target.wants/systemd-journal-upload.service (link)",
        ],
        "a client's additions as it ships"
    );

    // Each with what the verdict says and the user's file and line it names, if any.
    let mistakes = [
        (
            "no Restart=always anywhere",
            ("setup.yaml", "    - path: /etc/systemd/system/systemd-journal-upload.service.d/70-keep-retrying.conf\n      source: client/keep-retrying.conf\n", ""),
            "upload-restart-always",
            "Restart=on-failure",
            "Restart= is set in none of your files for systemd-journal-upload.service",
            None,
        ),
        (
            "URL=http://",
            ("client/journal-upload.conf", "URL=https://", "URL=http://"),
            "client-delivers",
            "did not reach the server",
            "URL=http://logs.example.org:19532 (your ",
            Some(2),
        ),
        (
            "a typo'd key",
            ("client/journal-upload.conf", "ServerCertificateFile=", "ServerCertificateFle="),
            "config-parses-cleanly",
            "Unknown key 'ServerCertificateFle'",
            "client/journal-upload.conf:4): Unknown key",
            Some(4),
        ),
        (
            "certificate paths that are not where the deployment puts them",
            ("client/journal-upload.conf", "/etc/ssl/journal/client", "/etc/pki/journal/client"),
            "client-delivers",
            "did not reach the server",
            "ServerKeyFile=/etc/pki/journal/client.key (your ",
            Some(3),
        ),
    ];
    for (mistake, change, id, says, names, line) in mistakes {
        let dir = variant(Some(change));
        let run = run_as_it_ships(dir.path());
        let (status, observed, evidence) = status_on(&run, id, "client1");
        assert_eq!(status, Status::Fail, "{mistake}: {id}: {observed}");
        assert!(observed.contains(says), "{mistake}: {id}: {observed}");
        assert!(observed.contains(names), "{mistake}: {id}: {observed}");
        let check = run
            .checks
            .iter()
            .find(|c| c.id.as_str() == id && c.host == "client1")
            .unwrap();
        // Where code scanning and JUnit put it: the user's line, else their setup file.
        let places = journal_lab::report::places(&run, check);
        match line {
            Some(line) => assert!(
                places
                    .iter()
                    .any(|(file, at)| file.ends_with("client/journal-upload.conf") && *at == line),
                "{mistake}: {places:?}"
            ),
            None => assert!(
                places.iter().all(|(file, _)| file.ends_with("setup.yaml")),
                "{mistake}: {places:?}"
            ),
        }
        if line.is_some() && id != "config-parses-cleanly" {
            assert!(
                evidence.contains("as your files set it: "),
                "{mistake}: the evidence says it too: {evidence}"
            );
        }
    }
}

fn status_on(run: &RunReport, id: &str, host: &str) -> (Status, String, String) {
    let check = run
        .checks
        .iter()
        .find(|c| c.id.as_str() == id && c.host == host)
        .unwrap_or_else(|| panic!("{id} was evaluated on {host}"));
    (
        check.status,
        check.observed.clone(),
        check.evidence.join("\n"),
    )
}

/// `expect:` (issue 38): on bookworm, whose journal-remote is built without GnuTLS and lets
/// any client in, the three server-side rejections of cert-rejection declared known turn the run
/// green with every other check still judged; a known failure that passes is FIXED, and fails
/// the run only with --strict-expect.
#[test]
fn known_failures_turn_a_run_green_and_a_fixed_one_is_said() {
    let known = |check: &str| {
        format!("  - {{suite: cert-rejection, check: {check}, known: fail, reason: no GnuTLS in bookworm's journal-remote}}\n")
    };
    let dir = variant(Some((
        "setup.yaml",
        "suites: [server-outage]",
        "suites: [cert-rejection]",
    )));
    let expect = format!(
        "expect:\n{}{}{}",
        known("server-rejects-untrusted-client-ca"),
        known("server-rejects-client-without-cert"),
        known("server-rejects-expired-client-cert")
    );
    let setup = dir.path().join("setup.yaml");
    let text = std::fs::read_to_string(&setup).unwrap();
    std::fs::write(&setup, format!("{text}{expect}")).unwrap();
    let cwd = tempfile::tempdir().unwrap();
    let run = |args: &[&str], setup: &Path| {
        Command::new(env!("CARGO_BIN_EXE_journal-lab"))
            .current_dir(cwd.path())
            .args(["run", "--format", "json", "--setup"])
            .arg(setup)
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&[], dir.path());
    let runs: Vec<RunReport> = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let report = &runs[0];
    for check in &report.checks {
        let known = check.id.as_str().starts_with("server-rejects-");
        assert_eq!(
            check.known.is_some(),
            known,
            "{} on {}",
            check.id,
            check.host
        );
        if !known {
            assert_eq!(
                check.status,
                Status::Pass,
                "{} on {}: {}",
                check.id,
                check.host,
                check.observed
            );
        }
    }
    assert_eq!(
        out.status.code(),
        Some(0),
        "known failures do not fail the run"
    );

    // A known failure that passes: FIXED, said; --strict-expect fails the run on it.
    let fixed = variant(None);
    let setup = fixed.path().join("setup.yaml");
    let text = std::fs::read_to_string(&setup).unwrap();
    std::fs::write(
        &setup,
        format!("{text}expect:\n  - {{suite: passive-https, check: client-delivers, host: client1, known: fail, reason: it used to fail}}\n"),
    )
    .unwrap();
    let out = run(&["passive-https"], fixed.path());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let runs: Vec<RunReport> = serde_json::from_slice(&out.stdout).unwrap();
    let (status, _, _) = status_on(&runs[0], "client-delivers", "client1");
    assert_eq!(status, Status::Pass);
    let check = runs[0]
        .checks
        .iter()
        .find(|c| c.id.as_str() == "client-delivers" && c.host == "client1")
        .unwrap();
    assert!(check.known.as_ref().is_some_and(|k| k.fixed), "{check:?}");
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("known failure(s) of the setup's expect: passed"));
    let strict = run(&["passive-https", "--strict-expect"], fixed.path());
    assert_eq!(
        strict.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&strict.stderr)
    );
}

//! The command line as a user meets it: errors that say what to do, certificates on disk,
//! and Ctrl-C that leaves nothing behind.

use std::process::Stdio;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use predicates::prelude::*;

fn xtask() -> Command {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
}

#[test]
fn lab_without_an_engine_says_how_to_get_one() {
    xtask()
        .args(["lab"])
        .env("DOCKER_HOST", "unix:///nonexistent/journal-lab-test.sock")
        .timeout(Duration::from_secs(30))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "cannot reach a Docker engine at unix:///nonexistent/journal-lab-test.sock",
        ))
        .stderr(predicate::str::contains("apt-get install -y docker.io"))
        .stderr(predicate::str::contains("panicked").not());
}

#[test]
fn lab_rejects_zero_clients_before_touching_anything() {
    xtask()
        .args(["lab", "--clients", "0"])
        .env("DOCKER_HOST", "unix:///nonexistent/journal-lab-test.sock")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--clients"));
}

#[test]
fn lab_names_an_unknown_release_and_the_known_ones() {
    xtask()
        .args(["lab", "--release", "potato"])
        .env("DOCKER_HOST", "unix:///nonexistent/journal-lab-test.sock")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("potato.yaml"))
        .stderr(predicate::str::contains("bookworm"));
}

#[test]
fn certs_issues_once_and_keeps_the_certificate_afterwards() {
    let dir = tempfile::tempdir().unwrap();
    let pki = dir.path().join("pki");
    xtask()
        .args(["certs", "--dir"])
        .arg(&pki)
        .args(["logs.example.org", "DNS:logs", "IP:192.0.2.10"])
        .assert()
        .success()
        .stdout(predicate::str::contains("created a new CA"))
        .stdout(predicate::str::contains(
            "SAN DNS:logs.example.org, DNS:logs, IP:192.0.2.10",
        ));
    for file in [
        "ca.pem",
        "ca.key",
        "logs.example.org.pem",
        "logs.example.org.key",
        "runme-on-logs.example.org.sh",
    ] {
        assert!(pki.join(file).is_file(), "{file} missing");
    }
    let before = std::fs::read(pki.join("logs.example.org.pem")).unwrap();
    xtask()
        .args(["certs", "--dir"])
        .arg(&pki)
        .arg("logs.example.org")
        .assert()
        .success()
        .stdout(predicate::str::contains("already exists; not re-issued"))
        .stdout(predicate::str::contains("created a new CA").not());
    assert_eq!(
        std::fs::read(pki.join("logs.example.org.pem")).unwrap(),
        before
    );
}

#[test]
fn certs_rejects_bad_names_and_aliases_clearly() {
    let dir = tempfile::tempdir().unwrap();
    xtask()
        .args(["certs", "--dir"])
        .arg(dir.path())
        .args(["--", "-bad"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("^[a-zA-Z0-9][a-zA-Z0-9.-]+$"));
    xtask()
        .args(["certs", "--dir"])
        .arg(dir.path())
        .args(["good", "URI:x"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("DNS:<hostname> or IP:<address>"));
    assert!(!dir.path().join("good.pem").exists());
}

#[test]
fn help_lists_the_commands() {
    xtask().arg("--help").assert().success().stdout(
        predicate::str::contains("lab")
            .and(predicate::str::contains("certs"))
            .and(predicate::str::contains("clean")),
    );
}

/// Ctrl-C during a run: the process exits 130 and the run's containers and network are gone.
/// Needs a Docker engine and the bookworm image (`cargo xtask test` prepares both).
#[test]
fn ctrl_c_during_a_run_removes_the_lab() {
    let reports = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["lab", "--clients", "2", "--reports"])
        .arg(reports.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The run id is in the progress line "run <id>: booting ..."; wait for a container of it.
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    // Keep reading stderr to the end, as a terminal would.
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if let Some(id) = line
                .split("] run ")
                .nth(1)
                .and_then(|rest| rest.split(':').next())
            {
                let _ = tx.send(id.to_string());
            }
        }
    });
    let run_id = rx
        .recv_timeout(Duration::from_secs(120))
        .expect("the run announces its id");
    let label = format!("label=journal-lab.run={run_id}");
    let docker_ps = |what: &str| {
        let out = std::process::Command::new("docker")
            .args([what, "ls", "-q", "--filter", &label])
            .args(if what == "container" {
                vec!["--all"]
            } else {
                vec![]
            })
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).lines().count()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while docker_ps("container") == 0 {
        assert!(
            Instant::now() < deadline,
            "no container of {run_id} appeared"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert_eq!(
        docker_ps("container"),
        0,
        "containers of {run_id} left behind"
    );
    assert_eq!(docker_ps("network"), 0, "network of {run_id} left behind");
}

#[test]
fn scenario_check_names_file_line_and_column_of_a_mistake() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("typo.yaml");
    std::fs::write(
        &file,
        "description: typo\nhosts:\n  - {name: server, role: server}\n  - name: client1\n    role: client\n    uplaod: {via: ip}\nchecks:\n  - id: client-delivers\n",
    )
    .unwrap();
    xtask()
        .args(["scenario", "check"])
        .arg(&file)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(format!(
            "{}:6:5: hosts[1]: unknown field `uplaod`",
            file.display()
        )));
    xtask()
        .args(["run"])
        .arg(&file)
        .env("DOCKER_HOST", "unix:///nonexistent/journal-lab-test.sock")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("typo.yaml:6:5"));
}

#[test]
fn the_seed_scenarios_check_clean_and_the_schema_is_json() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .join("scenarios");
    let files: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 5, "{files:?}");
    xtask()
        .args(["scenario", "check"])
        .args(&files)
        .assert()
        .success();
    let out = xtask()
        .args(["scenario", "schema"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let schema: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert!(schema["properties"]["hosts"].is_object(), "{schema}");
}

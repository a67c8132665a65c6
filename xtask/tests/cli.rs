//! The command line as a user meets it: errors that say what to do, certificates on disk,
//! and Ctrl-C that leaves nothing behind.

#[path = "../../tests/common/sarif_schema.rs"]
mod sarif_schema;

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
        .stderr(predicate::str::contains("RFC 1123"));
    // Not a DNS name, though letters and dots only: refused before a CA exists.
    for bad in ["a..b", "ab-", "ab.", &"x".repeat(300)] {
        xtask()
            .args(["certs", "--dir"])
            .arg(dir.path().join("ca"))
            .arg(bad)
            .assert()
            .code(2)
            .stderr(predicate::str::contains("RFC 1123"));
    }
    assert!(
        !dir.path().join("ca").exists(),
        "a CA was made for a bad name"
    );
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

/// A running `cargo xtask lab` (2 clients) with its run id, once a container of it exists.
struct LiveRun {
    child: std::process::Child,
    run_id: String,
}

impl LiveRun {
    fn start(reports: &std::path::Path) -> LiveRun {
        LiveRun::start_with(&["lab", "--clients", "2"], reports)
    }

    /// `cargo xtask ARGS --reports REPORTS`, once a container of its run exists.
    fn start_with(args: &[&str], reports: &std::path::Path) -> LiveRun {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args(args)
            .arg("--reports")
            .arg(reports)
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
        let run = LiveRun { child, run_id };
        let deadline = Instant::now() + Duration::from_secs(60);
        while run.objects("container") == 0 {
            assert!(
                Instant::now() < deadline,
                "no container of {} appeared",
                run.run_id
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        run
    }

    /// How many containers or networks of this run exist.
    fn objects(&self, what: &str) -> usize {
        let label = format!("label=journal-lab.run={}", self.run_id);
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
    }

    /// The run's private directories (CA keys) in the temp directory.
    fn private_dirs(&self) -> usize {
        std::fs::read_dir(std::env::temp_dir())
            .unwrap()
            .filter(|e| {
                e.as_ref().is_ok_and(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .starts_with(&format!("journal-lab-pki-{}-", self.run_id))
                })
            })
            .count()
    }

    /// Sends `signal` and returns the exit code.
    fn signal(mut self, signal: &str) -> (Option<i32>, LiveRun) {
        std::process::Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        let status = self.child.wait().unwrap();
        (status.code(), self)
    }
}

/// Ctrl-C, `kill` (SIGTERM, what `docker stop`, `timeout` and CI cancellation send) and a closed
/// terminal (SIGHUP) during a run: the process exits 128+signal, and the run's containers,
/// network and private directory are gone. Needs a Docker engine and the bookworm image
/// (`cargo xtask test` prepares both).
#[test]
fn a_signal_during_a_run_removes_the_lab_and_its_keys() {
    for (signal, code) in [("INT", 130), ("TERM", 143), ("HUP", 129)] {
        let reports = tempfile::tempdir().unwrap();
        let run = LiveRun::start(reports.path());
        let (status, run) = run.signal(signal);
        assert_eq!(status, Some(code), "SIG{signal}");
        let id = &run.run_id;
        assert_eq!(
            run.objects("container"),
            0,
            "SIG{signal}: containers of {id} left"
        );
        assert_eq!(
            run.objects("network"),
            0,
            "SIG{signal}: network of {id} left"
        );
        assert_eq!(
            run.private_dirs(),
            0,
            "SIG{signal}: private dir of {id} left"
        );
    }
}

/// A signal is heard during synchronous work too: `scenario check -` reading a standard input
/// that never ends blocks in a read that never yields; SIGTERM still ends the process with 143
/// within a second (it holds nothing to remove, so it does not wait for the read). Needs no
/// engine. (Input files that are pipes are refused before they are read: standard input is the
/// one read that may wait on a writer.)
#[test]
fn a_signal_during_synchronous_work_ends_the_process_within_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["scenario", "check", "-"])
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Held open, never written: the read waits.
    let _writer = child.stdin.take();
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        child.try_wait().unwrap().is_none(),
        "scenario check of a standard input with no data should still be reading"
    );
    let sent = Instant::now();
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if sent.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("SIGTERM did not end scenario check within 10 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let took = sent.elapsed();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(143), "{stderr}");
    assert!(
        took < Duration::from_secs(1),
        "SIGTERM took {took:?} to end it"
    );
    assert!(stderr.contains("terminated (SIGTERM)"), "{stderr}");
}

/// What a finished command printed on stdout, once it is known to have succeeded.
fn succeeded(out: std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What `cargo xtask clean ARGS` printed (it must succeed).
fn clean(args: &[&str]) -> String {
    let out = xtask().arg("clean").args(args).assert().success();
    String::from_utf8_lossy(&out.get_output().stdout).into_owned()
}

/// `clean` on a shared engine: a live run of someone else is kept (and said so), an abandoned
/// one (its process is gone) goes, and `--run` removes the named one whoever owns it. The suite
/// shares the engine too: what a bare `clean` would take is asked with `--dry-run`, and only this
/// test's own runs are removed, by name (another user's abandoned run is not the suite's to take).
#[test]
fn clean_removes_only_abandoned_runs() {
    let reports = tempfile::tempdir().unwrap();
    let live = LiveRun::start(reports.path());
    // An abandoned run: a network whose owner (on this machine, this boot) no longer exists.
    let dead = format!("jl-test-abandoned-{}", std::process::id());
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    let owner = format!("{}/{}/4194304/1", hostname.trim(), boot.trim());
    let created = std::process::Command::new("docker")
        .args(["network", "create", "--label"])
        .arg(format!("journal-lab.run={dead}"))
        .arg("--label")
        .arg(format!("journal-lab.owner={owner}"))
        .arg(&dead)
        .output()
        .unwrap();
    assert!(created.status.success(), "{created:?}");

    let out = clean(&["--dry-run"]);
    assert!(
        out.contains(&format!(
            "kept run {}: its process is still running",
            live.run_id
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "would remove run {dead}: 1 containers and networks"
        )),
        "{out}"
    );
    assert!(
        !out.contains(&format!("would remove run {}", live.run_id)),
        "{out}"
    );
    let out = clean(&["--run", &dead]);
    assert!(
        out.contains(&format!("removed run {dead}: 0 containers, 1 networks")),
        "{out}"
    );
    assert!(live.objects("container") > 0, "clean removed a live run");

    // SIGKILL leaves everything, as it must; then the run is abandoned, and `clean` takes it
    // all, its private directory (the CA keys) included.
    let id = live.run_id.clone();
    let (status, live) = live.signal("KILL");
    assert_eq!(status, None, "killed by a signal");
    assert!(live.objects("container") > 0 && live.private_dirs() == 1);
    let out = clean(&["--dry-run"]);
    assert!(out.contains(&format!("would remove run {id}: ")), "{out}");
    assert!(
        out.contains(&format!("would remove")) && out.contains(&format!("journal-lab-pki-{id}-")),
        "{out}"
    );
    assert!(live.objects("container") > 0, "--dry-run removed something");
    let out = clean(&["--run", &id]);
    assert!(out.contains(&format!("removed run {id}: ")), "{out}");
    assert!(out.contains(&format!("journal-lab-pki-{id}-")), "{out}");
    assert_eq!((live.objects("container"), live.objects("network")), (0, 0));
    assert_eq!(live.private_dirs(), 0);
    xtask()
        .args(["clean", "--run", &id])
        .assert()
        .success()
        .stdout(predicate::str::contains("nothing to remove"));
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
    assert_eq!(files.len(), 24, "{files:?}");
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

/// A step that fails is an observation: the steps stop there, what was observed so far is still
/// evaluated and written, the step's command, exit status and output are in run.json, and the
/// run exits 1 (the lab ran; the setup did not hold), not 2.
#[test]
fn a_failed_step_is_recorded_and_what_was_observed_is_still_reported() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("failing-step.yaml");
    std::fs::write(
        &file,
        "description: a step fails half way\nhosts:\n  - {name: server, role: server}\n  - {name: client1, role: client}\n\
         steps:\n  - do: log-markers\n  - {do: run, host: client1, command: 'echo about to fail; exit 3'}\n  - do: log-markers\n\
         checks:\n  - id: client-delivers\n",
    )
    .unwrap();
    let reports = dir.path().join("reports");
    let out = xtask()
        .args(["run", "--reports"])
        .arg(&reports)
        .arg(&file)
        .timeout(Duration::from_secs(300))
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let stdout = String::from_utf8_lossy(&out);
    assert!(stdout.contains("STEP 1 (run) FAILED"), "{stdout}");
    let run: serde_json::Value =
        serde_json::from_slice(&std::fs::read(reports.join("latest/run.json")).unwrap()).unwrap();
    let steps = run["steps"].as_array().unwrap();
    assert_eq!(
        steps.len(),
        2,
        "the step after the failure was not performed: {steps:?}"
    );
    assert_eq!(steps[1]["exit_code"], 3);
    assert_eq!(steps[1]["output"][0], "about to fail");
    assert!(steps[1]["error"]
        .as_str()
        .unwrap()
        .contains("exited with 3"));
    assert_eq!(run["ok"], false);
    // The first marker was observed and is judged.
    let check = &run["checks"][0];
    assert_eq!(
        (check["id"].as_str(), check["status"].as_str()),
        (Some("client-delivers"), Some("pass"))
    );
    let md = std::fs::read_to_string(reports.join("latest/report.md")).unwrap();
    assert!(md.contains("## Step 1 (`run`) failed"), "{md}");
}

/// The working loop with a lab: `up` brings it up under a name and keeps it, `ls` shows it,
/// `login` to a host it does not have names the ones it has, `verify` writes a new report with
/// the same check ids, `down` removes everything (counted with the engine), and `verify` on a
/// lab that is gone says so.
/// Two `up --name` of the same name at once: one lab comes up, the other is refused with the
/// reason, and nothing of the refused one stays on the engine.
#[test]
fn a_lab_name_is_taken_once_even_by_two_ups_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("pair.yaml");
    std::fs::write(
        &scenario,
        "description: a server and a client\nhosts:\n  - {name: server, role: server}\n  - {name: client1, role: client}\nchecks:\n  - id: client-delivers\n",
    )
    .unwrap();
    let name = format!("twin-{}", std::process::id());
    let up = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_xtask"))
            .arg("up")
            .arg(&scenario)
            .args(["--name", &name, "--reports"])
            .arg(dir.path().join("reports"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (first, second) = (up(), up());
    let outputs = [
        first.wait_with_output().unwrap(),
        second.wait_with_output().unwrap(),
    ];
    let up_count = outputs.iter().filter(|o| o.status.success()).count();
    let refused: Vec<String> = outputs
        .iter()
        .filter(|o| !o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
        .collect();
    // Tear the winner down before asserting, so that a failure leaves nothing either.
    let down = xtask().args(["down", "--lab", &name]).output().unwrap();
    assert_eq!(
        up_count, 1,
        "exactly one lab named {name} must come up: {refused:?}"
    );
    assert!(
        refused[0].contains(&format!("a lab named \"{name}\" is already up")),
        "{}",
        refused[0]
    );
    assert!(down.status.success(), "{down:?}");
    let left = std::process::Command::new("docker")
        .args([
            "ps",
            "-aq",
            "--filter",
            &format!("name=journal-lab-name-{name}"),
        ])
        .output()
        .unwrap();
    assert!(left.stdout.is_empty(), "the name claim outlived the lab");
    let runs = std::process::Command::new("docker")
        .args([
            "ps",
            "-aq",
            "--filter",
            &format!("label=journal-lab.name={name}"),
        ])
        .output()
        .unwrap();
    assert!(
        runs.stdout.is_empty(),
        "containers of a lab named {name} are left"
    );
}

#[test]
fn up_ls_verify_down() {
    let reports = tempfile::tempdir().unwrap();
    let name = format!("loop-{}", std::process::id());
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap();
    let scenario = root.join("scenarios/passive-https.yaml");
    let up = xtask()
        .arg("up")
        .arg(&scenario)
        .args(["--name", &name, "--reports"])
        .arg(reports.path())
        .assert()
        .success()
        .stdout(predicate::str::contains(format!("lab {name} is up")));
    let stdout = String::from_utf8_lossy(&up.get_output().stdout).into_owned();
    let run_id = stdout
        .split("(run ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .expect("up names its run")
        .to_string();
    let run = LiveRun {
        child: std::process::Command::new("true").spawn().unwrap(),
        run_id: run_id.clone(),
    };
    assert!(run.objects("container") > 0);
    xtask()
        .arg("ls")
        .arg("--reports")
        .arg(reports.path())
        .assert()
        .success()
        .stdout(predicate::str::contains(&name).and(predicate::str::contains("passive-https")));
    // Without --reports, from anywhere: the lab's label says where its reports went (issue 44),
    // and the listing is JSON when asked.
    let listed = xtask().args(["ls", "--format", "json"]).output().unwrap();
    let labs: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let mine = labs["labs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == name.as_str())
        .unwrap_or_else(|| panic!("{name} is listed: {labs}"));
    assert_eq!(mine["scenario"], "passive-https", "{mine}");
    xtask()
        .args(["login", "nosuch", "--lab", &name])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("has no host \"nosuch\"").and(predicate::str::contains(
                "client1, client2, client3, server",
            )),
        );
    xtask()
        .args(["verify", "--lab", &name, "--reports"])
        .arg(reports.path())
        .assert()
        .success();
    let ids = |dir: &std::path::Path| -> std::collections::BTreeSet<String> {
        let run: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("run.json")).unwrap()).unwrap();
        run["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect()
    };
    let verify_dir = std::fs::read_dir(reports.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(&format!("{run_id}-verify-"))
        })
        .expect("verify wrote a report of its own");
    assert_eq!(ids(&verify_dir), ids(&reports.path().join(&run_id)));
    // verify's SARIF validates against the OASIS SARIF 2.1.0 schema, formats included.
    let sarif: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(verify_dir.join("report.sarif")).unwrap())
            .unwrap();
    let errors = sarif_schema::sarif_errors(&sarif);
    assert!(errors.is_empty(), "verify's SARIF: {errors:?}");
    // A verification that would check nothing is an error, not a pass.
    xtask()
        .args(["verify", "--lab", &name, "--phase", "nosuch", "--reports"])
        .arg(reports.path())
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("nothing to verify").and(predicate::str::contains("final")),
        );
    xtask()
        .args([
            "verify",
            "--lab",
            &name,
            "--checks",
            "delivery-exactly-once",
            "--reports",
        ])
        .arg(reports.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("nothing to verify"));
    // exec: one command, no terminal, its output and exit status passed through.
    xtask()
        .args([
            "exec",
            "client1",
            "--lab",
            &name,
            "--",
            "sh",
            "-c",
            "echo \"it's $(hostname)\"; exit 7",
        ])
        .assert()
        .code(7)
        .stdout(predicate::str::contains("it's client1"));
    // login without a terminal says what to do instead of the engine's raw complaint.
    xtask()
        .args(["login", "client1", "--lab", &name])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("needs a terminal")
                .and(predicate::str::contains("exec client1")),
        );
    // One host removed by hand: down removes what remains, and says what it found.
    std::process::Command::new("docker")
        .args(["rm", "-f", &format!("client3.{run_id}")])
        .status()
        .unwrap();
    xtask()
        .args(["down", "--lab", &name])
        .assert()
        .success()
        .stdout(predicate::str::contains("removed 3 containers, 1 networks"));
    assert_eq!((run.objects("container"), run.objects("network")), (0, 0));
    // down is idempotent: a lab that is gone is down already.
    xtask()
        .args(["down", "--lab", &name])
        .assert()
        .success()
        .stdout(predicate::str::contains("nothing to take down"));
    xtask()
        .args(["verify", "--lab", &name, "--reports"])
        .arg(reports.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains(format!("no lab named \"{name}\"")));
}

/// Ctrl-C while `up` is bringing a lab up leaves nothing behind, though the lab is labelled to
/// stay once it is up.
#[test]
fn ctrl_c_during_up_leaves_nothing() {
    let reports = tempfile::tempdir().unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap();
    let scenario = root.join("scenarios/passive-https.yaml");
    let name = format!("cancelled-{}", std::process::id());
    let run = LiveRun::start_with(
        &["up", scenario.to_str().unwrap(), "--name", &name],
        reports.path(),
    );
    let (status, run) = run.signal("INT");
    assert_eq!(status, Some(130));
    assert_eq!((run.objects("container"), run.objects("network")), (0, 0));
    assert_eq!(run.private_dirs(), 0);
}

/// `run A B C --format json`: stdout is one JSON array of run reports, one per scenario, with
/// no progress mixed in (it goes to stderr), whatever the runs observed. Three short seeds:
/// every seed is run, and judged, by an e2e test of its own, and `--all` selecting every seed is
/// `scenario::selection::select`'s unit test, so this test is only about the output (it ran all
/// 24 seeds until 2026-11-30: 130 s of the suite's busiest two minutes).
#[test]
fn several_runs_as_json_keep_stdout_machine_readable() {
    let reports = tempfile::tempdir().unwrap();
    let seeds = ["passive-https", "socket-masking", "audit-rules"];
    let out = xtask()
        .arg("run")
        .args(seeds)
        .args(["--jobs", "3", "--format", "json", "--reports"])
        .arg(reports.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let runs: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {stdout}"));
    // One report per scenario, in the order named, each with its checks (not an error).
    let named: Vec<&str> = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|run| {
            assert!(run["checks"].is_array(), "{run}");
            run["scenario"].as_str().unwrap_or_default()
        })
        .collect();
    assert_eq!(named, seeds);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("scenario runs,"),
        "the summary is on stderr: {stderr}"
    );
    // Progress is the same event stream as on a terminal, as JSON lines.
    let events: Vec<serde_json::Value> = stderr
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(events
        .iter()
        .all(|e| e["event"].is_string() && e["at"].is_number()));
    let started = events
        .iter()
        .filter(|e| e["event"] == "run-started" || e["of"]["event"] == "run-started")
        .count();
    assert_eq!(
        started,
        seeds.len(),
        "a run-started event per scenario: {stderr}"
    );
}

#[test]
fn completions_are_printed_for_each_shell() {
    for (shell, marker) in [
        ("bash", "-F _clap_complete_journal_lab journal-lab"),
        ("zsh", "#compdef journal-lab"),
        ("fish", "--command journal-lab"),
    ] {
        xtask()
            .args(["completions", shell])
            .assert()
            .success()
            .stdout(
                predicate::str::contains(marker)
                    .and(predicate::str::contains("JOURNAL_LAB_COMPLETE")),
            );
    }
    xtask().args(["completions", "tcsh"]).assert().code(2);
}

/// A command's stdout as JSON (it must succeed).
fn json_of(command: &mut Command) -> serde_json::Value {
    let out = command.output().unwrap();
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// How `document` breaks the schema `report schema --of NAME` prints (empty: it validates).
fn schema_errors(name: &str, document: &serde_json::Value) -> Vec<String> {
    let schema = json_of(xtask().args(["report", "schema", "--of", name]));
    let validator = jsonschema::options().build(&schema).unwrap();
    validator
        .iter_errors(document)
        .map(|e| e.to_string())
        .collect()
}

/// What the binary answers a shell's completion request with (the words typed so far, the
/// last one being completed), one candidate a line.
fn completed(words: &[&str]) -> Vec<String> {
    let out = xtask()
        .env("JOURNAL_LAB_COMPLETE", "bash")
        .env("_CLAP_COMPLETE_INDEX", (words.len() - 1).to_string())
        .env("_CLAP_IFS", "\n")
        .arg("--")
        .args(words)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// The bash completion works in a real bash: it registers for `journal-lab`, completes a
/// subcommand, an option of a subcommand, a built-in scenario's name and a release (asking the
/// binary); `cargo xtask ...` completes the same words.
#[test]
fn bash_completes_subcommands_options_and_names() {
    let out = xtask().args(["completions", "bash"]).output().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("journal-lab.bash");
    std::fs::write(&script, &out.stdout).unwrap();
    let complete = |words: &str| -> String {
        let words: Vec<&str> = words.split(' ').collect();
        let shell = format!(
            "source {}; complete -p journal-lab; COMP_WORDS=({}); COMP_CWORD={}; COMP_LINE='{}'; COMP_POINT=${{#COMP_LINE}}; \
             _clap_complete_journal_lab journal-lab '{}' '{}'; echo \"${{COMPREPLY[@]}}\"",
            script.display(),
            words.join(" "),
            words.len() - 1,
            words.join(" "),
            words[words.len() - 1],
            words[words.len() - 2],
        );
        succeeded(
            std::process::Command::new("bash")
                .args(["--norc", "-c", &shell])
                .output()
                .unwrap(),
        )
    };
    let last_words = |said: &str| -> Vec<String> {
        said.lines()
            .last()
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    let said = complete("journal-lab ver");
    assert!(
        said.contains("-F _clap_complete_journal_lab journal-lab"),
        "{said}"
    );
    assert!(last_words(&said).contains(&"verify".to_string()), "{said}");
    let said = complete("journal-lab run --pro");
    assert_eq!(last_words(&said), ["--profile"], "{said}");
    let said = complete("journal-lab down --la");
    assert_eq!(last_words(&said), ["--lab"], "{said}");
    // Names only the binary knows.
    let said = complete("journal-lab run server-out");
    assert_eq!(
        last_words(&said),
        ["server-outage", "server-outage-hardened"],
        "{said}"
    );
    let said = complete("journal-lab up --release trix");
    assert_eq!(last_words(&said), ["trixie"], "{said}");
    // `cargo xtask ...`, the contributors' spelling, completes the same words.
    let cargo = |words: &str| -> String {
        let shell = format!(
            "source {}; COMP_WORDS=({words}); COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 )); \
             _journal_lab_cargo cargo x y; echo \"${{COMPREPLY[@]}}\"",
            script.display()
        );
        let out = std::process::Command::new("bash")
            .args(["--norc", "-c", &shell])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(cargo("cargo xtask run --pro").trim(), "--profile");
    assert!(cargo("cargo xtask conv")
        .split(' ')
        .any(|w| w.trim() == "converge"));
    assert!(cargo("cargo xtask test passive-")
        .split(' ')
        .any(|w| w.trim() == "passive-https"));
}

/// Rough edges a new user hits: a scenario named as the README names it, `--keep on-failure`,
/// a mistyped subcommand.
#[test]
fn errors_name_the_fix() {
    xtask()
        .args(["run", "server-outgae"])
        .env("DOCKER_HOST", "unix:///nonexistent/journal-lab-test.sock")
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("server-outgae: no such file")
                .and(predicate::str::contains("server-outage"))
                .and(predicate::str::contains(":0:0").not()),
        );
    xtask()
        .args(["run", "--keep", "on-failure", "server-outage"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--keep=on-failure"));
    xtask()
        .arg("rn")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("run"));
}

/// A scenario whose check fails: a client whose uploader never starts.
const FAILING_SCENARIO: &str = "description: a client whose uploader never starts\nhosts:\n  - {name: server, role: server}\n  - {name: client1, role: client, configure_upload: false}\nsteps:\n  - {do: log-markers, deadline: 3}\nchecks:\n  - id: client-delivers\n";

/// `--keep=on-failure`: a run whose check fails stays up (and says how to remove it); one that
/// holds is removed.
#[test]
fn keep_on_failure_keeps_only_what_failed() {
    let dir = tempfile::tempdir().unwrap();
    let failing = dir.path().join("failing.yaml");
    std::fs::write(&failing, FAILING_SCENARIO).unwrap();
    let out = xtask()
        .args(["run", "--keep=on-failure", "--reports"])
        .arg(dir.path())
        .arg(&failing)
        .assert()
        .code(1);
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    let run_id = stdout
        .split("cargo xtask down --lab ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("a kept run says how to take it down")
        .to_string();
    assert!(
        stdout.contains(&format!("cargo xtask login HOST --lab {run_id}")),
        "{stdout}"
    );
    let run = LiveRun {
        child: std::process::Command::new("true").spawn().unwrap(),
        run_id: run_id.clone(),
    };
    assert_eq!(run.objects("container"), 2, "the failed run's lab stays");
    // What it said to run takes it down.
    xtask().args(["down", "--lab", &run_id]).assert().success();
    assert_eq!((run.objects("container"), run.objects("network")), (0, 0));

    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap();
    let out = xtask()
        .args(["run", "--keep=on-failure", "--reports"])
        .arg(dir.path())
        .arg(root.join("scenarios/passive-https.yaml"))
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(
        !stdout.contains("down --lab"),
        "a run that holds is removed: {stdout}"
    );
}

/// Molecule's loop on a lab of your own files: `up` a scenario whose client carries a file from
/// beside it, `converge` (nothing changed), edit the file, `converge` (that file changed, on the
/// host too), `converge` again (idempotent), `ls` (state and last action), `verify`, `down`,
/// `down` again; and `test --destroy=passing` keeps only what failed.
#[test]
fn up_converge_verify_down_and_test_with_a_destroy_strategy() {
    let dir = tempfile::tempdir().unwrap();
    let reports = dir.path().join("reports");
    std::fs::create_dir_all(dir.path().join("client")).unwrap();
    let drop_in = dir.path().join("client/retry.conf");
    std::fs::write(&drop_in, "[Service]\nRestartSec=5\n").unwrap();
    let scenario = dir.path().join("ours.yaml");
    std::fs::write(
        &scenario,
        "description: ours\nhosts:\n  - {name: server, role: server}\n  - name: client1\n    role: client\n    files:\n      - {path: /etc/systemd/system/systemd-journal-upload.service.d/70-retry.conf, source: client/retry.conf}\nsteps:\n  - do: log-markers\nchecks:\n  - id: client-delivers\n",
    )
    .unwrap();
    let name = format!("converge-{}", std::process::id());
    xtask()
        .arg("up")
        .arg(&scenario)
        .args(["--name", &name, "--reports"])
        .arg(&reports)
        .assert()
        .success();
    let converge = || {
        succeeded(
            xtask()
                .arg("converge")
                .args(["--lab", &name, "--reports"])
                .arg(&reports)
                .output()
                .unwrap(),
        )
    };
    let said = converge();
    assert!(said.contains("nothing changed"), "{said}");
    // The lab that is up, and its hosts, complete by name.
    assert!(
        completed(&["journal-lab", "login", "client1", "--lab", "converge-"]).contains(&name),
        "{name}"
    );
    assert!(completed(&["journal-lab", "exec", "cli"]).contains(&"client1".to_string()));
    // The listings as JSON, each in its published schema, saying what the lab is.
    let listed = json_of(
        xtask()
            .args(["ls", "--format", "json", "--reports"])
            .arg(&reports),
    );
    assert_eq!(schema_errors("labs", &listed), Vec::<String>::new());
    let ours = listed["labs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == name.as_str())
        .unwrap_or_else(|| panic!("{name} in {listed}"));
    assert_eq!(ours["state"], "up");
    assert_eq!(ours["scenario"], "ours");
    let images = json_of(xtask().args(["images", "list", "--format", "json"]));
    assert_eq!(schema_errors("images", &images), Vec::<String>::new());
    assert!(
        images["images"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["release"] == "bookworm" && i["built"] == true),
        "{images}"
    );
    std::fs::write(&drop_in, "[Service]\nRestartSec=7\n").unwrap();
    let said = converge();
    assert!(
        said.contains("client1      changed  /etc/systemd/system/systemd-journal-upload.service.d/70-retry.conf"),
        "{said}"
    );
    xtask()
        .args([
            "exec",
            "client1",
            "--lab",
            &name,
            "--",
            "systemctl",
            "show",
            "-p",
            "RestartUSec",
            "systemd-journal-upload",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("RestartUSec=7s"));
    assert!(converge().contains("nothing changed"), "idempotent");
    xtask()
        .args(["ls", "--reports"])
        .arg(&reports)
        .assert()
        .success()
        .stdout(
            predicate::str::contains(&name).and(predicate::str::contains("converge (0-changed)")),
        );
    xtask()
        .args(["verify", "--lab", &name, "--reports"])
        .arg(&reports)
        .assert()
        .success()
        .stdout(predicate::str::contains("client-delivers"));
    xtask()
        .args(["ls", "--reports"])
        .arg(&reports)
        .assert()
        .success()
        .stdout(
            predicate::str::contains("verified").and(predicate::str::contains("verify (held)")),
        );
    xtask().args(["down", "--lab", &name]).assert().success();
    xtask()
        .args(["down", "--lab", &name])
        .assert()
        .success()
        .stdout(predicate::str::contains("nothing to take down"));

    // test --name --destroy=passing: idempotence right after bring-up; the passing scenario's
    // lab goes, the failing ones stay under their names. `drift`'s host tightens a file the
    // scenario ships at every boot (a tmpfiles rule): converging again changes it.
    let failing = dir.path().join("failing.yaml");
    std::fs::write(&failing, FAILING_SCENARIO).unwrap();
    std::fs::write(
        dir.path().join("client/tighten.conf"),
        "z /etc/systemd/system/systemd-journal-upload.service.d/70-retry.conf 0600 root root -\n",
    )
    .unwrap();
    let drift = dir.path().join("drift.yaml");
    std::fs::write(
        &drift,
        std::fs::read_to_string(&scenario).unwrap().replace(
            "source: client/retry.conf}\n",
            "source: client/retry.conf}\n      - {path: /etc/tmpfiles.d/50-tighten.conf, source: client/tighten.conf}\n",
        ),
    )
    .unwrap();
    let tested = format!("tested-{}", std::process::id());
    let out = xtask()
        .args(["test", "--destroy=passing", "--name", &tested, "--reports"])
        .arg(&reports)
        .arg(&scenario)
        .arg(&failing)
        .arg(&drift)
        .assert()
        .code(1);
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    for kept in ["failing", "drift"] {
        assert!(
            stdout.contains(&format!("down --lab {tested}-{kept}")),
            "{kept}'s lab stays under its name: {stdout}"
        );
    }
    assert!(!stdout.contains(&format!("{tested}-ours")), "{stdout}");
    assert!(
        stdout.contains("IDEMPOTENCE FAILED: not idempotent")
            && stdout.contains(
                "client1:/etc/systemd/system/systemd-journal-upload.service.d/70-retry.conf"
            ),
        "{stdout}"
    );
    // The passing run converged again to no change, before its steps; `drift` says what changed.
    let steps_of = |name: &str| -> Vec<serde_json::Value> {
        // Each run's heading: `NAME (release, systemd …): …/run.json`.
        let run_json = stdout
            .lines()
            .find(|l| l.starts_with(&format!("{name} (")))
            .and_then(|l| l.rsplit(": ").next())
            .unwrap_or_else(|| panic!("{name}'s run.json in: {stdout}"));
        let run: serde_json::Value =
            serde_json::from_slice(&std::fs::read(run_json).unwrap()).unwrap();
        run["steps"].as_array().unwrap().clone()
    };
    let ours = steps_of("ours");
    assert_eq!(ours[0]["step"], "idempotence", "{ours:?}");
    assert!(ours[0].get("error").is_none(), "{ours:?}");
    assert_eq!(
        ours[1]["step"], "log-markers",
        "the steps after it: {ours:?}"
    );
    let drifted = steps_of("drift");
    assert_eq!(
        drifted.len(),
        1,
        "no step after a failed idempotence: {drifted:?}"
    );
    assert!(
        drifted[0]["output"]
            .to_string()
            .contains("70-retry.conf: mode 600, the scenario says 0644"),
        "{drifted:?}"
    );
    // The idempotence step observed; it did not repair: the file is as the host left it.
    xtask()
        .args([
            "exec",
            "client1",
            "--lab",
            &format!("{tested}-drift"),
            "--",
            "stat",
            "-c",
            "%a",
            "/etc/systemd/system/systemd-journal-upload.service.d/70-retry.conf",
        ])
        .assert()
        .success()
        .stdout(predicate::str::diff("600\n"));
    for kept in ["failing", "drift"] {
        xtask()
            .args(["down", "--lab", &format!("{tested}-{kept}")])
            .assert()
            .success();
    }
    xtask()
        .args(["ls", "--all", "--format", "json"])
        .assert()
        .success()
        .stdout(predicate::str::contains(&tested).not());
}

/// The engine is shared: a lab another user brought up is not the caller's to take down,
/// converge or verify (unless --force), `ls` shows only the caller's labs (`--all` everyone's,
/// with owners).
#[test]
fn another_users_lab_is_left_alone_unless_forced() {
    let images = xtask().args(["images", "hash"]).output().unwrap();
    let image = String::from_utf8_lossy(&images.stdout)
        .lines()
        .find(|l| l.starts_with("journal-lab/bookworm:"))
        .unwrap()
        .to_string();
    let run_id = format!("jl-20990101-000000-{:04x}", std::process::id() % 0xffff);
    let name = format!("theirs-{}", std::process::id());
    let created = std::process::Command::new("docker")
        .args(["create", "--name", &format!("server.{run_id}")])
        .args(["--label", &format!("journal-lab.run={run_id}")])
        .args(["--label", "journal-lab.kept=true"])
        .args(["--label", "journal-lab.user=99999@another-machine"])
        .args(["--label", "journal-lab.owner=another-machine/x/1/1"])
        .args(["--label", &format!("journal-lab.name={name}")])
        .args(["--label", "journal-lab.host=server"])
        .arg(&image)
        .output()
        .unwrap();
    succeeded(created);
    let run = LiveRun {
        child: std::process::Command::new("true").spawn().unwrap(),
        run_id: run_id.clone(),
    };
    xtask()
        .args(["down", "--lab", &name])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("is not yours to act on")
                .and(predicate::str::contains("99999@another-machine")),
        );
    for command in [
        &["verify", "--lab", &name][..],
        &["converge", "--lab", &name],
        &["exec", "server", "--lab", &name, "--", "true"],
    ] {
        xtask()
            .args(command)
            .assert()
            .code(2)
            .stderr(predicate::str::contains("--force"));
    }
    xtask()
        .args(["ls"])
        .assert()
        .success()
        .stdout(predicate::str::contains(&name).not());
    xtask().args(["ls", "--all"]).assert().success().stdout(
        predicate::str::contains(&name).and(predicate::str::contains("99999@another-machine")),
    );
    // (A bare `down` or `down --all` would do the same, but the tests beside this one have labs
    // of this user up: the suite never touches runs it did not start.)
    assert_eq!(run.objects("container"), 1, "still there");
    xtask()
        .args(["down", "--lab", &name, "--force"])
        .assert()
        .success();
    assert_eq!(run.objects("container"), 0);
}

/// `run --repeat N`: a fresh lab each time, then per check a rate, its interval and a verdict
/// of its own; the profile's rows are reported without deciding the exit code.
#[test]
fn repeated_runs_report_rates_and_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    let out = xtask()
        .args(["run", "--repeat", "2", "passive-https", "--reports"])
        .arg(dir.path())
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(stdout.contains("rates over 2 runs"), "{stdout}");
    let row = stdout
        .lines()
        .find(|l| l.contains("| client-delivers | client1 | final |"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        row.contains("stable-pass") && row.contains("pass 2/2"),
        "{row}"
    );
    let written = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("rates-")
        })
        .count();
    assert_eq!(written, 2, "rates-<time>.md and .json");
}

/// `scenario check -` reads the scenario from standard input: a valid one is ok, a broken one is
/// refused at `<stdin>:line:col`, and one larger than the limit is refused without reading on.
#[test]
fn a_scenario_on_standard_input_is_checked() {
    let check = |input: &[u8]| {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args(["scenario", "check", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        // A refusal may close the pipe before every byte is written.
        let _ = std::io::Write::write_all(&mut stdin, input);
        drop(stdin);
        child.wait_with_output().unwrap()
    };
    let good = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/passive-https.yaml"),
    )
    .unwrap();
    let out = check(&good);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("-: ok ("));
    let out = check(b"description: d\nhosts:\n  - {name: server, role: sever}\nchecks: []\n");
    assert_eq!(out.status.code(), Some(2));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.starts_with("<stdin>:3:"), "{said}");
    let out = check(&vec![b'#'; 2 * 1024 * 1024]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("larger than the limit"));
}

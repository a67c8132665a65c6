//! The Action's own steps (action.yml's `run:` scripts), run here as a GitHub runner runs them:
//! bash, with `GITHUB_OUTPUT`, `GITHUB_STEP_SUMMARY`, `RUNNER_TEMP` and `GITHUB_ACTION_PATH`, the
//! `${{ ... }}` expressions of their `env:` filled from the inputs, the runner and the outputs of
//! earlier steps, and the built `journal-lab` on PATH. The `uses:` steps (caches, uploads) are
//! GitHub's and are not run. No engine is needed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn action() -> yaml_serde::Value {
    yaml_serde::from_str(&std::fs::read_to_string(root().join("action.yml")).unwrap()).unwrap()
}

/// What a runner knows while it runs the action's steps.
struct Runner {
    inputs: BTreeMap<String, String>,
    outputs: BTreeMap<String, BTreeMap<String, String>>,
    temp: tempfile::TempDir,
    action_path: PathBuf,
    bin: tempfile::TempDir,
}

/// One step's run: its outputs, what it added to the job summary, what it printed, its exit.
struct Ran {
    outputs: BTreeMap<String, String>,
    summary: String,
    stdout: String,
    code: i32,
}

impl Runner {
    fn new(inputs: &[(&str, &str)]) -> Runner {
        let mut defaults: BTreeMap<String, String> = action()["inputs"]
            .as_mapping()
            .unwrap()
            .iter()
            .map(|(k, v)| {
                let default = match &v["default"] {
                    yaml_serde::Value::String(s) => s.clone(),
                    yaml_serde::Value::Bool(b) => b.to_string(),
                    yaml_serde::Value::Null => String::new(),
                    other => panic!("an input default the harness does not read: {other:?}"),
                };
                (k.as_str().unwrap().to_string(), default)
            })
            .collect();
        for (k, v) in inputs {
            assert!(defaults.contains_key(*k), "action.yml has no input {k}");
            defaults.insert(k.to_string(), v.to_string());
        }
        let bin = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(
            env!("CARGO_BIN_EXE_journal-lab"),
            bin.path().join("journal-lab"),
        )
        .unwrap();
        Runner {
            inputs: defaults,
            outputs: BTreeMap::new(),
            temp: tempfile::tempdir().unwrap(),
            action_path: root(),
            bin,
        }
    }

    /// `text` with its `${{ ... }}` expressions filled; an expression the harness does not know
    /// fails the test (action.yml grew one: teach the harness).
    fn fill(&self, text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${{") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find("}}").expect("a closed expression") + start;
            let expression = rest[start + 3..end].trim();
            let value = match expression.split('.').collect::<Vec<_>>()[..] {
                ["inputs", name] => self.inputs[name].clone(),
                ["runner", "temp"] => self.temp.path().display().to_string(),
                ["runner", "os"] => "Linux".to_string(),
                ["github", "action_path"] => self.action_path.display().to_string(),
                ["steps", step, "outputs", name] => self
                    .outputs
                    .get(step)
                    .and_then(|o| o.get(name))
                    .cloned()
                    .unwrap_or_default(),
                _ => panic!("an expression the harness does not fill: {expression}"),
            };
            out.push_str(&value);
            rest = &rest[end + 2..];
        }
        out.push_str(rest);
        out
    }

    /// Runs the step whose `id` is `id` (its outputs kept for the later steps).
    fn run(&mut self, id: &str, cwd: &Path) -> Ran {
        let action = action();
        let step = action["runs"]["steps"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|s| s["id"].as_str() == Some(id) || s["name"].as_str() == Some(id))
            .unwrap_or_else(|| panic!("action.yml has no step {id}"))
            .clone();
        let script = step["run"].as_str().expect("a run: step");
        let output = self.temp.path().join(format!("{id}.output"));
        let summary = self.temp.path().join("summary.md");
        std::fs::write(&output, "").unwrap();
        let mut command = Command::new("bash");
        command
            .args([
                "--noprofile",
                "--norc",
                "-e",
                "-o",
                "pipefail",
                "-c",
                script,
            ])
            .current_dir(cwd)
            .env("GITHUB_OUTPUT", &output)
            .env("GITHUB_STEP_SUMMARY", &summary)
            .env("RUNNER_TEMP", self.temp.path())
            .env("GITHUB_ACTION_PATH", &self.action_path)
            .env(
                "PATH",
                format!(
                    "{}:{}",
                    self.bin.path().display(),
                    std::env::var("PATH").unwrap()
                ),
            );
        if let Some(env) = step["env"].as_mapping() {
            for (k, v) in env {
                command.env(k.as_str().unwrap(), self.fill(v.as_str().unwrap()));
            }
        }
        let out = command.output().unwrap();
        let outputs: BTreeMap<String, String> = std::fs::read_to_string(&output)
            .unwrap()
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.outputs.insert(id.to_string(), outputs.clone());
        Ran {
            outputs,
            summary: std::fs::read_to_string(&summary).unwrap_or_default(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            code: out.status.code().unwrap_or(-1),
        }
    }
}

/// The binary is keyed by the action's own source (a new ref, a new key), and each matrix leg
/// gets its own suffix for artifact names and categories.
#[test]
fn the_binary_key_follows_the_source_and_each_leg_has_its_suffix() {
    let cwd = tempfile::tempdir().unwrap();
    let mut runner = Runner::new(&[("releases", "bookworm,trixie"), ("shard", "1/4")]);
    let source = tempfile::tempdir().unwrap();
    std::fs::copy(root().join("Cargo.toml"), source.path().join("Cargo.toml")).unwrap();
    std::fs::write(source.path().join("lib.rs"), "// one\n").unwrap();
    runner.action_path = source.path().to_path_buf();
    let first = runner.run("version", cwd.path());
    assert_eq!(first.code, 0, "{}", first.stdout);
    assert_eq!(first.outputs["suffix"], "-bookworm-trixie-1-4");
    let key = first.outputs["key"].clone();
    assert!(
        key.starts_with(&format!("{}-", env!("CARGO_PKG_VERSION"))),
        "{key}"
    );
    assert_eq!(
        runner.run("version", cwd.path()).outputs["key"],
        key,
        "stable"
    );
    std::fs::write(source.path().join("lib.rs"), "// two\n").unwrap();
    assert_ne!(
        runner.run("version", cwd.path()).outputs["key"],
        key,
        "a change, a new key"
    );
    let mut plain = Runner::new(&[]);
    plain.action_path = source.path().to_path_buf();
    assert_eq!(plain.run("version", cwd.path()).outputs.get("suffix"), None);
}

/// The image cache key follows the recipes and the scenario files (their packages make variant
/// images).
#[test]
fn the_image_key_follows_the_scenarios() {
    let cwd = tempfile::tempdir().unwrap();
    std::fs::write(cwd.path().join("mine.yaml"), "packages: [haproxy]\n").unwrap();
    let mut runner = Runner::new(&[("scenarios", "*.yaml")]);
    let key = runner.run("images", cwd.path()).outputs["key"].clone();
    assert_eq!(key.len(), 16, "{key}");
    assert_eq!(runner.run("images", cwd.path()).outputs["key"], key);
    std::fs::write(cwd.path().join("mine.yaml"), "packages: [haproxy, gcc]\n").unwrap();
    assert_ne!(runner.run("images", cwd.path()).outputs["key"], key);
}

/// The SARIF step writes one log whose runs GitHub takes in one upload (at most 20, one
/// category); a failed upload is said as a warning and in the summary; the job summary holds
/// every report; the verdict fails the job exactly when journal-lab did not exit 0.
#[test]
fn sarif_summary_and_verdict_steps() {
    let cwd = tempfile::tempdir().unwrap();
    let reports = cwd.path().join("reports");
    for (n, name) in ["server-outage", "client-restart"].iter().enumerate() {
        let dir = reports.join(format!("jl-20261207-00000{n}-0000000{n}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(
            root().join(format!("tests/data/timeline/{name}.run.json")),
            dir.join("run.json"),
        )
        .unwrap();
        std::fs::write(dir.join("report.md"), format!("# {name}\n")).unwrap();
    }
    let mut runner = Runner::new(&[("reports", "reports")]);
    let sarif = runner.run("sarif", cwd.path());
    assert_eq!(sarif.code, 0, "{}", sarif.stdout);
    let file = cwd.path().join(&sarif.outputs["file"]);
    let log: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let runs = log["runs"].as_array().unwrap();
    assert!(!runs.is_empty() && runs.len() <= 20, "{}", runs.len());
    let categories: std::collections::BTreeSet<String> = runs
        .iter()
        .map(|r| {
            r["automationDetails"]["id"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert_eq!(
        categories.into_iter().collect::<Vec<_>>(),
        ["journal-lab/"],
        "one category an upload"
    );

    let said = runner.run(
        "Say when code scanning did not take the results",
        cwd.path(),
    );
    assert!(
        said.stdout.contains("::warning title=journal-lab::"),
        "{}",
        said.stdout
    );
    assert!(said
        .summary
        .contains("could not be uploaded to code scanning"));

    let summary = runner.run("Publish the results in the job summary", cwd.path());
    assert!(
        summary.summary.contains("# server-outage") && summary.summary.contains("# client-restart"),
        "{}",
        summary.summary
    );

    for (code, fails) in [("0", false), ("1", true), ("2", true)] {
        runner.outputs.insert(
            "run".into(),
            BTreeMap::from([("exit-code".to_string(), code.to_string())]),
        );
        let verdict = runner.run("Verdict", cwd.path());
        assert_eq!(verdict.code != 0, fails, "exit {code}: {}", verdict.stdout);
        assert_eq!(verdict.stdout.contains("::error"), fails);
    }
}

/// The userns step, with `sudo`, `systemctl`, `docker` and `stat` stubbed: on a pure v2 runner
/// it merges `userns-remap` into the engine's daemon.json (keeping what was there), restarts the
/// engine and checks it took; on an engine that remaps already, or a hybrid runner, it changes
/// nothing.
#[test]
fn the_userns_step_merges_the_engines_settings_and_checks_them() {
    let cwd = tempfile::tempdir().unwrap();
    let mut runner = Runner::new(&[("userns", "true")]);
    let etc = tempfile::tempdir().unwrap();
    let conf = etc.path().join("daemon.json");
    std::fs::write(&conf, "{\"log-driver\": \"json-file\"}").unwrap();
    let restarted = runner.temp.path().join("restarted");
    let bin = runner.bin.path().to_path_buf();
    let stub = |name: &str, body: &str| {
        let path = bin.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        let mut permissions = std::fs::metadata(&path).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
        std::fs::set_permissions(&path, permissions).unwrap();
    };
    // sudo runs its command with /etc/docker/daemon.json read from the test's directory.
    let etc_dir = etc.path().display().to_string();
    stub(
        "sudo",
        &format!("for a in \"$@\"; do set -- \"$@\" \"$(printf '%s' \"$a\" | sed 's#^/etc/docker#{etc_dir}#')\"; shift; done; exec \"$@\""),
    );
    stub("systemctl", &format!("touch {}", restarted.display()));
    stub("stat", "echo cgroup2fs");
    stub(
        "docker",
        &format!(
            "if [ -e {} ]; then echo '[name=seccomp name=userns]'; else echo '[name=seccomp]'; fi",
            restarted.display()
        ),
    );
    let ran = runner.run("userns", cwd.path());
    assert_eq!(ran.code, 0, "{}", ran.stdout);
    assert_eq!(ran.outputs["remapped"], "true");
    let merged: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&conf).unwrap()).unwrap();
    assert_eq!(
        merged,
        serde_json::json!({"log-driver": "json-file", "userns-remap": "default"}),
        "merged, what was there kept"
    );
    let again = runner.run("userns", cwd.path());
    assert_eq!(again.outputs["remapped"], "already");
    stub("stat", "echo tmpfs");
    let hybrid = runner.run("userns", cwd.path());
    assert!(hybrid.stdout.contains("::warning"), "{}", hybrid.stdout);
    assert!(!hybrid.outputs.contains_key("remapped"));
}

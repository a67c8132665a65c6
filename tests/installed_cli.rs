//! The installed `journal-lab` binary from a directory of its own: it names its version and
//! commit, resolves built-in scenario names, writes a starting setup, and reads nothing from the
//! tree it was compiled in (no engine is needed for any of this).

use std::path::Path;
use std::process::{Command, Output};

fn journal_lab(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_journal-lab"))
        .current_dir(cwd)
        .args(args)
        .env("DOCKER_HOST", "unix:///nonexistent/journal-lab-test.sock")
        .output()
        .unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn the_binary_works_from_any_directory() {
    let cwd = tempfile::tempdir().unwrap();
    let version = journal_lab(cwd.path(), &["--version"]);
    assert!(version.status.success());
    let version = text(&version);
    assert!(
        version.starts_with(&format!(
            "journal-lab {} (commit ",
            env!("CARGO_PKG_VERSION")
        )),
        "{version}"
    );

    // A built-in scenario by name is found (and then the missing engine is what stops it).
    let out = journal_lab(cwd.path(), &["run", "server-outage"]);
    assert_eq!(out.status.code(), Some(2));
    let said = text(&out);
    assert!(
        said.contains("Docker engine") || said.contains("docker"),
        "{said}"
    );
    assert!(!said.contains("no such file"), "{said}");

    // An unknown name lists the built-in ones, without a made-up position.
    let out = journal_lab(cwd.path(), &["run", "server-outgae"]);
    assert_eq!(out.status.code(), Some(2));
    let said = text(&out);
    assert!(said.contains("server-outgae: no such file"), "{said}");
    assert!(said.contains("server-outage-hardened"), "{said}");
    assert!(!said.contains(":0:0"), "{said}");

    // Its bash completion is journal-lab's own: it leaves cargo's completion alone.
    let script = text(&journal_lab(cwd.path(), &["completions", "bash"]));
    // It asks `journal-lab` on PATH (not the path of a build directory) at each TAB.
    assert!(
        script.contains("-F _clap_complete_journal_lab journal-lab")
            && script.contains("JOURNAL_LAB_COMPLETE=\"bash\" \\\n        \"journal-lab\" --"),
        "{script}"
    );
    assert!(
        !script.contains("_journal_lab_cargo"),
        "registers nothing for cargo"
    );

    // The contributors' test command is not the installed binary's.
    let out = journal_lab(cwd.path(), &["test"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("cargo xtask test"));

    // init, then the setup it wrote validates (a scenario check of its scenario passes).
    let out = journal_lab(cwd.path(), &["init", "ours"]);
    assert!(out.status.success(), "{}", text(&out));
    // ... and git ignores the reports `run` writes here.
    assert!(
        text(&out).contains("added /reports/ to .gitignore"),
        "{}",
        text(&out)
    );
    let ignore = std::fs::read_to_string(cwd.path().join(".gitignore")).unwrap();
    assert!(ignore.lines().any(|l| l == "/reports/"), "{ignore}");
    let out = journal_lab(cwd.path(), &["scenario", "check", "ours/scenario.yaml"]);
    assert!(out.status.success(), "{}", text(&out));
    let again = journal_lab(cwd.path(), &["init", "ours"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(text(&again).contains("--force"));

    // A setup that names a file outside its directory: refused at its line, before anything boots.
    std::fs::write(
        cwd.path().join("ours/setup.yaml"),
        "client:\n  files:\n    - {path: /etc/x.conf, source: ../../etc/passwd}\n",
    )
    .unwrap();
    let out = journal_lab(cwd.path(), &["run", "--setup", "ours"]);
    assert_eq!(out.status.code(), Some(2));
    let said = text(&out);
    assert!(said.contains("ours/setup.yaml:3:"), "{said}");
    assert!(said.contains("no `..`"), "{said}");

    // Only what the commands wrote is there: nothing from the compiled-in tree, no reports yet
    // (and init's .gitignore).
    let mut entries: Vec<_> = std::fs::read_dir(cwd.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    entries.sort();
    assert_eq!(entries, [".gitignore", "ours"]);
}

/// Issue 44: the installed binary's help speaks of itself, not of `cargo xtask`; a lab named
/// as a positional argument is answered with where it goes (`--lab`).
#[test]
fn help_and_hints_speak_of_the_installed_binary() {
    let cwd = tempfile::tempdir().unwrap();
    for command in ["up", "report", "collect-script", "completions"] {
        let help = text(&journal_lab(cwd.path(), &[command, "--help"]));
        assert!(!help.contains("cargo xtask login"), "{command}: {help}");
        assert!(
            !help.contains("`cargo xtask report merge"),
            "{command}: {help}"
        );
        assert!(
            !help.contains("`cargo xtask collect-script"),
            "{command}: {help}"
        );
    }
    let out = journal_lab(cwd.path(), &["exec", "eco-a2", "client1", "--", "true"]);
    assert_eq!(out.status.code(), Some(2));
    let said = text(&out);
    assert!(
        said.contains("name the lab with --lab NAME")
            && said.contains("`journal-lab exec --lab eco-a2 client1 ...`"),
        "{said}"
    );
}

/// Issue 44: `report prune` takes its directory as the other `report` commands do, and
/// `--dry-run` says what it would free and removes nothing.
#[test]
fn prune_takes_a_directory_and_a_dry_run() {
    let cwd = tempfile::tempdir().unwrap();
    let reports = cwd.path().join("elsewhere");
    for id in ["jl-20261101-000000-0001", "jl-20261102-000000-0002"] {
        std::fs::create_dir_all(reports.join(id)).unwrap();
        std::fs::write(reports.join(id).join("run.json"), "{}").unwrap();
    }
    let out = journal_lab(
        cwd.path(),
        &["report", "prune", "elsewhere", "--keep", "1", "--dry-run"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let said = text(&out);
    assert!(
        said.contains("would remove") && said.contains("jl-20261101-000000-0001"),
        "{said}"
    );
    assert!(said.contains("1 runs would be removed"), "{said}");
    assert!(reports.join("jl-20261101-000000-0001").exists());
}

/// Issue 44: a command asked for JSON answers in JSON, its errors too (`{"error", "exit"}` on
/// standard output, exit 2): `ls` without an engine, and `run` likewise.
#[test]
fn json_is_answered_in_json_errors_included() {
    let cwd = tempfile::tempdir().unwrap();
    for args in [
        &["ls", "--format", "json"][..],
        &["run", "passive-https", "--format=json"][..],
        &["images", "list", "--format", "json"][..],
    ] {
        let out = journal_lab(cwd.path(), args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let document: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: stdout is not JSON ({e}): {}", text(&out)));
        assert_eq!(
            schema_errors(cwd.path(), "error", &document),
            Vec::<String>::new()
        );
        assert_eq!(document["exit"], 2, "{args:?}");
        assert!(
            document["error"]
                .as_str()
                .is_some_and(|e| e.contains("cannot reach a Docker engine")),
            "{args:?}: {document}"
        );
    }
}

/// How `document` breaks the schema `report schema --of NAME` prints (empty: it validates).
fn schema_errors(cwd: &Path, name: &str, document: &serde_json::Value) -> Vec<String> {
    let out = journal_lab(cwd, &["report", "schema", "--of", name]);
    assert!(out.status.success(), "{}", text(&out));
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let validator = jsonschema::options().build(&schema).unwrap();
    validator
        .iter_errors(document)
        .map(|e| e.to_string())
        .collect()
}

/// The listings that need no engine, as JSON: one document each, in its published schema,
/// saying what the text says (`report prune`, `scenario check` of a good and a bad file).
#[test]
fn listings_answer_in_their_published_schemas() {
    let cwd = tempfile::tempdir().unwrap();
    let reports = cwd.path().join("reports");
    for id in ["jl-20261101-000000-0001", "jl-20261102-000000-0002"] {
        std::fs::create_dir_all(reports.join(id)).unwrap();
        std::fs::write(reports.join(id).join("run.json"), "{}").unwrap();
    }
    let json = |args: &[&str]| -> (Option<i32>, serde_json::Value) {
        let out = journal_lab(cwd.path(), args);
        let document = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: stdout is not JSON ({e}): {}", text(&out)));
        (out.status.code(), document)
    };
    let (code, pruned) = json(&[
        "report",
        "prune",
        "reports",
        "--keep",
        "1",
        "--dry-run",
        "--format",
        "json",
    ]);
    assert_eq!(code, Some(0));
    assert_eq!(
        schema_errors(cwd.path(), "prune", &pruned),
        Vec::<String>::new()
    );
    assert_eq!(pruned["dry_run"], true);
    assert_eq!(pruned["kept"], 1);
    assert!(pruned["removed"][0]["dir"]
        .as_str()
        .is_some_and(|d| d.ends_with("jl-20261101-000000-0001")));
    assert!(
        reports.join("jl-20261101-000000-0001").exists(),
        "a dry run"
    );

    std::fs::write(
        cwd.path().join("bad.yaml"),
        "hosts:\n  - {name: server, role: servr}\n",
    )
    .unwrap();
    let (code, checked) = json(&[
        "scenario",
        "check",
        "passive-https",
        "bad.yaml",
        "--format",
        "json",
    ]);
    assert_eq!(code, Some(2), "a bad file fails the check");
    assert_eq!(
        schema_errors(cwd.path(), "scenario-check", &checked),
        Vec::<String>::new()
    );
    let files = checked["files"].as_array().unwrap();
    assert_eq!(files.len(), 2);
    assert_eq!(files[1]["ok"], false);
    assert_eq!(files[1]["line"], 2);
    assert!(
        files[1]["error"]
            .as_str()
            .is_some_and(|e| e.contains("servr")),
        "{checked}"
    );
}

/// A stored run (tests/data/rejudge/NAME) copied into a directory of its own.
fn stored_run(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let from = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/rejudge")
        .join(name);
    for file in ["run.json", "observations.json.zst"] {
        std::fs::copy(from.join(file), dir.path().join(file)).unwrap();
    }
    dir
}

fn statuses(run: &serde_json::Value) -> Vec<(String, String, String, String, String)> {
    ["checks", "profile"]
        .iter()
        .flat_map(|list| run[list].as_array().unwrap().clone())
        .map(|r| {
            let field = |k: &str| r[k].as_str().unwrap().to_string();
            (
                field("id"),
                field("host"),
                field("phase"),
                field("status"),
                field("observed"),
            )
        })
        .collect()
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Real runs judged again from what they observed, with no engine (the five seed scenarios,
/// sealing, an outage and hostile input): every verdict as the run
/// gave it, the reports written again saying so, the exit code the run's own.
#[test]
fn a_stored_run_judged_again_gives_the_verdicts_it_gave() {
    for name in [
        "passive-https",
        "port-change",
        "cert-rejection",
        "socket-masking",
        "audit-rules",
        "fss-sealing",
        "server-outage",
        "hostile-input",
    ] {
        let run = stored_run(name);
        let before = read_json(&run.path().join("run.json"));
        let out = journal_lab(run.path(), &["report", "rejudge", ".", "--format", "json"]);
        let expected_exit = if before["ok"].as_bool().unwrap() {
            0
        } else {
            1
        };
        assert_eq!(
            out.status.code(),
            Some(expected_exit),
            "{name}: {}",
            text(&out)
        );
        let said: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(said["changed"], serde_json::json!([]), "{name}");
        assert_eq!(
            schema_errors(run.path(), "rejudge", &said),
            Vec::<String>::new(),
            "{name}: `report rejudge --format json` against `report schema --of rejudge`"
        );
        let after = read_json(&run.path().join("run.json"));
        assert_eq!(statuses(&after), statuses(&before), "{name}");
        assert_eq!(
            said["verdicts"].as_u64().unwrap() as usize,
            statuses(&before).len()
        );
        assert_eq!(
            after["rejudged"], said,
            "{name}: run.json says it was judged again"
        );
        let md = std::fs::read_to_string(run.path().join("report.md")).unwrap();
        assert!(
            md.contains("Judged again"),
            "{name}: report.md does not say so"
        );
    }
}

/// With one observation changed (the server's remote journal files now say they are sealed),
/// judging again moves that verdict, and only it: the verdicts are made from the record.
#[test]
fn a_changed_observation_moves_its_verdict_and_only_it() {
    let run = stored_run("fss-sealing");
    let path = run.path().join("observations.json.zst");
    let stored = zstd::decode_all(&std::fs::read(&path).unwrap()[..]).unwrap();
    let mut observations: serde_json::Value = serde_json::from_slice(&stored).unwrap();
    let mut edited = 0;
    for evaluation in observations["evaluations"].as_array_mut().unwrap() {
        for answer in evaluation["answers"]["commands"].as_array_mut().unwrap() {
            let command = answer["command"].as_str().unwrap();
            if answer["host"] == "server"
                && command.contains("remote-*.journal")
                && command.contains("=== log")
            {
                let sealed = answer["output"]["stdout"]
                    .as_str()
                    .unwrap()
                    .replace("Compatible flags:", "Compatible flags: SEALED");
                answer["output"]["stdout"] = serde_json::Value::String(sealed);
                edited += 1;
            }
        }
    }
    assert_eq!(
        edited, 1,
        "the remote-journal-sealed probe of the server is in the record"
    );
    let json = serde_json::to_vec(&observations).unwrap();
    std::fs::write(&path, zstd::encode_all(&json[..], 3).unwrap()).unwrap();

    let out = journal_lab(run.path(), &["report", "rejudge", "."]);
    let said = text(&out);
    assert!(
        said.contains("1 changed")
            && said.contains("remote-journal-sealed on server (sealed): fail -> pass"),
        "{said}"
    );
}

/// A run directory without stored observations is refused, saying why and what to do.
#[test]
fn a_run_without_observations_cannot_be_judged_again_and_says_why() {
    let run = stored_run("fss-sealing");
    std::fs::remove_file(run.path().join("observations.json.zst")).unwrap();
    let out = journal_lab(run.path(), &["report", "rejudge", "."]);
    assert_eq!(out.status.code(), Some(2));
    let said = text(&out);
    assert!(
        said.contains("observations.json.zst: no such file"),
        "{said}"
    );
    assert!(said.contains("run the scenario again"), "{said}");
    let out = journal_lab(run.path(), &["report", "rejudge", "nowhere"]);
    assert!(text(&out).contains("holds no run.json"), "{}", text(&out));
}

/// A check's parameter is stored with what the run observed: judged again with a looser bound
/// (server-outage's `upload-restarts-at-most`, max 3, saw NRestarts=5), that verdict moves.
#[test]
fn a_parameter_judged_again_is_the_one_stored() {
    let run = stored_run("server-outage");
    let path = run.path().join("observations.json.zst");
    let mut observations: serde_json::Value =
        serde_json::from_slice(&zstd::decode_all(&std::fs::read(&path).unwrap()[..]).unwrap())
            .unwrap();
    let mut loosened = 0;
    for evaluation in observations["evaluations"].as_array_mut().unwrap() {
        for phase in evaluation["phases"].as_array_mut().unwrap() {
            for due in phase["due"].as_array_mut().unwrap() {
                if due["check"] == "upload-restarts-at-most" {
                    assert_eq!(
                        due["target"]["params"]["max"], 3,
                        "the bound the run judged with"
                    );
                    due["target"]["params"]["max"] = serde_json::json!(100);
                    loosened += 1;
                }
            }
        }
    }
    assert_eq!(loosened, 1);
    let json = serde_json::to_vec(&observations).unwrap();
    std::fs::write(&path, zstd::encode_all(&json[..], 3).unwrap()).unwrap();
    let said = text(&journal_lab(run.path(), &["report", "rejudge", "."]));
    assert!(
        said.contains("1 changed")
            && said.contains("upload-restarts-at-most on client1 (final): fail -> pass"),
        "{said}"
    );
    assert!(said.contains("NRestarts=5, at most 100"), "{said}");
}

/// `findings` lists the ledger built into the binary, as text and as JSON, with no engine.
#[test]
fn findings_lists_the_ledger() {
    let cwd = tempfile::tempdir().unwrap();
    let out = journal_lab(cwd.path(), &["findings"]);
    assert!(out.status.success(), "{}", text(&out));
    let said = text(&out);
    assert!(said.starts_with("JL-001 (finding): "), "{said}");
    assert!(said.contains("seen on: bookworm, trixie, forky, sid; not seen on: bullseye"));
    let out = journal_lab(cwd.path(), &["findings", "--format", "json"]);
    let entries: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<&str> = entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    let ledger =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/ledger.yaml"))
            .unwrap();
    assert_eq!(ids.len(), ledger.matches("\n- id: JL-").count());
    assert!(ids.iter().all(|id| ledger.contains(&format!("id: {id}\n"))));
}

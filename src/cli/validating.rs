//! `scenario check`: each file validated as a run would load it, its verdict printed (or one
//! JSON document), errors at file:line:col.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::{report, scenario};

pub(super) fn check_scenarios(files: &[PathBuf], json: bool) -> anyhow::Result<ExitCode> {
    use report::documents::{CheckedScenario, ScenarioChecks};
    let mut checked = ScenarioChecks::default();
    for file in files {
        // `-`: the scenario on standard input (its `source:` files beside the working directory).
        let loaded = if file.as_os_str() == "-" {
            scenario::limits::read_text(std::io::stdin().lock())
                .map_err(|message| scenario::ScenarioError {
                    file: PathBuf::from("<stdin>"),
                    line: 0,
                    column: 0,
                    message,
                })
                .and_then(|text| scenario::Scenario::parse(Path::new("<stdin>"), &text))
        } else {
            scenario::Scenario::load(file)
        };
        let verdict = match &loaded {
            Ok(s) => CheckedScenario {
                file: file.clone(),
                ok: true,
                hosts: Some(s.hosts.len()),
                steps: Some(s.steps.len()),
                checks: Some(s.checks.len()),
                line: None,
                column: None,
                error: None,
            },
            Err(e) => CheckedScenario {
                file: e.file.clone(),
                ok: false,
                hosts: None,
                steps: None,
                checks: None,
                line: Some(e.line),
                column: Some(e.column),
                error: Some(e.message.clone()),
            },
        };
        if !json {
            match &loaded {
                Ok(s) => println!(
                    "{}: ok ({} hosts, {} steps, {} checks)",
                    file.display(),
                    s.hosts.len(),
                    s.steps.len(),
                    s.checks.len()
                ),
                Err(e) => eprintln!("{e}"),
            }
        }
        checked.files.push(verdict);
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&checked)?);
    }
    Ok(if checked.files.iter().all(|f| f.ok) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

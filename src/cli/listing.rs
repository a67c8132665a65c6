//! `ls`: the labs that are up, with their state, last action and hosts (on every engine).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::lifecycle::{hosts_on, label, labs, last_action};
use crate::report::documents::LabRow;
use crate::{lab, report};

/// A lab's state, from its hosts and its last action.
fn state_of(
    hosts: &[(String, String, String)],
    expected: Option<usize>,
    last: Option<&(String, String)>,
) -> &'static str {
    let running = hosts
        .iter()
        .filter(|(_, _, state)| state == "running")
        .count();
    if hosts.is_empty() || running < hosts.len() || expected.is_some_and(|n| hosts.len() < n) {
        return "partially removed";
    }
    match last.map(|(action, outcome)| (action.as_str(), outcome.as_str())) {
        Some(("verify", "held")) => "verified",
        Some((_, "failed")) => "failed",
        _ => "up",
    }
}

/// How long ago a run started, from its id (`jl-YYYYMMDD-HHMMSS-xxxx`).
fn age(run_id: &str) -> String {
    let format = time::macros::format_description!("[year][month][day]-[hour][minute][second]");
    let started = run_id
        .strip_prefix("jl-")
        .and_then(|rest| rest.get(..15))
        .and_then(|stamp| time::PrimitiveDateTime::parse(stamp, format).ok())
        .map(|t| t.assume_utc());
    match started {
        Some(t) => {
            let minutes = (time::OffsetDateTime::now_utc() - t).whole_minutes();
            if minutes < 60 {
                format!("{minutes} min")
            } else {
                format!("{} h {} min", minutes / 60, minutes % 60)
            }
        }
        None => "?".into(),
    }
}

/// `cargo xtask ls`.
pub async fn ls(reports: PathBuf, everyone: bool, json: bool) -> anyhow::Result<ExitCode> {
    let engines = lab::connect(&lab::fleet::Fleet::chosen()).await?;
    let engine = &engines[0];
    let labs = labs(engine, everyone).await?;
    if labs.is_empty() && !json {
        println!(
            "no lab is up (bring one up with `{} up SCENARIO`)",
            super::me()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let mut rows = Vec::new();
    for run in labs {
        // Where the run said its reports go, unless --reports names another place.
        let dir = match &run.reports {
            Some(labelled) if reports == Path::new(super::REPORTS) => PathBuf::from(labelled),
            _ => reports.clone(),
        };
        let recorded = report::read_run(&dir.join(&run.id).join("run.json")).ok();
        let engines = lab::engines_of(&run, &engines).await?;
        let found: Vec<(String, String, String)> = hosts_on(&engines, &run.id)
            .await?
            .into_iter()
            .map(|(host, container, state, at)| {
                // With several engines, each host says where it is.
                let host = match engines.len() {
                    1 => host,
                    _ => format!("{host}@{}", engines[at].name()),
                };
                (host, container, state)
            })
            .collect();
        let last = last_action(&dir, &run.id);
        let hosts: Vec<String> = found
            .iter()
            .map(|(host, _, state)| {
                if state == "running" {
                    host.clone()
                } else {
                    format!("{host} ({state})")
                }
            })
            .collect();
        rows.push(LabRow {
            name: label(&run),
            run: run.id.clone(),
            age: age(&run.id),
            scenario: recorded
                .as_ref()
                .map(|r| r.scenario.clone())
                .unwrap_or_else(|| "(no report here)".into()),
            state: state_of(
                &found,
                recorded.as_ref().map(|r| r.hosts.len()),
                last.as_ref(),
            )
            .to_string(),
            last: last
                .map(|(a, o)| format!("{a} ({o})"))
                .unwrap_or_else(|| "-".into()),
            user: run.user.clone().unwrap_or_else(|| "?".into()),
            hosts: if hosts.is_empty() {
                "(none left)".to_string()
            } else {
                hosts.join(", ")
            },
        });
    }
    if json {
        // One document: the labs, each with the same fields as the table's columns.
        println!(
            "{}",
            serde_json::to_string_pretty(&report::documents::Labs { labs: rows })?
        );
        return Ok(ExitCode::SUCCESS);
    }
    // Columns as wide as their longest entry.
    let width = |f: &dyn Fn(&LabRow) -> usize, title: &str| {
        rows.iter().map(f).max().unwrap_or(0).max(title.len())
    };
    let (w_name, w_run, w_age, w_scenario, w_state, w_last) = (
        width(&|r| r.name.len(), "lab"),
        width(&|r| r.run.len(), "run"),
        width(&|r| r.age.len(), "age"),
        width(&|r| r.scenario.len(), "scenario"),
        width(&|r| r.state.len(), "state"),
        width(&|r| r.last.len(), "last action"),
    );
    // With --all, whose each lab is.
    let w_user = if everyone {
        width(&|r| r.user.len(), "owner") + 1
    } else {
        0
    };
    let owner = |user: &str| {
        if everyone {
            format!("{user} ")
        } else {
            String::new()
        }
    };
    println!(
        "{:<w_name$} {:<w_user$}{:<w_run$} {:<w_age$} {:<w_scenario$} {:<w_state$} {:<w_last$} hosts",
        "lab", owner("owner"), "run", "age", "scenario", "state", "last action"
    );
    for r in rows {
        println!(
            "{:<w_name$} {:<w_user$}{:<w_run$} {:<w_age$} {:<w_scenario$} {:<w_state$} {:<w_last$} {}",
            r.name, owner(&r.user), r.run, r.age, r.scenario, r.state, r.last, r.hosts
        );
    }
    Ok(ExitCode::SUCCESS)
}

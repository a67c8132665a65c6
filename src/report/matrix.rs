//! The conformance matrix: many runs (scenarios × releases, possibly made on different machines
//! and merged from their run.json files) as one grid: a row per scenario, check, host and phase,
//! a column per release, each cell the verdict with the run it comes from; and the differences,
//! the rows whose verdicts are not the same in every column. And `--shard K/N`, the
//! deterministic slice of the scenario × release list one machine of many runs.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::render::{escape, md_table};
use super::RunReport;
use crate::checks::Status;

/// `K/N`: the K-th of N slices (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(text: &str) -> Result<Shard, String> {
        let parse = |s: &str| s.trim().parse::<usize>().ok();
        let (k, n) = text
            .split_once('/')
            .and_then(|(k, n)| Some((parse(k)?, parse(n)?)))
            .ok_or_else(|| format!("shard {text:?}: write K/N, e.g. 1/2 (the first of two)"))?;
        if n == 0 {
            return Err(format!(
                "shard {text:?}: N is the number of shards, at least 1"
            ));
        }
        if k == 0 || k > n {
            return Err(format!("shard {text:?}: K counts from 1 to N ({n})"));
        }
        Ok(Shard { index: k, count: n })
    }
}

impl Shard {
    /// This shard's items: every N-th of `items`, from the K-th. The slices of 1/N … N/N are
    /// disjoint and cover `items`, whatever machine computes them.
    pub fn select<T>(self, items: Vec<T>) -> Vec<T> {
        items
            .into_iter()
            .enumerate()
            .filter(|(i, _)| i % self.count == self.index - 1)
            .map(|(_, item)| item)
            .collect()
    }
}

/// One verdict of the grid, and where its evidence is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cell {
    /// The latest run's verdict (with `seen`, every run's).
    pub status: Status,
    pub observed: String,
    pub run_id: String,
    /// With repeated runs (`--repeat`, merged histories): how many runs saw each status.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub seen: BTreeMap<String, usize>,
}

impl Cell {
    /// Both a pass and a failure (or error) were seen in this column.
    pub fn flaky(&self) -> bool {
        let seen = |s: Status| self.seen.get(&s.to_string()).copied().unwrap_or(0) > 0;
        seen(Status::Pass) && (seen(Status::Fail) || seen(Status::Error))
    }

    /// The cell as a person reads it: the verdict, or with several runs each count
    /// (`pass 3/5, fail 2/5`).
    pub fn text(&self) -> String {
        let runs: usize = self.seen.values().sum();
        if runs <= 1 {
            return self.status.to_string();
        }
        let counts: Vec<String> = self
            .seen
            .iter()
            .map(|(s, n)| format!("{s} {n}/{runs}"))
            .collect();
        let flaky = if self.flaky() { "flaky: " } else { "" };
        format!("{flaky}{}", counts.join(", "))
    }
}

/// A row: one check of one scenario on one host in one phase, across the columns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    pub scenario: String,
    pub check: String,
    pub host: String,
    pub phase: String,
    /// Column (release) → verdict; a column without the row has no cell.
    pub cells: BTreeMap<String, Cell>,
}

impl Row {
    /// Whether some column saw this check both pass and fail.
    pub fn flaky(&self) -> bool {
        self.cells.values().any(Cell::flaky)
    }

    /// Whether the verdict is not the same in every column that has it, or a column lacks it.
    pub fn differs(&self, columns: &[String]) -> bool {
        let statuses: Vec<Option<Status>> = columns
            .iter()
            .map(|c| self.cells.get(c).map(|cell| cell.status))
            .collect();
        statuses.windows(2).any(|w| w[0] != w[1])
    }
}

/// The grid of a set of runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Matrix {
    pub harness_version: String,
    pub columns: Vec<String>,
    /// Column → the systemd version its runs reported.
    pub systemd: BTreeMap<String, String>,
    pub rows: Vec<Row>,
}

/// The grid of `reports`. Runs of different harness versions do not mix: their check ids and
/// verdicts may not mean the same.
pub fn build(reports: &[RunReport]) -> Result<Matrix, String> {
    let Some(first) = reports.first() else {
        return Err("no run.json to build a matrix from".into());
    };
    if let Some(other) = reports
        .iter()
        .find(|r| r.harness_version != first.harness_version)
    {
        return Err(format!(
            "runs of different journal-lab versions cannot be merged: {} is {}, {} is {}; re-run them with one version",
            first.run_id, first.harness_version, other.run_id, other.harness_version
        ));
    }
    let mut columns: Vec<String> = reports.iter().map(|r| r.release.clone()).collect();
    columns.sort();
    columns.dedup();
    let mut rows: BTreeMap<(String, String, String, String), Row> = BTreeMap::new();
    let mut systemd = BTreeMap::new();
    for report in reports {
        systemd.insert(report.release.clone(), report.systemd_version.clone());
        for check in &report.checks {
            let key = (
                report.scenario.clone(),
                check.id.to_string(),
                check.host.clone(),
                check.phase.clone(),
            );
            let row = rows.entry(key.clone()).or_insert_with(|| Row {
                scenario: key.0,
                check: key.1,
                host: key.2,
                phase: key.3,
                cells: BTreeMap::new(),
            });
            let mut seen = row
                .cells
                .get(&report.release)
                .map(|c| c.seen.clone())
                .unwrap_or_default();
            *seen.entry(check.status.to_string()).or_default() += 1;
            row.cells.insert(
                report.release.clone(),
                Cell {
                    status: check.status,
                    observed: check.observed.clone(),
                    run_id: report.run_id.clone(),
                    seen,
                },
            );
        }
    }
    Ok(Matrix {
        harness_version: first.harness_version.clone(),
        columns,
        systemd,
        rows: rows.into_values().collect(),
    })
}

/// A JUnit file per column (`junit-<column>.xml` → its text): the runs of that release or build,
/// for CI systems that show one test report per matrix job.
pub fn junit_by_column(reports: &[RunReport]) -> BTreeMap<String, String> {
    let mut columns: BTreeMap<&str, Vec<&RunReport>> = BTreeMap::new();
    for report in reports {
        columns.entry(&report.release).or_default().push(report);
    }
    columns
        .into_iter()
        .map(|(column, mut runs)| {
            runs.sort_by(|a, b| a.scenario.cmp(&b.scenario));
            (
                format!("junit-{column}.xml"),
                super::render::junit_of_runs(&format!("journal-lab {column}"), runs),
            )
        })
        .collect()
}

impl Matrix {
    /// The rows whose verdict differs between columns in every repetition (no flaky cell):
    /// differences between the releases or builds themselves.
    pub fn differences(&self) -> Vec<&Row> {
        self.rows
            .iter()
            .filter(|r| r.differs(&self.columns) && !r.flaky())
            .collect()
    }

    /// The rows seen both passing and failing within a column: timing, not the release.
    pub fn flaky_rows(&self) -> Vec<&Row> {
        self.rows.iter().filter(|r| r.flaky()).collect()
    }

    fn header(&self) -> Vec<String> {
        let mut header = vec!["scenario".to_string(), "check".into(), "host".into()];
        header.extend(
            self.columns
                .iter()
                .map(|c| format!("{c} ({})", self.systemd.get(c).map_or("?", |v| v.as_str()))),
        );
        header
    }

    fn cells(&self, row: &Row, detail: bool) -> Vec<String> {
        let mut cells = vec![
            row.scenario.clone(),
            format!("{} ({})", row.check, row.phase),
            row.host.clone(),
        ];
        cells.extend(self.columns.iter().map(|c| match row.cells.get(c) {
            Some(cell) if detail => format!("{}: {}", cell.text(), cell.observed),
            Some(cell) => cell.text(),
            None => "—".into(),
        }));
        cells
    }

    /// A row per scenario and check, its hosts' verdicts counted per column: the short table
    /// (what the README's cross-release table is made of).
    pub fn by_check(&self) -> String {
        let mut grouped: BTreeMap<(String, String), BTreeMap<String, BTreeMap<String, usize>>> =
            BTreeMap::new();
        for row in &self.rows {
            let counts = grouped
                .entry((row.scenario.clone(), row.check.clone()))
                .or_default();
            for (column, cell) in &row.cells {
                *counts
                    .entry(column.clone())
                    .or_default()
                    .entry(cell.status.to_string())
                    .or_default() += 1;
            }
        }
        let mut header = vec!["scenario".to_string(), "check".to_string()];
        header.extend(self.columns.iter().cloned());
        let header: Vec<&str> = header.iter().map(String::as_str).collect();
        md_table(
            &header,
            grouped.into_iter().map(|((scenario, check), counts)| {
                let mut cells = vec![scenario, check];
                cells.extend(self.columns.iter().map(|c| {
                    match counts.get(c) {
                        None => "—".to_string(),
                        Some(statuses) if statuses.len() == 1 => {
                            statuses.keys().next().cloned().unwrap_or_default()
                        }
                        Some(statuses) => statuses
                            .iter()
                            .map(|(s, n)| format!("{n} {s}"))
                            .collect::<Vec<_>>()
                            .join(", "),
                    }
                }));
                cells
            }),
        )
    }

    pub fn markdown(&self) -> String {
        let header = self.header();
        let header: Vec<&str> = header.iter().map(String::as_str).collect();
        let mut md = format!(
            "# journal-lab conformance matrix\n\n{} rows over {} (journal-lab {}).\n\n",
            self.rows.len(),
            self.columns.join(", "),
            self.harness_version
        );
        let _ = writeln!(md, "## By check (hosts counted)\n");
        md.push_str(&self.by_check());
        let _ = writeln!(md, "\n## Every row\n");
        md.push_str(&md_table(
            &header,
            self.rows.iter().map(|r| self.cells(r, false)),
        ));
        let differences = self.differences();
        let _ = writeln!(md, "\n## Differences\n");
        if differences.is_empty() {
            md.push_str(
                "No check has a different verdict in one column than in another, every time.\n",
            );
        } else {
            md.push_str(&md_table(
                &header,
                differences.iter().map(|r| self.cells(r, true)),
            ));
        }
        let flaky = self.flaky_rows();
        if !flaky.is_empty() {
            let _ = writeln!(
                md,
                "\n## Flaky rows\n\nSeen both passing and failing within one column: timing, not a difference between the columns.\n"
            );
            md.push_str(&md_table(
                &header,
                flaky.iter().map(|r| self.cells(r, true)),
            ));
        }
        md
    }

    /// One self-contained page; each cell links to its run's report (`../<run-id>/report.html`).
    pub fn html(&self) -> String {
        let mut h = String::from(
            "<!doctype html><meta charset=utf-8><title>journal-lab conformance matrix</title>\
             <style>body{font-family:sans-serif}td,th{border:1px solid #ccc;padding:2px 6px}\
             table{border-collapse:collapse}.pass{background:#dfd}.fail,.error{background:#fdd}\
             .not-verifiable,.not-applicable{background:#eee}</style>\n<h1>journal-lab conformance matrix</h1>\n",
        );
        let table = |rows: Vec<&Row>, detail: bool| {
            let mut t = String::from("<table><tr>");
            for column in self.header() {
                let _ = write!(t, "<th>{}</th>", escape(&column));
            }
            t.push_str("</tr>\n");
            for row in rows {
                let _ = write!(
                    t,
                    "<tr><td>{}</td><td>{} ({})</td><td>{}</td>",
                    escape(&row.scenario),
                    escape(&row.check),
                    escape(&row.phase),
                    escape(&row.host)
                );
                for column in &self.columns {
                    match row.cells.get(column) {
                        Some(cell) => {
                            let text = if detail {
                                format!("{}: {}", cell.text(), cell.observed)
                            } else {
                                cell.text()
                            };
                            let _ = write!(
                                t,
                                "<td class=\"{}\"><a href=\"../{}/report.html\">{}</a></td>",
                                cell.status,
                                escape(&cell.run_id),
                                escape(&text)
                            );
                        }
                        None => t.push_str("<td>—</td>"),
                    }
                }
                t.push_str("</tr>\n");
            }
            t.push_str("</table>\n");
            t
        };
        h.push_str(&table(self.rows.iter().collect(), false));
        h.push_str("<h2>Differences</h2>\n");
        let differences = self.differences();
        if differences.is_empty() {
            h.push_str("<p>No check has a different verdict in one column than in another, every time.</p>\n");
        } else {
            h.push_str(&table(differences, true));
        }
        let flaky = self.flaky_rows();
        if !flaky.is_empty() {
            h.push_str("<h2>Flaky rows</h2>\n<p>Seen both passing and failing within one column: timing, not a difference between the columns.</p>\n");
            h.push_str(&table(flaky, true));
        }
        h
    }
}

#[cfg(test)]
mod tests;

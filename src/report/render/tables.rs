//! Tables shared by the Markdown and HTML reports: the optional sections, and HTML tables.

use std::fmt::Write as _;

use super::super::RunReport;
use super::{escape, field, integrity, sends};

/// The sections some runs have, as (title, header, rows), in report order: the user's own files
/// each host carried, journal integrity,
/// the host-side client's sends, hosts' failed units, a replay's field vs lab.
pub(super) type Section = (&'static str, Vec<&'static str>, Vec<Vec<String>>);

pub(super) fn sections(report: &RunReport) -> Vec<Section> {
    let mut all: Vec<Section> = Vec::new();
    let placed: Vec<Vec<String>> = report
        .hosts
        .iter()
        .filter_map(|h| {
            Some(vec![
                h.engine.clone()?,
                h.name.clone(),
                h.ip.clone(),
                h.published_for_other_engines.clone().unwrap_or_default(),
            ])
        })
        .collect();
    if !placed.is_empty() {
        all.push((
            "Placement (hosts over engines)",
            vec![
                "engine",
                "host",
                "address on its engine's network",
                "published for the other engines",
            ],
            placed,
        ));
    }
    let carried = crate::report::carried::rows(report);
    if !carried.is_empty() {
        all.push((
            "Your files (source: and --setup)",
            vec!["host", "path", "from", "sha256"],
            carried.into_iter().map(Vec::from).collect(),
        ));
    }
    let known: Vec<Vec<String>> = report
        .checks
        .iter()
        .chain(&report.profile)
        .filter_map(|c| {
            let known = c.known.as_ref()?;
            let said = if known.fixed {
                "FIXED: a known failure passed (remove the expectation; --strict-expect fails on it)"
                    .to_string()
            } else {
                format!("known {}", if known.kind == crate::checks::KnownKind::Fail { "failure" } else { "flaky" })
            };
            Some(vec![
                c.id.to_string(),
                c.host.clone(),
                c.status.to_string(),
                said,
                match &known.link {
                    Some(link) => format!("{} ({link})", known.reason),
                    None => known.reason.clone(),
                },
            ])
        })
        .collect();
    if !known.is_empty() {
        all.push((
            "Known failures (the setup's expect:)",
            vec!["check", "host", "status", "as", "reason"],
            known,
        ));
    }
    let added = crate::report::carried::added_rows(report);
    if !added.is_empty() {
        all.push((
            "Added by the lab (around your files, or over them under base: guide)",
            vec!["host", "path", "why", "sha256"],
            added.into_iter().map(Vec::from).collect(),
        ));
    }
    if let Some((header, rows)) = integrity::rows(report) {
        all.push(("Journal integrity", header.to_vec(), rows));
    }
    if let Some((header, rows)) = super::soak::rows(report) {
        all.push(("journal-remote over the soak", header.to_vec(), rows));
    }
    if let Some((header, rows)) = sends::rows(report) {
        all.push(("Sends (host-side protocol client)", header.to_vec(), rows));
    }
    let failed: Vec<Vec<String>> = report
        .hosts
        .iter()
        .filter(|h| !h.failed_units.is_empty())
        .map(|h| vec![h.name.clone(), h.failed_units.join("\n")])
        .collect();
    if !failed.is_empty() {
        all.push((
            "Failed units",
            vec!["host", "systemctl --failed, status, last lines"],
            failed,
        ));
    }
    if let Some((header, rows)) = field::rows(report) {
        all.push(("Field vs lab", header.to_vec(), rows));
    }
    all
}

/// An HTML table of `rows` under `header`, every cell escaped.
pub(super) fn html_table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut h = String::from("<table><tr>");
    for column in header {
        let _ = write!(h, "<th>{}</th>", escape(column));
    }
    h.push_str("</tr>\n");
    for row in rows {
        h.push_str("<tr>");
        for cell in row {
            // Lines of a unit's status or a log keep their lines.
            if cell.contains('\n') {
                let _ = write!(h, "<td><pre>{}</pre></td>", escape(&cell));
            } else {
                let _ = write!(h, "<td>{}</td>", escape(&cell));
            }
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n");
    h
}

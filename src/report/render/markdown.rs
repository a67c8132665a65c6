//! report.md: the run for a pull request or a terminal; the same facts as report.html.

use std::fmt::Write as _;

use super::*;

/// report.md.
pub fn markdown(report: &RunReport) -> String {
    let s = summary(report);
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# journal-lab report: {} — {}\n",
        md_text(&report.scenario),
        s.verdict
    );
    let _ = writeln!(md, "{}\n", md_text(report.description.trim()));
    let _ = writeln!(
        md,
        "Run `{}` on {} ({}), {}; harness {}; {:.1}s.\n",
        report.run_id,
        report.release,
        report.systemd_version,
        format_time(report.started),
        report.harness_version,
        report.total_seconds
    );
    if let Some(said) = rejudged_sentence(report) {
        let _ = writeln!(md, "**{}**\n", md_text(&said));
    }
    if let Some(code) = field::code_from_bundle(report) {
        let _ = writeln!(
            md,
            "**Code from the bundle** ran in this lab (`replay --allow-exec`):\n"
        );
        for line in code {
            let _ = writeln!(md, "- `{}`", md_text(line).replace('`', "'"));
        }
        md.push('\n');
    }
    let _ = writeln!(md, "## Summary\n");
    md.push_str(&md_table(
        &["status", "checks"],
        STATUS_ORDER
            .iter()
            .map(|st| vec![st.to_string(), s.counts[*st].to_string()]),
    ));
    if !s.failures.is_empty() {
        let _ = writeln!(md, "\nFailures:\n");
        for failure in &s.failures {
            let _ = writeln!(md, "- {}", md_text(failure));
        }
    }
    if !report.findings.is_empty() {
        let _ = writeln!(md, "\n## Findings\n");
        for finding in &report.findings {
            let _ = writeln!(
                md,
                "- **{}**: {}{}",
                md_text(&finding.host),
                md_text(&finding.summary),
                md_text(&crate::report::ledger::note(
                    crate::report::ledger::entry_for_finding(&finding.summary)
                ))
            );
        }
    }
    let _ = writeln!(md, "\n## Environment\n");
    md.push_str(&md_table(
        &["host", "role", "address", "systemd", "image"],
        report.hosts.iter().map(|h| {
            vec![
                h.name.clone(),
                role(h.role).to_string(),
                h.ip.clone(),
                h.systemd_version.clone(),
                format!("`{}`", h.image),
            ]
        }),
    ));
    let features: BTreeMap<&str, Vec<&str>> =
        report.hosts.iter().fold(BTreeMap::new(), |mut acc, h| {
            acc.entry(h.systemd_features.as_str())
                .or_default()
                .push(&h.name);
            acc
        });
    for (features, hosts) in features {
        let _ = writeln!(
            md,
            "\nsystemd features on {}: `{features}`",
            hosts.join(", ")
        );
    }
    let clients = clients_with_markers(report);
    if !clients.is_empty() {
        let _ = writeln!(md, "\n## Delivery\n");
        md.push_str(&md_table(
            &[
                "client",
                "marker logged",
                "seen on the server",
                "seconds",
                "remote file",
            ],
            clients.into_iter().map(|h| {
                vec![
                    h.name.clone(),
                    h.marker_logged_at.map(format_time).unwrap_or_default(),
                    arrival(report, h).unwrap_or_else(|| "not delivered".into()),
                    h.seconds_to_deliver
                        .map(|s| format!("{s:.2}"))
                        .unwrap_or_else(|| "—".into()),
                    h.remote_file.clone().unwrap_or_else(|| "—".into()),
                ]
            }),
        ));
    }
    if let Some(delivery) = &report.delivery {
        let _ = writeln!(md, "\n## Workload delivery\n");
        md.push_str(&md_table(
            &crate::report::delivery::COLUMNS,
            crate::report::delivery::rows(delivery).into_iter(),
        ));
        for fault in &report.faults {
            let _ = writeln!(
                md,
                "\nFault {} on {}: {} to {}.",
                fault.kind,
                fault.host,
                format_time(fault.started),
                fault
                    .ended
                    .map(format_time)
                    .unwrap_or_else(|| "the end".into())
            );
        }
    }
    if !report.journal_files.is_empty() {
        let _ = writeln!(
            md,
            "\n## Journal files\n\n{} binary journal files of the servers are copied to `journals/<host>/` \
             (SHA-256 of each in run.json): open each with `journalctl --file FILE`. \
             `journalctl --directory journals/<host>/remote` shows them merged, but systemd 252's \
             merged view can leave out entries the files hold (journal-lab's docs/findings.md).",
            report.journal_files.len()
        );
    }
    for (title, header, rows) in sections(report) {
        let _ = writeln!(md, "\n## {title}\n");
        md.push_str(&md_table(&header, rows.into_iter()));
    }
    for step in report.steps.iter().filter(|s| s.error.is_some()) {
        let error = step.error.clone().unwrap_or_default();
        let (title, body) = if step.step == crate::report::IDEMPOTENCE_STEP {
            (
                "## Idempotence failed\n\nA second converge right after bring-up would change files (compared, not written); the scenario's steps were not performed".to_string(),
                format!("{error}\n{}", step.output.join("\n")),
            )
        } else {
            (
                format!(
                    "## Step {} (`{}`) failed\n\nThe steps after it were not performed",
                    step.index, step.step
                ),
                if step.output.is_empty() {
                    error
                } else {
                    step.output.join("\n")
                },
            )
        };
        let _ = writeln!(
            md,
            "\n{title}; what was observed up to it is evaluated below.\n\n```\n{}{body}\n```",
            step.command
                .as_ref()
                .map(|c| format!("$ {c}  (exit {})\n", step.exit_code.unwrap_or(-1)))
                .unwrap_or_default(),
        );
    }
    let _ = writeln!(md, "\n## Checks\n");
    md.push_str(&md_table(
        &[
            "status", "check", "host", "phase", "expected", "observed", "seconds",
        ],
        report.checks.iter().map(|c| {
            vec![
                c.status.to_string(),
                format!("`{}` {}", c.id, c.title),
                c.host.clone(),
                c.phase.clone(),
                c.expected.clone(),
                c.observed.clone(),
                format!("{:.2}", c.seconds),
            ]
        }),
    ));
    if !report.profile.is_empty() {
        let counts: Vec<String> = STATUS_ORDER
            .iter()
            .map(|st| format!("{} {st}", s.profile[*st]))
            .collect();
        let _ = writeln!(
            md,
            "\n## Conformance profile\n\nEvaluated on every host at the end of the run; {}: {}.\n",
            profile_effect(report),
            counts.join(", ")
        );
        md.push_str(&md_table(
            &["status", "check", "host", "observed", "reference"],
            report.profile.iter().map(|c| {
                vec![
                    c.status.to_string(),
                    format!("`{}`", c.id),
                    c.host.clone(),
                    c.observed.clone(),
                    c.reference.clone(),
                ]
            }),
        ));
    }
    let _ = writeln!(md, "\n## Evidence of what did not pass\n");
    for c in report
        .checks
        .iter()
        .filter(|c| !matches!(c.status, Status::Pass | Status::NotApplicable))
    {
        let _ = writeln!(
            md,
            "### {} `{}` on {} ({})\n\nReference: {}\n\n```",
            c.status, c.id, c.host, c.phase, c.reference
        );
        let (shown, left) = evidence::excerpt(c);
        for line in shown {
            let _ = writeln!(md, "{line}");
        }
        let _ = writeln!(md, "```\n");
        if left > 0 {
            let _ = writeln!(md, "{left} more lines: [{0}]({0})\n", evidence::file_of(c));
        }
    }
    md
}

/// A Markdown table; a cell is text (see [`md_text`]), `|` inside it escaped.
pub(crate) fn md_table(header: &[&str], rows: impl Iterator<Item = Vec<String>>) -> String {
    let line = |cells: Vec<String>| format!("| {} |\n", cells.join(" | "));
    let mut table = line(header.iter().map(|h| h.to_string()).collect());
    table.push_str(&line(header.iter().map(|_| "---".to_string()).collect()));
    for row in rows {
        table.push_str(&line(
            row.into_iter()
                // A cell is one line of the table: its own lines are joined with <br>.
                .map(|cell| md_text(&cell).replace('|', "\\|").replace('\n', "<br>"))
                .collect(),
        ));
    }
    table
}

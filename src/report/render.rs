//! Output formats of a run: Markdown and self-contained HTML for people, JSON for tools, JUnit XML
//! for CI systems. All are pure functions of a [`RunReport`].

use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{Role, RunReport};
use crate::checks::{CheckResult, Status};

/// What a person reads first: counts by status and every failure with its reason.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub verdict: &'static str,
    pub counts: BTreeMap<String, usize>,
    pub failures: Vec<String>,
    /// The conformance profile's counts (they do not change the verdict).
    pub profile: BTreeMap<String, usize>,
}

fn count(checks: &[CheckResult]) -> BTreeMap<String, usize> {
    let mut counts: BTreeMap<String, usize> =
        STATUS_ORDER.iter().map(|s| (s.to_string(), 0)).collect();
    for check in checks {
        *counts.entry(check.status.to_string()).or_default() += 1;
    }
    counts
}

/// Statuses in the order a reader wants them.
const STATUS_ORDER: [&str; 5] = ["pass", "fail", "error", "not-verifiable", "not-applicable"];

pub fn summary(report: &RunReport) -> Summary {
    let counts = count(&report.checks);
    let failures = report
        .checks
        .iter()
        .filter(|c| c.fails())
        .map(|c| {
            let ledger = super::ledger::note(super::ledger::entry_for(&report.scenario, c.id));
            format!(
                "{} on {} ({}): {}{ledger}",
                c.id, c.host, c.phase, c.observed
            )
        })
        .collect();
    Summary {
        verdict: match (report.interrupted, report.ok) {
            (true, _) => "INTERRUPTED (partial)",
            (false, true) => "PASS",
            (false, false) => "FAIL",
        },
        counts,
        failures,
        profile: count(&report.profile),
    }
}

/// report.json: the summary first, then everything the run recorded.
pub fn json(report: &RunReport) -> String {
    #[derive(Serialize)]
    struct Document<'a> {
        summary: Summary,
        run: &'a RunReport,
    }
    serde_json::to_string_pretty(&Document {
        summary: summary(report),
        run: report,
    })
    .expect("reports serialize")
        + "\n"
}

fn arrival(report: &RunReport, host: &super::HostReport) -> Option<String> {
    let logged = host.marker_logged_at?;
    let seconds = host.seconds_to_deliver?;
    let _ = report;
    Some(format_time(logged + time::Duration::seconds_f64(seconds)))
}

fn format_time(t: time::OffsetDateTime) -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second].[subsecond digits:3] UTC"
    );
    t.format(format).unwrap_or_default()
}

fn role(role: Role) -> &'static str {
    role.as_str()
}

/// report.html: one self-contained page (inline CSS, no scripts, nothing fetched).
pub fn html(report: &RunReport) -> String {
    let s = summary(report);
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>journal-lab: {}</title><style>{STYLE}</style></head><body>\n",
        escape(&report.scenario)
    );
    let _ = write!(
        h,
        "<h1>{} <span class=\"badge {}\">{}</span></h1>\n<p>{}</p>\n<p class=\"meta\">run <code>{}</code> · {} · {} · started {} · {:.1}s · journal-lab {}</p>\n",
        escape(&report.scenario),
        s.verdict,
        s.verdict,
        escape(report.description.trim()),
        escape(&report.run_id),
        escape(&report.release),
        escape(&report.systemd_version),
        format_time(report.started),
        report.total_seconds,
        escape(&report.harness_version)
    );
    if let Some(said) = rejudged_sentence(report) {
        let _ = writeln!(h, "<p class=\"finding\">{}</p>", escape(&said));
    }
    h.push_str("<h2>Summary</h2>\n<p class=\"counts\">");
    h.push_str(&badges(&s.counts));
    h.push_str("</p>\n");
    // Show only what did not pass, in every checks table (CSS only, no script).
    h.push_str("<p class=\"filter\"><input type=\"radio\" name=\"show\" id=\"show-all\" checked><label for=\"show-all\">all checks</label><input type=\"radio\" name=\"show\" id=\"show-not-passing\"><label for=\"show-not-passing\">only what did not pass</label></p>\n");
    let profile_failing: Vec<&CheckResult> = report
        .profile
        .iter()
        .filter(|c| matches!(c.status, Status::Fail | Status::Error))
        .collect();
    if !profile_failing.is_empty() {
        let _ = writeln!(
            h,
            "<p><strong>Conformance profile:</strong> {} item(s) do not hold ({}):</p><ul>{}</ul>",
            profile_failing.len(),
            profile_effect(report),
            profile_failing
                .iter()
                .map(|c| format!(
                    "<li>{} <code>{}</code> on {}: {}</li>",
                    crate::checks::profile_severity(c.id).map_or("", |s| {
                        if s == crate::checks::Severity::Warning {
                            "warning"
                        } else {
                            "note"
                        }
                    }),
                    c.id,
                    escape(&c.host),
                    escape(&c.observed)
                ))
                .collect::<String>()
        );
    }
    if !report.steps.is_empty() {
        h.push_str("<h2>Steps</h2>\n<table><tr><th>#</th><th>step</th><th>host</th><th>seconds</th><th>outcome</th></tr>\n");
        for step in &report.steps {
            let _ = writeln!(
                h,
                "<tr class=\"{}\"><td>{}</td><td><code>{}</code></td><td>{}</td><td>{:.2}</td><td>{}</td></tr>",
                if step.error.is_some() { "fail" } else { "pass" },
                step.index,
                escape(&step.step),
                escape(step.host.as_deref().unwrap_or("")),
                step.seconds,
                escape(step.error.as_deref().unwrap_or("done"))
            );
        }
        h.push_str("</table>\n");
    }
    if !s.failures.is_empty() {
        h.push_str("<ul>");
        for failure in &s.failures {
            let _ = write!(h, "<li>{}</li>", escape(failure));
        }
        h.push_str("</ul>\n");
    }
    for finding in &report.findings {
        let _ = writeln!(
            h,
            "<div class=\"finding\"><strong>Finding on {}:</strong> {}{}</div>",
            escape(&finding.host),
            escape(&finding.summary),
            escape(&super::ledger::note(super::ledger::entry_for_finding(
                &finding.summary
            )))
        );
    }
    let clients = clients_with_markers(report);
    if !clients.is_empty() {
        let longest = clients
            .iter()
            .filter_map(|c| c.seconds_to_deliver)
            .fold(0.0_f64, f64::max)
            .max(0.001);
        h.push_str("<h2>Delivery</h2>\n<table><tr><th>client</th><th>marker logged</th><th>seen on the server</th><th>seconds</th><th style=\"width:25%\"></th><th>remote file</th></tr>\n");
        for c in clients {
            let bar = c.seconds_to_deliver.map_or(String::new(), |s| {
                format!(
                    "<div class=\"bar\" style=\"width:{:.0}%\"></div>",
                    100.0 * s / longest
                )
            });
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{bar}</td><td><code>{}</code></td></tr>",
                escape(&c.name),
                c.marker_logged_at.map(format_time).unwrap_or_default(),
                arrival(report, c).map_or_else(|| "<span class=\"badge fail\">not delivered</span>".to_string(), |a| escape(&a)),
                c.seconds_to_deliver.map(|s| format!("{s:.2}")).unwrap_or_else(|| "—".into()),
                escape(c.remote_file.as_deref().unwrap_or("—"))
            );
        }
        h.push_str("</table>\n");
    }
    if let Some(delivery) = &report.delivery {
        h.push_str("<h2>Workload delivery</h2>\n");
        h.push_str(&html_table(
            &super::delivery::COLUMNS,
            super::delivery::rows(delivery),
        ));
        h.push_str(
            "<p class=\"meta\">Each workload message where the harness first saw it on a server (x; it \
             polls every 250 ms while workloads log) at the height of its latency, lost messages where \
             they were logged; faults and restarts shaded, in the scenario's words.</p>\n",
        );
        h.push_str(&timeline::timeline_svg(
            delivery,
            &timeline::shades(report),
            &timeline::unit_events(report),
        ));
        h.push('\n');
    }
    if !report.soak.is_empty() {
        h.push_str("<h2>journal-remote over the soak</h2>\n<p class=\"meta\">Each server's journal-remote sampled over the `soak` step: a line per server (table above, run.json <code>soak</code>).</p>\n");
        h.push_str(&soak::svg(&report.soak));
    }
    if !report.journal_files.is_empty() {
        h.push_str("<h2>Journal files</h2>\n<p class=\"meta\">The servers' binary journals, as copied out at the end of the run: open each with <code>journalctl --file</code> (systemd 252's merged <code>--directory</code> view can leave out entries the files hold).</p>\n<table><tr><th>host</th><th>file in the host</th><th>bytes</th><th>SHA-256</th></tr>\n");
        for file in &report.journal_files {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td><a href=\"{}\"><code>{}</code></a></td><td>{}</td><td><code>{}</code></td></tr>",
                escape(&file.host),
                escape(&file.copy),
                escape(&file.path),
                file.bytes,
                escape(&file.sha256)
            );
        }
        h.push_str("</table>\n");
    }
    for (title, header, rows) in sections(report) {
        let _ = writeln!(h, "<h2>{}</h2>", escape(title));
        h.push_str(&html_table(&header, rows));
    }
    let mut phases: Vec<&str> = Vec::new();
    for c in &report.checks {
        if !phases.contains(&c.phase.as_str()) {
            phases.push(&c.phase);
        }
    }
    for phase in phases {
        let _ = writeln!(h, "<h2>Checks: {}</h2>", escape(phase));
        let checks: Vec<CheckResult> = report
            .checks
            .iter()
            .filter(|c| c.phase == phase)
            .cloned()
            .collect();
        h.push_str(&checks_table(&checks));
    }
    if !report.profile.is_empty() {
        h.push_str(&format!("<h2>Conformance profile</h2>\n<p class=\"meta\">Evaluated on every host at the end of the run; {}.</p>\n<p class=\"counts\">", profile_effect(report)));
        h.push_str(&badges(&s.profile));
        h.push_str("</p>\n");
        h.push_str(&checks_table(&report.profile));
    }
    h.push_str("<h2>Environment</h2>\n<table><tr><th>host</th><th>role</th><th>address</th><th>systemd</th><th>image</th><th>configuration</th></tr>\n");
    for host in &report.hosts {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}<details><summary>features</summary><pre>{}</pre></details></td><td><code>{}</code></td><td><details><summary>{} steps</summary><pre>{}</pre></details></td></tr>",
            escape(&host.name),
            role(host.role),
            escape(&host.ip),
            escape(&host.systemd_version),
            escape(&host.systemd_features),
            escape(&host.image),
            host.configuration.len(),
            escape(&host.configuration.join("\n"))
        );
    }
    h.push_str("</table>\n</body></html>\n");
    with_contents(&h)
}

/// One badge per status, in reading order, with its count.
fn badges(counts: &BTreeMap<String, usize>) -> String {
    STATUS_ORDER
        .iter()
        .map(|status| {
            format!(
                "<span class=\"badge {status}\">{} {status}</span>",
                counts[*status]
            )
        })
        .collect()
}

fn checks_table(checks: &[CheckResult]) -> String {
    let mut h = String::from("<table><tr><th>status</th><th>check</th><th>host</th><th>expected</th><th>observed</th><th>s</th></tr>\n");
    for c in checks {
        let (shown, left) = evidence::excerpt(c);
        let mut evidence: String = shown.iter().map(|l| escape(l) + "\n").collect();
        if left > 0 {
            let _ = writeln!(
                evidence,
                "<a href=\"{}\">… {left} more lines</a>",
                escape(&evidence::file_of(c))
            );
        }
        let _ = writeln!(
            h,
            "<tr class=\"{status}\"><td><span class=\"badge {status}\">{status}</span></td><td><code>{}</code><br>{}<br><small>{}</small></td><td>{}</td><td>{}</td><td>{}<details><summary>evidence</summary><pre>{evidence}</pre></details></td><td>{:.2}</td></tr>",
            c.id,
            escape(&c.title),
            escape(&c.reference),
            escape(&c.host),
            escape(&c.expected),
            escape(&c.observed),
            c.seconds,
            status = c.status,
        );
    }
    h.push_str("</table>\n");
    h
}

/// What the profile's results do to the run, in words.
fn profile_effect(report: &RunReport) -> &'static str {
    match report.profile_mode {
        crate::checks::ProfileMode::Gate => {
            "with --profile=gate, an item that does not hold fails the run"
        }
        _ => "reported at each item's severity (warning or note); it does not change the verdict above (--profile=gate makes it)",
    }
}

/// The clients that logged a marker: the rows of every delivery table.
fn clients_with_markers(report: &RunReport) -> Vec<&crate::report::HostReport> {
    report
        .hosts
        .iter()
        .filter(|h| h.role == Role::Client && h.marker.is_some())
        .collect()
}

mod escape;
pub(crate) use escape::{escape, md_text};
pub mod evidence;
mod field;
mod integrity;
mod junit;
mod markdown;
pub use markdown::markdown;
pub(crate) use markdown::md_table;
mod page;
pub use junit::{junit, junit_of_runs};
use page::{with_contents, STYLE};
pub mod sarif;
mod sends;
mod soak;
mod tables;
pub mod timeline;
use tables::{html_table, sections};

#[cfg(test)]
mod tests;

/// What a report judged again (`report rejudge`) says first: by whom, when, and what moved.
pub(crate) fn rejudged_sentence(report: &RunReport) -> Option<String> {
    let rejudged = report.rejudged.as_ref()?;
    let moved: Vec<String> = rejudged.changed.iter().map(|c| c.line()).collect();
    Some(format!(
        "Judged again by journal-lab {} at {} from the run's stored observations (no hosts): {} verdicts, {} changed{}{}",
        rejudged.harness_version,
        format_time(rejudged.at),
        rejudged.verdicts,
        moved.len(),
        if moved.is_empty() { String::new() } else { format!(": {}", moved.join("; ")) },
        if rejudged.kept.is_empty() {
            String::new()
        } else {
            format!(
                "; kept as the run judged them (this build has no such check): {}",
                rejudged.kept.join(", ")
            )
        }
    ))
}

//! The sends section: each payload the host-side client posted, and what came of it.

use super::super::RunReport;
use crate::checks::hostile::answer;

/// (header, rows) of the section, or None when the run sent nothing.
pub(super) fn rows(report: &RunReport) -> Option<([&'static str; 6], Vec<Vec<String>>)> {
    if report.sends.is_empty() {
        return None;
    }
    let rows = report
        .sends
        .iter()
        .map(|s| {
            let mut what = answer(&s.outcome);
            if let Some(fds) = s.fds_while_held {
                what.push_str(&format!("; {fds} descriptors open while held"));
            }
            vec![
                s.server.clone(),
                s.payload.clone(),
                format!("{:?}", s.expect).to_lowercase(),
                format!(
                    "{}{}",
                    s.identity,
                    s.encoding
                        .as_deref()
                        .map_or(String::new(), |e| format!(", {e}"))
                ),
                what,
                format!("{:.1}", s.outcome.millis as f64 / 1000.0),
            ]
        })
        .collect();
    Some((
        [
            "server",
            "payload",
            "a correct server",
            "identity, encoding",
            "answer",
            "seconds",
        ],
        rows,
    ))
}

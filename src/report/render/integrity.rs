//! The journal integrity section: which hosts were sealed (the verification key's fingerprint,
//! never the key) and which journal files a `tamper` step damaged.

use super::super::RunReport;

/// (header, rows) of the section, or None when the run neither sealed nor tampered.
pub(super) fn rows(report: &RunReport) -> Option<([&'static str; 4], Vec<Vec<String>>)> {
    if report.sealing.is_empty() && report.tampered.is_empty() {
        return None;
    }
    let sealed = report.sealing.iter().map(|s| {
        vec![
            s.host.clone(),
            "sealed".to_string(),
            format!("every {}", s.interval),
            format!("verification key fingerprint {}", s.key_fingerprint),
        ]
    });
    let tampered = report.tampered.iter().map(|t| {
        vec![
            t.host.clone(),
            format!("tampered ({})", t.damage.how),
            t.damage.file.clone(),
            format!("at byte {}", t.damage.offset),
        ]
    });
    Some((
        ["host", "what", "how / file", "detail"],
        sealed.chain(tampered).collect(),
    ))
}

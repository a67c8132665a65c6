//! The field-vs-lab section of a replay: per replayed host, the field's last error lines next
//! to the lab's, and whether the lab reproduced the symptom.

use super::super::RunReport;

/// (header, rows), or None when the run was not a replay.
pub(super) fn rows(report: &RunReport) -> Option<([&'static str; 5], Vec<Vec<String>>)> {
    let field = report.field.as_ref()?;
    let rows = field
        .hosts
        .iter()
        .map(|h| {
            let lines = |v: &[String]| {
                if v.is_empty() {
                    "(none)".to_string()
                } else {
                    v.join("\n")
                }
            };
            vec![
                format!("{} ({:?})", h.host, h.role).to_lowercase(),
                lines(&h.field_errors),
                lines(&h.lab_errors),
                match h.reproduced {
                    Some(true) => "yes".into(),
                    Some(false) => "NO".into(),
                    None => "not compared".into(),
                },
                h.why.clone(),
            ]
        })
        .collect();
    Some((
        [
            "host",
            "field: last errors",
            "lab: last errors",
            "reproduced",
            "how judged",
        ],
        rows,
    ))
}

/// The code a replay ran from its bundles (`--allow-exec`), said first: what ran in the lab was
/// not only the field's configuration. Each line as text (escaped by the caller's renderer).
pub(super) fn code_from_bundle(report: &RunReport) -> Option<&[String]> {
    let code = &report.field.as_ref()?.code_from_bundle;
    (!code.is_empty()).then_some(code.as_slice())
}

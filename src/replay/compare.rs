//! After a replay's run: the field's last error lines next to the lab's, per replayed host, and
//! whether the lab showed the field's symptom.

use super::Replayed;
use crate::domain::Role;
use crate::report::{FieldVsLab, HostComparison, RunReport};

/// Error lines of a journal excerpt: what the unit and systemd said went wrong.
pub fn error_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| {
            let l = l.to_lowercase();
            [
                "failed", "error", "refused", "expired", "denied", "couldn't", "cannot",
            ]
            .iter()
            .any(|w| l.contains(w))
        })
        .map(|l| l.trim().to_string())
        .collect()
}

/// An error line without what differs between two sightings of one problem: the timestamp,
/// host and PID prefix, numbers, addresses.
pub fn normalize(line: &str) -> String {
    let message = line.split_once("]: ").map_or(line, |(_, m)| m);
    let mut out = String::new();
    let mut in_number = false;
    for c in message.to_lowercase().chars() {
        if c.is_ascii_digit() {
            if !in_number {
                out.push('#');
            }
            in_number = true;
        } else {
            in_number = false;
            out.push(c);
        }
    }
    out
}

/// The field's last error lines next to the lab's, per replayed client, and whether the lab
/// showed the field's last error.
pub fn compare(hosts: &[Replayed], report: &RunReport) -> FieldVsLab {
    let compared = hosts
        .iter()
        .map(|h| {
            let unit = match h.role {
                Role::Client => "systemd-journal-upload.service",
                Role::Server => "systemd-journal-remote.service",
                Role::Proxy => "haproxy.service",
            };
            let field = error_lines(h.bundle.file(&format!("journal-{unit}")));
            let lab_host = report.hosts.iter().find(|r| r.name == h.host);
            let lab = lab_host
                .map(|r| error_lines(&r.evidence.join("\n")))
                .unwrap_or_default();
            let last = |v: &[String]| v.iter().rev().take(5).rev().cloned().collect::<Vec<_>>();
            let lab_normalized: Vec<String> = lab.iter().map(|l| normalize(l)).collect();
            // The unit's own words say more than systemd's "Failed to start".
            let own: Vec<&String> = field
                .iter()
                .filter(|l| !l.contains("systemd[1]:"))
                .collect();
            let symptom_line = own.last().copied().or(field.last());
            let (reproduced, why) = match (symptom_line, h.role) {
                (_, Role::Server) => (
                    None,
                    "servers are compared by their checks; the lab's server log is in the evidence"
                        .to_string(),
                ),
                (None, _) => {
                    let clean = lab.is_empty() && lab_host.and_then(|r| r.delivered) == Some(true);
                    let why = if clean {
                        "the field showed no error, and the lab's client delivered without one"
                    } else {
                        "the field showed no error, but the lab's client did not deliver cleanly"
                    };
                    (Some(clean), why.to_string())
                }
                (Some(last_error), _) => {
                    let wanted = normalize(last_error);
                    let symptom = wanted
                        .split_once(": ")
                        .map_or(wanted.as_str(), |(_, rest)| rest)
                        .to_string();
                    let seen = lab_normalized
                        .iter()
                        .any(|l| l == &wanted || l.ends_with(&symptom));
                    (
                        Some(seen),
                        format!("the field's last error, numbers and addresses aside: {wanted}"),
                    )
                }
            };
            HostComparison {
                host: h.host.clone(),
                role: h.role,
                field_errors: last(&field),
                lab_errors: last(&lab),
                reproduced,
                why,
            }
        })
        .collect();
    FieldVsLab {
        hosts: compared,
        code_from_bundle: Vec::new(),
    }
}

//! Evidence as reports show it: an excerpt that explains the verdict (a unit's `Result=` and
//! `NRestarts=`, error lines, lost and duplicated ranges) rather than the first lines of a file,
//! a line saying how much it leaves out, and the whole of it in `evidence/<file>` beside the
//! report (JUnit carries all of it in the case itself).

use crate::checks::CheckResult;

/// How many lines an excerpt shows.
pub const EXCERPT_LINES: usize = 8;

/// Words that make a line explain a verdict, the strongest first: a unit's state and its
/// start limit, the accounting's ranges; then any error.
const TELLING: [&[&str]; 2] = [
    &[
        "Result=",
        "NRestarts=",
        "ActiveState=",
        "SubState=",
        "start-limit",
        "repeated too quickly",
        "LOST",
        "DUPLICATED",
    ],
    &[
        "error", "Error", "failed", "Failed", "refused", "denied", "expired",
    ],
];

/// The longest file name (bytes) [`file_of`] makes: well under every file system's 255.
const MAX_NAME_BYTES: usize = 120;

/// The file (under the run's directory) holding a check's whole evidence: `ID.HOST.PHASE.txt`.
/// A name from input that had to change (a character outside `a-z A-Z 0-9 -`) or that is long
/// is cut and gets a hash of the whole, so two phases never share a file and no phase makes a
/// name the file system refuses (which would cost the run its evidence).
pub fn file_of(check: &CheckResult) -> String {
    let safe = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    let parts = [check.id.as_str(), check.host.as_str(), check.phase.as_str()];
    let name = parts.map(safe).join(".");
    let changed = parts.iter().any(|p| safe(p) != *p);
    if !changed && name.len() + ".txt".len() <= MAX_NAME_BYTES {
        return format!("evidence/{name}.txt");
    }
    use sha2::Digest;
    let digest = sha2::Sha256::digest(parts.join("\0").as_bytes());
    let hash: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
    let keep = MAX_NAME_BYTES - ".txt".len() - hash.len() - 1;
    // `safe` wrote ASCII only: any byte is a character boundary.
    format!("evidence/{}-{hash}.txt", &name[..name.len().min(keep)])
}

/// The lines to show (in their order) and how many are left out. Each command line (`[host]$`)
/// is kept with the lines that tell why; then the first lines fill what room is left.
pub fn excerpt(check: &CheckResult) -> (Vec<&str>, usize) {
    let lines: Vec<&str> = check.evidence.iter().flat_map(|e| e.lines()).collect();
    if lines.len() <= EXCERPT_LINES {
        return (lines, 0);
    }
    let mut chosen = vec![false; lines.len()];
    let mut room = EXCERPT_LINES;
    // The telling lines, the strongest words first, the last lines first (a log's last
    // errors say most).
    for words in TELLING {
        for (i, line) in lines.iter().enumerate().rev() {
            if room > 0 && !chosen[i] && words.iter().any(|w| line.contains(w)) {
                chosen[i] = true;
                room -= 1;
            }
        }
    }
    // The command each chosen line came from, where room is left.
    for i in 0..lines.len() {
        if room > 0 && chosen[i] {
            if let Some(cmd) = (0..i)
                .rev()
                .find(|&j| lines[j].starts_with('[') && lines[j].contains("]$"))
            {
                if !chosen[cmd] {
                    chosen[cmd] = true;
                    room -= 1;
                }
            }
        }
    }
    for flag in chosen.iter_mut() {
        if room == 0 {
            break;
        }
        if !*flag {
            *flag = true;
            room -= 1;
        }
    }
    let shown: Vec<&str> = lines
        .iter()
        .zip(&chosen)
        .filter(|(_, c)| **c)
        .map(|(l, _)| *l)
        .collect();
    let left = lines.len() - shown.len();
    (shown, left)
}

/// The line that says what an excerpt left out, and where the rest is (None: nothing left out).
pub fn left_out(check: &CheckResult, left: usize) -> Option<String> {
    (left > 0).then(|| format!("… {left} more lines: {}", file_of(check)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::{CheckId, Status};

    fn check(evidence: Vec<&str>) -> CheckResult {
        CheckResult {
            id: CheckId::DELIVERY_EXACTLY_ONCE,
            title: String::new(),
            host: "client1".into(),
            phase: "final".into(),
            expected: String::new(),
            observed: String::new(),
            status: Status::Fail,
            evidence: evidence.into_iter().map(String::from).collect(),
            seconds: 0.0,
            reference: String::new(),
            known: None,
        }
    }

    /// server-outage's evidence as run.json has it: the unit's state and its last lines come
    /// after a long log; the excerpt must reach `NRestarts` and the start limit.
    #[test]
    fn the_excerpt_shows_what_explains_the_verdict_and_says_what_it_leaves_out() {
        let mut evidence = vec!["[client1]$ journalctl -o cat | grep jl-work | cut -d' ' -f5"];
        let filler: Vec<String> = (0..40).map(|n| format!("seq={n}")).collect();
        evidence.extend(filler.iter().map(String::as_str));
        evidence.extend([
            "[client1]$ systemctl show -p ActiveState -p SubState -p Result -p NRestarts systemd-journal-upload",
            "ActiveState=failed",
            "SubState=failed",
            "Result=exit-code",
            "NRestarts=5",
            "systemd-journal-upload.service: Start request repeated too quickly.",
            "stream 0: sent 540, arrived 2, LOST 538 (seq 2–539)",
        ]);
        let check = check(evidence);
        let (shown, left) = excerpt(&check);
        assert_eq!(shown.len(), EXCERPT_LINES);
        assert!(shown.contains(&"NRestarts=5"), "{shown:?}");
        assert!(
            shown.iter().any(|l| l.contains("repeated too quickly")),
            "{shown:?}"
        );
        assert!(shown.iter().any(|l| l.contains("LOST 538")), "{shown:?}");
        assert!(
            shown
                .iter()
                .any(|l| l.starts_with("[client1]$ systemctl show")),
            "{shown:?}"
        );
        assert_eq!(left, 48 - EXCERPT_LINES);
        assert_eq!(
            left_out(&check, left).unwrap(),
            format!("… {left} more lines: evidence/delivery-exactly-once.client1.final.txt")
        );
        let short = CheckResult {
            evidence: vec!["a".into(), "b".into()],
            ..check
        };
        assert_eq!(excerpt(&short), (vec!["a", "b"], 0));
    }
}

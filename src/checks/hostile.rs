//! journal-remote under hostile and unusual input, sent by the host-side protocol client
//! (`send` steps): valid exports stored intact, malformed ones refused and not stored, and the
//! server still serving, with its descriptors back and its journals sound, afterwards.

use super::{judged_by, or_verdict};
use std::collections::BTreeMap;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::{CheckId, Entry, Family, Target, Verdict};
use crate::domain::{ExecOutput, Role, Status, REMOTE_UNIT};
use crate::protocol::catalog::Expect;
use crate::protocol::client::Outcome;
use crate::protocol::{self, missing_fields};

impl CheckId {
    pub const SERVER_ACCEPTS_VALID_EXPORT: CheckId = CheckId("server-accepts-valid-export");
    pub const SERVER_REJECTS_MALFORMED: CheckId = CheckId("server-rejects-malformed");
    pub const SERVER_SURVIVES_HOSTILE_INPUT: CheckId = CheckId("server-survives-hostile-input");
}

pub const FAMILY: Family = Family {
    name: "hostile",
    entries: &[
        Entry::new(
            CheckId::SERVER_ACCEPTS_VALID_EXPORT,
            "journal-remote stores a valid export intact",
            "each valid payload sent is answered 2xx and stored, every field (binary ones included) byte for byte",
            Some(Role::Server),
            "systemd JOURNAL_EXPORT_FORMATS; systemd-journal-remote.service(8); systemd#13576",
            judged_by!(accepts_valid_export),
        ),
        Entry::new(
            CheckId::SERVER_REJECTS_MALFORMED,
            "journal-remote refuses malformed uploads",
            "each malformed payload is answered with an HTTP 4xx and nothing of it is stored (a request cut short: nothing stored)",
            Some(Role::Server),
            "systemd JOURNAL_EXPORT_FORMATS; RFC 9110 §15.5; systemd#39166, #43614",
            judged_by!(rejects_malformed),
        ),
        Entry::new(
            CheckId::SERVER_SURVIVES_HOSTILE_INPUT,
            "journal-remote survives hostile input",
            "after the sends: the service active with the same PID and no restart, a later marker from a client delivered, its file descriptors back near the baseline, its remote journals passing journalctl --verify",
            Some(Role::Server),
            "systemd-journal-remote.service(8); systemd#5748, #8854, #41941",
            judged_by!(survives_hostile_input),
        ),
    ],
};

/// One payload a `send` step posted, and what the client saw of it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema, Deserialize)]
pub struct SendRecord {
    pub server: String,
    pub payload: String,
    pub expect: Expect,
    pub identity: String,
    pub encoding: Option<String>,
    /// `JOURNAL_LAB_SEND` of its entries.
    pub token: String,
    pub outcome: Outcome,
    /// When it ended.
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String")]
    pub ended: time::OffsetDateTime,
    /// The entries a correct server stores (valid payloads only; not in run.json).
    #[serde(skip)]
    pub entries: Vec<protocol::Entry>,
    /// idle-connections: journal-remote's open descriptors while they were held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fds_while_held: Option<u64>,
}

/// journal-remote before the first send to a server (its process) and right after it (its
/// descriptors): what "survived" is measured against.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema, Deserialize)]
pub struct ServerBaseline {
    pub main_pid: u64,
    pub n_restarts: u64,
    /// Open descriptors of the main process (None if it was not running).
    pub fds: Option<u64>,
}

/// How many descriptors above the baseline still count as "back": journal-remote opens a
/// journal file per new peer name, and the sends come from one address.
pub const FD_SLACK: u64 = 8;

/// The command that reads a baseline and, later, the state after the sends.
pub fn remote_state_command() -> String {
    format!(
        "systemctl show -p MainPID -p NRestarts -p ActiveState -p SubState {REMOTE_UNIT}; \
         pid=$(systemctl show -p MainPID --value {REMOTE_UNIT}); \
         if [ \"$pid\" != 0 ]; then echo FDS=$(ls /proc/$pid/fd | wc -l); fi"
    )
}

/// `KEY=value` lines of [`remote_state_command`]'s output.
pub fn parse_state(output: &str) -> BTreeMap<String, String> {
    output
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

impl ServerBaseline {
    pub fn from_output(output: &str) -> ServerBaseline {
        let state = parse_state(output);
        let number = |key: &str| state.get(key).and_then(|v| v.parse().ok());
        ServerBaseline {
            main_pid: number("MainPID").unwrap_or(0),
            n_restarts: number("NRestarts").unwrap_or(0),
            fds: number("FDS").filter(|_| number("MainPID").unwrap_or(0) != 0),
        }
    }
}

/// What `send` steps posted to this server, or the verdict of a server nothing was sent to.
fn sends_to(target: &Target<'_>) -> Result<Vec<SendRecord>, Verdict> {
    let sends = target.observer.history().sends(Some(target.host));
    if sends.is_empty() {
        return Err((
            Status::NotApplicable,
            "no send step posted to this server".into(),
        ));
    }
    Ok(sends)
}

async fn accepts_valid_export(
    _: &Entry,
    target: &Target<'_>,
    evidence: &mut Vec<String>,
) -> crate::Result<Verdict> {
    let sends = or_verdict!(sends_to(target));
    let valid: Vec<&SendRecord> = sends
        .iter()
        .filter(|s| s.expect == Expect::Stored)
        .collect();
    let tokens: Vec<&str> = valid.iter().map(|s| s.token.as_str()).collect();
    let entries = stored_entries(target, &tokens, evidence).await?;
    Ok(match entries {
        Ok(entries) => accepts_verdict(&valid, &entries),
        Err(e) => (
            Status::NotVerifiable,
            format!("the server's export could not be read: {e}"),
        ),
    })
}

async fn rejects_malformed(
    _: &Entry,
    target: &Target<'_>,
    evidence: &mut Vec<String>,
) -> crate::Result<Verdict> {
    let sends = or_verdict!(sends_to(target));
    let stored = stored_tokens(target, evidence).await?;
    Ok(rejects_verdict(&sends, &stored))
}

async fn survives_hostile_input(
    _: &Entry,
    target: &Target<'_>,
    evidence: &mut Vec<String>,
) -> crate::Result<Verdict> {
    let sends = or_verdict!(sends_to(target));
    let after = target.probe(&remote_state_command(), evidence).await?;
    let marker = target.observer.marker_after(
        target.host,
        sends.iter().map(|s| s.ended).max().expect("sends"),
    );
    match &marker {
        Some(m) => evidence.push(format!("later marker that arrived: {m}")),
        None => evidence.push("no marker logged after the last send arrived".into()),
    }
    let verify = target
        .probe(
            "journalctl --verify -q -D /var/log/journal/remote 2>&1; echo verify-exit=$?",
            evidence,
        )
        .await?;
    Ok(survives_verdict(
        target.observer.history().baseline(target.host).as_ref(),
        &after.stdout,
        marker.as_deref(),
        &verify,
    ))
}

/// How many stored entries carry each token of this run (one read per server).
async fn stored_tokens(
    target: &Target<'_>,
    evidence: &mut Vec<String>,
) -> crate::Result<BTreeMap<String, usize>> {
    let command = format!(
        "{} | sort | uniq -c",
        crate::journal::each_remote_file(&format!(
            "journalctl --file \"$f\" -o cat --output-fields=JOURNAL_LAB_SEND --no-pager JOURNAL_LAB_RUN={}",
            target.run_id
        ))
    );
    let out = target.probe(&command, evidence).await?;
    Ok(parse_counts(&out.stdout))
}

/// `uniq -c` output: count and token per line.
pub fn parse_counts(output: &str) -> BTreeMap<String, usize> {
    output
        .lines()
        .filter_map(|l| {
            let (count, token) = l.trim().split_once(' ')?;
            Some((token.trim().to_string(), count.parse().ok()?))
        })
        .collect()
}

/// The stored entries of `tokens`, parsed from `journalctl -o export` (carried in base64 so
/// that binary values arrive byte for byte).
async fn stored_entries(
    target: &Target<'_>,
    tokens: &[&str],
    evidence: &mut Vec<String>,
) -> crate::Result<Result<Vec<protocol::Entry>, String>> {
    if tokens.is_empty() {
        return Ok(Ok(Vec::new()));
    }
    let matches: Vec<String> = tokens
        .iter()
        .map(|t| format!("JOURNAL_LAB_SEND={t}"))
        .collect();
    let command = format!(
        "{} | base64 -w0",
        crate::journal::each_remote_file(&format!(
            "journalctl --file \"$f\" -o export --no-pager {}",
            matches.join(" + ")
        ))
    );
    let out = target.observer.exec(target.host, &command).await?;
    let bytes = base64::engine::general_purpose::STANDARD.decode(out.stdout.trim());
    evidence.push(format!(
        "[{}]$ {command}  (exit {}): {} bytes of export",
        target.host,
        out.exit_code,
        bytes.as_ref().map_or(0, Vec::len)
    ));
    Ok(bytes
        .map_err(|e| e.to_string())
        .and_then(|b| protocol::parse(&b).map_err(|e| e.to_string())))
}

fn is_2xx(outcome: &Outcome) -> bool {
    outcome.status.is_some_and(|s| (200..300).contains(&s))
}

/// What the client saw: `HTTP 415 "answer"` or the error.
pub fn answer(outcome: &Outcome) -> String {
    match (outcome.status, &outcome.error) {
        (Some(status), _) if outcome.answer.is_empty() => format!("HTTP {status}"),
        (Some(status), _) => format!("HTTP {status} {:?}", outcome.answer),
        (None, Some(error)) => format!("no answer ({error})"),
        (None, None) => format!("no status ({})", outcome.answer),
    }
}

/// Each valid send: answered 2xx, all its entries stored, every field intact.
pub fn accepts_verdict(valid: &[&SendRecord], stored: &[protocol::Entry]) -> Verdict {
    if valid.is_empty() {
        return (
            Status::NotApplicable,
            "no valid payload was sent to this server".into(),
        );
    }
    let mut problems = Vec::new();
    let mut fine = Vec::new();
    for send in valid {
        let mine: Vec<&protocol::Entry> = stored
            .iter()
            .filter(|e| {
                e.iter()
                    .any(|f| f.name == "JOURNAL_LAB_SEND" && f.value == send.token.as_bytes())
            })
            .collect();
        let mut wrong = Vec::new();
        if !is_2xx(&send.outcome) {
            wrong.push(format!("answered {}", answer(&send.outcome)));
        }
        if mine.len() != send.entries.len() {
            wrong.push(format!(
                "{} of {} entries stored",
                mine.len(),
                send.entries.len()
            ));
        }
        for sent in &send.entries {
            let message = sent.iter().find(|f| f.name == "MESSAGE");
            let Some(copy) = mine.iter().find(|e| message.is_some_and(|m| e.contains(m))) else {
                continue;
            };
            let missing = missing_fields(sent, copy);
            if !missing.is_empty() {
                let names: Vec<&str> = missing.iter().map(|f| f.name.as_str()).collect();
                wrong.push(format!(
                    "stored with {} changed or missing",
                    names.join(", ")
                ));
            }
        }
        if wrong.is_empty() {
            fine.push(format!(
                "{} ({}, {} entries intact)",
                send.payload,
                answer(&send.outcome),
                mine.len()
            ));
        } else {
            problems.push(format!("{}: {}", send.payload, wrong.join("; ")));
        }
    }
    if problems.is_empty() {
        (Status::Pass, fine.join(", "))
    } else {
        (Status::Fail, problems.join("; "))
    }
}

/// Each malformed send: answered 4xx (a cut-short one: any answer) and nothing stored.
pub fn rejects_verdict(sends: &[SendRecord], stored: &BTreeMap<String, usize>) -> Verdict {
    let judged: Vec<(&SendRecord, bool)> = sends
        .iter()
        .filter(|s| matches!(s.expect, Expect::Refused | Expect::NotStored))
        .map(|s| {
            let kept = stored.get(&s.token).copied().unwrap_or(0);
            let refused = s.outcome.status.is_some_and(|c| (400..500).contains(&c));
            let ok = kept == 0 && (s.expect == Expect::NotStored || refused);
            (s, ok)
        })
        .collect();
    if judged.is_empty() {
        return (
            Status::NotApplicable,
            "no malformed payload was sent to this server".into(),
        );
    }
    let describe = |s: &SendRecord| {
        let kept = stored.get(&s.token).copied().unwrap_or(0);
        let kept = if kept == 0 {
            "nothing stored".to_string()
        } else {
            format!("{kept} entries STORED")
        };
        format!("{}: {}, {kept}", s.payload, answer(&s.outcome))
    };
    let bad: Vec<String> = judged
        .iter()
        .filter(|(_, ok)| !ok)
        .map(|(s, _)| describe(s))
        .collect();
    if bad.is_empty() {
        let all: Vec<String> = judged.iter().map(|(s, _)| describe(s)).collect();
        (Status::Pass, all.join("; "))
    } else {
        (
            Status::Fail,
            format!(
                "{} of {} not refused cleanly: {}",
                bad.len(),
                judged.len(),
                bad.join("; ")
            ),
        )
    }
}

/// After the sends: same process, no restart, active, descriptors back, a later marker, verify.
pub fn survives_verdict(
    baseline: Option<&ServerBaseline>,
    after: &str,
    later_marker: Option<&str>,
    verify: &ExecOutput,
) -> Verdict {
    let Some(baseline) = baseline else {
        return (
            Status::NotVerifiable,
            "no baseline was taken before the sends".into(),
        );
    };
    let state = parse_state(after);
    let get = |k: &str| state.get(k).map(String::as_str).unwrap_or("?");
    let mut problems = Vec::new();
    if get("ActiveState") != "active" {
        problems.push(format!(
            "journal-remote is {}/{}",
            get("ActiveState"),
            get("SubState")
        ));
    }
    let pid: u64 = get("MainPID").parse().unwrap_or(0);
    if baseline.main_pid != 0 && pid != baseline.main_pid {
        problems.push(format!(
            "its process changed (PID {} before the sends, {pid} after): it died and was started again",
            baseline.main_pid
        ));
    }
    let restarts: u64 = get("NRestarts").parse().unwrap_or(0);
    if restarts != baseline.n_restarts {
        problems.push(format!(
            "NRestarts went from {} to {restarts}",
            baseline.n_restarts
        ));
    }
    let fds: Option<u64> = state.get("FDS").and_then(|v| v.parse().ok());
    match (baseline.fds, fds) {
        (Some(before), Some(now)) if now > before + FD_SLACK => problems.push(format!(
            "{now} descriptors open, {before} before the sends (more than {FD_SLACK} above)"
        )),
        _ => {}
    }
    if later_marker.is_none() {
        problems.push(
            "no marker logged after the sends reached it (add a log-markers step after them)"
                .into(),
        );
    }
    let verified = verify.stdout.contains("verify-exit=0");
    if !verified {
        problems.push("journalctl --verify failed on its remote journals".into());
    }
    if problems.is_empty() {
        (
            Status::Pass,
            format!(
                "active, PID {pid} as before, NRestarts {restarts}, {} descriptors ({} before), a later marker delivered, remote journals verify",
                fds.map_or("?".into(), |n| n.to_string()),
                baseline.fds.map_or("?".into(), |n| n.to_string()),
            ),
        )
    } else {
        (Status::Fail, problems.join("; "))
    }
}

#[cfg(test)]
mod tests;

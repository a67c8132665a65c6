//! Verdicts of the hostile family on outputs recorded from a bookworm server (systemd 252) after
//! the hostile-input scenario, and on the false passes they must never give.

use super::*;
use crate::protocol::{catalog, Field};

/// `remote_state_command` on the server after the sends.
const STATE_AFTER: &str = "MainPID=85\nNRestarts=0\nActiveState=active\nSubState=running\nFDS=10\n";
/// The `uniq -c` of the stored tokens.
const STORED: &str = "      1 jl-x-send1\n      1 jl-x-send10\n    199 jl-x-send19\n";

fn outcome(status: Option<u16>, error: Option<&str>) -> Outcome {
    Outcome {
        status,
        answer: String::new(),
        error: error.map(str::to_string),
        ..Outcome::default()
    }
}

fn record(payload: &str, token: &str, outcome: Outcome) -> SendRecord {
    let expect = catalog::Payload::named(payload).unwrap().expect;
    SendRecord {
        server: "server".into(),
        payload: payload.into(),
        expect,
        identity: "lab".into(),
        encoding: None,
        token: token.into(),
        outcome,
        ended: time::OffsetDateTime::UNIX_EPOCH,
        entries: vec![vec![
            Field::new("JOURNAL_LAB_SEND", token),
            Field::new("MESSAGE", format!("m {token}")),
            Field::new("BIN", b"a\nb\xff".to_vec()),
        ]],
        fds_while_held: None,
    }
}

fn verified(ok: bool) -> ExecOutput {
    ExecOutput {
        stdout: format!("verify-exit={}\n", if ok { 0 } else { 1 }),
        ..ExecOutput::default()
    }
}

#[test]
fn counts_and_state_parse() {
    let counts = parse_counts(STORED);
    assert_eq!(counts["jl-x-send19"], 199);
    assert_eq!(counts.len(), 3);
    let baseline = ServerBaseline::from_output(STATE_AFTER);
    assert_eq!(
        baseline,
        ServerBaseline {
            main_pid: 85,
            n_restarts: 0,
            fds: Some(10)
        }
    );
    // Not running: no descriptors to count.
    assert_eq!(
        ServerBaseline::from_output("MainPID=0\nNRestarts=0\n").fds,
        None
    );
}

#[test]
fn malformed_must_be_4xx_and_absent() {
    let stored = parse_counts(STORED);
    let refused = record("wrong-content-type", "jl-x-send3", outcome(Some(415), None));
    let cut = record(
        "announced-larger",
        "jl-x-send8",
        outcome(None, Some("user body write aborted")),
    );
    assert_eq!(
        rejects_verdict(&[refused.clone(), cut.clone()], &stored).0,
        Status::Pass
    );
    // Recorded on bookworm: 202 for a bad field name, and the entry stored.
    let accepted = record(
        "invalid-field-name",
        "jl-x-send10",
        outcome(Some(202), None),
    );
    let (status, observed) = rejects_verdict(&[refused.clone(), accepted], &stored);
    assert_eq!(status, Status::Fail);
    assert!(
        observed.contains("invalid-field-name: HTTP 202, 1 entries STORED"),
        "{observed}"
    );
    // A connection dropped without a status is not a 4xx, even with nothing stored.
    let dropped = record(
        "binary-short-length",
        "jl-x-send5",
        outcome(None, Some("connection closed")),
    );
    assert_eq!(rejects_verdict(&[dropped], &stored).0, Status::Fail);
    // A 4xx is not enough if the entries were stored anyway.
    let stored_anyway = record(
        "missing-trailing-newline",
        "jl-x-send19",
        outcome(Some(417), None),
    );
    assert_eq!(rejects_verdict(&[stored_anyway], &stored).0, Status::Fail);
    // Nothing malformed sent: not applicable, never a pass.
    let valid = record("valid-text", "jl-x-send1", outcome(Some(202), None));
    assert_eq!(rejects_verdict(&[valid], &stored).0, Status::NotApplicable);
}

#[test]
fn valid_must_be_2xx_and_stored_byte_for_byte() {
    let send = record("valid-binary", "t1", outcome(Some(202), None));
    let stored = send.entries.clone();
    assert_eq!(accepts_verdict(&[&send], &stored).0, Status::Pass);
    // One byte of the binary field changed on the way: a fail naming the field.
    let mut changed = stored.clone();
    changed[0][2].value[2] = b'?';
    let (status, observed) = accepts_verdict(&[&send], &changed);
    assert_eq!(status, Status::Fail);
    assert!(observed.contains("BIN changed or missing"), "{observed}");
    // Stored, but answered 500: a fail.
    let answered_500 = record("valid-text", "t1", outcome(Some(500), None));
    assert_eq!(accepts_verdict(&[&answered_500], &stored).0, Status::Fail);
    // Answered 202, nothing stored: a fail.
    assert_eq!(accepts_verdict(&[&send], &[]).0, Status::Fail);
    assert_eq!(accepts_verdict(&[], &[]).0, Status::NotApplicable);
}

#[test]
fn surviving_needs_the_same_process_a_later_marker_and_sound_journals() {
    let before = ServerBaseline {
        main_pid: 85,
        n_restarts: 0,
        fds: Some(10),
    };
    let marker = Some("marker from good, in remote-172.19.0.3.journal");
    assert_eq!(
        survives_verdict(Some(&before), STATE_AFTER, marker, &verified(true)).0,
        Status::Pass
    );
    // A crash that socket activation papered over: another PID.
    let other_pid = STATE_AFTER.replace("MainPID=85", "MainPID=301");
    let (status, observed) = survives_verdict(Some(&before), &other_pid, marker, &verified(true));
    assert_eq!(status, Status::Fail);
    assert!(
        observed.contains("PID 85 before the sends, 301 after"),
        "{observed}"
    );
    // Descriptors piled up (the idle connections never released).
    let piled = STATE_AFTER.replace("FDS=10", "FDS=211");
    assert_eq!(
        survives_verdict(Some(&before), &piled, marker, &verified(true)).0,
        Status::Fail
    );
    // No later marker, or journals that fail verification.
    assert_eq!(
        survives_verdict(Some(&before), STATE_AFTER, None, &verified(true)).0,
        Status::Fail
    );
    assert_eq!(
        survives_verdict(Some(&before), STATE_AFTER, marker, &verified(false)).0,
        Status::Fail
    );
    let restarted = STATE_AFTER.replace("NRestarts=0", "NRestarts=1");
    assert_eq!(
        survives_verdict(Some(&before), &restarted, marker, &verified(true)).0,
        Status::Fail
    );
    assert_eq!(
        survives_verdict(None, STATE_AFTER, marker, &verified(true)).0,
        Status::NotVerifiable
    );
}

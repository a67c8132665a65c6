use futures::future::BoxFuture;

use super::*;
use crate::checks::history::What;
use crate::checks::{Sealing, FAMILIES};

const KEY: &str = "0a1b2c-3d4e5f/1f2e3d-4c5b6a";

/// An observer with something to say about everything: each command's answer is made from the
/// command's own text (so two commands answer differently), a marker that arrived, a sealing.
struct Talkative {
    history: History,
}

impl Talkative {
    fn new() -> Talkative {
        let mut history = History::default();
        history.record(
            "h",
            What::SealingSetUp(Sealing {
                verification_key: KEY.to_string(),
                fingerprint: "0a1b2c".into(),
                interval: "15min".into(),
            }),
            false,
        );
        Talkative { history }
    }
}

impl Observer for Talkative {
    fn exec<'a>(&'a self, host: &'a str, command: &'a str) -> BoxFuture<'a, Result<ExecOutput>> {
        let sum: usize = command.bytes().map(usize::from).sum();
        let output = ExecOutput {
            exit_code: (sum % 3) as i64,
            stdout: format!(
                "ActiveState=active\nSubState=running\nenabled\nmasked\n{host} {sum}\nkey given: {}\n",
                command.contains(KEY)
            ),
            stderr: if sum.is_multiple_of(2) { "warning\n".into() } else { String::new() },
        };
        Box::pin(async move { Ok(output) })
    }

    fn marker<'a>(
        &'a self,
        host: &'a str,
        evidence: &'a mut Vec<String>,
    ) -> BoxFuture<'a, Result<MarkerObservation>> {
        evidence.push(format!("marker of {host}"));
        Box::pin(async move {
            Ok(MarkerObservation {
                logged: Some(format!("journal-lab marker {host}")),
                found_in: (host != "quiet").then(|| "remote-1.journal".to_string()),
                later_reference: Some("journal-lab marker later".into()),
                client_log: vec!["Upload to https://s:19532/upload finished".into()],
                logged_at: Some(time::macros::datetime!(2026-12-08 01:00 UTC)),
            })
        })
    }

    fn history(&self) -> &History {
        &self.history
    }

    fn marker_after(&self, server: &str, _: time::OffsetDateTime) -> Option<String> {
        Some(format!("journal-lab marker after, on {server}"))
    }
}

fn record_for(role: Role) -> TargetRecord {
    TargetRecord {
        host: "h".into(),
        role,
        port: 19532,
        has_certificate: true,
        uploads: true,
        first_client: Some("c".into()),
        server: Some("s".into()),
        route: vec!["s".into()],
        run_id: "r".into(),
        sources: vec![("/etc/x.conf".into(), "ci/x.conf".into())],
        configured: Vec::new(),
        params: Default::default(),
    }
}

/// Every registered check, on both roles, judged live through a recorder and again from the
/// record alone: the same verdicts, words and evidence; and the sealing key is nowhere in the
/// record, though the check that verifies seals was given it.
#[test]
fn every_check_judged_again_from_its_record_gives_the_same_verdict() {
    futures::executor::block_on(judged_again())
}

async fn judged_again() {
    let live = Talkative::new();
    let recorder = Recorder::new(&live);
    let mut phases = Vec::new();
    let mut judged_live = Vec::new();
    for role in [Role::Server, Role::Client] {
        let due: Vec<Due> = FAMILIES
            .iter()
            .flat_map(|f| f.entries)
            .map(|e| Due {
                check: e.id.to_string(),
                target: record_for(role),
            })
            .collect();
        judged_live.extend(judge(&recorder, &due, "final").await.unwrap());
        phases.push(DuePhase {
            phase: "final".into(),
            profile: false,
            due,
        });
    }
    let evaluation = recorder.into_evaluation(phases);
    let stored = serde_json::to_string(&evaluation).unwrap();
    assert!(!stored.contains(KEY), "the sealing key is in the record");
    assert!(stored.contains("<verification key 0a1b2c>"));
    let evaluation: Evaluation = serde_json::from_str(&stored).unwrap();
    let mut judged_again = Vec::new();
    for due in &evaluation.phases {
        judged_again.extend(
            rejudge(&evaluation, due)
                .await
                .into_iter()
                .map(Option::unwrap),
        );
    }
    assert_eq!(judged_live.len(), judged_again.len());
    let verifies = CheckId::JOURNAL_VERIFIES.to_string();
    let mut statuses = std::collections::BTreeSet::new();
    for (live, again) in judged_live.iter().zip(&judged_again) {
        statuses.insert(live.status.to_string());
        assert_eq!(
            (
                &live.id,
                &live.host,
                &live.status,
                &live.observed,
                &live.evidence
            ),
            (
                &again.id,
                &again.host,
                &again.status,
                &again.observed,
                &again.evidence
            ),
            "{} judged again differs",
            live.id
        );
        if live.id.to_string() == verifies && live.status != Status::NotApplicable {
            assert!(live.evidence.join("\n").contains("key given: true"));
        }
    }
    // The talkative answers reach more than one verdict, so equal verdicts are not all alike.
    assert!(statuses.len() >= 3, "{statuses:?}");
}

/// A question the run never answered is an error of that check alone, saying what was missing;
/// a check this build does not have is left to the caller.
#[test]
fn what_the_run_did_not_observe_is_said_not_invented() {
    futures::executor::block_on(not_observed())
}

async fn not_observed() {
    let live = Talkative::new();
    let recorder = Recorder::new(&live);
    let due = vec![
        Due {
            check: CheckId::REMOTE_SOCKET_MASKED.to_string(),
            target: record_for(Role::Client),
        },
        Due {
            check: "a-check-of-a-later-build".into(),
            target: record_for(Role::Client),
        },
    ];
    judge(&recorder, &due[..1], "final").await.unwrap();
    let mut evaluation = recorder.into_evaluation(vec![DuePhase {
        phase: "final".into(),
        profile: false,
        due,
    }]);
    assert!(!evaluation.answers.commands.is_empty());
    evaluation.answers.commands.clear();
    let again = rejudge(&evaluation, &evaluation.phases[0]).await;
    let first = again[0].as_ref().expect("a check of this build");
    assert_eq!(first.status, Status::Error);
    assert!(
        first
            .observed
            .starts_with("not judged again: the run did not observe `"),
        "{}",
        first.observed
    );
    assert!(again[1].is_none());
}

/// The history is stored whole: a send keeps the entries a correct server stores (which
/// run.json leaves out), found missing when a stored hostile-input run, judged again, said
/// "1 of 0 entries stored".
#[test]
fn a_stored_history_keeps_what_a_send_posted() {
    use crate::checks::hostile::SendRecord;
    use crate::protocol::{catalog::Expect, Field};
    let mut history = History::default();
    let entry = vec![
        Field::new("MESSAGE", "hello"),
        Field::new("BINARY", vec![0u8, 1, 2, 255]),
    ];
    let record = SendRecord {
        server: "server".into(),
        payload: "valid-binary".into(),
        expect: Expect::Stored,
        identity: "client".into(),
        encoding: None,
        token: "t1".into(),
        outcome: Default::default(),
        ended: time::macros::datetime!(2026-12-08 02:00 UTC),
        entries: vec![entry.clone()],
        fds_while_held: None,
    };
    history.record("server", What::Sent(record), false);
    let stored: History = serde_json::from_str(&serde_json::to_string(&history).unwrap()).unwrap();
    assert_eq!(stored.sends(Some("server"))[0].entries, vec![entry]);
    // run.json's own form of a send still leaves them out.
    let in_run_json = serde_json::to_value(&history.sends(None)[0]).unwrap();
    assert!(in_run_json.get("entries").is_none(), "{in_run_json}");
}

//! A run's observations, kept so that its verdicts can be judged again (`report rejudge`): for
//! each evaluation, which checks were due on which hosts (with what the scenario says of each
//! host), and every answer the checks were given through their [`Observer`]: commands and what
//! they printed, markers with their evidence, later markers, and the history as it stood.
//!
//! Live, a [`Recorder`] stands between the checks and the lab and writes down what passes
//! through; later, a [`Replay`] answers the same questions from that record and from nothing
//! else. Checks read the lab and the history only through their observer (never the clock), so
//! a verdict is a function of its answers: a stored run judged again by the same build gives the
//! same verdicts, and a later build's checks judge what the run saw. (Jepsen's checkers run on a
//! stored history the same way.) Sealing keys never enter the record: the history holds each
//! key's stand-in, and commands and outputs have the key replaced by it.

use std::sync::Mutex;

use futures::future::BoxFuture;
use futures::FutureExt;
use serde::{Deserialize, Serialize};

use super::history::History;
use super::{knobs, CheckId, CheckResult, MarkerObservation, Observer, Status, Target};
use crate::domain::{ExecOutput, Role};
use crate::errors::{Error, Result};

/// One evaluation: one batch of probes answering one or more phases' checks.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Evaluation {
    pub phases: Vec<DuePhase>,
    /// The history as the checks read it, sealing keys withheld.
    pub history: History,
    pub answers: Answers,
}

/// The checks one phase evaluated, in the order their results were listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DuePhase {
    pub phase: String,
    /// The conformance profile's phase (its results go to the report's profile).
    pub profile: bool,
    pub due: Vec<Due>,
}

/// A check due on a host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Due {
    /// The check's id as the run's build named it (a later build may not know it).
    pub check: String,
    pub target: TargetRecord,
}

/// What [`Target`] holds of a host, without its observer: what the scenario says of the host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetRecord {
    pub host: String,
    pub role: Role,
    pub port: u16,
    pub has_certificate: bool,
    pub uploads: bool,
    pub first_client: Option<String>,
    pub server: Option<String>,
    pub route: Vec<String>,
    pub run_id: String,
    pub sources: Vec<(String, String)>,
    /// Under `base: as-is`, how the user's files set each knob read on this host.
    pub configured: Vec<ConfiguredKnob>,
    /// The parameters the scenario gave the check.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub params: std::collections::BTreeMap<String, u64>,
}

/// A knob as the user's files set it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfiguredKnob {
    pub file: String,
    pub section: String,
    pub key: String,
    pub role: Role,
    pub value: String,
}

impl TargetRecord {
    /// The target, observed through `observer`. A knob this build does not register is left
    /// out (no check of this build reads it).
    pub fn target<'a>(&'a self, observer: &'a dyn Observer) -> Target<'a> {
        let registered = |k: &ConfiguredKnob| {
            CheckId::all()
                .flat_map(|id| id.entry().knobs)
                .find(|r| {
                    r.role == k.role && r.file == k.file && r.section == k.section && r.key == k.key
                })
                .map(|r| (*r, k.value.clone()))
        };
        Target {
            host: &self.host,
            role: self.role,
            port: self.port,
            has_certificate: self.has_certificate,
            uploads: self.uploads,
            first_client: self.first_client.as_deref(),
            server: self.server.as_deref(),
            route: self.route.iter().map(String::as_str).collect(),
            run_id: &self.run_id,
            sources: self
                .sources
                .iter()
                .map(|(path, from)| (path.as_str(), from.clone()))
                .collect(),
            configured: self.configured.iter().filter_map(registered).collect(),
            params: self.params.iter().map(|(k, v)| (k.as_str(), *v)).collect(),
            observer,
        }
    }
}

impl ConfiguredKnob {
    pub fn of(knob: &knobs::Knob, value: String) -> ConfiguredKnob {
        ConfiguredKnob {
            file: knob.file.to_string(),
            section: knob.section.to_string(),
            key: knob.key.to_string(),
            role: knob.role,
            value,
        }
    }
}

/// Every answer the checks of one evaluation were given.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Answers {
    pub commands: Vec<CommandAnswer>,
    pub markers: Vec<MarkerAnswer>,
    pub later_markers: Vec<LaterMarker>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandAnswer {
    pub host: String,
    pub command: String,
    pub output: ExecOutput,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MarkerAnswer {
    pub host: String,
    pub observation: MarkerObservation,
    /// The evidence the observation was given with.
    pub evidence: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LaterMarker {
    pub server: String,
    #[serde(with = "time::serde::rfc3339")]
    pub after: time::OffsetDateTime,
    pub found: Option<String>,
}

/// Writes down every answer `inner` gives the checks (the first answer to each question), with
/// the sealing keys of `history` replaced by their stand-ins.
pub struct Recorder<'a> {
    inner: &'a dyn Observer,
    /// (key, stand-in) for every sealing key of the history.
    secrets: Vec<(String, String)>,
    answers: Mutex<Answers>,
}

impl<'a> Recorder<'a> {
    pub fn new(inner: &'a dyn Observer) -> Recorder<'a> {
        let secrets = inner
            .history()
            .sealings()
            .into_values()
            .map(|s| (s.verification_key.clone(), stand_in(&s.fingerprint)))
            .filter(|(key, _)| !key.is_empty())
            .collect();
        Recorder {
            inner,
            secrets,
            answers: Mutex::new(Answers::default()),
        }
    }

    /// The evaluation `phases` made, with what was answered and the history as it stood.
    pub fn into_evaluation(self, phases: Vec<DuePhase>) -> Evaluation {
        Evaluation {
            phases,
            history: self.inner.history().withholding_keys(stand_in),
            answers: self
                .answers
                .into_inner()
                .expect("no panics while holding the lock"),
        }
    }

    fn withhold(&self, text: &str) -> String {
        self.secrets
            .iter()
            .fold(text.to_string(), |text, (key, shown)| {
                text.replace(key, shown)
            })
    }

    fn note(&self, record: impl FnOnce(&mut Answers)) {
        record(
            &mut self
                .answers
                .lock()
                .expect("no panics while holding the lock"),
        );
    }
}

/// What the record holds in place of the sealing key with this fingerprint.
pub fn stand_in(fingerprint: &str) -> String {
    format!("<verification key {fingerprint}>")
}

impl Observer for Recorder<'_> {
    fn exec<'a>(&'a self, host: &'a str, command: &'a str) -> BoxFuture<'a, Result<ExecOutput>> {
        async move {
            let output = self.inner.exec(host, command).await?;
            let command = self.withhold(command);
            self.note(|answers| {
                if !answers
                    .commands
                    .iter()
                    .any(|a| a.host == host && a.command == command)
                {
                    answers.commands.push(CommandAnswer {
                        host: host.to_string(),
                        command,
                        output: ExecOutput {
                            exit_code: output.exit_code,
                            stdout: self.withhold(&output.stdout),
                            stderr: self.withhold(&output.stderr),
                        },
                    });
                }
            });
            Ok(output)
        }
        .boxed()
    }

    fn marker<'a>(
        &'a self,
        host: &'a str,
        evidence: &'a mut Vec<String>,
    ) -> BoxFuture<'a, Result<MarkerObservation>> {
        async move {
            let before = evidence.len();
            let observation = self.inner.marker(host, evidence).await?;
            let given = evidence[before..].to_vec();
            self.note(|answers| {
                if !answers.markers.iter().any(|m| m.host == host) {
                    answers.markers.push(MarkerAnswer {
                        host: host.to_string(),
                        observation: observation.clone(),
                        evidence: given,
                    });
                }
            });
            Ok(observation)
        }
        .boxed()
    }

    fn history(&self) -> &History {
        self.inner.history()
    }

    fn marker_after(&self, server: &str, after: time::OffsetDateTime) -> Option<String> {
        let found = self.inner.marker_after(server, after);
        self.note(|answers| {
            if !answers
                .later_markers
                .iter()
                .any(|m| m.server == server && m.after == after)
            {
                answers.later_markers.push(LaterMarker {
                    server: server.to_string(),
                    after,
                    found: found.clone(),
                });
            }
        });
        found
    }
}

/// Answers the checks from an evaluation's record, and from nothing else: a question the run
/// never answered is an error that says so.
pub struct Replay<'a> {
    evaluation: &'a Evaluation,
}

impl<'a> Replay<'a> {
    pub fn of(evaluation: &'a Evaluation) -> Replay<'a> {
        Replay { evaluation }
    }
}

impl Observer for Replay<'_> {
    fn exec<'a>(&'a self, host: &'a str, command: &'a str) -> BoxFuture<'a, Result<ExecOutput>> {
        let answer = self
            .evaluation
            .answers
            .commands
            .iter()
            .find(|a| a.host == host && a.command == command)
            .map(|a| a.output.clone())
            .ok_or_else(|| Error::NotRecorded {
                what: format!("`{command}` on {host}"),
            });
        futures::future::ready(answer).boxed()
    }

    fn marker<'a>(
        &'a self,
        host: &'a str,
        evidence: &'a mut Vec<String>,
    ) -> BoxFuture<'a, Result<MarkerObservation>> {
        let answer = match self
            .evaluation
            .answers
            .markers
            .iter()
            .find(|m| m.host == host)
        {
            Some(recorded) => {
                evidence.extend(recorded.evidence.iter().cloned());
                Ok(recorded.observation.clone())
            }
            None => Err(Error::NotRecorded {
                what: format!("what became of {host}'s marker"),
            }),
        };
        futures::future::ready(answer).boxed()
    }

    fn history(&self) -> &History {
        &self.evaluation.history
    }

    /// A question the run never asked reads as "none arrived": this method cannot say "not
    /// observed". Its one caller (`server-survives-hostile-input`) asks after the history's last
    /// send, which the record holds, so a check that asks what the run asked finds the answer.
    fn marker_after(&self, server: &str, after: time::OffsetDateTime) -> Option<String> {
        self.evaluation
            .answers
            .later_markers
            .iter()
            .find(|m| m.server == server && m.after == after)
            .and_then(|m| m.found.clone())
    }
}

/// Judges each due check of `due` through `observer`, all at once; live, the first error ends
/// the evaluation (the harness could not do its job).
pub async fn judge(observer: &dyn Observer, due: &[Due], phase: &str) -> Result<Vec<CheckResult>> {
    futures::future::try_join_all(due.iter().map(|due| async move {
        let id = CheckId::named(&due.check).ok_or_else(|| Error::NotRecorded {
            what: format!("check {} (this build has no such check)", due.check),
        })?;
        super::evaluate(id, &due.target.target(observer), phase).await
    }))
    .await
}

/// [`judge`] over a record, one result per due check in order: a check that asks what the run
/// did not observe is an error result of its own that says what was missing; None for a check
/// this build does not have.
pub async fn rejudge(evaluation: &Evaluation, due: &DuePhase) -> Vec<Option<CheckResult>> {
    let replay = Replay::of(evaluation);
    let mut results = Vec::with_capacity(due.due.len());
    for one in &due.due {
        let Some(id) = CheckId::named(&one.check) else {
            results.push(None);
            continue;
        };
        let target = one.target.target(&replay);
        results.push(Some(match super::evaluate(id, &target, &due.phase).await {
            Ok(result) => result,
            Err(error) => {
                let entry = id.entry();
                CheckResult {
                    id,
                    title: entry.title.to_string(),
                    host: one.target.host.clone(),
                    phase: due.phase.clone(),
                    expected: entry.expected.to_string(),
                    observed: format!("not judged again: {error}"),
                    status: Status::Error,
                    evidence: Vec::new(),
                    seconds: 0.0,
                    reference: entry.reference.to_string(),
                    known: None,
                }
            }
        }));
    }
    results
}

#[cfg(test)]
#[path = "tests/recorded.rs"]
mod tests;

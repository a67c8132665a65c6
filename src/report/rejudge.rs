//! `report rejudge`: a stored run judged again by this build's checks, from its observations
//! (`observations.json.zst`) and nothing else, then made final the way the run made its own
//! (a failed step's checks not verifiable, the setup's known failures), and compared with what
//! the run said. A check this build does not have keeps the run's own result, and says so.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::observations::Observations;
use super::RunReport;
use crate::checks::recorded;
use crate::checks::CheckResult;

/// Who judged the run again, when, and what moved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Rejudging {
    /// The journal-lab that judged again (the run's own is `harness_version`).
    pub harness_version: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String")]
    pub at: time::OffsetDateTime,
    /// Results judged again, the profile's included.
    pub verdicts: usize,
    pub changed: Vec<Change>,
    /// Checks this build does not have: the run's results stand as the run judged them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kept: Vec<String>,
}

/// A verdict that moved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Change {
    pub check: String,
    pub host: String,
    pub phase: String,
    /// The status the run gave, and the one given now.
    pub was: String,
    pub now: String,
    /// What the run said it observed, and what is said now.
    pub observed_was: String,
    pub observed_now: String,
}

impl Change {
    /// `check on host (phase): was -> now`.
    pub fn line(&self) -> String {
        format!(
            "{} on {} ({}): {} -> {}",
            self.check, self.host, self.phase, self.was, self.now
        )
    }
}

/// `run` judged again from `observations`: the report with its new verdicts (and `ok`), and
/// what moved.
pub async fn rejudge(run: &RunReport, observations: &Observations) -> RunReport {
    let mut stored: BTreeMap<(String, String, String), Vec<&CheckResult>> = BTreeMap::new();
    for result in run.checks.iter().chain(&run.profile) {
        stored.entry(key(result)).or_default().push(result);
    }
    let mut checks = Vec::new();
    let mut profile = Vec::new();
    let mut kept = Vec::new();
    for evaluation in &observations.evaluations {
        for due in &evaluation.phases {
            let judged = recorded::rejudge(evaluation, due).await;
            for (one, result) in due.due.iter().zip(judged) {
                let result = match result {
                    Some(result) => result,
                    None => {
                        let id = (
                            one.check.clone(),
                            one.target.host.clone(),
                            due.phase.clone(),
                        );
                        let Some(own) = stored.get(&id).and_then(|r| r.first()) else {
                            continue;
                        };
                        kept.push(format!("{} on {}", one.check, one.target.host));
                        (*own).clone()
                    }
                };
                if due.profile {
                    profile.push(result);
                } else {
                    checks.push(result);
                }
            }
        }
    }
    if let Some(failed) = run.steps.iter().find(|s| s.error.is_some()) {
        super::not_verifiable_after(failed, &observations.journald, &mut checks);
    }
    crate::scenario::expect::apply(&observations.expect, &mut checks);
    crate::scenario::expect::apply(&observations.expect, &mut profile);
    let changed = changes(&run.checks, &checks)
        .into_iter()
        .chain(changes(&run.profile, &profile))
        .collect();
    let mut again = run.clone();
    again.ok = super::holds(&checks, &profile, run.profile_mode, &run.steps) && !run.interrupted;
    again.rejudged = Some(Rejudging {
        harness_version: crate::HARNESS_VERSION.to_string(),
        at: time::OffsetDateTime::now_utc(),
        verdicts: checks.len() + profile.len(),
        changed,
        kept,
    });
    again.checks = checks;
    again.profile = profile;
    again
}

fn key(result: &CheckResult) -> (String, String, String) {
    (
        result.id.to_string(),
        result.host.clone(),
        result.phase.clone(),
    )
}

/// The verdicts of `now` that differ from `was` (status, or what was observed), matched by
/// check, host and phase in order; a result only one side has is a change too.
fn changes(was: &[CheckResult], now: &[CheckResult]) -> Vec<Change> {
    let mut was_by_key: BTreeMap<_, Vec<&CheckResult>> = BTreeMap::new();
    for result in was {
        was_by_key.entry(key(result)).or_default().push(result);
    }
    let mut changed = Vec::new();
    let change = |was: Option<&CheckResult>, now: Option<&CheckResult>| {
        let one = now.or(was).expect("one side");
        Change {
            check: one.id.to_string(),
            host: one.host.clone(),
            phase: one.phase.clone(),
            was: was.map_or("absent".into(), |r| r.status.to_string()),
            now: now.map_or("absent".into(), |r| r.status.to_string()),
            observed_was: was.map_or(String::new(), |r| r.observed.clone()),
            observed_now: now.map_or(String::new(), |r| r.observed.clone()),
        }
    };
    for result in now {
        let earlier = was_by_key
            .get_mut(&key(result))
            .and_then(|r| (!r.is_empty()).then(|| r.remove(0)));
        match earlier {
            Some(earlier)
                if earlier.status == result.status && earlier.observed == result.observed => {}
            earlier => changed.push(change(earlier, Some(result))),
        }
    }
    for left in was_by_key.into_values().flatten() {
        changed.push(change(Some(left), None));
    }
    changed
}

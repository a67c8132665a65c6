//! `verify` against a lab that is up: which of the scenario's checks it evaluates, and the
//! fresh markers `client-delivers` judges when the steps are not performed again.

use super::steps::step_record;
use super::{steps, timed, Deadlines, Lab};
use crate::checks::CheckId;
use crate::report::StepRecord;
use crate::scenario::{HostGroup, Hosts, Scenario, Step};
use crate::{Progress, Say};

/// verify with `--checks`: the scenario with only those checks (None: all of them).
pub(super) fn verified_checks(scenario: &Scenario, only_these: &[CheckId]) -> Option<Scenario> {
    if only_these.is_empty() {
        return None;
    }
    let mut only = scenario.clone();
    only.checks.retain(|c| only_these.contains(&c.id));
    Some(only)
}

/// verify without its steps: `client-delivers` judges markers logged now, not the ones `up`
/// logged (a broken upload would otherwise still pass). Returns the step it performed, if any.
pub(super) async fn fresh_markers(
    lab: &Lab,
    scenario: &Scenario,
    only_these: &[CheckId],
    deadlines: &Deadlines,
    state: &mut steps::RunState,
    progress: &Progress,
) -> Option<StepRecord> {
    let verifies_delivery = verified_checks(scenario, only_these)
        .as_ref()
        .unwrap_or(scenario)
        .checks
        .iter()
        .any(|c| c.id == CheckId::CLIENT_DELIVERS);
    if !verifies_delivery {
        return None;
    }
    progress.news("verify: logging a new marker on each client (client-delivers judges these)");
    let fresh = Step::LogMarkers {
        hosts: Hosts::Group(HostGroup::Clients),
        deadline: None,
    };
    let (performed, took) = timed(steps::perform(
        lab, scenario, &fresh, state, deadlines, progress,
    ))
    .await;
    // Numbered after the scenario's own steps: it is verify's, not the scenario's.
    let record = step_record(scenario.steps.len(), &fresh, None, &performed, took);
    if let Err(e) = performed {
        progress.warning(format!("verify's markers: {e}"));
    }
    Some(record)
}

//! `verify` against a lab that is up: which of the scenario's checks it evaluates, and the
//! fresh markers `client-delivers` judges when the steps are not performed again.

use super::runner::{step_record, LabOptions};
use super::{steps, timed, Lab};
use crate::report::StepRecord;
use crate::scenario::{HostGroup, Hosts, Scenario, Step};
use crate::Progress;

/// verify with `--checks`: the scenario with only those checks (None: all of them).
pub(super) fn verified_checks(scenario: &Scenario, options: &LabOptions) -> Option<Scenario> {
    if options.verify_checks.is_empty() {
        return None;
    }
    let mut only = scenario.clone();
    only.checks
        .retain(|c| options.verify_checks.contains(&c.id));
    Some(only)
}

/// verify without its steps: `client-delivers` judges markers logged now, not the ones `up`
/// logged (a broken upload would otherwise still pass). Returns the step it performed, if any.
pub(super) async fn fresh_markers(
    lab: &Lab,
    scenario: &Scenario,
    options: &LabOptions,
    state: &mut steps::RunState,
    progress: &Progress,
) -> Option<StepRecord> {
    let verifies_delivery = verified_checks(scenario, options)
        .as_ref()
        .unwrap_or(scenario)
        .checks
        .iter()
        .any(|c| c.id == crate::checks::CheckId::CLIENT_DELIVERS);
    if !verifies_delivery {
        return None;
    }
    progress("verify: logging a new marker on each client (client-delivers judges these)");
    let fresh = Step::LogMarkers {
        hosts: Hosts::Group(HostGroup::Clients),
        deadline: None,
    };
    let (performed, took) = timed(steps::perform(
        lab,
        scenario,
        &fresh,
        state,
        &options.deadlines,
        progress,
    ))
    .await;
    // Numbered after the scenario's own steps: it is verify's, not the scenario's.
    let record = step_record(scenario.steps.len(), &fresh, None, &performed, took);
    if let Err(e) = performed {
        progress(&format!("verify's markers: {e}"));
    }
    Some(record)
}

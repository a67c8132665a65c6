//! Known failures a team declares in setup.yaml (`expect:`), so CI starts green on a release
//! whose software cannot do what a check asks (journal-remote built without GnuTLS cannot check
//! client certificates) and every other check keeps gating. A matching failure is reported as
//! known, with its reason, and does not fail the run; a known failure that passes is reported
//! as fixed (`--strict-expect` fails the run on it); an expectation that matches nothing any
//! suite evaluates is refused before anything boots: a stale expectation is a bug.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Scenario;
use crate::checks::{CheckId, CheckResult, Known, KnownKind, Status, PROFILE};

/// One `expect:` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    /// The built-in suite (scenario name) it is about.
    pub suite: String,
    /// The check id.
    pub check: CheckId,
    /// The host (default: every host the suite evaluates the check on).
    #[serde(default)]
    pub host: Option<String>,
    /// `fail` (it fails, for the reason given) or `flaky` (it may go either way).
    pub known: KnownKind,
    /// Why, for whoever reads the report.
    pub reason: String,
    /// Where it is tracked (an upstream issue, a ticket).
    #[serde(default)]
    pub link: Option<String>,
}

/// The (check, host) pairs `scenario` evaluates: its checks on their hosts, and the profile's
/// on every host its items apply to.
pub fn evaluated(scenario: &Scenario) -> Vec<(CheckId, &str)> {
    let mut pairs = Vec::new();
    for check in &scenario.checks {
        match &check.hosts {
            Some(hosts) => pairs.extend(hosts.iter().map(|h| (check.id, h.as_str()))),
            None => pairs.extend(
                scenario
                    .hosts
                    .iter()
                    .filter(|h| check.id.applies_to(h.role))
                    .map(|h| (check.id, h.name.as_str())),
            ),
        }
    }
    for id in PROFILE {
        pairs.extend(
            scenario
                .hosts
                .iter()
                .filter(|h| id.applies_to(h.role))
                .map(|h| (id, h.name.as_str())),
        );
    }
    pairs
}

/// Why `expectation` matches nothing `scenario` (its suite, as laid over) evaluates, if so.
pub fn stale(expectation: &Expectation, scenario: &Scenario) -> Option<String> {
    let pairs = evaluated(scenario);
    let on: Vec<&str> = pairs
        .iter()
        .filter(|(id, _)| *id == expectation.check)
        .map(|(_, host)| *host)
        .collect();
    if on.is_empty() {
        return Some(format!(
            "suite {} does not evaluate {}: this expectation would match nothing",
            expectation.suite, expectation.check
        ));
    }
    match &expectation.host {
        Some(host) if !on.contains(&host.as_str()) => Some(format!(
            "suite {} evaluates {} on {}, not on {host:?}: this expectation would match nothing",
            expectation.suite,
            expectation.check,
            on.join(", ")
        )),
        _ => None,
    }
}

/// Marks the results `expectations` are about: a failure (or error) known, with its reason; a
/// known failure that passed, fixed; a flaky one known whatever it did.
pub fn apply(expectations: &[Expectation], results: &mut [CheckResult]) {
    for result in results.iter_mut() {
        let Some(expectation) = expectations
            .iter()
            .find(|e| e.check == result.id && e.host.as_deref().is_none_or(|h| h == result.host))
        else {
            continue;
        };
        let failed = matches!(result.status, Status::Fail | Status::Error);
        let fixed = expectation.known == KnownKind::Fail && result.status == Status::Pass;
        if failed || fixed || expectation.known == KnownKind::Flaky {
            result.known = Some(Known {
                kind: expectation.known,
                reason: expectation.reason.clone(),
                link: expectation.link.clone(),
                fixed,
            });
        }
    }
}

#[cfg(test)]
mod tests;

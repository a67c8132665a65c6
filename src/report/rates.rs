//! Verdicts across repetitions (`run --repeat N`, `report history DIR…`): per scenario, release,
//! check, host and phase, how often each status was seen out of N, the pass rate with a 95%
//! interval (Wilson's), and a verdict of its own: `stable-pass`, `stable-fail` or `flaky` (both
//! a pass and a failure seen). Jepsen runs a test many times and reports rates; a row that flips
//! is said to flip, not hidden behind one run's answer.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::RunReport;
use crate::checks::Status;

/// One row: a check on a host in a phase, over the runs of one scenario on one release.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rate {
    pub scenario: String,
    pub release: String,
    pub check: String,
    pub host: String,
    pub phase: String,
    /// Runs that evaluated it.
    pub runs: usize,
    /// How many runs saw each status.
    pub seen: BTreeMap<String, usize>,
    /// Passes out of the runs that passed or failed (errors count as not passing).
    pub pass_rate: f64,
    /// Wilson's 95% interval of the pass rate.
    pub interval: (f64, f64),
    pub verdict: Verdict,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    StablePass,
    StableFail,
    Flaky,
    /// Never a pass nor a failure (not applicable or not verifiable each time).
    Inconclusive,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Verdict::StablePass => "stable-pass",
            Verdict::StableFail => "stable-fail",
            Verdict::Flaky => "flaky",
            Verdict::Inconclusive => "inconclusive",
        })
    }
}

/// Wilson's score interval at 95% for `passes` out of `n`.
pub fn wilson(passes: usize, n: usize) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let (p, n, z) = (passes as f64 / n as f64, n as f64, 1.959_964);
    let centre = p + z * z / (2.0 * n);
    let margin = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt();
    let denominator = 1.0 + z * z / n;
    (
        ((centre - margin) / denominator).max(0.0),
        ((centre + margin) / denominator).min(1.0),
    )
}

/// The rates of every check of `runs` (the scenario's own checks; the profile's too).
pub fn rates(runs: &[RunReport]) -> Vec<Rate> {
    type Key = (String, String, String, String, String);
    let mut seen: BTreeMap<Key, BTreeMap<String, usize>> = BTreeMap::new();
    for run in runs {
        for check in run.checks.iter().chain(&run.profile) {
            let key = (
                run.scenario.clone(),
                run.release.clone(),
                check.id.to_string(),
                check.host.clone(),
                check.phase.clone(),
            );
            *seen
                .entry(key)
                .or_default()
                .entry(check.status.to_string())
                .or_default() += 1;
        }
    }
    seen.into_iter()
        .map(|((scenario, release, check, host, phase), seen)| {
            let count = |s: Status| seen.get(&s.to_string()).copied().unwrap_or(0);
            let passes = count(Status::Pass);
            let failures = count(Status::Fail) + count(Status::Error);
            let judged = passes + failures;
            let verdict = match (passes, failures) {
                (0, 0) => Verdict::Inconclusive,
                (_, 0) => Verdict::StablePass,
                (0, _) => Verdict::StableFail,
                _ => Verdict::Flaky,
            };
            Rate {
                scenario,
                release,
                check,
                host,
                phase,
                runs: seen.values().sum(),
                pass_rate: if judged == 0 {
                    0.0
                } else {
                    passes as f64 / judged as f64
                },
                interval: wilson(passes, judged),
                seen,
                verdict,
            }
        })
        .collect()
}

/// The rates as a Markdown table, flaky rows first.
pub fn markdown(rates: &[Rate]) -> String {
    let mut rows: Vec<&Rate> = rates.iter().collect();
    rows.sort_by_key(|r| {
        (
            r.verdict != Verdict::Flaky,
            r.verdict != Verdict::StableFail,
        )
    });
    let mut md = String::from(
        "| scenario | release | check | host | phase | verdict | pass | 95% interval | seen |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for r in rows {
        let seen: Vec<String> = r
            .seen
            .iter()
            .map(|(s, n)| format!("{s} {n}/{}", r.runs))
            .collect();
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {:.0}% | {:.0}–{:.0}% | {} |",
            r.scenario,
            r.release,
            r.check,
            r.host,
            r.phase,
            r.verdict,
            r.pass_rate * 100.0,
            r.interval.0 * 100.0,
            r.interval.1 * 100.0,
            seen.join(", ")
        );
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_matches_known_values() {
        let (lo, hi) = wilson(7, 10);
        assert!(
            (lo - 0.397).abs() < 0.001 && (hi - 0.892).abs() < 0.001,
            "{lo} {hi}"
        );
        assert_eq!(wilson(0, 0), (0.0, 1.0));
        let (lo, hi) = wilson(5, 5);
        assert!(lo > 0.56 && hi == 1.0, "{lo} {hi}");
    }

    #[test]
    fn a_row_that_flips_is_flaky_and_one_that_holds_is_stable() {
        let mut runs = Vec::new();
        for n in 0..4 {
            let mut run = super::super::tests::sample(&format!("r{n}"));
            run.scenario = "server-outage-hardened".into();
            let check = |id: crate::checks::CheckId, status| crate::checks::CheckResult {
                id,
                title: String::new(),
                host: "client1".into(),
                phase: "final".into(),
                expected: String::new(),
                observed: String::new(),
                status,
                evidence: vec![],
                seconds: 0.0,
                reference: String::new(),
                known: None,
            };
            run.checks = vec![
                check(
                    crate::checks::CheckId::DELIVERY_EXACTLY_ONCE,
                    if n % 2 == 0 {
                        Status::Pass
                    } else {
                        Status::Fail
                    },
                ),
                check(crate::checks::CheckId::CLIENT_DELIVERS, Status::Pass),
            ];
            runs.push(run);
        }
        let rates = rates(&runs);
        let of = |id: &str| rates.iter().find(|r| r.check == id).unwrap();
        let flaky = of("delivery-exactly-once");
        assert_eq!(flaky.verdict, Verdict::Flaky);
        assert_eq!((flaky.runs, flaky.pass_rate), (4, 0.5));
        assert_eq!(flaky.seen["fail"], 2);
        assert_eq!(of("client-delivers").verdict, Verdict::StablePass);
        let md = markdown(&rates);
        let first_row = md.lines().nth(2).unwrap();
        assert!(
            first_row.contains("delivery-exactly-once") && first_row.contains("flaky"),
            "{md}"
        );
        assert!(md.contains("fail 2/4, pass 2/4"), "{md}");
    }
}

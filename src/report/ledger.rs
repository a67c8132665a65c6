//! The ledger (docs/ledger.yaml, built in): what the lab has seen the software under test do
//! wrong, each with a stable id, its upstream references, the releases where it was seen and
//! not seen, and the run that showed it. `journal-lab findings` lists it; a failing result of the
//! scenario an entry is about names the entry in the reports. The tests hold every claim to the
//! stored matrix run it names, and docs/findings.md to the ledger.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::checks::CheckId;

/// The ledger as built into the binary.
const LEDGER_YAML: &str = include_str!("../../docs/ledger.yaml");

/// One thing the lab has seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LedgerEntry {
    /// Stable: `JL-NNN`, never reused.
    pub id: String,
    pub title: String,
    /// `finding` (the software under test), or `control` (a failure the scenario makes on
    /// purpose, to show what a rule changes).
    pub kind: LedgerKind,
    /// The seed scenario it shows in, and the checks that fail there because of it.
    pub scenario: String,
    pub checks: Vec<String>,
    /// Upstream issues and pull requests, where known.
    pub upstream: Vec<String>,
    /// Releases where the run of `observed` showed it, and where it did not.
    pub seen: Vec<String>,
    pub not_seen: Vec<String>,
    /// How often, from repeated runs, where measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<String>,
    /// The stored run (a `report merge` matrix) the claims are held to.
    pub observed: String,
    /// Words of the report's FINDING that is this entry, where the lab says it as one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finding: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum LedgerKind {
    Finding,
    Control,
}

/// Every entry, in id order.
pub fn entries() -> &'static [LedgerEntry] {
    static LEDGER: OnceLock<Vec<LedgerEntry>> = OnceLock::new();
    LEDGER.get_or_init(|| {
        yaml_serde::from_str(LEDGER_YAML).expect("docs/ledger.yaml is valid (a unit test holds it)")
    })
}

/// The entry a failure of `check` in `scenario` is, if the ledger has one.
pub fn entry_for(scenario: &str, check: CheckId) -> Option<&'static LedgerEntry> {
    entries()
        .iter()
        .find(|e| e.scenario == scenario && e.checks.iter().any(|c| c == check.as_str()))
}

/// The entry a report's FINDING is, by its words.
pub fn entry_for_finding(summary: &str) -> Option<&'static LedgerEntry> {
    entries().iter().find(|e| {
        e.finding
            .as_deref()
            .is_some_and(|words| summary.contains(words))
    })
}

/// What a report says after a failure or a finding the ledger knows.
pub fn note(entry: Option<&LedgerEntry>) -> String {
    entry.map_or(String::new(), |e| {
        format!(" [journal-lab's ledger: {}, `journal-lab findings`]", e.id)
    })
}

/// `journal-lab findings`: one paragraph per entry.
pub fn text() -> String {
    let mut out = String::new();
    for entry in entries() {
        let list = |v: &[String]| {
            if v.is_empty() {
                "none".to_string()
            } else {
                v.join(", ")
            }
        };
        out.push_str(&format!(
            "{} ({}): {}\n  {} in {}\n  seen on: {}; not seen on: {} (run: {})\n",
            entry.id,
            match entry.kind {
                LedgerKind::Finding => "finding",
                LedgerKind::Control => "control",
            },
            entry.title,
            entry.checks.join(", "),
            entry.scenario,
            list(&entry.seen),
            list(&entry.not_seen),
            entry.observed
        ));
        if let Some(rate) = &entry.rate {
            out.push_str(&format!("  rate: {rate}\n"));
        }
        if !entry.upstream.is_empty() {
            out.push_str(&format!("  upstream: {}\n", entry.upstream.join(", ")));
        }
    }
    out
}

#[cfg(test)]
#[path = "tests/ledger.rs"]
mod tests;

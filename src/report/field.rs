//! run.json's `field` section: a replay's field error lines next to the lab's (see
//! `crate::replay::compare`, which fills it).

use serde::{Deserialize, Serialize};

use super::Role;

/// The field versus the lab, per replayed host.
#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema, Deserialize)]
pub struct FieldVsLab {
    pub hosts: Vec<HostComparison>,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema, Deserialize)]
pub struct HostComparison {
    pub host: String,
    pub role: Role,
    /// The last error lines of the host's journal unit in the field bundle.
    pub field_errors: Vec<String>,
    /// The last error lines the lab saw of the same unit.
    pub lab_errors: Vec<String>,
    /// Whether the lab showed the field's symptom (None: not compared).
    pub reproduced: Option<bool>,
    /// How that was judged.
    pub why: String,
}

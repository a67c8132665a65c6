//! run.json's `field` section: a replay's field error lines next to the lab's (see
//! `crate::replay::compare`, which fills it).

use serde::{Deserialize, Serialize};

use super::Role;

/// The field versus the lab, per replayed host.
#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema, Deserialize)]
pub struct FieldVsLab {
    pub hosts: Vec<HostComparison>,
    /// Lines of the bundles' unit files that are code, not configuration, run in the lab
    /// because `replay --allow-exec` said so (`BUNDLE: PATH:LINE: KEY=VALUE`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub code_from_bundle: Vec<String>,
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

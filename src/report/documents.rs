//! What the listing commands print with `--format json`, one JSON document each, and the error
//! every command prints in its place when asked for JSON: their shapes, as types, so that
//! `report schema --of NAME` prints the JSON Schema a script can check them against.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// `ls --format json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Labs {
    pub labs: Vec<LabRow>,
}

/// One lab that is up, with the table's columns.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LabRow {
    /// Its name (`up --name`, `test --name`), or its run id.
    pub name: String,
    pub run: String,
    /// Since it started: `12 min`, `3 h 4 min`.
    pub age: String,
    /// The scenario its report names (`(no report here)` when its report is elsewhere).
    pub scenario: String,
    /// `up`, `verified`, `failed` or `partially removed`.
    pub state: String,
    /// Its last lifecycle action and outcome: `converge (0-changed)`, `-` when none.
    pub last: String,
    /// Who started it (`uid@host`).
    pub user: String,
    /// Its hosts, comma-separated, each with its state unless running.
    pub hosts: String,
}

/// `images list --format json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Images {
    pub images: Vec<ImageRow>,
}

/// One recipe and its image.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ImageRow {
    pub release: String,
    /// `journal-lab/<release>:<recipe hash>`.
    pub reference: String,
    pub built: bool,
    /// `systemctl --version`'s first line in the image, when built.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub systemd: Option<String>,
    /// Its compile-time features line (`+PAM … -GNUTLS …`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features: Option<String>,
    /// A layered image's rebuilt binaries: (the unit it serves, its `--version` last line).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rebuilt: Vec<RebuiltBinary>,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RebuiltBinary {
    pub target: String,
    pub version: String,
}

/// `report prune --format json`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Prune {
    /// Nothing was removed: `removed` is what would have been.
    pub dry_run: bool,
    pub removed: Vec<PrunedRun>,
    pub freed_bytes: u64,
    /// Runs kept.
    pub kept: usize,
    /// What the reports directory holds afterwards (before, with `dry_run`).
    pub remaining_bytes: u64,
    pub reports: PathBuf,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PrunedRun {
    pub dir: PathBuf,
    pub bytes: u64,
}

/// `scenario check --format json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ScenarioChecks {
    pub files: Vec<CheckedScenario>,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CheckedScenario {
    pub file: PathBuf,
    pub ok: bool,
    /// For a valid file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosts: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks: Option<usize>,
    /// For an invalid one: where (1-based; 0 when the file as a whole) and what.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What any command asked for `--format json` prints on stdout instead of its result when
/// the harness could not do its job (its exit status, 2, is in it too).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ErrorDocument {
    pub error: String,
    pub exit: u8,
}

/// The documents `report schema --of NAME` describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Document {
    /// run.json (and each element of `run --format json`'s array).
    Run,
    /// `ls --format json`.
    Labs,
    /// `images list --format json`.
    Images,
    /// `report prune --format json`.
    Prune,
    /// `scenario check --format json`.
    ScenarioCheck,
    /// `report rejudge --format json` (run.json's `rejudged`).
    Rejudge,
    /// The error any command prints with `--format json`.
    Error,
}

impl Document {
    /// Every document, by the name `report schema --of` takes.
    pub const ALL: [(&'static str, Document); 7] = [
        ("run", Document::Run),
        ("labs", Document::Labs),
        ("images", Document::Images),
        ("prune", Document::Prune),
        ("scenario-check", Document::ScenarioCheck),
        ("rejudge", Document::Rejudge),
        ("error", Document::Error),
    ];
}

impl std::str::FromStr for Document {
    type Err = String;

    fn from_str(name: &str) -> Result<Document, String> {
        Document::ALL
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, d)| *d)
            .ok_or_else(|| {
                let names: Vec<&str> = Document::ALL.iter().map(|(n, _)| *n).collect();
                format!("no document {name:?}: one of {}", names.join(", "))
            })
    }
}

/// The JSON Schema of `document`.
pub fn schema_of(document: Document) -> serde_json::Value {
    let schema = match document {
        Document::Run => return super::run_json_schema(),
        Document::Labs => schemars::schema_for!(Labs),
        Document::Images => schemars::schema_for!(Images),
        Document::Prune => schemars::schema_for!(Prune),
        Document::ScenarioCheck => schemars::schema_for!(ScenarioChecks),
        Document::Rejudge => schemars::schema_for!(super::rejudge::Rejudging),
        Document::Error => schemars::schema_for!(ErrorDocument),
    };
    serde_json::to_value(schema).expect("the schema serializes")
}

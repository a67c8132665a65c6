//! `observations.json.zst` beside run.json: what every evaluation of the run was told
//! (`checks::recorded`), and what else its verdicts were made from (the known failures a setup
//! declared, journald's state after a failed step), so `report rejudge` can judge the run again
//! without its hosts. zstd-compressed JSON, bounded both ways, no key material (the record holds
//! stand-ins for sealing keys; certificates' keys are never asked for by a check).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::checks::recorded::Evaluation;
use crate::errors::{Error, Result};
use crate::scenario::expect::Expectation;

/// The file's name in a run's directory.
pub const FILE: &str = "observations.json.zst";

/// Bumped when a field changes meaning; a reader refuses other versions.
pub const SCHEMA_VERSION: u32 = 1;

/// The most JSON written or read (a 1+100 run records about 2 MiB: every probe's output).
pub const MAX_JSON_BYTES: u64 = 256 * 1024 * 1024;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Observations {
    pub schema_version: u32,
    pub harness_version: String,
    pub run_id: String,
    /// Every evaluation, in the order the run made them.
    pub evaluations: Vec<Evaluation>,
    /// The known failures the setup declared (`expect:`).
    pub expect: Vec<Expectation>,
    /// After a failed step: each host's journald state as read then, by host (the evidence a
    /// check that could not judge is given).
    pub journald: BTreeMap<String, String>,
}

impl Observations {
    pub fn new(
        run_id: &str,
        evaluations: Vec<Evaluation>,
        expect: Vec<Expectation>,
        journald: BTreeMap<String, String>,
    ) -> Observations {
        Observations {
            schema_version: SCHEMA_VERSION,
            harness_version: crate::HARNESS_VERSION.to_string(),
            run_id: run_id.to_string(),
            evaluations,
            expect,
            journald,
        }
    }
}

/// Writes `observations` into `run_dir`; Ok(false), and nothing written, when they are larger
/// than [`MAX_JSON_BYTES`] (the run then cannot be judged again, and says so).
pub fn write(run_dir: &Path, observations: &Observations) -> Result<bool> {
    let json = serde_json::to_vec(observations)?;
    if json.len() as u64 > MAX_JSON_BYTES {
        return Ok(false);
    }
    let path = run_dir.join(FILE);
    let compressed = zstd::encode_all(&json[..], 3).map_err(Error::io("compressing", &path))?;
    let mut file = std::fs::File::create(&path).map_err(Error::io("creating", &path))?;
    file.write_all(&compressed)
        .map_err(Error::io("writing", &path))?;
    Ok(true)
}

/// Reads the observations of the run in `run_dir`, like every input: a regular file only, at
/// most [`MAX_JSON_BYTES`] once decompressed, of this schema version.
pub fn read(run_dir: &Path) -> Result<Observations> {
    let path = run_dir.join(FILE);
    let bad = |why: String| Error::InvalidSettings(format!("{}: {why}", path.display()));
    if !path.exists() {
        return Err(bad(
            "no such file: the run was made by an earlier journal-lab, or it was stopped before \
             its reports were complete; run the scenario again to judge it again"
                .into(),
        ));
    }
    let file = crate::scenario::limits::open_regular(&path).map_err(bad)?;
    let decoder = zstd::Decoder::new(file).map_err(Error::io("reading", &path))?;
    let mut json = Vec::new();
    decoder
        .take(MAX_JSON_BYTES + 1)
        .read_to_end(&mut json)
        .map_err(|e| bad(format!("not zstd-compressed observations: {e}")))?;
    if json.len() as u64 > MAX_JSON_BYTES {
        return Err(bad(format!(
            "larger than {} MiB once decompressed: not observations journal-lab wrote",
            MAX_JSON_BYTES >> 20
        )));
    }
    #[derive(Deserialize)]
    struct Version {
        schema_version: u32,
    }
    let version: Version =
        serde_json::from_slice(&json).map_err(|e| bad(format!("not observations: {e}")))?;
    if version.schema_version != SCHEMA_VERSION {
        return Err(bad(format!(
            "schema version {} (this journal-lab reads {SCHEMA_VERSION})",
            version.schema_version
        )));
    }
    serde_json::from_slice(&json).map_err(|e| bad(format!("not observations: {e}")))
}

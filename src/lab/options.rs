//! What a run is asked to do: the lab's settings ([`LabOptions`]), what the run is for
//! ([`RunMode`]: a whole run, `up` or `verify`), and which journal files it copies out.

use std::path::PathBuf;

use super::Deadlines;
use crate::images;

#[derive(Debug, Clone)]
pub struct LabOptions {
    /// The release of every host (overrides what a scenario says).
    pub release: Option<String>,
    /// Clients of the default lab (`cargo xtask lab`).
    pub clients: usize,
    /// Leave the lab running after the run (and say how to reach it).
    pub keep: bool,
    /// Leave it running only if the run did not hold (a check failed, a step failed).
    pub keep_on_failure: bool,
    /// A whole run, `up` or `verify`.
    pub mode: RunMode,
    /// Where image recipes come from (the built-in ones, unless a test names a directory).
    pub recipes: images::Recipes,
    pub reports_dir: PathBuf,
    pub deadlines: Deadlines,
    /// Sum the hosts' container memory after the steps (for `cargo xtask bench`).
    pub measure_memory: bool,
    /// Which of the servers' binary journal files to copy into the run's report directory.
    pub journals: Journals,
    /// What the conformance profile does: reported (default), gating the verdict, or off.
    pub profile: crate::checks::ProfileMode,
    /// The engines the lab spreads over (one, DOCKER_HOST's, unless `--engine` names several).
    pub fleet: super::fleet::Fleet,
    /// The name a lab kept after a run goes by (`test --name`; `up` names its lab in its mode):
    /// with several runs, each run's lab is `NAME-<scenario>`. None: its run id.
    pub lab_name: Option<String>,
    /// Molecule's idempotence step (`test`): right after bring-up, every host's files converged
    /// again must change nothing; a change fails the run before the scenario's steps.
    pub idempotence: bool,
}

impl LabOptions {
    pub fn new(recipes: impl Into<images::Recipes>, reports_dir: impl Into<PathBuf>) -> LabOptions {
        LabOptions {
            release: None,
            clients: 3,
            keep: false,
            keep_on_failure: false,
            mode: RunMode::Run,
            recipes: recipes.into(),
            reports_dir: reports_dir.into(),
            deadlines: Deadlines::default(),
            measure_memory: false,
            journals: Journals::All,
            profile: crate::checks::ProfileMode::default(),
            fleet: super::fleet::Fleet::chosen(),
            lab_name: None,
            idempotence: false,
        }
    }
}

/// What a run is for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum RunMode {
    /// Boot, steps, checks, report, teardown (the lab stays with `keep`, or `keep_on_failure`
    /// when the run did not hold).
    #[default]
    Run,
    /// `up`: boot and perform the steps up to the first `evaluate`; the lab stays, under `name`
    /// (removed if the run is interrupted or fails to come up).
    Up { name: String },
    /// `verify`: attach to the lab of run `run_id` instead of booting; perform the steps only
    /// with `steps`, then evaluate the checks of `phase` (the final one if None; only `checks`,
    /// if any are named). The report goes to `<run-id>-verify-<time>`.
    Verify {
        run_id: String,
        steps: bool,
        phase: Option<String>,
        checks: Vec<crate::checks::CheckId>,
    },
}

impl RunMode {
    /// The run id of the lab a `verify` attaches to.
    pub fn attached_to(&self) -> Option<&str> {
        match self {
            RunMode::Verify { run_id, .. } => Some(run_id),
            _ => None,
        }
    }

    /// Which checks a `verify` evaluates (empty: all of its phase's).
    pub(super) fn verified_checks(&self) -> &[crate::checks::CheckId] {
        match self {
            RunMode::Verify { checks, .. } => checks,
            _ => &[],
        }
    }
}

/// `--journals`: which binary journal files of the servers a run copies into its report (the
/// JSON dumps of what arrived are always written).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Journals {
    /// None: the report holds the JSON dumps only.
    None,
    /// What arrived from the clients (`/var/log/journal/remote`).
    Remote,
    /// The servers' whole /var/log/journal: what arrived and their own journals.
    #[default]
    All,
}

impl std::str::FromStr for Journals {
    type Err = String;
    fn from_str(text: &str) -> std::result::Result<Journals, String> {
        match text {
            "none" => Ok(Journals::None),
            "remote" => Ok(Journals::Remote),
            "all" => Ok(Journals::All),
            other => Err(format!(
                "unknown journals choice {other:?}: use none, remote or all"
            )),
        }
    }
}

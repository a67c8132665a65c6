//! Which scenarios a command runs: the files and built-in names it was given (every built-in
//! one with `--all`; a setup's suites when it names none), each with the setup laid over it.

use std::path::{Path, PathBuf};

use super::{Scenario, ScenarioError};

/// The scenarios a command names (files or built-in names; every built-in one with `all`; a
/// setup's suites when it names none), each with the setup laid over it: all validated before
/// anything boots.
pub fn select(
    files: &[PathBuf],
    setup: Option<&Path>,
    all: bool,
) -> Result<Vec<(String, Scenario)>, ScenarioError> {
    let setup = setup.map(super::setup::Setup::load).transpose()?;
    let files: Vec<PathBuf> = match &setup {
        Some(setup) if files.is_empty() && !all => {
            setup.suites().into_iter().map(PathBuf::from).collect()
        }
        _ => files.to_vec(),
    };
    let mut scenarios = if all {
        super::builtin::all()?
    } else {
        files
            .iter()
            .map(|file| super::builtin::resolve(file))
            .collect::<Result<Vec<_>, _>>()?
    };
    if let Some(setup) = &setup {
        for (_, scenario) in &mut scenarios {
            *scenario = setup.lay_over(scenario)?;
        }
    }
    Ok(scenarios)
}

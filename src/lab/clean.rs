//! `cargo xtask clean`: removing what runs left behind, and only that. The engine is shared: a
//! run whose process still lives, one kept on purpose, or one this machine cannot judge is left
//! alone and the reason said; `--run ID` names one run, `--force` takes everything.

use std::path::PathBuf;

use crate::engine::{Engine, RunOnEngine, Swept};
use crate::errors::{Error, Result};
use crate::owner::{self, Liveness};

/// Which runs to remove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Which {
    /// This run, whoever owns it.
    Run(String),
    /// Runs whose owning process is gone and that were not kept on purpose.
    Abandoned,
    /// Every run on the engine, live ones included.
    All,
}

/// What `clean` did.
#[derive(Debug, Default)]
pub struct Cleaned {
    pub removed: Vec<(String, Swept)>,
    /// With `dry_run`: the runs that would go, with how many containers and networks they have.
    pub would_remove: Vec<(String, usize)>,
    /// Runs left alone, with the reason.
    pub kept: Vec<(String, String)>,
    /// Private directories (CAs and keys) removed (with `dry_run`: that would be).
    pub dirs_removed: Vec<PathBuf>,
    /// Networks left because the engine keeps a stale endpoint on them: (run, network, why).
    pub stale_networks: Vec<(String, String, String)>,
    /// Engines a spread lab named that did not answer: (name, URL, why). What it has there stays.
    pub unreachable: Vec<(String, String, String)>,
}

/// Why a run that `which` covers is left alone, or None if it goes.
pub fn keep_reason(which: &Which, run_id: &str, kept: bool, owner: &Liveness) -> Option<String> {
    match which {
        Which::All | Which::Run(_) => None,
        Which::Abandoned => match owner {
            Liveness::Alive => Some("its process is still running".to_string()),
            Liveness::Unknown(why) => Some(format!("{why}; name it with --run {run_id}")),
            Liveness::Gone if kept => Some(format!(
                "kept on purpose (--keep); remove it with `{} clean --run {run_id}`",
                crate::command_name()
            )),
            Liveness::Gone => None,
        },
    }
}

/// Runs by id, each with the engines (indices) that hold something of it.
type Runs = std::collections::BTreeMap<String, (RunOnEngine, Vec<usize>)>;

/// Merges the runs on `engine` (index `index`) into `runs`; with `known_only`, only those
/// already there (an engine no one named holds nothing else of ours to judge).
async fn add_runs(runs: &mut Runs, engine: &Engine, index: usize, known_only: bool) -> Result<()> {
    for run in engine.runs().await? {
        match runs.get_mut(&run.id) {
            Some((seen, on)) => {
                seen.objects += run.objects;
                seen.kept |= run.kept;
                seen.owner = seen.owner.take().or(run.owner);
                seen.user = seen.user.take().or(run.user);
                seen.name = seen.name.take().or(run.name);
                on.push(index);
            }
            None if !known_only => {
                runs.insert(run.id.clone(), (run, vec![index]));
            }
            None => {}
        }
    }
    Ok(())
}

/// Removes the runs `which` covers and their private directories; with `dry_run`, says which
/// it would remove and removes nothing. The runs are those on `engines`, and on the other
/// engines a spread lab among them names ([`crate::engine::ENGINES_LABEL`]) what those runs
/// have there: a lab brought up with `--engine a=… --engine b=…` is cleaned from both by a
/// `clean` or `down` that names neither. An engine that does not answer is said in `unreachable`.
pub async fn clean(engines: &[Engine], which: &Which, dry_run: bool) -> Result<Cleaned> {
    let mut cleaned = Cleaned::default();
    let mut found = Runs::new();
    for (index, engine) in engines.iter().enumerate() {
        add_runs(&mut found, engine, index, false).await?;
    }
    let named: Vec<(String, String)> = found
        .values()
        .flat_map(|(run, _)| run.engines.clone())
        .collect();
    let mut engines = engines.to_vec();
    for (name, url) in named {
        if engines.iter().any(|e| e.endpoint() == url)
            || cleaned.unreachable.iter().any(|(_, u, _)| *u == url)
        {
            continue;
        }
        match Engine::connect_to(&name, &url).await {
            Ok(engine) => {
                add_runs(&mut found, &engine, engines.len(), true).await?;
                engines.push(engine);
            }
            Err(e) => cleaned.unreachable.push((name, url, e.to_string())),
        }
    }
    let mut runs: Vec<(RunOnEngine, Vec<usize>)> = found.into_values().collect();
    if let Which::Run(id) = which {
        runs.retain(|(r, _)| &r.id == id);
        if runs.is_empty() {
            // Nothing on the engines, but its private directory may still be there.
            runs.push((RunOnEngine::unseen(id), Vec::new()));
        }
    }
    // A kept lab's private directory stays with it (`verify` issues certificates from it).
    let kept_runs: Vec<String> = runs
        .iter()
        .filter(|(r, _)| r.kept)
        .map(|(r, _)| r.id.clone())
        .collect();
    for (run, on) in runs {
        let owner = owner::liveness(run.owner.as_deref());
        match keep_reason(which, &run.id, run.kept, &owner) {
            Some(reason) => cleaned.kept.push((run.id, reason)),
            None if dry_run => {
                if run.objects > 0 {
                    cleaned.would_remove.push((run.id, run.objects));
                }
            }
            None => {
                let mut all = Swept::default();
                for index in on {
                    let swept = engines[index].sweep(&run.id).await?;
                    for (network, why) in &swept.stale_networks {
                        cleaned
                            .stale_networks
                            .push((run.id.clone(), network.clone(), why.clone()));
                    }
                    all.containers.extend(swept.containers);
                    all.networks.extend(swept.networks);
                }
                if !all.containers.is_empty() || !all.networks.is_empty() {
                    cleaned.removed.push((run.id, all));
                }
            }
        }
    }
    for dir in owner::private_dirs() {
        let keep = match which {
            Which::Run(id) => id != &dir.run_id,
            Which::All => false,
            Which::Abandoned => dir.owner != Liveness::Gone || kept_runs.contains(&dir.run_id),
        };
        if !keep && dry_run {
            cleaned.dirs_removed.push(dir.path);
        } else if !keep {
            std::fs::remove_dir_all(&dir.path).map_err(Error::io("removing", &dir.path))?;
            cleaned.dirs_removed.push(dir.path);
        }
    }
    Ok(cleaned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_abandoned_runs_go_unless_named_or_forced() {
        let abandoned = Which::Abandoned;
        assert_eq!(keep_reason(&abandoned, "r", false, &Liveness::Gone), None);
        assert!(keep_reason(&abandoned, "r", false, &Liveness::Alive)
            .is_some_and(|why| why.contains("still running")));
        assert!(keep_reason(&abandoned, "r", true, &Liveness::Gone)
            .is_some_and(|why| why.contains("--keep") && why.contains("clean --run r")));
        assert!(keep_reason(
            &abandoned,
            "r",
            false,
            &Liveness::Unknown("elsewhere".into())
        )
        .is_some_and(|why| why.contains("elsewhere") && why.contains("--run r")));
        let named = Which::Run("r".into());
        assert_eq!(keep_reason(&named, "r", true, &Liveness::Alive), None);
        assert_eq!(keep_reason(&Which::All, "r", true, &Liveness::Alive), None);
    }
}

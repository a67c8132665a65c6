//! The names completion offers that only the binary knows (the script in `completing.rs` asks
//! it at each TAB): built-in scenarios and `scenarios/*.yaml` here, releases, and the labs and
//! hosts that are up on the engine. Each is an `ArgValueCompleter` an argument in `args.rs`
//! carries.

use std::ffi::OsStr;
use std::time::Duration;

use clap_complete::engine::{
    ArgValueCompleter, CompletionCandidate, PathCompleter, ValueCompleter,
};

/// How long a completion may wait for the engine (labs, hosts): a TAB must not hang.
const ENGINE_DEADLINE: Duration = Duration::from_millis(1500);

/// The candidates among `names` that start with what was typed.
fn starting_with(
    current: &OsStr,
    names: impl IntoIterator<Item = (String, &'static str)>,
) -> Vec<CompletionCandidate> {
    let typed = current.to_string_lossy();
    let mut candidates: Vec<CompletionCandidate> = names
        .into_iter()
        .filter(|(name, _)| name.starts_with(typed.as_ref()))
        .map(|(name, help)| CompletionCandidate::new(name).help(Some(help.into())))
        .collect();
    candidates.dedup_by(|a, b| a.get_value() == b.get_value());
    candidates
}

/// A scenario argument: the built-in names, `scenarios/NAME.yaml` here by NAME, and files.
pub(super) fn scenarios() -> ArgValueCompleter {
    ArgValueCompleter::new(|current: &OsStr| {
        let mut names: Vec<(String, &'static str)> = crate::scenario::builtin::names()
            .into_iter()
            .map(|n| (n.to_string(), "built-in scenario"))
            .collect();
        if let Ok(entries) = std::fs::read_dir("scenarios") {
            names.extend(entries.flatten().filter_map(|e| {
                let name = e
                    .file_name()
                    .to_string_lossy()
                    .strip_suffix(".yaml")?
                    .to_string();
                Some((name, "scenarios/ here"))
            }));
        }
        names.sort();
        let mut candidates = starting_with(current, names);
        candidates.extend(PathCompleter::any().complete(current));
        candidates
    })
}

/// A release: the recipes built into the binary (and `all` where a list takes it).
pub(super) fn releases() -> ArgValueCompleter {
    ArgValueCompleter::new(|current: &OsStr| {
        let releases = crate::images::available_releases(&crate::images::Recipes::built_in());
        starting_with(current, releases.into_iter().map(|r| (r, "release")))
    })
}

/// What the engine has up, asked with a deadline: a TAB with no engine completes nothing.
fn on_engine<T: Default>(ask: impl AsyncFnOnce(&crate::engine::Engine) -> crate::Result<T>) -> T {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return T::default();
    };
    runtime.block_on(async {
        tokio::time::timeout(ENGINE_DEADLINE, async {
            let engine = crate::engine::Engine::connect().await.ok()?;
            ask(&engine).await.ok()
        })
        .await
        .ok()
        .flatten()
        .unwrap_or_default()
    })
}

/// A lab: the names (or run ids) of the labs that are up.
pub(super) fn labs() -> ArgValueCompleter {
    ArgValueCompleter::new(|current: &OsStr| {
        let labs: Vec<String> = on_engine(async |engine| {
            Ok(engine
                .runs()
                .await?
                .iter()
                .filter(|r| r.kept)
                .map(|r| r.name.clone().unwrap_or_else(|| r.id.clone()))
                .collect())
        });
        starting_with(current, labs.into_iter().map(|l| (l, "lab")))
    })
}

/// A host: the hosts of the labs that are up (`server`, `client1`, ...).
pub(super) fn hosts() -> ArgValueCompleter {
    ArgValueCompleter::new(|current: &OsStr| {
        let hosts: Vec<String> = on_engine(async |engine| {
            let mut hosts = Vec::new();
            for run in engine.runs().await?.iter().filter(|r| r.kept) {
                hosts.extend(engine.hosts_of(&run.id).await?.into_iter().map(|h| h.0));
            }
            hosts.sort();
            Ok(hosts)
        });
        starting_with(current, hosts.into_iter().map(|h| (h, "host")))
    })
}

//! Shell completion, asked of the binary at each TAB (clap_complete's dynamic engine): the
//! script `completions SHELL` prints calls `journal-lab` back with `JOURNAL_LAB_COMPLETE` set,
//! so besides subcommands and options it completes names only the binary knows: built-in
//! scenarios and `scenarios/*.yaml` here, releases (the recipes), and the labs and hosts that
//! are up on the engine. For contributors, the bash script also completes `cargo xtask ...`.

use std::ffi::OsStr;
use std::time::Duration;

use clap::CommandFactory;
use clap_complete::engine::{
    ArgValueCompleter, CompletionCandidate, PathCompleter, ValueCompleter,
};
use clap_complete::env::CompleteEnv;

use super::args::Cli;
use super::me;

/// The variable that asks the binary for completions instead of a run.
const VAR: &str = "JOURNAL_LAB_COMPLETE";

/// How long a completion may wait for the engine (labs, hosts): a TAB must not hang.
const ENGINE_DEADLINE: Duration = Duration::from_millis(1500);

/// `cargo xtask ...` in bash: cargo's own completion does not know xtask's words, so `cargo`
/// gets a completion that hands `cargo xtask ...` to journal-lab's (the same command line) and
/// everything else to cargo's own, loaded as bash-completion would.
const CARGO_XTASK_BASH: &str = r#"
_journal_lab_cargo() {
    if [[ ${COMP_CWORD} -ge 2 && "${COMP_WORDS[1]}" == xtask ]]; then
        local words=("journal-lab" "${COMP_WORDS[@]:2}")
        COMP_WORDS=("${words[@]}")
        COMP_CWORD=$((COMP_CWORD - 1))
        _clap_complete_journal_lab journal-lab "${COMP_WORDS[COMP_CWORD]}"
        return
    fi
    if ! declare -F _cargo >/dev/null && declare -F _completion_loader >/dev/null; then
        _completion_loader cargo 2>/dev/null
        # Loading cargo's own completion registers it for `cargo`: this one stays in front.
        complete -o bashdefault -o default -o nosort -F _journal_lab_cargo cargo
    fi
    if declare -F _cargo >/dev/null; then
        _cargo "$@"
    fi
}
complete -o bashdefault -o default -o nosort -F _journal_lab_cargo cargo
"#;

/// Answers a completion request and exits, when the shell's script asked for one; otherwise
/// returns and the command line runs.
pub fn answer_if_asked() {
    CompleteEnv::with_factory(|| Cli::command().name("journal-lab"))
        .var(VAR)
        .bin("journal-lab")
        .complete();
}

/// The completion script of `journal-lab` for `shell` (what people type once it is installed;
/// in a checkout, `cargo xtask completions bash` gives a script that asks this very binary).
pub fn completions(shell: clap_complete::Shell) -> String {
    let name = shell.to_string();
    let shells = clap_complete::env::Shells::builtins();
    let Some(completer) = shells.completer(&name) else {
        return String::new();
    };
    // The installed command is found on PATH; a checkout's is this binary, wherever it is.
    let binary = match me() {
        "cargo xtask" => std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| "journal-lab".to_string()),
        _ => "journal-lab".to_string(),
    };
    let mut script = Vec::new();
    if completer
        .write_registration(VAR, "journal-lab", "journal-lab", &binary, &mut script)
        .is_err()
    {
        return String::new();
    }
    let script = String::from_utf8_lossy(&script).into_owned();
    match shell {
        // The `cargo` wrapper only for contributors: an installed journal-lab's script leaves
        // cargo's completion alone.
        clap_complete::Shell::Bash if me() == "cargo xtask" => script + CARGO_XTASK_BASH,
        _ => script,
    }
}

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
                .map(super::lifecycle::label)
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

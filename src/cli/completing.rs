//! Shell completion, asked of the binary at each TAB (clap_complete's dynamic engine): the
//! script `completions SHELL` prints calls `journal-lab` back with `JOURNAL_LAB_COMPLETE` set,
//! so besides subcommands and options it completes names only the binary knows: built-in
//! scenarios and `scenarios/*.yaml` here, releases (the recipes), and the labs and hosts that
//! are up on the engine. For contributors, the bash script also completes `cargo xtask ...`.

use clap::CommandFactory;
use clap_complete::env::CompleteEnv;

use super::args::Cli;
use super::me;

/// The variable that asks the binary for completions instead of a run.
const VAR: &str = "JOURNAL_LAB_COMPLETE";

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

//! Shell completion: clap's script for `journal-lab`, with the fixes it needs, and for
//! contributors a `cargo` wrapper that completes `cargo xtask ...` the same way.

use clap::CommandFactory;

use super::args::Cli;
use super::me;

/// `cargo xtask ...` in bash: cargo's own completion does not know xtask's words, so `cargo`
/// gets a completion that hands `cargo xtask ...` to journal-lab's (the same command line) and
/// everything else to cargo's own, loaded as bash-completion would.
const CARGO_XTASK_BASH: &str = r#"
_journal_lab_cargo() {
    if [[ ${COMP_CWORD} -ge 2 && "${COMP_WORDS[1]}" == xtask ]]; then
        local words=("journal-lab" "${COMP_WORDS[@]:2}")
        COMP_WORDS=("${words[@]}")
        COMP_CWORD=$((COMP_CWORD - 1))
        local prev=""
        [[ ${COMP_CWORD} -ge 1 ]] && prev="${COMP_WORDS[COMP_CWORD-1]}"
        _journal__lab journal-lab "${COMP_WORDS[COMP_CWORD]}" "${prev}"
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

/// The completion script of `journal-lab` for `shell` (what people type once it is installed;
/// in a checkout, `cargo install --path .` gives them the same command).
pub fn completions(shell: clap_complete::Shell) -> String {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "journal-lab", &mut script);
    let script = String::from_utf8_lossy(&script).into_owned();
    match shell {
        // clap_complete names bash's per-subcommand cases after the bin name with its `-` read
        // as a separator (`journal__subcmd__lab__subcmd__run`) but walks the words into
        // `journal__lab__subcmd__run`: no option of a subcommand ever completed. One spelling.
        // The `cargo` wrapper only for contributors (`cargo xtask completions bash`): an
        // installed journal-lab's script leaves cargo's completion alone.
        clap_complete::Shell::Bash if me() == "cargo xtask" => {
            script.replace("journal__subcmd__lab", "journal__lab") + CARGO_XTASK_BASH
        }
        clap_complete::Shell::Bash => script.replace("journal__subcmd__lab", "journal__lab"),
        _ => script,
    }
}

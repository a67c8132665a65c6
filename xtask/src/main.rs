//! `cargo xtask`: the contributors' entry to journal-lab's command line (`journal_lab::cli`, the
//! same code as the installed `journal-lab`), which also runs the checkout's test suite
//! (`cargo xtask test`).

use std::path::Path;

fn main() -> std::process::ExitCode {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    journal_lab::cli::main(journal_lab::cli::Entry::Xtask { workspace })
}

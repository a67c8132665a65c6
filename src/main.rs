//! `journal-lab`: the installed command line (`cargo install --locked --path .`). The CLI itself
//! is `journal_lab::cli`, shared with the contributors' `cargo xtask`.

fn main() -> std::process::ExitCode {
    journal_lab::cli::main(journal_lab::cli::Entry::Installed)
}

//! Records the commit journal-lab is built from, for `--version` and every report:
//! `JOURNAL_LAB_COMMIT` from the environment if set (a packager's), else `git rev-parse` of the
//! checkout being built (a `cargo install --git` checkout has one too), else "unknown".

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=JOURNAL_LAB_COMMIT");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let git = root.join(".git");
    // A new commit moves HEAD or the branch it names.
    for file in ["HEAD", "packed-refs"] {
        if git.join(file).exists() {
            println!("cargo:rerun-if-changed=.git/{file}");
        }
    }
    if let Ok(head) = std::fs::read_to_string(git.join("HEAD")) {
        if let Some(reference) = head.trim().strip_prefix("ref: ") {
            if git.join(reference).exists() {
                println!("cargo:rerun-if-changed=.git/{reference}");
            }
        }
    }
    let commit = std::env::var("JOURNAL_LAB_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(|| {
            let output = Command::new("git")
                .args(["rev-parse", "--short=12", "HEAD"])
                .current_dir(root)
                .output()
                .ok()?;
            let commit = String::from_utf8(output.stdout).ok()?.trim().to_string();
            (output.status.success() && !commit.is_empty()).then_some(commit)
        })
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=JOURNAL_LAB_COMMIT={commit}");
}

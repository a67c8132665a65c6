//! `cargo xtask replay`: bundles to a scenario file, and with --run, a run with the field's
//! errors next to the lab's.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::domain::Role;
use crate::replay::{self, bundle::Bundle};
use crate::{lab, report, scenario};

use super::{print_outcome, progress, recipes};

pub struct Settings {
    pub as_role: Option<String>,
    pub run: bool,
    pub keep: bool,
    pub output: Option<PathBuf>,
    pub reports: PathBuf,
    /// Overwrite an existing scenario file (never through a link).
    pub force: bool,
    /// Keep the lines of the bundles' units that are code (said in the scenario and report).
    pub allow_exec: bool,
}

/// Writes `bytes` to `path`, never through a link (O_NOFOLLOW on the open itself: a link made
/// between the check above and this write is refused, not followed).
fn write_no_follow(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?
        .write_all(bytes)
}

/// `dir/name.tar.gz` → `dir/name.yaml`.
fn scenario_path(bundle: &Path) -> PathBuf {
    let name = bundle
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "replay".into());
    let stem = name
        .trim_end_matches(".tar.gz")
        .trim_end_matches(".tgz")
        .to_string();
    bundle.with_file_name(format!("{stem}.yaml"))
}

pub async fn replay(bundles: &[PathBuf], settings: Settings) -> anyhow::Result<ExitCode> {
    let read: Vec<Bundle> = bundles
        .iter()
        .map(|b| Bundle::read(b))
        .collect::<Result<_, _>>()?;
    let as_role = settings.as_role.as_deref().map(|r| match r {
        "server" => Role::Server,
        _ => Role::Client,
    });
    let available = crate::images::shipped(&recipes());
    let replay = replay::replay(read, as_role, &available, settings.allow_exec)?;
    for line in &replay.code {
        eprintln!("warning: code from the bundle, kept with --allow-exec: {line}");
    }
    let path = settings
        .output
        .unwrap_or_else(|| scenario_path(&bundles[0]));
    match std::fs::symlink_metadata(&path) {
        Ok(m) if m.file_type().is_symlink() => anyhow::bail!(
            "{} is a symbolic link: the scenario is not written through it (name another --output)",
            path.display()
        ),
        Ok(_) if !settings.force => anyhow::bail!(
            "{} exists: nothing was written (--force overwrites it, or name another --output)",
            path.display()
        ),
        _ => {}
    }
    write_no_follow(&path, replay.yaml.as_bytes())
        .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
    println!("wrote {}", path.display());
    for h in &replay.hosts {
        println!(
            "  {:<16} {:?} from {}",
            h.host,
            h.role,
            h.bundle.source.display()
        );
    }
    if !settings.run {
        println!("run it with: {} run {}", super::me(), path.display());
        return Ok(ExitCode::SUCCESS);
    }
    let mut options = lab::LabOptions::new(recipes(), settings.reports);
    options.keep = settings.keep;
    let name = scenario::name_of(&path);
    let mut outcome = lab::run_scenario(&name, &replay.scenario, &options, &progress()).await?;
    let mut field = replay::compare(&replay.hosts, &outcome.report);
    field.code_from_bundle = replay.code.clone();
    outcome.report.field = Some(field.clone());
    report::write_run(&options.reports_dir, &outcome.report)?;
    report::write_formats(&outcome.run_dir, &outcome.report, &report::Format::ALL)?;
    let ok = print_outcome(&name, &outcome);
    println!("  field vs lab:");
    for h in &field.hosts {
        let verdict = match h.reproduced {
            Some(true) => "reproduced",
            Some(false) => "NOT reproduced",
            None => "not compared",
        };
        println!("    {:<16} {verdict}: {}", h.host, h.why);
        // The unit's own words, where there are any, rather than systemd's "Failed to start".
        let symptom = |lines: &[String]| {
            lines
                .iter()
                .rev()
                .find(|l| !l.contains("systemd[1]:"))
                .or(lines.last())
                .cloned()
        };
        if let Some(line) = symptom(&h.field_errors) {
            println!("      field: {line}");
        }
        if let Some(line) = symptom(&h.lab_errors) {
            println!("      lab:   {line}");
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

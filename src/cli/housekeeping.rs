//! The commands around runs: certificates for real deployments, images, the test suite, and
//! cleaning up after killed runs.

use std::path::Path;
use std::process::ExitCode;

use crate::{engine::Engine, images, lab, pki, scenario};
use anyhow::Context;

use super::{progress, recipes, workspace_root};
use crate::Say;

pub fn certs(dir: &Path, name: &str, aliases: &[String]) -> anyhow::Result<ExitCode> {
    pki::validate_name(name)?;
    let aliases = aliases
        .iter()
        .map(|a| a.parse())
        .collect::<Result<Vec<pki::Alias>, _>>()?;
    let (cert_dir, created) = pki::CertDir::open(dir)?;
    if created {
        println!("created a new CA: {}", cert_dir.ca_cert_path().display());
    }
    let files = cert_dir.issue(&pki::CertRequest::new(name, aliases.clone()))?;
    if files.newly_issued {
        let sans: Vec<String> = std::iter::once(format!("DNS:{name}"))
            .chain(aliases.iter().map(|a| a.to_string()))
            .collect();
        println!(
            "issued {} (CN={name}, SAN {})",
            files.cert.display(),
            sans.join(", ")
        );
    } else {
        println!(
            "{} already exists; not re-issued (delete it and {} to issue a new one)",
            files.cert.display(),
            files.key.display()
        );
    }
    println!(
        "install bundle: {}  (copy to {name} and run it there as root)",
        files.bundle.display()
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn build_images(releases: &[String]) -> anyhow::Result<ExitCode> {
    let specs = releases
        .iter()
        .map(|release| images::ImageSpec::load(&recipes(), release))
        .collect::<Result<Vec<_>, _>>()?;
    let engine = Engine::connect().await?;
    let progress = progress();
    let builds = specs.iter().map(|spec| {
        let (engine, progress) = (&engine, &progress);
        async move {
            let built = images::ensure(engine, spec, progress).await?;
            if !built {
                progress.news(format!(
                    "{} is up to date (recipe hash {})",
                    spec.reference(),
                    spec.hash
                ));
            }
            Ok::<_, crate::Error>(())
        }
    });
    futures_join(builds).await?;
    Ok(ExitCode::SUCCESS)
}

async fn futures_join<F: std::future::Future<Output = crate::Result<()>>>(
    futures: impl Iterator<Item = F>,
) -> crate::Result<()> {
    // Builds run one after another: mmdebstrap is disk- and CPU-bound, and concurrent builds on a
    // 2-core machine only interleave their progress.
    for future in futures {
        future.await?;
    }
    Ok(())
}

/// `images list`: each recipe, its image, and in a built image its systemd and features.
pub async fn list_images(json: bool) -> anyhow::Result<ExitCode> {
    use crate::report::documents::{ImageRow, Images, RebuiltBinary};
    let engine = Engine::connect().await?;
    let version_of = async |reference: &str, program: &str| {
        engine
            .output_of(
                reference,
                &[program, "--version"],
                std::time::Duration::from_secs(30),
            )
            .await
            .unwrap_or_else(|e| format!("? ({e})"))
    };
    let mut listed = Images::default();
    for release in images::available_releases(&recipes()) {
        let spec = images::ImageSpec::load(&recipes(), &release)?;
        let reference = spec.reference();
        let mut row = ImageRow {
            release,
            reference: reference.clone(),
            built: images::exists(&engine, &spec).await?,
            systemd: None,
            features: None,
            rebuilt: Vec::new(),
        };
        if row.built {
            // The systemd of the image and its compile-time features (what decides, e.g.,
            // whether journal-remote can check client certificates: +GNUTLS or -GNUTLS).
            let version = version_of(&reference, "systemctl").await;
            let mut lines = version.lines().map(|l| l.trim().to_string());
            row.systemd = Some(lines.next().unwrap_or_else(|| "?".into()));
            row.features = lines.next();
            // A layered image's rebuilt binaries have features of their own.
            for (target, path) in spec.layer.iter().flat_map(|l| &l.rebuild.install) {
                let version = version_of(&reference, path).await;
                row.rebuilt.push(RebuiltBinary {
                    target: target.clone(),
                    version: version.lines().last().unwrap_or("?").trim().to_string(),
                });
            }
        }
        listed.images.push(row);
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&listed)?);
        return Ok(ExitCode::SUCCESS);
    }
    for row in &listed.images {
        match &row.systemd {
            None => println!("{:<16} {:<48} not built", row.release, row.reference),
            Some(systemd) => println!("{:<16} {:<48} built, {systemd}", row.release, row.reference),
        }
        if let Some(features) = &row.features {
            println!("{:<16} {features}", "");
        }
        for binary in &row.rebuilt {
            println!("{:<16} rebuilt {}: {}", "", binary.target, binary.version);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The release the tests use where its image builds (see `test`).
const OPTIONAL_RELEASE: &str = "sid";

/// The README's test command. Prepares what the end-to-end tests need (engine reachable, images
/// built, with progress shown here rather than inside a silent test), then runs the suite
/// (`suite.rs`); with extra cargo arguments, `cargo test` with them instead, as a developer's
/// focused run.
pub async fn test(unit_only: bool, jobs: usize, cargo_args: &[String]) -> anyhow::Result<ExitCode> {
    let root = workspace_root()?;
    if !unit_only {
        let engine = Engine::connect().await.context(
            "the end-to-end tests need a Docker engine (run `cargo xtask test --unit` for the tests that do not)",
        )?;
        let progress = progress();
        // Every image the tests boot: the base images, and the seed scenarios' package variants.
        let mut specs = Vec::new();
        // bookworm-gnutls: bookworm's journal-remote rebuilt with GnuTLS (2½ minutes the first
        // time, measured), for the test that cross-checks a server that can refuse certificates.
        for release in ["bookworm", "trixie", "bookworm-gnutls"] {
            specs.push(images::ImageSpec::load(&recipes(), release)?);
        }
        for (_, scenario) in scenario::builtin::all()? {
            specs.extend(lab::image_specs(&scenario, None, &recipes())?);
        }
        let mut seen = std::collections::BTreeSet::new();
        for spec in specs.iter().filter(|s| seen.insert(s.reference())) {
            images::ensure(&engine, spec, &progress).await?;
        }
        // sid moves every day: its image is tried, and the tests that use it (the only release
        // with upload compression) are skipped, saying so, when it does not build today.
        let sid = images::ImageSpec::load(&recipes(), OPTIONAL_RELEASE)?;
        if let Err(e) = images::ensure(&engine, &sid, &progress).await {
            eprintln!(
                "warning: the {OPTIONAL_RELEASE} image could not be built ({e}); the tests that use it are skipped"
            );
        }
        // Runs already on the engine are left alone: they may be another user's, or a kept lab.
    }
    if cargo_args.is_empty() {
        return super::suite::run(&root, unit_only, jobs).await;
    }
    let mut command = super::suite::cargo();
    command
        .current_dir(root)
        .args(["test", "--workspace", "--no-fail-fast"]);
    if unit_only {
        command.args(["--lib", "--bins"]);
    }
    command.args(cargo_args);
    let status = tokio::task::spawn_blocking(move || command.status())
        .await?
        .context("running cargo test")?;
    Ok(if status.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

pub async fn clean(run: Option<String>, force: bool, dry_run: bool) -> anyhow::Result<ExitCode> {
    use lab::clean::Which;
    let engines = lab::connect(&lab::fleet::Fleet::chosen()).await?;
    let which = match (run, force) {
        (Some(id), _) => Which::Run(id),
        (None, true) => {
            eprintln!(
                "warning: --force removes every journal-lab run on this engine, including live runs \
                 of other users and labs kept on purpose"
            );
            Which::All
        }
        (None, false) => Which::Abandoned,
    };
    let cleaned = lab::clean::clean(&engines, &which, dry_run).await?;
    for (run, objects) in &cleaned.would_remove {
        println!("would remove run {run}: {objects} containers and networks");
    }
    for (run, swept) in &cleaned.removed {
        println!(
            "removed run {run}: {} containers, {} networks",
            swept.containers.len(),
            swept.networks.len()
        );
    }
    for dir in &cleaned.dirs_removed {
        let verb = if dry_run { "would remove" } else { "removed" };
        println!("{verb} {}", dir.display());
    }
    for (run, why) in &cleaned.kept {
        println!("kept run {run}: {why}");
    }
    for (name, url, why) in &cleaned.unreachable {
        println!(
            "warning: engine {name} ({url}), which a lab spread over, did not answer: what it holds of that lab stays ({why}); clean again with --engine {name}=URL once it answers"
        );
    }
    for (run, network, why) in &cleaned.stale_networks {
        println!(
            "left network {network} of run {run}: {why}; {}",
            crate::engine::STALE_FIX
        );
    }
    if cleaned.removed.is_empty()
        && cleaned.would_remove.is_empty()
        && cleaned.dirs_removed.is_empty()
    {
        println!("nothing to remove");
    }
    // A stale network is the engine's state, not a failure of the cleaning.
    Ok(ExitCode::SUCCESS)
}

/// `report prune`: the runs beyond `keep` or older than `older_than` removed (or, with
/// `dry_run`, said), as text or one JSON document.
pub fn prune_reports(
    reports: std::path::PathBuf,
    keep: Option<usize>,
    older_than: Option<std::time::Duration>,
    dry_run: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    use crate::report::prune;
    let pruned = prune::prune(&reports, keep, older_than, dry_run)?;
    let freed: u64 = pruned.removed.iter().map(|(_, b)| b).sum();
    if json {
        let document = crate::report::documents::Prune {
            dry_run,
            removed: pruned
                .removed
                .iter()
                .map(|(dir, bytes)| crate::report::documents::PrunedRun {
                    dir: dir.clone(),
                    bytes: *bytes,
                })
                .collect(),
            freed_bytes: freed,
            kept: pruned.kept,
            remaining_bytes: prune::disk_usage(&reports),
            reports,
        };
        println!("{}", serde_json::to_string_pretty(&document)?);
        return Ok(ExitCode::SUCCESS);
    }
    let (removed, would) = if dry_run {
        ("would remove", "would be ")
    } else {
        ("removed", "")
    };
    for (dir, bytes) in &pruned.removed {
        println!("{removed} {} ({})", dir.display(), prune::human(*bytes));
    }
    println!(
        "{} runs {would}removed, {} {would}freed; {} kept ({} under {})",
        pruned.removed.len(),
        prune::human(freed),
        pruned.kept,
        prune::human(prune::disk_usage(&reports)),
        reports.display()
    );
    Ok(ExitCode::SUCCESS)
}

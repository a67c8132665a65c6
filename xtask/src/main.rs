//! `cargo xtask`: journal-lab's command line. It only parses arguments, prints, and calls the
//! `journal_lab` library; everything that knows about journals, TLS or Docker lives there.
//!
//! Exit codes: 0 success; 1 the lab ran but what it observed is not what was required (e.g. a
//! client did not deliver); 2 the harness could not do its job (bad input, no engine, ...);
//! 130 interrupted.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use clap::{Parser, Subcommand};

mod housekeeping;
mod replaying;
use housekeeping::{build_images, certs, clean, list_images, test};
use journal_lab::{images, lab, report, scenario, Progress};

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "journal-lab: boot real systemd journal servers and clients, and check that logs get where they should",
    after_help = "Start with `cargo xtask lab`; run the test suite with `cargo xtask test`."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Boot 1 server + N clients, centralize their journals over HTTPS, and report delivery.
    ///
    /// Builds the image if it is missing, issues certificates from a fresh lab CA, installs them
    /// with the per-host bundles, configures journal-remote (server) and journal-upload
    /// (clients), logs a unique marker on every client and waits for each on the server.
    /// Writes reports/<run-id>/run.json (reports/latest points at it) and removes the lab.
    /// Exits 0 only if every client delivered.
    Lab {
        /// Number of clients.
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=lab::MAX_CLIENTS as i64))]
        clients: u16,
        /// Debian release of every host (a recipe under images/).
        #[arg(long, default_value = images::DEFAULT_RELEASE)]
        release: String,
        /// Leave the lab running afterwards and print how to get a shell on each host.
        #[arg(long)]
        keep: bool,
        /// Where run reports go.
        #[arg(long, default_value_os_t = workspace_root().join("reports"))]
        reports: PathBuf,
    },
    /// Run scenarios (YAML files under scenarios/) and print a table of their checks.
    ///
    /// Each scenario boots its own lab; several run at once where the machine allows. Writes a
    /// run.json per scenario under reports/. Exits 1 if any check fails or errors.
    Run {
        /// Scenario files to run.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        files: Vec<PathBuf>,
        /// Run every scenario under scenarios/.
        #[arg(long)]
        all: bool,
        /// Run each scenario on these releases instead of its own (comma-separated).
        #[arg(long, value_delimiter = ',')]
        release: Vec<String>,
        /// How many scenarios run at once.
        #[arg(long, default_value_t = 2)]
        jobs: usize,
        /// Leave each lab running afterwards.
        #[arg(long)]
        keep: bool,
        /// Where run reports go.
        #[arg(long, default_value_os_t = workspace_root().join("reports"))]
        reports: PathBuf,
    },
    /// Re-render a run's reports (report.json, report.md, report.html, junit.xml) from its run.json.
    Report {
        /// The run's directory (e.g. reports/latest).
        run_dir: PathBuf,
        /// Formats to write (comma-separated): json, md, html, junit.
        #[arg(long, value_delimiter = ',', default_value = "json,md,html,junit")]
        format: Vec<report::Format>,
    },
    /// Work with scenario files without running them.
    Scenario {
        #[command(subcommand)]
        command: ScenarioCommand,
    },
    /// Measure the lab on this machine and write reports/bench/<date>.{json,md}.
    ///
    /// Warm happy path (1 server + 3 clients, N runs, median/min/max and phase breakdown), scale
    /// runs (wall time, container memory, delivery), delivery latency for a burst of messages, and
    /// all seed scenarios; `--cold` also times a first run with the image build.
    Bench {
        #[arg(long, default_value = images::DEFAULT_RELEASE)]
        release: String,
        /// Runs of the happy path.
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// Client counts of the scale runs (comma-separated; 0 to skip).
        #[arg(long, value_delimiter = ',', default_value = "10,25,100")]
        scale: Vec<usize>,
        /// Clients of the latency burst (0 to skip).
        #[arg(long, default_value_t = 3)]
        burst_clients: usize,
        /// Messages per client in the latency burst.
        #[arg(long, default_value_t = 200)]
        burst_messages: u32,
        /// Skip the seed scenarios.
        #[arg(long)]
        no_scenarios: bool,
        /// Remove the base image first and time the first run including its build.
        #[arg(long)]
        cold: bool,
    },
    /// Issue a certificate (and its install bundle) from the CA in DIR, creating the CA on first use.
    ///
    /// NAME is the host's canonical name (the certificate's CN); each DNS:name or IP:address
    /// alias becomes a subjectAltName. An existing certificate is never re-issued. Writes
    /// DIR/NAME.pem, DIR/NAME.key and DIR/runme-on-NAME.sh, a script to run as root on NAME
    /// that installs the CA, certificate and key in /etc/ssl/systemd-journal and points
    /// journal-remote.conf and journal-upload.conf at them.
    Certs {
        /// Directory holding the CA (ca.pem, ca.key) and the issued certificates.
        #[arg(long)]
        dir: PathBuf,
        /// Canonical name of the host (CN), e.g. logs.example.org.
        name: String,
        /// Extra names: DNS:<hostname> or IP:<address>.
        #[arg(value_name = "DNS:host|IP:addr")]
        aliases: Vec<String>,
    },
    /// Print the collect script: run it as root on a real client or server to gather its
    /// journal centralization setup into one tarball for `replay`.
    ///
    /// `cargo xtask collect-script > collect.sh`, read it, then `sudo sh collect.sh` on the host.
    /// It copies configs, unit files, unit states, the last 200 journal lines of the journal
    /// units and the public parts of the certificates; never a private key.
    CollectScript,
    /// Turn field bundles (from the collect script) into a scenario, and with --run, run it.
    ///
    /// Give a client's bundle, a server's, or a server's and its clients'. The scenario is
    /// written next to the first bundle (BUNDLE.yaml): the same config files and drop-ins,
    /// verbatim; certificates re-issued by a lab CA with the originals' subject, names,
    /// validity and kind of key; the server the URL names resolvable; the standard checks. With
    /// --run the report gets a "field vs lab" section: the field's last errors next to the lab's.
    Replay {
        /// Bundles made by the collect script (.tar.gz).
        #[arg(required = true)]
        bundles: Vec<PathBuf>,
        /// The role of a lone bundle's host, when the bundle does not tell.
        #[arg(long = "as", value_parser = ["client", "server"])]
        as_role: Option<String>,
        /// Run the scenario after writing it.
        #[arg(long)]
        run: bool,
        /// With --run: leave the lab running afterwards.
        #[arg(long)]
        keep: bool,
        /// Where the scenario goes (default: next to the first bundle).
        #[arg(long)]
        output: Option<PathBuf>,
        /// Where run reports go.
        #[arg(long, default_value_os_t = workspace_root().join("reports"))]
        reports: PathBuf,
    },
    /// Build or list the lab's base images (mmdebstrap + import; no registry needed).
    Images {
        #[command(subcommand)]
        command: ImagesCommand,
    },
    /// Run the whole test suite: unit tests and end-to-end tests against real containers.
    Test {
        /// Only the tests that need no Docker engine.
        #[arg(long)]
        unit: bool,
        /// Extra arguments for `cargo test` (after `--`).
        #[arg(last = true)]
        cargo_args: Vec<String>,
    },
    /// Remove what earlier runs left behind: containers, networks and private directories.
    ///
    /// Without options, only runs whose process is gone (a killed run) are removed. A run whose
    /// process still runs, one kept with --keep, and one started on another machine sharing the
    /// engine are left alone, and the reason is printed.
    Clean {
        /// This run, whoever owns it (e.g. a lab kept with --keep).
        #[arg(long, conflicts_with = "force")]
        run: Option<String>,
        /// Every run on the engine, including live runs of other users and kept labs.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Subcommand)]
enum ScenarioCommand {
    /// Validate scenario files (syntax, types, unknown keys, host references); errors name file:line:col.
    Check {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print the JSON Schema of the scenario format (for editors).
    Schema,
}

#[derive(Subcommand)]
enum ImagesCommand {
    /// Build the image of each release unless one with the same recipe hash exists.
    Build {
        /// Releases to build (recipes under images/); repeat or separate with commas.
        #[arg(long, value_delimiter = ',', default_value = images::DEFAULT_RELEASE)]
        release: Vec<String>,
    },
    /// List the recipes and whether their current image exists.
    List,
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

fn images_dir() -> PathBuf {
    workspace_root().join("images")
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    runtime.block_on(async {
        use tokio::signal::unix::{signal, SignalKind};
        // What Ctrl-C, `docker stop`/`timeout`/CI cancellation and a closed terminal send.
        let (Ok(mut terminate), Ok(mut hangup)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) else {
            eprintln!("error: cannot install signal handlers");
            return ExitCode::from(2);
        };
        let interrupted = |name: &str, code: u8| {
            eprintln!("\n{name}: removing what this run created");
            ExitCode::from(code)
        };
        // Returning from `select!` drops `run`'s future, which drops the lab (removing its
        // containers and network) and the run's private directory.
        tokio::select! {
            result = run(cli) => match result {
                Ok(code) => code,
                Err(e) => {
                    eprintln!("error: {}", describe(&e));
                    ExitCode::from(2)
                }
            },
            _ = tokio::signal::ctrl_c() => interrupted("interrupted", 130),
            _ = terminate.recv() => interrupted("terminated (SIGTERM)", 143),
            _ = hangup.recv() => interrupted("hung up (SIGHUP)", 129),
        }
    })
}

/// An error and its causes on one line, each cause once: the library's messages already quote
/// their source (an I/O error's text would otherwise appear twice).
fn describe(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&cause);
        }
    }
    text
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Lab {
            clients,
            release,
            keep,
            reports,
        } => run_lab(clients.into(), release, keep, reports).await,
        Command::Run {
            files,
            all,
            release,
            jobs,
            keep,
            reports,
        } => {
            let files = if all {
                scenario::files_in(&workspace_root().join("scenarios"))?
            } else {
                files
            };
            run_scenarios(&files, &release, jobs.max(1), keep, reports).await
        }
        Command::Bench {
            release,
            runs,
            scale,
            burst_clients,
            burst_messages,
            no_scenarios,
            cold,
        } => {
            let options = journal_lab::bench::BenchOptions {
                release,
                runs,
                scale: scale.into_iter().filter(|&n| n > 0).collect(),
                burst_clients,
                burst_messages,
                scenarios: !no_scenarios,
                cold,
                images_dir: images_dir(),
                scenarios_dir: workspace_root().join("scenarios"),
                reports_dir: workspace_root().join("reports"),
            };
            let (bench, md) = journal_lab::bench::run(&options, &progress()).await?;
            print!("{}", report::bench::markdown(&bench));
            println!("written: {} (and .json)", md.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Report { run_dir, format } => {
            let run = report::read_run(&run_dir.join("run.json"))?;
            for path in report::write_formats(&run_dir, &run, &format)? {
                println!("wrote {}", path.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Scenario {
            command: ScenarioCommand::Check { files },
        } => check_scenarios(&files),
        Command::Scenario {
            command: ScenarioCommand::Schema,
        } => {
            println!(
                "{}",
                serde_json::to_string_pretty(&scenario::json_schema())?
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Certs { dir, name, aliases } => certs(&dir, &name, &aliases),
        Command::Images {
            command: ImagesCommand::Build { release },
        } => build_images(&release).await,
        Command::Images {
            command: ImagesCommand::List,
        } => list_images().await,
        Command::CollectScript => {
            print!("{}", journal_lab::replay::COLLECT_SCRIPT);
            Ok(ExitCode::SUCCESS)
        }
        Command::Replay {
            bundles,
            as_role,
            run,
            keep,
            output,
            reports,
        } => {
            let settings = replaying::Settings {
                as_role,
                run,
                keep,
                output,
                reports,
            };
            replaying::replay(&bundles, settings).await
        }
        Command::Test { unit, cargo_args } => test(unit, &cargo_args).await,
        Command::Clean { run, force } => clean(run, force).await,
    }
}

/// Progress lines on stderr, stamped with the time since the command started.
fn progress() -> Progress {
    let start = Instant::now();
    Arc::new(move |line: &str| {
        // Never panic over a closed stderr (e.g. piped into `head`): progress is best-effort.
        let _ = writeln!(
            std::io::stderr(),
            "[{:>6.1}s] {line}",
            start.elapsed().as_secs_f64()
        );
    })
}

async fn run_lab(
    clients: usize,
    release: String,
    keep: bool,
    reports: PathBuf,
) -> anyhow::Result<ExitCode> {
    let mut options = lab::LabOptions::new(images_dir(), reports);
    options.clients = clients;
    options.release = Some(release);
    options.keep = keep;
    let outcome = lab::run(&options, &progress()).await?;
    let report = &outcome.report;
    println!(
        "run {}  ({}, {})",
        report.run_id, report.release, report.systemd_version
    );
    for host in report.clients() {
        let verdict = match (host.delivered, host.seconds_to_deliver) {
            (Some(true), Some(seconds)) => format!(
                "delivered in {seconds:.2}s  -> {}",
                host.remote_file.as_deref().unwrap_or("?")
            ),
            _ => format!("NOT delivered  (upload status: {:?})", host.status_text),
        };
        println!("  {:<10} {:<15} {verdict}", host.name, host.ip);
    }
    println!(
        "{} of {} clients delivered; total {:.1}s; report: {}",
        report.delivered,
        report.clients,
        report.total_seconds,
        outcome.run_dir.join("run.json").display()
    );
    for finding in &report.findings {
        println!("FINDING on {}: {}", finding.host, finding.summary);
        for line in &finding.evidence {
            println!("    {line}");
        }
    }
    if !report.ok {
        println!("evidence for what did not arrive is in run.json (hosts[].evidence)");
    }
    println!("reports: {}", outcome.run_dir.join("report.html").display());
    if keep {
        println!("the lab is still running (--keep):");
        for line in &outcome.kept {
            println!("{line}");
        }
    }
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn check_scenarios(files: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let mut bad = 0;
    for file in files {
        match scenario::Scenario::load(file) {
            Ok(s) => println!(
                "{}: ok ({} hosts, {} steps, {} checks)",
                file.display(),
                s.hosts.len(),
                s.steps.len(),
                s.checks.len()
            ),
            Err(e) => {
                eprintln!("{e}");
                bad += 1;
            }
        }
    }
    Ok(if bad == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

async fn run_scenarios(
    files: &[PathBuf],
    releases: &[String],
    jobs: usize,
    keep: bool,
    reports: PathBuf,
) -> anyhow::Result<ExitCode> {
    // Validate everything before booting anything.
    let mut scenarios = Vec::new();
    for file in files {
        scenarios.push((scenario::name_of(file), scenario::Scenario::load(file)?));
    }
    let releases: Vec<Option<String>> = if releases.is_empty() {
        vec![None]
    } else {
        releases.iter().cloned().map(Some).collect()
    };
    let mut options = lab::LabOptions::new(images_dir(), reports);
    options.keep = keep;
    let outcomes = lab::run_many(&scenarios, &releases, jobs, &options, &progress()).await?;
    let mut worst = ExitCode::SUCCESS;
    for (name, outcome) in outcomes {
        match outcome {
            Err(e) => {
                println!("\n{name}: ERROR: {e}");
                worst = ExitCode::from(2);
            }
            Ok(outcome) => {
                // Not ok: a check failed or errored, or a step failed.
                if !print_outcome(&name, &outcome) && worst == ExitCode::SUCCESS {
                    worst = ExitCode::from(1);
                }
            }
        }
    }
    Ok(worst)
}

/// A run's checks as a table, its findings, profile and failed steps, and how to reach a kept
/// lab; whether the run was ok.
fn print_outcome(name: &str, outcome: &lab::Outcome) -> bool {
    let report = &outcome.report;
    println!(
        "\n{name} ({}, {}): {}",
        report.release,
        report.systemd_version,
        outcome.run_dir.join("run.json").display()
    );
    for check in &report.checks {
        println!(
            "  {:<15} {:<38} {:<9} {:<20} {}",
            check.status.to_string(),
            check.id.to_string(),
            check.host,
            check.phase,
            check.observed
        );
    }
    for finding in &report.findings {
        println!("  FINDING on {}: {}", finding.host, finding.summary);
    }
    let profile = report::render::summary(report).profile;
    let counts: Vec<String> = profile
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(s, n)| format!("{n} {s}"))
        .collect();
    println!(
        "  conformance profile: {} (details in report.html)",
        counts.join(", ")
    );
    for step in report.steps.iter().filter(|s| s.error.is_some()) {
        println!(
            "  STEP {} ({}) FAILED: {}",
            step.index,
            step.step,
            step.error.as_deref().unwrap_or_default()
        );
    }
    for line in &outcome.kept {
        println!("{line}");
    }
    report.ok
}

//! journal-lab's command line, one code path for its two entries: the installed `journal-lab`
//! binary (`src/main.rs`) and the contributors' `cargo xtask` (`xtask/src/main.rs`), which only
//! add their name ([`Entry`]). It parses arguments, prints, and calls the library; everything
//! that knows about journals, TLS or Docker lives there. Nothing here reads the tree the binary
//! was compiled in: recipes and seed scenarios are built in, reports go under the working
//! directory.
//!
//! Exit codes: 0 success; 1 the lab ran but what it observed is not what was required (e.g. a
//! client did not deliver); 2 the harness could not do its job (bad input, no engine, ...);
//! 130 interrupted.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::OnceLock;

use anyhow::Context;
use args::{Cli, Command, ImagesCommand, ScenarioCommand};
use clap::{CommandFactory, FromArgMatches};
use values::REPORTS;

mod args;
mod completing;
mod disk;
mod hints;
mod names;
pub use completing::completions;
mod benching;
mod housekeeping;
mod lifecycle;
mod listing;
mod progress;
mod runs;
mod suite;
use runs::{default_jobs, print_outcome, run_lab, run_scenarios, OutputFormat};

mod replaying;
mod reporting;
mod validating;
mod values;
use crate::checks::ProfileMode;
use crate::{images, report, scenario, Progress};
use housekeeping::{build_images, certs, clean, list_images, test};
use validating::check_scenarios;

/// The version line: the crate's version and the commit it was built from (build.rs).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("JOURNAL_LAB_COMMIT"),
    ")"
);

/// Which entry the command line was started through.
#[derive(Debug, Clone)]
pub enum Entry {
    /// The installed `journal-lab` binary.
    Installed,
    /// `cargo xtask` in a checkout: the workspace it was compiled in (for `test`, which runs
    /// the checkout's own test suite).
    Xtask { workspace: PathBuf },
}

static ENTRY: OnceLock<Entry> = OnceLock::new();

/// How the user types this command: `journal-lab` or `cargo xtask` (for messages that say what
/// to run next).
pub fn me() -> &'static str {
    match ENTRY.get() {
        Some(Entry::Xtask { .. }) => "cargo xtask",
        _ => "journal-lab",
    }
}

/// The checkout whose test suite `test` runs: only `cargo xtask` has one.
fn workspace_root() -> anyhow::Result<PathBuf> {
    match ENTRY.get() {
        Some(Entry::Xtask { workspace }) => Ok(workspace.clone()),
        _ => anyhow::bail!(
            "`test` runs journal-lab's own test suite: run `cargo xtask test` in a checkout of journal-lab"
        ),
    }
}

/// Where image recipes come from: the ones built into the binary.
fn recipes() -> images::Recipes {
    images::Recipes::built_in()
}

fn profile_mode(text: &str) -> Result<ProfileMode, String> {
    text.parse()
}

/// The whole command line: parse, run, map the outcome to an exit code.
pub fn main(entry: Entry) -> ExitCode {
    let _ = ENTRY.set(entry);
    // A TAB in a shell whose completion script is ours: answer it and exit.
    completing::answer_if_asked();
    let _ = crate::COMMAND_NAME.set(me());
    let command = Cli::command().bin_name(me());
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // `--keep on-failure`: the value of an optional-value flag must be attached; apart, it would
    // be read as a scenario, or refused as an unexpected argument.
    if args
        .windows(2)
        .any(|pair| pair[0] == "--keep" && (pair[1] == "on-failure" || pair[1] == "always"))
    {
        eprintln!("error: `--keep` takes its value attached with `=`: write --keep=on-failure (or --keep=always, or --keep alone)");
        return ExitCode::from(2);
    }
    let matches = match hints::matches(command, &args) {
        Ok(matches) => matches,
        Err(code) => return code,
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    match cli.fleet() {
        Ok(fleet) => crate::lab::fleet::choose(fleet),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    // A command asked for JSON answers its errors in JSON too, on standard output where its
    // result would have been (scripts read one document either way).
    let wants_json = args
        .windows(2)
        .any(|w| w[0] == "--format" && w[1] == "json")
        || args.iter().any(|a| a == "--format=json");
    let code = runtime.block_on(async {
        let Ok(mut interrupted) = listen_for_signals() else {
            eprintln!("error: cannot install signal handlers");
            return ExitCode::from(2);
        };
        // Returning from `select!` drops `dispatch`'s future, which drops the lab (removing its
        // containers and network) and the run's private directory.
        tokio::select! {
            result = dispatch(cli) => match result {
                Ok(code) => code,
                Err(e) => {
                    progress::done();
                    eprintln!("error: {}", describe(&e));
                    if wants_json {
                        let error = report::documents::ErrorDocument {
                            error: describe(&e),
                            exit: 2,
                        };
                        println!("{}", serde_json::to_string(&error).unwrap_or_default());
                    }
                    ExitCode::from(2)
                }
            },
            Some(code) = interrupted.recv() => ExitCode::from(code),
        }
    });
    // A worker still inside synchronous work is not waited for.
    runtime.shutdown_background();
    code
}

/// Listens for what Ctrl-C, `docker stop`/`timeout`/CI cancellation and a closed terminal send,
/// on a task of its own, so that a signal is heard even while the command is in the middle of
/// synchronous work (reading a scenario or a bundle). The command is told (the exit code arrives
/// on the channel) and stops at its next wait, its drops removing what it made. If it is still
/// busy 300 ms later and holds nothing to remove ([`crate::owner::MustRemove`]), the process
/// exits there and then; if it holds something, it gets [`REMOVAL_DEADLINE`] to remove it.
fn listen_for_signals() -> std::io::Result<tokio::sync::mpsc::Receiver<u8>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut hangup = signal(SignalKind::hangup())?;
    let (tell, told) = tokio::sync::mpsc::channel(1);
    tokio::spawn(async move {
        let (name, code) = tokio::select! {
            _ = interrupt.recv() => ("interrupted", 130),
            _ = terminate.recv() => ("terminated (SIGTERM)", 143),
            _ = hangup.recv() => ("hung up (SIGHUP)", 129),
        };
        progress::done();
        eprintln!("\n{name}: removing what this run created");
        let _ = tell.send(code).await;
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        if crate::owner::MustRemove::held() > 0 {
            let started = std::time::Instant::now();
            while crate::owner::MustRemove::held() > 0 && started.elapsed() < REMOVAL_DEADLINE {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            if crate::owner::MustRemove::held() > 0 {
                eprintln!(
                    "journal-lab: removal did not finish within {}s; `{} clean` removes what is left",
                    REMOVAL_DEADLINE.as_secs(),
                    me()
                );
            } else {
                // Removed; the command returns on its own in a moment.
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        }
        std::process::exit(i32::from(code));
    });
    Ok(told)
}

/// How long an interrupted command may take to remove what it made.
const REMOVAL_DEADLINE: std::time::Duration = std::time::Duration::from_secs(180);

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

async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Lab {
            clients,
            release,
            keep,
            profile,
            reports,
        } => run_lab(clients.into(), release, keep, profile, reports).await,
        Command::Completions { shell } => {
            print!("{}", completions(shell));
            Ok(ExitCode::SUCCESS)
        }
        Command::Run {
            files,
            all,
            setup,
            release,
            jobs,
            keep,
            profile,
            reports,
            format,
            shard,
            repeat,
            flaky,
            strict_expect,
        } => {
            // Validate everything before booting anything.
            let scenarios = scenario::selection::select(&files, setup.as_deref(), all)?;
            let jobs = jobs.unwrap_or_else(default_jobs).max(1);
            let settings = runs::RunSettings {
                releases: release,
                jobs,
                keep,
                profile,
                reports,
                json: format == OutputFormat::Json,
                shard,
                repeat: repeat.into(),
                flaky_allowed: flaky == "allow",
                strict_expect,
                lab_name: None,
                idempotence: false,
            };
            run_scenarios(scenarios, settings).await
        }
        Command::Bench(args) => benching::bench(args).await,
        Command::Report {
            merge: Some(command),
            ..
        } => reporting::report(command).await,
        Command::Report {
            run_dir, format, ..
        } => {
            let run_dir = run_dir.context("name the run's directory, e.g. reports/latest")?;
            let run = report::read_run(&run_dir.join("run.json"))?;
            for path in report::write_formats(&run_dir, &run, &format)? {
                println!("wrote {}", path.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Findings { format } => {
            match format {
                values::ListFormat::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(report::ledger::entries())?
                ),
                values::ListFormat::Text => print!("{}", report::ledger::text()),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Init { dir, force } => {
            let written =
                scenario::init::write_starting_setup(&dir, force).map_err(anyhow::Error::msg)?;
            for path in &written {
                println!("wrote {}", path.display());
            }
            // Reports go to ./reports of where `run` is started: the repository's root, where
            // `init` is run too.
            match scenario::init::ignore_reports(Path::new(".")) {
                Ok(true) => println!(
                    "added {} to .gitignore (run reports are output, not configuration)",
                    scenario::init::REPORTS_IGNORED
                ),
                Ok(false) => {}
                Err(e) => eprintln!("note: {e}"),
            }
            println!(
                "\nedit the files to be your configuration, then:\n  {me} run --setup {dir}              # the built-in suites with your files\n  {me} run {dir}/scenario.yaml      # the scenario that uses them",
                me = me(),
                dir = dir.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Scenario {
            command: ScenarioCommand::Check { files, format },
        } => check_scenarios(&files, format == values::ListFormat::Json),
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
            command: ImagesCommand::List { format },
        } => list_images(format == values::ListFormat::Json).await,
        Command::Images {
            command: ImagesCommand::Hash,
        } => {
            for release in images::available_releases(&recipes()) {
                println!(
                    "{}",
                    images::ImageSpec::load(&recipes(), &release)?.reference()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Up {
            scenario,
            release,
            setup,
            name,
            profile,
            reports,
        } => lifecycle::up(scenario, release, setup, name, profile, reports).await,
        Command::Converge {
            scenario,
            lab,
            setup,
            reports,
            force,
        } => lifecycle::converge(scenario, lab, setup, reports, force).await,
        Command::Ls {
            reports,
            all,
            format,
        } => listing::ls(reports, all, format == values::ListFormat::Json).await,
        Command::Login { host, lab, force } => lifecycle::login(host, lab, force).await,
        Command::Down { lab, all, force } => lifecycle::down(lab, all, force).await,
        Command::Exec {
            host,
            lab,
            command,
            force,
        } => lifecycle::exec(host, lab, command, force).await,
        Command::Verify {
            lab,
            checks,
            phase,
            steps,
            profile,
            reports,
            force,
        } => lifecycle::verify(lab, checks, phase, steps, profile, reports, force).await,
        Command::CollectScript => {
            print!("{}", crate::replay::COLLECT_SCRIPT);
            Ok(ExitCode::SUCCESS)
        }
        Command::Replay {
            bundles,
            as_role,
            run,
            keep,
            output,
            force,
            reports,
            allow_exec,
        } => {
            let settings = replaying::Settings {
                as_role,
                run,
                keep,
                output,
                reports,
                force,
                allow_exec,
            };
            replaying::replay(&bundles, settings).await
        }
        Command::Test {
            scenarios,
            name,
            destroy,
            setup,
            profile,
            reports,
            unit,
            jobs,
            cargo_args,
        } => {
            if scenarios.is_empty() && setup.is_none() {
                if name.is_some() {
                    anyhow::bail!(
                        "--name names the lab of a scenario: `{} test SCENARIO --name NAME` (with no scenario, test runs journal-lab's own test suite)",
                        me()
                    );
                }
                let jobs = jobs.unwrap_or_else(suite::default_jobs);
                return test(unit, jobs, &cargo_args).await;
            }
            let keep = match destroy {
                values::Destroy::Always => None,
                values::Destroy::Never => Some(runs::KeepWhen::Always),
                values::Destroy::Passing => Some(runs::KeepWhen::OnFailure),
            };
            eprintln!(
                "test: create, converge, idempotence, steps, verify, destroy ({})",
                match destroy {
                    values::Destroy::Always => "every lab",
                    values::Destroy::Never => "none: the labs stay",
                    values::Destroy::Passing => "the labs whose run held; the others stay",
                }
            );
            let scenarios = scenario::selection::select(&scenarios, setup.as_deref(), false)?;
            let settings = runs::RunSettings {
                releases: Vec::new(),
                jobs: jobs.unwrap_or_else(default_jobs).max(1),
                keep,
                profile,
                reports,
                json: false,
                shard: None,
                repeat: 1,
                flaky_allowed: false,
                strict_expect: false,
                lab_name: name,
                idempotence: true,
            };
            run_scenarios(scenarios, settings).await
        }
        Command::Clean {
            run,
            force,
            dry_run,
        } => clean(run, force, dry_run).await,
    }
}

/// Progress lines on stderr, stamped with the time since the command started.
fn progress() -> Progress {
    progress::reporter()
}

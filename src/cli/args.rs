//! The command line's arguments: every subcommand and option, with its help text.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use super::reporting::ReportCommand;
use super::values::{Destroy, KeepWhen, ListFormat, OutputFormat, ProfileArg, REPORTS};
use super::{benching, names, VERSION};
use crate::{images, lab, report};

#[derive(Parser)]
#[command(
    name = "journal-lab",
    version = VERSION,
    about = "journal-lab: boot real systemd journal servers and clients, and check that logs get where they should",
    after_help = "Start with `lab`; aim it at your own configuration with `init` and `run --setup DIR`."
)]
pub(super) struct Cli {
    #[command(subcommand)]
    pub(super) command: Command,
    /// A Docker engine the lab spreads its hosts over, as
    /// NAME=URL[,address=IP][,hosts=N][,memory=SIZE][,inotify=N]. Repeat it for several; the first holds the servers unless
    /// --servers-on names another. `address` is where the other engines' hosts reach this one's
    /// published server port. Default: the engine DOCKER_HOST names. (docs/engines.md)
    #[arg(
        long = "engine",
        global = true,
        value_name = "NAME=URL[,…]",
        display_order = 900
    )]
    pub(super) engine: Vec<lab::fleet::EngineSpec>,
    /// The engines as a YAML file: `engines:` (a list of {name, url, address, hosts, memory,
    /// inotify}) and `servers_on:`.
    #[arg(
        long = "engines",
        global = true,
        value_name = "FILE",
        conflicts_with = "engine",
        display_order = 901
    )]
    pub(super) engines_file: Option<PathBuf>,
    /// The engine servers go on (one of --engine's names; default: the first).
    #[arg(long, global = true, value_name = "NAME", display_order = 902)]
    pub(super) servers_on: Option<String>,
}

impl Cli {
    /// The engines the command line names (none: DOCKER_HOST's).
    pub(super) fn fleet(&self) -> crate::Result<lab::fleet::Fleet> {
        match &self.engines_file {
            Some(file) => {
                let fleet = lab::fleet::Fleet::load(file)?;
                match &self.servers_on {
                    Some(name) => lab::fleet::Fleet::new(fleet.engines().to_vec(), Some(name)),
                    None => Ok(fleet),
                }
            }
            None => lab::fleet::Fleet::new(self.engine.clone(), self.servers_on.as_deref()),
        }
    }
}

#[derive(Subcommand)]
pub(super) enum Command {
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
        #[arg(long, default_value = images::DEFAULT_RELEASE, add = names::releases())]
        release: String,
        /// Leave the lab running afterwards and print how to get a shell on each host:
        /// `--keep` (always) or `--keep=on-failure` (only if a check or a step failed).
        #[arg(long, value_enum, num_args = 0..=1, require_equals = true, default_missing_value = "always", value_name = "WHEN")]
        keep: Option<KeepWhen>,
        #[command(flatten)]
        profile: ProfileArg,
        /// Where run reports go.
        #[arg(long, default_value = REPORTS)]
        reports: PathBuf,
    },
    /// Run scenarios (YAML files under scenarios/) and print a table of their checks.
    ///
    /// Each scenario boots its own lab; several run at once where the machine allows. Writes a
    /// run.json per scenario under reports/. Exits 1 if any check fails or errors.
    Run {
        /// Scenarios to run: files, or names of built-in scenarios (`server-outage`; a bare
        /// name is `scenarios/NAME.yaml` here if there is one).
        #[arg(required_unless_present_any = ["all", "setup"], conflicts_with = "all", add = names::scenarios())]
        files: Vec<PathBuf>,
        /// Run every built-in scenario.
        #[arg(long)]
        all: bool,
        /// Your own configuration (a directory with setup.yaml, see `init`), laid over each
        /// scenario; with no scenario named, over the built-in suites the setup lists (default:
        /// delivery, certificate rejection, port change, outage, partition, restart, burst,
        /// sealing).
        #[arg(long, value_name = "DIR")]
        setup: Option<PathBuf>,
        /// Run each scenario on these releases instead of its own (comma-separated, or `all`:
        /// every recipe under images/). With more than one, a conformance matrix is written
        /// to reports/matrix-<time>/.
        #[arg(long, value_delimiter = ',', add = names::releases())]
        release: Vec<String>,
        /// Only this machine's slice of the scenario × release list: K/N (1-based), the same
        /// slice on every machine, for CI matrices; `report merge` joins the shards' reports.
        #[arg(long)]
        shard: Option<report::matrix::Shard>,
        /// How many scenarios run at once (default: what this machine holds, see --help).
        ///
        /// The default is the number of CPUs, at most one per 2 GiB of available memory
        /// (a scenario's lab takes 256 MiB per host), and at least 1.
        #[arg(long)]
        jobs: Option<usize>,
        /// Leave each lab running afterwards: `--keep` (always) or `--keep=on-failure` (only
        /// the labs whose run did not hold).
        #[arg(long, value_enum, num_args = 0..=1, require_equals = true, default_missing_value = "always", value_name = "WHEN")]
        keep: Option<KeepWhen>,
        #[command(flatten)]
        profile: ProfileArg,
        /// Where run reports go.
        #[arg(long, default_value = REPORTS)]
        reports: PathBuf,
        /// Run each scenario × release N times (a fresh lab each time) and report, per check,
        /// host and phase, how often each verdict was seen, the pass rate with its 95%
        /// interval, and stable-pass / stable-fail / flaky.
        #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1000))]
        repeat: u16,
        /// With --repeat: `fail` (the default) if any run failed a check; `allow` lets a flaky
        /// check (seen both passing and failing) pass, and fails only on one that always fails.
        #[arg(long, default_value = "fail", value_parser = ["fail", "allow"])]
        flaky: String,
        /// With a setup's `expect:`: a known failure that passed (fixed) fails the run, so the
        /// stale expectation is removed.
        #[arg(long)]
        strict_expect: bool,
        /// What goes to stdout: `table` (the checks of each run), or `json` (a JSON array of
        /// the runs' run.json, and nothing else: progress is on stderr).
        #[arg(long, value_enum, default_value = "table")]
        format: OutputFormat,
    },
    /// Re-render a run's reports (report.json, report.md, report.html, junit.xml, report.sarif)
    /// from its run.json.
    ///
    /// `journal-lab report merge DIR…` instead builds the conformance matrix of every run.json
    /// under the directories (shards' reports from several machines, say).
    #[command(args_conflicts_with_subcommands = true)]
    Report {
        #[command(subcommand)]
        merge: Option<ReportCommand>,
        /// The run's directory (e.g. reports/latest).
        #[arg(required = true)]
        run_dir: Option<PathBuf>,
        /// Formats to write (comma-separated): json, md, html, junit, sarif.
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "json,md,html,junit,sarif"
        )]
        format: Vec<report::Format>,
    },
    /// Write a commented starting setup (the guide's configuration) and a scenario that uses
    /// its files, into DIR (default: ./journal-lab), for `run --setup DIR`.
    Init {
        #[arg(default_value = "journal-lab")]
        dir: PathBuf,
        /// Overwrite the starting files where they exist.
        #[arg(long)]
        force: bool,
    },
    /// The ledger of what journal-lab has seen the software under test do wrong: each entry's
    /// stable id, the checks and seed scenario it shows in, the releases where it was seen and
    /// not seen, upstream references (docs/findings.md explains each).
    Findings {
        /// `text`, or `json` (the ledger's entries).
        #[arg(long, value_enum, default_value = "text")]
        format: ListFormat,
    },
    /// Work with scenario files without running them.
    Scenario {
        #[command(subcommand)]
        command: ScenarioCommand,
    },
    /// Measure the lab on this machine and write reports/bench/<date>.{json,md}.
    ///
    /// Warm happy path (1 server + 3 clients, N runs, median/min/max and phase breakdown), scale
    /// runs (wall time, container memory, delivery), delivery latency for a burst of messages,
    /// the lab against a hand-written script (src/bench/peer.sh), and all seed scenarios;
    /// `--capacity` measures one server's capacity, `--cold` also times a first run with the
    /// image build.
    Bench(benching::BenchArgs),
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
    /// Bring a scenario's lab up and keep it: boot, configure, perform the steps up to the
    /// first `evaluate`, report, and leave it running under a name.
    ///
    /// Then `journal-lab login HOST` to poke at a host, and `journal-lab down` when done.
    /// Interrupted (Ctrl-C) or failing to come up, it removes everything it made.
    Up {
        /// The scenario: a file, or a built-in scenario's name.
        #[arg(add = names::scenarios())]
        scenario: PathBuf,
        /// Debian release of every host (default: the scenario's).
        #[arg(long, add = names::releases())]
        release: Option<String>,
        /// Your setup, laid over the scenario (see `init`).
        #[arg(long, value_name = "DIR")]
        setup: Option<PathBuf>,
        /// The lab's name (default: the scenario's name).
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        profile: ProfileArg,
        /// Where run reports go.
        #[arg(long, default_value = REPORTS)]
        reports: PathBuf,
    },
    /// List the labs that are up (`up`, `--keep`): name, run, age, scenario and hosts.
    Ls {
        /// Where run reports are (for each lab's scenario).
        #[arg(long, default_value = REPORTS)]
        reports: PathBuf,
        /// Everyone's labs on the engine, with their owners (default: yours).
        #[arg(long)]
        all: bool,
        /// `text` (a table) or `json` (`{"labs": [{name, run, age, scenario, state, last, user,
        /// hosts}]}`: `report schema --of labs`; an error is `{"error": ..., "exit": 2}`).
        #[arg(long, value_enum, default_value = "text")]
        format: ListFormat,
    },
    /// An interactive shell in a host of a lab that is up.
    Login {
        /// The host's name in the scenario (e.g. server, client1).
        #[arg(add = names::hosts())]
        host: String,
        /// The lab's name or run id (default: the only lab that is up).
        #[arg(add = names::labs(), long)]
        lab: Option<String>,
        /// Act on a lab that is not yours (another user's, or a live run of another process).
        #[arg(long)]
        force: bool,
    },
    /// Run a lab's checks again (and with --steps, its steps) against the lab as it is now.
    ///
    /// What was changed by hand inside the hosts is observed, not reverted. Writes a new report
    /// (reports/<run-id>-verify-<time>/) in the same formats; exits 1 if a check does not hold.
    Verify {
        /// The lab's name or run id (default: the only lab that is up).
        #[arg(add = names::labs(), long)]
        lab: Option<String>,
        /// Only these checks (comma-separated ids).
        #[arg(long, value_delimiter = ',')]
        checks: Vec<String>,
        /// The phase whose checks to evaluate (default: final).
        #[arg(long)]
        phase: Option<String>,
        /// Perform the scenario's steps first (markers, workloads, faults...).
        #[arg(long)]
        steps: bool,
        #[command(flatten)]
        profile: ProfileArg,
        /// Where run reports are.
        #[arg(long, default_value = REPORTS)]
        reports: PathBuf,
        /// Act on a lab that is not yours (another user's, or a live run of another process).
        #[arg(long)]
        force: bool,
    },
    /// Write the scenario's files into a lab that is up again, where they differ from what the
    /// hosts have, and say what changed (a second converge that changes nothing shows it is
    /// idempotent). Reloads systemd and restarts the journal units where anything changed.
    ///
    /// The scenario is the file the lab was brought up from, as it is on disk now (or the one
    /// named here), with `--setup` laid over it; files it no longer names are left alone.
    Converge {
        /// The scenario (default: the one the lab was brought up from).
        #[arg(add = names::scenarios())]
        scenario: Option<PathBuf>,
        /// The lab's name or run id (default: the only lab that is up).
        #[arg(add = names::labs(), long)]
        lab: Option<String>,
        /// Your setup, laid over the scenario (see `init`).
        #[arg(long, value_name = "DIR")]
        setup: Option<PathBuf>,
        /// Where run reports are.
        #[arg(long, default_value = REPORTS)]
        reports: PathBuf,
        /// Act on a lab that is not yours (another user's, or a live run of another process).
        #[arg(long)]
        force: bool,
    },
    /// One command in a host of a lab that is up, without a terminal: its output and its exit
    /// status passed through (`exec client1 -- systemctl status systemd-journal-upload`).
    Exec {
        /// The host's name in the scenario (e.g. server, client1).
        #[arg(add = names::hosts())]
        host: String,
        /// The lab's name or run id (default: the only lab that is up).
        #[arg(add = names::labs(), long)]
        lab: Option<String>,
        /// The command and its arguments (after `--`).
        #[arg(last = true, required = true)]
        command: Vec<String>,
        /// Act on a lab that is not yours (another user's, or a live run of another process).
        #[arg(long)]
        force: bool,
    },
    /// Take a lab down: its containers, network and private directory (a lab that is not up
    /// is down already: exit 0).
    Down {
        /// The lab's name or run id (default: the only lab that is up).
        #[arg(add = names::labs(), long, conflicts_with = "all")]
        lab: Option<String>,
        /// Every lab that is up.
        #[arg(long)]
        all: bool,
        /// Act on a lab that is not yours (another user's, or a live run of another process).
        #[arg(long)]
        force: bool,
    },
    /// Print the collect script: run it as root on a real client or server to gather its
    /// journal centralization setup into one tarball for `replay`.
    ///
    /// `journal-lab collect-script > collect.sh`, read it, then `sudo sh collect.sh` on the host.
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
        /// Overwrite the scenario file if it exists (never through a symbolic link).
        #[arg(long)]
        force: bool,
        /// Where run reports go.
        #[arg(long, default_value = REPORTS)]
        reports: PathBuf,
        /// Keep what the bundles' unit files run besides the journal's own programs
        /// (`ExecStartPre=`, `+`/`!` prefixes, bind mounts): refused by default, since a bundle is
        /// data; with this, it runs in the lab and is listed in the scenario and the report.
        #[arg(long)]
        allow_exec: bool,
    },
    /// Print the shell completion script of `journal-lab`:
    /// `journal-lab completions bash > ~/.local/share/bash-completion/completions/journal-lab`
    /// (in a checkout, `cargo xtask completions bash` also completes `cargo xtask ...`).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Build or list the lab's base images (mmdebstrap + import; no registry needed).
    Images {
        #[command(subcommand)]
        command: ImagesCommand,
    },
    /// Molecule's one-shot sequence for scenarios: create, converge, idempotence (a second
    /// converge would change nothing: compared, never written), steps, verify, destroy
    /// (`--destroy=always|never|passing`).
    /// Exits as `run` does.
    ///
    /// In a checkout, `cargo xtask test` with no scenario runs journal-lab's own test suite
    /// (unit tests and end-to-end tests against real containers).
    Test {
        /// Scenarios: files, or names of built-in scenarios.
        #[arg(add = names::scenarios())]
        scenarios: Vec<PathBuf>,
        /// What a lab that stays is called, for `login`, `verify` and `down --lab NAME` (with
        /// several scenarios, each lab is NAME-<scenario>; default: its run id).
        #[arg(long)]
        name: Option<String>,
        /// When to destroy each lab at the end: `always` (the default), `never` (keep it, to
        /// `login`, `converge` and `verify` again), or `passing` (keep only a lab whose run
        /// did not hold, to look at it).
        #[arg(long, value_enum, default_value = "always")]
        destroy: Destroy,
        /// Your setup, laid over each scenario (see `init`).
        #[arg(long, value_name = "DIR")]
        setup: Option<PathBuf>,
        #[command(flatten)]
        profile: ProfileArg,
        /// Where run reports go.
        #[arg(long, default_value = REPORTS)]
        reports: PathBuf,
        /// The test suite only: only the tests that need no Docker engine.
        #[arg(long)]
        unit: bool,
        /// Scenarios at once (default: one per CPU); for the test suite, test processes at
        /// once (default: two per CPU).
        #[arg(long, short = 'j')]
        jobs: Option<usize>,
        /// Extra arguments for `cargo test` (after `--`): the suite then runs as plain
        /// `cargo test` with them, one binary after another.
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
        /// Say what would be removed, and remove nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Subcommand)]
pub(super) enum ScenarioCommand {
    /// Validate scenario files (syntax, types, unknown keys, host references); errors name file:line:col. `-` reads one from standard input.
    Check {
        #[arg(required = true, add = names::scenarios())]
        files: Vec<PathBuf>,
        /// `text` (each file's verdict; errors on stderr), or `json` (one document on stdout:
        /// `report schema --of scenario-check`).
        #[arg(long, value_enum, default_value = "text")]
        format: ListFormat,
    },
    /// Print the JSON Schema of the scenario format (for editors).
    Schema,
}

#[derive(Subcommand)]
pub(super) enum ImagesCommand {
    /// Build the image of each release unless one with the same recipe hash exists.
    Build {
        /// Releases to build (recipes under images/); repeat or separate with commas.
        #[arg(long, value_delimiter = ',', default_value = images::DEFAULT_RELEASE, add = names::releases())]
        release: Vec<String>,
    },
    /// List the recipes and whether their current image exists.
    List {
        /// `text`, or `json` (one document: `report schema --of images`).
        #[arg(long, value_enum, default_value = "text")]
        format: ListFormat,
    },
    /// Print each recipe's image reference (`journal-lab/<release>:<hash>`), one per line,
    /// without an engine: what a CI cache of built images is keyed by.
    Hash,
}

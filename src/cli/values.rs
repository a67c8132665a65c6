//! The command line's value types, shared by its subcommands: where reports go, how a run and
//! a listing print, when a lab stays, the conformance profile's options.

use super::profile_mode;
use crate::checks::ProfileMode;
use crate::lab;

/// Where reports go unless `--reports` says otherwise: `reports/` under the working directory.
pub(super) const REPORTS: &str = "reports";

/// What `run` prints on stdout.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
}

/// When a lab stays after its run.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum KeepWhen {
    Always,
    OnFailure,
}

/// How a listing prints.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum ListFormat {
    Text,
    Json,
}

/// `--profile`, for every command that evaluates checks, and `--journals`.
#[derive(clap::Args, Clone, Copy)]
pub(super) struct ProfileArg {
    /// The conformance profile (checks every host gets, whatever the scenario): `report`
    /// its items at their severity without changing the verdict, `gate` to fail the run
    /// on them too, or `off`.
    #[arg(long = "profile", default_value = "report", value_parser = profile_mode)]
    pub(super) mode: ProfileMode,
    /// Which binary journal files of the servers go into the report: `all` (what arrived and
    /// their own), `remote` (what arrived), or `none` (the JSON dumps only).
    #[arg(long, default_value = "all", value_parser = |s: &str| s.parse::<lab::Journals>())]
    pub(super) journals: lab::Journals,
}

impl ProfileArg {
    pub(super) fn apply(self, options: &mut lab::LabOptions) {
        options.profile = self.mode;
        options.journals = self.journals;
    }
}

/// `test --destroy`: Molecule's destroy strategies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum Destroy {
    Always,
    Never,
    Passing,
}

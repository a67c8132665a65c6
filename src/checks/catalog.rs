//! The catalog's entries: what a check says of itself (title, expectation, role, reference,
//! parameters, whom a rejection is by) and the verdict function it is judged by. An entry is
//! made with its verdict, so an id without one does not compile.

use futures::future::BoxFuture;

use super::{knobs, CheckId, Severity, Target, Verdict};
use crate::domain::Role;
use crate::errors::Result;

/// A catalog entry: what a check says about itself.
#[derive(Debug)]
pub struct Entry {
    pub id: CheckId,
    pub title: &'static str,
    pub expected: &'static str,
    /// The role of the host a check is evaluated on (None: any).
    pub role: Option<Role>,
    /// Public rule or documentation it comes from.
    pub reference: &'static str,
    /// Only about clients that upload with journal-upload (not-applicable on the others).
    pub uploaders_only: bool,
    /// The user's settings it is about, said with a failure under `base: as-is`.
    pub knobs: &'static [knobs::Knob],
    /// Its weight as an item of the conformance profile ([`PROFILE`]); None: not an item.
    pub profile: Option<Severity>,
    /// For a rejection check: who must refuse, and for the client the words of its refusal.
    pub rejection: Option<Rejection>,
    /// The parameters a scenario may give it (`params:`), each with its bound and default.
    pub params: &'static [Param],
    /// How it is evaluated: its probes and its verdict.
    pub verdict: Evaluate,
}

/// A parameter a check takes from its scenario entry (`params: {max: 3}`): a whole number from 0
/// to `max`, `default` where the scenario does not give it. The scenario's validator refuses an
/// unknown name or a value out of bounds at its line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param {
    pub name: &'static str,
    /// What it means, for the error that refuses it and the docs.
    pub doc: &'static str,
    pub default: u64,
    pub max: u64,
}

/// Who performs a rejection a check is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// The server refuses: the client's marker never arriving is the evidence.
    ByServer,
    /// The client refuses: it needs the client's own word, one of these in its log, besides the
    /// marker's absence.
    ByClient(&'static [&'static str]),
}

impl Rejection {
    /// The refusal words a verdict needs from the client (None: the server refuses).
    pub fn client_words(self) -> Option<&'static [&'static str]> {
        match self {
            Rejection::ByServer => None,
            Rejection::ByClient(words) => Some(words),
        }
    }
}

impl Entry {
    /// An entry about hosts of `role` (None: any host), judged by `verdict`.
    pub const fn new(
        id: CheckId,
        title: &'static str,
        expected: &'static str,
        role: Option<Role>,
        reference: &'static str,
        verdict: Evaluate,
    ) -> Entry {
        Entry {
            id,
            title,
            expected,
            role,
            reference,
            uploaders_only: false,
            knobs: &[],
            profile: None,
            rejection: None,
            params: &[],
            verdict,
        }
    }

    /// The same entry, taking `params` from its scenario entry.
    pub const fn with_params(self, params: &'static [Param]) -> Entry {
        Entry { params, ..self }
    }

    /// The same entry, an item of the conformance profile at `severity`.
    pub const fn in_profile(self, severity: Severity) -> Entry {
        Entry {
            profile: Some(severity),
            ..self
        }
    }

    /// The same entry, a rejection `rejection` performs.
    pub const fn rejected(self, rejection: Rejection) -> Entry {
        Entry {
            rejection: Some(rejection),
            ..self
        }
    }

    /// The same entry, about `knobs` of the user's.
    pub const fn about(self, knobs: &'static [knobs::Knob]) -> Entry {
        Entry { knobs, ..self }
    }

    /// The same entry, about clients only if they upload with journal-upload.
    pub const fn for_uploaders(self) -> Entry {
        Entry {
            uploaders_only: true,
            ..self
        }
    }
}

/// How a check is evaluated on one host: its probes through the target's observer, then its
/// verdict. Pushes its evidence (probes and what they printed) as it goes. Every [`Entry`] holds
/// its own, so an id without a verdict does not compile.
pub type Evaluate =
    for<'a> fn(&'a Entry, &'a Target<'a>, &'a mut Vec<String>) -> BoxFuture<'a, Result<Verdict>>;

/// An [`Evaluate`] from an `async fn(&Entry, &Target, &mut Vec<String>) -> Result<Verdict>`.
macro_rules! judged_by {
    ($verdict:path) => {
        |entry, target, evidence| futures::FutureExt::boxed($verdict(entry, target, evidence))
    };
}
pub(crate) use judged_by;

/// The value of a `Result<T, Verdict>`, or that verdict at once: a check whose precondition
/// does not hold (no sealing set up, nothing sent) says so as its verdict.
macro_rules! or_verdict {
    ($precondition:expr) => {
        match $precondition {
            Ok(value) => value,
            Err(verdict) => return Ok(verdict),
        }
    };
}
pub(crate) use or_verdict;

/// A family of checks: its catalog entries, each with its verdict.
pub struct Family {
    pub name: &'static str,
    pub entries: &'static [Entry],
}

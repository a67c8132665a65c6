//! What long-running work reports as it goes: typed events, in the order they happen. The
//! library never prints; the command line renders the one stream for a terminal (a live line,
//! milestones kept above it), for CI logs (a timestamped line each) or as JSON lines
//! (`--format json`). (cargo-nextest's reporter events are the model.)

use serde::Serialize;

/// One thing that happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Event {
    /// A run started booting its lab.
    RunStarted {
        run_id: String,
        scenario: String,
        servers: usize,
        clients: usize,
        release: String,
    },
    /// A stage reached that is worth keeping on screen (hosts up, markers in, a phase
    /// evaluated, an image built, a fault started or ended, a lab removed).
    Milestone { text: String },
    /// Something going on, replaced by the next news.
    News { text: String },
    /// Something went wrong and the work goes on (a step failed, a network was left).
    Warning { text: String },
    /// An event of one of several runs at once, under its run's tag (`scenario@release`).
    Tagged { tag: String, of: Box<Event> },
}

impl Event {
    /// Whether a terminal keeps it on screen once the next event replaces it.
    pub fn stays(&self) -> bool {
        match self {
            Event::RunStarted { .. } | Event::Milestone { .. } | Event::Warning { .. } => true,
            Event::News { .. } => false,
            Event::Tagged { of, .. } => of.stays(),
        }
    }
}

/// The event as one line of text.
impl std::fmt::Display for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Event::RunStarted {
                run_id,
                scenario,
                servers,
                clients,
                release,
            } => write!(
                f,
                "run {run_id}: {scenario}: booting {servers} server(s) + {clients} client(s) ({release})"
            ),
            Event::Milestone { text } | Event::News { text } => f.write_str(text),
            Event::Warning { text } => write!(f, "warning: {text}"),
            Event::Tagged { tag, of } => write!(f, "{tag}: {of}"),
        }
    }
}

/// Where long-running work reports what it is doing. The library never prints; the CLI decides
/// how progress looks.
pub type Progress = std::sync::Arc<dyn Fn(Event) + Send + Sync>;

/// Saying things on a [`Progress`].
pub trait Say {
    fn news(&self, text: impl Into<String>);
    fn milestone(&self, text: impl Into<String>);
    fn warning(&self, text: impl Into<String>);
}

impl Say for Progress {
    fn news(&self, text: impl Into<String>) {
        self(Event::News { text: text.into() })
    }
    fn milestone(&self, text: impl Into<String>) {
        self(Event::Milestone { text: text.into() })
    }
    fn warning(&self, text: impl Into<String>) {
        self(Event::Warning { text: text.into() })
    }
}

/// A progress that drops everything (for work whose progress nobody follows).
pub fn silent() -> Progress {
    std::sync::Arc::new(|_| {})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_read_as_lines_and_as_json() {
        let started = Event::RunStarted {
            run_id: "jl-1".into(),
            scenario: "passive-https".into(),
            servers: 1,
            clients: 3,
            release: "bookworm".into(),
        };
        assert_eq!(
            started.to_string(),
            "run jl-1: passive-https: booting 1 server(s) + 3 client(s) (bookworm)"
        );
        assert!(started.stays());
        let tagged = Event::Tagged {
            tag: "outage@trixie".into(),
            of: Box::new(Event::News {
                text: "configured in 0.2s".into(),
            }),
        };
        assert_eq!(tagged.to_string(), "outage@trixie: configured in 0.2s");
        assert!(!tagged.stays());
        let json = serde_json::to_value(&tagged).unwrap();
        assert_eq!(json["event"], "tagged");
        assert_eq!(json["of"]["event"], "news");
        assert_eq!(
            Event::Warning {
                text: "a network was left".into()
            }
            .to_string(),
            "warning: a network was left"
        );
    }
}

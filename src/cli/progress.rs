//! Progress that fits where it runs. On a terminal (and not in CI): one live line, a spinner
//! with the elapsed time and the latest news, milestones (hosts up, markers, phases, failures)
//! kept above it, and all of it cleared before the results are printed. On a pipe or in CI
//! (`CI` set): the plain timestamped lines, each on its own line. Always on stderr, so stdout
//! holds results only.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crate::{Event, Progress};
use indicatif::{ProgressBar, ProgressStyle};

/// The live line, while there is one.
static LIVE: OnceLock<ProgressBar> = OnceLock::new();

/// Whether to draw a live line: stderr is a terminal and this is not CI.
pub fn live(stderr_is_terminal: bool, ci: bool) -> bool {
    stderr_is_terminal && !ci
}

/// The progress callback for this process.
pub fn reporter() -> Progress {
    let start = Instant::now();
    if live(
        std::io::stderr().is_terminal(),
        std::env::var_os("CI").is_some(),
    ) {
        let bar = LIVE.get_or_init(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} [{elapsed:>4}] {wide_msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        let bar = bar.clone();
        return Arc::new(move |event: Event| {
            let line = event.to_string();
            if event.stays() {
                bar.println(format!("[{:>6.1}s] {line}", start.elapsed().as_secs_f64()));
            }
            bar.set_message(line);
        });
    }
    Arc::new(move |event: Event| {
        // Never panic over a closed stderr (e.g. piped into `head`): progress is best-effort.
        let _ = writeln!(
            std::io::stderr(),
            "[{:>6.1}s] {event}",
            start.elapsed().as_secs_f64()
        );
    })
}

/// The progress callback for `--format json`: each event as one JSON object per line on
/// stderr (`at`: seconds since start, `event`: its kind, then its fields), the same stream the
/// terminal and CI renderers draw.
pub fn json_reporter() -> Progress {
    let start = Instant::now();
    Arc::new(move |event: Event| {
        let mut value = serde_json::to_value(&event).unwrap_or_default();
        if let Some(object) = value.as_object_mut() {
            object.insert(
                "at".into(),
                serde_json::json!((start.elapsed().as_secs_f64() * 1000.0).round() / 1000.0),
            );
        }
        let _ = writeln!(std::io::stderr(), "{value}");
    })
}

/// Clears the live line, before results are printed (a no-op on a pipe).
pub fn done() {
    if let Some(bar) = LIVE.get() {
        bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_only_on_a_terminal_outside_ci() {
        assert!(live(true, false));
        assert!(!live(true, true), "CI=true gets plain lines");
        assert!(!live(false, false), "a pipe gets plain lines");
    }

    #[test]
    fn milestones_stay_and_chatter_is_replaced() {
        assert!(Event::Milestone {
            text: "4 hosts up in 1.2s".into()
        }
        .stays());
        assert!(!Event::News {
            text: "configured in 0.2s".into()
        }
        .stays());
    }
}

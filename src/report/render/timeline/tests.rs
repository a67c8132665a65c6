//! The timeline's drawing, on made-up marks and on recorded runs (tests/data/timeline/).

use super::*;
use crate::checks::accounting::Accounting;
use crate::report::delivery::{MessageMark, StreamDelivery};
use crate::report::unit_events::UnitEventKind;

fn mark(seq: u64, logged: f64, arrived: Option<f64>, copies: u32) -> MessageMark {
    MessageMark {
        seq,
        logged: Some(logged),
        arrived,
        copies,
        out_of_order: false,
    }
}

#[test]
fn lost_duplicated_and_reordered_messages_and_the_shades_are_drawn_and_labelled() {
    let mut reordered = mark(3, 103.0, Some(104.0), 1);
    reordered.out_of_order = true;
    let delivery = Delivery {
        version: 1,
        settled_after_seconds: None,
        streams: vec![StreamDelivery {
            host: "client1".into(),
            stream: 0,
            size: 400,
            accounting: Accounting::default(),
            arrivals: Vec::new(),
            latency_ms: None,
            messages: vec![
                mark(0, 100.0, Some(100.2), 1),
                mark(1, 101.0, None, 0),
                mark(2, 102.0, Some(110.0), 2),
                reordered,
                mark(4, 104.0, None, 1),
            ],
        }],
    };
    let shades = [
        Shade {
            label: "server-down on server".into(),
            from: 100.5,
            to: 108.0,
            kind: ShadeKind::Fault,
        },
        Shade {
            label: "restart client1 (halt)".into(),
            from: 101.0,
            to: 102.0,
            kind: ShadeKind::Restart,
        },
        Shade {
            label: "kill-upload on client1".into(),
            from: 105.0,
            to: 105.0,
            kind: ShadeKind::Fault,
        },
    ];
    let svg = timeline_svg(&delivery, &shades, &[]);
    assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"), "{svg}");
    for (class, count) in [
        ("arrived", 2),
        ("lost", 1),
        ("duplicate", 1),
        ("reordered", 1),
        ("unseen", 1),
        ("fault", 2),
        ("restart", 1),
    ] {
        assert_eq!(
            svg.matches(&format!("class=\"{class}\"")).count(),
            count,
            "{class}"
        );
    }
    for label in [
        "server-down on server",
        "restart client1 (halt)",
        "kill-upload on client1",
    ] {
        assert!(
            svg.contains(&format!(">{label}</text>")),
            "{label} is not labelled"
        );
    }
    // The restart starts inside the outage's label span: its label goes on a second row.
    assert!(
        svg.contains("y=\"28.0\" font-size=\"11\" text-anchor=\"start\">restart client1"),
        "{svg}"
    );
    assert!(svg.contains("seq 1: lost"), "{svg}");
    assert!(svg.contains("class=\"tick\"") && svg.contains(">0 s</text>"));
    assert!(svg.contains("lost (at its log time)"), "a legend");
    assert!(!svg.contains("<script") && !svg.contains("href"));
}

#[test]
fn ticks_step_one_two_five() {
    assert_eq!(tick_step(8.0), 1.0);
    assert_eq!(tick_step(30.0), 5.0);
    assert_eq!(tick_step(100.0), 20.0);
    assert_eq!(tick_step(0.4), 0.05);
}

/// The timeline of a recorded run, as report.html draws it.
fn recorded(run_json: &str) -> (RunReport, String) {
    let report: RunReport = serde_json::from_str(run_json).unwrap();
    let html = crate::report::render::html(&report);
    let start = html
        .find("<svg xmlns")
        .expect("report.html has the timeline");
    let end = start + html[start..].find("</svg>").unwrap() + "</svg>".len();
    let svg = html[start..end].to_string();
    (report, svg)
}

/// A recorded server-outage run (bookworm): every lost message is drawn, at its log time,
/// and the outage is shaded and labelled with the scenario's words.
#[test]
fn a_recorded_server_outage_draws_every_lost_message_and_labels_the_fault() {
    let (report, svg) = recorded(include_str!(
        "../../../../tests/data/timeline/server-outage.run.json"
    ));
    let stream = &report.delivery.as_ref().unwrap().streams[0];
    let lost: u64 = stream.accounting.lost.iter().map(|(a, b)| b - a + 1).sum();
    assert!(lost > 0, "the recording lost messages");
    assert_eq!(svg.matches("class=\"lost\"").count() as u64, lost);
    assert!(
        svg.contains(">server-down on server</text>"),
        "the fault is not labelled"
    );
    assert_eq!(svg.matches("class=\"fault\"").count(), 1);
}

/// A recorded client-restart run (bookworm): the restart is shaded and labelled, and the
/// duplicated message is marked.
#[test]
fn a_recorded_client_restart_draws_the_restart_and_the_duplicate() {
    let (report, svg) = recorded(include_str!(
        "../../../../tests/data/timeline/client-restart.run.json"
    ));
    let duplicated = &report.delivery.as_ref().unwrap().streams[0]
        .accounting
        .duplicated;
    assert!(!duplicated.is_empty(), "the recording has a duplicate");
    assert!(
        svg.contains(">restart client1 (halt)</text>"),
        "the restart is not labelled"
    );
    assert_eq!(svg.matches("class=\"restart\"").count(), 1);
    for (first, last) in duplicated {
        for seq in *first..=*last {
            let title = format!("<title>seq {seq}: ");
            let marked = svg.match_indices(&title).any(|(at, _)| {
                let text = svg[at..].split("</title>").next().unwrap_or_default();
                text.contains("copies on the server")
            });
            assert!(marked, "seq {seq} is not marked as a duplicate");
        }
    }
}

/// How many of `host`'s upload unit events of `kind` the timeline draws (those from the plot's
/// start on: the first start, at configuration, is before it).
fn drawn_events(report: &RunReport, host: &str, kind: UnitEventKind) -> usize {
    let delivery = report.delivery.as_ref().unwrap();
    let (start, _) = span(delivery, &shades(report));
    let lanes = delivery.streams.iter().filter(|s| s.host == host).count();
    let events = report
        .hosts
        .iter()
        .filter(|h| h.name == host)
        .flat_map(|h| h.upload_unit.iter())
        .filter(|e| e.kind == kind && e.at >= start)
        .count();
    events * lanes
}

/// A recorded server-outage run (bookworm, the guide's configuration): the upload's restart
/// loop during the outage is marked on client1's lane, each failure and scheduled restart, and
/// the start limit it hit is marked and said.
#[test]
fn a_recorded_server_outage_marks_the_upload_units_restarts_and_its_start_limit() {
    let (report, svg) = recorded(include_str!(
        "../../../../tests/data/timeline/server-outage.run.json"
    ));
    for (kind, class) in [
        (UnitEventKind::Failed, "unit-failed"),
        (UnitEventKind::RestartScheduled, "unit-restart-scheduled"),
        (UnitEventKind::StartLimitHit, "unit-start-limit-hit"),
        (UnitEventKind::FailedToStart, "unit-failed-to-start"),
    ] {
        let expected = drawn_events(&report, "client1", kind);
        assert!(expected > 0, "the recording has {class}");
        assert_eq!(
            svg.matches(&format!("class=\"{class}\"")).count(),
            expected,
            "{class}"
        );
    }
    assert!(svg.contains(">start limit hit: no more restarts</text>"));
    assert!(svg.contains("<title>journal-upload start limit hit at "));
    // Nothing of the outage was never logged: no band says so.
    assert!(!svg.contains("class=\"never-logged\""));
}

/// A recorded client-restart run (bookworm): the messages the halt kept from being logged are
/// drawn apart from lost ones (a band, with their count), and the upload's start after the
/// restart is marked.
#[test]
fn a_recorded_client_restart_draws_the_never_logged_apart_and_the_upload_coming_back() {
    let (report, svg) = recorded(include_str!(
        "../../../../tests/data/timeline/client-restart.run.json"
    ));
    let stream = &report.delivery.as_ref().unwrap().streams[0];
    assert!(
        stream.accounting.never_logged > 0,
        "the halt stopped the writer"
    );
    assert_eq!(svg.matches("class=\"never-logged\"").count(), 1);
    assert!(
        svg.contains(&format!(
            ">{} of {} never logged</text>",
            stream.accounting.never_logged,
            stream.accounting.sent + stream.accounting.never_logged
        )),
        "{svg}"
    );
    // Never logged is not lost: only the lost messages get lost marks.
    let lost: u64 = stream.accounting.lost.iter().map(|(a, b)| b - a + 1).sum();
    assert_eq!(svg.matches("class=\"lost\"").count() as u64, lost);
    let started = drawn_events(&report, "client1", UnitEventKind::Started);
    assert!(started > 0, "the upload started again after the halt");
    assert_eq!(svg.matches("class=\"unit-started\"").count(), started);
}

/// A recorded blackhole-timeout run (bookworm): client1's upload, timed out by
/// `NetworkTimeoutSec=`, restarts on its lane; client2's lane has no mark of it.
#[test]
fn a_recorded_blackhole_timeout_marks_only_the_timed_out_clients_restarts() {
    let (report, svg) = recorded(include_str!(
        "../../../../tests/data/timeline/blackhole-timeout.run.json"
    ));
    let restarts = drawn_events(&report, "client1", UnitEventKind::RestartScheduled);
    assert!(restarts > 0, "the recording restarted client1's upload");
    assert_eq!(
        drawn_events(&report, "client2", UnitEventKind::RestartScheduled),
        0
    );
    assert_eq!(
        svg.matches("class=\"unit-restart-scheduled\"").count(),
        restarts
    );
}

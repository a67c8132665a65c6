//! The delivery timeline of report.html: an inline SVG (no script, nothing fetched). One lane per
//! workload stream; each message drawn where the harness first saw it on a server (x) at the
//! height of its latency (y), lost messages where they were logged, duplicates and reorderings
//! marked; every fault and restart shaded across the lanes and labelled with the scenario's
//! words; time ticks and a legend. Drawn from run.json alone, so a recorded run draws the same.

use std::fmt::Write as _;

use super::escape;
use crate::report::delivery::{Delivery, StreamDelivery};
use crate::report::unit_events::{UnitEvent, UnitEventKind};
use crate::report::RunReport;

/// Something the steps did, as the timeline shades it.
#[derive(Debug, Clone, PartialEq)]
pub struct Shade {
    /// In the scenario's words: `server-down on server`, `restart client1 (halt)`.
    pub label: String,
    pub from: f64,
    pub to: f64,
    pub kind: ShadeKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShadeKind {
    Fault,
    Restart,
}

impl ShadeKind {
    fn class(self) -> &'static str {
        match self {
            ShadeKind::Fault => "fault",
            ShadeKind::Restart => "restart",
        }
    }

    fn fill(self) -> &'static str {
        match self {
            ShadeKind::Fault => "#f4c7c3",
            ShadeKind::Restart => "#fbe3a6",
        }
    }
}

const LEFT: f64 = 150.0;
/// The plot's width: the page's (1100 px less its padding, the lane labels and a margin), so
/// that lost marks a second apart do not merge into one bar.
const WIDTH: f64 = 880.0;
const LABEL_ROW: f64 = 14.0;
const LANE: f64 = 64.0;
const AXIS: f64 = 34.0;
/// Two rows: the messages and the shades, then the upload unit's marks.
const LEGEND: f64 = 36.0;
const ARRIVED: &str = "#2b6cb0";
const REORDERED: &str = "#805ad5";
const DUPLICATE: &str = "#dd6b20";
const LOST: &str = "#c53030";
const UNSEEN: &str = "#8a8a8a";
const NEVER_LOGGED: &str = "#d9d9d9";
const UNIT_UP: &str = "#2f855a";
const UNIT_DOWN: &str = "#c53030";
const UNIT_RESTART: &str = "#dd6b20";
const UNIT_LIMIT: &str = "#63171b";

fn unix(t: time::OffsetDateTime) -> f64 {
    t.unix_timestamp_nanos() as f64 / 1e9
}

/// The faults and restarts of a run, as shaded on its timeline.
pub fn shades(report: &RunReport) -> Vec<Shade> {
    let faults = report.faults.iter().map(|f| Shade {
        label: format!("{} on {}", f.kind, f.host),
        from: unix(f.started),
        to: unix(f.ended.unwrap_or(report.finished)),
        kind: ShadeKind::Fault,
    });
    let restarts = report.restarts.iter().map(|r| Shade {
        label: format!("restart {} ({})", r.host, r.kind),
        from: unix(r.started),
        to: unix(r.ended.unwrap_or(report.finished)),
        kind: ShadeKind::Restart,
    });
    faults.chain(restarts).collect()
}

/// Each client's journal-upload unit events (run.json's `hosts[].upload_unit`), by host.
pub fn unit_events(report: &RunReport) -> Vec<(&str, &[UnitEvent])> {
    report
        .hosts
        .iter()
        .filter(|h| !h.upload_unit.is_empty())
        .map(|h| (h.name.as_str(), h.upload_unit.as_slice()))
        .collect()
}

/// A tick step of about an eighth of `span` seconds, from 1-2-5 steps.
fn tick_step(span: f64) -> f64 {
    let rough = span / 8.0;
    let magnitude = 10f64.powf(rough.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|step| *step >= rough)
        .unwrap_or(10.0 * magnitude)
}

/// The first and the last time of the messages and the shades (the plot's span before unit
/// events widen it); (MAX, MIN) when there is none.
pub(crate) fn span(delivery: &Delivery, shades: &[Shade]) -> (f64, f64) {
    delivery
        .streams
        .iter()
        .flat_map(|s| s.messages.iter())
        .flat_map(|m| [m.logged, m.arrived])
        .flatten()
        .chain(shades.iter().flat_map(|s| [s.from, s.to]))
        .fold((f64::MAX, f64::MIN), |(lo, hi), t| (lo.min(t), hi.max(t)))
}

/// The SVG, or nothing when there is nothing with a time to draw.
pub fn timeline_svg(
    delivery: &Delivery,
    shades: &[Shade],
    units: &[(&str, &[UnitEvent])],
) -> String {
    let (start, end) = span(delivery, shades);
    if start >= end {
        return String::new();
    }
    // A unit's events from the first message on are drawn (its first start, at configuration,
    // is before the plot); one after the last message (the start limit hit) widens it.
    let end = units
        .iter()
        .flat_map(|(_, events)| events.iter().map(|e| e.at))
        .filter(|at| *at >= start)
        .fold(end, f64::max);
    let x = |t: f64| LEFT + (t - start) / (end - start) * WIDTH;
    // Labels of shades that would overlap go on the next row.
    let mut rows: Vec<f64> = Vec::new();
    let placed: Vec<(usize, &Shade)> = shades
        .iter()
        .map(|shade| {
            let right = x(shade.from) + label_width(&shade.label);
            let row = match rows.iter().position(|end| *end < x(shade.from)) {
                Some(row) => row,
                None => {
                    rows.push(0.0);
                    rows.len() - 1
                }
            };
            rows[row] = right;
            (row, shade)
        })
        .collect();
    let top = LABEL_ROW * rows.len() as f64 + 4.0;
    let lanes_bottom = top + LANE * delivery.streams.len() as f64;
    let height = lanes_bottom + AXIS + LEGEND;
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height:.0}\" \
         viewBox=\"0 0 {width} {height:.0}\" style=\"max-width:100%;height:auto\" font-family=\"sans-serif\" \
         role=\"img\" aria-label=\"delivery timeline: each message where the server first had it, by latency; \
         lost messages at their log time; faults and restarts shaded\">",
        width = LEFT + WIDTH + 20.0
    );
    for (row, shade) in &placed {
        let (from, to) = (x(shade.from), x(shade.to));
        let y = LABEL_ROW * (*row as f64 + 1.0);
        let label = escape(&shade.label);
        if to - from < 1.5 {
            let _ = write!(
                svg,
                "<line class=\"{}\" x1=\"{from:.1}\" y1=\"{:.1}\" x2=\"{from:.1}\" y2=\"{lanes_bottom:.1}\" stroke=\"{LOST}\" \
                 stroke-width=\"1.5\"><title>{label}</title></line>",
                shade.kind.class(),
                y - 10.0
            );
        } else {
            let _ = write!(
                svg,
                "<rect class=\"{}\" x=\"{from:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\" \
                 opacity=\"0.75\"><title>{label}</title></rect>",
                shade.kind.class(),
                y - 10.0,
                to - from,
                lanes_bottom - y + 10.0,
                shade.kind.fill()
            );
        }
        // A label that would run past the plot ends at its right edge instead.
        let (label_x, anchor) = if from + 2.0 + label_width(&shade.label) > LEFT + WIDTH {
            (LEFT + WIDTH, "end")
        } else {
            (from + 2.0, "start")
        };
        let _ = write!(
            svg,
            "<text class=\"label\" x=\"{label_x:.1}\" y=\"{y:.1}\" font-size=\"11\" text-anchor=\"{anchor}\">{label}</text>"
        );
    }
    for (i, stream) in delivery.streams.iter().enumerate() {
        let lane_top = top + LANE * i as f64;
        lane(&mut svg, stream, lane_top, &x);
        let events = units
            .iter()
            .filter(|(host, _)| *host == stream.host)
            .flat_map(|(_, events)| events.iter())
            .filter(|e| e.at >= start);
        unit_marks(&mut svg, events, start, lane_top + LANE - 8.0, &x);
    }
    axis(&mut svg, start, end, lanes_bottom, &x);
    legend(&mut svg, height - 20.0);
    svg.push_str("</svg>");
    svg
}

/// One stream's lane: its name and latency scale, then every marked message.
fn lane(svg: &mut String, delivery: &StreamDelivery, top: f64, x: &dyn Fn(f64) -> f64) {
    let (host, stream, marks) = (delivery.host.as_str(), delivery.stream, &delivery.messages);
    let base = top + LANE - 8.0;
    let latencies = marks
        .iter()
        .filter_map(|m| Some((m.arrived? - m.logged?).max(0.0)));
    let max_latency = latencies.fold(0.0_f64, f64::max).max(0.001);
    let y = |latency: f64| base - latency / max_latency * (LANE - 18.0);
    let _ = write!(
        svg,
        "<line x1=\"{LEFT}\" y1=\"{base:.1}\" x2=\"{:.1}\" y2=\"{base:.1}\" stroke=\"#ccc\"/>\
         <text x=\"4\" y=\"{:.1}\" font-size=\"12\">{} #{stream}</text>\
         <text x=\"4\" y=\"{:.1}\" font-size=\"10\" fill=\"#555\">latency 0–{}</text>",
        LEFT + WIDTH,
        top + 18.0,
        escape(host),
        top + 32.0,
        seconds(max_latency)
    );
    for mark in marks {
        let title = format!("seq {}", mark.seq);
        match (mark.copies, mark.logged, mark.arrived) {
            (0, Some(logged), _) => {
                let (cx, cy) = (x(logged), top + 10.0);
                let _ = write!(
                    svg,
                    "<path class=\"lost\" d=\"M{:.1} {:.1}l6 6m0 -6l-6 6\" stroke=\"{LOST}\" stroke-width=\"1.4\">\
                     <title>{title}: lost (logged here)</title></path>",
                    cx - 3.0,
                    cy - 3.0
                );
            }
            (0, None, _) => {}
            (copies, logged, Some(arrived)) => {
                let latency = logged.map_or(0.0, |l| (arrived - l).max(0.0));
                let (cx, cy) = (x(arrived), y(latency));
                let (class, fill) = if mark.out_of_order {
                    ("reordered", REORDERED)
                } else {
                    ("arrived", ARRIVED)
                };
                let _ = write!(
                    svg,
                    "<circle class=\"{class}\" cx=\"{cx:.1}\" cy=\"{cy:.1}\" r=\"{}\" fill=\"{fill}\">\
                     <title>{title}: latency {}</title></circle>",
                    if mark.out_of_order { 2.6 } else { 1.8 },
                    seconds(latency)
                );
                if copies > 1 {
                    let _ = write!(
                        svg,
                        "<circle class=\"duplicate\" cx=\"{cx:.1}\" cy=\"{cy:.1}\" r=\"4.5\" fill=\"none\" \
                         stroke=\"{DUPLICATE}\" stroke-width=\"1.6\"><title>{title}: {copies} copies on the server</title></circle>"
                    );
                }
            }
            (copies, Some(logged), None) => {
                // Arrived, but between the last poll and the final read: its arrival is unknown.
                let cx = x(logged);
                let _ = write!(
                    svg,
                    "<rect class=\"unseen\" x=\"{:.1}\" y=\"{:.1}\" width=\"1\" height=\"6\" fill=\"{UNSEEN}\">\
                     <title>{title}: arrived (when was not seen){}</title></rect>",
                    cx,
                    base - 6.0,
                    if copies > 1 { format!(", {copies} copies") } else { String::new() }
                );
                if copies > 1 {
                    let _ = write!(
                        svg,
                        "<circle class=\"duplicate\" cx=\"{cx:.1}\" cy=\"{:.1}\" r=\"4.5\" fill=\"none\" \
                         stroke=\"{DUPLICATE}\" stroke-width=\"1.6\"><title>{title}: {copies} copies on the server</title></circle>",
                        base - 3.0
                    );
                }
            }
            (_, None, None) => {}
        }
    }
    never_logged(svg, delivery, top, x);
}

/// Messages the client never wrote (a halt stopped its writer): not lost, so not drawn as
/// lost, but said, as a band from its last logged message to the plot's end.
fn never_logged(svg: &mut String, delivery: &StreamDelivery, top: f64, x: &dyn Fn(f64) -> f64) {
    let count = delivery.accounting.never_logged;
    let Some(last) = delivery
        .messages
        .iter()
        .filter_map(|m| m.logged)
        .reduce(f64::max)
    else {
        return;
    };
    if count == 0 {
        return;
    }
    let from = x(last) + 3.0;
    let to = (LEFT + WIDTH).max(from + 1.0);
    // Of what the workload was to log: what it logged and what it never did.
    let text = format!(
        "{count} of {} never logged",
        delivery.accounting.sent + count
    );
    let _ = write!(
        svg,
        "<rect class=\"never-logged\" x=\"{from:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"10\" fill=\"{NEVER_LOGGED}\" \
         stroke=\"{UNSEEN}\" stroke-dasharray=\"3 2\"><title>{text}: the client never wrote them (its writer was stopped), \
         so they are not lost; they are not in its journal</title></rect>\
         <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"end\" fill=\"#444\">{text}</text>",
        top + 20.0,
        to - from,
        to - 2.0,
        top + 28.5
    );
}

/// The upload unit's state changes on a client's lane, just under its baseline: started
/// (up), failed (down), a restart scheduled, the start limit hit (labelled: after it, nothing
/// restarts the upload), a start that failed.
fn unit_marks<'a>(
    svg: &mut String,
    events: impl Iterator<Item = &'a UnitEvent>,
    start: f64,
    base: f64,
    x: &dyn Fn(f64) -> f64,
) {
    let y = base + 5.0;
    for event in events {
        let cx = x(event.at);
        let class = match event.kind {
            UnitEventKind::Started => "unit-started",
            UnitEventKind::Failed => "unit-failed",
            UnitEventKind::RestartScheduled => "unit-restart-scheduled",
            UnitEventKind::StartLimitHit => "unit-start-limit-hit",
            UnitEventKind::FailedToStart => "unit-failed-to-start",
        };
        let (tag, shape) = match event.kind {
            UnitEventKind::Started => (
                "path",
                format!("d=\"M{:.1} {:.1}l3.5 -6l3.5 6z\" fill=\"{UNIT_UP}\"", cx - 3.5, y + 3.0),
            ),
            UnitEventKind::Failed | UnitEventKind::FailedToStart => (
                "path",
                format!("d=\"M{:.1} {:.1}l3.5 6l3.5 -6z\" fill=\"{UNIT_DOWN}\"", cx - 3.5, y - 3.0),
            ),
            UnitEventKind::RestartScheduled => (
                "circle",
                format!(
                    "cx=\"{cx:.1}\" cy=\"{y:.1}\" r=\"2.5\" fill=\"none\" stroke=\"{UNIT_RESTART}\" stroke-width=\"1.3\""
                ),
            ),
            UnitEventKind::StartLimitHit => (
                "rect",
                format!(
                    "x=\"{:.1}\" y=\"{:.1}\" width=\"7\" height=\"7\" fill=\"{UNIT_LIMIT}\"",
                    cx - 3.5,
                    y - 3.5
                ),
            ),
        };
        let _ = write!(
            svg,
            "<{tag} class=\"{class}\" {shape}><title>journal-upload {} at {}: {}</title></{tag}>",
            event.kind.words(),
            seconds(event.at - start),
            escape(&event.message),
        );
        if event.kind == UnitEventKind::StartLimitHit {
            let _ = write!(
                svg,
                "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" fill=\"{UNIT_LIMIT}\">start limit hit: no more restarts</text>",
                cx + 6.0,
                y + 3.5
            );
        }
    }
}

/// The time axis: ticks at 1-2-5 steps, seconds from the first thing drawn.
fn axis(svg: &mut String, start: f64, end: f64, at: f64, x: &dyn Fn(f64) -> f64) {
    let step = tick_step(end - start);
    let _ = write!(
        svg,
        "<line x1=\"{LEFT}\" y1=\"{at:.1}\" x2=\"{:.1}\" y2=\"{at:.1}\" stroke=\"#333\"/>",
        LEFT + WIDTH
    );
    let mut tick = 0.0;
    while start + tick <= end + step * 1e-6 {
        let tx = x(start + tick);
        let _ = write!(
            svg,
            "<line class=\"tick\" x1=\"{tx:.1}\" y1=\"{at:.1}\" x2=\"{tx:.1}\" y2=\"{:.1}\" stroke=\"#333\"/>\
             <text x=\"{tx:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\">{}</text>",
            at + 4.0,
            at + 15.0,
            seconds(tick)
        );
        tick += step;
    }
    let _ = write!(
        svg,
        "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\" fill=\"#555\">\
         time since the first message was logged (x: when the harness first saw a message on a server)</text>",
        LEFT + WIDTH / 2.0,
        at + 28.0
    );
}

fn legend(svg: &mut String, y: f64) {
    let items: [(&str, &str); 11] = [
        ("arrived (height: latency)", ARRIVED),
        ("out of order", REORDERED),
        ("duplicate", DUPLICATE),
        ("lost (at its log time)", LOST),
        ("arrived, time not seen", UNSEEN),
        ("never logged", NEVER_LOGGED),
        ("fault", "#f4c7c3"),
        ("restart", "#fbe3a6"),
        ("upload started", UNIT_UP),
        ("upload failed", UNIT_DOWN),
        ("start limit hit", UNIT_LIMIT),
    ];
    let (mut at, mut row_y) = (4.0, y);
    for (i, (text, colour)) in items.into_iter().enumerate() {
        // The upload unit's marks on a row of their own.
        if i == 8 {
            (at, row_y) = (4.0, y + 14.0);
        }
        let _ = write!(
            svg,
            "<rect class=\"legend\" x=\"{at:.1}\" y=\"{:.1}\" width=\"10\" height=\"10\" fill=\"{colour}\"/>\
             <text x=\"{:.1}\" y=\"{row_y:.1}\" font-size=\"10\">{text}</text>",
            row_y - 9.0,
            at + 13.0
        );
        at += 22.0 + 5.6 * text.len() as f64;
    }
}

/// About how wide a label is drawn, at 11 px.
fn label_width(label: &str) -> f64 {
    6.5 * label.chars().count() as f64
}

/// `0.25 s`, `12 s`, `1.5 s`.
fn seconds(value: f64) -> String {
    let text = if value >= 10.0 || value.fract() == 0.0 {
        format!("{value:.0}")
    } else if value >= 1.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    };
    format!("{text} s")
}

#[cfg(test)]
mod tests;

//! The `delivery` section of run.json: for every client that ran a workload, what it sent and
//! what arrived (lost and duplicated ranges, reorderings), and for the timeline, when messages
//! were logged and when the harness first saw them on a server. Versioned: tools that read it
//! check `version`.

use serde::{Deserialize, Serialize};

use crate::checks::accounting::{account_logged, Accounting, Workload};

/// The version of this section's layout.
pub const DELIVERY_VERSION: u32 = 1;

/// At most this many arrival times per stream are kept for the timeline (evenly thinned).
const TIMELINE_POINTS: usize = 400;

/// At most this many lost, duplicated and out-of-order messages each are marked per stream.
const MARKED_PER_KIND: usize = 2_000;

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema, Deserialize)]
pub struct Delivery {
    pub version: u32,
    pub streams: Vec<StreamDelivery>,
    /// Seconds from the end of logging to delivery settled, at the last wait for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settled_after_seconds: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema, Deserialize)]
pub struct StreamDelivery {
    pub host: String,
    pub stream: u32,
    pub size: usize,
    #[serde(flatten)]
    pub accounting: Accounting,
    /// Unix times (the entries' timestamps) of arrived messages, thinned to at most
    /// 400, in the server's order.
    pub arrivals: Vec<f64>,
    /// From logging on the client to the harness first seeing it on the server, per message,
    /// when the run waited for the workload (resolution: one poll, 50 ms, and one read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<Latency>,
    /// The messages the timeline draws, by sequence number: every lost, duplicated and
    /// out-of-order one (up to 2,000 of each) and an even sample of the rest (up to 400).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<MessageMark>,
}

/// One message, as the timeline draws it.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema, Deserialize)]
pub struct MessageMark {
    pub seq: u64,
    /// When the client logged it (unix seconds, its entry's timestamp); None if the client's
    /// journal does not hold it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logged: Option<f64>,
    /// When the harness first saw it on a server (unix seconds; polls every 250 ms while
    /// workloads log, every 50 ms while the run waits for them); None if it was never seen
    /// before the final read, or never arrived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrived: Option<f64>,
    /// How many times the server holds it: 0 lost, 2 or more duplicated.
    pub copies: u32,
    /// It arrived after a message with a higher number.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub out_of_order: bool,
}

/// Latency quantiles over a stream's messages.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema, Deserialize)]
pub struct Latency {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
    /// Messages the latency is known for.
    pub messages: usize,
}

/// Latencies of `stream`'s messages: first seen (harness clock) less logged (the client's entry
/// timestamp; the hosts share the machine's clock).
fn latency(
    host: &str,
    stream: u32,
    logged: &[Arrival],
    first_seen: &std::collections::HashMap<(String, u32, u64), f64>,
) -> Option<Latency> {
    let values: Vec<f64> = logged
        .iter()
        .filter(|(h, s, _, _)| h == host && *s == stream)
        .filter_map(|(h, s, seq, at)| {
            let seen = first_seen.get(&(h.clone(), *s, *seq))?;
            Some(((seen - at) * 1000.0).max(0.0))
        })
        .collect();
    (!values.is_empty()).then(|| Latency {
        p50: super::quantile(&values, 0.5),
        p99: super::quantile(&values, 0.99),
        max: super::quantile(&values, 1.0),
        messages: values.len(),
    })
}

/// The messages of workload `w` the timeline draws (see [`StreamDelivery::messages`]);
/// `arrived` is the stream's arrivals in the server's order.
fn marks(
    w: &Workload,
    logged: &[Arrival],
    arrived: &[&Arrival],
    first_seen: &std::collections::HashMap<(String, u32, u64), f64>,
) -> Vec<MessageMark> {
    use std::collections::{BTreeMap, BTreeSet};
    let logged_at: BTreeMap<u64, f64> = logged
        .iter()
        .filter(|(h, s, _, _)| *h == w.host && *s == w.stream)
        .map(|a| (a.2, a.3))
        .collect();
    let mut copies: BTreeMap<u64, u32> = BTreeMap::new();
    let mut out_of_order = BTreeSet::new();
    let mut highest = None;
    for arrival in arrived {
        *copies.entry(arrival.2).or_default() += 1;
        if highest.is_some_and(|h| arrival.2 < h) {
            out_of_order.insert(arrival.2);
        }
        highest = highest.max(Some(arrival.2));
    }
    let seqs: BTreeSet<u64> = logged_at.keys().chain(copies.keys()).copied().collect();
    let all: Vec<MessageMark> = seqs
        .into_iter()
        .map(|seq| MessageMark {
            seq,
            logged: logged_at.get(&seq).copied(),
            arrived: first_seen.get(&(w.host.clone(), w.stream, seq)).copied(),
            copies: copies.get(&seq).copied().unwrap_or(0),
            out_of_order: out_of_order.contains(&seq),
        })
        .collect();
    let (mut lost, mut duplicated, mut reordered) = (0, 0, 0);
    let ordinary = all
        .iter()
        .filter(|m| m.copies == 1 && !m.out_of_order)
        .count();
    let step = ordinary.div_ceil(TIMELINE_POINTS).max(1);
    let mut nth_ordinary = 0;
    all.into_iter()
        .filter(|m| {
            let under = |count: &mut usize| {
                *count += 1;
                *count <= MARKED_PER_KIND
            };
            if m.copies == 0 {
                under(&mut lost)
            } else if m.copies > 1 {
                under(&mut duplicated)
            } else if m.out_of_order {
                under(&mut reordered)
            } else {
                nth_ordinary += 1;
                (nth_ordinary - 1) % step == 0
            }
        })
        .collect()
}

/// One arrived workload message: (host, stream, seq, unix time).
pub type Arrival = (String, u32, u64, f64);

/// Accounts every workload against what arrived; `logged` is what the clients' own journals
/// hold (with when each was logged), `first_seen` when the harness first saw each on a server.
pub fn delivery(
    workloads: &[Workload],
    logged: &[Arrival],
    arrivals: &[Arrival],
    first_seen: &std::collections::HashMap<(String, u32, u64), f64>,
) -> Delivery {
    let streams = workloads
        .iter()
        .map(|w| {
            let mine: Vec<&Arrival> = arrivals
                .iter()
                .filter(|(h, s, _, _)| *h == w.host && *s == w.stream)
                .collect();
            let seqs: Vec<u64> = mine.iter().map(|a| a.2).collect();
            let on_client = logged
                .iter()
                .filter(|(h, s, _, _)| *h == w.host && *s == w.stream)
                .map(|a| a.2)
                .collect();
            let step = mine.len().div_ceil(TIMELINE_POINTS).max(1);
            StreamDelivery {
                host: w.host.clone(),
                stream: w.stream,
                size: w.size,
                accounting: account_logged(w.count, &on_client, &seqs),
                arrivals: mine.iter().step_by(step).map(|a| a.3).collect(),
                latency_ms: latency(&w.host, w.stream, logged, first_seen),
                messages: marks(w, logged, &mine, first_seen),
            }
        })
        .collect();
    Delivery {
        version: DELIVERY_VERSION,
        streams,
        settled_after_seconds: None,
    }
}

/// The rows of the delivery table: host, stream, sent, arrived, lost, duplicated, out of order.
pub fn rows(delivery: &Delivery) -> Vec<Vec<String>> {
    use crate::checks::accounting::Ranges;
    delivery
        .streams
        .iter()
        .map(|s| {
            let a = &s.accounting;
            let lost: u64 = a.lost.iter().map(|(x, y)| y - x + 1).sum();
            vec![
                s.host.clone(),
                s.stream.to_string(),
                a.sent.to_string(),
                a.arrived.to_string(),
                if lost == 0 {
                    "0".into()
                } else {
                    format!("{lost} ({})", Ranges(&a.lost))
                },
                if a.duplicated.is_empty() {
                    "0".into()
                } else {
                    Ranges(&a.duplicated).to_string()
                },
                a.out_of_order.to_string(),
            ]
        })
        .collect()
}

pub const COLUMNS: [&str; 7] = [
    "client",
    "stream",
    "sent",
    "arrived",
    "lost",
    "duplicated",
    "out of order",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrivals_are_accounted_per_stream_and_marked_for_the_timeline() {
        // seq 0 arrives, seq 1 is lost, seq 2 arrives twice, seq 3 arrives before 2's copy...
        let arrivals: Vec<Arrival> = [(0, 100.5), (2, 101.0), (3, 101.5), (2, 102.0)]
            .iter()
            .map(|&(seq, at)| ("c1".to_string(), 0, seq, at))
            .collect();
        let w = [Workload {
            host: "c1".into(),
            stream: 0,
            count: 4,
            size: 400,
        }];
        let logged: Vec<Arrival> = (0..4)
            .map(|s| ("c1".into(), 0, s, 100.0 + s as f64))
            .collect();
        let seen = std::collections::HashMap::from([(("c1".to_string(), 0, 0), 100.25)]);
        let d = delivery(&w, &logged, &arrivals, &seen);
        assert_eq!(d.version, 1);
        let latency = d.streams[0].latency_ms.clone().unwrap();
        assert_eq!((latency.messages, latency.p50), (1, 250.0));
        let a = &d.streams[0].accounting;
        assert_eq!(
            (a.arrived, a.lost.clone(), a.duplicated.clone()),
            (3, vec![(1, 1)], vec![(2, 2)])
        );
        assert_eq!(
            rows(&d)[0],
            ["c1", "0", "4", "3", "1 (seq 1)", "seq 2", "1"]
        );
        let marks = &d.streams[0].messages;
        let mark = |seq: u64| marks.iter().find(|m| m.seq == seq).unwrap();
        assert_eq!(
            (mark(0).arrived, mark(0).logged, mark(0).copies),
            (Some(100.25), Some(100.0), 1)
        );
        assert_eq!(
            (mark(1).copies, mark(1).logged),
            (0, Some(101.0)),
            "lost, at its log time"
        );
        assert_eq!(mark(2).copies, 2);
        assert!(mark(2).out_of_order, "its second copy came after seq 3");
    }

    #[test]
    fn long_streams_are_thinned_for_the_picture_but_fully_accounted() {
        let arrivals: Vec<Arrival> = (0..10_000).map(|s| ("c1".into(), 0, s, s as f64)).collect();
        let w = [Workload {
            host: "c1".into(),
            stream: 0,
            count: 10_000,
            size: 64,
        }];
        let d = delivery(&w, &arrivals, &arrivals, &Default::default());
        assert!(d.streams[0].arrivals.len() <= TIMELINE_POINTS);
        assert!(d.streams[0].messages.len() <= TIMELINE_POINTS);
        assert!(d.streams[0].accounting.exactly_once());
        // Every lost message is marked, however many ordinary ones are thinned away.
        let arrived: Vec<Arrival> = arrivals
            .iter()
            .filter(|a| a.2 % 100 != 7)
            .cloned()
            .collect();
        let d = delivery(&w, &arrivals, &arrived, &Default::default());
        let lost = d.streams[0]
            .messages
            .iter()
            .filter(|m| m.copies == 0)
            .count();
        assert_eq!(lost, 100);
    }
}

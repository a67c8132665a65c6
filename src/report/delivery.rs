//! The `delivery` section of run.json: for every client that ran a workload, what it sent and
//! what arrived (lost and duplicated ranges, reorderings), and when each message arrived, for
//! the timeline picture. Versioned: tools that read it check `version`.

use serde::{Deserialize, Serialize};

use crate::checks::accounting::{account_logged, Accounting, Workload};

/// The version of this section's layout.
pub const DELIVERY_VERSION: u32 = 1;

/// At most this many arrival times per stream are kept for the timeline (evenly thinned).
const TIMELINE_POINTS: usize = 400;

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
            }
        })
        .collect();
    Delivery {
        version: DELIVERY_VERSION,
        streams,
        settled_after_seconds: None,
    }
}

/// `EPOCH run=R host=H stream=S seq=N` lines (`journalctl -o short-unix`, cut) of run `run_id`.
pub fn parse_arrivals(output: &str, run_id: &str) -> Vec<Arrival> {
    output
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let at: f64 = words.next()?.parse().ok()?;
            if words.next()?.strip_prefix("run=")? != run_id {
                return None;
            }
            let host = words.next()?.strip_prefix("host=")?.to_string();
            let stream = words.next()?.strip_prefix("stream=")?.parse().ok()?;
            let seq = words.next()?.strip_prefix("seq=")?.parse().ok()?;
            Some((host, stream, seq, at))
        })
        .collect()
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

/// An inline SVG (no scripts, nothing fetched): one row per stream with a tick at each arrival,
/// and the fault windows shaded across all rows, so a gap in arrivals lines up with its cause.
pub fn timeline_svg(delivery: &Delivery, faults: &[(String, f64, f64)]) -> String {
    let times = delivery
        .streams
        .iter()
        .flat_map(|s| s.arrivals.iter().copied())
        .chain(faults.iter().flat_map(|f| [f.1, f.2]));
    let (start, end) = times.fold((f64::MAX, f64::MIN), |(lo, hi), t| (lo.min(t), hi.max(t)));
    if start >= end {
        return String::new();
    }
    let (left, width, row) = (160.0, 640.0, 22.0);
    let height = row * delivery.streams.len() as f64 + 30.0;
    let x = |t: f64| left + (t - start) / (end - start) * width;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{height}\" role=\"img\" \
         aria-label=\"arrivals per client over time, faults shaded\">",
        left + width + 10.0
    );
    for (what, from, to) in faults {
        svg.push_str(&format!(
            "<rect x=\"{:.1}\" y=\"0\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#f4c7c3\"><title>{}</title></rect>",
            x(*from),
            (x(*to) - x(*from)).max(1.0),
            height - 20.0,
            escape(what)
        ));
    }
    for (i, stream) in delivery.streams.iter().enumerate() {
        let y = row * i as f64 + 4.0;
        svg.push_str(&format!(
            "<text x=\"4\" y=\"{:.1}\" font-size=\"12\">{} #{}</text>",
            y + 13.0,
            escape(&stream.host),
            stream.stream
        ));
        for t in &stream.arrivals {
            svg.push_str(&format!(
                "<rect x=\"{:.1}\" y=\"{y:.1}\" width=\"1\" height=\"16\" fill=\"#2b6cb0\"/>",
                x(*t)
            ));
        }
    }
    svg.push_str(&format!(
        "<text x=\"{left}\" y=\"{:.1}\" font-size=\"11\">0 s</text><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{:.1} s</text></svg>",
        height - 6.0,
        left + width,
        height - 6.0,
        end - start
    ));
    svg
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrivals_are_accounted_per_stream_and_pictured() {
        let output = "100.5 run=jl-1 host=c1 stream=0 seq=0\n101.0 run=jl-1 host=c1 stream=0 seq=2\n\
                      101.5 run=jl-2 host=c1 stream=0 seq=1\n102.0 run=jl-1 host=c1 stream=0 seq=2\n";
        let arrivals = parse_arrivals(output, "jl-1");
        assert_eq!(arrivals.len(), 3);
        let w = [Workload {
            host: "c1".into(),
            stream: 0,
            count: 3,
            size: 400,
        }];
        let logged: Vec<Arrival> = (0..3).map(|s| ("c1".into(), 0, s, 0.0)).collect();
        let seen = std::collections::HashMap::from([(("c1".to_string(), 0, 0), 0.25)]);
        let d = delivery(&w, &logged, &arrivals, &seen);
        assert_eq!(d.version, 1);
        let latency = d.streams[0].latency_ms.clone().unwrap();
        assert_eq!((latency.messages, latency.p50), (1, 250.0));
        let a = &d.streams[0].accounting;
        assert_eq!(
            (a.arrived, a.lost.clone(), a.duplicated.clone()),
            (2, vec![(1, 1)], vec![(2, 2)])
        );
        assert_eq!(
            rows(&d)[0],
            ["c1", "0", "3", "2", "1 (seq 1)", "seq 2", "0"]
        );
        let svg = timeline_svg(&d, &[("server-down on server".into(), 100.6, 101.2)]);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"), "{svg}");
        assert_eq!(
            svg.matches("fill=\"#2b6cb0\"").count(),
            3,
            "a tick per arrival"
        );
        assert!(svg.contains("server-down on server"));
        assert!(!svg.contains("<script") && !svg.contains("href"));
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
        assert!(d.streams[0].accounting.exactly_once());
    }
}

//! journal-remote over a `soak` step: a table per server (first, last and highest of each
//! measure) for every format, and for the HTML report a chart of each measure over time.

use std::fmt::Write as _;

use super::super::RunReport;
use crate::checks::history::SoakSample;

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// A measure: its name, its unit, and its value in a sample.
type Measure = (&'static str, &'static str, fn(&SoakSample) -> f64);

/// The measures drawn and tabled.
const MEASURES: [Measure; 4] = [
    ("resident memory", "MiB", |s| mib(s.rss_bytes)),
    ("open descriptors", "", |s| s.open_fds as f64),
    ("remote journal files", "", |s| s.remote_files as f64),
    ("remote journal bytes", "MiB", |s| mib(s.remote_bytes)),
];

fn servers(samples: &[SoakSample]) -> Vec<&str> {
    let mut names: Vec<&str> = samples.iter().map(|s| s.server.as_str()).collect();
    names.dedup();
    names.sort();
    names.dedup();
    names
}

/// (header, rows): per server and measure, the first, last and highest sample.
pub(super) fn rows(report: &RunReport) -> Option<([&'static str; 6], Vec<Vec<String>>)> {
    if report.soak.is_empty() {
        return None;
    }
    let mut rows = Vec::new();
    for server in servers(&report.soak) {
        let of: Vec<&SoakSample> = report.soak.iter().filter(|s| s.server == server).collect();
        for (name, unit, value) in MEASURES {
            let values: Vec<f64> = of.iter().map(|s| value(s)).collect();
            let show = |v: f64| match unit {
                "" => format!("{v:.0}"),
                unit => format!("{v:.1} {unit}"),
            };
            rows.push(vec![
                server.to_string(),
                name.to_string(),
                values.len().to_string(),
                show(values[0]),
                show(*values.last().expect("one sample at least")),
                show(values.iter().copied().fold(f64::MIN, f64::max)),
            ]);
        }
    }
    Some((
        [
            "server",
            "journal-remote's",
            "samples",
            "first",
            "last",
            "highest",
        ],
        rows,
    ))
}

/// Small charts, one per measure, a line per server over the soak's seconds.
pub(super) fn svg(samples: &[SoakSample]) -> String {
    const W: f64 = 260.0;
    const H: f64 = 130.0;
    const PAD: f64 = 30.0;
    let colours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"];
    let end = samples
        .iter()
        .map(|s| s.seconds)
        .fold(0.0, f64::max)
        .max(1.0);
    let mut out = String::from("<div class=\"soak\">");
    for (name, unit, value) in MEASURES {
        let top = samples.iter().map(value).fold(0.0, f64::max).max(1.0);
        let _ = write!(
            out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" role=\"img\"><title>{name} over the soak</title>\
             <text x=\"{PAD}\" y=\"12\" font-size=\"11\">{name}{}</text>\
             <line x1=\"{PAD}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#999\"/>\
             <line x1=\"{PAD}\" y1=\"18\" x2=\"{PAD}\" y2=\"{}\" stroke=\"#999\"/>\
             <text x=\"2\" y=\"26\" font-size=\"9\">{top:.0}</text><text x=\"2\" y=\"{}\" font-size=\"9\">0</text>\
             <text x=\"{}\" y=\"{}\" font-size=\"9\" text-anchor=\"end\">{end:.0} s</text>",
            if unit.is_empty() { String::new() } else { format!(" ({unit})") },
            H - 14.0,
            W - 4.0,
            H - 14.0,
            H - 14.0,
            H - 14.0,
            W - 4.0,
            H - 2.0,
        );
        for (i, server) in servers(samples).into_iter().enumerate() {
            let points: Vec<String> = samples
                .iter()
                .filter(|s| s.server == server)
                .map(|s| {
                    let x = PAD + (W - PAD - 4.0) * s.seconds / end;
                    let y = (H - 14.0) - (H - 32.0) * value(s) / top;
                    format!("{x:.1},{y:.1}")
                })
                .collect();
            let _ = write!(
                out,
                "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\" points=\"{}\"><title>{}</title></polyline>",
                colours[i % colours.len()],
                points.join(" "),
                super::escape(server)
            );
        }
        out.push_str("</svg>");
    }
    out.push_str("</div>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(server: &str, seconds: f64, rss_mib: u64, fds: u64) -> SoakSample {
        SoakSample {
            server: server.into(),
            seconds,
            pid: 7,
            rss_bytes: rss_mib << 20,
            open_fds: fds,
            remote_files: 2,
            remote_bytes: 16 << 20,
        }
    }

    #[test]
    fn the_soak_is_tabled_per_server_and_drawn_per_measure() {
        let mut report = crate::report::tests::sample("r");
        assert!(rows(&report).is_none());
        report.soak = vec![
            sample("server", 0.0, 10, 12),
            sample("server", 5.0, 14, 40),
            sample("server", 10.0, 12, 13),
        ];
        let (_, rows) = rows(&report).unwrap();
        assert_eq!(
            rows[0],
            [
                "server",
                "resident memory",
                "3",
                "10.0 MiB",
                "12.0 MiB",
                "14.0 MiB"
            ]
        );
        assert_eq!(
            rows[1],
            ["server", "open descriptors", "3", "12", "13", "40"]
        );
        let drawn = svg(&report.soak);
        assert_eq!(drawn.matches("<svg").count(), 4);
        assert_eq!(drawn.matches("<polyline").count(), 4, "a line per measure");
        assert!(drawn.contains("resident memory (MiB)") && drawn.contains("10 s"));
    }
}

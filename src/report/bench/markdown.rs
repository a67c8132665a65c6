//! The bench's report as Markdown: every measurement with its goal, the peer and the floors,
//! and where the time goes.

use std::fmt::Write as _;

use super::*;

/// `ratio` against the delivery goal of `clients`, as the tables say it.
fn against_delivery_goal(ratio: Option<f64>, clients: usize) -> String {
    match (ratio, delivery_goal(clients)) {
        (None, _) => "—".into(),
        (Some(r), None) => format!("{r:.2}"),
        (Some(r), Some(goal)) if r <= goal => format!("{r:.2} (≤ {goal}: met)"),
        (Some(r), Some(goal)) => format!("{r:.2} (≤ {goal}: **missed**)"),
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn phase_line(phases: &[Phase]) -> String {
    phases
        .iter()
        .map(|p| format!("{} {:.2}s", p.name, p.seconds))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The lab's phases beside its delivery floor's, per size measured with both: the happy path's
/// (in-process runs of 1+3) against the versus runs' floor of 1+3, and each scale run against
/// its own floor.
fn where_the_time_goes(md: &mut String, bench: &BenchReport) {
    let happy = bench.versus.iter().find(|v| v.clients == 3).and_then(|v| {
        (!v.delivery_floor_phases.is_empty()).then(|| {
            (
                3,
                bench.happy_path.median(),
                &bench.happy_path.phases,
                quantile(&v.delivery_floor_seconds, 0.5),
                &v.delivery_floor_phases,
            )
        })
    });
    let scaled = bench
        .scale
        .iter()
        .filter(|p| !p.delivery_floor_phases.is_empty())
        .map(|p| {
            (
                p.clients,
                p.seconds,
                &p.phases,
                quantile(&p.delivery_floor_seconds, 0.5),
                &p.delivery_floor_phases,
            )
        });
    let rows: Vec<_> = happy.into_iter().chain(scaled).collect();
    if rows.is_empty() {
        return;
    }
    md.push_str(
        "## Where the time goes, against the delivery floor\n\nThe lab's phases (in-process runs: \
         the happy path at 1+3, the scale runs) beside its delivery floor's of the same size.\n\n",
    );
    md.push_str(&crate::report::render::md_table(
        &[
            "clients",
            "lab",
            "its phases",
            "delivery floor",
            "its phases",
            "lab above it",
        ],
        rows.into_iter()
            .map(|(clients, lab, phases, floor, floor_phases)| {
                vec![
                    format!("1+{clients}"),
                    format!("{lab:.2}s"),
                    phase_line(phases),
                    format!("{floor:.2}s"),
                    phase_line(floor_phases),
                    format!("{:+.2}s", lab - floor),
                ]
            }),
    ));
    md.push('\n');
}

pub fn markdown(bench: &BenchReport) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# journal-lab bench, {}\n", bench.date);
    let _ = writeln!(
        md,
        "Machine: {} CPUs, {:.1} GiB; Docker engine {}; release {}; journal-lab {}. Measured with `journal-lab bench` (`cargo xtask bench`).\n",
        bench.machine.cpus,
        mib(bench.machine.memory_bytes) / 1024.0,
        bench.machine.engine,
        bench.release,
        bench.harness_version
    );
    if let Some(gate) = &bench.gate {
        md.push_str(&crate::report::regression::markdown(gate));
    }
    let h = &bench.happy_path;
    let _ = writeln!(md, "## Happy path: 1 server + 3 clients, warm images\n");
    let _ = writeln!(
        md,
        "{} runs: median **{:.2}s**, min {:.2}s, max {:.2}s; every marker delivered: {}.\n",
        h.runs.len(),
        h.median(),
        quantile(&h.runs, 0.0),
        quantile(&h.runs, 1.0),
        if h.all_delivered { "yes" } else { "NO" }
    );
    if !h.to_delivered.is_empty() {
        let _ = writeln!(
            md,
            "Every marker on the server (from the start of the run): median **{:.2}s**, min {:.2}s, max {:.2}s. The rest of each run is the checks, the conformance profile, the reports and removing the lab.\n",
            h.median_to_delivered(),
            quantile(&h.to_delivered, 0.0),
            quantile(&h.to_delivered, 1.0),
        );
    }
    let _ = writeln!(md, "Median phases: {}.\n", phase_line(&h.phases));
    if !bench.scale.is_empty() {
        md.push_str("## Scale\n\n");
        md.push_str(&crate::report::render::md_table(
            &[
                "clients",
                "wall",
                "delivery floor",
                "lab / delivery floor",
                "all delivered at",
                "delivered",
                "container memory",
                "phases",
            ],
            bench.scale.iter().map(|p| {
                vec![
                    p.clients.to_string(),
                    format!("{:.1}s", p.seconds),
                    if p.delivery_floor_seconds.is_empty() {
                        "—".to_string()
                    } else {
                        format!("{:.1}s", quantile(&p.delivery_floor_seconds, 0.5))
                    },
                    against_delivery_goal(p.over_delivery_floor(), p.clients),
                    p.to_delivered
                        .map_or("never".to_string(), |s| format!("{s:.1}s")),
                    format!("{}/{}", p.delivered, p.clients),
                    format!("{:.0} MiB", mib(p.container_memory_bytes)),
                    phase_line(&p.phases),
                ]
            }),
        ));
        md.push('\n');
    }
    if let Some(suite) = &bench.suite {
        let _ = writeln!(
            md,
            "## The test suite\n\nThe last full `cargo xtask test` of this checkout ({}): {} passed, {} failed, in **{:.0} s** of tests, {} at a time (its build before them not included).{}\n",
            suite.finished,
            suite.passed,
            suite.failed,
            suite.wall_seconds,
            suite.jobs,
            if suite.slowest.is_empty() {
                String::new()
            } else {
                format!(
                    " Slowest: {}.",
                    suite
                        .slowest
                        .iter()
                        .map(|(name, s)| format!("{name} {s:.0} s"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        );
    }
    if let Some(l) = &bench.latency {
        let _ = writeln!(md, "## Delivery latency\n");
        let _ = writeln!(
            md,
            "{} clients × {} messages: {}/{} delivered; latency p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms; {:.0} messages/s ingested (first send to last seen, {:.2}s). Latency is from the client's own journal timestamp of each message (a `workload` step, through journald) to the harness first seeing it on the server, so it includes up to one poll interval ({} ms) and one `journalctl` read.\n",
            l.hosts, l.per_host, l.delivered, l.sent, l.latency_p50_ms, l.latency_p99_ms, l.latency_max_ms, l.messages_per_second, l.seconds, l.poll_interval_ms
        );
    }
    for (title, s) in [
        ("Seed scenarios", &bench.scenarios),
        ("Seed scenarios across releases", &bench.matrix),
    ] {
        let Some(s) = s else { continue };
        let _ = writeln!(
            md,
            "## {title}\n\nAll {} runs on {}, {} at a time: {:.1}s ({} harness errors).\n",
            s.scenarios, s.release, s.jobs, s.seconds, s.harness_errors
        );
        if !s.each.is_empty() {
            md.push_str(&crate::report::render::md_table(
                &["scenario", "wall time", "delivery settled after logging"],
                s.each.iter().map(|e| {
                    vec![
                        e.name.clone(),
                        format!("{:.1}s", e.seconds),
                        e.settled_after_seconds
                            .map_or("—".to_string(), |t| format!("{t:.2}s")),
                    ]
                }),
            ));
        }
    }
    if !bench.versus.is_empty() {
        let _ = writeln!(
            md,
            "## Against a hand-written script\n\n`cargo xtask lab --clients N` against \
             `src/bench/peer.sh` (the Netdata guide's steps by hand with docker: openssl \
             certificates, containers booted one by one, `docker cp`, the two config files, the \
             units restarted, a marker grepped for) and the delivery floor \
             (`src/bench/delivery_floor.sh`: the least any tool can do to show delivery, all at \
             once), whole process each, in turn in one sitting; medians. The lab checks and \
             reports far more than either.\n"
        );
        md.push_str(&crate::report::render::md_table(
            &[
                "clients",
                "journal-lab",
                "peer",
                "ratio",
                "goal",
                "engine floor",
                "lab / floor",
                "delivery floor",
                "lab / delivery floor",
                "runs (lab/peer)",
                "failed runs",
            ],
            bench.versus.iter().map(|v| {
                let ratio = v.ratio();
                let median = |runs: &[f64], m: f64| {
                    if runs.is_empty() {
                        "—".to_string()
                    } else {
                        format!("{m:.2}s")
                    }
                };
                vec![
                    format!("1+{}", v.clients),
                    median(&v.lab_seconds, v.lab_median()),
                    median(&v.peer_seconds, v.peer_median()),
                    ratio.map_or("—".into(), |r| format!("{r:.2}")),
                    match (v.goal_ratio, v.goal_met()) {
                        (Some(goal), Some(true)) => format!("≤ {goal}: met"),
                        (Some(goal), Some(false)) => format!("≤ {goal}: **MISSED**"),
                        (Some(goal), None) => format!("≤ {goal}: not measured (runs failed)"),
                        (None, _) => "—".into(),
                    },
                    median(&v.floor_seconds, quantile(&v.floor_seconds, 0.5)),
                    v.over_floor().map_or("—".into(), |r| format!("{r:.2}")),
                    median(
                        &v.delivery_floor_seconds,
                        quantile(&v.delivery_floor_seconds, 0.5),
                    ),
                    against_delivery_goal(v.over_delivery_floor(), v.clients),
                    format!("{}/{}", v.lab_seconds.len(), v.peer_seconds.len()),
                    v.failures.len().to_string(),
                ]
            }),
        ));
        for failure in bench.versus.iter().flat_map(|v| &v.failures) {
            let _ = writeln!(md, "- failed: {failure}");
        }
        md.push('\n');
    }
    where_the_time_goes(&mut md, bench);
    if !bench.capacity.is_empty() {
        let _ = writeln!(
            md,
            "## Server capacity\n\nN clients log flat out (400-byte messages, bounded in count) \
             into one journal-remote, all on this machine: the clients compete with the server \
             for its CPUs, so this is a lower bound for a server of the same size. Latency is \
             the worst client's; CPU and peak memory are journal-remote's own process.\n"
        );
        md.push_str(&crate::report::render::md_table(
            &[
                "clients",
                "delivered",
                "messages/s",
                "MiB/s",
                "p50",
                "p99",
                "journal-remote CPU",
                "peak RSS",
                "gone bad",
            ],
            bench.capacity.iter().map(|c| {
                vec![
                    c.clients.to_string(),
                    format!("{}/{}", c.burst.delivered, c.burst.sent),
                    format!("{:.0}", c.burst.messages_per_second),
                    format!("{:.2}", c.mib_per_second),
                    format!("{:.0} ms", c.burst.latency_p50_ms),
                    format!("{:.0} ms", c.burst.latency_p99_ms),
                    format!("{:.1} s", c.server_cpu_seconds),
                    format!("{:.0} MiB", mib(c.server_peak_rss_bytes)),
                    c.gone_bad.clone().unwrap_or_else(|| "no".into()),
                ]
            }),
        ));
        match bench.capacity.iter().find(|c| c.gone_bad.is_some()) {
            Some(c) => {
                let _ = writeln!(
                    md,
                    "\nFirst point gone bad: {} clients ({}).\n",
                    c.clients,
                    c.gone_bad.as_deref().unwrap_or_default()
                );
            }
            None => {
                let _ = writeln!(
                    md,
                    "\nNo point went bad (no loss, p99 under the bound) up to {} clients.\n",
                    bench.capacity.last().map_or(0, |c| c.clients)
                );
            }
        }
    }
    if let Some(cold) = bench.cold_start_seconds {
        let _ = writeln!(
            md,
            "## Cold start\n\nNo image to first run.json (image build included): {cold:.1}s.\n"
        );
    }
    md
}

//! journal-lab against the hand-written peer (`src/bench/peer.sh`: the Netdata guide's steps by
//! hand with docker), whole process against whole process, alternating in one sitting so both
//! see the same machine. The lab is run as its own CLI (`cargo xtask lab`'s binary), so process
//! start, image check, certificates, boot, configuration, checks, reports and teardown all count.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::domain::Role;
use crate::engine::Engine;
use crate::errors::{Error, Result};
use crate::images::ImageSpec;
use crate::lab::{Deadlines, HostSpec, Lab};
use crate::report::bench::VersusPoint;
use crate::report::quantile;
use crate::report::Phase;
use crate::{Progress, Say};

/// The peer, embedded: the bench runs exactly the script shipped in the repo.
pub const PEER_SCRIPT: &str = include_str!("peer.sh");

/// The delivery floor, embedded likewise.
pub const DELIVERY_FLOOR_SCRIPT: &str = include_str!("delivery_floor.sh");

/// The delivery floor of 1 + `clients` hosts of `image`, timed (the script as `scratch` holds
/// it, see [`write_scripts`]): seconds, or the failure with its last words.
pub async fn delivery_floor(
    scratch: &Path,
    image: &ImageSpec,
    clients: usize,
) -> Result<(f64, Option<String>, Vec<Phase>)> {
    let args = vec![
        scratch.join("delivery_floor.sh").display().to_string(),
        image.reference(),
        clients.to_string(),
    ];
    let (seconds, failure, _, stderr) = timed_with_stderr("bash", &args).await?;
    Ok((seconds, failure, floor_phases(&stderr, seconds)))
}

/// The delivery floor's phases from its `floor-phase NAME AT` marks (seconds since its start)
/// and its whole time: each phase from the mark before; the rest is removing what it made.
fn floor_phases(stderr: &str, total: f64) -> Vec<Phase> {
    let mut phases = Vec::new();
    let mut before = 0.0;
    for line in stderr.lines() {
        let mut words = line.split_whitespace();
        if words.next() != Some("floor-phase") {
            continue;
        }
        let (Some(name), Some(Ok(at))) = (words.next(), words.next().map(str::parse::<f64>)) else {
            continue;
        };
        let name = match name {
            "certificates" => "certificates",
            "started" => "hosts created, files in, booted",
            "configured" => "units started, markers logged",
            "delivered" => "every marker on the server",
            _ => continue,
        };
        phases.push(Phase {
            name: name.to_string(),
            seconds: (at - before).max(0.0),
        });
        before = at;
    }
    if !phases.is_empty() {
        phases.push(Phase {
            name: "removed".to_string(),
            seconds: (total - before).max(0.0),
        });
    }
    phases
}

/// The scripts the bench runs, written to `scratch`.
pub fn write_scripts(scratch: &Path) -> Result<()> {
    for (name, text) in [
        ("peer.sh", PEER_SCRIPT),
        ("delivery_floor.sh", DELIVERY_FLOOR_SCRIPT),
    ] {
        let path = scratch.join(name);
        std::fs::write(&path, text).map_err(Error::io("writing", &path))?;
    }
    Ok(())
}

/// The goals (#14): the lab's median over the peer's, per client count.
pub fn goal_for(clients: usize) -> Option<f64> {
    match clients {
        3 => Some(0.5),
        25 => Some(0.3),
        _ => None,
    }
}

/// Any one process of either side may take this long before it counts as failed.
const PROCESS_DEADLINE: Duration = Duration::from_secs(600);

/// Runs `program args` to completion, timed; a non-zero exit is a failure with its last words.
/// Also returns the lines of its stderr that say a network was left, which a bench must pass on
/// even from a run that succeeded.
async fn timed(program: &str, args: &[String]) -> Result<(f64, Option<String>, Vec<String>)> {
    let (seconds, failure, left, _) = timed_with_stderr(program, args).await?;
    Ok((seconds, failure, left))
}

/// As [`timed`], with the whole of what it wrote to stderr.
async fn timed_with_stderr(
    program: &str,
    args: &[String],
) -> Result<(f64, Option<String>, Vec<String>, String)> {
    let clock = Instant::now();
    let child = crate::stderr_piped(program, args)
        .spawn()
        .map_err(|e| Error::InvalidSettings(format!("cannot start {program}: {e}")))?;
    let output = tokio::time::timeout(PROCESS_DEADLINE, child.wait_with_output())
        .await
        .map_err(|_| {
            Error::InvalidSettings(format!(
                "{program} {} did not finish within {} s",
                args.join(" "),
                PROCESS_DEADLINE.as_secs()
            ))
        })?
        .map_err(|e| Error::InvalidSettings(format!("waiting for {program}: {e}")))?;
    let seconds = clock.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let left = stderr
        .lines()
        .filter(|line| line.contains(crate::lab::LEFT_NETWORK))
        .map(str::to_string)
        .collect();
    let failure = (!output.status.success()).then(|| {
        let tail: Vec<&str> = stderr.lines().rev().take(3).collect();
        format!(
            "{} ({})",
            output.status,
            tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
        )
    });
    Ok((seconds, failure, left, stderr.into_owned()))
}

/// The engine's floor for 1 + `clients` hosts: bare hosts of the image (no certificates, no
/// configuration, nothing checked) created, started, waited for until systemd runs, and removed,
/// through the same API calls as a lab. No harness on this engine goes under it.
async fn engine_floor(
    engine: &Engine,
    image: &ImageSpec,
    clients: usize,
    progress: &Progress,
) -> Result<f64> {
    let clock = Instant::now();
    let mut lab = Lab::create(engine.clone(), &crate::lab::new_run_id(), false).await?;
    let specs: Vec<HostSpec> = (0..=clients)
        .map(|i| match i {
            0 => HostSpec::bare("server", Role::Server, image.clone()),
            _ => HostSpec::bare(format!("client{i}"), Role::Client, image.clone()),
        })
        .collect();
    let booted = lab.boot(&specs, Deadlines::default().boot).await;
    crate::lab::say_left_networks(progress, lab.teardown().await?);
    booted?;
    Ok(clock.elapsed().as_secs_f64())
}

/// `runs` alternating pairs per client count: lab first on even runs, the peer first on odd;
/// and the engine's floor once per run.
pub async fn measure(
    engine: &Engine,
    image_spec: &ImageSpec,
    lab_command: &[String],
    sizes: &[usize],
    runs: usize,
    scratch: &Path,
    progress: &Progress,
) -> Result<Vec<VersusPoint>> {
    let (lab_program, lab_args) = lab_command
        .split_first()
        .ok_or_else(|| Error::InvalidSettings("no lab command to measure".into()))?;
    write_scripts(scratch)?;
    let peer = scratch.join("peer.sh");
    let mut points = Vec::new();
    for &clients in sizes {
        progress.news(format!(
            "versus the hand-written peer: 1+{clients}, {runs} alternating runs each"
        ));
        let mut lab_args = lab_args.to_vec();
        lab_args.extend([
            "--clients".into(),
            clients.to_string(),
            "--release".into(),
            image_spec.release.clone(),
            "--reports".into(),
            scratch.join("reports").display().to_string(),
        ]);
        let peer_args = vec![
            peer.display().to_string(),
            image_spec.reference(),
            clients.to_string(),
        ];
        let mut point = VersusPoint {
            clients,
            lab_seconds: Vec::new(),
            peer_seconds: Vec::new(),
            failures: Vec::new(),
            goal_ratio: goal_for(clients),
            floor_seconds: Vec::new(),
            delivery_floor_seconds: Vec::new(),
            delivery_floor_phases: Vec::new(),
        };
        let mut floor_samples = Vec::new();
        for run in 0..runs.max(1) {
            let floor = engine_floor(engine, image_spec, clients, progress).await?;
            progress.news(format!(
                "  1+{clients} run {}: engine floor {floor:.2}s",
                run + 1
            ));
            point.floor_seconds.push(floor);
            // Each side first in turn.
            let mut sides = ["lab", "peer", "delivery floor"];
            sides.rotate_left(run % 3);
            for side in sides {
                let (seconds, failure, left) = match side {
                    "lab" => timed(lab_program, &lab_args).await?,
                    "peer" => timed("bash", &peer_args).await?,
                    _ => {
                        let (seconds, failure, phases) =
                            delivery_floor(scratch, image_spec, clients).await?;
                        floor_samples.push(phases);
                        (seconds, failure, Vec::new())
                    }
                };
                progress.news(format!(
                    "  1+{clients} run {}: {side} {seconds:.2}s{}",
                    run + 1,
                    failure
                        .as_deref()
                        .map_or(String::new(), |f| format!(" FAILED: {f}"))
                ));
                for line in left {
                    progress.warning(format!("1+{clients} run {} ({side}): {line}", run + 1));
                }
                match (side, failure) {
                    (_, Some(f)) => point.failures.push(format!("{side} run {}: {f}", run + 1)),
                    ("lab", None) => point.lab_seconds.push(seconds),
                    ("peer", None) => point.peer_seconds.push(seconds),
                    _ => point.delivery_floor_seconds.push(seconds),
                }
            }
        }
        point.delivery_floor_phases = crate::bench::median_phases(&floor_samples);
        points.push(point);
    }
    Ok(points)
}

impl VersusPoint {
    pub fn lab_median(&self) -> f64 {
        quantile(&self.lab_seconds, 0.5)
    }

    pub fn peer_median(&self) -> f64 {
        quantile(&self.peer_seconds, 0.5)
    }

    /// The lab's median over the peer's (None without a successful run on both sides).
    pub fn ratio(&self) -> Option<f64> {
        (!self.lab_seconds.is_empty() && !self.peer_seconds.is_empty() && self.peer_median() > 0.0)
            .then(|| self.lab_median() / self.peer_median())
    }

    /// The lab's median over the engine floor's (None without both).
    pub fn over_floor(&self) -> Option<f64> {
        let floor = quantile(&self.floor_seconds, 0.5);
        (!self.lab_seconds.is_empty() && floor > 0.0).then(|| self.lab_median() / floor)
    }

    /// The lab's median over the delivery floor's (None without both).
    pub fn over_delivery_floor(&self) -> Option<f64> {
        let floor = quantile(&self.delivery_floor_seconds, 0.5);
        (!self.lab_seconds.is_empty() && floor > 0.0).then(|| self.lab_median() / floor)
    }

    /// Whether the goal is met; None where there is no goal or no ratio.
    pub fn goal_met(&self) -> Option<bool> {
        Some(self.ratio()? <= self.goal_ratio?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A lab run as a process that left a network says so, and the bench passes it on from a run
    /// that succeeded too: those lines only.
    #[tokio::test]
    async fn a_timed_process_passes_on_the_networks_it_left() {
        let script = format!(
            "echo 'progress line' >&2; echo 'warning: network jl-x{}stale endpoint' >&2",
            crate::lab::LEFT_NETWORK
        );
        let (_, failure, left) = timed("sh", &["-c".to_string(), script]).await.unwrap();
        assert!(failure.is_none());
        assert_eq!(left, ["warning: network jl-x was left: stale endpoint"]);
    }

    fn point(clients: usize, lab: &[f64], peer: &[f64]) -> VersusPoint {
        VersusPoint {
            clients,
            lab_seconds: lab.to_vec(),
            peer_seconds: peer.to_vec(),
            failures: Vec::new(),
            goal_ratio: goal_for(clients),
            floor_seconds: vec![1.0],
            delivery_floor_seconds: vec![2.0],
            delivery_floor_phases: Vec::new(),
        }
    }

    #[test]
    fn the_ratio_is_of_medians_and_the_goal_is_judged_on_it() {
        let met = point(3, &[2.0, 1.0, 9.0], &[4.0, 5.0, 4.5]);
        assert_eq!(met.ratio(), Some(2.0 / 4.5));
        assert_eq!(met.goal_met(), Some(true));
        let missed = point(25, &[10.0, 11.0, 12.0], &[20.0, 22.0, 24.0]);
        assert_eq!(missed.goal_met(), Some(false), "0.5 > 0.3");
        assert_eq!(point(10, &[1.0], &[2.0]).goal_met(), None, "no goal at 10");
        assert_eq!(point(3, &[], &[2.0]).ratio(), None, "no successful lab run");
        assert_eq!(point(3, &[], &[2.0]).goal_met(), None);
    }

    #[test]
    fn the_peer_does_the_guide_and_cleans_up_after_itself() {
        for step in [
            "openssl req -x509",
            "docker cp",
            "/etc/systemd/\\$conf.conf",
            "systemctl enable --now systemd-journal-remote.socket",
            "Restart=always",
            "systemctl restart systemd-journal-upload.service",
            "URL=https://server:19532",
            "trap cleanup EXIT INT TERM",
            "--filter \"label=journal-lab.peer=$id\"",
        ] {
            assert!(PEER_SCRIPT.contains(step), "{step}");
        }
        let code: Vec<&str> = PEER_SCRIPT
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .collect();
        assert!(code.iter().all(|l| !l.contains("--privileged")));
        assert!(
            code.iter().all(|l| !l.contains("--cgroupns=host")),
            "a peer host must not reach other containers' cgroups"
        );
    }

    /// The floor's marks make its phases, each from the mark before; what follows the last is
    /// the removal; other stderr lines are passed over.
    #[test]
    fn the_delivery_floors_marks_are_its_phases() {
        let stderr = "floor-phase certificates 0.120\nnoise\nfloor-phase started 1.020\n\
                      floor-phase configured 1.520\nfloor-phase delivered 1.770\n";
        let phases = floor_phases(stderr, 2.27);
        let seen: Vec<(&str, String)> = phases
            .iter()
            .map(|p| (p.name.as_str(), format!("{:.2}", p.seconds)))
            .collect();
        assert_eq!(
            seen,
            [
                ("certificates", "0.12".to_string()),
                ("hosts created, files in, booted", "0.90".to_string()),
                ("units started, markers logged", "0.50".to_string()),
                ("every marker on the server", "0.25".to_string()),
                ("removed", "0.50".to_string()),
            ]
        );
        assert!(floor_phases("a failure\n", 1.0).is_empty());
    }

    /// The delivery floor does only what delivery needs, everything at once: files copied in
    /// before boot, hosts created and started together, one read on the server, and it removes
    /// what it made.
    #[test]
    fn the_delivery_floor_boots_at_once_with_its_files_and_cleans_up() {
        let script = DELIVERY_FLOOR_SCRIPT;
        let copied = script
            .find("docker cp \"$work/$host/.\"")
            .expect("files copied in");
        let started = script.find("docker start").expect("hosts started");
        assert!(copied < started, "the files are in before the host boots");
        for step in [
            "openssl req -x509",
            "wait_all \"${pids[@]}\"",
            "systemctl start systemd-journal-remote.socket",
            "systemctl start systemd-journal-upload.service",
            "URL=https://server:19532",
            "trap cleanup EXIT INT TERM",
            "--filter \"label=journal-lab.floor=$id\"",
        ] {
            assert!(script.contains(step), "{step}");
        }
        // One exec reads the server, however long delivery takes.
        assert_eq!(script.matches("docker exec \"server.$id\"").count(), 1);
        let code: Vec<&str> = script
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .collect();
        assert!(code.iter().all(|l| !l.contains("--privileged")));
        assert!(code.iter().all(|l| !l.contains("--cgroupns=host")));
    }

    #[tokio::test]
    async fn a_failing_process_is_a_failure_with_its_last_words() {
        let (_, failure, _) = timed(
            "sh",
            &["-c".into(), "echo one >&2; echo two >&2; exit 3".into()],
        )
        .await
        .unwrap();
        let failure = failure.unwrap();
        assert!(
            failure.contains("3") && failure.contains("one / two"),
            "{failure}"
        );
        let (_, ok, _) = timed("true", &[]).await.unwrap();
        assert!(ok.is_none());
        assert!(timed("/nonexistent/program", &[]).await.is_err());
    }
}

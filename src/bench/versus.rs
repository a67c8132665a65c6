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
use crate::{Progress, Say};

/// The peer, embedded: the bench runs exactly the script shipped in the repo.
pub const PEER_SCRIPT: &str = include_str!("peer.sh");

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
    Ok((seconds, failure, left))
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
    let peer = scratch.join("peer.sh");
    std::fs::write(&peer, PEER_SCRIPT).map_err(Error::io("writing", &peer))?;
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
        };
        for run in 0..runs.max(1) {
            let floor = engine_floor(engine, image_spec, clients, progress).await?;
            progress.news(format!(
                "  1+{clients} run {}: engine floor {floor:.2}s",
                run + 1
            ));
            point.floor_seconds.push(floor);
            let lab_first = run % 2 == 0;
            for side in if lab_first {
                ["lab", "peer"]
            } else {
                ["peer", "lab"]
            } {
                let (seconds, failure, left) = if side == "lab" {
                    timed(lab_program, &lab_args).await?
                } else {
                    timed("bash", &peer_args).await?
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
                    _ => point.peer_seconds.push(seconds),
                }
            }
        }
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

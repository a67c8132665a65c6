//! A host's life on its engine: created (labelled before anything else happens to it), its
//! staged archive copied in, started, waited for until systemd is up (or why not said), and
//! restarted as a machine would be.

use std::time::Duration;

use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{CreateContainerOptions, UploadToContainerOptions};

use super::container::{stage_archive, systemd_host_config};
use super::{observe, shell_wait, Host, HostSpec, Lab, BOOT_COMMAND};
use crate::domain::RestartMode;
use crate::engine;
use crate::errors::{Error, Result};

impl Lab {
    /// Creates the host's container (labelled with the run before anything else happens to it),
    /// copies its staged archive in, starts it, and waits for systemd.
    pub(super) async fn start_host(
        &self,
        spec: &HostSpec,
        memory: i64,
        deadline: Duration,
    ) -> Result<Host> {
        let container_name = format!("{}.{}", spec.name, self.run_id);
        let engine = &self.engines[spec.engine];
        let mut labels = self.labels.clone();
        labels.push(("journal-lab.host".to_string(), spec.name.clone()));
        let body = ContainerCreateBody {
            image: Some(spec.image.reference()),
            hostname: Some(spec.name.clone()),
            cmd: Some(vec!["/bin/sh".into(), "-c".into(), BOOT_COMMAND.into()]),
            labels: Some(labels.into_iter().collect()),
            exposed_ports: {
                let ports: Vec<String> = spec
                    .publish
                    .into_iter()
                    .chain(spec.publish_across.map(|(_, port)| port))
                    .map(|port| format!("{port}/tcp"))
                    .collect();
                (!ports.is_empty()).then_some(ports)
            },
            host_config: Some(systemd_host_config(
                &self.run_id,
                memory,
                spec.publish,
                spec.publish_across,
            )),
            ..Default::default()
        };
        let started = async {
            let options = CreateContainerOptions {
                name: Some(container_name.clone()),
                ..Default::default()
            };
            let id = engine
                .docker()
                .create_container(Some(options), body)
                .await?
                .id;
            if let Some(stage) = &spec.stage {
                // One archive per host, copied in between create and start.
                let options = UploadToContainerOptions {
                    path: "/".into(),
                    ..Default::default()
                };
                engine
                    .docker()
                    .upload_to_container(
                        &id,
                        Some(options),
                        bollard::body_full(stage_archive(stage).into()),
                    )
                    .await?;
            }
            engine.docker().start_container(&id, None).await?;
            Ok::<_, bollard::errors::Error>(id)
        };
        let id = tokio::time::timeout(deadline, started)
            .await
            .map_err(|_| Error::Timeout {
                what: format!("the engine to create and start {container_name}"),
                waited: deadline,
                last_seen: "no answer".into(),
            })?
            .map_err(|source| Error::ContainerStart {
                name: container_name.clone(),
                source,
            })?;
        let (ip, published) = engine.addresses(&id, &self.run_id, spec.publish).await?;
        let host = Host {
            name: spec.name.clone(),
            role: spec.role,
            container_name,
            ip,
            published,
            engine: spec.engine,
            reachable_at: spec.publish_across.map(|(address, _)| address),
            id,
        };
        self.wait_for_systemd(&host, deadline).await?;
        Ok(host)
    }

    async fn wait_for_systemd(&self, host: &Host, deadline: Duration) -> Result<()> {
        let what = format!(
            "systemd on {} to finish booting (`systemctl is-system-running`)",
            host.name
        );
        // `--wait` blocks until boot is over; before systemd's socket exists it fails at once, so
        // the shell retries every 20 ms: one exec per host, not one per try.
        let probe = shell_wait(
            "s=$(systemctl is-system-running --wait 2>/dev/null); case \"$s\" in running|degraded) true;; *) false;; esac",
            deadline,
        ) + "; echo \"${s:-no answer from systemd}\"";
        let result = engine::poll(&what, deadline, || async {
            let output = self
                .engine_of(host)
                .exec(host.id(), &probe, deadline + Duration::from_secs(5))
                .await;
            Ok(match output {
                Ok(out) => match out.stdout.trim() {
                    "running" | "degraded" => Ok(()),
                    state => Err(format!("state {state:?}")),
                },
                // Exec fails while systemd has not set up the container yet, or when it died.
                Err(e) => Err(e.to_string()),
            })
        })
        .await;
        if let Err(cause) = &result {
            if let Some(exited) = self.diagnose_exit(host).await {
                return Err(exited);
            }
            // Still running, but not up: what failed is the evidence a user needs.
            if let Ok(out) = self
                .engine_of(host)
                .exec(
                    host.id(),
                    observe::FAILED_UNITS_COMMAND,
                    Duration::from_secs(15),
                )
                .await
            {
                if !out.stdout.trim().is_empty() {
                    return Err(Error::HostNotUp {
                        host: host.name.clone(),
                        cause: cause.to_string(),
                        evidence: out.stdout,
                    });
                }
            }
        }
        result
    }

    /// If the host's container stopped (systemd refusing this cgroup layout, say), an error that
    /// says so with the container's last output; None if it is still running.
    async fn diagnose_exit(&self, host: &Host) -> Option<Error> {
        let inspected = self
            .engine_of(host)
            .docker()
            .inspect_container(host.id(), None)
            .await
            .ok()?;
        let state = inspected.state?;
        if state.running == Some(true) {
            return None;
        }
        let logs = self.engine_of(host).output_log(host.id()).await;
        let tail: Vec<&str> = logs
            .lines()
            .rev()
            .take(15)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        Some(Error::HostCommand {
            host: host.name.clone(),
            command: "/lib/systemd/systemd (PID 1)".into(),
            exit_code: state.exit_code.unwrap_or(-1),
            output: format!(
                "the container stopped while booting; its last output:\n{}\n({})",
                tail.join("\n"),
                boot_failure_hint(super::cgroup_layout())
            ),
        })
    }

    /// Restarts a host's container (systemd boots again) and waits until systemd is up. Not the
    /// engine's restart: its stop sends SIGTERM, which systemd as PID 1 ignores, and kills only
    /// after 10 s; systemd halts on SIGRTMIN+3 in well under a second.
    pub async fn restart(&self, host: &Host, how: RestartMode, deadline: Duration) -> Result<()> {
        let engine = self.engine_of(host);
        match how {
            RestartMode::Halt => engine.halt(host.id(), &host.name).await?,
            RestartMode::PowerCut => engine.stop_now(host.id()).await,
        }
        engine
            .docker()
            .start_container(host.id(), None)
            .await
            .map_err(crate::errors::Error::docker(format!(
                "starting {} again",
                host.name
            )))?;
        self.wait_for_systemd(host, deadline).await
    }
}

/// What to look at when a host's systemd stopped while booting, on this machine's cgroup layout.
pub(super) fn boot_failure_hint(layout: super::CgroupLayout) -> &'static str {
    match layout {
        super::CgroupLayout::LegacyV1 => {
            "this machine has cgroup v1 only, which systemd >= 258 refuses: boot it on a machine \
             with the cgroup2 tree, hybrid or pure v2"
        }
        super::CgroupLayout::Hybrid | super::CgroupLayout::PureV2 => {
            "systemd's own words are above; a line from journal-lab says what it could not set up \
             (the cgroup2 mount it needs, a boot ID of its own)"
        }
    }
}

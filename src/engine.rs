//! The Docker engine as the lab sees it (bollard, directly): connecting (with a clear error when
//! there is none), running commands in hosts, networks, and sweeping away what a run left behind.
//! Creating and starting a lab's hosts is `lab`'s (it knows how systemd must run).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bollard::{
    self,
    exec::{CreateExecOptions, StartExecResults},
    models::NetworkCreateRequest,
    query_parameters::{ListContainersOptions, ListNetworksOptions, RemoveContainerOptions},
    Docker,
};
use futures::StreamExt;

use crate::errors::{Error, Result};
use crate::owner::{self, KEPT_LABEL, OWNER_LABEL, USER_LABEL};

/// Label carried by every container and network the lab creates; the value is the run id.
pub const RUN_LABEL: &str = "journal-lab.run";

/// How long a killed container may take to stop.
const STOP_DEADLINE: Duration = Duration::from_secs(30);

/// Container removals sent to the engine at once.
pub const REMOVALS_IN_FLIGHT: usize = 16;

/// How long connecting to the engine may take before we call it unreachable.
const PING_DEADLINE: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct Engine {
    docker: Docker,
    endpoint: String,
    /// Its name in the lab (`--engine NAME=URL`; `default` for the one DOCKER_HOST names).
    name: String,
}

pub use crate::domain::ExecOutput;

mod connect;
mod containers;
mod networks;
mod transfer;
pub use networks::{Removal, STALE_FIX};

/// The labels every container and network of a run carries: its id, its owner (this process),
/// and whether it is kept on purpose.
pub fn run_labels(run_id: &str, kept: bool) -> Vec<(String, String)> {
    vec![
        (RUN_LABEL.to_string(), run_id.to_string()),
        (OWNER_LABEL.to_string(), owner::this_process().to_string()),
        (KEPT_LABEL.to_string(), kept.to_string()),
        (USER_LABEL.to_string(), owner::this_user().to_string()),
    ]
}

/// The label saying where a run's reports go (an absolute path), for `ls` from anywhere.
pub const REPORTS_LABEL: &str = "journal-lab.reports";

/// The label naming a lab brought up with `cargo xtask up --name`.
pub const NAME_LABEL: &str = "journal-lab.name";

/// The label a lab over several engines carries on every engine: each engine as `NAME=URL`,
/// space-separated, so that `clean` and `down` of the run reach all of them from any one.
pub const ENGINES_LABEL: &str = "journal-lab.engines";

/// A run as the engine shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOnEngine {
    pub id: String,
    /// The owner label ([`owner::this_process`] of the process that started it).
    pub owner: Option<String>,
    /// Started with `--keep`.
    pub kept: bool,
    /// The name it was brought up under (`cargo xtask up --name`).
    pub name: Option<String>,
    /// Who started it (`uid@host`, [`owner::this_user`]); None for runs of older versions.
    pub user: Option<String>,
    /// Containers and networks it has.
    pub objects: usize,
    /// The engines it spreads over (its [`ENGINES_LABEL`]), as (name, URL); empty for a lab
    /// on one engine.
    pub engines: Vec<(String, String)>,
    /// Where its reports go ([`REPORTS_LABEL`]).
    pub reports: Option<String>,
}

impl RunOnEngine {
    /// A run by id, before anything of it is seen (no owner, no objects).
    pub fn unseen(id: &str) -> RunOnEngine {
        RunOnEngine {
            id: id.to_string(),
            owner: None,
            kept: false,
            name: None,
            user: None,
            objects: 0,
            engines: Vec::new(),
            reports: None,
        }
    }
}

/// What `sweep` removed.
#[derive(Debug, Default, Clone)]
pub struct Swept {
    pub containers: Vec<String>,
    pub networks: Vec<String>,
    /// Networks the engine keeps a stale endpoint on (nothing of the run is on them), with why.
    pub stale_networks: Vec<(String, String)>,
}

impl Engine {
    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Runs `script` with `sh -c` in `container`, waiting at most `deadline`.
    /// A non-zero exit is *not* an error here: callers decide what an exit code means.
    pub async fn exec(
        &self,
        container: &str,
        script: &str,
        deadline: Duration,
    ) -> Result<ExecOutput> {
        let what = format!("`{}` on {container}", first_line(script));
        match tokio::time::timeout(deadline, self.exec_inner(container, script)).await {
            Ok(result) => result,
            Err(_) => Err(Error::Timeout {
                what,
                waited: deadline,
                last_seen: "the command had not finished".into(),
            }),
        }
    }

    async fn exec_inner(&self, container: &str, script: &str) -> Result<ExecOutput> {
        let context = || format!("running a command in {container}");
        let created = self
            .docker
            .create_exec(
                container,
                CreateExecOptions {
                    cmd: Some(vec!["sh", "-c", script]),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..Default::default()
                },
            )
            .await
            .map_err(Error::docker(context()))?;
        let mut stdout = Vec::new();
        let mut stderr = Vec::new();
        if let StartExecResults::Attached { mut output, .. } = self
            .docker
            .start_exec(&created.id, None)
            .await
            .map_err(Error::docker(context()))?
        {
            while let Some(chunk) = output.next().await {
                match chunk.map_err(Error::docker(context()))? {
                    bollard::container::LogOutput::StdOut { message } => {
                        stdout.extend_from_slice(&message)
                    }
                    bollard::container::LogOutput::StdErr { message } => {
                        stderr.extend_from_slice(&message)
                    }
                    _ => {}
                }
            }
        }
        let inspected = self
            .docker
            .inspect_exec(&created.id)
            .await
            .map_err(Error::docker(context()))?;
        Ok(ExecOutput {
            exit_code: inspected.exit_code.unwrap_or(-1),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        })
    }

    /// Like `exec`, but a non-zero exit becomes an error carrying the command's output.
    pub async fn exec_ok(
        &self,
        container: &str,
        host: &str,
        script: &str,
        deadline: Duration,
    ) -> Result<ExecOutput> {
        let output = self.exec(container, script, deadline).await?;
        if output.success() {
            Ok(output)
        } else {
            Err(Error::HostCommand {
                host: host.to_string(),
                command: first_line(script).to_string(),
                exit_code: output.exit_code,
                output: output.combined(),
            })
        }
    }

    /// Creates the run's private bridge network, labelled like its containers ([`run_labels`]).
    pub async fn create_network(&self, name: &str, labels: Vec<(String, String)>) -> Result<()> {
        // Docker 20.10 keeps two networks of one name; a run id is unique, so one already there
        // is someone else's: refused, never shared.
        let filters =
            std::collections::HashMap::from([("name".to_string(), vec![name.to_string()])]);
        let existing = self
            .docker
            .list_networks(Some(bollard::query_parameters::ListNetworksOptions {
                filters: Some(filters),
            }))
            .await
            .map_err(Error::docker(format!("listing networks named {name}")))?;
        if existing.iter().any(|n| n.name.as_deref() == Some(name)) {
            return Err(Error::InvalidSettings(format!(
                "a network named {name} already exists on this engine: run ids are unique, so it is not this run's; try again"
            )));
        }
        let request = NetworkCreateRequest {
            name: name.to_string(),
            driver: Some("bridge".to_string()),
            labels: Some(labels.into_iter().collect()),
            ..Default::default()
        };
        self.docker
            .create_network(request)
            .await
            .map_err(Error::docker(format!("creating network {name}")))?;
        Ok(())
    }

    /// The names of a run's networks still on the engine (and of its containers).
    pub async fn leftovers(&self, run_id: &str) -> Result<(Vec<String>, Vec<String>)> {
        let (containers, networks) = self.labelled(format!("{RUN_LABEL}={run_id}")).await?;
        Ok((
            containers.into_iter().filter_map(|c| c.id).collect(),
            networks.into_iter().filter_map(|n| n.name).collect(),
        ))
    }

    /// Every container (running or not) and network carrying `label` (`key` or `key=value`).
    async fn labelled(
        &self,
        label: String,
    ) -> Result<(
        Vec<bollard::models::ContainerSummary>,
        Vec<bollard::models::Network>,
    )> {
        let filters = HashMap::from([("label".to_string(), vec![label])]);
        let containers = self
            .docker
            .list_containers(Some(ListContainersOptions {
                all: true,
                filters: Some(filters.clone()),
                ..Default::default()
            }))
            .await
            .map_err(Error::docker("listing the lab's containers"))?;
        let networks = self
            .docker
            .list_networks(Some(ListNetworksOptions {
                filters: Some(filters),
            }))
            .await
            .map_err(Error::docker("listing the lab's networks"))?;
        Ok((containers, networks))
    }

    /// The ids of every container labelled with `run_id`.
    pub async fn containers_of(&self, run_id: &str) -> Result<Vec<String>> {
        let (containers, _) = self.labelled(format!("{RUN_LABEL}={run_id}")).await?;
        Ok(containers.into_iter().filter_map(|c| c.id).collect())
    }

    /// Every run that has a container or network on the engine, with its owner and whether it
    /// was kept on purpose, sorted by run id.
    pub async fn runs(&self) -> Result<Vec<RunOnEngine>> {
        let (containers, networks) = self.labelled(RUN_LABEL.to_string()).await?;
        let mut runs: std::collections::BTreeMap<String, RunOnEngine> = Default::default();
        let labelled = containers
            .into_iter()
            .map(|c| c.labels)
            .chain(networks.into_iter().map(|n| n.labels));
        for labels in labelled.flatten() {
            let Some(id) = labels.get(RUN_LABEL) else {
                continue;
            };
            let run = runs
                .entry(id.clone())
                .or_insert_with(|| RunOnEngine::unseen(id));
            run.objects += 1;
            run.user = run.user.take().or(labels.get(USER_LABEL).cloned());
            run.owner = run.owner.take().or(labels.get(OWNER_LABEL).cloned());
            run.kept |= labels.get(KEPT_LABEL).is_some_and(|v| v == "true");
            if let Some(name) = labels.get(NAME_LABEL) {
                run.name = Some(name.clone());
            }
            if let Some(reports) = labels.get(REPORTS_LABEL) {
                run.reports = Some(reports.clone());
            }
            if let (Some(engines), true) = (labels.get(ENGINES_LABEL), run.engines.is_empty()) {
                run.engines = engines
                    .split_whitespace()
                    .filter_map(|e| e.split_once('='))
                    .map(|(name, url)| (name.to_string(), url.to_string()))
                    .collect();
            }
        }
        Ok(runs.into_values().collect())
    }

    /// Removes every container and network labelled with `run_id`: containers first
    /// (concurrently), then the networks they were on.
    /// Removes one container of run `run_id`: detached from the run's network first, stopped,
    /// removed with its volumes; one already gone counts as removed.
    pub async fn remove_from_run(&self, id: &str, run_id: &str) -> Result<()> {
        // Detached from the run's network while it still exists: Docker 20.10, loaded,
        // sometimes kept the endpoint of a container removed while attached, and then no API
        // call removes the network (only restarting the engine does).
        let _ = self.set_connected(id, run_id, false).await;
        self.stop_now(id).await;
        let options = RemoveContainerOptions {
            force: true,
            v: true,
            ..Default::default()
        };
        match self.docker.remove_container(id, Some(options)).await {
            Ok(()) => Ok(()),
            // Already gone (removed by a concurrent sweep, or by hand): that is the goal.
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(()),
            Err(e) => Err(Error::docker(format!("removing container {id}"))(e)),
        }
    }

    pub async fn sweep(&self, run_id: &str) -> Result<Swept> {
        let (containers, networks) = self.labelled(format!("{RUN_LABEL}={run_id}")).await?;
        let names: Vec<String> = containers.iter().filter_map(|c| c.id.clone()).collect();
        let removals = names.iter().map(|id| self.remove_from_run(id, run_id));
        for result in futures::stream::iter(removals)
            .buffer_unordered(REMOVALS_IN_FLIGHT)
            .collect::<Vec<_>>()
            .await
        {
            result?;
        }
        let mut swept = Swept {
            containers: containers
                .iter()
                .map(|c| {
                    c.names
                        .as_ref()
                        .and_then(|n| n.first())
                        .map(|n| n.trim_start_matches('/').to_string())
                        .unwrap_or_default()
                })
                .collect(),
            ..Default::default()
        };
        for network in networks {
            let name = network.name.unwrap_or_default();
            let id = network.id.unwrap_or_else(|| name.clone());
            match self.remove_network(&id, &name).await? {
                Removal::Removed => swept.networks.push(name),
                Removal::Stale(reason) => swept.stale_networks.push((name, reason)),
            }
        }
        Ok(swept)
    }

    /// Freezes (`docker pause`) or thaws a container.
    pub async fn set_paused(&self, container: &str, paused: bool) -> Result<()> {
        let what = format!(
            "{} {container}",
            if paused { "pausing" } else { "unpausing" }
        );
        if paused {
            self.docker.pause_container(container).await
        } else {
            self.docker.unpause_container(container).await
        }
        .map_err(Error::docker(what))
    }

    /// Connects a container to a network, or disconnects it (forcibly, as a cut cable would).
    pub async fn set_connected(
        &self,
        container: &str,
        network: &str,
        connected: bool,
    ) -> Result<()> {
        use bollard::models::{NetworkConnectRequest, NetworkDisconnectRequest};
        if connected {
            let request = NetworkConnectRequest {
                container: container.to_string(),
                endpoint_config: None,
            };
            self.docker.connect_network(network, request).await
        } else {
            let request = NetworkDisconnectRequest {
                container: container.to_string(),
                force: Some(true),
            };
            self.docker.disconnect_network(network, request).await
        }
        .map_err(Error::docker(format!(
            "{} {container} {} {network}",
            if connected {
                "connecting"
            } else {
                "disconnecting"
            },
            if connected { "to" } else { "from" }
        )))
    }

    /// Kills a container's processes (SIGKILL: systemd as PID 1 ignores SIGTERM) and waits until
    /// it has stopped. Removing a *stopped* container keeps the engine's network cleanup on the
    /// exit path from racing the removal's own: a forced removal of running containers left
    /// Docker 20.10, now and then, with a network it called in use and no containers on it.
    pub async fn stop_now(&self, container: &str) {
        use bollard::query_parameters::{KillContainerOptions, WaitContainerOptions};
        // A paused container cannot be killed: thaw it first (a `pause` fault may be in force).
        let _ = self.docker.unpause_container(container).await;
        // Gone or already stopped is fine: the point is that it is not running.
        let _ = self
            .docker
            .kill_container(
                container,
                Some(KillContainerOptions {
                    signal: "SIGKILL".into(),
                }),
            )
            .await;
        let mut stopped = self.docker.wait_container(
            container,
            Some(WaitContainerOptions {
                condition: "not-running".into(),
            }),
        );
        // Any answer (an exit status, or "no such container") means it no longer runs.
        let _ = tokio::time::timeout(STOP_DEADLINE, stopped.next()).await;
    }

    /// Halts systemd (PID 1) cleanly with SIGRTMIN+3 and waits until the container has stopped;
    /// one that does not stop within [`STOP_DEADLINE`] is an error (and is left running).
    pub async fn halt(&self, container: &str, host: &str) -> Result<()> {
        use bollard::query_parameters::{KillContainerOptions, WaitContainerOptions};
        let mut stopped = self.docker.wait_container(
            container,
            Some(WaitContainerOptions {
                condition: "not-running".into(),
            }),
        );
        self.docker
            .kill_container(
                container,
                Some(KillContainerOptions {
                    signal: "SIGRTMIN+3".into(),
                }),
            )
            .await
            .map_err(Error::docker(format!("halting {host} (SIGRTMIN+3)")))?;
        match tokio::time::timeout(STOP_DEADLINE, stopped.next()).await {
            Ok(_) => Ok(()),
            Err(_) => Err(Error::Timeout {
                what: format!("{host} to halt after SIGRTMIN+3"),
                waited: STOP_DEADLINE,
                last_seen: "its container still running".into(),
            }),
        }
    }

    /// Memory the container uses now, as `docker stats` counts it (usage less inactive file cache).
    pub async fn memory_usage(&self, container: &str) -> Result<u64> {
        use bollard::query_parameters::StatsOptions;
        let options = StatsOptions {
            stream: false,
            one_shot: true,
        };
        let mut stats = self.docker.stats(container, Some(options));
        let sample = stats
            .next()
            .await
            .transpose()
            .map_err(Error::docker(format!("reading the memory of {container}")))?;
        let memory = sample.and_then(|s| s.memory_stats);
        let usage = memory.as_ref().and_then(|m| m.usage).unwrap_or(0);
        let inactive = memory
            .and_then(|m| m.stats)
            .and_then(|s| {
                s.get("total_inactive_file")
                    .or_else(|| s.get("inactive_file"))
                    .copied()
            })
            .unwrap_or(0);
        Ok(usage.saturating_sub(inactive))
    }

    /// The address `container` has on `network`.
    /// The container's address on `network`, and the host port on 127.0.0.1 its `publish` port
    /// is published on (None if none is asked for or bound there).
    pub async fn addresses(
        &self,
        container: &str,
        network: &str,
        publish: Option<u16>,
    ) -> Result<(String, Option<u16>)> {
        let settings = self
            .docker
            .inspect_container(container, None)
            .await
            .map_err(Error::docker(format!("inspecting {container}")))?
            .network_settings;
        let ip = settings
            .as_ref()
            .and_then(|s| s.networks.as_ref())
            .and_then(|n| n.get(network))
            .and_then(|e| e.ip_address.clone())
            .unwrap_or_default();
        let published = publish.and_then(|port| {
            settings
                .as_ref()?
                .ports
                .as_ref()?
                .get(&format!("{port}/tcp"))?
                .as_ref()?
                .iter()
                .filter(|b| b.host_ip.as_deref() == Some("127.0.0.1"))
                .find_map(|b| b.host_port.as_deref()?.parse().ok())
        });
        Ok((ip, published))
    }
}

/// The first line of a script, for messages ("`sh /root/x.sh` on server").
pub fn first_line(script: &str) -> &str {
    script.trim().lines().next().unwrap_or("")
}

/// Polls `probe` with backoff (50 ms doubling to 500 ms) until it yields a value or `deadline`
/// passes. `probe` returns `Ok(Err(last_seen))` while not ready, so the timeout can say what it saw.
pub async fn poll<T, F, Fut>(what: &str, deadline: Duration, mut probe: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<std::result::Result<T, String>>>,
{
    let start = Instant::now();
    let mut delay = Duration::from_millis(50);
    loop {
        let last_seen = match probe().await? {
            Ok(value) => return Ok(value),
            Err(last_seen) => last_seen,
        };
        if start.elapsed() >= deadline {
            return Err(Error::Timeout {
                what: what.to_string(),
                waited: start.elapsed(),
                last_seen,
            });
        }
        tokio::time::sleep(delay.min(deadline.saturating_sub(start.elapsed()))).await;
        delay = (delay * 2).min(Duration::from_millis(500));
    }
}

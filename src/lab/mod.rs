//! A lab: a private network and real systemd containers on it, as one RAII value.
//!
//! Creating a [`Lab`] creates the network; [`Lab::boot`] starts every host concurrently and waits
//! until systemd in each says it is up. Dropping a `Lab` removes everything labelled with its run
//! id — on success, error, panic or Ctrl-C (the CLI drops the run's future on Ctrl-C) — unless it
//! is kept on purpose with `--keep`.

mod additions;
mod booting;
mod bring_up;
pub mod clean;
mod configure;
mod container;
pub mod converge;
mod evaluate;
pub mod fleet;
mod host_limits;
mod many;
mod observe;
mod observer;
mod options;
mod plan;
mod probes;
mod proxy;
mod pull;
mod runner;
mod staging;
mod steps;
mod verifying;

use std::time::{Duration, Instant};

#[cfg(test)]
use container::cgroup_layout_at;
pub use container::{cgroup_layout, kernel_exposure, CgroupLayout, BOOT_COMMAND};

use crate::engine::{self, Engine, ExecOutput};
use crate::errors::{Error, Result};
use crate::images::ImageSpec;
use crate::report::Role;

pub use bring_up::{connect, engines_of, save_scenario, SCENARIO_FILE};
pub use host_limits::{check_host_limits, inotify_instances_needed};
pub use many::{lab_name_of, pairs, run_many, run_pairs};
pub use plan::image_specs;
pub use runner::{
    default_scenario, run_default_lab, run_scenario, Journals, LabOptions, Outcome, RunMode,
    MAX_CLIENTS,
};

/// Deadlines for each kind of wait; each timeout names what it waited for.
#[derive(Debug, Clone)]
pub struct Deadlines {
    /// systemd reaching `running`/`degraded` in every host.
    pub boot: Duration,
    /// One configuration command on a host.
    pub command: Duration,
    /// A journal unit reporting it is ready (socket listening, "Processing input...").
    pub ready: Duration,
    /// Every marker arriving on the server.
    pub deliver: Duration,
}

impl Default for Deadlines {
    fn default() -> Self {
        Deadlines {
            boot: Duration::from_secs(90),
            command: Duration::from_secs(60),
            ready: Duration::from_secs(20),
            deliver: Duration::from_secs(30),
        }
    }
}

/// Memory limit of each host's container (a server gets more per client, see [`memory_limit`]).
pub const HOST_MEMORY_LIMIT: i64 = 256 * 1024 * 1024;
/// What a server's limit grows by for each client: its remote journal file (8 MiB, allocated as
/// it fills) lives in the page cache, which the engine charges to the container. With a flat
/// 256 MiB, a 100-client server hit its limit 10^8 times (memory.failcnt) and everything it did
/// crawled: reading its journals took minutes instead of seconds.
pub const SERVER_MEMORY_PER_CLIENT: i64 = 16 * 1024 * 1024;

/// The memory limit of a host with `role` in a lab of `clients` clients.
pub fn memory_limit(role: Role, clients: usize) -> i64 {
    match role {
        Role::Server => HOST_MEMORY_LIMIT + SERVER_MEMORY_PER_CLIENT * clients as i64,
        Role::Client | Role::Proxy => HOST_MEMORY_LIMIT,
    }
}
/// Task (pid) limit of each host's container.
pub const HOST_PIDS_LIMIT: i64 = 512;

/// A host to boot: its name (also its hostname and DNS name in the lab) and role.
#[derive(Debug, Clone)]
pub struct HostSpec {
    pub name: String,
    pub role: Role,
    pub image: ImageSpec,
    /// A tar archive of the host's files, unpacked at `/` before systemd starts; its
    /// `STAGE_DIR/provision.sh`, if any, runs then too (see [`BOOT_COMMAND`]).
    pub stage: Option<Vec<u8>>,
    /// A port to publish on 127.0.0.1 (an ephemeral host port), for the host-side protocol
    /// client; None for every host a `send` step does not name.
    pub publish: Option<u16>,
    /// The engine it goes on (an index into the lab's [`fleet::Fleet`]; 0 with one engine).
    pub engine: usize,
    /// A server whose clients are on other engines: its port published on its engine's
    /// address, at the same number (the clients' `URL=` stays as the operator wrote it).
    pub publish_across: Option<(std::net::IpAddr, u16)>,
}

impl HostSpec {
    /// A bare host on the lab's first engine: nothing staged, nothing published.
    pub fn bare(name: impl Into<String>, role: Role, image: ImageSpec) -> HostSpec {
        HostSpec {
            name: name.into(),
            role,
            image,
            stage: None,
            publish: None,
            engine: 0,
            publish_across: None,
        }
    }
}

/// What a lab's name claim container is called, before the name ([`Lab::claim_name`]).
pub const NAME_CLAIM_PREFIX: &str = "journal-lab-name-";

/// Where a host's staged archive, provisioning script and provisioning record live.
pub const STAGE_DIR: &str = "/root/journal-lab";

/// A running host.
pub struct Host {
    pub name: String,
    pub role: Role,
    /// `<name>.<run-id>`: unique on the engine; `<name>` resolves through the DNS search domain.
    pub container_name: String,
    pub ip: String,
    /// The host port on 127.0.0.1 that [`HostSpec::publish`] was published on.
    pub published: Option<u16>,
    /// The engine holding it (an index into the lab's engines).
    pub engine: usize,
    /// Where hosts on the other engines reach it ([`HostSpec::publish_across`]'s address).
    pub reachable_at: Option<std::net::IpAddr>,
    id: String,
}

impl Host {
    pub fn id(&self) -> &str {
        &self.id
    }
}

pub struct Lab {
    /// The engines it spreads over, in the fleet's order (one for most labs).
    engines: Vec<Engine>,
    run_id: String,
    hosts: Vec<Host>,
    keep: bool,
    torn_down: bool,
    /// What every container and network of the lab is labelled with.
    labels: Vec<(String, String)>,
    /// Held until the drop has removed the lab: an interrupted process waits for it.
    _must_remove: crate::owner::MustRemove,
}

impl Lab {
    /// Creates the run's network (named after the run id, which is also the DNS search domain).
    /// Adds a label to what the lab creates from now on (its hosts).
    pub fn label(&mut self, key: &str, value: &str) {
        self.labels.push((key.to_string(), value.to_string()));
    }

    pub async fn create(engine: Engine, run_id: &str, keep: bool) -> Result<Lab> {
        Lab::create_named(vec![engine], run_id, keep, None).await
    }

    /// As [`Lab::create`] over `engines` (connected, in the fleet's order: a network on each),
    /// labelled with `name` (`cargo xtask up --name`).
    pub async fn create_named(
        engines: Vec<Engine>,
        run_id: &str,
        keep: bool,
        name: Option<&str>,
    ) -> Result<Lab> {
        let mut labels = engine::run_labels(run_id, keep);
        if let Some(name) = name {
            labels.push((engine::NAME_LABEL.to_string(), name.to_string()));
        }
        if engines.len() > 1 {
            let named: Vec<String> = engines
                .iter()
                .map(|e| format!("{}={}", e.name(), e.endpoint()))
                .collect();
            labels.push((engine::ENGINES_LABEL.to_string(), named.join(" ")));
        }
        let lab = Lab {
            engines,
            run_id: run_id.to_string(),
            hosts: Vec::new(),
            keep,
            torn_down: false,
            labels,
            _must_remove: crate::owner::MustRemove::new(),
        };
        // The guard exists before the network does, so a failure from here on is cleaned up.
        for engine in &lab.engines {
            engine.create_network(run_id, lab.labels.clone()).await?;
        }
        Ok(lab)
    }

    /// Whether the lab stays when this value is dropped or torn down. Its labels say "kept"
    /// from creation when it may be kept at the end (`--keep on-failure`, `up`), so that no
    /// `clean` takes it once this process is gone; until then it is removed on every exit.
    pub fn set_keep(&mut self, keep: bool) {
        self.keep = keep;
    }

    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// The primary engine (images are built there).
    pub fn engine(&self) -> &Engine {
        &self.engines[0]
    }

    /// The engine holding `host`.
    pub fn engine_of(&self, host: &Host) -> &Engine {
        &self.engines[host.engine]
    }

    /// The lab's engines, in the fleet's order.
    pub fn engines(&self) -> &[Engine] {
        &self.engines
    }

    pub fn hosts(&self) -> &[Host] {
        &self.hosts
    }

    pub fn host(&self, name: &str) -> Option<&Host> {
        self.hosts.iter().find(|h| h.name == name)
    }

    /// Starts all `specs` concurrently and waits until systemd runs in each.
    pub async fn boot(&mut self, specs: &[HostSpec], deadline: Duration) -> Result<()> {
        let clients = specs.iter().filter(|s| s.role == Role::Client).count();
        let starts = specs
            .iter()
            .map(|spec| self.start_host(spec, memory_limit(spec.role, clients), deadline));
        let mut failure = None;
        for result in futures::future::join_all(starts).await {
            match result {
                Ok(host) => self.hosts.push(host),
                Err(e) => failure = failure.or(Some(e)),
            }
        }
        failure.map_or(Ok(()), Err)
    }

    /// Runs `script` on `host`; a non-zero exit is an error naming the host and command.
    pub async fn exec_ok(
        &self,
        host: &Host,
        script: &str,
        deadline: Duration,
    ) -> Result<ExecOutput> {
        self.engine_of(host)
            .exec_ok(host.id(), &host.name, script, deadline)
            .await
    }

    /// Runs `script` on `host` and returns whatever happened (for observations).
    /// Errors name the host as the scenario does, never its container id.
    pub async fn exec(&self, host: &Host, script: &str, deadline: Duration) -> Result<ExecOutput> {
        self.engine_of(host)
            .exec(host.id(), script, deadline)
            .await
            .map_err(|e| match e {
                Error::Timeout {
                    what,
                    waited,
                    last_seen,
                } => Error::Timeout {
                    what: what.replace(host.id(), &host.name),
                    waited,
                    last_seen,
                },
                Error::Docker { context, source } => Error::Docker {
                    context: context.replace(host.id(), &host.name),
                    source,
                },
                other => other,
            })
    }

    /// Removes the hosts (concurrently) and the network. Dropping does the same, blocking.
    /// Returns the networks the engine would not let go of because of its own stale endpoint
    /// (nothing of the lab is on them; see `engine::Removal::Stale`), with why.
    /// Starts removing the hosts `which` picks, in the background, while the run goes on with
    /// the others: for hosts whose observations are all read (a run that keeps nothing removes
    /// its clients while it copies the servers' journals and writes its reports). Whatever is
    /// left, or failed, the teardown's sweep (or the drop) removes.
    pub fn remove_early(
        &self,
        which: impl Fn(&Host) -> bool,
    ) -> tokio::task::JoinHandle<Result<()>> {
        use futures::StreamExt;
        let jobs: Vec<(Engine, String)> = self
            .hosts
            .iter()
            .filter(|h| which(h))
            .map(|h| (self.engines[h.engine].clone(), h.id.clone()))
            .collect();
        let run_id = self.run_id.clone();
        tokio::spawn(async move {
            let removals = jobs.into_iter().map(|(engine, id)| {
                let run_id = run_id.clone();
                async move { engine.remove_from_run(&id, &run_id).await }
            });
            futures::stream::iter(removals)
                .buffer_unordered(engine::REMOVALS_IN_FLIGHT)
                .collect::<Vec<_>>()
                .await
                .into_iter()
                .collect()
        })
    }

    pub async fn teardown(mut self) -> Result<Vec<(String, String)>> {
        if self.keep {
            return Ok(Vec::new());
        }
        // The sweep removes every host (detached from the network, stopped, removed, a bounded
        // number at a time) and then the network.
        self.hosts.clear();
        let sweeps = self.engines.iter().map(|engine| engine.sweep(&self.run_id));
        let mut stale = Vec::new();
        let mut failure = None;
        for (engine, swept) in self
            .engines
            .iter()
            .zip(futures::future::join_all(sweeps).await)
        {
            match swept {
                Ok(swept) => stale.extend(
                    swept
                        .stale_networks
                        .into_iter()
                        .map(|(network, why)| (self.on_engine(engine, &network), why)),
                ),
                Err(e) => failure = failure.or(Some(e)),
            }
        }
        // A failed sweep leaves the job to Drop, which tries again.
        self.torn_down = failure.is_none();
        failure.map_or(Ok(stale), Err)
    }

    /// `what` as the user must find it: on engine NAME when the lab has several.
    fn on_engine(&self, engine: &Engine, what: &str) -> String {
        if self.engines.len() > 1 {
            format!("{what} (engine {})", engine.name())
        } else {
            what.to_string()
        }
    }

    /// What to tell someone who kept the lab.
    pub fn keep_instructions(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .hosts
            .iter()
            .map(|h| {
                let engine = &self.engines[h.engine];
                let docker = if self.engines.len() > 1 {
                    format!("docker -H {}", engine.endpoint())
                } else {
                    "docker".to_string()
                };
                format!(
                    "  {:<10} {:<15} {docker} exec -it {} bash",
                    h.name, h.ip, h.container_name
                )
            })
            .collect();
        // What the lifecycle commands call it: its name, or its run id when it has none.
        let called = self
            .labels
            .iter()
            .find(|(key, _)| key == engine::NAME_LABEL)
            .map_or(self.run_id.as_str(), |(_, name)| name.as_str());
        let me = crate::command_name();
        lines.push(format!(
            "  log in with: {me} login HOST --lab {called}; take it down with: {me} down --lab {called}"
        ));
        lines
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if self.torn_down {
            return;
        }
        // --keep (and a lab `verify` attached to) stays, but not frozen: a `pause` fault of an
        // interrupted `verify --steps` must not leave a kept host paused.
        let run_id = self.run_id.clone();
        // Reached again by name and URL: a drop has no runtime to use these connections in.
        let fleet: Vec<(String, String)> = self
            .engines
            .iter()
            .map(|e| (e.name().to_string(), e.endpoint().to_string()))
            .collect();
        if self.keep {
            on_a_thread_of_its_own(fleet, move |engine| {
                let run_id = run_id.clone();
                async move {
                    for (_, container, state) in engine.hosts_of(&run_id).await.ok()? {
                        if state == "paused" {
                            let _ = engine.set_paused(&container, false).await;
                        }
                    }
                    Some(())
                }
            });
            return;
        }
        let swept = on_a_thread_of_its_own(fleet, move |engine| {
            let run_id = run_id.clone();
            async move {
                let first = engine.sweep(&run_id).await.ok();
                // A container create already sent when we were cancelled can land after the
                // first sweep listed; a second look after a moment catches it.
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                first.and(engine.sweep(&run_id).await.ok())
            }
        });
        if swept.is_none() {
            eprintln!(
                "journal-lab: could not remove lab {} completely; run `{} clean --run {}`",
                self.run_id,
                crate::command_name(),
                self.run_id
            );
        }
    }
}

/// Runs `work` with a fresh connection to each engine of `fleet` (name, URL) concurrently, on a
/// thread of its own with its own runtime: what `Drop` can do while unwinding or cancelled
/// inside a runtime, where nothing can be awaited. None if the thread, the runtime, a
/// connection or the work on any engine gave up (the others still did theirs).
fn on_a_thread_of_its_own<T, F, Fut>(fleet: Vec<(String, String)>, work: F) -> Option<Vec<T>>
where
    T: Send + 'static,
    F: Fn(Engine) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Option<T>>,
{
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()?;
        runtime.block_on(async {
            let each = fleet.iter().map(|(name, url)| {
                let work = &work;
                async move { work(Engine::connect_to(name, url).await.ok()?).await }
            });
            futures::future::join_all(each).await.into_iter().collect()
        })
    })
    .join()
    .ok()
    .flatten()
}

/// A shell loop that runs `condition` until it succeeds or `deadline` passes (the loop's status
/// is then the condition's last), backing off from 20 ms to 200 ms between tries. Waiting inside
/// the host costs one exec, where a poll from outside costs one per try; the backoff keeps 100
/// hosts waiting at once from spending the machine's CPU on `systemctl`.
pub fn shell_wait(condition: &str, deadline: Duration) -> String {
    shell_wait_among(condition, deadline, 1)
}

/// [`shell_wait`] for one of `waiters` hosts waiting at once: no try comes sooner than
/// `waiters` × 10 ms after the last (at least 20 ms, at most 1 s), so all the hosts together poll
/// at most about 100 times a second, whatever their number, and leave the machine's CPUs to
/// what they wait for. Measured at 1+100 on a 2-CPU machine (docs/performance.md): configuration
/// took 22.1 s polling from 20 ms; polling every 250 ms, 14.4 s, 23.2 CPU-seconds in the hosts;
/// every second, 9.0 s and 12.8 CPU-seconds.
pub fn shell_wait_among(condition: &str, deadline: Duration, waiters: usize) -> String {
    let floor_ms = (waiters as u64 * 10).clamp(20, 1000);
    let sleep = |ms: u64| format!("{:.3}", ms.max(floor_ms) as f64 / 1000.0);
    format!(
        "jl_end=$(( $(date +%s) + {} )); jl_try=0; until {condition}; do [ \"$(date +%s)\" -lt \"$jl_end\" ] || break; \
         jl_try=$((jl_try + 1)); case $jl_try in [1-5]) sleep {};; [6-9]|1[0-4]) sleep {};; *) sleep {};; esac; done",
        deadline.as_secs().max(1),
        sleep(20),
        sleep(50),
        sleep(200),
    )
}

/// How the warning of [`say_left_networks`] says it, between the network and why (the bench
/// looks for it in the labs it runs as processes).
pub const LEFT_NETWORK: &str = " was left: ";

/// Says each network a teardown left (the engine's stale endpoint, see [`Lab::teardown`]), with
/// the fix: every caller of a teardown says them, none drops them.
pub fn say_left_networks(progress: &crate::Progress, left: Vec<(String, String)>) {
    use crate::Say;
    for (network, why) in left {
        progress.warning(format!(
            "network {network}{LEFT_NETWORK}{why}; {}",
            engine::STALE_FIX
        ));
    }
}

/// A fresh run id: sortable by time, unique enough for concurrent runs, DNS-safe.
/// `jl-DATE-TIME-RANDOM`: the second it started and 32 bits from the operating system. (16 bits
/// from a thread's generator once gave two labs of one suite, started in the same second in two
/// processes, the same id: Docker 20.10 then held two networks of one name, and both runs failed.)
pub fn new_run_id() -> String {
    use rand::RngCore;
    let now = time::OffsetDateTime::now_utc();
    let format = time::macros::format_description!("[year][month][day]-[hour][minute][second]");
    format!(
        "jl-{}-{:08x}",
        now.format(format).expect("formats"),
        rand::rngs::OsRng.next_u32()
    )
}

/// Measures how long a future takes.
pub(crate) async fn timed<T>(future: impl std::future::Future<Output = T>) -> (T, Duration) {
    let start = Instant::now();
    let value = future.await;
    (value, start.elapsed())
}

/// A phase of a run and how long it took, for run.json.
fn phase(name: &str, took: Duration) -> crate::report::Phase {
    crate::report::Phase {
        name: name.to_string(),
        seconds: took.as_secs_f64(),
    }
}

#[cfg(test)]
mod tests;

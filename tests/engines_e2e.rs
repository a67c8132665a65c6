//! One lab over two Docker engines. The test starts a second engine on this machine itself (its
//! own data root, exec root, pid file, socket, bridge and address pool; no iptables of its own,
//! so that it leaves the machine's firewall alone), so that the cross-engine path is real:
//! images copied by recipe hash, a server published on an address the other engine's hosts
//! route to, certificates carrying it, faults on the engine holding the host, cleanup on both.
//! Both engines share a kernel here; docs/engines.md says how to run it over SSH-forwarded sockets.

mod common;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use journal_lab::checks::{CheckId, Status};
use journal_lab::engine::Engine;
use journal_lab::lab::fleet::{EngineSpec, Fleet};
use journal_lab::lab::{self, LabOptions};
use journal_lab::report::Role;
use journal_lab::scenario::Scenario;

/// A second Docker engine on this machine, started and stopped by the test.
struct SecondEngine {
    dir: PathBuf,
    dockerd: Child,
    bridge: String,
    url: String,
    /// The address of its bridge on this machine: what its hosts route to for the first
    /// engine's published server port.
    gateway: IpAddr,
}

impl SecondEngine {
    /// Starts one, or None (said) where this machine cannot: not root, or no dockerd. In CI
    /// that is a failure, not a skip.
    fn start() -> Option<SecondEngine> {
        let why_not = if unsafe { libc::geteuid() } != 0 {
            Some("it needs root")
        } else if Command::new("dockerd").arg("--version").output().is_err() {
            Some("dockerd is not installed")
        } else {
            None
        };
        if let Some(why) = why_not {
            assert!(
                std::env::var_os("CI").is_none(),
                "a second engine cannot be started in CI: {why}"
            );
            eprintln!("skipped: a second Docker engine cannot be started here: {why}");
            return None;
        }
        let routes = String::from_utf8(
            Command::new("ip")
                .args(["-4", "route"])
                .output()
                .expect("ip route")
                .stdout,
        )
        .unwrap();
        // An address range no route on this machine uses yet: the bridge's /24 and the pool
        // its networks come from.
        let base = [212u8, 222, 232, 242]
            .into_iter()
            .find(|b| {
                !routes.contains(&format!("10.{b}.")) && !routes.contains(&format!("10.{}.", b + 1))
            })
            .expect("a free 10.x range");
        let bridge = format!("jlb{}", std::process::id() % 100_000);
        let gateway: IpAddr = format!("10.{base}.0.1").parse().unwrap();
        let ip = |args: &[&str]| {
            let status = Command::new("ip").args(args).status().expect("ip");
            assert!(status.success(), "ip {args:?}");
        };
        ip(&["link", "add", "name", &bridge, "type", "bridge"]);
        ip(&["addr", "add", &format!("{gateway}/24"), "dev", &bridge]);
        ip(&["link", "set", &bridge, "up"]);
        let dir = std::env::temp_dir().join(format!("jl-engine-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let socket = dir.join("docker.sock");
        let log = std::fs::File::create(dir.join("dockerd.log")).unwrap();
        let dockerd = Command::new("dockerd")
            .arg("--data-root")
            .arg(dir.join("data"))
            .arg("--exec-root")
            .arg(dir.join("exec"))
            .arg("--pidfile")
            .arg(dir.join("dockerd.pid"))
            .arg("-H")
            .arg(format!("unix://{}", socket.display()))
            .args(["--bridge", &bridge, "--iptables=false", "--ip-masq=false"])
            .arg("--default-address-pool")
            .arg(format!("base=10.{}.0.0/16,size=24", base + 1))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("starting dockerd");
        let engine = SecondEngine {
            url: format!("unix://{}", socket.display()),
            dir,
            dockerd,
            bridge,
            gateway,
        };
        let start = Instant::now();
        while !socket.exists() && start.elapsed() < Duration::from_secs(60) {
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(
            socket.exists(),
            "the second engine did not come up in 60 s; its log: {}",
            std::fs::read_to_string(engine.dir.join("dockerd.log")).unwrap_or_default()
        );
        Some(engine)
    }

    /// The lab's two engines: `a` the machine's (servers; published on the second engine's
    /// bridge address, which only this machine routes), `b` this one.
    fn fleet(&self) -> Fleet {
        let a: EngineSpec = format!("a=unix:///var/run/docker.sock,address={}", self.gateway)
            .parse()
            .unwrap();
        let b: EngineSpec = format!("b={}", self.url).parse().unwrap();
        Fleet::new(vec![a, b], None).unwrap()
    }
}

impl Drop for SecondEngine {
    fn drop(&mut self) {
        // SIGTERM: dockerd stops its containers (none are left) and unmounts its layers.
        unsafe { libc::kill(self.dockerd.id() as i32, libc::SIGTERM) };
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            if let Ok(Some(_)) = self.dockerd.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.dockerd.kill();
        let _ = Command::new("ip")
            .args(["link", "del", &self.bridge])
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A kept run, removed from every engine when dropped (also when an assertion fails first).
struct RemovedOnDrop(Fleet, String);

impl Drop for RemovedOnDrop {
    fn drop(&mut self) {
        let (fleet, run_id) = (self.0.clone(), self.1.clone());
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new().unwrap();
            runtime.block_on(async {
                if let Ok(engines) = lab::connect(&fleet).await {
                    let which = lab::clean::Which::Run(run_id);
                    let _ = lab::clean::clean(&engines, &which, false).await;
                }
            })
        })
        .join()
        .unwrap();
    }
}

/// What is left of `run_id` on `engine`: (containers, networks).
async fn leftovers(engine: &Engine, run_id: &str) -> (usize, usize) {
    let (containers, networks) = engine.leftovers(run_id).await.unwrap();
    (containers.len(), networks.len())
}

/// The fleet's engines, connected; the second engine may still be starting (its socket
/// exists before it answers), so for up to a minute.
/// Asserts that nothing of `run_id` is left on any of `engines`.
async fn nothing_left(engines: &[&Engine], run_id: &str) {
    for engine in engines {
        assert_eq!(
            leftovers(engine, run_id).await,
            (0, 0),
            "run {run_id} on engine {}",
            engine.name()
        );
    }
}

async fn engines(fleet: &Fleet) -> Vec<Engine> {
    let start = Instant::now();
    loop {
        match lab::connect(fleet).await {
            Ok(engines) => return engines,
            Err(e) if start.elapsed() > Duration::from_secs(60) => {
                panic!("the engines did not answer within a minute: {e}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

fn options(fleet: &Fleet, reports: &Path) -> LabOptions {
    let mut options = LabOptions::new(journal_lab::images::Recipes::built_in(), reports);
    options.fleet = fleet.clone();
    options
}

/// The whole cross-engine path, in one test because it shares one second engine: a lab
/// delivering over both, a fault on a client held by the other engine (cross-checked with the
/// server's journal read here), `clean` reaching every engine, and a failed boot and Ctrl-C
/// leaving nothing.
#[tokio::test(flavor = "multi_thread")]
async fn one_lab_spreads_over_two_engines_and_leaves_nothing_on_either() {
    let Some(second) = SecondEngine::start() else {
        return;
    };
    let fleet = second.fleet();
    let reports = tempfile::tempdir().unwrap();
    let [a, b] = <[Engine; 2]>::try_from(engines(&fleet).await).ok().unwrap();

    // 1. The default lab, 1 + 4, spread: every client delivers, whichever engine holds it.
    let mut lab_options = options(&fleet, reports.path());
    lab_options.clients = 4;
    let outcome = lab::run_default_lab(&lab_options, &journal_lab::quiet())
        .await
        .unwrap_or_else(|e| panic!("the spread lab failed: {e}"));
    let report = &outcome.report;
    assert_eq!((report.delivered, report.clients), (4, 4), "{report:#?}");
    let on = |engine: &str| {
        report
            .hosts
            .iter()
            .filter(|h| h.engine.as_deref() == Some(engine))
            .map(|h| h.name.as_str())
            .collect::<Vec<_>>()
    };
    assert_eq!(on("a"), ["server", "client2", "client4"]);
    assert_eq!(on("b"), ["client1", "client3"]);
    let server = report
        .hosts
        .iter()
        .find(|h| h.role == Role::Server)
        .unwrap();
    assert_eq!(
        server.published_for_other_engines.as_deref(),
        Some(format!("{}:19532", second.gateway).as_str())
    );
    let markdown = std::fs::read_to_string(outcome.run_dir.join("report.md")).unwrap();
    assert!(
        markdown.contains("## Placement (hosts over engines)"),
        "{markdown}"
    );
    nothing_left(&[&a, &b], &report.run_id).await;

    // 2. A partition of a client on engine b while it logs: the verdicts agree with the
    //    server's journal on engine a, read here. The lab is kept for that, then cleaned.
    let scenario = Scenario::parse(
        Path::new("cross-engine-partition.yaml"),
        "description: a client on the other engine partitioned while it logs\n\
         hosts:\n  - {name: server, role: server}\n  - {name: client1, role: client}\n\
         steps:\n  - {do: workload, count: 300, size: 200, rate: 20, background: true}\n\
         \x20 - {do: log-markers}\n\
         \x20 - {do: fault, kind: partition, host: client1, duration: 5}\n\
         \x20 - {do: wait-workload, deadline: 60}\n  - {do: log-markers}\n\
         checks:\n  - id: delivery-exactly-once\n  - id: client-delivers\n  - id: upload-recovers\n",
    )
    .unwrap();
    let mut kept = options(&fleet, reports.path());
    kept.keep = true;
    let outcome = common::run_or_clean("cross-engine-partition", &scenario, &kept).await;
    let run_id = outcome.report.run_id.clone();
    let _removed_on_failure = RemovedOnDrop(fleet.clone(), run_id.clone());
    let client = outcome
        .report
        .hosts
        .iter()
        .find(|h| h.name == "client1")
        .unwrap();
    assert_eq!(client.engine.as_deref(), Some("b"));
    let script = format!(
        "journalctl -D /var/log/journal/remote -o cat --no-pager | grep -F 'jl-work run={run_id} host=client1 ' > /tmp/w; \
         wc -l < /tmp/w; cut -d' ' -f5 /tmp/w | sort -u | wc -l"
    );
    let counted = common::sh(&a, &format!("server.{run_id}"), &script).await;
    let counted: Vec<u64> = counted
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    let verdict = |id: CheckId| {
        outcome
            .report
            .checks
            .iter()
            .find(|c| c.id == id)
            .map(|c| (c.status, c.observed.clone()))
            .unwrap()
    };
    let (exactly_once, observed) = verdict(CheckId::DELIVERY_EXACTLY_ONCE);
    let expected = if counted == [300, 300] {
        Status::Pass
    } else {
        Status::Fail
    };
    assert_eq!(exactly_once, expected, "counted {counted:?}; {observed}");
    // The marker logged after the partition, looked for on the server here.
    let marker = outcome
        .report
        .hosts
        .iter()
        .find(|h| h.name == "client1")
        .and_then(|h| h.marker.clone())
        .unwrap();
    let found = common::sh(
        &a,
        &format!("server.{run_id}"),
        &format!(
            "journalctl -D /var/log/journal/remote -o cat --no-pager | grep -cF '{marker}' || true"
        ),
    )
    .await;
    let (delivers, observed) = verdict(CheckId::CLIENT_DELIVERS);
    assert_eq!(
        delivers == Status::Pass,
        found.trim() != "0",
        "the server holds the marker {} times; the check said: {observed}",
        found.trim()
    );
    assert!(
        outcome.report.faults.iter().any(|f| f.host == "client1"),
        "{:?}",
        outcome.report.faults
    );
    // `ls` naming no engine finds the kept lab's hosts on both (its label names its engines).
    let listed = Command::new(env!("CARGO_BIN_EXE_journal-lab"))
        .args(["ls", "--reports"])
        .arg(reports.path())
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listing.contains("server@a") && listing.contains("client1@b"),
        "{listing}{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    // A kept lab spans both engines; `clean --run` naming only the first engine takes it from
    // both (the lab's label names its engines).
    assert_eq!(leftovers(&b, &run_id).await.0, 1, "client1 on engine b");
    let only_a = vec![a.clone()];
    let cleaned = lab::clean::clean(&only_a, &lab::clean::Which::Run(run_id.clone()), false)
        .await
        .unwrap();
    assert_eq!(cleaned.removed.len(), 1);
    assert!(cleaned.unreachable.is_empty(), "{:?}", cleaned.unreachable);
    nothing_left(&[&a, &b], &run_id).await;

    // 3. A lab that fails while it boots (a client's image missing on engine b): the error
    //    says which host, and dropping the lab leaves nothing on either engine.
    let image =
        journal_lab::images::ImageSpec::load(&journal_lab::images::Recipes::built_in(), "bookworm")
            .unwrap();
    let mut missing = image.clone();
    missing.hash = "0000000000000000".into();
    let run_id = lab::new_run_id();
    let mut failing = lab::Lab::create_named(engines(&fleet).await, &run_id, false, None)
        .await
        .unwrap();
    let mut client = lab::HostSpec::bare("client1", Role::Client, missing);
    client.engine = 1;
    let booted = failing
        .boot(
            &[lab::HostSpec::bare("server", Role::Server, image), client],
            Duration::from_secs(90),
        )
        .await;
    let error = booted
        .expect_err("an image engine b does not have")
        .to_string();
    assert!(error.contains("client1"), "{error}");
    drop(failing);
    nothing_left(&[&a, &b], &run_id).await;

    // 4. Ctrl-C while hosts boot on both engines: the process exits 130, nothing stays.
    let before: Vec<String> = b.runs().await.unwrap().into_iter().map(|r| r.id).collect();
    let mut child = Command::new(env!("CARGO_BIN_EXE_journal-lab"))
        .current_dir(reports.path())
        .args(["lab", "--clients", "6"])
        .args([
            "--engine",
            &format!("a=unix:///var/run/docker.sock,address={}", second.gateway),
        ])
        .args(["--engine", &format!("b={}", second.url)])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let run_id = loop {
        let runs = b.runs().await.unwrap();
        if let Some(run) = runs
            .iter()
            .find(|r| !before.contains(&r.id) && r.objects > 1)
        {
            break run.id.clone();
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no host appeared on engine b"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no exit after Ctrl-C"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut stderr = String::new();
    use std::io::Read;
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(status.code(), Some(130), "{stderr}");
    nothing_left(&[&a, &b], &run_id).await;
}

/// Docker 20.10 keeps two networks of one name. A run whose network was made twice (two labs
/// that once drew the same id) is still removed whole by `clean --run`, which removes networks
/// by id: by name the engine answers "ambiguous" for either. And a lab never makes a network of
/// a name already there.
#[tokio::test(flavor = "multi_thread")]
async fn a_runs_networks_of_one_name_are_removed_by_clean() {
    let engine = Engine::connect().await.unwrap();
    let run_id = journal_lab::lab::new_run_id();
    let labels = journal_lab::engine::run_labels(&run_id, false);
    engine
        .create_network(&run_id, labels.clone())
        .await
        .unwrap();
    let again = engine
        .create_network(&run_id, labels.clone())
        .await
        .unwrap_err();
    assert!(again.to_string().contains("already exists"), "{again}");
    // The engine itself allows the second one: made here as a collision once made it.
    engine
        .docker()
        .create_network(bollard::models::NetworkCreateRequest {
            name: run_id.clone(),
            driver: Some("bridge".into()),
            labels: Some(labels.into_iter().collect()),
            ..Default::default()
        })
        .await
        .unwrap();
    common::remove_run(&engine, &run_id).await;
    let (containers, networks) = engine.leftovers(&run_id).await.unwrap();
    assert!(
        containers.is_empty() && networks.is_empty(),
        "{networks:?} left"
    );
}

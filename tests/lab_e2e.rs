//! End-to-end: real systemd containers, real journal-remote/upload, real TLS. Needs a Docker
//! engine and mmdebstrap (`cargo xtask test` checks both first and builds the images).

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use bollard::query_parameters::{ListContainersOptions, ListNetworksOptions};
use journal_lab::engine::{Engine, RUN_LABEL};
use journal_lab::images::ImageSpec;
use journal_lab::lab::{self, HostSpec, Lab, LabOptions};
use journal_lab::report::{self, Role};

fn options(release: &str, clients: usize, reports: &Path) -> LabOptions {
    let mut options = LabOptions::new(journal_lab::images::Recipes::built_in(), reports);
    options.release = Some(release.to_string());
    options.clients = clients;
    options
}

/// Containers and networks still labelled with `run_id`.
async fn leftovers(engine: &Engine, run_id: &str) -> (usize, usize) {
    let filters = HashMap::from([("label".to_string(), vec![format!("{RUN_LABEL}={run_id}")])]);
    let containers = engine
        .docker()
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters: Some(filters.clone()),
            ..Default::default()
        }))
        .await
        .unwrap();
    let networks = engine
        .docker()
        .list_networks(Some(ListNetworksOptions {
            filters: Some(filters),
        }))
        .await
        .unwrap();
    (containers.len(), networks.len())
}

async fn assert_delivers(release: &str, clients: usize) {
    let reports = tempfile::tempdir().unwrap();
    let outcome = lab::run_default_lab(
        &options(release, clients, reports.path()),
        &journal_lab::quiet(),
    )
    .await
    .expect("the lab runs");
    let report = &outcome.report;

    // What the lab observed on the server, per client.
    let client_reports: Vec<_> = report.clients().collect();
    assert_eq!(client_reports.len(), clients);
    for client in &client_reports {
        assert_eq!(
            client.delivered,
            Some(true),
            "{} did not deliver: {:#?}",
            client.name,
            client.evidence
        );
        let marker = client.marker.as_deref().unwrap();
        assert!(
            marker.contains(&format!("host={}", client.name)) && marker.contains(&report.run_id)
        );
        assert!(client.seconds_to_deliver.unwrap() >= 0.0);
        assert!(
            client
                .remote_file
                .as_deref()
                .unwrap()
                .starts_with("/var/log/journal/remote/remote-"),
            "{:?}",
            client.remote_file
        );
        assert_eq!(client.status_text, "Processing input...");
    }
    let files: BTreeSet<_> = client_reports
        .iter()
        .map(|c| c.remote_file.clone())
        .collect();
    assert_eq!(
        files.len(),
        clients,
        "journal-remote splits by host: one file per client"
    );
    let server = report
        .hosts
        .iter()
        .find(|h| h.role == Role::Server)
        .unwrap();
    assert_eq!(server.status_text, "Processing requests...");
    assert!(report.ok && report.delivered == clients);
    assert!(
        report.systemd_version.starts_with("systemd "),
        "{}",
        report.systemd_version
    );

    // run.json on disk says the same, and latest points at it.
    let on_disk = report::read_run(&reports.path().join("latest/run.json")).unwrap();
    assert_eq!(on_disk.run_id, report.run_id);
    assert_eq!(on_disk.delivered, clients);

    let engine = Engine::connect().await.unwrap();
    assert_eq!(
        leftovers(&engine, &report.run_id).await,
        (0, 0),
        "the run left containers or networks"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn default_lab_delivers_for_every_client_and_leaves_nothing_behind() {
    assert_delivers("bookworm", 3).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn trixie_lab_delivers() {
    assert_delivers("trixie", 2).await;
}

/// A panic while the lab is up (a bug in a check, say) must not leave containers behind.
#[tokio::test(flavor = "multi_thread")]
async fn a_panic_inside_a_running_lab_still_removes_it() {
    let engine = Engine::connect().await.unwrap();
    let image = ImageSpec::load(&journal_lab::images::Recipes::built_in(), "bookworm").unwrap();
    let run_id = lab::new_run_id();
    let task = tokio::spawn({
        let (engine, run_id) = (engine.clone(), run_id.clone());
        async move {
            let mut lab = Lab::create(engine, &run_id, false).await.unwrap();
            let spec = HostSpec::bare("server", Role::Server, image);
            lab.boot(&[spec], std::time::Duration::from_secs(60))
                .await
                .unwrap();
            assert_eq!(lab.hosts().len(), 1);
            panic!("simulated bug while the lab is up");
        }
    });
    let joined = task.await;
    assert!(joined.unwrap_err().is_panic());
    assert_eq!(leftovers(&engine, &run_id).await, (0, 0));
}

/// A lab of bare bookworm hosts (nothing staged), booted.
async fn booted(hosts: &[(&str, Role)]) -> (Engine, String, Lab) {
    let engine = Engine::connect().await.unwrap();
    let image = ImageSpec::load(&journal_lab::images::Recipes::built_in(), "bookworm").unwrap();
    let run_id = lab::new_run_id();
    let mut lab = Lab::create(engine.clone(), &run_id, false).await.unwrap();
    let specs: Vec<HostSpec> = hosts
        .iter()
        .map(|(name, role)| HostSpec::bare(*name, *role, image.clone()))
        .collect();
    lab.boot(&specs, std::time::Duration::from_secs(90))
        .await
        .unwrap();
    (engine, run_id, lab)
}

/// A lab host must not reach any other container on the engine: from inside one host, every way
/// to its sibling's `cgroup.freeze` (the engine's cgroup paths, a fresh cgroup2 mount) fails, and
/// the sibling still answers. Nor is any port of a host published on the machine.
#[tokio::test(flavor = "multi_thread")]
async fn a_lab_host_cannot_freeze_another_container_and_publishes_no_port() {
    use std::time::Duration;
    let (engine, run_id, lab) =
        booted(&[("attacker", Role::Client), ("victim", Role::Server)]).await;
    let (attacker, victim) = (lab.host("attacker").unwrap(), lab.host("victim").unwrap());
    let id = victim.id();
    let script = format!(
        "for root in /sys/fs/cgroup /sys/fs/cgroup/unified /sys/fs/cgroup/freezer; do \
           for p in docker/{id} system.slice/docker-{id}.scope; do \
             f=$root/$p/cgroup.freeze; [ -e $f ] && echo 1 > $f && echo FROZE $f; \
             f=$root/$p/freezer.state; [ -e $f ] && echo FROZEN > $f && echo FROZE $f; \
           done; done; \
         mkdir -p /tmp/cg && mount -t cgroup2 none /tmp/cg && find /tmp/cg -name '*{id}*' | sed 's/^/SEEN /'; \
         find /sys/fs/cgroup -name '*{id}*' 2>/dev/null | sed 's/^/SEEN /'; true"
    );
    let out = lab
        .exec(attacker, &script, Duration::from_secs(30))
        .await
        .unwrap();
    assert!(
        !out.stdout.contains("FROZE") && !out.stdout.contains("SEEN"),
        "the attacker reached the victim's cgroup:\n{}",
        out.combined()
    );
    let alive = lab
        .exec(victim, "echo alive", Duration::from_secs(10))
        .await;
    assert_eq!(
        alive.unwrap().stdout.trim(),
        "alive",
        "the victim is frozen"
    );

    for host in lab.hosts() {
        let inspected = engine
            .docker()
            .inspect_container(host.id(), None)
            .await
            .unwrap();
        let config = inspected.host_config.unwrap();
        assert_eq!(config.publish_all_ports, Some(false), "{}", host.name);
        assert!(
            config.port_bindings.unwrap_or_default().is_empty(),
            "{} publishes a port",
            host.name
        );
    }
    lab.teardown().await.unwrap();
    assert_eq!(leftovers(&engine, &run_id).await, (0, 0));
}

/// From inside a host, as root: no raw device, no engine socket, no way into another lab's
/// network, no writable /proc/sys or /sys; and what stays open on this engine (a fresh proc mount
/// reaching the machine's `core_pattern`, without user-namespace remapping) is what the lab says
/// at the start of every run. The probes only *open* the machine-wide files (nothing is written),
/// and each probe is shown to work where it should (a host of the other lab reaches its sibling).
#[tokio::test(flavor = "multi_thread")]
async fn a_lab_host_cannot_reach_the_machine_or_another_lab_and_what_stays_open_is_said() {
    use std::time::Duration;
    let (engine, run_id, lab) = booted(&[("attacker", Role::Client)]).await;
    let (_, other_run, other) =
        booted(&[("victim", Role::Server), ("neighbour", Role::Client)]).await;
    let attacker = lab.host("attacker").unwrap();
    let (victim, neighbour) = (
        other.host("victim").unwrap(),
        other.host("neighbour").unwrap(),
    );
    other
        .exec_ok(
            victim,
            "systemctl start systemd-journal-remote.socket",
            Duration::from_secs(30),
        )
        .await
        .unwrap();
    let connect = format!(
        "timeout 3 bash -c 'exec 3<>/dev/tcp/{}/19532' 2>/dev/null && echo OPEN other-lab",
        victim.ip
    );
    let control = other
        .exec(neighbour, &connect, Duration::from_secs(30))
        .await
        .unwrap();
    assert!(
        control.stdout.contains("OPEN other-lab"),
        "the probe cannot reach a server from its own lab, so it proves nothing:\n{}",
        control.combined()
    );

    let probes = format!(
        "{connect}; \
         for s in /var/run/docker.sock /run/docker.sock /run/containerd/containerd.sock; do \
           [ -S $s ] && echo OPEN engine-socket $s; done; \
         mknod /tmp/sda b 8 0 2>/dev/null && head -c 1 /tmp/sda >/dev/null 2>&1 && echo OPEN raw-disk; \
         mknod /tmp/mem c 1 1 2>/dev/null && head -c 1 /tmp/mem >/dev/null 2>&1 && echo OPEN dev-mem; \
         true >> /proc/sys/kernel/core_pattern 2>/dev/null && echo OPEN proc-sys; \
         true >> /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null && echo OPEN sys; \
         mkdir -p /tmp/p && mount -t proc proc /tmp/p 2>/dev/null && \
           {{ true >> /tmp/p/sys/kernel/core_pattern 2>/dev/null && echo OPEN fresh-proc; umount /tmp/p; }}; \
         mount -o remount,rw /sys 2>/dev/null && \
           {{ true >> /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null && echo OPEN sys-remount; \
              mount -o remount,ro /sys; }}; \
         echo PROBED"
    );
    let out = lab
        .exec(attacker, &probes, Duration::from_secs(30))
        .await
        .unwrap();
    assert!(
        out.stdout.contains("PROBED"),
        "the probes did not all run:\n{}",
        out.combined()
    );
    let open: Vec<&str> = out
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("OPEN "))
        .collect();
    let never = [
        "other-lab",
        "engine-socket",
        "raw-disk",
        "dev-mem",
        "proc-sys",
        "sys",
    ];
    let layout_dependent = ["fresh-proc", "sys-remount"];
    eprintln!("open from a lab host: {open:?}");
    for way in &open {
        let way = way.split(' ').next().unwrap_or_default();
        assert!(
            !never.contains(&way),
            "a lab host reached what it must never reach: {open:?}"
        );
        assert!(
            layout_dependent.contains(&way),
            "an unexpected probe result: {way}"
        );
        let said = lab::kernel_exposure(engine.remaps_users().await).unwrap_or_else(|| {
            panic!("{way} is open from a lab host and the lab does not say so at start")
        });
        assert!(said.contains("kernel settings"), "{said}");
    }
    lab.teardown().await.unwrap();
    other.teardown().await.unwrap();
    assert_eq!(leftovers(&engine, &run_id).await, (0, 0));
    assert_eq!(leftovers(&engine, &other_run).await, (0, 0));
}

/// A host left frozen by a `pause` fault (the run failed or was interrupted in the middle of it)
/// is still removed: the engine refuses to kill a paused container, so the sweep thaws it first.
#[tokio::test(flavor = "multi_thread")]
async fn a_paused_host_is_removed_all_the_same() {
    let (engine, run_id, lab) = booted(&[("server", Role::Server)]).await;
    let id = lab.hosts()[0].id().to_string();
    engine.set_paused(&id, true).await.unwrap();
    drop(lab);
    assert_eq!(leftovers(&engine, &run_id).await, (0, 0));
}

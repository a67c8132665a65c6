use super::*;

#[test]
fn cgroup_layout_follows_the_host() {
    let tmp = tempfile::tempdir().unwrap();
    assert_eq!(cgroup_layout_at(tmp.path()), CgroupLayout::LegacyV1);
    std::fs::create_dir(tmp.path().join("unified")).unwrap();
    assert_eq!(cgroup_layout_at(tmp.path()), CgroupLayout::Hybrid);
    std::fs::write(tmp.path().join("cgroup.controllers"), "cpu memory").unwrap();
    assert_eq!(cgroup_layout_at(tmp.path()), CgroupLayout::PureV2);
}

#[test]
fn too_many_hosts_for_the_inotify_limit_are_refused_with_the_fix() {
    assert!(
        super::host_limits::host_limit_verdict(12, 128).is_ok(),
        "the seed scenarios fit the default"
    );
    let err = super::host_limits::host_limit_verdict(101, 128)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("fs.inotify.max_user_instances")
            && err.contains("sudo sysctl -w fs.inotify.max_user_instances=8192"),
        "{err}"
    );
    assert!(super::host_limits::host_limit_verdict(101, 8192).is_ok());
}

#[test]
fn servers_get_memory_for_each_clients_journal() {
    assert_eq!(memory_limit(Role::Client, 100), HOST_MEMORY_LIMIT);
    assert_eq!(memory_limit(Role::Server, 0), HOST_MEMORY_LIMIT);
    assert_eq!(
        memory_limit(Role::Server, 100),
        HOST_MEMORY_LIMIT + 100 * SERVER_MEMORY_PER_CLIENT
    );
}

#[test]
fn boot_command_uses_the_stage_dir() {
    assert!(BOOT_COMMAND.starts_with(&format!("d={STAGE_DIR}\n")));
    assert!(BOOT_COMMAND.ends_with("exec /lib/systemd/systemd"));
}

/// The wait returns as soon as the condition holds, and gives up at the deadline with the
/// condition's last status.
#[test]
fn shell_waits_end_when_the_condition_holds_or_time_is_up() {
    let dir = tempfile::tempdir().unwrap();
    let flag = dir.path().join("flag");
    let script = format!(
        "n=0; {}; echo \"tries=$n\"",
        shell_wait(
            &format!("n=$((n+1)); [ $n -ge 3 ] && touch {}", flag.display()),
            Duration::from_secs(5)
        )
    );
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(&script)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "tries=3\n");
    assert!(flag.exists());
    // `timeout` turns a wait that never gives up into a failure (status 124) instead of a hang.
    let never = shell_wait("false", Duration::from_secs(1)) + "; echo gave up";
    let out = std::process::Command::new("timeout")
        .args(["20", "sh", "-c", &never])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "gave up\n");
}

/// Many hosts waiting at once poll slower: 100 waiters no faster than every second from the
/// first try, 25 every 250 ms, one as fast as before (20 ms, then 50, then 200).
#[test]
fn many_waiters_poll_slower_from_the_start() {
    let alone = shell_wait_among("true", Duration::from_secs(1), 1);
    assert!(
        alone.contains("sleep 0.020;; [6-9]|1[0-4]) sleep 0.050;; *) sleep 0.200;;"),
        "{alone}"
    );
    assert_eq!(alone, shell_wait("true", Duration::from_secs(1)));
    let crowd = shell_wait_among("true", Duration::from_secs(1), 100);
    assert_eq!(crowd.matches("sleep 1.000;;").count(), 3, "{crowd}");
    let some = shell_wait_among("true", Duration::from_secs(1), 25);
    assert_eq!(some.matches("sleep 0.250;;").count(), 3, "{some}");
    let few = shell_wait_among("true", Duration::from_secs(1), 3);
    assert!(
        few.contains("sleep 0.030;; [6-9]|1[0-4]) sleep 0.050;; *) sleep 0.200;;"),
        "{few}"
    );
}

#[test]
fn run_ids_are_dns_safe_and_distinct() {
    let a = new_run_id();
    assert!(
        a.starts_with("jl-") && a.len() == "jl-20261122-141530-0123abcd".len(),
        "{a}"
    );
    assert!(crate::pki::is_valid_name(&format!("server.{a}")));
    assert!(a
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'));
}

/// Lab options over engines a (with an address) and b.
fn options_over_two_engines() -> LabOptions {
    let spec = |text: &str| text.parse::<fleet::EngineSpec>().unwrap();
    let mut options = LabOptions::new(crate::images::Recipes::built_in(), "reports");
    options.fleet = fleet::Fleet::new(
        vec![
            spec("a=unix:///a.sock,address=10.0.0.1"),
            spec("b=unix:///b.sock"),
        ],
        None,
    )
    .unwrap();
    options
}

/// A spread plan: the server published on its engine's address for the client on the other
/// engine; without an address, refused before boot, saying which option to add.
#[test]
fn a_server_with_clients_elsewhere_is_published_on_its_engines_address() {
    let spec = |text: &str| text.parse::<fleet::EngineSpec>().unwrap();
    let mut options = options_over_two_engines();
    let plan = super::plan::plan(&default_scenario(2), &options).unwrap();
    let placed: Vec<String> = plan
        .specs
        .iter()
        .map(|s| format!("{} {} {:?}", s.name, s.engine, s.publish_across))
        .collect();
    assert_eq!(
        placed,
        [
            "server 0 Some((10.0.0.1, 19532))",
            "client1 1 None",
            "client2 0 None"
        ]
    );
    options.fleet = fleet::Fleet::new(
        vec![spec("a=unix:///a.sock"), spec("b=unix:///b.sock")],
        None,
    )
    .unwrap();
    let error = super::plan::plan(&default_scenario(2), &options)
        .err()
        .expect("no address for engine a")
        .to_string();
    assert!(
        error.contains("clients of it are on engine b")
            && error.contains("--engine a=unix:///a.sock,address=IP"),
        "{error}"
    );
}

/// Spread over two engines: a gateway source placed away from its collector is refused before
/// boot (a collector reaches its sources on its own network).
#[test]
fn pulling_across_engines_is_refused_before_boot() {
    let options = options_over_two_engines();
    let text = "description: d\nhosts:\n  - {name: collector, role: server}\n  - {name: s1, role: client, sender: gateway}\nchecks: []\n";
    let scenario = crate::scenario::Scenario::parse(std::path::Path::new("p.yaml"), text).unwrap();
    let error = super::plan::plan(&scenario, &options)
        .err()
        .expect("s1 lands on engine b")
        .to_string();
    assert!(
        error.contains("s1 (sender: gateway) would be on another engine than collector"),
        "{error}"
    );
}

/// After a failed step, a check that could not judge says which step kept it from judging, with
/// the host's journald state; what the checks observed (pass, fail) stands.
#[test]
fn checks_that_could_not_judge_after_a_failed_step_are_not_verifiable_and_name_it() {
    use crate::checks::{CheckId, CheckResult, Status};
    let result = |host: &str, status: Status, observed: &str| CheckResult {
        id: CheckId::CLIENT_DELIVERS,
        title: String::new(),
        host: host.into(),
        phase: "final".into(),
        expected: String::new(),
        observed: observed.into(),
        status,
        evidence: Vec::new(),
        seconds: 0.0,
        reference: String::new(),
        known: None,
    };
    let mut results = vec![
        result("client1", Status::Pass, "the marker is on the server"),
        result(
            "client2",
            Status::Error,
            "no marker was logged on this client",
        ),
        result(
            "client3",
            Status::Fail,
            "the marker did not reach the server",
        ),
    ];
    let failed = crate::report::StepRecord {
        index: 9,
        step: "log-markers".into(),
        host: None,
        command: None,
        exit_code: None,
        output: Vec::new(),
        error: Some(
            "on client2: `logger` exited with 1:\nlogger: socket /dev/log: Connection refused"
                .into(),
        ),
        seconds: 0.1,
    };
    let journald = [(
        "client2".to_string(),
        "NRestarts=5\nResult=exit-code".to_string(),
    )]
    .into();
    crate::report::not_verifiable_after(&failed, &journald, &mut results);
    assert_eq!(
        results.iter().map(|r| r.status).collect::<Vec<_>>(),
        [Status::Pass, Status::NotVerifiable, Status::Fail]
    );
    let judged = &results[1];
    assert!(
        judged.observed.starts_with("step 9 (log-markers) failed, so this could not be judged: on client2: `logger` exited with 1")
            && judged.observed.ends_with("the check said: no marker was logged on this client"),
        "{}",
        judged.observed
    );
    assert!(judged
        .evidence
        .iter()
        .any(|e| e.contains("socket /dev/log: Connection refused")));
    assert!(judged.evidence.iter().any(|e| e.contains("NRestarts=5")));
    assert!(results[0].evidence.is_empty() && results[2].evidence.is_empty());
}

/// What PID 1 does to /sys/fs/cgroup before systemd, for each mount the engine may have left
/// there (run by sh with `mount` stubbed): the engine's read-only cgroup2 of a pure v2 host is
/// remounted read-write (systemd exits 255 on it), a writable one is left as it is, and the
/// empty tmpfs of a v1 or hybrid host gets cgroup2 mounted.
#[test]
fn the_boot_command_leaves_systemd_a_writable_cgroup2_on_every_layout() {
    let cgroup_part = BOOT_COMMAND
        .split("if [ -f")
        .next()
        .expect("the boot command's first part");
    let dir = tempfile::tempdir().unwrap();
    let mounts = dir.path().join("mounts");
    let run = |line: &str| {
        std::fs::write(&mounts, format!("proc /proc proc rw 0 0\n{line}\n")).unwrap();
        let script = format!("mount() {{ echo \"mount $*\"; }}\n{cgroup_part}");
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(&script)
            .env("MOUNTS", &mounts)
            .output()
            .expect("sh runs");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(
        run("cgroup2 /sys/fs/cgroup cgroup2 ro,nosuid,nodev,noexec,relatime,nsdelegate 0 0"),
        "mount -o remount,rw /sys/fs/cgroup"
    );
    assert_eq!(
        run("cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev,noexec,relatime 0 0"),
        ""
    );
    assert_eq!(
        run("tmpfs /sys/fs/cgroup tmpfs rw,nosuid,nodev,noexec 0 0"),
        "mount -t cgroup2 cgroup2 /sys/fs/cgroup"
    );
}

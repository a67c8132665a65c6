//! Reproducing a field setup end to end: the collect script runs inside lab hosts that a
//! scenario configured (they stand in for the field), their bundles are replayed into a new
//! scenario, and the replayed run must reproduce what the original run observed.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use journal_lab::checks::{CheckId, Status};
use journal_lab::domain::Role;
use journal_lab::engine::Engine;
use journal_lab::lab::{LabOptions, Outcome};
use journal_lab::replay::{self, bundle::Bundle};
use journal_lab::scenario::Scenario;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn releases() -> Vec<(String, Option<u32>)> {
    journal_lab::images::shipped(&journal_lab::images::Recipes::built_in())
}

async fn run(name: &str, scenario: &Scenario, reports: &Path, keep: bool) -> Outcome {
    let mut options = LabOptions::new(journal_lab::images::Recipes::built_in(), reports);
    options.keep = keep;
    common::run_or_clean(name, scenario, &options).await
}

/// Runs the collect script in `host` of the kept run, and brings its bundle out into `dir`.
async fn collect(engine: &Engine, run_id: &str, host: &str, dir: &Path) -> Bundle {
    let script = base64::engine::general_purpose::STANDARD.encode(replay::COLLECT_SCRIPT);
    let out = engine
        .exec(
            &format!("{host}.{run_id}"),
            &format!(
                "echo {script} | base64 -d > /root/collect.sh && sh /root/collect.sh /root/bundle.tar.gz >/dev/null 2>&1 && base64 -w0 /root/bundle.tar.gz"
            ),
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    assert!(out.success(), "{host}: {}", out.combined());
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(out.stdout.trim())
        .unwrap();
    let path = dir.join(format!("{host}.tar.gz"));
    std::fs::write(&path, bytes).unwrap();
    Bundle::read(&path).unwrap()
}

fn status(outcome: &Outcome, id: CheckId, host: &str) -> Status {
    outcome
        .report
        .checks
        .iter()
        .find(|c| c.id == id && c.host == host && c.phase == "final")
        .unwrap_or_else(|| panic!("{id} on {host}"))
        .status
}

/// Field: the port-change seed scenario (the server moved to 19600, `stale` left on 19532).
/// Replayed from the server's, stale's and client1's bundles: stale fails, client1 delivers,
/// as in the original, and the lab shows stale's field error.
#[tokio::test(flavor = "multi_thread")]
async fn port_change_replays_from_its_hosts_bundles_with_the_same_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = Scenario::load(&root().join("scenarios/port-change.yaml")).unwrap();
    let field = run("port-change", &scenario, dir.path(), true).await;
    let engine = Engine::connect().await.unwrap();
    let run_id = field.report.run_id.clone();
    let mut bundles = Vec::new();
    for host in ["server", "stale", "client1"] {
        bundles.push(collect(&engine, &run_id, host, dir.path()).await);
    }
    common::remove_run(&engine, &run_id).await;
    assert_eq!(
        status(&field, CheckId::CLIENT_ON_OLD_PORT_FAILS, "stale"),
        Status::Pass
    );
    assert_eq!(
        status(&field, CheckId::CLIENT_DELIVERS, "client1"),
        Status::Pass
    );

    let replayed = replay::replay(bundles, None, &releases(), false).unwrap();
    assert_eq!(replayed.scenario.host("server").unwrap().port(), 19600);
    let outcome = run("replay", &replayed.scenario, dir.path(), false).await;
    assert_eq!(
        status(&outcome, CheckId::CLIENT_DELIVERS, "stale"),
        Status::Fail
    );
    assert_eq!(
        status(&outcome, CheckId::CLIENT_DELIVERS, "client1"),
        Status::Pass
    );
    let comparison = replay::compare(&replayed.hosts, &outcome.report);
    let stale = comparison.hosts.iter().find(|h| h.host == "stale").unwrap();
    assert_eq!(stale.reproduced, Some(true), "{stale:?}");
    assert!(
        stale
            .field_errors
            .iter()
            .any(|l| l.contains("Couldn't connect to server")),
        "{stale:?}"
    );
}

/// Field: a server whose certificate expired, and a client of it; and a client whose own
/// certificate expired. The mirrored certificates keep the original windows, the client of the
/// expired server fails with the expiry error in the lab as in the field, and the client with
/// the expired certificate gets the verdict it got in the original run (whatever the server
/// build does with it).
#[tokio::test(flavor = "multi_thread")]
async fn expired_certificates_replay_into_the_same_errors_and_verdicts() {
    let text = "description: expired certificates in the field\n\
                hosts:\n  - {name: server, role: server}\n\
                \x20 - {name: stale-server, role: server, certificate: {validity: expired}}\n\
                \x20 - {name: to-stale, role: client, upload: {server: stale-server}}\n\
                \x20 - {name: expired-client, role: client, certificate: {validity: expired}}\n\
                steps:\n  - {do: log-markers, deadline: 10}\n\
                checks:\n  - id: client-delivers\n";
    let dir = tempfile::tempdir().unwrap();
    let scenario = Scenario::parse(Path::new("expired.yaml"), text).unwrap();
    let field = run("expired", &scenario, dir.path(), true).await;
    let engine = Engine::connect().await.unwrap();
    let run_id = field.report.run_id.clone();
    let stale_server = collect(&engine, &run_id, "stale-server", dir.path()).await;
    let to_stale = collect(&engine, &run_id, "to-stale", dir.path()).await;
    let server = collect(&engine, &run_id, "server", dir.path()).await;
    let expired_client = collect(&engine, &run_id, "expired-client", dir.path()).await;
    common::remove_run(&engine, &run_id).await;
    let original_not_after = replay::mirror::mirror_of(stale_server.file("certs/remote-cert.pem"))
        .unwrap()
        .not_after;

    // The client of the expired server.
    let replayed = replay::replay(vec![stale_server, to_stale], None, &releases(), false).unwrap();
    let mirror = replayed
        .scenario
        .host("stale-server")
        .unwrap()
        .certificate
        .mirror
        .clone()
        .unwrap();
    assert_eq!(mirror.not_after, original_not_after);
    let outcome = run(
        "replay-expired-server",
        &replayed.scenario,
        dir.path(),
        false,
    )
    .await;
    assert_eq!(
        status(&outcome, CheckId::CLIENT_DELIVERS, "to-stale"),
        Status::Fail
    );
    let comparison = replay::compare(&replayed.hosts, &outcome.report);
    let client = comparison
        .hosts
        .iter()
        .find(|h| h.host == "to-stale")
        .unwrap();
    assert!(
        client
            .lab_errors
            .iter()
            .any(|l| l.contains("certificate has expired")),
        "{client:?}"
    );
    assert_eq!(client.reproduced, Some(true), "{client:?}");

    // The client with the expired certificate: the same verdict as in the field run.
    let replayed = replay::replay(vec![server, expired_client], None, &releases(), false).unwrap();
    assert_eq!(
        replayed.hosts.iter().map(|h| h.role).collect::<Vec<_>>(),
        [Role::Server, Role::Client]
    );
    let outcome = run(
        "replay-expired-client",
        &replayed.scenario,
        dir.path(),
        false,
    )
    .await;
    assert_eq!(
        status(&outcome, CheckId::CLIENT_DELIVERS, "expired-client"),
        status(&field, CheckId::CLIENT_DELIVERS, "expired-client"),
    );
}

/// The collect script runs on every release's hosts (where the image exists) and makes a
/// bundle that reads back with the right role.
#[tokio::test(flavor = "multi_thread")]
async fn the_collect_script_runs_on_each_release() {
    let engine = Engine::connect().await.unwrap();
    for release in ["bookworm", "trixie", "sid"] {
        let spec = journal_lab::images::ImageSpec::load(
            &journal_lab::images::Recipes::built_in(),
            release,
        )
        .unwrap();
        if !journal_lab::images::exists(&engine, &spec).await.unwrap() {
            eprintln!("skipped {release}: no image ({})", spec.reference());
            continue;
        }
        let text = format!(
            "description: collect\nrelease: {release}\nhosts:\n  - {{name: server, role: server}}\n  - {{name: client1, role: client}}\nchecks:\n  - id: client-status-processing\n"
        );
        let dir = tempfile::tempdir().unwrap();
        let scenario = Scenario::parse(Path::new("collect.yaml"), &text).unwrap();
        let outcome = run("collect", &scenario, dir.path(), true).await;
        let run_id = outcome.report.run_id.clone();
        let server = collect(&engine, &run_id, "server", dir.path()).await;
        let client = collect(&engine, &run_id, "client1", dir.path()).await;
        common::remove_run(&engine, &run_id).await;
        assert_eq!(replay::role_of(&server), Some(Role::Server), "{release}");
        assert_eq!(replay::role_of(&client), Some(Role::Client), "{release}");
        // sid's os-release names the coming release, not "sid".
        if release != "sid" {
            assert_eq!(client.os("VERSION_CODENAME").as_deref(), Some(release));
        }
        assert!(
            client.files.contains_key("certs/upload-cert.pem"),
            "{release}"
        );
        assert!(
            client.cert_paths().keys().any(|(_, kind)| kind == "key"),
            "{release}"
        );
    }
}

//! cert-rejection with a GnuTLS build of the server (`images/bookworm-gnutls.yaml`: bookworm's
//! systemd-journal-remote rebuilt from Debian's source with GnuTLS) and Debian's own clients,
//! named per host. The server-side rejection verdicts are cross-checked on the kept lab with
//! tools the checks do not use: curl posting as the rogue client and as the good one (the
//! control), the server's remote journal directory, its unit log, and the binaries' own
//! `--version` on either side.

mod common;

use common::sh;

use std::path::PathBuf;

use journal_lab::checks::{CheckId, Status};
use journal_lab::domain::Role;
use journal_lab::engine::Engine;
use journal_lab::lab::LabOptions;
use journal_lab::pki::INSTALL_DIR;
use journal_lab::scenario::Scenario;

const GNUTLS: &str = "bookworm-gnutls";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// What journal-remote on the server answers an upload that `client` signs with its own
/// certificate (curl, from the client's container, trusting the lab CA).
async fn answer_to(engine: &Engine, run_id: &str, client: &str) -> String {
    let command = format!(
        "printf 'MESSAGE=gnutls_e2e probe from {client}\\n\\n' | curl -s -m 10 -o /dev/null \
         -w '%{{http_code}}' --cacert {INSTALL_DIR}/ca.pem --cert {INSTALL_DIR}/{client}.pem \
         --key {INSTALL_DIR}/{client}.key -H 'Content-Type: application/vnd.fdo.journal' \
         --data-binary @- https://server:19532/upload"
    );
    sh(engine, &format!("{client}.{run_id}"), &command)
        .await
        .trim()
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gnutls_server_refuses_a_rogue_client_as_curl_and_its_own_log_confirm() {
    let mut scenario = Scenario::load(&root().join("scenarios/cert-rejection.yaml")).unwrap();
    for host in &mut scenario.hosts {
        if host.role == Role::Server {
            host.release = Some(GNUTLS.to_string());
        }
    }
    let reports = tempfile::tempdir().unwrap();
    let mut options = LabOptions::new(journal_lab::images::Recipes::built_in(), reports.path());
    options.keep = true;
    let outcome = common::run_or_clean("cert-rejection (GnuTLS server)", &scenario, &options).await;
    let run_id = outcome.report.run_id.clone();
    let engine = Engine::connect().await.unwrap();
    let server = format!("server.{run_id}");

    let verdict = |id: CheckId, host: &str| {
        outcome
            .report
            .checks
            .iter()
            .find(|c| c.id == id && c.host == host && c.phase == "final")
            .map(|c| (c.status, c.observed.clone(), c.evidence.join("\n")))
            .unwrap_or_else(|| panic!("{id} on {host} was evaluated"))
    };
    let (status, observed, evidence) =
        verdict(CheckId::SERVER_REJECTS_UNTRUSTED_CLIENT_CA, "rogue-client");

    // Independent evidence, read now on the kept lab.
    let server_version = sh(
        &engine,
        &server,
        "/usr/lib/systemd/systemd-journal-remote --version",
    )
    .await;
    let client_version = sh(
        &engine,
        &format!("good.{run_id}"),
        "/usr/lib/systemd/systemd-journal-remote --version",
    )
    .await;
    let rogue_answer = answer_to(&engine, &run_id, "rogue-client").await;
    let good_answer = answer_to(&engine, &run_id, "good").await;
    let remote_files = sh(&engine, &server, "ls /var/log/journal/remote").await;
    let rogue_marker = outcome
        .report
        .hosts
        .iter()
        .find(|h| h.name == "rogue-client")
        .and_then(|h| h.marker.clone())
        .expect("the rogue client logged a marker");
    let rogue_marker_stored = sh(
        &engine,
        &server,
        &format!(
            "journalctl -D /var/log/journal/remote -o cat --no-pager | grep -cF {}",
            journal_lab::journal::shell_quote(&rogue_marker)
        ),
    )
    .await;
    let server_log = sh(
        &engine,
        &server,
        "journalctl -u systemd-journal-remote.service -o cat --no-pager",
    )
    .await;
    common::remove_run(&engine, &run_id).await;

    assert!(server_version.contains("+GNUTLS"), "{server_version}");
    assert!(
        client_version.contains("-GNUTLS"),
        "clients are Debian's build: {client_version}"
    );
    assert_eq!(
        good_answer, "202",
        "the control: the lab's own certificate is accepted"
    );
    assert_eq!(
        rogue_answer, "401",
        "the server refuses the rogue CA's certificate"
    );
    assert_eq!(rogue_marker_stored.trim(), "0", "{remote_files}");
    assert!(
        server_log.contains("Client is not authorized"),
        "{server_log}"
    );
    assert!(
        remote_files.lines().any(|f| f == "remote-CN=good.journal"),
        "a GnuTLS server names remote files by certificate CN (systemd#18687): {remote_files}"
    );
    // The harness saw the same: a pass, with the server's own words in its evidence.
    assert_eq!(status, Status::Pass, "{observed}");
    assert!(evidence.contains("Client is not authorized"), "{evidence}");
    for id in [
        CheckId::SERVER_REJECTS_CLIENT_WITHOUT_CERT,
        CheckId::SERVER_REJECTS_EXPIRED_CLIENT_CERT,
    ] {
        let host = if id == CheckId::SERVER_REJECTS_CLIENT_WITHOUT_CERT {
            "no-cert"
        } else {
            "expired-client"
        };
        assert_eq!(
            verdict(id, host).0,
            Status::Pass,
            "{id}: {}",
            verdict(id, host).1
        );
    }
    let image_of = |name: &str| {
        let host = outcome
            .report
            .hosts
            .iter()
            .find(|h| h.name == name)
            .unwrap();
        host.image.clone()
    };
    assert!(
        image_of("server").starts_with(&format!("journal-lab/{GNUTLS}:")),
        "{}",
        image_of("server")
    );
    assert!(
        image_of("good").starts_with("journal-lab/bookworm:"),
        "{}",
        image_of("good")
    );
}

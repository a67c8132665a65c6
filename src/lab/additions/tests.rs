use super::*;
use crate::scenario::Scenario;

const SCENARIO: &str = "description: d\nbase: BASE\nhosts:\n  - {name: server, role: server}\n  - name: client1\n    role: client\n    files:\n      - path: /etc/systemd/journal-upload.conf\n        content: \"[Upload]\\nURL=https://logs.example.org:19532\\nServerKeyFile=/etc/ssl/journal/client.key\\nServerCertificateFile=/etc/ssl/journal/client.pem\\nTrustedCertificateFile=/etc/ssl/journal/ca.pem\\n\"\nsteps: []\nchecks: []\n";

fn added(base: &str, host: &str) -> Vec<AddedFile> {
    let scenario = Scenario::parse(
        std::path::Path::new("t.yaml"),
        &SCENARIO.replace("BASE", base),
    )
    .unwrap();
    let credentials = Credentials {
        bundle: Some(b"#!/bin/sh\n".to_vec()),
        trusted_ca: "CA".into(),
        pems: Some(("CERT".into(), "KEY".into())),
    };
    let def = scenario.host(host).unwrap();
    let files = super::super::staging::stage_files(&scenario, def, &credentials);
    staged(&scenario, def, &credentials, &files)
}

fn paths(added: &[AddedFile]) -> Vec<&str> {
    added.iter().map(|a| a.path.as_str()).collect()
}

/// As it ships, a client gets the lab's certificate and copies where its journal-upload.conf
/// reads them, and nothing of the lab's in its configuration; the server its certificate where
/// journal-remote reads it by default, and its socket enabled.
#[test]
fn as_it_ships_the_lab_adds_certificates_where_they_are_read_and_nothing_else() {
    let client = added("as-is", "client1");
    assert_eq!(
        paths(&client),
        [
            "/etc/ssl/systemd-journal/client1.pem",
            "/etc/ssl/systemd-journal/client1.key",
            "/etc/ssl/systemd-journal/ca.pem",
            "/etc/ssl/journal/client.pem",
            "/etc/ssl/journal/client.key",
            "/etc/ssl/journal/ca.pem",
        ]
    );
    // The key's hash, never its text.
    assert_eq!(client[4].sha256, crate::report::carried::sha256_hex(b"KEY"));
    assert_eq!(
        client[1].sha256, client[4].sha256,
        "the copy is the installed key"
    );
    assert!(client.iter().all(|a| !a.why.contains("base: guide")));
    let server = added("as-is", "server");
    assert_eq!(
        paths(&server)[3..],
        [
            "/etc/ssl/certs/journal-remote.pem",
            "/etc/ssl/private/journal-remote.pem",
            "/etc/ssl/ca/trusted.pem",
            "/etc/systemd/system/sockets.target.wants/systemd-journal-remote.socket (link)",
        ]
    );
}

/// Under the guide's procedure the lab's own drop-ins are listed too, each saying so.
#[test]
fn under_the_guide_the_labs_drop_ins_are_listed() {
    let client = added("guide", "client1");
    let listed = paths(&client);
    for drop_in in [
        "/etc/systemd/journal-remote.conf.d/50-journal-lab-certificates.conf",
        "/etc/systemd/journal-upload.conf.d/50-journal-lab-certificates.conf",
        "/etc/systemd/system/systemd-journal-upload.service.d/60-journal-lab-restart.conf",
    ] {
        assert!(listed.contains(&drop_in), "{drop_in} in {listed:?}");
    }
    assert!(client
        .iter()
        .filter(|a| a.path.contains("-journal-lab-"))
        .all(|a| a.why.contains("base: guide")));
    let url = configured_upload(Some("https://server:19532"), Base::Guide);
    assert_eq!(
        url[0].path,
        "/etc/systemd/journal-upload.conf.d/60-journal-lab-url.conf"
    );
    assert_eq!(
        configured_upload(None, Base::AsIs).len(),
        1,
        "as it ships: only the enablement"
    );
}

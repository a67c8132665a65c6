use super::audit::*;
use super::delivery::*;
use super::ports::*;
use super::remediation::*;
use super::tls::*;
use super::*;

/// The rejection verdict of check `id`, with the refusal words its family gives it.
fn rejection_verdict(id: CheckId, marker: &MarkerObservation) -> Verdict {
    let words = match id {
        CheckId::CLIENT_ON_OLD_PORT_FAILS => Some(OLD_PORT_REFUSALS),
        id => id.entry().rejection.and_then(Rejection::client_words),
    };
    super::tls::rejection_verdict(words, marker)
}

fn out(exit_code: i64, stdout: &str, stderr: &str) -> ExecOutput {
    ExecOutput {
        exit_code,
        stdout: stdout.into(),
        stderr: stderr.into(),
    }
}

fn marker(found: Option<&str>, reference: Option<&str>, log: &[&str]) -> MarkerObservation {
    MarkerObservation {
        logged: Some("journal-lab marker x".into()),
        found_in: found.map(str::to_string),
        later_reference: reference.map(str::to_string),
        client_log: log.iter().map(|s| s.to_string()).collect(),
        logged_at: None,
    }
}

#[test]
fn ids_are_kebab_case_and_round_trip() {
    assert_eq!(
        CheckId::SERVER_REJECTS_UNTRUSTED_CLIENT_CA.to_string(),
        "server-rejects-untrusted-client-ca"
    );
    let id: CheckId = serde_json::from_str("\"docker-socket-audit-loaded\"").unwrap();
    assert_eq!(id, CheckId::DOCKER_SOCKET_AUDIT_LOADED);
}

#[test]
fn a_rejection_fails_when_the_server_accepted() {
    let (status, observed) = rejection_verdict(
        CheckId::SERVER_REJECTS_UNTRUSTED_CLIENT_CA,
        &marker(Some("remote-1.journal"), Some("good"), &[]),
    );
    assert_eq!(status, Status::Fail);
    assert!(observed.contains("ACCEPTED") && observed.contains("remote-1.journal"));
}

#[test]
fn server_rejection_needs_the_refusal_and_a_later_marker() {
    let id = CheckId::SERVER_REJECTS_EXPIRED_CLIENT_CERT;
    let refused = ["Upload to https://server:19532/upload failed: OpenSSL SSL_read: tlsv1 alert"];
    assert_eq!(
        rejection_verdict(id, &marker(None, Some("good"), &refused)).0,
        Status::Pass
    );
    assert_eq!(
        rejection_verdict(id, &marker(None, None, &refused)).0,
        Status::NotVerifiable
    );
    // Absence alone is not a refusal: the entry may have been lost or dropped.
    assert_eq!(
        rejection_verdict(id, &marker(None, Some("good"), &[])).0,
        Status::NotVerifiable
    );
}

/// The false pass this guards against was seen for real: journal-remote answered 202 to a client
/// without a certificate, then dropped the (malformed) entry, so the marker was absent.
#[test]
fn an_accepted_request_fails_even_when_the_entry_was_dropped() {
    let id = CheckId::SERVER_REJECTS_CLIENT_WITHOUT_CERT;
    let (status, observed) = rejection_verdict(
        id,
        &marker(None, Some("good"), &["$ curl ...", "HTTP status 202"]),
    );
    assert_eq!(status, Status::Fail);
    assert!(observed.contains("HTTP status 202"), "{observed}");
    let refused = ["curl: (56) OpenSSL SSL_read: error:0A00045C:SSL routines::tlsv13 alert certificate required", "HTTP status 000"];
    assert_eq!(
        rejection_verdict(id, &marker(None, Some("good"), &refused)).0,
        Status::Pass
    );
}

#[test]
fn client_rejection_needs_the_clients_own_error() {
    let id = CheckId::CLIENT_REJECTS_EXPIRED_SERVER_CERT;
    let refused = marker(None, None, &["Upload to https://x:19532/upload failed: SSL certificate problem: certificate has expired"]);
    assert_eq!(rejection_verdict(id, &refused).0, Status::Pass);
    assert_eq!(
        rejection_verdict(id, &marker(None, Some("good"), &["Connection refused"])).0,
        Status::NotVerifiable
    );
    let unlogged = MarkerObservation::default();
    assert_eq!(rejection_verdict(id, &unlogged).0, Status::Error);
}

#[test]
fn delivery_needs_the_marker_on_the_server() {
    assert_eq!(
        delivery_verdict(&marker(Some("f"), None, &[])).0,
        Status::Pass
    );
    assert_eq!(delivery_verdict(&marker(None, None, &[])).0, Status::Fail);
    assert_eq!(
        delivery_verdict(&MarkerObservation::default()).0,
        Status::Error
    );
}

#[test]
fn owner_mode_flags_each_wrong_entry() {
    let dir = "/etc/ssl/systemd-journal";
    let good = "systemd-journal-remote:systemd-journal 750 /etc/ssl/systemd-journal\n\
                systemd-journal-remote:systemd-journal 640 /etc/ssl/systemd-journal/ca.pem\n";
    assert_eq!(owner_mode_verdict(&out(0, good, ""), dir).0, Status::Pass);
    let bad = format!("{good}root:root 644 /etc/ssl/systemd-journal/c.key\n");
    let (status, observed) = owner_mode_verdict(&out(0, &bad, ""), dir);
    assert_eq!(status, Status::Fail);
    assert!(observed.contains("c.key is root:root 644"));
    assert_eq!(
        owner_mode_verdict(&out(1, "", "No such file"), dir).0,
        Status::Fail
    );
}

#[test]
fn https_only_fails_on_a_plain_listener_or_an_http_answer() {
    let https = out(0, "{ path=/lib/systemd/systemd-journal-remote ; argv[]=/lib/systemd/systemd-journal-remote --listen-https=-3 --output=/var/log/journal/remote/ }", "");
    assert_eq!(
        https_only_verdict(&https, &out(52, "000", "Empty reply")).0,
        Status::Pass
    );
    assert_eq!(
        https_only_verdict(&https, &out(0, "405", "")).0,
        Status::Fail
    );
    let both = out(0, "argv[]=x --listen-https=-3 --listen-http=19531", "");
    assert_eq!(
        https_only_verdict(&both, &out(7, "000", "")).0,
        Status::Fail
    );
}

#[test]
fn refusal_means_connection_refused_not_any_error() {
    assert_eq!(
        refused_verdict(&out(1, "", "bash: connect: Connection refused"), "s:1").0,
        Status::Pass
    );
    assert_eq!(refused_verdict(&out(0, "", ""), "s:1").0, Status::Fail);
    assert_eq!(
        refused_verdict(&out(124, "", "timeout"), "s:1").0,
        Status::Fail
    );
}

#[test]
fn socket_refuses_needs_both_the_refusal_and_a_failed_start() {
    let refused = out(1, "", "Connection refused");
    let masked = out(1, "", "Failed to start systemd-journal-remote.socket: Unit systemd-journal-remote.socket is masked.");
    assert_eq!(socket_refuses_verdict(&refused, &masked).0, Status::Pass);
    assert_eq!(
        socket_refuses_verdict(&refused, &out(0, "", "")).0,
        Status::Fail
    );
    assert_eq!(
        socket_refuses_verdict(&out(0, "", ""), &masked).0,
        Status::Fail
    );
}

#[test]
fn applicability_masking_and_idempotence() {
    assert_eq!(applicable_verdict(&out(0, "installed", "")).0, Status::Pass);
    assert_eq!(
        applicable_verdict(&out(1, "", "no packages found")).0,
        Status::NotApplicable
    );
    assert_eq!(masked_verdict(&out(1, "masked\n", "")).0, Status::Pass);
    assert_eq!(masked_verdict(&out(0, "enabled\n", "")).0, Status::Fail);
    assert_eq!(idempotent_verdict(Some("a"), Some("a")).0, Status::Pass);
    assert_eq!(idempotent_verdict(Some("a"), Some("b")).0, Status::Fail);
    assert_eq!(idempotent_verdict(None, None).0, Status::NotApplicable);
}

#[test]
fn audit_rules_are_matched_on_path_and_key() {
    let path = "/lib/systemd/system/docker.socket";
    assert!(watches_with_docker_key(
        "-w /lib/systemd/system/docker.socket -p rwxa -k docker\n",
        path
    ));
    assert!(watches_with_docker_key(
        "-a always,exit -F path=/lib/systemd/system/docker.socket -F perm=rwxa -F key=docker",
        path
    ));
    assert!(!watches_with_docker_key(
        "-w /lib/systemd/system/docker.socket -k other",
        path
    ));
    assert!(!watches_with_docker_key(
        "-w /lib/systemd/system/docker.service -k docker",
        path
    ));
    let compiled = out(0, "-w /lib/systemd/system/docker.socket -k docker\n", "");
    assert_eq!(audit_rule_verdict(Some(path), &compiled).0, Status::Pass);
    assert_eq!(audit_rule_verdict(None, &compiled).0, Status::NotApplicable);
}

#[test]
fn audit_loaded_is_never_a_pass_without_the_kernel() {
    let path = "/lib/systemd/system/docker.socket";
    let denied = out(
        1,
        "",
        "You must be root to run this program.\nOperation not permitted",
    );
    assert_eq!(
        audit_loaded_verdict(Some(path), &denied).0,
        Status::NotVerifiable
    );
    assert_eq!(
        audit_loaded_verdict(Some(path), &out(0, "No rules\n", "")).0,
        Status::Fail
    );
}

#[test]
fn the_last_uncommented_assignment_wins() {
    let config = "# /etc/systemd/journald.conf\n[Journal]\n#Storage=auto\nStorage=volatile\n\n# /etc/systemd/journald.conf.d/50.conf\n[Journal]\nStorage=persistent\n";
    assert_eq!(
        effective_setting(config, "Storage").as_deref(),
        Some("persistent")
    );
    assert_eq!(effective_setting(config, "Compress"), None);
    assert_eq!(
        setting_verdict(&out(0, config, ""), "Storage", &["persistent"]).0,
        Status::Pass
    );
    assert_eq!(
        setting_verdict(&out(0, config, ""), "Compress", &["yes"]).0,
        Status::Fail
    );
    let volatile = "[Journal]\nStorage=volatile\n";
    let (status, observed) = setting_verdict(&out(0, volatile, ""), "Storage", &["persistent"]);
    assert_eq!(status, Status::Fail);
    assert!(observed.contains("want persistent"));
    assert_eq!(
        setting_verdict(
            &out(0, "TrustedCertificateFile=\n", ""),
            "TrustedCertificateFile",
            &[]
        )
        .0,
        Status::Fail
    );
    assert_eq!(
        setting_verdict(
            &out(0, "TrustedCertificateFile=/etc/ca.pem\n", ""),
            "TrustedCertificateFile",
            &[]
        )
        .0,
        Status::Pass
    );
}

#[test]
fn world_readable_keys_fail_and_no_keys_is_not_applicable() {
    assert_eq!(
        keys_verdict(&out(0, "/etc/ssl/systemd-journal/a.key\n---\n", "")).0,
        Status::Pass
    );
    let (status, observed) = keys_verdict(&out(0, "/x/a.key\n---\n/x/a.key\n", ""));
    assert_eq!(status, Status::Fail);
    assert!(observed.contains("/x/a.key"));
    assert_eq!(keys_verdict(&out(0, "---\n", "")).0, Status::NotApplicable);
}

mod registry;

mod integrity {
    //! Recorded `journalctl --header` / `--verify` outputs (systemd 252, bookworm lab hosts).
    use super::super::integrity::*;
    use super::*;

    const ARCHIVED: &str =
        "/var/log/journal/e02a/system@b3e8-0000000000000032-000660ffbbbac7a1.journal";

    #[test]
    fn sealed_only_with_the_flag() {
        let sealed = out(0, "File path: /var/log/journal/e02a/system.journal\nState: ONLINE\nCompatible flags: SEALED\n", "");
        assert_eq!(sealed_verdict(&sealed).0, Status::Pass);
        let plain = out(
            0,
            "File path: /var/log/journal/e02a/system.journal\nState: ONLINE\nCompatible flags:\n",
            "",
        );
        assert_eq!(sealed_verdict(&plain).0, Status::Fail);
        // "SEALED" elsewhere is not the flag.
        let elsewhere = out(
            0,
            "File path: /var/log/journal/SEALED/system.journal\nCompatible flags: \n",
            "",
        );
        assert_eq!(sealed_verdict(&elsewhere).0, Status::Fail);
        assert_eq!(sealed_verdict(&out(1, "", "No such file")).0, Status::Fail);
    }

    #[test]
    fn a_sealed_file_that_verifies_passes_and_unsealed_files_prove_nothing() {
        let intact = format!(
            "=== unsealed /var/log/journal/e02a/system@b3e8-0000000000000001-000660ffbb6c79b5.journal\n\
             === verify {ARCHIVED}\nPASS: {ARCHIVED}\n\
             => Validated from Tue 2026-11-24 06:22:22 UTC to Tue 2026-11-24 06:22:26 UTC, final 11.006188s entries not sealed.\n\
             === exit 0\n"
        );
        let (status, observed) = verifies_verdict(&out(0, &intact, ""));
        assert_eq!(status, Status::Pass, "{observed}");
        assert!(observed.contains("1 sealed file(s)") && observed.contains("1 unsealed"));
        // The false pass it must never give: nothing sealed, nothing verified, "PASS" printed anyway.
        let unsealed_only = "=== unsealed /var/log/journal/e02a/system@1.journal\nPASS: x\n";
        assert_eq!(
            verifies_verdict(&out(0, unsealed_only, "")).0,
            Status::NotVerifiable
        );
        let online_only = "=== online /var/log/journal/remote/remote-1.journal\n";
        assert_eq!(
            verifies_verdict(&out(0, online_only, "")).0,
            Status::NotVerifiable
        );
    }

    #[test]
    fn a_sealed_file_that_fails_verification_fails() {
        let tampered = format!(
            "=== verify {ARCHIVED}\n391718: Invalid hash (5a37704f6a04b920 vs. c4f6d6c6e41ab896)\n\
             391718: Invalid object contents: Bad message\n\
             File corruption detected at {ARCHIVED}:391718 (of 3742840 bytes, 99%).\n\
             FAIL: {ARCHIVED} (Bad message)\n=== exit 1\n"
        );
        let (status, observed) = verifies_verdict(&out(0, &tampered, ""));
        assert_eq!(status, Status::Fail);
        assert!(
            observed.contains(ARCHIVED) && observed.contains("FAIL"),
            "{observed}"
        );
    }

    #[test]
    fn tampering_is_detected_only_when_verification_names_corruption() {
        let detected = format!(
            "=== sealed {ARCHIVED}\n391718: Invalid hash (5a37 vs. c4f6)\n\
             File corruption detected at {ARCHIVED}:391718 (of 3742840 bytes, 99%).\n\
             FAIL: {ARCHIVED} (Bad message)\n=== exit 1\n"
        );
        let (status, observed) = tamper_verdict(ARCHIVED, &out(0, &detected, ""));
        assert_eq!(status, Status::Pass);
        assert!(observed.contains(":391718"), "{observed}");
        // The false pass it must never give: the tampered file still verifies.
        let still_fine = format!("=== sealed {ARCHIVED}\nPASS: {ARCHIVED}\n=== exit 0\n");
        assert_eq!(
            tamper_verdict(ARCHIVED, &out(0, &still_fine, "")).0,
            Status::Fail
        );
        // Failing for another reason (the key) is no detection.
        let wrong_key = format!(
            "=== sealed {ARCHIVED}\nFAIL: {ARCHIVED} (Required key not available)\n=== exit 1\n"
        );
        assert_eq!(
            tamper_verdict(ARCHIVED, &out(0, &wrong_key, "")).0,
            Status::NotVerifiable
        );
        let gone = format!("=== missing {ARCHIVED}\n");
        assert_eq!(
            tamper_verdict(ARCHIVED, &out(0, &gone, "")).0,
            Status::NotVerifiable
        );
        let unsealed = format!(
            "=== unsealed {ARCHIVED}\nFile corruption detected at {ARCHIVED}:12 (of 9 bytes).\n=== exit 1\n"
        );
        let (status, observed) = tamper_verdict(ARCHIVED, &out(0, &unsealed, ""));
        assert_eq!(status, Status::Pass);
        assert!(observed.contains("not sealed"), "{observed}");
    }

    #[test]
    fn remote_journals_must_all_be_sealed() {
        let unsealed = "=== /var/log/journal/remote/remote-172.27.0.2.journal\nState: ONLINE\nCompatible flags:\n\
                        === log\nFailed to open /var/log/journal/d1e3/fss: Permission denied\n";
        let (status, observed) = remote_sealed_verdict(&out(0, unsealed, ""));
        assert_eq!(status, Status::Fail);
        assert!(
            observed.contains("Permission denied") && observed.contains("remote-172.27.0.2"),
            "{observed}"
        );
        let sealed = "=== /var/log/journal/remote/remote-1.journal\nState: ONLINE\nCompatible flags: SEALED\n=== log\n";
        assert_eq!(remote_sealed_verdict(&out(0, sealed, "")).0, Status::Pass);
        assert_eq!(
            remote_sealed_verdict(&out(0, "=== log\n", "")).0,
            Status::NotVerifiable
        );
    }
}

#[test]
fn a_status_that_does_not_hold_says_the_units_state() {
    use super::delivery::status_text_verdict;
    let show = |status: &str, active: &str, sub: &str, result: &str| {
        out(
            0,
            &format!(
                "Result={result}\nStatusText={status}\nActiveState={active}\nSubState={sub}\n"
            ),
            "",
        )
    };
    let (status, observed) = status_text_verdict(
        &show("Processing input...", "active", "running", "success"),
        "Processing input...",
    );
    assert_eq!(
        (status, observed.as_str()),
        (Status::Pass, "StatusText=Processing input...")
    );
    let (status, observed) = status_text_verdict(
        &show("", "failed", "failed", "start-limit-hit"),
        "Processing input...",
    );
    assert_eq!(status, Status::Fail);
    assert_eq!(
        observed,
        "StatusText=\"\" (ActiveState=failed SubState=failed Result=start-limit-hit)"
    );
    let (_, observed) = status_text_verdict(
        &show("", "inactive", "dead", "success"),
        "Processing input...",
    );
    assert!(
        observed.contains("ActiveState=inactive SubState=dead"),
        "{observed}"
    );
}

/// An observer that saw nothing: every command printed nothing, no marker, no records.
struct SawNothing;

impl Observer for SawNothing {
    fn exec<'a>(&'a self, _: &'a str, _: &'a str) -> BoxFuture<'a, crate::Result<ExecOutput>> {
        Box::pin(async {
            Ok(ExecOutput {
                exit_code: 0,
                stdout: String::new(),
                stderr: String::new(),
            })
        })
    }
    fn marker<'a>(
        &'a self,
        _: &'a str,
        _: &'a mut Vec<String>,
    ) -> BoxFuture<'a, crate::Result<MarkerObservation>> {
        Box::pin(async { Ok(MarkerObservation::default()) })
    }
    fn history(&self) -> &super::history::History {
        static NOTHING: std::sync::OnceLock<super::history::History> = std::sync::OnceLock::new();
        NOTHING.get_or_init(Default::default)
    }
    fn marker_after(&self, _: &str, _: time::OffsetDateTime) -> Option<String> {
        None
    }
}

/// Every registered check judges an observer that saw nothing, on either role, without an
/// error: an empty output is judged (a fail, not-applicable, not-verifiable or an error verdict
/// that says what is missing), never a failure of the harness. (That every id has its verdict is
/// the compiler's to say: an `Entry` is made with its verdict function.)
#[tokio::test]
async fn every_registered_check_judges_an_observer_that_saw_nothing() {
    let observer = SawNothing;
    for family in FAMILIES {
        for entry in family.entries {
            for role in [Role::Server, Role::Client] {
                let target = Target {
                    host: "h",
                    role,
                    port: 19532,
                    has_certificate: true,
                    uploads: true,
                    first_client: Some("c"),
                    server: Some("s"),
                    route: vec!["s"],
                    run_id: "r",
                    sources: Vec::new(),
                    configured: Vec::new(),
                    params: Vec::new(),
                    observer: &observer,
                };
                let mut evidence = Vec::new();
                let result = (entry.verdict)(entry, &target, &mut evidence).await;
                let (status, observed) =
                    result.unwrap_or_else(|e| panic!("{} ({}): {e}", entry.id, family.name));
                assert_ne!(
                    status,
                    Status::Pass,
                    "{} ({}) passes on nothing observed: {observed}",
                    entry.id,
                    family.name
                );
            }
        }
    }
}

/// `upload-restarts-at-most`: the bound holds at `max` and fails past it, saying both numbers
/// and the unit's state; no number at all is not a pass.
#[test]
fn restarts_are_judged_against_the_scenarios_bound() {
    use super::delivery::restarts_verdict;
    let show = |restarts: &str| {
        out(
            0,
            &format!("NRestarts={restarts}\nActiveState=failed\nResult=start-limit-hit\n"),
            "",
        )
    };
    assert_eq!(restarts_verdict(&show("0"), 0).0, Status::Pass);
    assert_eq!(restarts_verdict(&show("5"), 5).0, Status::Pass);
    let (status, observed) = restarts_verdict(&show("6"), 5);
    assert_eq!(status, Status::Fail);
    assert_eq!(
        observed,
        "NRestarts=6, more than the 5 allowed (ActiveState=failed Result=start-limit-hit)"
    );
    assert_eq!(
        restarts_verdict(&out(0, "ActiveState=active\n", ""), 9).0,
        Status::Error
    );
}

/// A check reads its parameter as the scenario gave it, else the entry's default.
#[test]
fn a_parameter_is_the_scenarios_or_its_default() {
    let entry = CheckId::UPLOAD_RESTARTS_AT_MOST.entry();
    let target = |params: Vec<(&'static str, u64)>| Target {
        host: "c",
        role: Role::Client,
        port: 19532,
        has_certificate: true,
        uploads: true,
        first_client: None,
        server: None,
        route: Vec::new(),
        run_id: "r",
        sources: Vec::new(),
        configured: Vec::new(),
        params,
        observer: &SawNothing,
    };
    assert_eq!(target(Vec::new()).param(entry, "max"), 0);
    assert_eq!(target(vec![("max", 7)]).param(entry, "max"), 7);
}

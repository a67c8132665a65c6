use super::*;
use crate::checks::CheckResult;

fn result(id: CheckId, host: &str, status: Status) -> CheckResult {
    CheckResult {
        id,
        title: String::new(),
        host: host.into(),
        phase: "final".into(),
        expected: String::new(),
        observed: "observed".into(),
        status,
        evidence: Vec::new(),
        seconds: 0.0,
        reference: String::new(),
        known: None,
    }
}

fn expectation(check: CheckId, host: Option<&str>, known: KnownKind) -> Expectation {
    Expectation {
        suite: "cert-rejection".into(),
        check,
        host: host.map(str::to_string),
        known,
        reason: "journal-remote built without GnuTLS".into(),
        link: Some("https://github.com/systemd/systemd/issues/4092".into()),
    }
}

/// A known failure no longer fails; a known one that passed is fixed; a flaky one is known
/// whatever it did; another host's result and an unexpected failure are left as they are.
#[test]
fn expectations_mark_what_they_are_about_and_nothing_else() {
    let untrusted = CheckId::SERVER_REJECTS_UNTRUSTED_CLIENT_CA;
    let mut results = vec![
        result(untrusted, "rogue-client", Status::Fail),
        result(untrusted, "other", Status::Fail),
        result(CheckId::CLIENT_DELIVERS, "good", Status::Fail),
        result(
            CheckId::SERVER_REJECTS_CLIENT_WITHOUT_CERT,
            "no-cert",
            Status::Pass,
        ),
        result(
            CheckId::SERVER_REJECTS_EXPIRED_CLIENT_CERT,
            "expired-client",
            Status::Pass,
        ),
    ];
    apply(
        &[
            expectation(untrusted, Some("rogue-client"), KnownKind::Fail),
            expectation(
                CheckId::SERVER_REJECTS_CLIENT_WITHOUT_CERT,
                None,
                KnownKind::Fail,
            ),
            expectation(
                CheckId::SERVER_REJECTS_EXPIRED_CLIENT_CERT,
                None,
                KnownKind::Flaky,
            ),
        ],
        &mut results,
    );
    assert!(!results[0].fails(), "a known failure does not fail the run");
    assert_eq!(
        results[0].known.as_ref().unwrap().reason,
        "journal-remote built without GnuTLS"
    );
    assert!(
        results[1].fails() && results[1].known.is_none(),
        "another host: as it was"
    );
    assert!(results[2].fails(), "an unexpected failure still fails");
    assert!(
        results[3].known.as_ref().unwrap().fixed,
        "a known failure that passed: fixed"
    );
    let flaky = results[4].known.as_ref().unwrap();
    assert!(!flaky.fixed && flaky.kind == KnownKind::Flaky);
}

/// An expectation about a check or host its suite never evaluates is stale.
#[test]
fn an_expectation_that_matches_nothing_is_stale() {
    let (_, suite) =
        crate::scenario::builtin::resolve(std::path::Path::new("cert-rejection")).unwrap();
    let untrusted = CheckId::SERVER_REJECTS_UNTRUSTED_CLIENT_CA;
    assert_eq!(
        stale(
            &expectation(untrusted, Some("rogue-client"), KnownKind::Fail),
            &suite
        ),
        None
    );
    assert_eq!(
        stale(&expectation(untrusted, None, KnownKind::Fail), &suite),
        None
    );
    let wrong_host = stale(
        &expectation(untrusted, Some("good"), KnownKind::Fail),
        &suite,
    )
    .unwrap();
    assert!(
        wrong_host.contains(
            "evaluates server-rejects-untrusted-client-ca on rogue-client, not on \"good\""
        ),
        "{wrong_host}"
    );
    let never = stale(
        &expectation(CheckId::REMOTE_RETENTION, None, KnownKind::Fail),
        &suite,
    )
    .unwrap();
    assert!(
        never.contains("does not evaluate remote-retention"),
        "{never}"
    );
    // The profile is evaluated on the hosts its items are about: they can be expected too.
    assert_eq!(
        stale(
            &expectation(CheckId::JOURNALD_COMPRESS, Some("server"), KnownKind::Flaky),
            &suite
        ),
        None
    );
    assert!(stale(
        &expectation(CheckId::JOURNALD_COMPRESS, Some("good"), KnownKind::Flaky),
        &suite
    )
    .is_some());
}

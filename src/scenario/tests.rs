use super::*;

const GOOD: &str = r#"
description: two clients, one rogue
cas: [rogue]
hosts:
  - name: server
    role: server
    aliases: [logs]
  - name: good
    role: client
    upload: {via: logs}
  - name: bad
    role: client
    certificate: {issuer: rogue}
steps:
  - do: log-markers
    hosts: [bad]
  - do: log-markers
    hosts: [good]
checks:
  - id: client-delivers
    hosts: [good]
  - id: server-rejects-untrusted-client-ca
    hosts: [bad]
"#;

/// 1-based line of the first line containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

fn parse(text: &str) -> Result<Scenario, ScenarioError> {
    Scenario::parse(Path::new("scenarios/x.yaml"), text)
}

#[test]
fn a_good_scenario_loads_with_defaults() {
    let scenario = parse(GOOD).unwrap();
    assert_eq!(scenario.hosts.len(), 3);
    let good = scenario.host("good").unwrap();
    assert_eq!(good.certificate.issuer, "lab");
    assert_eq!(good.trusts, "lab");
    assert!(good.configure_upload);
    assert_eq!(scenario.server_of(good).unwrap().name, "server");
    assert_eq!(
        scenario.select(&Hosts::Group(HostGroup::Clients)),
        ["good", "bad"]
    );
    assert_eq!(scenario.checks[0].phases, ["final"]);
}

#[test]
fn unknown_keys_are_located() {
    let text = GOOD.replace(
        "    aliases: [logs]",
        "    aliases: [logs]\n    listen_prot: 1",
    );
    let err = parse(&text).unwrap_err();
    let line = line_of(&text, "listen_prot");
    assert_eq!(
        (err.line, err.file.display().to_string()),
        (line, "scenarios/x.yaml".to_string())
    );
    assert!(err.message.contains("unknown field `listen_prot`"), "{err}");
    assert!(
        err.to_string()
            .starts_with(&format!("scenarios/x.yaml:{line}:5: ")),
        "{err}"
    );
}

#[test]
fn wrong_types_are_located() {
    let text = GOOD.replace("    aliases: [logs]", "    listen_port: many");
    let err = parse(&text).unwrap_err();
    assert_eq!(
        (err.line, err.column),
        (line_of(&text, "many"), 18),
        "{err}"
    );
    assert!(
        err.message.contains("listen_port") || err.message.contains("u16"),
        "{err}"
    );
}

#[test]
fn unknown_check_ids_are_refused() {
    let err = parse(&GOOD.replace("id: client-delivers", "id: client-delivery")).unwrap_err();
    assert!(err.message.contains("client-delivery"), "{err}");
}

#[test]
fn dangling_host_references_name_the_line() {
    let text = GOOD.replace(
        "    hosts: [good]\n  - id: server",
        "    hosts: [goood]\n  - id: server",
    );
    let err = parse(&text).unwrap_err();
    assert!(
        err.message.contains("\"goood\"") && err.message.contains("known: bad, good, server"),
        "{err}"
    );
    assert_eq!(err.line, line_of(&text, "goood"));
}

#[test]
fn unknown_issuer_alias_and_phase_are_refused() {
    assert!(parse(&GOOD.replace("issuer: rogue", "issuer: evil"))
        .unwrap_err()
        .message
        .contains("issuer \"evil\""));
    assert!(parse(&GOOD.replace("via: logs", "via: logz"))
        .unwrap_err()
        .message
        .contains("upload.via"));
    let text = GOOD.replace(
        "ca\n    hosts: [bad]\n",
        "ca\n    hosts: [bad]\n    phases: [later]\n",
    );
    let err = parse(&text).unwrap_err();
    assert!(err.message.contains("phase \"later\""), "{err}");
}

#[test]
fn duplicate_hosts_and_missing_server_are_refused() {
    let dup = GOOD.replace("name: bad", "name: good");
    assert!(parse(&dup).unwrap_err().message.contains("defined twice"));
    let no_server = GOOD.replace("role: server", "role: client");
    assert!(parse(&no_server)
        .unwrap_err()
        .message
        .contains("role: server"));
}

#[test]
fn the_schema_describes_the_format() {
    let schema = json_schema();
    let text = schema.to_string();
    for needle in [
        "hosts",
        "checks",
        "server-rejects-untrusted-client-ca",
        "log-markers",
        "not-yet-valid",
    ] {
        assert!(text.contains(needle), "schema lacks {needle}");
    }
}

#[test]
fn shipped_scenarios_are_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let files = files_in(&dir).unwrap();
    for file in &files {
        Scenario::load(file).unwrap_or_else(|e| panic!("{e}"));
    }
}

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

mod fuzz {
    //! The loader must answer every input with a scenario or a located error: never a panic,
    //! never a hang. Inputs are the seed scenarios with random edits (YAML's structural
    //! characters, anchors and aliases, deep brackets, cut lines) and arbitrary text.
    use super::*;
    use proptest::prelude::*;
    use std::time::{Duration, Instant};

    fn seeds() -> Vec<String> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        let mut texts: Vec<String> = files_in(&dir)
            .unwrap()
            .iter()
            .map(|f| std::fs::read_to_string(f).unwrap())
            .collect();
        texts.push(GOOD.to_string());
        texts
    }

    /// A piece of text that tends to break YAML or the scenario model.
    fn fragment() -> impl Strategy<Value = String> {
        prop_oneof![
            proptest::sample::select(vec![
                "[",
                "]",
                "{",
                "}",
                ": ",
                "- ",
                "\n",
                "  ",
                "&a ",
                "*a",
                "'",
                "\"",
                "#",
                "|\n",
                "!!",
                "..",
                "/",
                "\0",
                "\t",
                "0",
                "-1",
                "99999",
                "server",
                "client",
                "none",
                "lab",
                "/etc/../x",
                "hosts: []\n",
                "name: server\n",
                "\u{feff}",
                "é",
            ])
            .prop_map(str::to_string),
            "[ -~]{0,12}",
            (1usize..200).prop_map(|n| "[".repeat(n)),
        ]
    }

    /// (position fraction, cut length, what to insert)
    fn edit() -> impl Strategy<Value = (f64, usize, String)> {
        (0.0f64..1.0, 0usize..8, fragment())
    }

    fn apply(text: &str, edits: &[(f64, usize, String)]) -> String {
        let mut text = text.to_string();
        for (at, cut, insert) in edits {
            let mut index = (at * text.len() as f64) as usize;
            while !text.is_char_boundary(index) {
                index -= 1;
            }
            let mut end = (index + cut).min(text.len());
            while !text.is_char_boundary(end) {
                end += 1;
            }
            text.replace_range(index..end, insert);
        }
        text
    }

    fn loads_or_says_where(text: &str) {
        let start = Instant::now();
        let result = std::panic::catch_unwind(|| Scenario::parse(Path::new("f.yaml"), text));
        let took = start.elapsed();
        let result = result.unwrap_or_else(|_| panic!("the loader panicked on {text:?}"));
        assert!(took < Duration::from_secs(1), "{took:?} for {text:?}");
        if let Err(e) = result {
            assert!(!e.message.is_empty(), "an empty message for {text:?}");
            // YAML (libyaml, under yaml_serde) breaks lines at \n, \r\n, a lone \r, and NEL,
            // LS and PS (U+0085, U+2028, U+2029).
            let lines = text
                .replace("\r\n", "\n")
                .replace(['\r', '\u{85}', '\u{2028}', '\u{2029}'], "\n")
                .lines()
                .count()
                .max(1);
            assert!(
                e.line >= 1 && e.line <= lines + 1,
                "line {} of {lines} for {text:?}: {e}",
                e.line
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 400, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn edited_seed_scenarios_load_or_fail_with_a_location(
            seed in 0usize..6,
            edits in proptest::collection::vec(edit(), 1..6),
        ) {
            let seeds = seeds();
            loads_or_says_where(&apply(&seeds[seed % seeds.len()], &edits));
        }

        #[test]
        fn arbitrary_text_loads_or_fails_with_a_location(text in "(?s).{0,400}") {
            loads_or_says_where(&text);
        }
    }

    /// Found by the fuzz test above: YAML's own line breaks count as lines.
    #[test]
    fn yamls_unicode_line_breaks_count_as_lines() {
        for text in ["\u{85}{", "\u{2028}{", "a:\u{2029}{"] {
            loads_or_says_where(text);
        }
    }
}

#[test]
fn tampering_needs_sealing_and_a_journal_that_exists() {
    let base = "description: d\nhosts:\n  - {name: server, role: server}\n  - {name: client1, role: client}\nsteps:\n";
    let with = |steps: &str| format!("{base}{steps}checks: []\n");
    let ok = with("  - {do: setup-sealing, interval: 10s}\n  - {do: tamper, host: client1, how: overwrite}\n  - {do: tamper, host: server, journal: remote, how: truncate}\n");
    parse(&ok).unwrap();

    let unsealed = with("  - {do: setup-sealing, hosts: [server]}\n  - {do: tamper, host: client1, how: overwrite}\n");
    let err = parse(&unsealed).unwrap_err();
    assert_eq!((err.line, err.column), (7, 24), "{err}");
    assert!(err.message.contains("has no sealing"), "{err}");

    let sealed_later =
        with("  - {do: tamper, host: client1, how: overwrite}\n  - {do: setup-sealing}\n");
    assert!(parse(&sealed_later)
        .unwrap_err()
        .message
        .contains("has no sealing"));

    let remote_on_client = with(
        "  - do: setup-sealing\n  - {do: tamper, host: client1, journal: remote, how: overwrite}\n",
    );
    let err = parse(&remote_on_client).unwrap_err();
    assert!(err.message.contains("is a client"), "{err}");
    assert_eq!(err.line, 7);

    let bogus = with("  - do: setup-sealing\n  - {do: tamper, host: client1, journal: /etc/passwd, how: overwrite}\n");
    assert!(parse(&bogus)
        .unwrap_err()
        .message
        .contains("names no journal"));

    let interval = with("  - {do: setup-sealing, interval: 3d}\n");
    let err = parse(&interval).unwrap_err();
    assert!(err.message.contains("between 1s and 24h"), "{err}");
    assert_eq!((err.line, err.column), (6, 35));
}

#[test]
fn faults_name_a_host_they_can_happen_to_and_end_what_they_start() {
    let base = "description: d\nhosts:\n  - {name: server, role: server}\n  - {name: client1, role: client}\nsteps:\n";
    let with = |steps: &str| format!("{base}{steps}checks: []\n");
    parse(&with("  - {do: fault, kind: server-down, host: server, duration: 25}\n  - {do: fault, kind: pause, host: client1}\n  - {do: end-fault, kind: pause, host: client1}\n  - {do: fault, kind: kill-upload, host: client1}\n")).unwrap();
    let cases = [
        ("  - {do: fault, kind: server-down, host: client1, duration: 5}\n", "runs on servers"),
        ("  - {do: fault, kind: kill-upload, host: server}\n", "runs on clients"),
        ("  - {do: fault, kind: blackhole, host: client1, duration: 5}\n", "runs on servers"),
        ("  - {do: fault, kind: kill-upload, host: client1, duration: 5}\n", "takes no duration"),
        ("  - {do: fault, kind: pause, host: server, duration: 0}\n", "1 to 600 seconds"),
        ("  - {do: fault, kind: pause, host: nobody, duration: 5}\n", "not in hosts"),
        ("  - {do: end-fault, kind: partition, host: server}\n", "no partition fault"),
        ("  - {do: fault, kind: pause, host: server}\n  - {do: fault, kind: pause, host: server}\n", "already in force"),
    ];
    for (steps, says) in cases {
        let err = parse(&with(steps)).unwrap_err();
        assert!(err.message.contains(says), "{steps}: {err}");
        assert!(err.line >= 6, "{steps}: {err}");
    }
}

#[test]
fn a_restart_halts_cleanly_unless_it_says_power_cut() {
    let base = "description: d\nhosts:\n  - {name: server, role: server}\n  - {name: client1, role: client}\nsteps:\n";
    let with = |steps: &str| format!("{base}{steps}checks: []\n");
    let how = |text: &str| match &parse(text).unwrap().steps[0] {
        Step::Restart { how, .. } => *how,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        how(&with("  - {do: restart, host: client1}\n")),
        RestartMode::Halt
    );
    assert_eq!(
        how(&with("  - {do: restart, host: client1, how: power-cut}\n")),
        RestartMode::PowerCut
    );
    let err = parse(&with("  - {do: restart, host: client1, how: unplug}\n")).unwrap_err();
    assert_eq!(err.line, 6, "{err}");
    assert!(
        err.message.contains("halt") && err.message.contains("power-cut"),
        "{err}"
    );
}

/// docs/scenarios.md's step table has a row for every `do:` of the `Step` type and no other, and
/// its fault-kinds table a row for every entry of `FAULTS` (with its hosts and whether it
/// lasts) and no other.
#[test]
fn the_docs_tables_of_steps_and_fault_kinds_are_the_types() {
    fn do_words(value: &serde_json::Value, out: &mut std::collections::BTreeSet<String>) {
        match value {
            serde_json::Value::Object(map) => {
                if let Some(tag) = map.get("properties").and_then(|p| p.get("do")) {
                    for word in tag
                        .get("enum")
                        .and_then(|e| e.as_array())
                        .into_iter()
                        .flatten()
                        .chain(tag.get("const"))
                    {
                        out.extend(word.as_str().map(str::to_string));
                    }
                }
                map.values().for_each(|v| do_words(v, out));
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| do_words(v, out)),
            _ => {}
        }
    }
    let schema = serde_json::to_value(schemars::schema_for!(crate::scenario::Step)).unwrap();
    let mut steps = std::collections::BTreeSet::new();
    do_words(&schema, &mut steps);
    assert!(steps.len() >= 10, "{steps:?}");
    let docs = include_str!("../../docs/scenarios.md");
    let section = |title: &str| -> Vec<Vec<String>> {
        let start = docs.find(title).unwrap_or_else(|| panic!("no {title}"));
        docs[start..]
            .lines()
            .skip_while(|l| !l.starts_with("| ---"))
            .skip(1)
            .take_while(|l| l.starts_with('|'))
            .map(|l| {
                l.split(" | ")
                    .map(|c| c.trim_matches(['|', ' ']).to_string())
                    .collect()
            })
            .collect()
    };
    let documented: std::collections::BTreeSet<String> = section("## Steps")
        .iter()
        .filter_map(|row| row[0].split('`').nth(1).map(str::to_string))
        .collect();
    assert_eq!(
        documented, steps,
        "docs/scenarios.md's step table against `Step`"
    );
    let kinds = section("### Fault kinds");
    assert_eq!(kinds.len(), crate::domain::FAULTS.len());
    for spec in crate::domain::FAULTS {
        let row = kinds
            .iter()
            .find(|row| row[0] == format!("`{}`", spec.word))
            .unwrap_or_else(|| panic!("docs/scenarios.md lacks fault kind {}", spec.word));
        let hosts = match spec.only {
            Some((crate::domain::Role::Server, _)) => "servers",
            Some((crate::domain::Role::Client, _)) => "clients",
            Some((crate::domain::Role::Proxy, _)) => "proxies",
            None => "any",
        };
        let lasts = if spec.single_blow {
            "single blow"
        } else {
            "until undone"
        };
        assert_eq!(
            (row[1].as_str(), row[2].as_str()),
            (hosts, lasts),
            "{}",
            spec.word
        );
    }
}

const RELAY: &str = "description: d
hosts:
  - {name: central, role: server}
  - {name: relay, role: server, upload: {server: central}}
  - {name: c1, role: client, upload: {server: relay}}
  - {name: c2, role: client}
checks: [{id: delivery-exactly-once}]
";

#[test]
fn a_relay_routes_its_clients_to_the_server_it_forwards_to() {
    let scenario = parse(RELAY).unwrap();
    let names = |client: &str| -> Vec<String> {
        let c = scenario.host(client).unwrap();
        scenario
            .route_of(c)
            .iter()
            .map(|h| h.name.clone())
            .collect()
    };
    assert_eq!(names("c1"), ["relay", "central"]);
    assert_eq!(names("c2"), ["central"]);
    assert_eq!(
        scenario
            .destination_of(scenario.host("c1").unwrap())
            .unwrap()
            .name,
        "central"
    );
    let destinations: Vec<&str> = scenario.destinations().map(|h| h.name.as_str()).collect();
    assert_eq!(destinations, ["central"]);
    assert!(scenario
        .host("relay")
        .unwrap()
        .uploads_with_journal_upload());
    assert!(!scenario
        .host("central")
        .unwrap()
        .uploads_with_journal_upload());
}

#[test]
fn relays_must_name_where_they_forward_and_form_no_loop() {
    let unnamed = RELAY.replace("upload: {server: central}}", "upload: {}}");
    let e = parse(&unnamed).unwrap_err();
    assert!(e.message.contains("name the server it forwards to"), "{e}");
    assert_eq!(e.line, 4);
    let itself = RELAY.replace("upload: {server: central}}", "upload: {server: relay}}");
    assert!(parse(&itself)
        .unwrap_err()
        .message
        .contains("forwards to itself"));
    let looped = RELAY.replace(
        "{name: central, role: server}",
        "{name: central, role: server, upload: {server: relay}}",
    );
    let e = parse(&looped).unwrap_err();
    assert!(e.message.contains("in a loop"), "{e}");
    let on_client = RELAY.replace(
        "upload: {server: relay}}",
        "upload: {server: relay, read: merge}}",
    );
    let e = parse(&on_client).unwrap_err();
    assert!(e.message.contains("upload.read is for relays"), "{e}");
    assert_eq!(e.line, 5);
}

/// The deliberate time of a scenario's steps: a background workload runs beside the steps
/// after it until `wait-workload`, a foreground one and a held fault add up.
#[test]
fn deliberate_seconds_follow_background_and_foreground_steps() {
    let step = |yaml: &str| -> Step { yaml_serde::from_str(yaml).unwrap() };
    let background = step("{do: workload, count: 600, rate: 10, background: true}");
    let fault = step("{do: fault, kind: blackhole, host: server, duration: 40}");
    let wait = step("{do: wait-workload}");
    let foreground = step("{do: workload, count: 300, rate: 100}");
    let sleep = step("{do: run, host: server, command: sleep 15}");
    // 60 s of logging outlasts the 40 s fault beside it.
    assert_eq!(
        deliberate_seconds(&[background.clone(), fault.clone(), wait.clone()]),
        60
    );
    // Logged in the foreground, the same workload comes before the fault: 100 s.
    let foreground_600 = step("{do: workload, count: 600, rate: 10}");
    assert_eq!(deliberate_seconds(&[foreground_600, fault.clone()]), 100);
    // Steps after the wait start when the workload is done.
    assert_eq!(
        deliberate_seconds(&[background, wait, foreground.clone(), sleep]),
        60 + 3 + 15
    );
    // Flat out (rate 0) and a fault without a duration take no deliberate time.
    let flat_out = step("{do: workload, count: 5000}");
    let held = step("{do: fault, kind: blackhole, host: server}");
    assert_eq!(deliberate_seconds(&[flat_out, held]), 0);
    // Every seed has an estimate; the longest is one the lab holds a fault for.
    let seeds = builtin::all().unwrap();
    let longest = seeds
        .iter()
        .max_by_key(|(_, s)| deliberate_seconds(&s.steps))
        .unwrap();
    assert!(deliberate_seconds(&longest.1.steps) >= 40, "{}", longest.0);
}

/// `upload.via own` (a host dials its own URL=, the lab resolves its name): only as it ships,
/// never with a port or protocol of the scenario's, and only where a file sets the URL=; its
/// name becomes an alias of the server it names.
#[test]
fn via_own_is_the_hosts_own_url() {
    let url = |name: &str| {
        format!("    files:\n      - {{path: /etc/systemd/journal-upload.conf, content: \"[Upload]\\nURL=https://{name}.example.org\\n\"}}\n")
    };
    let own = |base: &str, upload: &str, files: &str| {
        parse(&format!(
            "description: d\nbase: {base}\nhosts:\n  - {{name: central, role: server}}\n  - name: relay\n    role: server\n    upload: {{server: central, via: own}}\n{}  - name: c\n    role: client\n    upload: {upload}\n{files}checks:\n  - id: client-delivers\n",
            url("central")
        ))
    };
    let guide = own("guide", "{server: relay, via: own}", &url("relay")).unwrap_err();
    assert!(guide.message.contains("only `base: as-is`"), "{guide}");
    let port = own(
        "as-is",
        "{server: relay, via: own, port: 1234}",
        &url("relay"),
    )
    .unwrap_err();
    assert!(port.message.contains("drop upload.port"), "{port}");
    let no_url = own("as-is", "{server: relay, via: own}", "").unwrap_err();
    assert!(
        no_url
            .message
            .starts_with("c has upload.via own, but none of its files sets URL="),
        "{no_url}"
    );
    assert_eq!(no_url.line, 2, "at base:");
    let scenario = own("as-is", "{server: relay, via: own}", &url("relay")).unwrap();
    let aliases = |name: &str| scenario.host(name).unwrap().aliases.clone();
    assert_eq!(aliases("central"), ["central.example.org"]);
    assert_eq!(aliases("relay"), ["relay.example.org"]);
    assert!(!as_is::lab_sets_url(
        Base::AsIs,
        scenario.host("c").unwrap()
    ));
}

use super::*;

pub(crate) fn sample(run_id: &str) -> RunReport {
    let t = time::macros::datetime!(2026-11-22 14:00:00 UTC);
    RunReport {
        schema_version: SCHEMA_VERSION,
        run_id: run_id.into(),
        harness_version: "0.1.0".into(),
        scenario: "lab".into(),
        description: "d".into(),
        release: "bookworm".into(),
        systemd_version: "systemd 252 (252.39-1~deb12u2)".into(),
        systemd_features: "+PAM -GNUTLS".into(),
        image: "journal-lab/bookworm:0123456789abcdef".into(),
        started: t,
        finished: t + time::Duration::seconds(3),
        total_seconds: 3.0,
        seconds_to_all_delivered: Some(2.0),
        phases: vec![Phase {
            name: "boot".into(),
            seconds: 1.0,
        }],
        clients: 1,
        delivered: 1,
        ok: true,
        interrupted: false,
        hosts: vec![
            HostReport {
                name: "server".into(),
                role: Role::Server,
                ip: "172.18.0.2".into(),
                engine: None,
                published_for_other_engines: None,
                systemd_version: "systemd 252".into(),
                systemd_features: "-GNUTLS".into(),
                image: "journal-lab/bookworm:0123456789abcdef".into(),
                marker_logged_at: None,
                status_text: "Processing requests...".into(),
                configuration: vec![],
                readiness: None,
                marker: None,
                delivered: None,
                seconds_to_deliver: None,
                remote_file: None,
                evidence: vec![],
                failed_units: vec![],
                carried: vec![],
                added_by_lab: vec![],
                upload_unit: vec![],
            },
            HostReport {
                name: "client1".into(),
                role: Role::Client,
                ip: "172.18.0.3".into(),
                engine: None,
                published_for_other_engines: None,
                systemd_version: "systemd 252".into(),
                systemd_features: "-GNUTLS".into(),
                image: "journal-lab/bookworm:0123456789abcdef".into(),
                marker_logged_at: Some(t),
                status_text: "Processing input...".into(),
                configuration: vec![],
                readiness: None,
                marker: Some("m".into()),
                delivered: Some(true),
                seconds_to_deliver: Some(0.4),
                remote_file: Some("remote-client1.journal".into()),
                evidence: vec![],
                failed_units: vec![],
                carried: vec![],
                added_by_lab: vec![],
                upload_unit: vec![],
            },
        ],
        findings: vec![],
        checks: vec![],
        profile: vec![],
        profile_mode: Default::default(),
        container_memory_bytes: None,
        journal: vec![],
        sealing: Vec::new(),
        tampered: Vec::new(),
        journal_files: Vec::new(),
        faults: Vec::new(),
        restarts: Vec::new(),
        sends: Vec::new(),
        field: None,
        scenario_file: None,
        setup_file: None,
        check_lines: Vec::new(),
        delivery: None,
        steps: Vec::new(),
        soak: Vec::new(),
        rejudged: None,
    }
}

#[test]
fn run_json_uses_the_contracted_field_names() {
    let value = serde_json::to_value(sample("r1")).unwrap();
    for key in [
        "run_id",
        "release",
        "systemd_version",
        "started",
        "finished",
        "total_seconds",
        "hosts",
    ] {
        assert!(value.get(key).is_some(), "missing {key}");
    }
    let client = &value["hosts"][1];
    for key in [
        "name",
        "role",
        "ip",
        "marker",
        "delivered",
        "seconds_to_deliver",
        "remote_file",
    ] {
        assert!(client.get(key).is_some(), "client missing {key}");
    }
    assert_eq!(client["role"], "client");
    assert_eq!(value["hosts"][0]["role"], "server");
    assert!(
        value["hosts"][0].get("marker").is_none(),
        "servers log no marker"
    );
    assert_eq!(value["started"], "2026-11-22T14:00:00Z");
}

#[test]
fn quantiles_by_nearest_rank() {
    let values: Vec<f64> = (1..=100).map(f64::from).collect();
    assert_eq!(quantile(&values, 0.5), 50.0);
    assert_eq!(quantile(&values, 0.99), 99.0);
    assert_eq!(quantile(&values, 1.0), 100.0);
    assert_eq!(quantile(&[7.0], 0.99), 7.0);
    assert_eq!(quantile(&[], 0.5), 0.0);
}

#[test]
fn every_format_renders_and_names_its_file() {
    let report = sample("r1");
    let tmp = tempfile::tempdir().unwrap();
    let written = write_formats(tmp.path(), &report, &Format::ALL).unwrap();
    let names: Vec<_> = written
        .iter()
        .map(|p| p.file_name().unwrap().to_str().unwrap().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "report.json",
            "report.md",
            "report.html",
            "junit.xml",
            "report.sarif"
        ]
    );
    assert_eq!("md".parse::<Format>().unwrap(), Format::Markdown);
    assert_eq!("sarif".parse::<Format>().unwrap(), Format::Sarif);
    // A host's failed units make a section of their own.
    let mut failing = sample("r2");
    failing.hosts[0].failed_units = vec![
        "UNIT LOAD ACTIVE SUB".into(),
        "systemd-journal-upload.service loaded failed failed".into(),
    ];
    let md = render::markdown(&failing);
    assert!(md.contains("## Failed units"), "{md}");
    assert!(md.contains("systemd-journal-upload.service loaded failed failed"));
    assert!(!render::markdown(&report).contains("## Failed units"));
    // The SARIF is a SARIF 2.1.0 log with one run (render's tests validate it against the
    // OASIS schema).
    let sarif = std::fs::read_to_string(tmp.path().join("report.sarif")).unwrap();
    let sarif: serde_json::Value = serde_json::from_str(&sarif).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    assert_eq!(sarif["runs"].as_array().unwrap().len(), 1);
    assert!("pdf".parse::<Format>().is_err());
}

/// The published schema describes what run.json holds: a full sample validates, and a
/// document missing a required field or with a field of the wrong type does not.
#[test]
fn run_json_validates_against_its_published_schema() {
    let schema = run_json_schema();
    let validator = jsonschema::options().build(&schema).unwrap();
    let mut sample = sample("jl-x");
    sample.checks = vec![];
    let value = serde_json::to_value(&sample).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(value["schema_version"], SCHEMA_VERSION);
    let mut broken = value.clone();
    broken.as_object_mut().unwrap().remove("run_id");
    assert!(!validator.is_valid(&broken));
    let mut broken = value;
    broken["total_seconds"] = "fast".into();
    assert!(!validator.is_valid(&broken));
}

#[test]
fn an_unfinished_report_goes_and_a_finished_one_is_not_world_writable() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("jl-x");
    let unfinished = Unfinished::new(&dir);
    std::fs::create_dir_all(dir.join("journals")).unwrap();
    drop(unfinished);
    assert!(!dir.exists(), "an interrupted report leaves nothing");
    let unfinished = Unfinished::new(&dir);
    std::fs::create_dir_all(dir.join("journals")).unwrap();
    std::fs::write(dir.join("run.json"), "{}").unwrap();
    for path in [dir.clone(), dir.join("journals"), dir.join("run.json")] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    unfinished.finish().unwrap();
    for path in [dir.clone(), dir.join("journals"), dir.join("run.json")] {
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o775, "{}", path.display());
    }
}

#[test]
fn write_run_round_trips_and_moves_latest() {
    let tmp = tempfile::tempdir().unwrap();
    let first = write_run(tmp.path(), &sample("run-a")).unwrap();
    assert_eq!(read_run(&first.join("run.json")).unwrap().run_id, "run-a");
    write_run(tmp.path(), &sample("run-b")).unwrap();
    let latest = std::fs::read_link(tmp.path().join("latest")).unwrap();
    assert_eq!(
        latest,
        Path::new("run-b"),
        "relative link, so the reports dir can move"
    );
    assert_eq!(
        read_run(&tmp.path().join("latest/run.json"))
            .unwrap()
            .run_id,
        "run-b"
    );
}

/// Issue 39: a run stopped after its checks keeps them. Dropped armed (the run's future
/// dropped by a signal, after its half-written directory went), the partial report is written
/// whole, marked interrupted and not ok, and `report` reads and renders it again; disarmed
/// (the whole report was written), it writes nothing.
#[test]
fn a_run_stopped_after_its_checks_keeps_a_partial_report() {
    let tmp = tempfile::tempdir().unwrap();
    let partial = Partial::new(tmp.path(), sample("jl-stopped"));
    let unfinished = Unfinished::new(&tmp.path().join("jl-stopped"));
    std::fs::create_dir_all(tmp.path().join("jl-stopped/journals")).unwrap();
    // Dropped as a run's locals are: the later one first.
    drop(unfinished);
    drop(partial);
    let run = read_run(&tmp.path().join("jl-stopped/run.json")).unwrap();
    assert!(run.interrupted && !run.ok);
    assert_eq!(run.checks.len(), sample("x").checks.len());
    let md = std::fs::read_to_string(tmp.path().join("jl-stopped/report.md")).unwrap();
    assert!(
        md.starts_with("# journal-lab report: lab — INTERRUPTED (partial)"),
        "{md}"
    );
    assert!(render::markdown(&run).contains("INTERRUPTED"));

    let mut whole = Partial::new(tmp.path(), sample("jl-whole"));
    whole.disarm();
    drop(whole);
    assert!(!tmp.path().join("jl-whole").exists());
}

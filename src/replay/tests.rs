//! Bundles recorded from the port-change seed scenario's hosts (bookworm: the server moved to
//! 19600, `stale` left on 19532, `client1` following), and hostile ones made here.

use super::bundle::{sections, Bundle};
use super::*;

fn recorded(host: &str) -> Bundle {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/data/port-change-{host}.tar.gz"));
    Bundle::read(&path).unwrap()
}

fn releases() -> Vec<(String, Option<u32>)> {
    // The recipes under images/, read here: replay itself knows nothing of images.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("images");
    let mut shipped: Vec<(String, Option<u32>)> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let path = e.unwrap().path();
            let name = path
                .file_name()?
                .to_str()?
                .strip_suffix(".yaml")?
                .to_string();
            let recipe: serde_json::Value =
                yaml_serde::from_str(&std::fs::read_to_string(&path).ok()?).ok()?;
            let systemd = recipe["systemd"].as_u64().map(|v| v as u32);
            Some((name, systemd))
        })
        .collect();
    shipped.sort();
    shipped
}

#[test]
fn a_recorded_bundle_reads_back() {
    let stale = recorded("stale");
    assert_eq!(stale.hostname(), "stale");
    assert_eq!(stale.systemd_version(), Some(252));
    assert_eq!(stale.os("VERSION_CODENAME").as_deref(), Some("bookworm"));
    assert_eq!(role_of(&stale), Some(Role::Client));
    assert_eq!(role_of(&recorded("server")), Some(Role::Server));
    let paths = stale.cert_paths();
    assert_eq!(
        paths[&("upload".into(), "cert".into())],
        "/etc/ssl/systemd-journal/stale.pem"
    );
    assert!(paths[&("upload".into(), "key".into())].contains("type=PRIVATE KEY"));
    assert!(!stale.files.values().any(|f| f.contains("PRIVATE KEY-----")));
}

#[test]
fn config_output_splits_into_its_files() {
    let server = recorded("server");
    let socket = sections(server.file("cat-systemd-journal-remote.socket"));
    assert_eq!(
        socket[0].0,
        "/lib/systemd/system/systemd-journal-remote.socket"
    );
    assert_eq!(
        socket[1],
        (
            "/etc/systemd/system/systemd-journal-remote.socket.d/60-journal-lab-port.conf"
                .to_string(),
            "[Socket]\nListenStream=\nListenStream=19600\n".to_string()
        )
    );
    assert_eq!(listen_port(&server).unwrap(), 19600);
}

#[test]
fn server_and_clients_replay_into_one_scenario() {
    let replay = replay(
        vec![recorded("server"), recorded("stale"), recorded("client1")],
        None,
        &releases(),
        false,
    )
    .unwrap();
    let s = &replay.scenario;
    assert_eq!(s.release.as_deref(), Some("bookworm"));
    let server = s.host("server").unwrap();
    assert_eq!(server.port(), 19600);
    let stale = s.host("stale").unwrap();
    assert_eq!(stale.upload.as_ref().unwrap().port, Some(19532));
    assert_eq!(
        s.host("client1").unwrap().upload.as_ref().unwrap().port,
        Some(19600)
    );
    // The field's files, verbatim: the socket's drop-in on the server, the URL on the client.
    assert!(server
        .files
        .iter()
        .any(|f| f.path.ends_with("60-journal-lab-port.conf")));
    let url = stale
        .files
        .iter()
        .find(|f| f.path.ends_with("60-journal-lab-url.conf"))
        .unwrap();
    assert_eq!(url.content, "[Upload]\nURL=https://server:19532\n");
    // Certificates mirrored, where the field keeps them.
    let mirror = stale.certificate.mirror.as_ref().unwrap();
    assert_eq!(mirror.common_name, "stale");
    assert!(mirror.names.contains(&"DNS:stale".to_string()));
    assert_eq!(
        mirror.install.as_ref().unwrap().key,
        "/etc/ssl/systemd-journal/stale.key"
    );
    assert!(replay.yaml.starts_with("# Written by `journal-lab replay`"));
    let ids: Vec<String> = s.checks.iter().map(|c| c.id.to_string()).collect();
    assert!(ids.contains(&"client-delivers".to_string()));
}

#[test]
fn a_lone_client_gets_a_lab_server_on_its_url_port() {
    let replay = replay(vec![recorded("stale")], None, &releases(), false).unwrap();
    let server = replay
        .scenario
        .hosts
        .iter()
        .find(|h| h.role == Role::Server)
        .unwrap();
    assert_eq!(server.port(), 19532);
    assert!(replay
        .yaml
        .contains("a lab server for https://server:19532"));
    // --as server on a client bundle: two lab clients come with it.
    let as_server = super::replay(
        vec![recorded("stale")],
        Some(Role::Server),
        &releases(),
        false,
    )
    .unwrap();
    assert_eq!(
        as_server
            .scenario
            .hosts
            .iter()
            .filter(|h| h.role == Role::Client)
            .count(),
        2
    );
}

#[test]
fn errors_compare_without_numbers_and_prefixes() {
    let field = "2026-11-24T09:04:08+0000 stale systemd-journal-upload[74]: Upload to https://server:19532/upload failed: Failed to connect to server port 19532 after 16 ms: Couldn't connect to server";
    let lab = "Nov 24 09:14:09.513745 stale systemd-journal-upload[101]: Upload to https://server:19532/upload failed: Failed to connect to server port 19532 after 0 ms: Couldn't connect to server";
    assert_eq!(normalize(field), normalize(lab));
    assert_ne!(
        normalize(field),
        normalize("x[1]: SSL certificate problem: certificate has expired")
    );
    assert_eq!(
        error_lines("ok\nthing failed\nfine\n"),
        vec!["thing failed".to_string()]
    );
}

/// A tar.gz with raw entry names (the tar crate refuses to write `..` itself).
fn tarball(entries: &[(&str, &[u8], tar::EntryType)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, data, kind) in entries {
        let mut header = tar::Header::new_gnu();
        let raw = &mut header.as_old_mut().name;
        raw[..name.len()].copy_from_slice(name.as_bytes());
        header.set_size(data.len() as u64);
        header.set_entry_type(*kind);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append(&header, *data).unwrap();
    }
    let tar = builder.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &tar).unwrap();
    gz.finish().unwrap()
}

fn refusal(bytes: &[u8]) -> String {
    Bundle::from_reader(Path::new("b.tar.gz"), bytes)
        .unwrap_err()
        .to_string()
}

#[test]
fn hostile_bundles_are_refused_with_the_reason() {
    use tar::EntryType::{Regular, Symlink};
    let ok: Vec<(&str, &[u8], tar::EntryType)> = bundle::REQUIRED
        .iter()
        .map(|f| (*f, &b"x"[..], Regular))
        .collect();
    let with = |extra: (&'static str, &'static [u8], tar::EntryType)| {
        let mut entries: Vec<(String, &[u8], tar::EntryType)> = ok
            .iter()
            .map(|(n, d, k)| (format!("bundle/{n}"), *d, *k))
            .collect();
        entries.push((extra.0.to_string(), extra.1, extra.2));
        let refs: Vec<(&str, &[u8], tar::EntryType)> = entries
            .iter()
            .map(|(n, d, k)| (n.as_str(), *d, *k))
            .collect();
        tarball(&refs)
    };
    assert!(refusal(b"plain text, not a tarball").contains("not a gzip-compressed tarball"));
    assert!(refusal(&tarball(&[("bundle/os-release", b"x", Regular)]))
        .contains("missing systemctl-version"));
    let key = with((
        "bundle/certs/upload-cert.pem",
        b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        Regular,
    ));
    let message = refusal(&key);
    assert!(
        message.contains("\"bundle/certs/upload-cert.pem\" holds a private key"),
        "{message}"
    );
    assert!(!message.contains("AAAA"), "the key itself is never shown");
    assert!(refusal(&with(("bundle/../../etc/passwd", b"x", Regular)))
        .contains("`..` inside the archive"));
    assert!(refusal(&with(("/etc/passwd", b"x", Regular))).contains("absolute path"));
    assert!(refusal(&with(("bundle/link", b"", Symlink))).contains("not a regular file"));
    assert!(refusal(&with(("elsewhere/x", b"x", Regular))).contains("is not under bundle/"));
    let big = vec![b'a'; (bundle::MAX_FILE + 1) as usize];
    let big: &'static [u8] = Box::leak(big.into_boxed_slice());
    assert!(
        refusal(&with(("bundle/huge", big, Regular))).contains("bytes; a bundle file has at most")
    );
    // And the well-formed one reads.
    let fine = with(("bundle/hostname", b"web-1\n", Regular));
    assert_eq!(
        Bundle::from_reader(Path::new("b"), &fine[..])
            .unwrap()
            .hostname(),
        "web-1"
    );
}

/// A GNU long-name entry that claims more than the whole bundle may hold: refused after a
/// bounded read (not 4 GB of memory), and a long name is shown cut, never whole.
#[test]
fn headers_that_claim_gigabytes_are_bounded() {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::GNULongName);
    header.set_size(1 << 30);
    header.as_old_mut().name[..13].copy_from_slice(b"././@LongLink");
    header.set_cksum();
    let mut tar = header.as_bytes().to_vec();
    // Zeros compress to nothing: a small file that inflates to the claimed gigabyte.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut gz, &tar).unwrap();
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..1024 {
        std::io::Write::write_all(&mut gz, &chunk).unwrap();
    }
    let bytes = gz.finish().unwrap();
    assert!(bytes.len() < 2 << 20, "{} bytes", bytes.len());
    let started = std::time::Instant::now();
    let message = refusal(&bytes);
    assert!(
        message.len() < 1000,
        "a short message: {} bytes",
        message.len()
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    tar.clear();

    // A very long, escape-laden name is shown cut and escaped.
    let name = format!("bundle/{}\u{1b}[31m", "x".repeat(5000));
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(1);
    header.set_entry_type(tar::EntryType::Symlink);
    header.set_cksum();
    builder.append_data(&mut header, &name, &b"x"[..]).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &builder.into_inner().unwrap()).unwrap();
    let message = refusal(&gz.finish().unwrap());
    assert!(message.len() < 1000, "{message}");
    assert!(!message.contains('\u{1b}'), "{message:?}");
}

#[test]
fn urls_as_fleets_write_them_and_never_their_credentials() {
    assert_eq!(
        parse_url("https://LOGS.Example.org:19532/upload").unwrap(),
        ("https".into(), "logs.example.org".into(), 19532, false)
    );
    let (_, host, port, credentials) = parse_url("https://user:s3cret@logs:443").unwrap();
    assert_eq!((host.as_str(), port, credentials), ("logs", 443, true));
    let err = parse_url("https://logs:99999").unwrap_err();
    assert!(err.contains("99999") && err.contains("1-65535"), "{err}");
    let mut taken = Vec::new();
    let long = "a".repeat(47);
    assert_eq!(lab_name(&format!("{long}.example.org"), &mut taken), long);
    assert!(crate::scenario::is_host_name(&long));
    assert!(!crate::scenario::is_host_name(&"a".repeat(64)));
    assert_eq!(comment_text("web1\ncas: [x] #"), "web1\\ncas: [x] #");
}

/// Issue 39: a bundle is data. A drop-in of the upload unit that runs a shell as root refuses
/// the bundle by default, naming the member, file and line; `--allow-exec` keeps it and says
/// so in the scenario; credentials in the field's URL= are not in the scenario.
#[test]
fn a_bundle_that_runs_code_is_refused_unless_allowed() {
    let mut client = recorded("client1");
    let unit = "cat-systemd-journal-upload.service";
    let text = format!(
        "{}\n# /etc/systemd/system/systemd-journal-upload.service.d/zz.conf\n[Service]\nExecStartPre=+/bin/sh -c 'id > /tmp/pwned'\n",
        client.file(unit)
    );
    client.files.insert(unit.to_string(), text);
    let config = "cat-config-journal-upload.conf";
    let with_secret = client
        .file(config)
        .replace("URL=https://", "URL=https://admin:hunter2@");
    assert!(
        with_secret.contains("hunter2"),
        "the recorded bundle has a URL="
    );
    client.files.insert(config.to_string(), with_secret);

    let refused = match replay(vec![client.clone()], None, &releases(), false) {
        Ok(_) => panic!("a bundle with code was replayed"),
        Err(e) => e.to_string(),
    };
    assert!(
        refused.contains(unit)
            && refused.contains("/etc/systemd/system/systemd-journal-upload.service.d/zz.conf:2: ExecStartPre=+/bin/sh")
            && refused.contains("--allow-exec"),
        "{refused}"
    );
    let allowed = replay(vec![client], None, &releases(), true).unwrap();
    assert_eq!(allowed.code.len(), 1, "{:?}", allowed.code);
    assert!(
        allowed.yaml.contains("# CODE FROM THE BUNDLE"),
        "{}",
        allowed.yaml
    );
    assert!(!allowed.yaml.contains("hunter2"), "{}", allowed.yaml);
}

/// Issue 39: a client whose field host name is the name its URL gives the server replays (the
/// lab client takes another name); a socket listening on no port is an error at its member.
#[test]
fn a_client_called_server_replays_and_a_bad_port_is_named() {
    let mut client = recorded("client1");
    let url = super::last_setting(client.file("cat-config-journal-upload.conf"), "URL").unwrap();
    let (_, host, _, _) = super::parse_url(&url).unwrap();
    client.files.insert("hostname".into(), format!("{host}\n"));
    let replayed = replay(vec![client], None, &releases(), false)
        .unwrap_or_else(|e| panic!("a client named {host} replays: {e}"));
    let client = replayed
        .scenario
        .hosts
        .iter()
        .find(|h| h.role == Role::Client)
        .unwrap();
    assert_eq!(client.name, format!("{host}-client"));

    let mut server = recorded("server");
    let socket = "cat-systemd-journal-remote.socket";
    let text = format!("{}\n# /etc/systemd/system/systemd-journal-remote.socket.d/p.conf\n[Socket]\nListenStream=\nListenStream=99999\n", server.file(socket));
    server.files.insert(socket.into(), text);
    let error = match replay(vec![server], None, &releases(), false) {
        Ok(_) => panic!("port 99999 replayed"),
        Err(e) => e.to_string(),
    };
    assert!(
        error.contains("ListenStream=99999 is not a TCP port"),
        "{error}"
    );
}

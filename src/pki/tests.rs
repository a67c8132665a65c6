use std::net::{IpAddr, Ipv4Addr};
use std::process::Command;

use x509_parser::prelude::*;

use super::*;

fn parse_pem(path: &Path) -> Vec<u8> {
    let pem = fs::read(path).unwrap();
    let (_, pem) = x509_parser::pem::parse_x509_pem(&pem).expect("PEM");
    pem.contents
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

#[test]
fn names_follow_the_canonical_name_rule() {
    for good in [
        "server",
        "client1",
        "a1",
        "logs.example.org",
        "host-01.lab",
        "9host",
    ] {
        assert!(is_valid_name(good), "{good} should be accepted");
    }
    assert!(is_valid_name(&format!("{}.org", "a".repeat(63))));
    for bad in [
        "",
        "a",
        "-server",
        ".server",
        "ser ver",
        "server_1",
        "ünïcode",
        "host/evil",
        "*.wild",
        "a..b",
        "ab-",
        "ab.",
        "ab.-cd",
        &format!("{}.org", "a".repeat(64)),
        &format!("{}.org", ["abcdefghi"; 30].join(".")),
    ] {
        assert!(!is_valid_name(bad), "{bad:?} should be rejected");
        assert!(matches!(validate_name(bad), Err(Error::InvalidName(_))));
    }
}

#[test]
fn aliases_parse_dns_and_ip_and_reject_the_rest() {
    assert_eq!(
        "DNS:logs.lab".parse::<Alias>().unwrap(),
        Alias::Dns("logs.lab".into())
    );
    assert_eq!("dns:x1".parse::<Alias>().unwrap(), Alias::Dns("x1".into()));
    assert_eq!(
        "IP:192.0.2.7".parse::<Alias>().unwrap(),
        Alias::Ip(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)))
    );
    assert!(matches!("IP:::1".parse::<Alias>(), Ok(Alias::Ip(ip)) if ip.is_loopback()));
    for bad in [
        "logs.lab",
        "DNS:",
        "IP:300.1.1.1",
        "URI:https://x",
        "DNS:-bad",
    ] {
        assert!(
            matches!(bad.parse::<Alias>(), Err(Error::InvalidAlias(_))),
            "{bad}"
        );
    }
}

#[test]
fn issued_certificate_has_cn_sans_issuer_and_validity() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, created) = CertDir::open(tmp.path().join("pki")).unwrap();
    assert!(created, "first open creates the CA");
    let request = CertRequest::new(
        "server",
        vec![
            Alias::Dns("logs.lab".into()),
            Alias::Ip("192.0.2.10".parse().unwrap()),
        ],
    );
    let files = dir.issue(&request).unwrap();
    assert!(files.newly_issued);

    let ca_der = parse_pem(&dir.ca_cert_path());
    let (_, ca) = X509Certificate::from_der(&ca_der).unwrap();
    let cert_der = parse_pem(&files.cert);
    let (_, cert) = X509Certificate::from_der(&cert_der).unwrap();

    let cn: Vec<_> = cert
        .subject()
        .iter_common_name()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(cn, ["server"]);
    assert_eq!(cert.issuer(), ca.subject(), "issued by the directory's CA");
    assert!(ca.is_ca());
    assert!(!cert.is_ca());
    cert.verify_signature(Some(ca.public_key()))
        .expect("signature verifies with the CA key");

    let sans = cert
        .subject_alternative_name()
        .unwrap()
        .expect("SAN extension")
        .value;
    let mut dns = Vec::new();
    let mut ips = Vec::new();
    for name in &sans.general_names {
        match name {
            GeneralName::DNSName(d) => dns.push(d.to_string()),
            GeneralName::IPAddress(raw) => ips.push(raw.to_vec()),
            other => panic!("unexpected SAN {other:?}"),
        }
    }
    assert_eq!(
        dns,
        ["server", "logs.lab"],
        "the CN is a SAN too, then DNS aliases"
    );
    assert_eq!(
        ips,
        [vec![192, 0, 2, 10]],
        "IP aliases are iPAddress SANs (4 raw octets), not DNS names"
    );

    let now = OffsetDateTime::now_utc().unix_timestamp();
    assert!(cert.validity().not_before.timestamp() <= now);
    assert!(cert.validity().not_after.timestamp() > now + 86_400 * 365);

    let eku = cert.extended_key_usage().unwrap().expect("EKU").value;
    assert!(
        eku.server_auth && eku.client_auth,
        "one cert serves remote (server) and upload (client)"
    );
}

#[test]
fn issuing_twice_keeps_the_first_certificate_and_key() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = CertDir::open(tmp.path()).unwrap();
    let request = CertRequest::new("client1", vec![]);
    let first = dir.issue(&request).unwrap();
    let cert_before = fs::read(&first.cert).unwrap();
    let key_before = fs::read(&first.key).unwrap();

    let (dir_again, created) = CertDir::open(tmp.path()).unwrap();
    assert!(!created, "the CA is reused");
    let second = dir_again.issue(&request).unwrap();
    assert!(!second.newly_issued);
    assert_eq!(fs::read(&second.cert).unwrap(), cert_before);
    assert_eq!(fs::read(&second.key).unwrap(), key_before);

    let serial = |pem: &[u8]| {
        let der = x509_parser::pem::parse_x509_pem(pem).unwrap().1.contents;
        X509Certificate::from_der(&der)
            .unwrap()
            .1
            .raw_serial()
            .to_vec()
    };
    assert_eq!(
        serial(&cert_before),
        serial(&fs::read(&second.cert).unwrap())
    );

    let other = dir_again
        .issue(&CertRequest::new("client2", vec![]))
        .unwrap();
    assert_ne!(
        serial(&cert_before),
        serial(&fs::read(&other.cert).unwrap()),
        "serials are unique"
    );
}

#[test]
fn private_material_is_owner_only() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = CertDir::open(tmp.path()).unwrap();
    let files = dir.issue(&CertRequest::new("server", vec![])).unwrap();
    assert_eq!(mode(&files.key), 0o600);
    assert_eq!(mode(&tmp.path().join("ca.key")), 0o600);
    assert_eq!(mode(&files.bundle), 0o700, "the bundle embeds the key");
    assert_eq!(mode(&files.cert), 0o644);
}

#[test]
fn invalid_name_is_refused_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = CertDir::open(tmp.path()).unwrap();
    let err = dir
        .issue(&CertRequest::new("bad_name", vec![]))
        .unwrap_err();
    assert!(err.to_string().contains("RFC 1123"), "{err}");
    assert!(!tmp.path().join("bad_name.pem").exists());
}

/// Runs the bundle for real against a temporary root, as the current user (a test cannot chown
/// to systemd-journal-remote), and checks what it installed.
#[test]
fn bundle_installs_credentials_and_configuration_below_destdir() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = CertDir::open(tmp.path().join("pki")).unwrap();
    let files = dir.issue(&CertRequest::new("client7", vec![])).unwrap();
    let root = tmp.path().join("root");
    let id = |flag: &str| {
        let out = Command::new("id").arg(flag).output().unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let output = Command::new("sh")
        .arg(&files.bundle)
        .env("DESTDIR", &root)
        .env("OWNER", id("-un"))
        .env("GROUP", id("-gn"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "bundle failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );

    let install = root.join("etc/ssl/systemd-journal");
    assert_eq!(mode(&install), 0o750);
    for file in ["ca.pem", "client7.pem", "client7.key"] {
        assert_eq!(mode(&install.join(file)), 0o640, "{file}");
    }
    assert_eq!(
        fs::read(install.join("client7.key")).unwrap(),
        fs::read(&files.key).unwrap()
    );
    assert_eq!(
        fs::read(install.join("ca.pem")).unwrap(),
        fs::read(dir.ca_cert_path()).unwrap()
    );

    for (unit, section) in [("remote", "[Remote]"), ("upload", "[Upload]")] {
        let conf = fs::read_to_string(root.join(format!(
            "etc/systemd/journal-{unit}.conf.d/50-journal-lab-certificates.conf"
        )))
        .unwrap();
        assert_eq!(
            conf,
            format!(
                "{section}\nServerKeyFile=/etc/ssl/systemd-journal/client7.key\n\
                 ServerCertificateFile=/etc/ssl/systemd-journal/client7.pem\n\
                 TrustedCertificateFile=/etc/ssl/systemd-journal/ca.pem\n"
            )
        );
        // What the lab lists as its addition is what the bundle wrote.
        let (path, text) = certificates_drop_in(unit, "client7");
        assert_eq!(fs::read_to_string(root.join(&path[1..])).unwrap(), text);
    }

    // As it ships (`POINT_CONFIG=no`): the same files, and no drop-in at all.
    let bare = tmp.path().join("bare");
    let output = Command::new("sh")
        .arg(&files.bundle)
        .env("DESTDIR", &bare)
        .env("OWNER", id("-un"))
        .env("GROUP", id("-gn"))
        .env("POINT_CONFIG", "no")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(bare.join("etc/ssl/systemd-journal/client7.key").is_file());
    assert!(
        !bare.join("etc/systemd").exists(),
        "no drop-in under POINT_CONFIG=no"
    );
}

#[test]
fn bundle_refuses_a_host_without_the_journal_remote_user() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = CertDir::open(tmp.path().join("pki")).unwrap();
    let files = dir.issue(&CertRequest::new("client8", vec![])).unwrap();
    let output = Command::new("sh")
        .arg(&files.bundle)
        .env("DESTDIR", tmp.path().join("root"))
        .env("OWNER", "journal-lab-no-such-user")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("apt-get install systemd-journal-remote")
    );
    assert!(
        !tmp.path().join("root/etc/ssl/systemd-journal").exists(),
        "nothing half-installed"
    );
}

/// A key file is 0600 from the moment it exists: the open that creates it carries the mode, and
/// a file already there is narrowed before anything is written to it. The CA's directory is 0700.
#[test]
fn private_files_are_owner_only_from_the_first_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let fresh = tmp.path().join("fresh.key");
    let file = create_with_mode(&fresh, 0o600).unwrap();
    let at_creation = file.metadata().unwrap();
    assert_eq!(
        (at_creation.permissions().mode() & 0o7777, at_creation.len()),
        (0o600, 0)
    );
    let old = tmp.path().join("old.key");
    fs::write(&old, "old secret").unwrap();
    fs::set_permissions(&old, fs::Permissions::from_mode(0o644)).unwrap();
    let file = create_with_mode(&old, 0o600).unwrap();
    let before_writing = file.metadata().unwrap();
    assert_eq!(
        (
            before_writing.permissions().mode() & 0o7777,
            before_writing.len()
        ),
        (0o600, 0)
    );
    // Never through a link someone planted where a key will go.
    let link = tmp.path().join("link.key");
    std::os::unix::fs::symlink(tmp.path().join("elsewhere"), &link).unwrap();
    assert!(create_with_mode(&link, 0o600).is_err());
    assert!(!tmp.path().join("elsewhere").exists());

    let (ca, created) = CertDir::open(tmp.path().join("new/ca")).unwrap();
    assert!(created);
    assert_eq!(mode(ca.path()), 0o700);
    assert_eq!(mode(&ca.path().join("ca.key")), 0o600);
}

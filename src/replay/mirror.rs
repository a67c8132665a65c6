//! A field certificate, as the lab re-issues it: the same subject CN, subjectAltNames, validity
//! window and kind of key, from the lab CA, with a new key. So an expired certificate, a SAN that
//! does not name the URL's host, or a key the other side cannot use reproduces.

use x509_parser::prelude::*;
use x509_parser::public_key::PublicKey;

use crate::pki::KeyKind;
use crate::scenario::MirrorDef;

/// What of a certificate is mirrored, read from its PEM (the first certificate of the file).
pub fn mirror_of(pem: &str) -> Result<MirrorDef, String> {
    let (_, block) = x509_parser::pem::parse_x509_pem(pem.as_bytes())
        .map_err(|e| format!("not a PEM certificate: {e}"))?;
    let cert = block
        .parse_x509()
        .map_err(|e| format!("not an X.509 certificate: {e}"))?;
    let common_name = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .unwrap_or("")
        .to_string();
    let mut names = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(dns) => names.push(format!("DNS:{dns}")),
                GeneralName::IPAddress(bytes) => {
                    let ip: Option<std::net::IpAddr> = match bytes.len() {
                        4 => <[u8; 4]>::try_from(*bytes).ok().map(Into::into),
                        16 => <[u8; 16]>::try_from(*bytes).ok().map(Into::into),
                        _ => None,
                    };
                    if let Some(ip) = ip {
                        names.push(format!("IP:{ip}"));
                    }
                }
                _ => {}
            }
        }
    }
    let rfc3339 = |t: ASN1Time| {
        t.to_datetime()
            .format(&::time::format_description::well_known::Rfc3339)
            .map_err(|e| e.to_string())
    };
    let validity = cert.validity();
    Ok(MirrorDef {
        common_name,
        names,
        not_before: rfc3339(validity.not_before)?,
        not_after: rfc3339(validity.not_after)?,
        key: key_kind(cert.public_key())?,
        install: None,
    })
}

/// The kind of key a certificate's public key is of.
fn key_kind(spki: &SubjectPublicKeyInfo) -> Result<KeyKind, String> {
    let oid = spki.algorithm.algorithm.to_id_string();
    if oid == "1.3.101.112" {
        return Ok(KeyKind::Ed25519);
    }
    let parsed = spki
        .parsed()
        .map_err(|e| format!("cannot read the public key: {e}"))?;
    match (&parsed, parsed.key_size()) {
        (PublicKey::EC(_), 256) => Ok(KeyKind::EcP256),
        (PublicKey::EC(_), 384) => Ok(KeyKind::EcP384),
        (PublicKey::RSA(_), bits) if bits <= 2048 => Ok(KeyKind::Rsa2048),
        (PublicKey::RSA(_), bits) if bits <= 3072 => Ok(KeyKind::Rsa3072),
        (PublicKey::RSA(_), _) => Ok(KeyKind::Rsa4096),
        (_, bits) => Err(format!(
            "a {bits}-bit key of algorithm {oid}, which the lab cannot make (EC P-256/P-384, Ed25519, RSA 2048-4096)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::{Alias, CertDir, CertRequest};

    /// Issues a certificate with the mirror's fields from a fresh CA; returns its PEM.
    fn issue(dir: &std::path::Path, ca: &str, mirror: &MirrorDef, name: &str) -> String {
        let (cert_dir, _) = CertDir::open(dir.join(ca)).unwrap();
        let mut request = CertRequest::new(name, vec![]);
        request.common_name = Some(mirror.common_name.clone());
        request.names = Some(
            mirror
                .names
                .iter()
                .map(|n| n.parse::<Alias>().unwrap())
                .collect(),
        );
        let time = |v: &str| {
            ::time::OffsetDateTime::parse(v, &::time::format_description::well_known::Rfc3339)
                .unwrap()
        };
        request.validity = Some((time(&mirror.not_before), time(&mirror.not_after)));
        request.key = mirror.key;
        let files = cert_dir.issue(&request).unwrap();
        std::fs::read_to_string(files.cert).unwrap()
    }

    fn public_key(pem: &str) -> Vec<u8> {
        let (_, block) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).unwrap();
        block.parse_x509().unwrap().public_key().raw.to_vec()
    }

    /// A "field" certificate (another CA, an expired window, a SAN that is not its CN, each key
    /// kind) mirrored by the lab CA: subject, names, window and key kind equal; the key new.
    #[test]
    fn a_mirrored_certificate_has_the_original_fields_and_a_new_key() {
        let dir = tempfile::tempdir().unwrap();
        for (i, key) in [
            KeyKind::EcP256,
            KeyKind::EcP384,
            KeyKind::Ed25519,
            KeyKind::Rsa2048,
        ]
        .into_iter()
        .enumerate()
        {
            let field = MirrorDef {
                common_name: "logs-client.example.org".into(),
                names: vec!["DNS:logs-client.example.org".into(), "IP:192.0.2.7".into()],
                not_before: "2024-01-01T00:00:00Z".into(),
                not_after: "2025-01-01T00:00:00Z".into(),
                key,
                install: None,
            };
            let original = issue(dir.path(), "field-ca", &field, &format!("orig{i}"));
            let mirror = mirror_of(&original).unwrap();
            assert_eq!(mirror, field, "{key:?}: the fields read back");
            let copy = issue(dir.path(), "lab", &mirror, &format!("copy{i}"));
            assert_eq!(
                mirror_of(&copy).unwrap(),
                field,
                "{key:?}: the copy mirrors them"
            );
            assert_ne!(
                public_key(&copy),
                public_key(&original),
                "{key:?}: a new key"
            );
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(mirror_of("not a certificate").is_err());
        assert!(
            mirror_of("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").is_err()
        );
    }
}

//! Compressed uploads (journal-upload's `Compression=`, systemd ≥ 258): a client configured
//! for an algorithm sends its journal with that Content-Encoding, and the server stores it.

use super::judged_by;

use super::{effective_setting, CheckId, Entry, Family, Target, Verdict};
use crate::domain::{ExecOutput, Role, Status, UPLOAD_UNIT};

impl CheckId {
    pub const UPLOAD_COMPRESSION: CheckId = CheckId("upload-compression");
}

pub const FAMILY: Family = Family {
    name: "compression",
    entries: &[Entry::new(
        CheckId::UPLOAD_COMPRESSION,
        "journal-upload compresses with the configured algorithm, and it is delivered",
        "the upload carries Content-Encoding: <an algorithm of Compression=> and the client's marker reaches the server",
        Some(Role::Client),
        "journal-upload.conf(5) Compression=, ForceCompression=; systemd#43614",
        judged_by!(upload_compression),
    )
    .for_uploaders()],
};

/// What tells whether this journal-upload knows `Compression=`: the binary names its sibling
/// setting (the version number alone would guess).
pub const SUPPORT_COMMAND: &str = "systemctl --version | head -n 1; \
     grep -a -c -F ForceCompression /lib/systemd/systemd-journal-upload || true";

/// The request headers journal-upload logged (at debug level, through curl).
pub fn headers_command() -> String {
    format!(
        "journalctl -u {UPLOAD_UNIT} -o cat --no-pager | grep -a -E '(Content|Accept|Transfer)-Encoding:' | sort | uniq -c | sort -rn | head -n 8"
    )
}

async fn upload_compression(
    _: &Entry,
    target: &Target<'_>,
    evidence: &mut Vec<String>,
) -> crate::Result<Verdict> {
    let support = target.probe(SUPPORT_COMMAND, evidence).await?;
    let config = target
        .probe(
            "systemd-analyze cat-config systemd/journal-upload.conf",
            evidence,
        )
        .await?;
    let headers = target.probe(&headers_command(), evidence).await?;
    let marker = target.observer.marker(target.host, evidence).await?;
    Ok(verdict(
        &support,
        &config,
        &headers,
        marker.found_in.as_deref(),
    ))
}

/// The verdict from the support probe, the effective configuration, the logged headers and
/// where the client's marker was found on the server.
pub fn verdict(
    support: &ExecOutput,
    config: &ExecOutput,
    headers: &ExecOutput,
    delivered_in: Option<&str>,
) -> Verdict {
    let mut lines = support.stdout.lines();
    let version = lines.next().unwrap_or("systemd ?").trim().to_string();
    let knows = lines
        .next()
        .and_then(|n| n.trim().parse::<u32>().ok())
        .is_some_and(|n| n > 0);
    if !knows {
        return (
            Status::NotApplicable,
            format!("{version}: journal-upload has no Compression= (upload compression came in systemd 258)"),
        );
    }
    let Some(configured) = effective_setting(&config.stdout, "Compression") else {
        return (
            Status::NotApplicable,
            "Compression= is not set for this client (the compiled-in default applies)".into(),
        );
    };
    let wanted: Vec<&str> = configured
        .split_whitespace()
        .map(|a| a.split(':').next().unwrap_or(a))
        .collect();
    let requests: usize = headers
        .stdout
        .lines()
        .filter(|l| l.contains("Transfer-Encoding:"))
        .filter_map(|l| l.split_whitespace().next()?.parse::<usize>().ok())
        .sum();
    let sent: Vec<String> = headers
        .stdout
        .lines()
        .filter(|l| !l.contains("Accept-Encoding") && !l.contains("Transfer-Encoding"))
        .filter_map(|l| l.split("Content-Encoding:").nth(1))
        .map(|v| v.trim().to_string())
        .collect();
    let offered = headers
        .stdout
        .lines()
        .find_map(|l| l.split("Accept-Encoding:").nth(1))
        .map(|v| v.trim().to_string());
    if requests == 0 && sent.is_empty() && offered.is_none() {
        return (
            Status::NotVerifiable,
            "journal-upload's journal holds no request headers: it logs them only at debug level (SYSTEMD_LOG_LEVEL=debug in a drop-in), and journald drops most of that unless LogRateLimitIntervalSec=0".into(),
        );
    }
    let used: Vec<&String> = sent
        .iter()
        .filter(|s| wanted.contains(&s.as_str()))
        .collect();
    match (used.first(), delivered_in) {
        (Some(algorithm), Some(file)) => (
            Status::Pass,
            format!("Compression={configured}: uploads sent with Content-Encoding: {algorithm}; the marker arrived in {file}"),
        ),
        (Some(algorithm), None) => (
            Status::Fail,
            format!("uploads sent with Content-Encoding: {algorithm}, but the client's marker did not reach the server"),
        ),
        (None, _) => (
            Status::Fail,
            format!(
                "Compression={configured}, but none of {requests} uploads carried it (sent: {}; the server's Accept-Encoding: {}){}",
                if sent.is_empty() { "no Content-Encoding".to_string() } else { sent.join(", ") },
                offered.as_deref().unwrap_or("none seen yet"),
                if offered.is_none() {
                    " — journal-upload learns what the server accepts from its first answer, so                      without ForceCompression=yes its first request goes uncompressed"
                } else {
                    ""
                }
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(stdout: &str) -> ExecOutput {
        ExecOutput {
            stdout: stdout.into(),
            ..ExecOutput::default()
        }
    }

    /// Recorded on sid (systemd 262) with Compression=zstd and debug logging.
    const HEADERS: &str = "     13 Transfer-Encoding: chunked\n     13 < Accept-Encoding: zstd;q=1.0,xz;q=0.8,lz4;q=0.6,gzip;q=0.4,bzip2;q=0.2\n     12 Content-Encoding: zstd\n";
    const CONFIG: &str =
        "# /etc/systemd/journal-upload.conf.d/compression.conf\n[Upload]\nCompression=zstd\n";

    #[test]
    fn compressed_and_delivered_passes() {
        let support = out("systemd 262 (262.1-1)\n3\n");
        let v = verdict(
            &support,
            &out(CONFIG),
            &out(HEADERS),
            Some("remote-1.journal"),
        );
        assert_eq!(v.0, Status::Pass, "{}", v.1);
        // Not delivered: a fail, even though it was compressed.
        assert_eq!(
            verdict(&support, &out(CONFIG), &out(HEADERS), None).0,
            Status::Fail
        );
        // Configured for lz4, but only zstd went out.
        let lz4 = CONFIG.replace("zstd", "lz4");
        let v = verdict(&support, &out(&lz4), &out(HEADERS), Some("f"));
        assert_eq!(v.0, Status::Fail);
        assert!(v.1.contains("sent: zstd"), "{}", v.1);
        // Recorded with ForceCompression=no: the first, long request went uncompressed.
        let first = "      1 Transfer-Encoding: chunked\n";
        let v = verdict(&support, &out(CONFIG), &out(first), Some("f"));
        assert_eq!(v.0, Status::Fail);
        assert!(v.1.contains("none of 1 uploads"), "{}", v.1);
        // No headers logged: cannot tell, never a pass.
        assert_eq!(
            verdict(&support, &out(CONFIG), &out(""), Some("f")).0,
            Status::NotVerifiable
        );
    }

    #[test]
    fn a_release_without_upload_compression_is_not_applicable() {
        // Recorded on trixie (systemd 257): the binary does not know the setting.
        let support = out("systemd 257 (257.13-1~deb13u1)\n0\n");
        let v = verdict(&support, &out(CONFIG), &out(""), Some("f"));
        assert_eq!(v.0, Status::NotApplicable);
        assert!(v.1.starts_with("systemd 257"), "{}", v.1);
    }
}

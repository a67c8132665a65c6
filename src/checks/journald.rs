//! journald on the server: logs kept on disk, compressed, rate limited (the conformance profile's
//! storage rules).

use futures::FutureExt;

use super::{setting_verdict, CheckId, Entry, Family, Target, Verdict};
use crate::domain::{Role, Status};

impl CheckId {
    pub const JOURNALD_STORAGE_PERSISTENT: CheckId = CheckId("journald-storage-persistent");
    pub const JOURNALD_COMPRESS: CheckId = CheckId("journald-compress");
    pub const JOURNALD_RATE_LIMIT: CheckId = CheckId("journald-rate-limit");
}

pub const FAMILY: Family = Family {
    name: "journald",
    entries: &[
        Entry::new(
            CheckId::JOURNALD_STORAGE_PERSISTENT,
            "The server's journald keeps logs on disk",
            "Storage=persistent in the effective journald.conf",
            Some(Role::Server),
            "ComplianceAsCode journald_storage \"Ensure journald is configured to write log files to persistent disk\" (CIS Ubuntu 22.04 4.2.1.4, CIS RHEL 8 4.2.2.4); journald.conf(5) Storage=",
        )
        .in_profile(super::Severity::Note),
        Entry::new(
            CheckId::JOURNALD_COMPRESS,
            "The server's journald compresses large entries",
            "Compress=yes in the effective journald.conf",
            Some(Role::Server),
            "ComplianceAsCode journald_compress \"Ensure journald is configured to compress large log files\" (CIS Ubuntu 22.04 4.2.1.3, CIS RHEL 8 4.2.2.3); journald.conf(5) Compress=",
        )
        .in_profile(super::Severity::Note),
        Entry::new(
            CheckId::JOURNALD_RATE_LIMIT,
            "journald rate limiting is configured",
            "RateLimitIntervalSec= and RateLimitBurst= set in the effective journald.conf",
            Some(Role::Server),
            "journald.conf(5) RateLimitIntervalSec=, RateLimitBurst=",
        )
        .in_profile(super::Severity::Note),
    ],
    evaluate: |entry, target, evidence| evaluate(entry, target, evidence).boxed(),
};

async fn evaluate(
    entry: &Entry,
    target: &Target<'_>,
    evidence: &mut Vec<String>,
) -> crate::Result<Verdict> {
    let command = "systemd-analyze cat-config systemd/journald.conf";
    let config = target.probe(command, evidence).await?;
    Ok(match entry.id {
        CheckId::JOURNALD_STORAGE_PERSISTENT => {
            setting_verdict(&config, "Storage", &["persistent"])
        }
        CheckId::JOURNALD_COMPRESS => {
            setting_verdict(&config, "Compress", &["yes", "true", "1", "on"])
        }
        CheckId::JOURNALD_RATE_LIMIT => {
            let interval = setting_verdict(&config, "RateLimitIntervalSec", &[]);
            let burst = setting_verdict(&config, "RateLimitBurst", &[]);
            let status = if interval.0 == Status::Pass && burst.0 == Status::Pass {
                Status::Pass
            } else {
                Status::Fail
            };
            (status, format!("{}; {}", interval.1, burst.1))
        }
        other => return Err(crate::checks::no_verdict(other)),
    })
}

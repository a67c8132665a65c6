//! journald on the server: logs kept on disk, compressed, rate limited (the conformance profile's
//! storage rules).

use super::{judged_by, setting_verdict, CheckId, Entry, Family, Target, Verdict};
use crate::domain::{ExecOutput, Role, Status};
use crate::errors::Result;

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
            judged_by!(storage_persistent),
        )
        .in_profile(super::Severity::Note),
        Entry::new(
            CheckId::JOURNALD_COMPRESS,
            "The server's journald compresses large entries",
            "Compress=yes in the effective journald.conf",
            Some(Role::Server),
            "ComplianceAsCode journald_compress \"Ensure journald is configured to compress large log files\" (CIS Ubuntu 22.04 4.2.1.3, CIS RHEL 8 4.2.2.3); journald.conf(5) Compress=",
            judged_by!(compress),
        )
        .in_profile(super::Severity::Note),
        Entry::new(
            CheckId::JOURNALD_RATE_LIMIT,
            "journald rate limiting is configured",
            "RateLimitIntervalSec= and RateLimitBurst= set in the effective journald.conf",
            Some(Role::Server),
            "journald.conf(5) RateLimitIntervalSec=, RateLimitBurst=",
            judged_by!(rate_limit),
        )
        .in_profile(super::Severity::Note),
    ],
};

/// The effective journald.conf, as systemd reads it.
async fn journald_conf(target: &Target<'_>, evidence: &mut Vec<String>) -> Result<ExecOutput> {
    target
        .probe("systemd-analyze cat-config systemd/journald.conf", evidence)
        .await
}

async fn storage_persistent(
    _: &Entry,
    target: &Target<'_>,
    evidence: &mut Vec<String>,
) -> Result<Verdict> {
    let config = journald_conf(target, evidence).await?;
    Ok(setting_verdict(&config, "Storage", &["persistent"]))
}

async fn compress(_: &Entry, target: &Target<'_>, evidence: &mut Vec<String>) -> Result<Verdict> {
    let config = journald_conf(target, evidence).await?;
    Ok(setting_verdict(
        &config,
        "Compress",
        &["yes", "true", "1", "on"],
    ))
}

async fn rate_limit(_: &Entry, target: &Target<'_>, evidence: &mut Vec<String>) -> Result<Verdict> {
    let config = journald_conf(target, evidence).await?;
    let interval = setting_verdict(&config, "RateLimitIntervalSec", &[]);
    let burst = setting_verdict(&config, "RateLimitBurst", &[]);
    let status = if interval.0 == Status::Pass && burst.0 == Status::Pass {
        Status::Pass
    } else {
        Status::Fail
    };
    Ok((status, format!("{}; {}", interval.1, burst.1)))
}

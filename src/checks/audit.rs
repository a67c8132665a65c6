//! Audit: CIS Docker Benchmark 1.2.7, a watch on docker.socket's unit file with key `docker`.
//! The compiled rules can be read in a container; the kernel's loaded rules cannot, and that is
//! reported as not-verifiable, never as a pass.

use super::judged_by;

use super::{CheckId, Entry, Family, Target, Verdict};
use crate::domain::{ExecOutput, Status};

const CIS_DOCKER: &str = "CIS Docker Benchmark 1.2.7";

impl CheckId {
    pub const DOCKER_SOCKET_PRESENT: CheckId = CheckId("docker-socket-present");
    pub const DOCKER_SOCKET_AUDIT_RULE: CheckId = CheckId("docker-socket-audit-rule");
    pub const DOCKER_SOCKET_AUDIT_LOADED: CheckId = CheckId("docker-socket-audit-loaded");
}

pub const FAMILY: Family = Family {
    name: "audit",
    entries: &[
        Entry::new(
            CheckId::DOCKER_SOCKET_PRESENT,
            "The host has a docker.socket unit",
            "systemctl show -p FragmentPath docker.socket names a file",
            None,
            CIS_DOCKER,
            judged_by!(socket_present),
        ),
        Entry::new(
            CheckId::DOCKER_SOCKET_AUDIT_RULE,
            "docker.socket is audited",
            "/etc/audit/audit.rules watches docker.socket's FragmentPath with key docker",
            None,
            CIS_DOCKER,
            judged_by!(audit_rule),
        ),
        Entry::new(
            CheckId::DOCKER_SOCKET_AUDIT_LOADED,
            "The docker.socket audit rule is loaded",
            "auditctl -l lists the watch",
            None,
            CIS_DOCKER,
            judged_by!(audit_loaded),
        ),
    ],
};

/// Where docker.socket's unit file is (None: no such unit).
async fn docker_socket(
    target: &Target<'_>,
    evidence: &mut Vec<String>,
) -> crate::Result<Option<String>> {
    let command = "systemctl show -p FragmentPath --value docker.socket";
    Ok(fragment_path(&target.probe(command, evidence).await?))
}

async fn socket_present(
    _: &Entry,
    target: &Target<'_>,
    evidence: &mut Vec<String>,
) -> crate::Result<Verdict> {
    let fragment = docker_socket(target, evidence).await?;
    Ok(docker_socket_present_verdict(fragment.as_deref()))
}

async fn audit_rule(
    _: &Entry,
    target: &Target<'_>,
    evidence: &mut Vec<String>,
) -> crate::Result<Verdict> {
    let fragment = docker_socket(target, evidence).await?;
    let rules = target.probe("cat /etc/audit/audit.rules", evidence).await?;
    Ok(audit_rule_verdict(fragment.as_deref(), &rules))
}

async fn audit_loaded(
    _: &Entry,
    target: &Target<'_>,
    evidence: &mut Vec<String>,
) -> crate::Result<Verdict> {
    let fragment = docker_socket(target, evidence).await?;
    let loaded = target.probe("auditctl -l", evidence).await?;
    Ok(audit_loaded_verdict(fragment.as_deref(), &loaded))
}

/// `systemctl show -p FragmentPath --value docker.socket`.
pub fn fragment_path(output: &ExecOutput) -> Option<String> {
    let path = output.stdout.trim();
    (!path.is_empty()).then(|| path.to_string())
}

pub fn docker_socket_present_verdict(fragment: Option<&str>) -> Verdict {
    match fragment {
        Some(path) => (Status::Pass, format!("docker.socket is {path}")),
        None => (
            Status::NotApplicable,
            "no docker.socket unit on this host".into(),
        ),
    }
}

/// Whether a rules text watches `path` with key docker (`-w PATH ... -k docker` or `-F key=docker`).
pub fn watches_with_docker_key(rules: &str, path: &str) -> bool {
    rules.lines().any(|line| {
        let words: Vec<&str> = line.split_whitespace().collect();
        let watches = words.windows(2).any(|w| w[0] == "-w" && w[1] == path)
            || words.iter().any(|w| *w == format!("path={path}"));
        let keyed = words.windows(2).any(|w| w[0] == "-k" && w[1] == "docker")
            || words.contains(&"key=docker");
        watches && keyed
    })
}

pub fn audit_rule_verdict(fragment: Option<&str>, compiled_rules: &ExecOutput) -> Verdict {
    let Some(path) = fragment else {
        return (
            Status::NotApplicable,
            "no docker.socket unit on this host".into(),
        );
    };
    if !compiled_rules.success() {
        return (
            Status::Fail,
            format!(
                "cannot read /etc/audit/audit.rules: {}",
                compiled_rules.combined()
            ),
        );
    }
    if watches_with_docker_key(&compiled_rules.stdout, path) {
        (
            Status::Pass,
            format!("/etc/audit/audit.rules watches {path} with key docker"),
        )
    } else {
        (
            Status::Fail,
            format!("/etc/audit/audit.rules has no watch on {path} with key docker"),
        )
    }
}

/// `auditctl -l`: in a container the kernel's audit subsystem is out of reach; say so, never pass.
pub fn audit_loaded_verdict(fragment: Option<&str>, auditctl: &ExecOutput) -> Verdict {
    let Some(path) = fragment else {
        return (
            Status::NotApplicable,
            "no docker.socket unit on this host".into(),
        );
    };
    if !auditctl.success() {
        return (
            Status::NotVerifiable,
            format!(
                "auditctl -l failed ({}): the kernel audit subsystem is reachable only from the initial \
                 PID and network namespaces, not from a container",
                auditctl.combined().lines().next().unwrap_or("")
            ),
        );
    }
    if watches_with_docker_key(&auditctl.stdout, path) {
        (
            Status::Pass,
            format!("the loaded rules watch {path} with key docker"),
        )
    } else {
        (
            Status::Fail,
            format!("the loaded rules do not watch {path} with key docker"),
        )
    }
}

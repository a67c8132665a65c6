//! `upload-recovers`: after the faults, journal-upload is active again and a marker logged
//! since reached the server; where it is not, the drop-in an operator would add.

use crate::checks::Verdict;
use crate::domain::Status;

/// The drop-in that keeps journal-upload retrying: what an operator adds after a restart loop
/// ended in systemd's start limit.
pub const KEEP_RETRYING_DROP_IN: &str =
    "/etc/systemd/system/systemd-journal-upload.service.d/keep-retrying.conf: \
    [Unit] StartLimitIntervalSec=0 / [Service] Restart=always, RestartSec=5";

/// After the faults: the unit's state (`systemctl show` lines) and the latest marker's fate.
pub fn recovery_verdict(
    last_fault_ended: Option<time::OffsetDateTime>,
    marker: &crate::checks::MarkerObservation,
    unit: &crate::domain::ExecOutput,
) -> Verdict {
    let Some(ended) = last_fault_ended else {
        return (
            Status::NotApplicable,
            "no fault ended in this run (or one is still in force)".into(),
        );
    };
    if marker.logged_at.is_none_or(|at| at <= ended) {
        return (
            Status::NotVerifiable,
            "no marker was logged on this client after the last fault ended (add a log-markers step after it)".into(),
        );
    }
    let field = |name: &str| {
        unit.stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .unwrap_or("?")
            .to_string()
    };
    let state = format!(
        "journal-upload is {}/{} (Result={}, NRestarts={})",
        field("ActiveState"),
        field("SubState"),
        field("Result"),
        field("NRestarts")
    );
    if marker.found_in.is_some() && field("ActiveState") == "active" {
        return (
            Status::Pass,
            format!("recovered: {state}, and the marker logged after the faults arrived"),
        );
    }
    let start_limit = unit.stdout.contains("start-limit-hit")
        || unit.stdout.contains("Start request repeated too quickly");
    let remedy = if start_limit {
        format!("; it hit systemd's start limit after a restart loop: add the drop-in {KEEP_RETRYING_DROP_IN}")
    } else {
        String::new()
    };
    (
        Status::Fail,
        format!(
            "did NOT recover: {state}; the marker logged after the faults {}{remedy}",
            if marker.found_in.is_some() {
                "arrived"
            } else {
                "did not arrive"
            }
        ),
    )
}

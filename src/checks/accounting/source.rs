//! What never reached a client's journal, in journald's own words: the messages its rate limit
//! suppressed from a workload's unit (`as-service`), which are dropped at the source, not lost.

use std::collections::BTreeMap;

/// The unit a workload stream logs from with `as-service` (`jl-work-STREAM`).
pub fn workload_unit(stream: u32) -> String {
    format!("jl-work-{stream}")
}

/// journald's own word that it dropped messages of a unit (sd-messages.h:
/// SD_MESSAGE_JOURNAL_DROPPED, "Suppressed N messages from UNIT").
pub const SUPPRESSED_COMMAND: &str =
    "journalctl -o cat --no-pager MESSAGE_ID=a596d6fe7bfa4994828e72309e95d61e | grep -F ' messages from jl-work-' || true";

/// How many messages journald said it suppressed from each workload stream's unit, from what
/// [`SUPPRESSED_COMMAND`] printed.
pub fn parse_suppressed(output: &str) -> BTreeMap<u32, u64> {
    let mut suppressed = BTreeMap::new();
    for line in output.lines() {
        let mut words = line.split_whitespace();
        let (Some("Suppressed"), Some(count), Some("messages"), Some("from"), Some(unit)) = (
            words.next(),
            words.next(),
            words.next(),
            words.next(),
            words.next(),
        ) else {
            continue;
        };
        let stream = unit
            .strip_prefix("jl-work-")
            .and_then(|u| u.strip_suffix(".service"))
            .and_then(|n| n.parse::<u32>().ok());
        if let (Some(stream), Ok(count)) = (stream, count.parse::<u64>()) {
            *suppressed.entry(stream).or_default() += count;
        }
    }
    suppressed
}

#[cfg(test)]
mod tests {
    use super::super::{verdict, verdict_with, Workload};
    use super::*;
    use crate::domain::Status;

    /// Messages journald's rate limit dropped are said apart from delivery, with journald's own
    /// count; without its word they are only "never reached the client's journal".
    #[test]
    fn what_journald_suppressed_is_dropped_at_the_source_not_lost() {
        // As trixie's journald wrote it (recorded), and lines that are not ours.
        let said = "Suppressed 313 messages from jl-work-0.service\n\
                    Suppressed 5 messages from cron.service\n\
                    Suppressed 7 messages from jl-work-0.service\n";
        let suppressed = parse_suppressed(said);
        assert_eq!(suppressed, BTreeMap::from([(0, 320)]));
        let w = [Workload {
            host: "c1".into(),
            stream: 0,
            count: 500,
            size: 100,
        }];
        let logged: Vec<(u32, u64)> = (0..180).map(|s| (0, s)).collect();
        let (status, observed) = verdict_with(&w, &logged, &logged, &suppressed, 0);
        assert_eq!(status, Status::Pass, "{observed}");
        assert!(
            observed.contains("sent 180, arrived 180")
                && observed.contains("320 of 500")
                && observed.contains("DROPPED AT THE SOURCE")
                && observed.contains("suppressed 320 messages of jl-work-0.service"),
            "{observed}"
        );
        // Lost in transit stays lost, whatever journald dropped.
        let (status, observed) = verdict_with(&w, &logged, &logged[..100], &suppressed, 0);
        assert_eq!(status, Status::Fail, "{observed}");
        assert!(observed.contains("LOST 80"), "{observed}");
        let (_, silent) = verdict(&w, &logged, &logged);
        assert!(
            silent.contains("320 of 500 asked for never reached the client's journal; journald said it suppressed none"),
            "{silent}"
        );
    }
}

//! What retention took: a server with `MaxUse=`/`MaxFileSize=` (journal-remote.conf, systemd
//! 254) deletes its oldest archived remote journals, and the messages they held are gone from
//! it though they were delivered. They are said apart from what was lost: the messages below
//! the lowest that is still there, where journal-remote said it deleted archived journals.

/// journal-remote's own word that it deleted archived journals (journal-vacuum.c: "Deleted
/// archived journal PATH (SIZE)."): one line each.
pub const DELETED_COMMAND: &str = "journalctl -u systemd-journal-remote.service -o cat --no-pager | grep -F 'Deleted archived journal ' || true";

/// How many archived journals journal-remote said it deleted, from what [`DELETED_COMMAND`]
/// printed.
pub fn parse_deleted(output: &str) -> u64 {
    output
        .lines()
        .filter(|l| l.starts_with("Deleted archived journal "))
        .count() as u64
}

/// Inclusive ranges of sequence numbers.
pub type SeqRanges = Vec<(u64, u64)>;

/// Splits a stream's lost ranges into (rotated away, lost): with `deleted` archived journals
/// on the server, the messages below the lowest one that is still there went with the oldest
/// files; whatever is missing above it was lost. With nothing deleted, or nothing left to
/// place the cut, everything missing is lost.
pub fn split_rotated(
    lost: &[(u64, u64)],
    lowest_arrived: Option<u64>,
    deleted: u64,
) -> (SeqRanges, SeqRanges) {
    let Some(cut) = lowest_arrived.filter(|_| deleted > 0) else {
        return (Vec::new(), lost.to_vec());
    };
    lost.iter().partition(|(_, end)| *end < cut)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_missing_below_the_oldest_left_went_with_the_deleted_files() {
        let lost = [(0, 99), (150, 150)];
        assert_eq!(
            split_rotated(&lost, Some(100), 3),
            (vec![(0, 99)], vec![(150, 150)])
        );
        // Nothing deleted: all of it is lost.
        assert_eq!(split_rotated(&lost, Some(100), 0), (vec![], lost.to_vec()));
        // Nothing arrived: no cut to place.
        assert_eq!(split_rotated(&lost, None, 3), (vec![], lost.to_vec()));
    }

    #[test]
    fn journal_remotes_deletions_are_counted_as_it_wrote_them() {
        // trixie's journal-remote (257), as recorded.
        let log = "Deleted archived journal /var/log/journal/remote/remote-192.168.32.2@85f29f72e58848f7b5e8f693ddf1f979-0000000000003a79-0006617398d61323.journal (1M).\n\
                   Vacuuming done, freed 1M of archived journals from /var/log/journal/remote.\n\
                   Deleted archived journal /var/log/journal/remote/remote-192.168.32.3@74f75c27fcdd41679c428556af3dd1f7-0000000000003a6f-0006617398d68650.journal (1M).\n";
        assert_eq!(parse_deleted(log), 2);
        assert_eq!(parse_deleted(""), 0);
    }

    #[test]
    fn a_verdict_says_rotated_away_apart_from_lost() {
        use crate::checks::accounting::{verdict_with, Workload};
        use crate::domain::Status;
        let w = [Workload {
            host: "c".into(),
            stream: 0,
            count: 10,
            size: 10,
        }];
        let logged: Vec<(u32, u64)> = (0..10).map(|q| (0, q)).collect();
        let arrived: Vec<(u32, u64)> = (4..10).map(|q| (0, q)).collect();
        let none = std::collections::BTreeMap::new();
        let (status, text) = verdict_with(&w, &logged, &arrived, &none, 2);
        assert_eq!(status, Status::Pass, "{text}");
        assert!(text.contains("ROTATED AWAY 4 (seq 0–3)"), "{text}");
        assert!(!text.contains("LOST"), "{text}");
        // Without deletions the same gap is lost.
        let (status, text) = verdict_with(&w, &logged, &arrived, &none, 0);
        assert_eq!(status, Status::Fail);
        assert!(text.contains("LOST 4 (seq 0–3)"), "{text}");
        // A gap above the oldest left is lost even with deletions.
        let gap: Vec<(u32, u64)> = [4, 5, 7, 8, 9].iter().map(|&q| (0, q)).collect();
        let (status, text) = verdict_with(&w, &logged, &gap, &none, 2);
        assert_eq!(status, Status::Fail);
        assert!(text.contains("LOST 1 (seq 6)"), "{text}");
    }
}

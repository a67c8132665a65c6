//! The registry's own rules: one place per id, the docs' table equal to it, and the behaviour
//! each entry carries (profile weight, who refuses a rejection).

use crate::checks::*;

#[test]
fn the_profile_lists_distinct_ids() {
    let mut ids = PROFILE.to_vec();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), PROFILE.len());
}

/// One place per id: every id is registered by exactly one family, once, and reads back.
#[test]
fn every_id_is_registered_once_and_round_trips() {
    let mut seen = std::collections::BTreeSet::new();
    for family in FAMILIES {
        for entry in family.entries {
            assert!(seen.insert(entry.id), "{} registered twice", entry.id);
            let read: CheckId =
                serde_json::from_value(serde_json::json!(entry.id.as_str())).unwrap();
            assert_eq!(read, entry.id);
        }
    }
    assert_eq!(seen.len(), CheckId::all().count());
    for id in PROFILE {
        assert!(seen.contains(&id), "profile check {id} is not registered");
    }
    let unknown = serde_json::from_str::<CheckId>("\"client-delivery\"").unwrap_err();
    assert!(unknown.to_string().contains("expected one of"), "{unknown}");
}

/// docs/scenarios.md's check table lists exactly the registered ids, so docs and catalog cannot
/// drift apart.
#[test]
fn the_docs_check_table_lists_exactly_the_catalog() {
    let docs =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/scenarios.md")).unwrap();
    let table = &docs[docs
        .find("| id | on | passes when |")
        .expect("the check table")..];
    let mut documented = std::collections::BTreeSet::new();
    for row in table.lines().skip(2).take_while(|l| l.starts_with('|')) {
        let first_cell = row.split('|').nth(1).unwrap();
        for (i, part) in first_cell.split('`').enumerate() {
            if i % 2 == 1 {
                let id = CheckId::named(part).unwrap_or_else(|| {
                    panic!("docs/scenarios.md lists {part:?}, no family has it")
                });
                assert!(documented.insert(id), "{id} is documented twice");
            }
        }
    }
    let catalog: std::collections::BTreeSet<CheckId> = CheckId::all().collect();
    let missing: Vec<String> = catalog
        .difference(&documented)
        .map(|id| id.to_string())
        .collect();
    assert!(missing.is_empty(), "docs/scenarios.md lacks {missing:?}");
}

/// The registry carries each check's behaviour: the profile's items are exactly the entries
/// with a severity, and every rejection check says who refuses (a client's, with its words),
/// so a new certificate rejection id without its declaration, or an item without its weight, fails here.
#[test]
fn the_profile_is_the_entries_that_weigh_and_rejections_say_who_refuses() {
    let entries: Vec<&Entry> = FAMILIES.iter().flat_map(|f| f.entries.iter()).collect();
    let weighed: std::collections::BTreeSet<&str> = entries
        .iter()
        .filter(|e| e.profile.is_some())
        .map(|e| e.id.0)
        .collect();
    let profile: std::collections::BTreeSet<&str> = PROFILE.iter().map(|id| id.0).collect();
    assert_eq!(weighed, profile);
    // The certificate rejections (another family's `server-rejects-malformed` is about payloads).
    let tls = FAMILIES.iter().find(|f| f.name == "tls").unwrap();
    for entry in tls.entries {
        let id = entry.id.0;
        match entry.rejection {
            Some(Rejection::ByClient(words)) => {
                assert!(id.starts_with("client-rejects-"), "{id}");
                assert!(!words.is_empty(), "{id}: the client's refusal words");
            }
            Some(Rejection::ByServer) => assert!(id.starts_with("server-rejects-"), "{id}"),
            None => assert!(
                !id.starts_with("client-rejects-") && !id.starts_with("server-rejects-"),
                "{id} is a rejection check: its entry must say who refuses"
            ),
        }
    }
}

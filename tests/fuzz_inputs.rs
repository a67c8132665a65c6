//! Property-based fuzzing of what comes from strangers: the scenario loader, the setup loader,
//! the engines file, the replay bundle reader and what replay makes of a bundle's files, fed the
//! hostile corpus (tests/hostile-scenarios/, the recorded bundles) mutated at random, and plain
//! random bytes. Each must answer Ok or a located error: never panic, never hang (each case has a
//! time budget), never print a control character, never take more than [`MEMORY`] of memory (the
//! process's data limit is set to it: a blow-up fails the test instead of the machine).
//! The case count is bounded so the suite keeps its pace; `PROPTEST_CASES=100000` runs longer.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use journal_lab::replay::bundle::Bundle;
use journal_lab::scenario::{setup::Setup, Scenario};
use proptest::prelude::*;

/// How long one input may take to be judged.
const BUDGET: Duration = Duration::from_secs(2);

/// The most memory (private data: heap and anonymous maps) the fuzzing process may hold.
const MEMORY: u64 = 256 << 20;

/// Sets the process's data limit to [`MEMORY`] (once): an input that makes the readers allocate
/// past it aborts the test.
fn bound_memory() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let limit = libc::rlimit {
            rlim_cur: MEMORY,
            rlim_max: libc::RLIM_INFINITY,
        };
        // SAFETY: setrlimit reads the struct it is given; lowering a soft limit is always allowed.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_DATA, &limit) }, 0);
    });
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn seeds(dir: &str) -> Vec<Vec<u8>> {
    let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(root().join(dir))
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    seeds.sort();
    seeds
}

/// A mutation of a seed: at each (position, byte), overwrite, insert or delete.
fn mutate(seed: &[u8], edits: &[(usize, u8, u8)]) -> Vec<u8> {
    let mut bytes = seed.to_vec();
    for &(at, byte, how) in edits {
        let at = if bytes.is_empty() {
            0
        } else {
            at % (bytes.len() + 1)
        };
        match how % 3 {
            0 if at < bytes.len() => bytes[at] = byte,
            1 => bytes.insert(at, byte),
            _ if at < bytes.len() => {
                bytes.remove(at);
            }
            _ => bytes.push(byte),
        }
    }
    bytes
}

fn judged_quietly(what: &str, started: Instant, error: Option<String>) {
    assert!(
        started.elapsed() < BUDGET,
        "{what} took {:?}",
        started.elapsed()
    );
    if let Some(error) = error {
        assert!(
            !error
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\t'),
            "{what}: a control character reaches the terminal: {error:?}"
        );
    }
}

fn scenario_text(bytes: &[u8]) {
    bound_memory();
    let text = String::from_utf8_lossy(bytes);
    let started = Instant::now();
    let result = Scenario::parse(Path::new("fuzz.yaml"), &text);
    judged_quietly("a scenario", started, result.err().map(|e| e.to_string()));
    let started = Instant::now();
    let result = Setup::parse(Path::new("fuzz/setup.yaml"), &text);
    judged_quietly("a setup", started, result.err().map(|e| e.to_string()));
    let started = Instant::now();
    let result = journal_lab::lab::fleet::Fleet::parse(Path::new("fuzz/engines.yaml"), &text);
    judged_quietly(
        "an engines file",
        started,
        result.err().map(|e| e.to_string()),
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn mutated_hostile_scenarios_are_judged_without_panic_or_hang(
        pick in any::<prop::sample::Index>(),
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 0..24),
    ) {
        let corpus = seeds("tests/hostile-scenarios");
        let seed = &corpus[pick.index(corpus.len())];
        scenario_text(&mutate(seed, &edits));
    }

    #[test]
    fn random_bytes_are_judged_without_panic_or_hang(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        scenario_text(&bytes);
    }

    #[test]
    fn mutated_bundles_are_refused_or_read_without_panic(
        pick in any::<prop::sample::Index>(),
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 0..16),
    ) {
        let bundles: Vec<Vec<u8>> = ["port-change-server", "port-change-stale", "port-change-client1"]
            .iter()
            .map(|b| std::fs::read(root().join(format!("tests/data/{b}.tar.gz"))).unwrap())
            .collect();
        bound_memory();
        let seed = &bundles[pick.index(bundles.len())];
        let bytes = mutate(seed, &edits);
        let started = Instant::now();
        let result = Bundle::from_reader(Path::new("fuzz.tar.gz"), &bytes[..]);
        judged_quietly("a bundle", started, result.err().map(|e| e.to_string()));
    }

    /// What replay makes of a bundle whose members (configuration, units, URL, socket) are
    /// mutated: a scenario or a refusal naming the bundle, within the budget.
    #[test]
    fn mutated_bundle_members_replay_or_are_refused_without_panic(
        pick in any::<prop::sample::Index>(),
        member in any::<prop::sample::Index>(),
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 0..24),
    ) {
        bound_memory();
        let name = ["port-change-server", "port-change-stale", "port-change-client1"][pick.index(3)];
        let mut bundle = Bundle::read(&root().join(format!("tests/data/{name}.tar.gz"))).unwrap();
        let names: Vec<String> = bundle.files.keys().cloned().collect();
        let chosen = names[member.index(names.len())].clone();
        let text = mutate(bundle.files[&chosen].as_bytes(), &edits);
        bundle.files.insert(chosen, String::from_utf8_lossy(&text).into_owned());
        let releases = vec![("bookworm".to_string(), Some(252)), ("trixie".to_string(), Some(257))];
        let started = Instant::now();
        let result = journal_lab::replay::replay(vec![bundle], None, &releases, false);
        judged_quietly("a replay", started, result.err().map(|e| e.to_string()));
    }
}

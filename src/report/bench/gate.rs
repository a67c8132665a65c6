//! This bench against the last one on the same machine: the measurements both have, each
//! judged by the regression rule (`report::regression`).

use super::BenchReport;

/// The measurements with runs that both benches have: the happy path (whole run, and to every
/// marker delivered), and per client count the lab's whole process, the engine's floor and the
/// lab over its delivery floor run by run.
fn measurements(bench: &BenchReport) -> Vec<(String, Vec<f64>)> {
    let mut all = vec![
        (
            "happy path 1+3: whole run".to_string(),
            bench.happy_path.runs.clone(),
        ),
        (
            "happy path 1+3: to every marker delivered".to_string(),
            bench.happy_path.to_delivered.clone(),
        ),
    ];
    for point in &bench.versus {
        all.push((
            format!("lab 1+{}: whole process", point.clients),
            point.lab_seconds.clone(),
        ));
        all.push((
            format!("engine floor 1+{}", point.clients),
            point.floor_seconds.clone(),
        ));
        // The ratio in one sitting, run by run: the machine's mood divides out.
        all.push((
            format!("lab 1+{} over its delivery floor", point.clients),
            point
                .lab_seconds
                .iter()
                .zip(&point.delivery_floor_seconds)
                .filter(|(_, floor)| **floor > 0.0)
                .map(|(lab, floor)| lab / floor)
                .collect(),
        ));
    }
    all
}

/// `now` against `before`: nothing compared across machines (CPUs, memory, engine).
pub fn compare(before: &BenchReport, now: &BenchReport) -> crate::report::regression::Gate {
    let (a, b) = (&before.machine, &now.machine);
    let not_compared = if (a.cpus, a.memory_bytes / (1 << 28), &a.engine)
        != (b.cpus, b.memory_bytes / (1 << 28), &b.engine)
    {
        Some(format!(
            "another machine ({} CPUs, {} GiB, engine {} then; {} CPUs, {} GiB, engine {} now)",
            a.cpus,
            a.memory_bytes >> 30,
            a.engine,
            b.cpus,
            b.memory_bytes >> 30,
            b.engine
        ))
    } else if before.release != now.release {
        Some(format!(
            "another release ({} then, {} now)",
            before.release, now.release
        ))
    } else {
        None
    };
    let comparisons = if not_compared.is_some() {
        Vec::new()
    } else {
        let earlier = measurements(before);
        measurements(now)
            .into_iter()
            .filter_map(|(name, runs)| {
                let (_, previous) = earlier.iter().find(|(n, _)| *n == name)?;
                if previous.is_empty() || runs.is_empty() {
                    return None;
                }
                let (change, judgement) = crate::report::regression::judge(previous, &runs);
                Some(crate::report::regression::Comparison {
                    measurement: name,
                    before: previous.clone(),
                    now: runs,
                    change,
                    judgement,
                })
            })
            .collect()
    };
    crate::report::regression::Gate {
        against: before.date.clone(),
        not_compared,
        comparisons,
    }
}

//! The bench's regression gate: this bench against the last one recorded on the same machine,
//! measurement by measurement. A change counts only when it is more than 5% *and* outside the
//! runs' noise (Welch's t-test, 95% two-sided), the rule of Vector's soak harness; a measurement
//! whose runs scatter (coefficient of variation above 0.1) is called erratic and not compared,
//! and one with a single run has no noise to judge against. Pure: the bench hands in both reports.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

/// A change smaller than this is never flagged.
pub const THRESHOLD: f64 = 0.05;
/// Runs scattering more than this (standard deviation over mean) are erratic.
pub const ERRATIC_CV: f64 = 0.1;

/// What a measurement did between two benches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "verdict", content = "why")]
pub enum Judgement {
    /// Within 5%, or within the noise.
    Same,
    /// Slower by more than 5%, outside the noise: a regression.
    Slower,
    Faster,
    /// Too scattered to compare (the coefficient of variation of a side).
    Erratic(String),
    /// Fewer than two runs on a side.
    TooFew,
}

/// One measurement compared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub measurement: String,
    pub before: Vec<f64>,
    pub now: Vec<f64>,
    /// (mean now - mean before) / mean before.
    pub change: f64,
    #[serde(flatten)]
    pub judgement: Judgement,
}

/// This bench against an earlier one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gate {
    /// The earlier bench's date.
    pub against: String,
    /// Why nothing was compared (another machine), if so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_compared: Option<String>,
    pub comparisons: Vec<Comparison>,
}

impl Gate {
    /// The measurements that got slower beyond the threshold and the noise.
    pub fn regressions(&self) -> Vec<&Comparison> {
        self.comparisons
            .iter()
            .filter(|c| c.judgement == Judgement::Slower)
            .collect()
    }
}

fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

/// Sample variance (n - 1).
fn variance(xs: &[f64]) -> f64 {
    let m = mean(xs);
    xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (xs.len() as f64 - 1.0)
}

/// The two-sided 95% critical value of Student's t with `df` degrees of freedom.
fn t_critical(df: f64) -> f64 {
    const TABLE: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    // Rounded down: the stricter value where Welch's df falls between two.
    let index = (df.floor() as usize).clamp(1, 31);
    TABLE.get(index - 1).copied().unwrap_or(1.960)
}

/// One measurement's runs before and now, judged.
pub fn judge(before: &[f64], now: &[f64]) -> (f64, Judgement) {
    if before.is_empty() || now.is_empty() {
        return (0.0, Judgement::TooFew);
    }
    let (m0, m1) = (mean(before), mean(now));
    let change = if m0 > 0.0 { (m1 - m0) / m0 } else { 0.0 };
    if before.len() < 2 || now.len() < 2 {
        return (change, Judgement::TooFew);
    }
    let (v0, v1) = (variance(before), variance(now));
    for (side, m, v) in [("before", m0, v0), ("now", m1, v1)] {
        let cv = v.sqrt() / m;
        if cv > ERRATIC_CV {
            return (
                change,
                Judgement::Erratic(format!(
                    "the runs {side} scatter: coefficient of variation {cv:.2} > {ERRATIC_CV}"
                )),
            );
        }
    }
    if change.abs() <= THRESHOLD {
        return (change, Judgement::Same);
    }
    let (n0, n1) = (before.len() as f64, now.len() as f64);
    let standard_error = (v0 / n0 + v1 / n1).sqrt();
    let outside_noise = if standard_error == 0.0 {
        m0 != m1
    } else {
        let t = (m1 - m0) / standard_error;
        // Welch-Satterthwaite degrees of freedom.
        let df = (v0 / n0 + v1 / n1).powi(2)
            / ((v0 / n0).powi(2) / (n0 - 1.0) + (v1 / n1).powi(2) / (n1 - 1.0));
        t.abs() > t_critical(df)
    };
    let judgement = match (outside_noise, change > 0.0) {
        (false, _) => Judgement::Same,
        (true, true) => Judgement::Slower,
        (true, false) => Judgement::Faster,
    };
    (change, judgement)
}

/// The gate as a Markdown section.
pub fn markdown(gate: &Gate) -> String {
    let mut md = format!(
        "## Against the last bench on this machine ({})\n\n",
        gate.against
    );
    if let Some(why) = &gate.not_compared {
        let _ = writeln!(md, "Not compared: {why}.\n");
        return md;
    }
    let _ = writeln!(
        md,
        "A change is flagged when it is over {:.0}% and outside the runs' noise (Welch's t, 95%); \
         runs with a coefficient of variation over {ERRATIC_CV} are erratic, not compared.\n",
        THRESHOLD * 100.0
    );
    md.push_str("| measurement | before (mean, runs) | now (mean, runs) | change | verdict |\n");
    md.push_str("| --- | --- | --- | --- | --- |\n");
    for c in &gate.comparisons {
        let verdict = match &c.judgement {
            Judgement::Same => "same".to_string(),
            Judgement::Slower => "**SLOWER**".to_string(),
            Judgement::Faster => "faster".to_string(),
            Judgement::Erratic(why) => format!("erratic: {why}"),
            Judgement::TooFew => "one run: no noise to judge against".to_string(),
        };
        let _ = writeln!(
            md,
            "| {} | {:.2}s ({}) | {:.2}s ({}) | {:+.1}% | {verdict} |",
            c.measurement,
            mean(&c.before),
            c.before.len(),
            mean(&c.now),
            c.now.len(),
            c.change * 100.0
        );
    }
    md.push('\n');
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_counts_only_over_five_percent_and_outside_the_noise() {
        // 10% slower, tight runs: a regression.
        let (change, j) = judge(&[10.0, 10.1, 9.9, 10.0], &[11.0, 11.1, 10.9, 11.0]);
        assert_eq!(j, Judgement::Slower);
        assert!((change - 0.10).abs() < 1e-9);
        // 3% slower, however tight: the same.
        assert_eq!(
            judge(&[10.0, 10.0, 10.0], &[10.3, 10.3, 10.3]).1,
            Judgement::Same
        );
        // 8% slower on average, but the runs overlap: within the noise.
        assert_eq!(
            judge(&[10.0, 9.2, 10.8], &[10.0, 11.6, 10.8]).1,
            Judgement::Same
        );
        // Faster is said too.
        assert_eq!(
            judge(&[10.0, 10.1, 9.9], &[8.0, 8.1, 7.9]).1,
            Judgement::Faster
        );
    }

    #[test]
    fn scattered_or_single_runs_are_not_compared() {
        let (_, j) = judge(&[10.0, 14.0, 7.0], &[20.0, 20.1, 19.9]);
        assert!(
            matches!(&j, Judgement::Erratic(why) if why.contains("before")),
            "{j:?}"
        );
        assert_eq!(judge(&[10.0], &[20.0, 20.0]).1, Judgement::TooFew);
    }

    #[test]
    fn the_t_table_is_stricter_for_fewer_runs() {
        assert!(t_critical(2.0) > t_critical(10.0));
        assert!((t_critical(1000.0) - 1.96).abs() < 1e-9);
        assert!((t_critical(0.5) - 12.706).abs() < 1e-9);
    }
}

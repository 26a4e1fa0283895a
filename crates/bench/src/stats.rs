//! Latency summaries: nearest-rank percentiles over every sample (no histogram buckets, no
//! interpolation), in milliseconds.

use std::time::Duration;

use serde::Serialize;

/// p50/p95/p99/max/mean of a set of durations.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Latency {
    pub count: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

impl Latency {
    pub fn of(samples: &[Duration]) -> Self {
        let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        ms.sort_by(f64::total_cmp);
        if ms.is_empty() {
            return Self::default();
        }
        Self {
            count: ms.len(),
            p50_ms: percentile(&ms, 50.0),
            p95_ms: percentile(&ms, 95.0),
            p99_ms: percentile(&ms, 99.0),
            max_ms: ms[ms.len() - 1],
            mean_ms: ms.iter().sum::<f64>() / ms.len() as f64,
        }
    }
}

/// The nearest-rank percentile of `sorted` (ascending): the smallest sample such that at least
/// `p` percent of the samples are less than or equal to it. `p` in (0, 100].
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    assert!(!sorted.is_empty(), "percentile of nothing");
    let n = sorted.len();
    let rank = ((p / 100.0) * n as f64).ceil() as usize;
    sorted[rank.clamp(1, n) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_on_one_to_one_hundred() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 95.0), 95.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&v, 100.0), 100.0);
        assert_eq!(percentile(&v, 0.1), 1.0);
    }

    #[test]
    fn small_sets_round_up_to_a_real_sample() {
        let v = [10.0, 20.0, 30.0];
        assert_eq!(percentile(&v, 50.0), 20.0);
        assert_eq!(percentile(&v, 99.0), 30.0);
        assert_eq!(percentile(&[7.0], 99.0), 7.0);
        // 1,000 samples: p99 is the 990th, so ten slow outliers do not move it.
        let mut many = vec![1.0; 990];
        many.extend([100.0; 10]);
        assert_eq!(percentile(&many, 99.0), 1.0);
        many.push(100.0);
        assert_eq!(percentile(&many, 99.0), 100.0);
    }

    #[test]
    fn summary_sorts_and_averages() {
        let d = |ms: u64| Duration::from_millis(ms);
        let l = Latency::of(&[d(3), d(1), d(2), d(4)]);
        assert_eq!(l.count, 4);
        assert_eq!(l.p50_ms, 2.0);
        assert_eq!(l.p99_ms, 4.0);
        assert_eq!(l.max_ms, 4.0);
        assert_eq!(l.mean_ms, 2.5);
        assert_eq!(Latency::of(&[]), Latency::default());
    }
}

//! Small helpers the benchmark binaries share.

use std::time::Duration;

/// A count from the environment (`BENCH_EVENTS=…`), or `default`.
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The `p` quantile (0 to 1) of sorted latencies; zero when there are none.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_sorted_latencies() {
        let ms = |n| Duration::from_millis(n);
        let lat: Vec<Duration> = (1..=100).map(ms).collect();
        assert_eq!(percentile(&lat, 0.5), ms(51));
        assert_eq!(percentile(&lat, 0.99), ms(99));
        assert_eq!(percentile(&lat, 1.0), ms(100));
        assert_eq!(percentile(&[], 0.99), Duration::ZERO);
    }
}

//! Retry delays and heartbeat jitter: pure functions of a random sample in
//! `[0, 1)`, so tests can pin the sample; [`unit`] draws a real one.

use std::time::Duration;

/// How much earlier than the server's interval a heartbeat may go: ticks fall
/// in `[0.9, 1.0] × interval`, never later, so "at least every interval" holds
/// while agents started together drift apart.
pub(crate) const HEARTBEAT_JITTER: f64 = 0.1;

/// The delay before retry number `attempt` (0 for the first retry): an
/// exponential `base × 2^attempt`, capped at `cap`, of which the upper half is
/// scaled by `unit` ("equal jitter": never less than half the step, so retries
/// do not collapse to zero, and spread out so they do not arrive together).
pub(crate) fn retry_delay(attempt: u32, base: Duration, cap: Duration, unit: f64) -> Duration {
    let step = base
        .saturating_mul(2u32.saturating_pow(attempt.min(20)))
        .min(cap);
    let half = step / 2;
    half + half.mul_f64(unit.clamp(0.0, 1.0))
}

/// The wait until the next heartbeat: `interval` shortened by up to
/// [`HEARTBEAT_JITTER`] of itself.
pub(crate) fn heartbeat_delay(interval: Duration, unit: f64) -> Duration {
    interval.mul_f64(1.0 - HEARTBEAT_JITTER * unit.clamp(0.0, 1.0))
}

/// A random sample in `[0, 1)`. Falls back to the clock's nanoseconds when the
/// OS has no randomness to give: jitter needs spread, not secrecy.
pub(crate) fn unit() -> f64 {
    let bits = getrandom::u64().unwrap_or_else(|_| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::from(d.subsec_nanos()))
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
    });
    // The top 53 bits fill an f64's mantissa exactly.
    #[allow(clippy::cast_precision_loss)]
    let sample = (bits >> 11) as f64 / (1u64 << 53) as f64;
    sample
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn retry_delay_doubles_then_caps() {
        let base = 100 * MS;
        let cap = 1000 * MS;
        // unit = 1.0: the full step.
        let full: Vec<_> = (0..6).map(|a| retry_delay(a, base, cap, 1.0)).collect();
        assert_eq!(
            full,
            [100 * MS, 200 * MS, 400 * MS, 800 * MS, 1000 * MS, 1000 * MS]
        );
        // unit = 0.0: half the step, never zero.
        assert_eq!(retry_delay(0, base, cap, 0.0), 50 * MS);
        assert_eq!(retry_delay(9, base, cap, 0.0), 500 * MS);
        // In between, and out-of-range samples are clamped.
        assert_eq!(retry_delay(1, base, cap, 0.5), 150 * MS);
        assert_eq!(retry_delay(1, base, cap, 7.0), 200 * MS);
        assert_eq!(retry_delay(1, base, cap, -1.0), 100 * MS);
    }

    #[test]
    fn retry_delay_does_not_overflow() {
        let d = retry_delay(
            u32::MAX,
            Duration::from_secs(1),
            Duration::from_secs(30),
            1.0,
        );
        assert_eq!(d, Duration::from_secs(30));
        let d = retry_delay(40, Duration::MAX, Duration::MAX, 1.0);
        assert!(d > Duration::ZERO);
    }

    #[test]
    fn heartbeat_delay_stays_within_the_interval() {
        let interval = Duration::from_secs(10);
        assert_eq!(heartbeat_delay(interval, 0.0), interval);
        assert_eq!(heartbeat_delay(interval, 1.0), Duration::from_secs(9));
        assert_eq!(heartbeat_delay(interval, 0.5), Duration::from_millis(9500));
        for _ in 0..1000 {
            let d = heartbeat_delay(interval, unit());
            assert!(d <= interval && d >= Duration::from_secs(9), "{d:?}");
        }
    }

    #[test]
    fn unit_is_in_range_and_varies() {
        let samples: Vec<f64> = (0..64).map(|_| unit()).collect();
        assert!(samples.iter().all(|s| (0.0..1.0).contains(s)));
        assert!(samples.windows(2).any(|w| w[0] != w[1]));
    }
}

//! A token bucket per API key: `rate` per second sustained, `burst` at once.
//! Bounded: one bucket per configured key (plus `anonymous`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Per-key rate limits.
#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    /// `rate` tokens per second, at most `burst` saved up.
    pub fn new(rate: f64, burst: f64) -> Self {
        Self {
            rate,
            burst,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes `n` tokens for `key`, or says how long until they are there.
    pub fn check(&self, key: &str, n: f64) -> Result<(), Duration> {
        self.check_at(key, n, Instant::now())
    }

    fn check_at(&self, key: &str, n: f64, now: Instant) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().expect("rate limiter poisoned");
        let bucket = buckets.entry(key.to_owned()).or_insert(Bucket {
            tokens: self.burst,
            last: now,
        });
        let elapsed = now.saturating_duration_since(bucket.last).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.rate).min(self.burst);
        bucket.last = now;
        if bucket.tokens >= n {
            bucket.tokens -= n;
            Ok(())
        } else {
            let missing = n - bucket.tokens;
            Err(Duration::from_secs_f64((missing / self.rate).max(0.001)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_rate() {
        let l = RateLimiter::new(10.0, 3.0);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(l.check_at("k", 1.0, t0).is_ok());
        }
        let wait = l.check_at("k", 1.0, t0).unwrap_err();
        assert!(
            wait <= Duration::from_millis(101) && wait >= Duration::from_millis(99),
            "{wait:?}"
        );
        assert!(l
            .check_at("k", 1.0, t0 + Duration::from_millis(100))
            .is_ok());
        // Keys are independent.
        assert!(l.check_at("other", 1.0, t0).is_ok());
    }
}

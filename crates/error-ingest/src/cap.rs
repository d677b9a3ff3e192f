//! The per-fingerprint cap: at most `cap` events of one fingerprint are
//! forwarded per window; the rest are only counted.
//!
//! Kept in memory so that counting (Redis) and publishing (JetStream) can run
//! at the same time instead of one after the other. The cap therefore holds
//! per error-ingest instance (with N replicas, at most N × cap per window).
//! Bounded: at most `max_entries` fingerprints are tracked; when full, expired
//! windows are dropped first, and if none has expired the oldest half goes.
//!
//! Only forwarded events use the cap: an admitted event whose publish failed
//! is given back ([`FingerprintCap::refund`]). Otherwise a producer retrying
//! through a JetStream outage (503 after 503) used up its fingerprint's cap,
//! and its event was then answered 202 `forwarded: false` without ever being
//! stored: acknowledged and lost (found by the cluster test, `tests/cluster.rs`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug)]
struct Window {
    started: Instant,
    seen: u64,
}

/// Per-fingerprint forwarding windows.
#[derive(Debug)]
pub struct FingerprintCap {
    cap: u64,
    window: Duration,
    max_entries: usize,
    windows: Mutex<HashMap<String, Window>>,
}

impl FingerprintCap {
    /// At most `cap` per `window`, tracking at most `max_entries` fingerprints.
    pub fn new(cap: u64, window: Duration, max_entries: usize) -> Self {
        Self {
            cap,
            window,
            max_entries: max_entries.max(1),
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Whether this occurrence of `fingerprint` is forwarded.
    pub fn admit(&self, fingerprint: &str) -> bool {
        self.admit_at(fingerprint, Instant::now())
    }

    /// Gives back one admission of `fingerprint`: the event was admitted but
    /// not forwarded after all (its publish failed and the caller was told so).
    pub fn refund(&self, fingerprint: &str) {
        let mut windows = self.windows.lock().expect("cap poisoned");
        if let Some(w) = windows.get_mut(fingerprint) {
            w.seen = w.seen.saturating_sub(1);
        }
    }

    fn admit_at(&self, fingerprint: &str, now: Instant) -> bool {
        let mut windows = self.windows.lock().expect("cap poisoned");
        if let Some(w) = windows.get_mut(fingerprint) {
            if now.saturating_duration_since(w.started) >= self.window {
                w.started = now;
                w.seen = 0;
            }
            w.seen += 1;
            return w.seen <= self.cap;
        }
        if windows.len() >= self.max_entries {
            let window = self.window;
            windows.retain(|_, w| now.saturating_duration_since(w.started) < window);
            if windows.len() >= self.max_entries {
                let mut starts: Vec<Instant> = windows.values().map(|w| w.started).collect();
                starts.sort();
                let cutoff = starts[starts.len() / 2];
                windows.retain(|_, w| w.started > cutoff);
            }
        }
        windows.insert(
            fingerprint.to_owned(),
            Window {
                started: now,
                seen: 1,
            },
        );
        self.cap >= 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_per_window() {
        let c = FingerprintCap::new(2, Duration::from_secs(10), 100);
        let t = Instant::now();
        assert!(c.admit_at("a", t));
        assert!(c.admit_at("a", t));
        assert!(!c.admit_at("a", t));
        assert!(c.admit_at("b", t), "fingerprints are independent");
        assert!(c.admit_at("a", t + Duration::from_secs(10)), "a new window");
    }

    #[test]
    fn a_refunded_admission_does_not_count() {
        let c = FingerprintCap::new(2, Duration::from_secs(10), 100);
        let t = Instant::now();
        // A producer retrying through an outage: every attempt is admitted
        // and then refunded because its publish failed.
        for _ in 0..50 {
            assert!(c.admit_at("a", t));
            c.refund("a");
        }
        assert!(c.admit_at("a", t), "the first stored event is forwarded");
        assert!(c.admit_at("a", t));
        assert!(!c.admit_at("a", t), "two forwarded: the cap holds");
        c.refund("unknown");
    }

    #[test]
    fn bounded() {
        let c = FingerprintCap::new(1, Duration::from_secs(10), 4);
        let t = Instant::now();
        for i in 0..100 {
            assert!(c.admit_at(&format!("f{i}"), t + Duration::from_millis(i)));
        }
        assert!(c.windows.lock().unwrap().len() <= 4);
    }
}

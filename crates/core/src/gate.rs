//! The startup gate: a service reports SERVING only while each of its
//! declared dependencies has at least one live readiness signal.
//!
//! The gate is re-evaluated on every poll, so a dependency that goes away
//! turns its dependents NOT_SERVING within one readiness TTL, and they recover
//! when it returns. A failed read of Redis keeps the last observation for one
//! TTL (a dependency whose signal could not have expired yet is still
//! believed), then counts as not ready.

use std::collections::BTreeMap;
use std::time::{Instant, SystemTime};

use crate::names::ServiceName;
use crate::readiness::{clock, Readiness};

#[derive(Debug, Clone, Default)]
struct Observation {
    live_instances: usize,
    last_seen: Option<SystemTime>,
    last_ok_read: Option<Instant>,
    error: Option<String>,
}

/// One dependency the service is waiting for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    /// The dependency.
    pub dependency: ServiceName,
    /// Why it is not ready.
    pub reason: String,
    /// When it was last seen ready, if ever (since this process started).
    pub last_seen: Option<SystemTime>,
}

impl std::fmt::Display for Waiting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}; ", self.dependency, self.reason)?;
        match self.last_seen {
            Some(t) => write!(f, "last seen {}", clock(t)),
            None => f.write_str("never seen since start"),
        }
    }
}

/// The gate's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GateReport {
    /// Dependencies that are not ready (empty: the gate is open).
    pub waiting: Vec<Waiting>,
}

impl GateReport {
    /// Whether every dependency is ready.
    pub fn open(&self) -> bool {
        self.waiting.is_empty()
    }

    /// `"injection-filter: no readiness signal; last seen 14:02:11"`, joined.
    pub fn describe(&self) -> String {
        self.waiting
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Watches the readiness signals of a service's dependencies.
#[derive(Debug)]
pub struct Gate {
    readiness: Readiness,
    deps: Vec<ServiceName>,
    seen: BTreeMap<ServiceName, Observation>,
}

impl Gate {
    /// A gate over `deps`.
    pub fn new(readiness: Readiness, deps: Vec<ServiceName>) -> Self {
        Self {
            readiness,
            deps,
            seen: BTreeMap::new(),
        }
    }

    /// The dependencies.
    pub fn dependencies(&self) -> &[ServiceName] {
        &self.deps
    }

    /// Reads every dependency's signals once.
    pub async fn check(&mut self) -> GateReport {
        let ttl = self.readiness.ttl();
        let mut report = GateReport::default();
        for dep in self.deps.clone() {
            let result = self.readiness.live(dep).await;
            let obs = self.seen.entry(dep).or_default();
            match result {
                Ok(signals) => {
                    obs.live_instances = signals.len();
                    obs.last_ok_read = Some(Instant::now());
                    obs.error = None;
                    if !signals.is_empty() {
                        obs.last_seen = Some(SystemTime::now());
                    }
                }
                Err(err) => {
                    obs.error = Some(err.to_string());
                    let stale = obs.last_ok_read.is_none_or(|t| t.elapsed() >= ttl);
                    if stale {
                        obs.live_instances = 0;
                    }
                }
            }
            if obs.live_instances == 0 {
                report.waiting.push(Waiting {
                    dependency: dep,
                    reason: match &obs.error {
                        Some(err) => format!("cannot read readiness signals from Redis ({err})"),
                        None => "no readiness signal".into(),
                    },
                    last_seen: obs.last_seen,
                });
            }
        }
        report
    }
}

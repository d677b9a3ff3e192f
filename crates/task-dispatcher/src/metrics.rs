//! task-dispatcher's metrics; labels are bounded (no task or agent ids).

use std::time::Duration;

use faultline_core::metrics::Metrics;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct What {
    what: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Reason {
    reason: String,
}

/// task-dispatcher's metrics.
#[derive(Debug, Clone)]
pub struct DispatchMetrics {
    intake: Family<What, Counter>,
    finished: Family<What, Counter>,
    failed: Family<What, Counter>,
    dead: Family<Reason, Counter>,
    revoked: Family<Reason, Counter>,
    refused: Family<What, Counter>,
    agents: Family<What, Counter>,
    submitted: Family<What, Counter>,
    scans: Family<What, Counter>,
    claims: Counter,
    claim_latency: Histogram,
    replays: Counter,
    intake_failures: Counter,
    stalled: Gauge,
}

fn bounded(reason: &str) -> String {
    match reason {
        "permanent_failure"
        | "attempts_exhausted"
        | "dependency_failed"
        | "invalid_task"
        | "attempt_time_exceeded"
        | "lease_lost" => reason.to_owned(),
        _ => "other".to_owned(),
    }
}

impl DispatchMetrics {
    /// Registers every metric.
    pub fn register(metrics: &Metrics) -> Self {
        let this = Self {
            intake: Family::default(),
            finished: Family::default(),
            failed: Family::default(),
            dead: Family::default(),
            revoked: Family::default(),
            refused: Family::default(),
            agents: Family::default(),
            submitted: Family::default(),
            scans: Family::default(),
            claims: Counter::default(),
            claim_latency: Histogram::new([
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0,
            ]),
            replays: Counter::default(),
            intake_failures: Counter::default(),
            stalled: Gauge::default(),
        };
        metrics.register(
            "dispatch_intake",
            "Task messages taken, by what they became",
            this.intake.clone(),
        );
        metrics.register(
            "dispatch_finished",
            "Tasks ended by completion or cancellation",
            this.finished.clone(),
        );
        metrics.register(
            "dispatch_attempt_failures",
            "Attempts that failed, by kind (retryable, permanent)",
            this.failed.clone(),
        );
        metrics.register(
            "dispatch_dead_letters",
            "Tasks dead-lettered, by reason",
            this.dead.clone(),
        );
        metrics.register(
            "dispatch_leases_revoked",
            "Leases taken from agents, by reason",
            this.revoked.clone(),
        );
        metrics.register(
            "dispatch_refused",
            "Texts refused by the injection filter (task, message)",
            this.refused.clone(),
        );
        metrics.register(
            "dispatch_agent_events",
            "Agent registrations, deregistrations, hand-backs",
            this.agents.clone(),
        );
        metrics.register(
            "dispatch_submitted",
            "Tasks submitted through the API",
            this.submitted.clone(),
        );
        metrics.register(
            "dispatch_task_scans",
            "New tasks scanned by the injection filter here (scanned), or taken on the filter's verified seal (sealed)",
            this.scans.clone(),
        );
        metrics.register(
            "dispatch_claims",
            "Tasks handed to agents",
            this.claims.clone(),
        );
        metrics.register(
            "dispatch_claim_seconds",
            "Time from a claim call to its task (successful claims)",
            this.claim_latency.clone(),
        );
        metrics.register(
            "dispatch_replays",
            "Dead letters replayed",
            this.replays.clone(),
        );
        metrics.register(
            "dispatch_intake_failures",
            "Task messages that could not be taken now (redelivered)",
            this.intake_failures.clone(),
        );
        metrics.register(
            "dispatch_jobs_stalled",
            "Jobs stalled now",
            this.stalled.clone(),
        );
        this
    }

    pub(crate) fn intake(&self, what: &'static str) {
        self.intake.get_or_create(&What { what }).inc();
    }
    pub(crate) fn task_scan(&self, what: &'static str) {
        self.scans.get_or_create(&What { what }).inc();
    }
    pub(crate) fn intake_failed(&self) {
        self.intake_failures.inc();
    }
    pub(crate) fn finished(&self, what: &'static str) {
        self.finished.get_or_create(&What { what }).inc();
    }
    pub(crate) fn failed(&self, what: &'static str) {
        self.failed.get_or_create(&What { what }).inc();
    }
    pub(crate) fn dead(&self, reason: &str) {
        self.dead
            .get_or_create(&Reason {
                reason: bounded(reason),
            })
            .inc();
    }
    pub(crate) fn revoked(&self, reason: &str) {
        self.revoked
            .get_or_create(&Reason {
                reason: bounded(reason),
            })
            .inc();
    }
    pub(crate) fn refused(&self, what: &'static str) {
        self.refused.get_or_create(&What { what }).inc();
    }
    pub(crate) fn agent_event(&self, what: &'static str) {
        self.agents.get_or_create(&What { what }).inc();
    }
    pub(crate) fn submitted(&self, what: &'static str) {
        self.submitted.get_or_create(&What { what }).inc();
    }
    pub(crate) fn claimed(&self, latency: Duration) {
        self.claims.inc();
        self.claim_latency.observe(latency.as_secs_f64());
    }
    pub(crate) fn replayed(&self) {
        self.replays.inc();
    }
    pub(crate) fn jobs_stalled(&self, n: i64) {
        self.stalled.set(n);
    }
}

//! result-publisher's metrics; labels are bounded (no task or agent ids).

use faultline_core::metrics::Metrics;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Kind {
    kind: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: String,
    flagged: String,
}

/// result-publisher's metrics.
#[derive(Debug, Clone)]
pub struct ResultMetrics {
    results: Family<Outcome, Counter>,
    statuses: Family<Outcome, Counter>,
    refused: Family<Kind, Counter>,
    deliveries: Family<Kind, Counter>,
}

fn bounded(value: &str, known: &[&str]) -> String {
    if known.contains(&value) {
        value.to_owned()
    } else {
        "other".to_owned()
    }
}

impl ResultMetrics {
    /// Registers every metric.
    pub fn register(metrics: &Metrics) -> Self {
        let this = Self {
            results: Family::default(),
            statuses: Family::default(),
            refused: Family::default(),
            deliveries: Family::default(),
        };
        metrics.register(
            "results_published",
            "Results published, by outcome and whether the filter flagged them",
            this.results.clone(),
        );
        metrics.register(
            "status_updates_published",
            "Status updates published, by status and whether the filter flagged them",
            this.statuses.clone(),
        );
        metrics.register(
            "results_refused",
            "Status updates and results refused by the dispatcher, by gRPC code",
            this.refused.clone(),
        );
        metrics.register(
            "webhook_deliveries",
            "Webhook delivery attempts, by outcome (delivered, failed, gave_up)",
            this.deliveries.clone(),
        );
        this
    }

    pub(crate) fn result(&self, outcome: &str, flagged: bool) {
        self.results
            .get_or_create(&Outcome {
                outcome: bounded(outcome, &crate::model::OUTCOMES),
                flagged: flagged.to_string(),
            })
            .inc();
    }

    pub(crate) fn status(&self, status: &str, flagged: bool) {
        self.statuses
            .get_or_create(&Outcome {
                outcome: bounded(status, &crate::model::STATUSES),
                flagged: flagged.to_string(),
            })
            .inc();
    }

    pub(crate) fn refused(&self, s: &tonic::Status) {
        self.refused
            .get_or_create(&Kind {
                kind: format!("{:?}", s.code()),
            })
            .inc();
    }

    pub(crate) fn refused_stale(&self) {
        self.refused
            .get_or_create(&Kind {
                kind: "FailedPrecondition".into(),
            })
            .inc();
    }

    pub(crate) fn delivery(&self, outcome: &str) {
        self.deliveries
            .get_or_create(&Kind {
                kind: bounded(outcome, &["delivered", "failed", "gave_up"]),
            })
            .inc();
    }
}

//! Outcome counters and latency, labelled only with bounded values.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;

use faultline_core::metrics::Metrics;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct OutcomeLabels {
    pub(crate) interface: &'static str,
    pub(crate) outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct InterfaceLabels {
    pub(crate) interface: &'static str,
}

/// error-ingest's metrics.
#[derive(Debug, Clone)]
pub(crate) struct IngestMetrics {
    events: Family<OutcomeLabels, Counter>,
    latency: Family<InterfaceLabels, Histogram>,
    count_failures: Counter,
}

impl IngestMetrics {
    pub(crate) fn register(metrics: &Metrics) -> Self {
        let events = Family::<OutcomeLabels, Counter>::default();
        let latency = Family::<InterfaceLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([
                0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ])
        });
        let count_failures = Counter::default();
        metrics.register(
            "ingest_events",
            "Events by interface and outcome (accepted, duplicate, capped, invalid, too_large, unauthorized, rate_limited, unavailable)",
            events.clone(),
        );
        metrics.register(
            "ingest_latency_seconds",
            "Time from request to reply, per event",
            latency.clone(),
        );
        metrics.register(
            "ingest_count_failures",
            "Accepted events that could not be counted in Redis",
            count_failures.clone(),
        );
        Self {
            events,
            latency,
            count_failures,
        }
    }

    pub(crate) fn outcome(&self, interface: &'static str, outcome: &'static str) {
        self.events
            .get_or_create(&OutcomeLabels { interface, outcome })
            .inc();
    }

    pub(crate) fn latency(&self, interface: &'static str, seconds: f64) {
        self.latency
            .get_or_create(&InterfaceLabels { interface })
            .observe(seconds);
    }

    pub(crate) fn count_failed(&self) {
        self.count_failures.inc();
    }
}

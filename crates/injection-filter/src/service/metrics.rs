//! injection-filter's metrics; labels are bounded (no fingerprints, no rule ids).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;

use faultline_core::metrics::Metrics;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ScanLabels {
    interface: &'static str,
    decision: &'static str,
}

/// injection-filter's metrics.
#[derive(Debug, Clone)]
pub(crate) struct FilterMetrics {
    events: Family<OutcomeLabels, Counter>,
    scans: Family<ScanLabels, Counter>,
    scan_latency: Histogram,
    releases: Counter,
    failures: Counter,
}

impl FilterMetrics {
    pub(crate) fn register(metrics: &Metrics) -> Self {
        let this = Self {
            events: Family::default(),
            scans: Family::default(),
            scan_latency: Histogram::new([
                0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25,
            ]),
            releases: Counter::default(),
            failures: Counter::default(),
        };
        metrics.register(
            "filter_events",
            "Error-stream messages handled, by outcome (pass, flag, reject, invalid)",
            this.events.clone(),
        );
        metrics.register(
            "filter_api_scans",
            "Scans asked for through the API, by interface and decision",
            this.scans.clone(),
        );
        metrics.register(
            "filter_scan_seconds",
            "Time to scan one event",
            this.scan_latency.clone(),
        );
        metrics.register(
            "filter_releases",
            "Rejected events released by a person",
            this.releases.clone(),
        );
        metrics.register(
            "filter_failures",
            "Messages left for redelivery because a publish or ack failed",
            this.failures.clone(),
        );
        this
    }

    pub(crate) fn outcome(&self, outcome: &'static str) {
        self.events.get_or_create(&OutcomeLabels { outcome }).inc();
    }

    pub(crate) fn api_scan(&self, interface: &'static str, decision: &'static str) {
        self.scans
            .get_or_create(&ScanLabels {
                interface,
                decision,
            })
            .inc();
    }

    pub(crate) fn scan_latency(&self, seconds: f64) {
        self.scan_latency.observe(seconds);
    }

    pub(crate) fn released(&self) {
        self.releases.inc();
    }

    pub(crate) fn failed(&self) {
        self.failures.inc();
    }
}

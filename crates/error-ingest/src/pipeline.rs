//! One event's way in: parse → fingerprint → count → publish → reply.
//!
//! The order matters. The counters are advanced first (one Redis round
//! trip) because the per-fingerprint cap decides whether the event is
//! forwarded at all. Then the event is published and the reply waits for
//! the JetStream ack; if JetStream does not take it, the count is taken back
//! and the caller gets 503 with `Retry-After`. If Redis is unreachable the
//! event is still stored (availability over counting) and the reply says
//! `count: null`.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_nats::jetstream::{self, context::PublishErrorKind, message::PublishMessage};
use faultline_core::names::Names;
use faultline_core::readiness::unix_ms;
use faultline_event::{fingerprint, parse, ErrorEvent, Limits};
use serde::Serialize;
use tokio::sync::Semaphore;

use crate::counter::{Counter, Occurrence};
use crate::error::IngestError;
use crate::headers;
use crate::metrics::IngestMetrics;

/// What the caller is told about an accepted event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Accepted {
    /// The event's id.
    pub event_id: String,
    /// Its fingerprint.
    pub fingerprint: String,
    /// JetStream already held this fingerprint and release in its dedup
    /// window (or the cap held it back): no new message in the stream.
    pub duplicate: bool,
    /// Occurrences of the fingerprint so far, duplicates included (`null`
    /// when Redis could not be reached).
    pub count: Option<u64>,
    /// Whether the event was published (false: over the fingerprint cap, only counted).
    pub forwarded: bool,
}

/// Settings of the pipeline.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// Event limits.
    pub limits: Limits,
    /// Environments with a stream.
    pub environments: BTreeSet<String>,
    /// Environment of events that name none.
    pub default_environment: Option<String>,
    /// Events forwarded per fingerprint per window.
    pub fingerprint_cap: u64,
    /// Events being published at once.
    pub max_in_flight: usize,
    /// How long to wait for the JetStream ack.
    pub publish_timeout: Duration,
    /// `Retry-After` for 503.
    pub retry_after: Duration,
}

/// Takes events in.
#[derive(Debug, Clone)]
pub struct Ingestor {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    js: jetstream::Context,
    names: Names,
    counter: Counter,
    cfg: PipelineConfig,
    in_flight: Arc<Semaphore>,
    metrics: IngestMetrics,
}

/// A random id in UUID v4 layout, as 32 hex digits (Sentry's form).
pub fn new_event_id() -> String {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).expect("the OS random source works");
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let mut out = String::with_capacity(32);
    for byte in b {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

impl Ingestor {
    pub(crate) fn new(
        js: jetstream::Context,
        names: Names,
        counter: Counter,
        cfg: PipelineConfig,
        metrics: IngestMetrics,
    ) -> Self {
        let in_flight = Arc::new(Semaphore::new(cfg.max_in_flight));
        Self {
            inner: Arc::new(Inner {
                js,
                names,
                counter,
                cfg,
                in_flight,
                metrics,
            }),
        }
    }

    /// The counters.
    pub fn counter(&self) -> &Counter {
        &self.inner.counter
    }

    /// Event limits.
    pub fn limits(&self) -> &Limits {
        &self.inner.cfg.limits
    }

    /// Takes one event (JSON bytes, already decompressed) from `interface`
    /// (`http` or `grpc`, for metrics).
    pub async fn ingest(
        &self,
        body: &[u8],
        interface: &'static str,
    ) -> Result<Accepted, IngestError> {
        let started = std::time::Instant::now();
        let result = self.ingest_inner(body).await;
        let m = &self.inner.metrics;
        match &result {
            Ok(a) if !a.forwarded => m.outcome(interface, "capped"),
            Ok(a) if a.duplicate => m.outcome(interface, "duplicate"),
            Ok(_) => m.outcome(interface, "accepted"),
            Err(e) => m.outcome(interface, e.outcome()),
        }
        m.latency(interface, started.elapsed().as_secs_f64());
        result
    }

    /// Records a refusal that happened before the pipeline (auth, limits).
    pub(crate) fn refused(&self, interface: &'static str, err: &IngestError) {
        self.inner.metrics.outcome(interface, err.outcome());
    }

    async fn ingest_inner(&self, body: &[u8]) -> Result<Accepted, IngestError> {
        let inner = &*self.inner;
        let mut event = parse(body, &inner.cfg.limits)?;
        let environment = event
            .environment
            .clone()
            .or_else(|| inner.cfg.default_environment.clone());
        let subject = match &environment {
            Some(env) if inner.cfg.environments.contains(env) => inner
                .names
                .env_errors_subject(env)
                .expect("configured environments are valid tokens"),
            Some(env) => {
                return Err(IngestError::UnknownEnvironment {
                    environment: env.clone(),
                    known: inner
                        .cfg
                        .environments
                        .iter()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", "),
                })
            }
            None => inner.names.errors_subject(),
        };
        let fp = fingerprint(&event);
        let event_id = event.event_id.clone().unwrap_or_else(new_event_id);
        event.event_id = Some(event_id.clone());
        if event.environment.is_none() {
            event.environment.clone_from(&environment);
        }

        // Bounded: refuse rather than queue without limit.
        let _permit =
            inner
                .in_flight
                .clone()
                .try_acquire_owned()
                .map_err(|_| IngestError::Unavailable {
                    reason: format!("{} events already in flight", inner.cfg.max_in_flight),
                    retry_after: inner.cfg.retry_after,
                })?;

        let now = SystemTime::now();
        let counted = match inner
            .counter
            .record(Occurrence {
                fingerprint: &fp,
                event_id: &event_id,
                environment: environment.as_deref(),
                release: event.release.as_deref(),
                at_unix_ms: unix_ms(now),
            })
            .await
        {
            Ok(c) => Some(c),
            Err(err) => {
                inner.metrics.count_failed();
                tracing::warn!(fingerprint = %fp, error = %err, "cannot count in Redis; storing the event anyway");
                None
            }
        };
        if let Some(c) = counted {
            if c.window > inner.cfg.fingerprint_cap {
                return Ok(Accepted {
                    event_id,
                    fingerprint: fp,
                    duplicate: true,
                    count: Some(c.count),
                    forwarded: false,
                });
            }
        }

        match self
            .publish(
                &subject,
                &event,
                &fp,
                &event_id,
                environment.as_deref(),
                now,
            )
            .await
        {
            Ok(ack) => {
                tracing::debug!(%event_id, fingerprint = %fp, %subject, seq = ack.sequence, duplicate = ack.duplicate, "event stored");
                Ok(Accepted {
                    event_id,
                    fingerprint: fp,
                    duplicate: ack.duplicate,
                    count: counted.map(|c| c.count),
                    forwarded: true,
                })
            }
            Err(reason) => {
                if counted.is_some() {
                    if let Err(err) = inner.counter.undo(&fp).await {
                        tracing::warn!(fingerprint = %fp, error = %err, "cannot take back the count of an event JetStream refused");
                    }
                }
                tracing::warn!(%event_id, fingerprint = %fp, %subject, %reason, "JetStream did not take the event");
                Err(IngestError::Unavailable {
                    reason,
                    retry_after: inner.cfg.retry_after,
                })
            }
        }
    }

    async fn publish(
        &self,
        subject: &str,
        event: &ErrorEvent,
        fp: &str,
        event_id: &str,
        environment: Option<&str>,
        now: SystemTime,
    ) -> Result<jetstream::publish::PublishAck, String> {
        let inner = &*self.inner;
        let payload = serde_json::to_vec(event).map_err(|e| e.to_string())?;
        let msg_id = inner
            .names
            .error_msg_id(environment, fp, event.release.as_deref());
        let message = PublishMessage::build()
            .payload(payload.into())
            .message_id(msg_id)
            .header(headers::FINGERPRINT, fp)
            .header(headers::EVENT_ID, event_id)
            .header(
                headers::RECEIVED_AT,
                humantime::format_rfc3339_millis(now).to_string().as_str(),
            );
        let publish = async {
            let ack_future = inner
                .js
                .send_publish(subject.to_owned(), message)
                .await
                .map_err(|e| describe(subject, e.kind(), &e.to_string()))?;
            ack_future
                .await
                .map_err(|e| describe(subject, e.kind(), &e.to_string()))
        };
        tokio::time::timeout(inner.cfg.publish_timeout, publish)
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "no JetStream ack within {:?}",
                    inner.cfg.publish_timeout
                ))
            })
    }
}

fn describe(subject: &str, kind: PublishErrorKind, text: &str) -> String {
    match kind {
        PublishErrorKind::StreamNotFound => {
            format!("no stream captures {subject}: run `faultline init`")
        }
        _ => text.to_owned(),
    }
}

//! One event's way in: parse → fingerprint → cap → (count ‖ publish) → reply.
//!
//! The per-fingerprint cap is decided in memory ([`FingerprintCap`]), so the
//! Redis count and the JetStream publish run at the same time: an event costs
//! one round trip of latency, not two. The reply waits for the JetStream ack;
//! if JetStream does not take the event, its count is taken back and the
//! caller gets 503 with `Retry-After`. If Redis is unreachable the event is
//! still stored (availability over counting) and the reply says `count: null`.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_nats::jetstream::{self, context::PublishErrorKind, message::PublishMessage};
use faultline_core::names::Names;
use faultline_core::readiness::unix_ms;
use faultline_event::{fingerprint, parse, Limits};
use serde::Serialize;
use tokio::sync::Semaphore;

use crate::cap::FingerprintCap;
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
    /// The cap's window.
    pub fingerprint_window: Duration,
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
    cap: FingerprintCap,
    in_flight: Arc<Semaphore>,
    metrics: IngestMetrics,
}

/// Fingerprints tracked by the cap (each costs about 100 bytes).
const CAP_ENTRIES: usize = 100_000;

/// Random bytes drawn from the OS a page at a time: one `getrandom` call
/// per 256 event ids instead of one per event.
const RANDOM_POOL: usize = 4096;

thread_local! {
    static RANDOM: std::cell::RefCell<([u8; RANDOM_POOL], usize)> =
        const { std::cell::RefCell::new(([0; RANDOM_POOL], RANDOM_POOL)) };
}

/// 16 bytes from the OS random source, through this thread's pool. Each
/// byte is handed out once.
fn random_16() -> [u8; 16] {
    RANDOM.with(|pool| {
        let mut pool = pool.borrow_mut();
        let (bytes, used) = &mut *pool;
        if *used + 16 > RANDOM_POOL {
            getrandom::fill(bytes).expect("the OS random source works");
            *used = 0;
        }
        let mut out = [0u8; 16];
        out.copy_from_slice(&bytes[*used..*used + 16]);
        *used += 16;
        out
    })
}

/// A random id in UUID v4 layout, as 32 hex digits (Sentry's form).
pub fn new_event_id() -> String {
    let mut b = random_16();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(32);
    for byte in b {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0x0f)]));
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
        let cap = FingerprintCap::new(cfg.fingerprint_cap, cfg.fingerprint_window, CAP_ENTRIES);
        Self {
            inner: Arc::new(Inner {
                js,
                names,
                counter,
                cfg,
                cap,
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
        let event = parse(body, &inner.cfg.limits)?;
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
        // The stored message is the producer's own JSON, with the event id
        // (and the default environment) added when it had none.
        let mut additions = Vec::new();
        let event_id = match &event.event_id {
            Some(id) => id.clone(),
            None => {
                let id = new_event_id();
                additions.push(("event_id", id.clone()));
                id
            }
        };
        if event.environment.is_none() {
            if let Some(env) = &environment {
                additions.push(("environment", env.clone()));
            }
        }
        let payload = with_fields(body, &additions);

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
        let occurrence = Occurrence {
            fingerprint: &fp,
            event_id: &event_id,
            environment: environment.as_deref(),
            release: event.release.as_deref(),
            at_unix_ms: unix_ms(now),
        };
        let count = async {
            match inner.counter.record(occurrence).await {
                Ok(c) => Some(c),
                Err(err) => {
                    inner.metrics.count_failed();
                    tracing::warn!(fingerprint = %fp, error = %err, "cannot count in Redis; storing the event anyway");
                    None
                }
            }
        };
        if !inner.cap.admit(&fp) {
            let count = count.await;
            return Ok(Accepted {
                event_id: event_id.clone(),
                fingerprint: fp.clone(),
                duplicate: true,
                count,
                forwarded: false,
            });
        }
        let msg_id =
            inner
                .names
                .error_msg_id(environment.as_deref(), &fp, event.release.as_deref());
        let publish = self.publish(&subject, payload, msg_id, &fp, &event_id);
        let (counted, published) = tokio::join!(count, publish);
        match published {
            Ok(ack) => {
                tracing::debug!(%event_id, fingerprint = %fp, %subject, seq = ack.sequence, duplicate = ack.duplicate, "event stored");
                Ok(Accepted {
                    event_id: event_id.clone(),
                    fingerprint: fp.clone(),
                    duplicate: ack.duplicate,
                    count: counted,
                    forwarded: true,
                })
            }
            Err(reason) => {
                // Not forwarded after all: the caller retries, and that
                // retry must not find the cap used up by this attempt.
                inner.cap.refund(&fp);
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
        payload: Vec<u8>,
        msg_id: String,
        fp: &str,
        event_id: &str,
    ) -> Result<jetstream::publish::PublishAck, String> {
        let inner = &*self.inner;
        let message = PublishMessage::build()
            .payload(payload.into())
            .message_id(msg_id)
            .header(headers::FINGERPRINT, fp)
            .header(headers::EVENT_ID, event_id);
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

/// `body` (a validated JSON object) with `fields` added after its opening
/// brace. Only called for fields the object does not have, so no key repeats.
fn with_fields(body: &[u8], fields: &[(&str, String)]) -> Vec<u8> {
    if fields.is_empty() {
        return body.to_vec();
    }
    let open = body
        .iter()
        .position(|b| *b == b'{')
        .expect("a validated event is a JSON object");
    let mut out = Vec::with_capacity(body.len() + 64 * fields.len());
    out.extend_from_slice(&body[..=open]);
    for (key, value) in fields {
        out.extend_from_slice(
            format!(
                "{}:{},",
                serde_json::Value::from(*key),
                serde_json::Value::from(value.as_str())
            )
            .as_bytes(),
        );
    }
    // An empty object would leave a trailing comma; a validated event is never empty.
    out.extend_from_slice(&body[open + 1..]);
    out
}

fn describe(subject: &str, kind: PublishErrorKind, text: &str) -> String {
    match kind {
        PublishErrorKind::StreamNotFound => {
            format!("no stream captures {subject}: run `faultline init`")
        }
        _ => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::{new_event_id, with_fields};

    #[test]
    fn event_ids_are_uuid4_hex_and_do_not_repeat() {
        let ids: Vec<String> = (0..1000).map(|_| new_event_id()).collect();
        let distinct: std::collections::BTreeSet<&String> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
        for id in &ids {
            assert_eq!(id.len(), 32);
            assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
            assert_eq!(&id[12..13], "4", "version nibble of {id}");
            assert!("89ab".contains(&id[16..17]), "variant nibble of {id}");
        }
    }

    #[test]
    fn fields_are_added_to_the_producers_json() {
        let body = br#"  {"error": "x", "context": {"a": 1}}"#;
        let out = with_fields(
            body,
            &[("event_id", "abc".into()), ("environment", "prod".into())],
        );
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["event_id"], "abc");
        assert_eq!(v["environment"], "prod");
        assert_eq!(v["context"]["a"], 1);
        assert_eq!(with_fields(body, &[]), body.to_vec());
    }
}

//! What the service does with one error message: scan it, then publish a
//! task (pass, flag) or a security record (reject, not an event), each with a
//! message id derived from the source message, so a redelivery after a crash
//! publishes nothing twice.

use std::time::{Duration, Instant, SystemTime};

use crate::seal::{self, SealKey};
use crate::{
    explanation_json, filter_mark, scan_event_json, snippet_json, Decision, Thresholds, Verdict,
};
use async_nats::jetstream::{self, message::PublishMessage};
use async_nats::HeaderMap;
use faultline_core::nats::is_publish_conflict;
use faultline_core::Names;
use faultline_event::task::{self, Origin, Task};
use faultline_event::{headers, ErrorEvent, Limits};
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::metrics::FilterMetrics;

/// `reason` of a rejected event (the seed's value).
pub(crate) const REASON_REJECTED: &str = "prompt_injection_detected";
/// `reason` of a flagged event.
pub(crate) const REASON_FLAGGED: &str = "prompt_injection_suspected";
/// `reason` of a message that is not an event.
pub(crate) const REASON_INVALID: &str = "invalid_event";

/// Events larger than this are scanned on the blocking pool, not on the
/// async workers.
const INLINE_SCAN_BYTES: usize = 32 * 1024;

/// Why a message could not be handled now (it is redelivered later).
#[derive(Debug, thiserror::Error)]
pub(crate) enum PublishFailure {
    /// `Nats-Expected-Last-Subject-Sequence` did not hold: someone else wrote first.
    #[error("another record was written first")]
    Conflict,
    /// JetStream did not store it.
    #[error("{0}")]
    Unavailable(String),
}

/// What became of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// It was an event, and this is what the scan decided.
    Scanned(Decision),
    /// It was not an event.
    Invalid,
}

impl Outcome {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Outcome::Scanned(d) => d.as_str(),
            Outcome::Invalid => "invalid",
        }
    }
}

/// The part of the service every interface shares.
#[derive(Debug, Clone)]
pub(crate) struct Filter {
    pub(crate) js: jetstream::Context,
    pub(crate) names: Names,
    pub(crate) thresholds: Thresholds,
    pub(crate) limits: Limits,
    pub(crate) publish_timeout: Duration,
    pub(crate) metrics: FilterMetrics,
    /// Seals the tasks it publishes (see [`crate::seal`]).
    pub(crate) seal: Option<SealKey>,
}

/// A message taken from an error stream.
#[derive(Debug)]
pub(crate) struct Source<'a> {
    pub(crate) stream: &'a str,
    pub(crate) seq: u64,
    pub(crate) subject: &'a str,
    pub(crate) published: SystemTime,
    pub(crate) headers: Option<&'a HeaderMap>,
    pub(crate) payload: &'a [u8],
}

impl Filter {
    /// Scans an event's JSON as its task will carry it (the order of its texts
    /// is the order an agent reads them), on the blocking pool when it is large.
    pub(crate) async fn scan(&self, event_json: Value, size: usize) -> (Value, Verdict) {
        let thresholds = self.thresholds;
        let started = Instant::now();
        let out = if size <= INLINE_SCAN_BYTES {
            let verdict = scan_event_json(&event_json, &thresholds);
            (event_json, verdict)
        } else {
            let joined = tokio::task::spawn_blocking(move || {
                let verdict = scan_event_json(&event_json, &thresholds);
                (event_json, verdict)
            })
            .await;
            match joined {
                Ok(out) => out,
                Err(err) => std::panic::resume_unwind(err.into_panic()),
            }
        };
        self.metrics.scan_latency(started.elapsed().as_secs_f64());
        out
    }

    /// Handles one message from an error stream. `Ok` means it may be acked.
    pub(crate) async fn handle(&self, src: &Source<'_>) -> Result<Outcome, PublishFailure> {
        let origin = self.origin(src);
        let event = match faultline_event::parse(src.payload, &self.limits) {
            Ok(event) => event,
            Err(err) => {
                let record = json!({
                    "reason": REASON_INVALID,
                    "error": { "code": err.code(), "message": err.to_string() },
                    "snippet": crate::event::snippet_of(&String::from_utf8_lossy(src.payload), 0),
                    "timestamp": now_rfc3339(),
                    "source": origin,
                    "payload": String::from_utf8_lossy(src.payload),
                });
                let id = format!("{}-invalid-{}", self.names.namespace(), source_key(src));
                self.publish(self.names.security_invalid(), &record, id, HeaderMap::new())
                    .await?;
                tracing::warn!(stream = src.stream, seq = src.seq, code = err.code(), error = %err, "not an error event: quarantined on {}", self.names.security_invalid());
                return Ok(Outcome::Invalid);
            }
        };
        let fingerprint = header(src.headers, headers::FINGERPRINT)
            .filter(|fp| valid_fingerprint(fp))
            .unwrap_or_else(|| faultline_event::fingerprint(&event));
        // The producer's own JSON goes into the task; it is what is scanned.
        let event_json: Value =
            serde_json::from_slice(src.payload).unwrap_or_else(|_| json!(event.clone()));
        let (event_json, verdict) = self.scan(event_json, src.payload.len()).await;
        match verdict.decision {
            Decision::Reject => {
                let record = security_record(
                    REASON_REJECTED,
                    &event,
                    &event_json,
                    &verdict,
                    &fingerprint,
                    &origin,
                    None,
                );
                let id = format!("{}-rejected-{}", self.names.namespace(), source_key(src));
                self.publish(
                    self.names.security_rejected(),
                    &record,
                    id,
                    fp_headers(&fingerprint, origin.event_id.as_deref()),
                )
                .await?;
                tracing::warn!(
                    stream = src.stream,
                    seq = src.seq,
                    fingerprint,
                    score = verdict.score,
                    rules = ?verdict.explanation.rules.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
                    "prompt injection rejected: held for review on {}",
                    self.names.security_rejected()
                );
                Ok(Outcome::Scanned(Decision::Reject))
            }
            Decision::Pass | Decision::Flag => {
                let flagged = verdict.decision == Decision::Flag;
                let task_id = task_id("inv", src);
                let mark = filter_mark(if flagged { "flag" } else { "pass" }, &verdict, None);
                let task = task::investigation(
                    task_id.clone(),
                    &event,
                    event_json.clone(),
                    fingerprint.clone(),
                    origin.clone(),
                    mark,
                    now_rfc3339(),
                );
                if flagged {
                    let record = security_record(
                        REASON_FLAGGED,
                        &event,
                        &event_json,
                        &verdict,
                        &fingerprint,
                        &origin,
                        Some(&task_id),
                    );
                    let id = format!("{}-flagged-{}", self.names.namespace(), source_key(src));
                    self.publish(
                        self.names.security_flagged(),
                        &record,
                        id,
                        fp_headers(&fingerprint, origin.event_id.as_deref()),
                    )
                    .await?;
                }
                self.publish_task(&task).await?;
                Ok(Outcome::Scanned(verdict.decision))
            }
        }
    }

    /// Publishes a task on `{ns}.tasks.<type>`, deduplicated by its id.
    pub(crate) async fn publish_task(&self, task: &Task) -> Result<(), PublishFailure> {
        let subject = self
            .names
            .task_subject(&task.kind)
            .map_err(|e| PublishFailure::Unavailable(e.to_string()))?;
        let mut hdrs = HeaderMap::new();
        hdrs.insert(headers::TASK_ID, task.id.as_str());
        if let Some(fp) = &task.fingerprint {
            hdrs.insert(headers::FINGERPRINT, fp.as_str());
        }
        if let Some(mark) = &task.context.filter {
            hdrs.insert(headers::FILTER_DECISION, mark.decision.as_str());
        }
        let payload = encode(task)?;
        if let Some(key) = &self.seal {
            hdrs.insert(
                seal::HEADER,
                key.seal(self.names.namespace().as_str(), &self.thresholds, &payload)
                    .as_str(),
            );
        }
        let id = format!("{}-task-{}", self.names.namespace(), task.id);
        self.publish_bytes(subject, payload, id, hdrs, false)
            .await
            .map(|_| ())
    }

    /// Publishes `body` as JSON and waits for the JetStream ack.
    pub(crate) async fn publish(
        &self,
        subject: String,
        body: &impl Serialize,
        msg_id: String,
        hdrs: HeaderMap,
    ) -> Result<jetstream::publish::PublishAck, PublishFailure> {
        self.publish_with(subject, body, msg_id, hdrs, false).await
    }

    /// Like [`Filter::publish`]; with `first_on_subject`, only if the subject
    /// holds no message yet.
    pub(crate) async fn publish_with(
        &self,
        subject: String,
        body: &impl Serialize,
        msg_id: String,
        hdrs: HeaderMap,
        first_on_subject: bool,
    ) -> Result<jetstream::publish::PublishAck, PublishFailure> {
        self.publish_bytes(subject, encode(body)?, msg_id, hdrs, first_on_subject)
            .await
    }

    async fn publish_bytes(
        &self,
        subject: String,
        payload: Vec<u8>,
        msg_id: String,
        hdrs: HeaderMap,
        first_on_subject: bool,
    ) -> Result<jetstream::publish::PublishAck, PublishFailure> {
        let mut message = PublishMessage::build()
            .payload(payload.into())
            .headers(hdrs)
            .message_id(msg_id);
        if first_on_subject {
            message = message.expected_last_subject_sequence(0);
        }
        let publish = async {
            let ack = self
                .js
                .send_publish(subject.clone(), message)
                .await
                .map_err(|e| (is_publish_conflict(&e), e.to_string()))?;
            ack.await
                .map_err(|e| (is_publish_conflict(&e), e.to_string()))
        };
        match tokio::time::timeout(self.publish_timeout, publish).await {
            Ok(Ok(ack)) => Ok(ack),
            Ok(Err((true, _))) => Err(PublishFailure::Conflict),
            Ok(Err((_, msg))) => Err(PublishFailure::Unavailable(format!(
                "publish to {subject}: {msg}"
            ))),
            Err(_) => Err(PublishFailure::Unavailable(format!(
                "publish to {subject}: no JetStream ack within {:?}",
                self.publish_timeout
            ))),
        }
    }

    fn origin(&self, src: &Source<'_>) -> Origin {
        let env_prefix = format!("{}.errors.", self.names.namespace());
        let event_id = header(src.headers, headers::EVENT_ID);
        Origin {
            kind: "error_event".into(),
            stream: Some(src.stream.to_owned()),
            seq: Some(src.seq),
            subject: Some(src.subject.to_owned()),
            event_id,
            environment: src.subject.strip_prefix(&env_prefix).map(str::to_owned),
            release: None,
        }
    }
}

fn encode(body: &impl Serialize) -> Result<Vec<u8>, PublishFailure> {
    serde_json::to_vec(body).map_err(|e| PublishFailure::Unavailable(format!("cannot encode: {e}")))
}

/// The record kept on the SECURITY stream for a rejected or flagged event:
/// the seed's fields (reason, snippet, timestamp) plus what a reviewer needs.
fn security_record(
    reason: &str,
    event: &ErrorEvent,
    event_json: &Value,
    verdict: &Verdict,
    fingerprint: &str,
    origin: &Origin,
    task_id: Option<&str>,
) -> Value {
    let mut record = json!({
        "reason": reason,
        "snippet": snippet_json(event_json, event, verdict),
        "timestamp": now_rfc3339(),
        "fingerprint": fingerprint,
        "verdict": { "decision": verdict.decision.as_str(), "score": verdict.score },
        "explanation": explanation_json(verdict),
        "source": origin,
        "event": event_json,
    });
    if let Some(id) = task_id {
        record["task_id"] = json!(id);
    }
    record
}

/// A stable, unique task id for a source message: `<prefix>-` + 16 hex
/// digits of a hash of the stream, the sequence and the time the message
/// was stored (stable over redeliveries; a recreated stream's reused
/// sequences still get new ids).
pub(crate) fn task_id(prefix: &str, src: &Source<'_>) -> String {
    let nanos = src
        .published
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let digest = Sha256::digest(format!("{}\n{}\n{nanos}", src.stream, src.seq));
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}-{hex}")
}

fn source_key(src: &Source<'_>) -> String {
    task_id("src", src)
}

fn header(hdrs: Option<&HeaderMap>, name: &str) -> Option<String> {
    hdrs?.get(name).map(|v| v.as_str().to_owned())
}

/// `v1:` and 32 lowercase hex digits.
fn valid_fingerprint(fp: &str) -> bool {
    fp.strip_prefix("v1:").is_some_and(|hex| {
        hex.len() == 32
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

pub(crate) fn fp_headers(fingerprint: &str, event_id: Option<&str>) -> HeaderMap {
    let mut hdrs = HeaderMap::new();
    hdrs.insert(headers::FINGERPRINT, fingerprint);
    if let Some(id) = event_id {
        hdrs.insert(headers::EVENT_ID, id);
    }
    hdrs
}

pub(crate) fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(stream: &str, seq: u64, secs: u64) -> Source<'_> {
        Source {
            stream,
            seq,
            subject: "x",
            published: SystemTime::UNIX_EPOCH + Duration::from_secs(secs),
            headers: None,
            payload: b"",
        }
    }

    #[test]
    fn task_ids_are_stable_and_distinct() {
        assert_eq!(
            task_id("inv", &src("S", 1, 5)),
            task_id("inv", &src("S", 1, 5))
        );
        assert_ne!(
            task_id("inv", &src("S", 1, 5)),
            task_id("inv", &src("S", 2, 5))
        );
        assert_ne!(
            task_id("inv", &src("S", 1, 5)),
            task_id("inv", &src("T", 1, 5))
        );
        assert_ne!(
            task_id("inv", &src("S", 1, 5)),
            task_id("inv", &src("S", 1, 6))
        );
        assert!(task_id("inv", &src("S", 1, 5)).starts_with("inv-"));
    }

    #[test]
    fn fingerprint_header_is_checked() {
        assert!(valid_fingerprint("v1:0123456789abcdef0123456789abcdef"));
        assert!(!valid_fingerprint("v1:0123456789ABCDEF0123456789abcdef"));
        assert!(!valid_fingerprint("v2:0123456789abcdef0123456789abcdef"));
        assert!(!valid_fingerprint("v1:short"));
    }
}

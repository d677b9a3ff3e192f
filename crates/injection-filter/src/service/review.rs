//! Human review of rejected events: list them, read one, release one.
//!
//! A release is recorded on `{ns}.security.released.<rejection>` with
//! `Nats-Expected-Last-Subject-Sequence: 0`, so of two concurrent releases
//! exactly one is recorded; the event then enters the pipeline as a task
//! whose id (and message id) derives from the rejection, marked as released.
//! A retry of a release whose task publish failed re-sends the same task
//! while JetStream's duplicate window still guards it; later it is refused
//! rather than risk a second task.

use std::time::{Duration, SystemTime};

use async_nats::jetstream::message::StreamMessage;
use async_nats::jetstream::stream::{LastRawMessageErrorKind, Stream};
use faultline_core::names::stream as streams;
use faultline_event::task::{self, Origin, ReleaseMark};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::filter::{fp_headers, now_rfc3339, Filter, PublishFailure, Source};
use crate::{filter_mark, scan_event_json};

/// A release is re-sent (never duplicated) only within this time of its
/// record: the TASKS stream's duplicate window (2 minutes) minus a margin.
const RESEND_WINDOW: Duration = Duration::from_secs(90);
/// Longest reviewer name and reason.
const MAX_REVIEWER: usize = 128;
const MAX_REASON: usize = 2048;
/// Most rejections per page.
pub(crate) const MAX_PAGE: u32 = 500;
/// Default page size.
pub(crate) const DEFAULT_PAGE: u32 = 50;

/// Why a review call failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReviewError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Precondition(String),
    #[error("{0}")]
    Unavailable(String),
}

/// The record of a release, as stored on the SECURITY stream.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ReleaseRecord {
    pub(crate) rejection_id: u64,
    pub(crate) reviewer: String,
    pub(crate) reason: String,
    pub(crate) released_at: String,
    pub(crate) task_id: String,
    #[serde(default)]
    pub(crate) fingerprint: Option<String>,
    /// Set when read back: the record's own sequence.
    #[serde(skip)]
    pub(crate) record_id: u64,
    #[serde(skip)]
    stored_at: Option<SystemTime>,
}

/// One rejected event and its release, if any.
#[derive(Debug, Clone)]
pub(crate) struct Rejection {
    pub(crate) id: u64,
    pub(crate) record: Value,
    pub(crate) release: Option<ReleaseRecord>,
}

impl Filter {
    async fn security(&self) -> Result<Stream, ReviewError> {
        self.js
            .get_stream(self.names.stream(streams::SECURITY))
            .await
            .map_err(|e| ReviewError::Unavailable(format!("cannot open the SECURITY stream: {e}")))
    }

    async fn release_of(
        &self,
        security: &Stream,
        id: u64,
    ) -> Result<Option<ReleaseRecord>, ReviewError> {
        match security
            .get_last_raw_message_by_subject(&self.names.security_released(id))
            .await
        {
            Ok(msg) => {
                let mut record: ReleaseRecord =
                    serde_json::from_slice(&msg.payload).map_err(|e| {
                        ReviewError::Unavailable(format!(
                            "release record {} unreadable: {e}",
                            msg.sequence
                        ))
                    })?;
                record.record_id = msg.sequence;
                record.stored_at = Some(SystemTime::from(msg.time));
                Ok(Some(record))
            }
            Err(e) if matches!(e.kind(), LastRawMessageErrorKind::NoMessageFound) => Ok(None),
            Err(e) => Err(ReviewError::Unavailable(format!(
                "cannot read releases: {e}"
            ))),
        }
    }

    async fn rejected_message(
        &self,
        security: &Stream,
        id: u64,
    ) -> Result<StreamMessage, ReviewError> {
        let msg = security.get_raw_message(id).await.map_err(|e| {
            if matches!(e.kind(), LastRawMessageErrorKind::NoMessageFound) {
                ReviewError::NotFound(format!("no rejected event {id}"))
            } else {
                ReviewError::Unavailable(format!("cannot read rejected event {id}: {e}"))
            }
        })?;
        if msg.subject.as_str() != self.names.security_rejected() {
            return Err(ReviewError::NotFound(format!(
                "{id} is not a rejected event (it is a record on {})",
                msg.subject
            )));
        }
        Ok(msg)
    }

    /// Rejected events after `after`, oldest first, at most `limit`.
    pub(crate) async fn list_rejections(
        &self,
        after: u64,
        limit: u32,
    ) -> Result<(Vec<Rejection>, u64), ReviewError> {
        let limit = match limit {
            0 => DEFAULT_PAGE,
            n => n.min(MAX_PAGE),
        };
        let security = self.security().await?;
        let subject = self.names.security_rejected();
        let mut out = Vec::new();
        let mut next = after.saturating_add(1);
        while out.len() < limit as usize {
            let msg = match security
                .get_first_raw_message_by_subject(&subject, next)
                .await
            {
                Ok(msg) => msg,
                Err(e) if matches!(e.kind(), LastRawMessageErrorKind::NoMessageFound) => {
                    return Ok((out, 0));
                }
                Err(e) => {
                    return Err(ReviewError::Unavailable(format!(
                        "cannot list rejections: {e}"
                    )))
                }
            };
            next = msg.sequence + 1;
            out.push(self.rejection(&security, msg).await?);
        }
        Ok((out, next - 1))
    }

    /// One rejected event.
    pub(crate) async fn get_rejection(&self, id: u64) -> Result<Rejection, ReviewError> {
        let security = self.security().await?;
        let msg = self.rejected_message(&security, id).await?;
        self.rejection(&security, msg).await
    }

    async fn rejection(
        &self,
        security: &Stream,
        msg: StreamMessage,
    ) -> Result<Rejection, ReviewError> {
        let record = serde_json::from_slice(&msg.payload).unwrap_or(Value::Null);
        let release = self.release_of(security, msg.sequence).await?;
        Ok(Rejection {
            id: msg.sequence,
            record,
            release,
        })
    }

    /// Releases rejected event `id`: it enters the pipeline once, marked as
    /// released. Returns the release and whether it had happened before.
    pub(crate) async fn release(
        &self,
        id: u64,
        reviewer: &str,
        reason: &str,
    ) -> Result<(ReleaseRecord, bool), ReviewError> {
        let reviewer = reviewer.trim();
        let reason = reason.trim();
        if reviewer.is_empty() || reviewer.len() > MAX_REVIEWER {
            return Err(ReviewError::Invalid(format!(
                "reviewer must name the person who decides (1 to {MAX_REVIEWER} bytes)"
            )));
        }
        if reason.is_empty() || reason.len() > MAX_REASON {
            return Err(ReviewError::Invalid(format!(
                "reason must say why the event is safe (1 to {MAX_REASON} bytes)"
            )));
        }
        let security = self.security().await?;
        let msg = self.rejected_message(&security, id).await?;
        let record: Value = serde_json::from_slice(&msg.payload).map_err(|e| {
            ReviewError::Unavailable(format!("rejected event {id} unreadable: {e}"))
        })?;
        let event_json = record.get("event").cloned().unwrap_or(Value::Null);
        let event_bytes = serde_json::to_vec(&event_json).unwrap_or_default();
        let event = faultline_event::parse(&event_bytes, &self.limits).map_err(|e| {
            ReviewError::Precondition(format!("rejected event {id} no longer parses: {e}"))
        })?;
        let fingerprint = record
            .get("fingerprint")
            .and_then(Value::as_str)
            .map_or_else(|| faultline_event::fingerprint(&event), str::to_owned);
        let mut origin: Origin = record
            .get("source")
            .cloned()
            .and_then(|s| serde_json::from_value(s).ok())
            .unwrap_or_default();
        origin.kind = "release".into();
        let src = Source {
            stream: security.cached_info().config.name.as_str(),
            seq: id,
            subject: msg.subject.as_str(),
            published: SystemTime::from(msg.time),
            headers: None,
            payload: &[],
        };
        let task_id = super::filter::task_id("rel", &src);

        let (release, already) = match self.release_of(&security, id).await? {
            Some(existing) => (existing, true),
            None => {
                let fresh = ReleaseRecord {
                    rejection_id: id,
                    reviewer: reviewer.to_owned(),
                    reason: reason.to_owned(),
                    released_at: now_rfc3339(),
                    task_id: task_id.clone(),
                    fingerprint: Some(fingerprint.clone()),
                    record_id: 0,
                    stored_at: None,
                };
                let written = self
                    .publish_with(
                        self.names.security_released(id),
                        &fresh,
                        format!("{}-release-{id}", self.names.namespace()),
                        fp_headers(&fingerprint, origin.event_id.as_deref()),
                        true,
                    )
                    .await;
                match written {
                    Ok(ack) => {
                        let mut fresh = fresh;
                        fresh.record_id = ack.sequence;
                        fresh.stored_at = Some(SystemTime::now());
                        tracing::warn!(
                            rejection = id,
                            reviewer,
                            reason,
                            task = task_id,
                            "rejected event released by a person"
                        );
                        self.metrics.released();
                        (fresh, false)
                    }
                    Err(PublishFailure::Conflict) => match self.release_of(&security, id).await? {
                        Some(existing) => (existing, true),
                        None => {
                            return Err(ReviewError::Unavailable(
                                "a concurrent release is being recorded; retry".into(),
                            ))
                        }
                    },
                    Err(PublishFailure::Unavailable(e)) => return Err(ReviewError::Unavailable(e)),
                }
            }
        };
        if already {
            let age = release
                .stored_at
                .and_then(|t| SystemTime::now().duration_since(t).ok())
                .unwrap_or(Duration::MAX);
            if age > RESEND_WINDOW {
                return Ok((release, true));
            }
        }
        // Publish (or, within the duplicate window, re-send) the task.
        let verdict = scan_event_json(&event_json, &self.thresholds);
        let release_mark = ReleaseMark {
            rejection_id: id,
            reviewer: release.reviewer.clone(),
            reason: release.reason.clone(),
            released_at: release.released_at.clone(),
        };
        let task = task::investigation(
            release.task_id.clone(),
            &event,
            event_json,
            fingerprint,
            origin,
            filter_mark("released", &verdict, Some(release_mark)),
            release.released_at.clone(),
        );
        self.publish_task(&task).await.map_err(|e| {
            ReviewError::Unavailable(format!(
                "release recorded but the task is not stored yet ({e}); retry within {RESEND_WINDOW:?}"
            ))
        })?;
        Ok((release, already))
    }
}

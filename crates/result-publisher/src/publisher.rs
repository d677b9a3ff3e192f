//! The result-publisher's work: status updates and results published under a
//! fenced lease, results completing their tasks through the dispatcher, and
//! reading them back.
//!
//! A result is first written into the task's record by the dispatcher's
//! `Complete` (compare-and-set on the lease: a stale lease is refused, and
//! once it succeeds the result is durable in JetStream), then published on
//! `{ns}.results.<outcome>.<task>` with the message id
//! `{ns}-result-<task>-<epoch>`. A retry with the same lease finds the task
//! completed by itself, takes the stored result (the first one wins) and
//! publishes it again only if the stream does not hold it: one result, even
//! when the first call was cut off between the two steps.

use std::sync::Arc;
use std::time::SystemTime;

use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::stream::LastRawMessageErrorKind;
use async_nats::jetstream::{self, message::PublishMessage};
use bytes::Bytes;
use faultline_core::config::ResultsConfig;
use faultline_core::names::{stream, Names};
use faultline_injection_filter::event::explanation_json;
use faultline_injection_filter::{scan_fields_with, Decision, Thresholds, Verdict};
use faultline_proto::faultline::dispatch::v1 as dpb;
use faultline_proto::faultline::dispatch::v1::task_dispatcher_client::TaskDispatcherClient;
use faultline_task_dispatcher::DispatchError;
use tokio::sync::Semaphore;
use tonic::transport::Channel;

use crate::index::Index;
use crate::metrics::ResultMetrics;
use crate::model::{
    validate_result, validate_status, FilterMark, ResultDoc, StatusDoc, MAX_DOC_BYTES,
};

/// The result-publisher. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Publisher(pub(crate) Arc<Inner>);

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) cfg: ResultsConfig,
    pub(crate) names: Names,
    pub(crate) js: jetstream::Context,
    pub(crate) dispatcher: TaskDispatcherClient<Channel>,
    pub(crate) thresholds: Thresholds,
    pub(crate) index: Arc<Index>,
    pub(crate) watchers: Arc<Semaphore>,
    pub(crate) metrics: ResultMetrics,
}

/// A stored result with where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    /// The result.
    pub doc: ResultDoc,
    /// Its sequence in the RESULTS stream.
    pub seq: u64,
}

/// What [`Publisher::publish_result`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct Published {
    /// The result as stored.
    pub stored: Stored,
    /// Dependents the completion released.
    pub released: Vec<String>,
    /// A retry: nothing new was stored.
    pub already: bool,
}

/// What [`Publisher::publish_status`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusPublished {
    /// The update as stored.
    pub doc: StatusDoc,
    /// Its sequence in the INVESTIGATIONS stream.
    pub seq: u64,
    /// The same update id was published before (nothing new stored).
    pub duplicate: bool,
}

/// The current time, RFC 3339 with milliseconds.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

/// Maps a dispatcher answer onto the same error kinds.
pub(crate) fn from_status(s: &tonic::Status) -> DispatchError {
    use tonic::Code;
    let m = s.message().to_owned();
    match s.code() {
        Code::InvalidArgument => DispatchError::InvalidArgument(m),
        Code::NotFound => DispatchError::NotFound(m),
        Code::FailedPrecondition => DispatchError::FailedPrecondition(m),
        Code::AlreadyExists => DispatchError::AlreadyExists(m),
        Code::PermissionDenied => DispatchError::Refused(m),
        Code::ResourceExhausted => DispatchError::AtCapacity(m),
        Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled | Code::Unknown => {
            DispatchError::Unavailable(format!("task-dispatcher: {m}"))
        }
        _ => DispatchError::Internal(format!("task-dispatcher: {m}")),
    }
}

fn lease(task_id: &str, epoch: u64) -> Option<dpb::Lease> {
    Some(dpb::Lease {
        task_id: task_id.to_owned(),
        epoch,
    })
}

fn mark(v: &Verdict) -> Option<FilterMark> {
    (v.decision != Decision::Pass).then(|| FilterMark {
        decision: v.decision.as_str().to_owned(),
        score: v.score,
        explanation: explanation_json(v),
    })
}

impl Publisher {
    /// The settings.
    pub fn cfg(&self) -> &ResultsConfig {
        &self.0.cfg
    }

    /// The index of results.
    pub fn index(&self) -> &Arc<Index> {
        &self.0.index
    }

    /// The names of this namespace.
    pub fn names(&self) -> &Names {
        &self.0.names
    }

    pub(crate) fn js(&self) -> &jetstream::Context {
        &self.0.js
    }

    fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut req = tonic::Request::new(message);
        req.set_timeout(self.0.cfg.dispatcher_timeout);
        req
    }

    async fn get_task(&self, task_id: &str) -> Result<dpb::TaskStatus, DispatchError> {
        let mut c = self.0.dispatcher.clone();
        let req = self.request(dpb::GetTaskRequest {
            task_id: task_id.to_owned(),
        });
        match tokio::time::timeout(self.0.cfg.dispatcher_timeout, c.get_task(req)).await {
            Ok(Ok(r)) => Ok(r.into_inner()),
            Ok(Err(s)) => Err(from_status(&s)),
            Err(_) => Err(DispatchError::Unavailable(
                "task-dispatcher did not answer in time".into(),
            )),
        }
    }

    fn scan(&self, texts: &[(String, &str)]) -> Verdict {
        let refs: Vec<(&str, &str)> = texts.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        scan_fields_with(&refs, &self.0.thresholds)
    }

    /// Publishes with a message id and waits for the ack; `(seq, duplicate)`.
    async fn publish(
        &self,
        subject: String,
        msg_id: Option<String>,
        payload: Bytes,
    ) -> Result<(u64, bool), DispatchError> {
        let mut p = PublishMessage::build().payload(payload);
        if let Some(id) = &msg_id {
            p = p.message_id(id.as_str());
        }
        let unavailable = |e: String| DispatchError::Unavailable(format!("cannot store: {e}"));
        let fut = async {
            let ack = self
                .0
                .js
                .send_publish(subject, p)
                .await
                .map_err(|e| unavailable(e.to_string()))?;
            ack.await.map_err(|e| match e.kind() {
                PublishErrorKind::TimedOut => unavailable("JetStream did not ack in time".into()),
                _ => unavailable(e.to_string()),
            })
        };
        match tokio::time::timeout(self.0.cfg.publish_timeout, fut).await {
            Ok(Ok(ack)) => Ok((ack.sequence, ack.duplicate)),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(unavailable("JetStream did not ack in time".into())),
        }
    }

    /// Publishes a status update under the lease `(task, epoch, agent)`; the
    /// lease is extended (it counts as progress). Replies after the ack.
    pub async fn publish_status(
        &self,
        mut doc: StatusDoc,
    ) -> Result<StatusPublished, DispatchError> {
        validate_status(&doc, &self.0.cfg)?;
        let subject = self
            .0
            .names
            .investigation_status(&doc.task_id)
            .map_err(|e| DispatchError::InvalidArgument(e.to_string()))?;
        let summary: String = format!("{}: {}", doc.status, doc.findings)
            .chars()
            .take(200)
            .collect();
        let mut c = self.0.dispatcher.clone();
        let progress = c.progress(self.request(dpb::ProgressRequest {
            lease: lease(&doc.task_id, doc.epoch),
            agent_id: doc.agent_id.clone(),
            message: summary,
        }));
        let (progress, task) = tokio::join!(progress, self.get_task(&doc.task_id));
        if let Err(s) = progress {
            self.0.metrics.refused(&s);
            return Err(from_status(&s));
        }
        let task = task?;
        doc.fingerprint = (!task.fingerprint.is_empty()).then(|| task.fingerprint.clone());
        doc.task_type = task.r#type;
        doc.published_at = now_rfc3339();
        let verdict = self.scan(&doc.texts());
        doc.filter = mark(&verdict);
        doc.flagged = doc.filter.is_some();
        let payload =
            serde_json::to_vec(&doc).map_err(|e| DispatchError::Internal(e.to_string()))?;
        if payload.len() > MAX_DOC_BYTES {
            return Err(DispatchError::InvalidArgument(format!(
                "the update is {} bytes; at most {MAX_DOC_BYTES}",
                payload.len()
            )));
        }
        let msg_id = doc.update_id.as_ref().map(|u| {
            format!(
                "{}-status-{}-{}-{u}",
                self.0.names.namespace().as_str(),
                doc.task_id,
                doc.epoch
            )
        });
        let (seq, duplicate) = self.publish(subject, msg_id, payload.into()).await?;
        self.0.metrics.status(&doc.status, doc.flagged);
        if doc.flagged {
            tracing::warn!(
                task = doc.task_id,
                agent = doc.agent_id,
                score = verdict.score,
                "status update flagged by the injection filter; marked for review"
            );
        }
        Ok(StatusPublished {
            doc,
            seq,
            duplicate,
        })
    }

    /// Completes the task with `doc` through the dispatcher (fenced) and
    /// publishes the result. Idempotent per lease.
    pub async fn publish_result(&self, mut doc: ResultDoc) -> Result<Published, DispatchError> {
        validate_result(&doc, &self.0.cfg)?;
        // Both are subject tokens (checked before any work).
        self.0
            .names
            .result_subject(&doc.outcome, &doc.task_id)
            .map_err(|e| DispatchError::InvalidArgument(e.to_string()))?;
        // Refuse a stale lease before any work; the dispatcher's
        // compare-and-set below is what fences.
        let task = self.get_task(&doc.task_id).await?;
        let holder = task.agent_id == doc.agent_id && task.epoch == doc.epoch;
        if !holder || !(task.state == "claimed" || task.state == "completed") {
            let err = DispatchError::FailedPrecondition(format!(
                "stale lease on task {}: it is {} under epoch {} by {:?} (yours: epoch {} by {:?})",
                doc.task_id, task.state, task.epoch, task.agent_id, doc.epoch, doc.agent_id
            ));
            self.0.metrics.refused_stale();
            return Err(err);
        }
        doc.result_id = format!("{}-{}", doc.task_id, doc.epoch);
        doc.fingerprint = (!task.fingerprint.is_empty()).then(|| task.fingerprint.clone());
        doc.task_type = task.r#type.clone();
        doc.published_at = now_rfc3339();
        let verdict = self.scan(&doc.texts());
        doc.filter = mark(&verdict);
        doc.flagged = doc.filter.is_some();
        let json =
            serde_json::to_string(&doc).map_err(|e| DispatchError::Internal(e.to_string()))?;
        if json.len() > MAX_DOC_BYTES {
            return Err(DispatchError::InvalidArgument(format!(
                "the result is {} bytes; at most {MAX_DOC_BYTES}",
                json.len()
            )));
        }
        let mut c = self.0.dispatcher.clone();
        let done =
            match tokio::time::timeout(
                self.0.cfg.dispatcher_timeout,
                c.complete(self.request(dpb::CompleteRequest {
                    lease: lease(&doc.task_id, doc.epoch),
                    agent_id: doc.agent_id.clone(),
                    result_json: json,
                })),
            )
            .await
            {
                Ok(Ok(r)) => r.into_inner(),
                Ok(Err(s)) => {
                    self.0.metrics.refused(&s);
                    return Err(from_status(&s));
                }
                Err(_) => return Err(DispatchError::Unavailable(
                    "task-dispatcher did not answer in time; retry (the result is published once)"
                        .into(),
                )),
            };
        if done.already {
            // The first result wins; it may differ from this call's.
            if let Ok(first) = serde_json::from_str::<ResultDoc>(&done.result_json) {
                if first.result_id == doc.result_id {
                    doc = first;
                }
            }
            if let Some(seq) = self.stored_seq(&doc).await? {
                return Ok(Published {
                    stored: Stored { doc, seq },
                    released: done.released,
                    already: true,
                });
            }
        }
        // The first result (taken above on a retry) may name another outcome.
        let subject = self
            .0
            .names
            .result_subject(&doc.outcome, &doc.task_id)
            .map_err(|e| DispatchError::Internal(e.to_string()))?;
        let payload =
            serde_json::to_vec(&doc).map_err(|e| DispatchError::Internal(e.to_string()))?;
        let msg_id = format!(
            "{}-result-{}",
            self.0.names.namespace().as_str(),
            doc.result_id
        );
        let (seq, duplicate) = self.publish(subject, Some(msg_id), payload.into()).await?;
        if !duplicate {
            self.0.metrics.result(&doc.outcome, doc.flagged);
            tracing::info!(
                task = doc.task_id,
                agent = doc.agent_id,
                outcome = doc.outcome,
                seq,
                flagged = doc.flagged,
                "result published"
            );
        }
        if doc.flagged {
            tracing::warn!(
                task = doc.task_id,
                agent = doc.agent_id,
                score = verdict.score,
                "result flagged by the injection filter; marked for review"
            );
        }
        Ok(Published {
            stored: Stored { doc, seq },
            released: done.released,
            already: done.already || duplicate,
        })
    }

    /// The sequence of `doc` in the RESULTS stream, if it is there.
    async fn stored_seq(&self, doc: &ResultDoc) -> Result<Option<u64>, DispatchError> {
        if let Some(e) = self.0.index.by_task(&doc.task_id) {
            if e.result_id == doc.result_id {
                return Ok(Some(e.seq));
            }
        }
        let subject = self
            .0
            .names
            .result_subject(&doc.outcome, &doc.task_id)
            .map_err(|e| DispatchError::InvalidArgument(e.to_string()))?;
        let s = self.results_stream().await?;
        match s.get_last_raw_message_by_subject(&subject).await {
            Ok(m) => {
                let found = serde_json::from_slice::<ResultDoc>(&m.payload)
                    .is_ok_and(|d| d.result_id == doc.result_id);
                Ok(found.then_some(m.sequence))
            }
            Err(e) if matches!(e.kind(), LastRawMessageErrorKind::NoMessageFound) => Ok(None),
            Err(e) => Err(DispatchError::Unavailable(format!(
                "cannot read the results: {e}"
            ))),
        }
    }

    pub(crate) async fn results_stream(&self) -> Result<jetstream::stream::Stream, DispatchError> {
        let name = self.0.names.stream(stream::RESULTS);
        self.0
            .js
            .get_stream(&name)
            .await
            .map_err(|e| DispatchError::Unavailable(format!("cannot open {name}: {e}")))
    }

    /// Reads the result stored at `seq`.
    pub async fn load(&self, seq: u64) -> Result<Stored, DispatchError> {
        let s = self.results_stream().await?;
        let m = s
            .get_raw_message(seq)
            .await
            .map_err(|e| DispatchError::Unavailable(format!("cannot read result {seq}: {e}")))?;
        let doc = serde_json::from_slice::<ResultDoc>(&m.payload)
            .map_err(|e| DispatchError::Internal(format!("result {seq} is unreadable: {e}")))?;
        Ok(Stored { doc, seq })
    }

    /// The result of a task.
    pub async fn get_result(&self, task_id: &str) -> Result<Stored, DispatchError> {
        match self.0.index.by_task(task_id) {
            Some(e) => self.load(e.seq).await,
            None => Err(DispatchError::NotFound(format!(
                "task {task_id} has no result"
            ))),
        }
    }

    /// Results matching `q`, newest first.
    pub async fn list_results(
        &self,
        q: &crate::index::Query,
    ) -> Result<Vec<Stored>, DispatchError> {
        let seqs = self.0.index.query(q);
        // Bounded: at most `limit` (≤ 500) reads, 16 at a time.
        use futures_util::stream::{self, StreamExt, TryStreamExt};
        stream::iter(seqs.into_iter().map(|seq| self.load(seq)))
            .buffered(16)
            .try_collect()
            .await
    }

    /// The status updates of a task, oldest first (at most `limit`).
    pub async fn list_status(
        &self,
        task_id: &str,
        limit: usize,
    ) -> Result<Vec<StatusDoc>, DispatchError> {
        let subject = self
            .0
            .names
            .investigation_status(task_id)
            .map_err(|e| DispatchError::InvalidArgument(e.to_string()))?;
        let name = self.0.names.stream(stream::INVESTIGATIONS);
        let raw = crate::read::subject_messages(&self.0.js, &name, &subject, 1, limit).await?;
        Ok(raw
            .into_iter()
            .filter_map(|(_, payload)| serde_json::from_slice(&payload).ok())
            .collect())
    }
}

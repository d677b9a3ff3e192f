//! The gRPC API (`faultline.results.v1.ResultPublisher`).

use std::pin::Pin;

use faultline_proto::faultline::results::v1 as pb;
use faultline_proto::faultline::results::v1::result_publisher_server::ResultPublisher;
use faultline_task_dispatcher::DispatchError;
use futures_util::Stream;
use tonic::{Request, Response, Status};

use crate::index::{parse_ms, Query};
use crate::model::{Artifact, ResultDoc, StatusDoc, TestResults};
use crate::publisher::{Publisher, Stored};
use crate::watch::WatchFilter;

/// The gRPC service.
#[derive(Debug, Clone)]
pub struct GrpcPublisher(pub Publisher);

fn lease(l: Option<pb::Lease>) -> Result<pb::Lease, Status> {
    let l = l.ok_or_else(|| Status::invalid_argument("lease is required"))?;
    faultline_core::names::id_token("task id", &l.task_id)
        .map_err(|e| Status::invalid_argument(e.to_string()))?;
    if l.epoch == 0 {
        return Err(Status::invalid_argument(
            "lease.epoch must be the claim's epoch (> 0)",
        ));
    }
    Ok(l)
}

fn time(field: &str, s: &str) -> Result<Option<i64>, Status> {
    if s.is_empty() {
        return Ok(None);
    }
    parse_ms(s)
        .map(Some)
        .ok_or_else(|| Status::invalid_argument(format!("{field} {s:?} is not an RFC 3339 time")))
}

/// A stored result as the API's message.
pub fn to_pb(s: &Stored) -> pb::Result {
    let d = &s.doc;
    pb::Result {
        result_id: d.result_id.clone(),
        task_id: d.task_id.clone(),
        epoch: d.epoch,
        agent_id: d.agent_id.clone(),
        outcome: d.outcome.clone(),
        fingerprint: d.fingerprint.clone().unwrap_or_default(),
        task_type: d.task_type.clone(),
        published_at: d.published_at.clone(),
        flagged: d.flagged,
        result_json: serde_json::to_string(d).unwrap_or_default(),
        seq: s.seq,
    }
}

fn opt(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<pb::WatchEvent, Status>> + Send>>;

#[tonic::async_trait]
impl ResultPublisher for GrpcPublisher {
    async fn publish_status(
        &self,
        req: Request<pb::PublishStatusRequest>,
    ) -> Result<Response<pb::PublishStatusResponse>, Status> {
        let r = req.into_inner();
        let l = lease(r.lease)?;
        let done = self
            .0
            .publish_status(StatusDoc {
                task_id: l.task_id,
                epoch: l.epoch,
                agent_id: r.agent_id,
                status: r.status,
                findings: r.findings,
                next_steps: r.next_steps,
                update_id: opt(r.update_id),
                ..Default::default()
            })
            .await?;
        Ok(Response::new(pb::PublishStatusResponse {
            status_json: serde_json::to_string(&done.doc).unwrap_or_default(),
            seq: done.seq,
            duplicate: done.duplicate,
        }))
    }

    async fn publish_result(
        &self,
        req: Request<pb::PublishResultRequest>,
    ) -> Result<Response<pb::PublishResultResponse>, Status> {
        let r = req.into_inner();
        let l = lease(r.lease)?;
        let done = self
            .0
            .publish_result(ResultDoc {
                task_id: l.task_id,
                epoch: l.epoch,
                agent_id: r.agent_id,
                outcome: r.outcome,
                solution: r.solution,
                pr_url: opt(r.pr_url),
                test_results: r.test_results.map(|t| TestResults {
                    passed: t.passed,
                    failed: t.failed,
                    skipped: t.skipped,
                    command: t.command,
                    summary: t.summary,
                }),
                artifacts: r
                    .artifacts
                    .into_iter()
                    .map(|a| Artifact {
                        name: a.name,
                        url: a.url,
                        kind: a.kind,
                        sha256: a.sha256,
                    })
                    .collect(),
                ..Default::default()
            })
            .await?;
        Ok(Response::new(pb::PublishResultResponse {
            result: Some(to_pb(&done.stored)),
            released: done.released,
            already: done.already,
        }))
    }

    async fn get_result(
        &self,
        req: Request<pb::GetResultRequest>,
    ) -> Result<Response<pb::Result>, Status> {
        let r = req.into_inner();
        let s = self.0.get_result(&r.task_id).await?;
        Ok(Response::new(to_pb(&s)))
    }

    async fn list_results(
        &self,
        req: Request<pb::ListResultsRequest>,
    ) -> Result<Response<pb::ListResultsResponse>, Status> {
        let r = req.into_inner();
        let q = Query {
            task_id: opt(r.task_id),
            fingerprint: opt(r.fingerprint),
            outcome: opt(r.outcome),
            since_ms: time("since", &r.since)?,
            until_ms: time("until", &r.until)?,
            flagged_only: r.flagged_only,
            limit: if r.limit == 0 { 50 } else { r.limit as usize },
        };
        let list = self.0.list_results(&q).await?;
        Ok(Response::new(pb::ListResultsResponse {
            results: list.iter().map(to_pb).collect(),
        }))
    }

    async fn list_status(
        &self,
        req: Request<pb::ListStatusRequest>,
    ) -> Result<Response<pb::ListStatusResponse>, Status> {
        let r = req.into_inner();
        let limit = if r.limit == 0 {
            100
        } else {
            (r.limit as usize).min(1000)
        };
        let list = self.0.list_status(&r.task_id, limit).await?;
        Ok(Response::new(pb::ListStatusResponse {
            status_json: list
                .iter()
                .map(|d| serde_json::to_string(d).unwrap_or_default())
                .collect(),
        }))
    }

    type WatchStream = WatchStream;

    async fn watch(
        &self,
        req: Request<pb::WatchRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let r = req.into_inner();
        let since_ms = time("since", &r.since)?;
        let resume = match opt(r.resume) {
            Some(c) => Some(
                c.parse()
                    .map_err(|e: String| Status::invalid_argument(format!("resume: {e}")))?,
            ),
            None => None,
        };
        let rx = self
            .0
            .watch(WatchFilter {
                task_id: opt(r.task_id),
                fingerprint: opt(r.fingerprint),
                since_ms,
                resume,
                results_only: r.results_only,
            })
            .await?;
        let stream = tokio_stream::wrappers::ReceiverStream::new(rx);
        let stream = futures_util::StreamExt::map(stream, |e| {
            Ok(pb::WatchEvent {
                kind: e.kind.to_owned(),
                task_id: e.task_id,
                subject: e.subject,
                seq: e.seq,
                json: e.json.to_string(),
                cursor: e.cursor.to_string(),
            })
        });
        Ok(Response::new(Box::pin(stream)))
    }

    async fn list_deliveries(
        &self,
        req: Request<pb::ListDeliveriesRequest>,
    ) -> Result<Response<pb::ListDeliveriesResponse>, Status> {
        let r = req.into_inner();
        let limit = if r.limit == 0 {
            100
        } else {
            (r.limit as usize).min(1000)
        };
        let list = self
            .0
            .deliveries(opt(r.task_id).as_deref(), opt(r.webhook).as_deref(), limit)
            .await?;
        Ok(Response::new(pb::ListDeliveriesResponse {
            deliveries: list
                .into_iter()
                .map(|d| pb::Delivery {
                    webhook: d.webhook,
                    result_id: d.result_id,
                    task_id: d.task_id,
                    attempt: d.attempt,
                    outcome: d.outcome,
                    http_status: u32::from(d.http_status),
                    error: d.error,
                    duration_ms: d.duration_ms,
                    at: d.at,
                })
                .collect(),
        }))
    }
}

impl Publisher {
    /// Webhook deliveries, newest first.
    pub async fn deliveries(
        &self,
        task_id: Option<&str>,
        webhook: Option<&str>,
        limit: usize,
    ) -> Result<Vec<crate::webhooks::Delivery>, DispatchError> {
        let ns = self.names().namespace().as_str();
        let task = match task_id {
            Some(t) => faultline_core::names::id_token("task id", t)
                .map_err(|e| DispatchError::InvalidArgument(e.to_string()))?,
            None => "*",
        };
        let hook = match webhook {
            Some(w) => faultline_core::names::token("webhook name", w)
                .map_err(|e| DispatchError::InvalidArgument(e.to_string()))?,
            None => "*",
        };
        let subject = format!("{ns}.webhooks.delivery.{hook}.{task}");
        let name = self.names().stream(faultline_core::names::stream::WEBHOOKS);
        let raw = crate::read::last_messages(self.js(), &name, &subject, limit, 20_000).await?;
        Ok(raw
            .into_iter()
            .filter_map(|(_, p)| serde_json::from_slice(&p).ok())
            .collect())
    }
}

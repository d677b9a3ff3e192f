//! `faultline.filter.v1.InjectionFilter` over gRPC.

use crate::{scan_event, scan_fields_with, scan_text_with, Decision, Verdict};
use faultline_proto::faultline::filter::v1 as pb;
use tonic::{Request, Response, Status};

use super::filter::Filter;
use super::review::{Rejection, ReleaseRecord, ReviewError};

/// The gRPC service.
#[derive(Debug, Clone)]
pub(crate) struct GrpcFilter {
    pub(crate) filter: Filter,
}

/// What a scan request asks about.
#[derive(Debug)]
pub(crate) enum ScanInput {
    Text(String),
    Event(Vec<u8>),
    Fields(Vec<(String, String)>),
}

/// A verdict, and the fingerprint when an event was scanned.
pub(crate) type Scanned = (Verdict, Option<String>);

impl Filter {
    /// Scans API input. Pure: publishes nothing.
    pub(crate) fn scan_input(&self, input: ScanInput) -> Result<Scanned, ReviewError> {
        let t = &self.thresholds;
        Ok(match input {
            ScanInput::Text(text) => (scan_text_with(&text, t), None),
            ScanInput::Fields(fields) => {
                if fields.is_empty() {
                    return Err(ReviewError::Invalid("fields is empty".into()));
                }
                let borrowed: Vec<(&str, &str)> = fields
                    .iter()
                    .map(|(n, v)| (n.as_str(), v.as_str()))
                    .collect();
                (scan_fields_with(&borrowed, t), None)
            }
            ScanInput::Event(bytes) => {
                let event = faultline_event::parse(&bytes, &self.limits)
                    .map_err(|e| ReviewError::Invalid(format!("not an error event: {e}")))?;
                let fp = faultline_event::fingerprint(&event);
                (scan_event(&event, t), Some(fp))
            }
        })
    }
}

impl From<ReviewError> for Status {
    fn from(e: ReviewError) -> Self {
        match e {
            ReviewError::Invalid(m) => Status::invalid_argument(m),
            ReviewError::NotFound(m) => Status::not_found(m),
            ReviewError::Precondition(m) => Status::failed_precondition(m),
            ReviewError::Unavailable(m) => Status::unavailable(m),
        }
    }
}

fn pb_decision(d: Decision) -> pb::Decision {
    match d {
        Decision::Pass => pb::Decision::Pass,
        Decision::Flag => pb::Decision::Flag,
        Decision::Reject => pb::Decision::Reject,
    }
}

fn pb_verdict((verdict, fingerprint): Scanned) -> pb::ScanResponse {
    let e = verdict.explanation;
    pb::ScanResponse {
        decision: pb_decision(verdict.decision).into(),
        score: verdict.score,
        fingerprint: fingerprint.unwrap_or_default(),
        explanation: Some(pb::Explanation {
            rules: e
                .rules
                .into_iter()
                .map(|r| pb::RuleHit {
                    id: r.id,
                    field: r.field.unwrap_or_default(),
                    view: r.view,
                    start: r.span.start as u64,
                    end: r.span.end as u64,
                    weight: r.weight,
                })
                .collect(),
            suppressions: e.suppressions,
            top_features: e
                .top_features
                .into_iter()
                .map(|(name, contribution)| pb::Feature { name, contribution })
                .collect(),
            model_version: e.model_version,
            ruleset_version: e.ruleset_version,
        }),
    }
}

fn pb_release(r: ReleaseRecord) -> pb::Release {
    pb::Release {
        rejection_id: r.rejection_id,
        reviewer: r.reviewer,
        reason: r.reason,
        released_at: r.released_at,
        task_id: r.task_id,
        record_id: r.record_id,
    }
}

fn pb_rejection(r: Rejection) -> pb::Rejection {
    pb::Rejection {
        id: r.id,
        record_json: serde_json::to_vec(&r.record).unwrap_or_default(),
        release: r.release.map(pb_release),
    }
}

#[tonic::async_trait]
impl pb::injection_filter_server::InjectionFilter for GrpcFilter {
    async fn scan(
        &self,
        request: Request<pb::ScanRequest>,
    ) -> Result<Response<pb::ScanResponse>, Status> {
        use pb::scan_request::Input;
        let input = match request.into_inner().input {
            Some(Input::Text(t)) => ScanInput::Text(t),
            Some(Input::EventJson(b)) => ScanInput::Event(b),
            Some(Input::Fields(f)) => {
                ScanInput::Fields(f.fields.into_iter().map(|f| (f.name, f.value)).collect())
            }
            None => return Err(Status::invalid_argument("give text, event_json or fields")),
        };
        let scanned = self.filter.scan_input(input)?;
        self.filter
            .metrics
            .api_scan("grpc", scanned.0.decision.as_str());
        Ok(Response::new(pb_verdict(scanned)))
    }

    async fn list_rejections(
        &self,
        request: Request<pb::ListRejectionsRequest>,
    ) -> Result<Response<pb::ListRejectionsResponse>, Status> {
        let req = request.into_inner();
        let (list, next) = self.filter.list_rejections(req.after, req.limit).await?;
        Ok(Response::new(pb::ListRejectionsResponse {
            rejections: list.into_iter().map(pb_rejection).collect(),
            next_after: next,
        }))
    }

    async fn get_rejection(
        &self,
        request: Request<pb::GetRejectionRequest>,
    ) -> Result<Response<pb::Rejection>, Status> {
        let r = self.filter.get_rejection(request.into_inner().id).await?;
        Ok(Response::new(pb_rejection(r)))
    }

    async fn release(
        &self,
        request: Request<pb::ReleaseRequest>,
    ) -> Result<Response<pb::ReleaseResponse>, Status> {
        let req = request.into_inner();
        let (release, already) = self
            .filter
            .release(req.id, &req.reviewer, &req.reason)
            .await?;
        Ok(Response::new(pb::ReleaseResponse {
            release: Some(pb_release(release)),
            already_released: already,
        }))
    }
}

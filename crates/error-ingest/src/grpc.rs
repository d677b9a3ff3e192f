//! `faultline.ingest.v1.ErrorIngest`: thin, gRPC ↔ pipeline.

use faultline_proto::faultline::ingest::v1::{
    error_ingest_server::ErrorIngest, ReportBatchResponse, ReportRequest, ReportResponse,
    ReportResult,
};
use tonic::metadata::MetadataMap;
use tonic::{Request, Response, Status, Streaming};

use crate::access::Access;
use crate::auth::Principal;
use crate::error::{retry_after_secs, IngestError};
use crate::pipeline::{Accepted, Ingestor};

#[derive(Debug, Clone)]
pub(crate) struct GrpcIngest {
    pub(crate) ingestor: Ingestor,
    pub(crate) access: Access,
    pub(crate) max_batch: usize,
}

fn status(err: &IngestError) -> Status {
    let mut status = Status::new(err.grpc_code(), format!("{}: {err}", err.code()));
    if let Some(after) = err.retry_after() {
        if let Ok(v) = retry_after_secs(after).to_string().parse() {
            status.metadata_mut().insert("retry-after", v);
        }
    }
    status
}

fn to_pb(a: Accepted) -> ReportResponse {
    ReportResponse {
        event_id: a.event_id,
        fingerprint: a.fingerprint,
        duplicate: a.duplicate,
        count: a.count.unwrap_or(0),
        forwarded: a.forwarded,
    }
}

impl GrpcIngest {
    fn authorize(&self, md: &MetadataMap, cost: f64) -> Result<Principal, IngestError> {
        let get = |k: &str| md.get(k).and_then(|v| v.to_str().ok());
        self.access
            .authorize(get("authorization"), get("x-api-key"), cost)
    }
}

#[tonic::async_trait]
impl ErrorIngest for GrpcIngest {
    async fn report(
        &self,
        request: Request<ReportRequest>,
    ) -> Result<Response<ReportResponse>, Status> {
        if let Err(e) = self.authorize(request.metadata(), 1.0) {
            self.ingestor.refused("grpc", &e);
            return Err(status(&e));
        }
        let body = request.into_inner().event_json;
        match self.ingestor.ingest(&body, "grpc").await {
            Ok(a) => Ok(Response::new(to_pb(a))),
            Err(e) => Err(status(&e)),
        }
    }

    async fn report_batch(
        &self,
        request: Request<Streaming<ReportRequest>>,
    ) -> Result<Response<ReportBatchResponse>, Status> {
        let principal = match self.authorize(request.metadata(), 0.0) {
            Ok(p) => p,
            Err(e) => {
                self.ingestor.refused("grpc", &e);
                return Err(status(&e));
            }
        };
        let mut stream = request.into_inner();
        let mut results = Vec::new();
        let mut index = 0u32;
        while let Some(item) = stream.message().await? {
            if index as usize >= self.max_batch {
                let e = IngestError::BatchTooLarge {
                    size: index as usize + 1,
                    limit: self.max_batch,
                };
                self.ingestor.refused("grpc", &e);
                return Err(status(&e));
            }
            let outcome = match self.access.charge(&principal, 1.0) {
                Err(e) => {
                    self.ingestor.refused("grpc", &e);
                    Err(e)
                }
                Ok(()) => self.ingestor.ingest(&item.event_json, "grpc").await,
            };
            results.push(match outcome {
                Ok(a) => ReportResult {
                    index,
                    code: tonic::Code::Ok as i32,
                    error: String::new(),
                    accepted: Some(to_pb(a)),
                },
                Err(e) => ReportResult {
                    index,
                    code: e.grpc_code() as i32,
                    error: format!("{}: {e}", e.code()),
                    accepted: None,
                },
            });
            index += 1;
        }
        Ok(Response::new(ReportBatchResponse { results }))
    }
}

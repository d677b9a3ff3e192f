//! `faultline.health.v1.HealthStatus`: thin, model ↔ protobuf.

use std::pin::Pin;

use faultline_core::shutdown::ShutdownSignal;
use faultline_proto::faultline::health::v1 as pb;
use futures_util::Stream;
use tokio::sync::watch;
use tonic::{Request, Response, Status};

use crate::model::SystemStatus;

/// Serves the latest status and its changes.
#[derive(Debug)]
pub struct StatusService {
    pub(crate) rx: watch::Receiver<SystemStatus>,
    pub(crate) stop: ShutdownSignal,
}

type StatusStream = Pin<Box<dyn Stream<Item = Result<pb::SystemStatus, Status>> + Send>>;

#[tonic::async_trait]
impl pb::health_status_server::HealthStatus for StatusService {
    async fn get_status(
        &self,
        _request: Request<pb::GetStatusRequest>,
    ) -> Result<Response<pb::SystemStatus>, Status> {
        Ok(Response::new(self.rx.borrow().to_pb()))
    }

    type WatchStatusStream = StatusStream;

    async fn watch_status(
        &self,
        _request: Request<pb::WatchStatusRequest>,
    ) -> Result<Response<Self::WatchStatusStream>, Status> {
        let mut rx = self.rx.clone();
        rx.mark_changed();
        let stop = self.stop.clone();
        let stream = futures_util::stream::unfold((rx, stop), |(mut rx, mut stop)| async move {
            tokio::select! {
                changed = rx.changed() => changed.ok()?,
                () = stop.wait() => return None,
            }
            let status = rx.borrow_and_update().to_pb();
            Some((Ok(status), (rx, stop)))
        });
        Ok(Response::new(Box::pin(stream)))
    }
}

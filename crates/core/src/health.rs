//! grpc.health.v1, served by every faultline process.
//!
//! `Check` answers NOT_FOUND for an unknown service. `Watch` follows the
//! specification (unlike tonic-health 0.14): it sends the current status at
//! once, then every change; for an unknown service it sends SERVICE_UNKNOWN
//! and keeps the stream open, so a watcher learns when the service appears.

use std::collections::BTreeMap;
use std::pin::Pin;

use faultline_proto::grpc::health::v1::{
    health_check_response::ServingStatus,
    health_server::{Health, HealthServer},
    HealthCheckRequest, HealthCheckResponse, HealthListRequest, HealthListResponse,
};
use futures_util::Stream;
use tokio::sync::watch;
use tonic::{Request, Response, Status};

use crate::shutdown::ShutdownSignal;

pub use faultline_proto::grpc::health::v1::health_check_response::ServingStatus as Serving;

/// Sets the status of the names this process serves.
#[derive(Debug, Clone)]
pub struct HealthReporter {
    tx: watch::Sender<BTreeMap<String, ServingStatus>>,
}

impl Default for HealthReporter {
    fn default() -> Self {
        Self::new()
    }
}

impl HealthReporter {
    /// No names known yet.
    pub fn new() -> Self {
        Self {
            tx: watch::Sender::new(BTreeMap::new()),
        }
    }

    /// Sets one name's status (registering it if new). Watchers are woken only on change.
    pub fn set(&self, name: &str, status: ServingStatus) {
        self.tx.send_if_modified(|map| {
            if map.get(name) == Some(&status) {
                false
            } else {
                map.insert(name.to_owned(), status);
                true
            }
        });
    }

    /// Sets every known name to NOT_SERVING (start of shutdown).
    pub fn set_all_not_serving(&self) {
        self.tx.send_modify(|map| {
            for status in map.values_mut() {
                *status = ServingStatus::NotServing;
            }
        });
    }

    /// One name's status, if known.
    pub fn get(&self, name: &str) -> Option<ServingStatus> {
        self.tx.borrow().get(name).copied()
    }

    /// Every known name and its status.
    pub fn snapshot(&self) -> BTreeMap<String, ServingStatus> {
        self.tx.borrow().clone()
    }

    /// The gRPC service; its Watch streams end when `stop` fires.
    pub fn service(&self, stop: ShutdownSignal) -> HealthServer<HealthService> {
        HealthServer::new(HealthService {
            rx: self.tx.subscribe(),
            stop,
        })
    }
}

/// The grpc.health.v1.Health implementation.
#[derive(Debug)]
pub struct HealthService {
    rx: watch::Receiver<BTreeMap<String, ServingStatus>>,
    stop: ShutdownSignal,
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<HealthCheckResponse, Status>> + Send>>;

fn response(status: ServingStatus) -> HealthCheckResponse {
    HealthCheckResponse {
        status: status as i32,
    }
}

struct WatchState {
    rx: watch::Receiver<BTreeMap<String, ServingStatus>>,
    stop: ShutdownSignal,
    name: String,
    last: Option<ServingStatus>,
}

#[tonic::async_trait]
impl Health for HealthService {
    async fn check(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        let name = request.into_inner().service;
        match self.rx.borrow().get(&name) {
            Some(status) => Ok(Response::new(response(*status))),
            None => Err(Status::not_found(format!("unknown service {name:?}"))),
        }
    }

    async fn list(
        &self,
        _request: Request<HealthListRequest>,
    ) -> Result<Response<HealthListResponse>, Status> {
        let statuses = self
            .rx
            .borrow()
            .iter()
            .map(|(k, v)| (k.clone(), response(*v)))
            .collect();
        Ok(Response::new(HealthListResponse { statuses }))
    }

    type WatchStream = WatchStream;

    async fn watch(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let mut rx = self.rx.clone();
        rx.mark_changed();
        let state = WatchState {
            rx,
            stop: self.stop.clone(),
            name: request.into_inner().service,
            last: None,
        };
        let stream = futures_util::stream::unfold(state, |mut st| async move {
            loop {
                tokio::select! {
                    changed = st.rx.changed() => {
                        if changed.is_err() {
                            return None;
                        }
                    }
                    () = st.stop.wait() => return None,
                }
                let status = st
                    .rx
                    .borrow_and_update()
                    .get(&st.name)
                    .copied()
                    .unwrap_or(ServingStatus::ServiceUnknown);
                if st.last != Some(status) {
                    st.last = Some(status);
                    return Some((Ok(response(status)), st));
                }
            }
        });
        Ok(Response::new(Box::pin(stream)))
    }
}

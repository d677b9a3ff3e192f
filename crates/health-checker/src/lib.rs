//! The health-checker: one status of the whole system.
//!
//! Every `health.check_interval` it checks NATS (connected, round trip),
//! JetStream (account reachable), the streams (exist and match their
//! declaration), Redis (`PING`) and, for every other service, its
//! grpc.health.v1 status and a live readiness signal. It also sweeps expired
//! readiness signals and logs each one once.
//!
//! The result is served three ways: grpc.health.v1 names (`""` for the whole
//! system, one name per component), the `faultline.health.v1.HealthStatus`
//! gRPC API with a Watch, and JSON on the admin port at `GET /v1/status`.

mod app;
mod checker;
mod grpc;
mod model;

pub use app::HealthCheckerApp;
pub use model::{ComponentStatus, State, SystemStatus};

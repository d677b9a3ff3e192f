//! The `faultline-task-dispatcher` binary.
//!
//! Until this service's own capability lands it runs the common core only:
//! configuration, telemetry, grpc.health.v1, readiness signal, startup gate
//! and graceful shutdown. It serves no API of its own.

use faultline_core::service::{self, CoreOnly};
use faultline_core::ServiceName;

fn main() {
    service::main(ServiceName::TaskDispatcher, |_ctx| async { Ok(CoreOnly) })
}

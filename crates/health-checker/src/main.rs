//! The `faultline-health-checker` binary.

use faultline_core::service;
use faultline_core::ServiceName;
use faultline_health_checker::HealthCheckerApp;

fn main() {
    service::main(ServiceName::HealthChecker, |ctx| async move {
        Ok(HealthCheckerApp::build(ctx))
    })
}

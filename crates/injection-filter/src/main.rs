//! The `faultline-injection-filter` binary: scans every error event for
//! prompt injection before any agent can read it.

use faultline_core::service as core_service;
use faultline_core::ServiceName;
use faultline_injection_filter::service;

fn main() {
    core_service::main(ServiceName::InjectionFilter, service::FilterApp::build)
}

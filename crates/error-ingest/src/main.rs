//! The `faultline-error-ingest` binary.

use faultline_core::service;
use faultline_core::ServiceName;
use faultline_error_ingest::IngestApp;

fn main() {
    service::main(ServiceName::ErrorIngest, IngestApp::build)
}

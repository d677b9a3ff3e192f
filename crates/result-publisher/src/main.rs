//! The `faultline-result-publisher` binary.

use faultline_core::service;
use faultline_core::ServiceName;
use faultline_result_publisher::PublisherApp;

fn main() {
    service::main(ServiceName::ResultPublisher, PublisherApp::build)
}

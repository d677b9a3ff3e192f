//! The `faultline-task-dispatcher` binary.

use faultline_core::service;
use faultline_core::ServiceName;
use faultline_task_dispatcher::DispatcherApp;

fn main() {
    service::main(ServiceName::TaskDispatcher, DispatcherApp::build)
}

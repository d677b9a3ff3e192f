//! `healthcheck` returns each of grpc-health-probe's exit codes in the
//! matching situation.

use std::time::Duration;

use faultline_core::healthcheck::exit;
use faultline_core::ServiceName::{ErrorIngest, TaskDispatcher};
use faultline_tests::Stack;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_exit_code() {
    let stack = Stack::start("probe");
    let _ingest = stack.spawn(ErrorIngest);
    // The dispatcher's dependency (injection-filter) never starts: NOT_SERVING.
    let _dispatcher = stack.spawn(TaskDispatcher);
    stack
        .wait_probe(ErrorIngest, exit::SERVING, Duration::from_secs(20))
        .await;
    stack
        .wait_probe(TaskDispatcher, exit::NOT_SERVING, Duration::from_secs(20))
        .await;

    let ingest = ErrorIngest.binary();
    let dispatcher = TaskDispatcher.binary();
    let code = |bin: &str, args: &[&str]| stack.run(bin, args, &[]);

    // 0: serving (address from the configuration, and given explicitly).
    let out = code(ingest, &["healthcheck"]);
    assert_eq!(out.code, Some(exit::SERVING), "{}", out.text);
    let addr = stack.grpc_addr(ErrorIngest);
    let out = code(
        ingest,
        &["healthcheck", "--addr", &addr, "--service", "error-ingest"],
    );
    assert_eq!(out.code, Some(exit::SERVING), "{}", out.text);
    // ... and with its readiness signal live in Redis.
    let out = code(ingest, &["healthcheck", "--readiness"]);
    assert_eq!(out.code, Some(exit::SERVING), "{}", out.text);

    // 1: bad arguments.
    let out = code(ingest, &["healthcheck", "--timeout", "soon"]);
    assert_eq!(out.code, Some(exit::BAD_ARGUMENTS), "{}", out.text);
    let out = code(ingest, &["healthcheck", "--no-such-flag"]);
    assert_eq!(out.code, Some(exit::BAD_ARGUMENTS), "{}", out.text);

    // 2: nothing listens there.
    let free = format!("127.0.0.1:{}", faultline_testkit::free_port());
    let out = code(
        ingest,
        &["healthcheck", "--addr", &free, "--timeout", "500ms"],
    );
    assert_eq!(out.code, Some(exit::CONNECT_FAILED), "{}", out.text);

    // 3: the RPC fails (unknown service name is NOT_FOUND).
    let out = code(ingest, &["healthcheck", "--service", "no-such-service"]);
    assert_eq!(out.code, Some(exit::RPC_FAILED), "{}", out.text);

    // 4: connected, NOT_SERVING; and no readiness signal while not serving.
    let out = code(dispatcher, &["healthcheck"]);
    assert_eq!(out.code, Some(exit::NOT_SERVING), "{}", out.text);
    let out = code(
        ingest,
        &["healthcheck", "--readiness", "--instance", "someone-else"],
    );
    assert_eq!(out.code, Some(exit::NOT_SERVING), "{}", out.text);

    // The admin port tells the same story over HTTP.
    let (code, body) = http_get(&stack.admin_addr(ErrorIngest), "/readyz").await;
    assert_eq!(code, 200, "{body}");
    let (code, body) = http_get(&stack.admin_addr(TaskDispatcher), "/readyz").await;
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("waits for injection-filter"), "{body}");
    let (code, _) = http_get(&stack.admin_addr(TaskDispatcher), "/livez").await;
    assert_eq!(code, 200);
    let (code, body) = http_get(&stack.admin_addr(TaskDispatcher), "/metrics").await;
    assert_eq!(code, 200);
    assert!(body.contains("faultline_serving 0"), "{body}");
    assert!(
        body.contains("faultline_gate_dependency_ready{dependency=\"injection-filter\"} 0"),
        "{body}"
    );
    assert!(
        body.contains("faultline_nats_events_total{event=\"connected\"} 1"),
        "{body}"
    );
    let (_, body) = http_get(&stack.admin_addr(ErrorIngest), "/metrics").await;
    assert!(body.contains("faultline_serving 1"), "{body}");
}

async fn http_get(addr: &str, path: &str) -> (u16, String) {
    let resp = faultline_testkit::http::request(addr, "GET", path, &[], b"")
        .await
        .expect("HTTP");
    (resp.status, resp.text())
}

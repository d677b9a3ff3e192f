//! Restarts of Redis and NATS under running services.

use std::time::{Duration, Instant};

use faultline_core::healthcheck::exit;
use faultline_core::ServiceName::{ErrorIngest, InjectionFilter, TaskDispatcher};
use faultline_tests::{Stack, RENEW};

const START: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_redis_restart_is_survived_and_every_signal_reasserted_within_one_renewal() {
    let mut stack = Stack::start("redis_restart");
    // The injection-filter is ready only once its error streams exist.
    let init = stack.run("faultline", &["init"], &[]);
    assert_eq!(init.code, Some(0), "{}", init.text);
    let mut filter = stack.spawn(InjectionFilter);
    let mut dispatcher = stack.spawn(TaskDispatcher);
    stack
        .wait_probe(InjectionFilter, exit::SERVING, START)
        .await;
    stack.wait_probe(TaskDispatcher, exit::SERVING, START).await;

    stack.redis.restart().expect("restart redis (empty)");
    let restarted = Instant::now();
    let readiness = stack.readiness().await;
    faultline_testkit::eventually(Duration::from_secs(10), "signals re-asserted", || async {
        let f = readiness.live(InjectionFilter).await.ok()?.len();
        let d = readiness.live(TaskDispatcher).await.ok()?.len();
        (f == 1 && d == 1).then_some(())
    })
    .await
    .unwrap();
    let took = restarted.elapsed();
    eprintln!("signals re-asserted {took:?} after the Redis restart (renewal {RENEW:?})");
    // One renewal, plus a poll and the client's reconnect.
    assert!(took <= RENEW + Duration::from_millis(1500), "took {took:?}");

    stack
        .wait_probe(TaskDispatcher, exit::SERVING, Duration::from_secs(5))
        .await;
    assert!(filter.try_status().is_none() && dispatcher.try_status().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nats_restart_is_survived() {
    let mut stack = Stack::start("nats_restart");
    // The injection-filter is ready only once its error streams exist.
    let init = stack.run("faultline", &["init"], &[]);
    assert_eq!(init.code, Some(0), "{}", init.text);
    let mut ingest = stack.spawn(ErrorIngest);
    stack.wait_probe(ErrorIngest, exit::SERVING, START).await;

    stack.nats.stop();
    stack
        .wait_probe(ErrorIngest, exit::NOT_SERVING, Duration::from_secs(5))
        .await;
    stack.nats.restart().expect("restart nats");
    stack
        .wait_probe(ErrorIngest, exit::SERVING, Duration::from_secs(20))
        .await;
    assert!(ingest.try_status().is_none(), "still running");
    let log = ingest.output();
    assert!(log.contains("NATS disconnected"), "{log}");
    assert!(
        log.contains("NOT_SERVING") && log.contains("NATS is not connected"),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_provisions_the_streams_at_start_when_configured() {
    let stack = Stack::start("on_start");
    let check = stack.run("faultline", &["init", "--check"], &[]);
    assert_eq!(check.code, Some(1), "{}", check.text);
    assert!(
        check.text.contains("ON_START_TASKS") && check.text.contains("MISSING"),
        "{}",
        check.text
    );

    let _ingest = stack.spawn_with(ErrorIngest, &[("FAULTLINE_PROVISION__ON_START", "true")]);
    stack.wait_probe(ErrorIngest, exit::SERVING, START).await;
    let check = stack.run("faultline", &["init", "--check", "--json"], &[]);
    assert_eq!(check.code, Some(0), "{}", check.text);
    let report: serde_json::Value = serde_json::from_str(&check.text).expect("json report");
    let streams = report["streams"].as_array().unwrap();
    assert_eq!(streams.len(), 11);
    assert!(
        streams.iter().all(|s| s["action"] == "unchanged"),
        "{report}"
    );
}

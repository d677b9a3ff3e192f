//! The startup gate and graceful shutdown, on the real binaries.

use std::time::{Duration, Instant};

use faultline_core::healthcheck::exit;
use faultline_core::ServiceName::{ErrorIngest, InjectionFilter, ResultPublisher, TaskDispatcher};
use faultline_tests::{Stack, GRACE, POLL, TTL};

const START: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gate_holds_a_dependent_until_its_dependency_is_ready() {
    let stack = Stack::start("gate_hold");
    // The injection-filter is ready only once its error streams exist.
    let init = stack.run("faultline", &["init"], &[]);
    assert_eq!(init.code, Some(0), "{}", init.text);
    let readiness = stack.readiness().await;
    let mut dispatcher = stack.spawn(TaskDispatcher);

    // It runs and answers, but NOT_SERVING, and says whom it waits for.
    stack
        .wait_probe(TaskDispatcher, exit::NOT_SERVING, START)
        .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(stack.probe(TaskDispatcher).await, exit::NOT_SERVING);
    assert!(readiness.live(TaskDispatcher).await.unwrap().is_empty());
    let log = dispatcher.output();
    assert!(
        log.contains("task-dispatcher waits for injection-filter: no readiness signal; never seen since start"),
        "{log}"
    );

    let _filter = stack.spawn(InjectionFilter);
    stack
        .wait_probe(InjectionFilter, exit::SERVING, START)
        .await;
    stack
        .wait_probe(TaskDispatcher, exit::SERVING, Duration::from_secs(5))
        .await;
    assert_eq!(readiness.live(TaskDispatcher).await.unwrap().len(), 1);
    assert!(
        dispatcher.try_status().is_none(),
        "the dispatcher kept running"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_dependency_turns_dependents_not_serving_within_one_ttl_and_they_recover() {
    let stack = Stack::start("gate_kill");
    // The injection-filter is ready only once its error streams exist.
    let init = stack.run("faultline", &["init"], &[]);
    assert_eq!(init.code, Some(0), "{}", init.text);
    let mut filter = stack.spawn(InjectionFilter);
    let _dispatcher = stack.spawn(TaskDispatcher);
    let _publisher = stack.spawn(ResultPublisher);
    for s in [InjectionFilter, TaskDispatcher, ResultPublisher] {
        stack.wait_probe(s, exit::SERVING, START).await;
    }

    filter.kill(); // SIGKILL: no withdrawal, the lease must expire
    let killed = Instant::now();
    stack
        .wait_probe(TaskDispatcher, exit::NOT_SERVING, TTL * 2)
        .await;
    let dispatcher_down = killed.elapsed();
    // Transitively: result-publisher depends on the dispatcher and the filter.
    stack
        .wait_probe(ResultPublisher, exit::NOT_SERVING, TTL * 2)
        .await;
    // One TTL, plus one gate poll and the probe's own round trip.
    let bound = TTL + POLL + Duration::from_millis(300);
    assert!(
        dispatcher_down <= bound,
        "task-dispatcher noticed after {dispatcher_down:?}, bound {bound:?}"
    );
    eprintln!("task-dispatcher NOT_SERVING {dispatcher_down:?} after the kill (TTL {TTL:?})");

    let _filter = stack.spawn(InjectionFilter);
    stack.wait_probe(TaskDispatcher, exit::SERVING, START).await;
    stack
        .wait_probe(ResultPublisher, exit::SERVING, Duration::from_secs(5))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_exits_zero_within_the_grace_period_and_removes_the_readiness_signal() {
    let stack = Stack::start("sigterm");
    // The injection-filter is ready only once its error streams exist.
    let init = stack.run("faultline", &["init"], &[]);
    assert_eq!(init.code, Some(0), "{}", init.text);
    let readiness = stack.readiness().await;
    let mut ingest = stack.spawn(ErrorIngest);
    stack.wait_probe(ErrorIngest, exit::SERVING, START).await;
    faultline_testkit::eventually(Duration::from_secs(5), "signal written", || async {
        (readiness.live(ErrorIngest).await.unwrap().len() == 1).then_some(())
    })
    .await
    .unwrap();

    let sent = Instant::now();
    ingest.terminate();
    let status = ingest
        .wait_timeout(GRACE)
        .expect("exits within the grace period");
    assert_eq!(status.code(), Some(0), "{}", ingest.output());
    // Withdrawn, not left to expire: gone well before one TTL.
    assert!(sent.elapsed() < TTL);
    assert!(readiness.live(ErrorIngest).await.unwrap().is_empty());
    assert!(
        readiness.sweep(ErrorIngest).await.unwrap().is_empty(),
        "withdrawn, not expired"
    );
    let log = ingest.output();
    assert!(log.contains("shutdown requested"), "{log}");
    assert!(log.contains("readiness signal withdrawn"), "{log}");

    // SIGINT behaves the same.
    let mut ingest = stack.spawn(ErrorIngest);
    stack.wait_probe(ErrorIngest, exit::SERVING, START).await;
    ingest.interrupt();
    let status = ingest
        .wait_timeout(GRACE)
        .expect("exits within the grace period");
    assert_eq!(status.code(), Some(0), "{}", ingest.output());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_signal_exits_at_once() {
    let stack = Stack::start("second_signal");
    // The injection-filter is ready only once its error streams exist.
    let init = stack.run("faultline", &["init"], &[]);
    assert_eq!(init.code, Some(0), "{}", init.text);
    let mut ingest = stack.spawn_with(ErrorIngest, &[("FAULTLINE_REDIS__TIMEOUT", "5s")]);
    stack.wait_probe(ErrorIngest, exit::SERVING, START).await;

    // Freeze Redis so that the drain (withdrawing the readiness signal) hangs.
    let redis_pid = stack.redis.pid().expect("redis runs").to_string();
    let signal = |sig: &str, pid: &str| {
        std::process::Command::new("kill")
            .args([sig, pid])
            .status()
            .unwrap();
    };
    signal("-STOP", &redis_pid);
    ingest.terminate();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        ingest.try_status().is_none(),
        "still draining while Redis hangs"
    );
    let second = Instant::now();
    ingest.terminate();
    let status = ingest
        .wait_timeout(Duration::from_secs(2))
        .expect("exits at once on the second signal");
    signal("-CONT", &redis_pid);
    assert_eq!(
        status.code(),
        Some(faultline_core::shutdown::EXIT_FORCED),
        "{}",
        ingest.output()
    );
    assert!(second.elapsed() < Duration::from_secs(1));
    assert!(
        ingest.output().contains("second signal"),
        "{}",
        ingest.output()
    );
}

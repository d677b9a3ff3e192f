//! Provisioning against a real nats-server: exactly the declared streams,
//! idempotent, drift reported and repaired, safe when run concurrently.

use std::time::Duration;

use faultline_core::config::ProvisionConfig;
use faultline_core::names::{Names, Namespace};
use faultline_core::provision::{declared_streams, provision, Mode, Outcome};
use faultline_testkit::NatsServer;
use futures_util::StreamExt;

async fn js(server: &NatsServer) -> async_nats::jetstream::Context {
    let client = async_nats::connect(server.url()).await.expect("connect");
    async_nats::jetstream::new(client)
}

fn specs(ns: &str) -> Vec<faultline_core::provision::StreamSpec> {
    declared_streams(
        &Names::new(Namespace::new(ns).unwrap()),
        &ProvisionConfig::default(),
    )
    .unwrap()
}

async fn stream_names(js: &async_nats::jetstream::Context) -> Vec<String> {
    let mut names: Vec<String> = js
        .stream_names()
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn creates_exactly_the_declared_streams_and_a_second_run_changes_nothing() {
    let server = NatsServer::start().expect("nats-server");
    let js = js(&server).await;
    let specs = specs("prov");

    let first = provision(&js, &specs, Mode::Apply).await.unwrap();
    assert!(
        first.streams.iter().all(|s| s.outcome == Outcome::Created),
        "{first}"
    );
    let mut declared: Vec<String> = specs.iter().map(|s| s.name.clone()).collect();
    declared.sort();
    assert_eq!(stream_names(&js).await, declared);

    let tasks = js.get_stream("PROV_TASKS").await.unwrap();
    let cfg = &tasks.cached_info().config;
    assert_eq!(cfg.subjects, ["prov.tasks.>"]);
    assert_eq!(
        cfg.retention,
        async_nats::jetstream::stream::RetentionPolicy::WorkQueue
    );
    assert_eq!(cfg.duplicate_window, Duration::from_secs(120));

    let second = provision(&js, &specs, Mode::Apply).await.unwrap();
    assert!(second.in_sync() && !second.changed(), "{second}");
    assert!(second
        .streams
        .iter()
        .all(|s| s.outcome == Outcome::Unchanged));
    let check = provision(&js, &specs, Mode::Check).await.unwrap();
    assert!(check.in_sync() && !check.changed());
}

#[tokio::test]
async fn drift_is_reported_then_repaired() {
    let server = NatsServer::start().expect("nats-server");
    let js = js(&server).await;
    let specs = specs("drift");
    provision(&js, &specs, Mode::Apply).await.unwrap();

    // Someone changes a stream by hand.
    let mut stream = js.get_stream("DRIFT_RESULTS").await.unwrap();
    let mut changed = stream.info().await.unwrap().config.clone();
    changed.max_age = Duration::from_secs(3600);
    js.update_stream(&changed).await.unwrap();

    let check = provision(&js, &specs, Mode::Check).await.unwrap();
    assert!(!check.in_sync());
    let drifted = check
        .streams
        .iter()
        .find(|s| s.stream == "DRIFT_RESULTS")
        .unwrap();
    match &drifted.outcome {
        Outcome::Drifted { drift } => {
            assert_eq!(drift.len(), 1, "{drift:?}");
            assert_eq!(drift[0].field, "max_age");
            assert_eq!(drift[0].actual, "1h");
        }
        other => panic!("expected drift, got {other:?}"),
    }
    // Check mode changed nothing.
    let info = js.get_stream("DRIFT_RESULTS").await.unwrap();
    assert_eq!(info.cached_info().config.max_age, Duration::from_secs(3600));

    let apply = provision(&js, &specs, Mode::Apply).await.unwrap();
    assert!(apply.in_sync());
    assert!(matches!(
        apply
            .streams
            .iter()
            .find(|s| s.stream == "DRIFT_RESULTS")
            .unwrap()
            .outcome,
        Outcome::Updated { .. }
    ));
    let info = js.get_stream("DRIFT_RESULTS").await.unwrap();
    assert_eq!(
        info.cached_info().config.max_age,
        Duration::from_secs(30 * 24 * 3600)
    );

    // A deleted stream is reported missing, then recreated.
    js.delete_stream("DRIFT_SECURITY").await.unwrap();
    let check = provision(&js, &specs, Mode::Check).await.unwrap();
    assert!(check
        .streams
        .iter()
        .any(|s| s.stream == "DRIFT_SECURITY" && s.outcome == Outcome::Missing));
    provision(&js, &specs, Mode::Apply).await.unwrap();
    assert!(provision(&js, &specs, Mode::Check).await.unwrap().in_sync());
}

#[tokio::test]
async fn several_processes_provisioning_at_once_agree() {
    let server = NatsServer::start().expect("nats-server");
    let specs = specs("race");
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let js = js(&server).await;
        let specs = specs.clone();
        tasks.push(tokio::spawn(async move {
            provision(&js, &specs, Mode::Apply).await
        }));
    }
    for t in tasks {
        let report = t.await.unwrap().expect("concurrent provisioning succeeds");
        assert!(report.in_sync(), "{report}");
    }
    let js = js(&server).await;
    assert_eq!(stream_names(&js).await.len(), specs.len());
}

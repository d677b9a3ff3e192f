//! The health-checker on a full stack: every component healthy, a dead
//! service reported with its reason, the status served by gRPC, Watch and JSON.

use std::time::Duration;

use faultline_core::healthcheck::exit;
use faultline_core::ServiceName::{self, HealthChecker, TaskDispatcher};
use faultline_proto::faultline::health::v1::{
    health_status_client::HealthStatusClient, ComponentState, GetStatusRequest, WatchStatusRequest,
};
use faultline_tests::{Stack, TTL};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_every_component_and_a_dead_service_with_its_reason() {
    let stack = Stack::start("hc");
    let init = stack.run("faultline", &["init"], &[]);
    assert_eq!(init.code, Some(0), "{}", init.text);
    assert!(
        init.text.contains("HC_TASKS") && init.text.contains("created"),
        "{}",
        init.text
    );
    let again = stack.run("faultline", &["init"], &[]);
    assert_eq!(again.code, Some(0), "{}", again.text);
    assert!(
        !again.text.contains("created") && again.text.contains("unchanged"),
        "{}",
        again.text
    );

    let mut procs: Vec<_> = ServiceName::ALL
        .into_iter()
        .map(|s| (s, stack.spawn(s)))
        .collect();
    let channel = tonic::transport::Endpoint::from_shared(format!(
        "http://{}",
        stack.grpc_addr(HealthChecker)
    ))
    .unwrap()
    .connect_lazy();
    let mut client = HealthStatusClient::new(channel);

    faultline_testkit::eventually(Duration::from_secs(30), "whole system healthy", || {
        let mut client = client.clone();
        async move {
            let st = client
                .get_status(GetStatusRequest {})
                .await
                .ok()?
                .into_inner();
            (st.state == ComponentState::Healthy as i32).then_some(())
        }
    })
    .await
    .unwrap();
    let status = client
        .get_status(GetStatusRequest {})
        .await
        .unwrap()
        .into_inner();
    let names: Vec<&str> = status.components.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "nats",
            "jetstream",
            "streams",
            "pipeline",
            "redis",
            "error-ingest",
            "injection-filter",
            "task-dispatcher",
            "result-publisher"
        ]
    );
    // grpc.health.v1 names: "" is the whole system, one per component.
    for name in ["", "nats", "redis", "streams", "task-dispatcher"] {
        let out = stack.run(
            HealthChecker.binary(),
            &["healthcheck", "--service", name],
            &[],
        );
        assert_eq!(out.code, Some(exit::SERVING), "{name}: {}", out.text);
    }
    // The CLI and the JSON endpoint agree.
    let cli = stack.run("faultline", &["status"], &[]);
    assert_eq!(cli.code, Some(0), "{}", cli.text);
    assert!(cli.text.contains("system: healthy"), "{}", cli.text);
    let json = http_get(&stack.admin_addr(HealthChecker), "/v1/status").await;
    assert_eq!(json.status, 200, "{}", json.text());
    assert_eq!(json.json()["state"], "healthy");

    let mut watch = client
        .watch_status(WatchStatusRequest {})
        .await
        .unwrap()
        .into_inner();
    let first = watch.message().await.unwrap().unwrap();
    assert_eq!(first.state, ComponentState::Healthy as i32);

    // Kill -9 the dispatcher: its lease expires, the checker says so.
    let (_, dispatcher) = procs
        .iter_mut()
        .find(|(s, _)| *s == TaskDispatcher)
        .unwrap();
    dispatcher.kill();
    let changed = tokio::time::timeout(TTL * 3, async {
        loop {
            let st = watch.message().await.unwrap().unwrap();
            if st.state == ComponentState::Unhealthy as i32 {
                return st;
            }
        }
    })
    .await
    .expect("watch reports the failure");
    let c = changed
        .components
        .iter()
        .find(|c| c.name == "task-dispatcher")
        .unwrap();
    assert_eq!(c.state, ComponentState::Unhealthy as i32);
    assert!(c.reason.contains("grpc.health.v1 at"), "{}", c.reason);
    assert!(c.last_healthy_unix_ms > 0);
    let out = stack.run(HealthChecker.binary(), &["healthcheck"], &[]);
    assert_eq!(out.code, Some(exit::NOT_SERVING), "{}", out.text);
    let cli = stack.run("faultline", &["status"], &[]);
    assert_eq!(cli.code, Some(exit::NOT_SERVING), "{}", cli.text);
    let json = http_get(&stack.admin_addr(HealthChecker), "/v1/status").await;
    assert_eq!(json.status, 503, "{}", json.text());

    // The sweeper notices the expired lease once it is gone.
    faultline_testkit::eventually(TTL * 3, "expiry logged", || {
        let out = procs[0].1.output();
        async move {
            out.contains("readiness signal expired without being withdrawn")
                .then_some(())
        }
    })
    .await
    .unwrap();
}

/// The state and reason of one component.
async fn component(
    client: &mut HealthStatusClient<tonic::transport::Channel>,
    name: &str,
) -> Option<(i32, String)> {
    let st = client
        .get_status(GetStatusRequest {})
        .await
        .ok()?
        .into_inner();
    st.components
        .into_iter()
        .find(|c| c.name == name)
        .map(|c| (c.state, c.reason))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_error_stream_is_reported_and_recovers() {
    let stack = Stack::start("stl");
    let init = stack.run("faultline", &["init"], &[]);
    assert_eq!(init.code, Some(0), "{}", init.text);
    let _checker = stack.spawn_with(HealthChecker, &[("FAULTLINE_HEALTH__STALL_AFTER", "1s")]);
    let channel = tonic::transport::Endpoint::from_shared(format!(
        "http://{}",
        stack.grpc_addr(HealthChecker)
    ))
    .unwrap()
    .connect_lazy();
    let client = HealthStatusClient::new(channel);
    faultline_testkit::eventually(
        Duration::from_secs(20),
        "pipeline healthy while empty",
        || {
            let mut client = client.clone();
            async move {
                let (state, _) = component(&mut client, "pipeline").await?;
                (state == ComponentState::Healthy as i32).then_some(())
            }
        },
    )
    .await
    .unwrap();

    // An event nobody takes: no injection-filter runs.
    let nats = async_nats::connect(stack.nats.url()).await.unwrap();
    let js = async_nats::jetstream::new(nats);
    js.publish("stl.errors.staging", r#"{"error":"boom"}"#.into())
        .await
        .unwrap()
        .await
        .unwrap();
    let reason = faultline_testkit::eventually(Duration::from_secs(20), "pipeline stalled", || {
        let mut client = client.clone();
        async move {
            let (state, reason) = component(&mut client, "pipeline").await?;
            (state == ComponentState::Unhealthy as i32).then_some(reason)
        }
    })
    .await
    .unwrap();
    assert!(
        reason.contains("STL_STAGING_ERRORS: 1 events waiting"),
        "{reason}"
    );

    // The filter takes it: healthy again.
    let _filter = stack.spawn(ServiceName::InjectionFilter);
    faultline_testkit::eventually(Duration::from_secs(30), "pipeline moving again", || {
        let mut client = client.clone();
        async move {
            let (state, _) = component(&mut client, "pipeline").await?;
            (state == ComponentState::Healthy as i32).then_some(())
        }
    })
    .await
    .unwrap();
}

async fn http_get(addr: &str, path: &str) -> faultline_testkit::http::HttpResponse {
    faultline_testkit::http::request(addr, "GET", path, &[], b"")
        .await
        .expect("HTTP")
}

//! grpc.health.v1 served by the core: Check, List, and Watch as the
//! specification says (an unknown service streams SERVICE_UNKNOWN and the
//! stream stays open).

use std::time::Duration;

use faultline_core::health::{HealthReporter, Serving};
use faultline_core::shutdown::Shutdown;
use faultline_proto::grpc::health::v1::{
    health_check_response::ServingStatus, health_client::HealthClient, HealthCheckRequest,
    HealthListRequest,
};
use tokio_stream::wrappers::TcpListenerStream;

async fn serve(reporter: &HealthReporter) -> (HealthClient<tonic::transport::Channel>, Shutdown) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, _) = Shutdown::new();
    let svc = reporter.service(stop.signal());
    let signal = stop.signal();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(svc)
            .serve_with_incoming_shutdown(TcpListenerStream::new(listener), signal.into_future()),
    );
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let client = HealthClient::new(channel);
    (client, stop)
}

fn req(s: &str) -> HealthCheckRequest {
    HealthCheckRequest { service: s.into() }
}

#[tokio::test]
async fn check_and_list() {
    let reporter = HealthReporter::new();
    reporter.set("", Serving::Serving);
    reporter.set("task-dispatcher", Serving::NotServing);
    let (mut client, _stop) = serve(&reporter).await;
    let r = client.check(req("")).await.unwrap().into_inner();
    assert_eq!(r.status, ServingStatus::Serving as i32);
    let r = client
        .check(req("task-dispatcher"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.status, ServingStatus::NotServing as i32);
    let err = client.check(req("nope")).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);
    let list = client
        .list(HealthListRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.statuses.len(), 2);
}

#[tokio::test]
async fn watch_of_an_unknown_service_stays_open_and_sees_it_appear() {
    let reporter = HealthReporter::new();
    let (mut client, stop) = serve(&reporter).await;
    let mut stream = client.watch(req("late")).await.unwrap().into_inner();
    let first = stream.message().await.unwrap().unwrap();
    assert_eq!(first.status, ServingStatus::ServiceUnknown as i32);

    // Still open: nothing more arrives while nothing changes.
    let quiet = tokio::time::timeout(Duration::from_millis(300), stream.message()).await;
    assert!(
        quiet.is_err(),
        "the stream must stay open and quiet: {quiet:?}"
    );

    reporter.set("other", Serving::Serving); // another name: no message
    reporter.set("late", Serving::NotServing);
    let next = stream.message().await.unwrap().unwrap();
    assert_eq!(next.status, ServingStatus::NotServing as i32);
    reporter.set("late", Serving::Serving);
    let next = stream.message().await.unwrap().unwrap();
    assert_eq!(next.status, ServingStatus::Serving as i32);

    // Shutdown: NOT_SERVING first, then the stream ends.
    reporter.set_all_not_serving();
    let next = stream.message().await.unwrap().unwrap();
    assert_eq!(next.status, ServingStatus::NotServing as i32);
    stop.trigger();
    let end = tokio::time::timeout(Duration::from_secs(5), stream.message())
        .await
        .expect("stream ends on stop");
    assert!(matches!(end, Ok(None) | Err(_)), "{end:?}");
}

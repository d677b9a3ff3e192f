//! Readiness leases against a real redis-server.

use std::time::Duration;

use faultline_core::config::RedisConfig;
use faultline_core::names::{Names, Namespace, ServiceName};
use faultline_core::readiness::{Readiness, ReadinessSignal};
use faultline_testkit::{eventually, RedisServer};

fn signal(instance: &str) -> ReadinessSignal {
    ReadinessSignal {
        service: "task-dispatcher".into(),
        instance: instance.into(),
        version: "0.1.0".into(),
        grpc_addr: "127.0.0.1:50053".into(),
        admin_addr: "127.0.0.1:9093".into(),
        started_at: "2026-01-01T00:00:00Z".into(),
        renewed_at: String::new(),
    }
}

async fn readiness(server: &RedisServer, ttl: Duration) -> Readiness {
    let cfg = RedisConfig {
        url: faultline_core::config::Url::new(server.url()),
        connect_attempts: 3,
        ..RedisConfig::default()
    };
    let conn = faultline_core::redis_client::connect(&cfg)
        .await
        .expect("redis");
    Readiness::new(conn, Names::new(Namespace::new("rdy").unwrap()), ttl)
}

const SVC: ServiceName = ServiceName::TaskDispatcher;

#[tokio::test]
async fn assert_read_withdraw() {
    let server = RedisServer::start().expect("redis-server");
    let r = readiness(&server, Duration::from_secs(10)).await;
    assert!(r.live(SVC).await.unwrap().is_empty());
    r.assert(SVC, &signal("a")).await.unwrap();
    r.assert(SVC, &signal("b")).await.unwrap();
    let live = r.live(SVC).await.unwrap();
    assert_eq!(live.len(), 2);
    assert_eq!(live[0].grpc_addr, "127.0.0.1:50053");
    assert!(!live[0].renewed_at.is_empty());
    // Other services see nothing.
    assert!(r.live(ServiceName::ErrorIngest).await.unwrap().is_empty());

    r.withdraw(SVC, "a").await.unwrap();
    let live = r.live(SVC).await.unwrap();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].instance, "b");
    // A withdrawn signal is not an expiry.
    assert!(r.sweep(SVC).await.unwrap().is_empty());
}

#[tokio::test]
async fn an_unrenewed_signal_expires_and_the_sweeper_reports_it_once() {
    let server = RedisServer::start().expect("redis-server");
    let r = readiness(&server, Duration::from_secs(1)).await;
    r.assert(SVC, &signal("dies")).await.unwrap();
    r.assert(SVC, &signal("lives")).await.unwrap();
    let started = std::time::Instant::now();
    eventually(Duration::from_secs(5), "the signal expires", || async {
        // Keep one instance renewing.
        r.assert(SVC, &signal("lives")).await.unwrap();
        let live = r.live(SVC).await.unwrap();
        (live.len() == 1).then_some(())
    })
    .await
    .unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(1600),
        "{:?}",
        started.elapsed()
    );
    let expired = r.sweep(SVC).await.unwrap();
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].instance, "dies");
    assert!(r.sweep(SVC).await.unwrap().is_empty(), "reported once");
    assert_eq!(r.live(SVC).await.unwrap()[0].instance, "lives");
}

#[tokio::test]
async fn an_empty_redis_restart_is_repaired_by_the_next_assert() {
    let mut server = RedisServer::start().expect("redis-server");
    let r = readiness(&server, Duration::from_secs(10)).await;
    r.assert(SVC, &signal("a")).await.unwrap();
    server.restart().expect("restart redis");
    // The connection manager reconnects by itself; the next renewal writes
    // the whole signal again (SET, not EXPIRE).
    eventually(Duration::from_secs(10), "renewal after restart", || async {
        r.assert(SVC, &signal("a")).await.ok()
    })
    .await
    .unwrap();
    assert_eq!(r.live(SVC).await.unwrap().len(), 1);
}

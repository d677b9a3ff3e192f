//! Denied publishes are invisible to the publisher except as an async
//! "permissions violation" from the server: the core must log and count it.

use std::time::Duration;

use faultline_core::config::{NatsConfig, Secret, Url};
use faultline_core::metrics::Metrics;
use faultline_testkit::{eventually, NatsServer};

#[tokio::test]
async fn permission_violations_and_reconnects_are_counted() {
    let mut server = NatsServer::builder()
        .extra_config(
            r#"
authorization {
  users = [
    { user: "limited", password: "test-only-password", permissions: { publish: { deny: ["forbidden.>"] } } }
  ]
}
"#,
        )
        .start()
        .expect("nats-server");
    let cfg = NatsConfig {
        url: Url::new(server.url()),
        user: Some("limited".into()),
        password: Some(Secret::new("test-only-password")),
        connect_attempts: 3,
        ..NatsConfig::default()
    };
    let metrics = Metrics::new();
    let nats = faultline_core::nats::connect(&cfg, "events-test", &metrics)
        .await
        .expect("connect");
    nats.client
        .publish("forbidden.x", "nope".into())
        .await
        .unwrap();
    nats.client.flush().await.unwrap();
    eventually(Duration::from_secs(5), "server_error counted", || {
        let text = metrics.encode();
        async move {
            text.contains("faultline_nats_events_total{event=\"server_error\"} 1")
                .then_some(())
        }
    })
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", metrics.encode()));

    server.restart().expect("restart");
    eventually(
        Duration::from_secs(15),
        "disconnect and reconnect counted",
        || {
            let text = metrics.encode();
            async move {
                (text.contains("faultline_nats_events_total{event=\"disconnected\"} 1")
                    && text.contains("faultline_nats_events_total{event=\"connected\"} 2"))
                .then_some(())
            }
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", metrics.encode()));
}

#[tokio::test]
async fn wrong_credentials_fail_after_bounded_attempts() {
    let server = NatsServer::builder()
        .extra_config("authorization { user: \"u\", password: \"right-placeholder\" }\n")
        .start()
        .expect("nats-server");
    let cfg = NatsConfig {
        url: Url::new(server.url()),
        user: Some("u".into()),
        password: Some(Secret::new("wrong-placeholder")),
        connect_attempts: 2,
        backoff_initial: Duration::from_millis(50),
        ..NatsConfig::default()
    };
    let err = faultline_core::nats::connect(&cfg, "auth-test", &Metrics::new())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("after 2 attempts"), "{err}");
    assert!(!err.contains("wrong-placeholder"), "{err}");
}

//! Integration tests against real nats-server and redis-server processes.

use std::net::TcpStream;
use std::time::Duration;

use faultline_testkit::{
    binary, redis_command, Error, NatsCluster, NatsServer, RedisServer, ServiceProcess,
};

#[test]
fn nats_starts_and_restarts_on_the_same_port() {
    let mut nats = NatsServer::start().expect("start nats-server");
    assert_eq!(nats.url(), format!("nats://127.0.0.1:{}", nats.port()));
    TcpStream::connect(("127.0.0.1", nats.port())).expect("client port accepts connections");
    assert!(nats.jetstream_healthy(), "{}", nats.log());
    assert!(nats.store_dir().is_dir());

    let port = nats.port();
    nats.stop();
    assert!(!nats.is_running());
    nats.restart().expect("restart nats-server");
    assert_eq!(nats.port(), port);
    assert!(nats.is_running());
    assert!(nats.jetstream_healthy(), "{}", nats.log());
    assert!(nats.log().contains("Server is ready"), "{}", nats.log());
}

#[test]
fn nats_start_failure_reports_log_tail() {
    let err = NatsServer::builder()
        .extra_config("this is { not valid")
        .start()
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::StartTimeout { .. }), "{msg}");
    assert!(
        msg.contains("nats-server") && msg.contains("log tail"),
        "{msg}"
    );
}

#[test]
fn redis_restart_comes_back_empty() {
    let mut redis = RedisServer::start().expect("start redis-server");
    let port = redis.port();
    assert_eq!(redis_command(port, "PING").unwrap(), "+PONG");
    // RESP array form, as a client library would send it.
    let set = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv";
    assert_eq!(redis_command(port, set).unwrap(), "+OK");
    assert_eq!(redis_command(port, "GET k").unwrap(), "$1");

    redis.restart().expect("restart redis-server");
    assert_eq!(redis.port(), port);
    assert_eq!(
        redis_command(port, "GET k").unwrap(),
        "$-1",
        "{}",
        redis.log()
    );
}

#[test]
fn cluster_elects_leader_and_survives_node_restart() {
    let mut cluster = NatsCluster::start(3).expect("start 3-node cluster");
    assert_eq!(cluster.urls().len(), 3);
    assert_eq!(cluster.url().split(',').count(), 3);

    cluster.node(1).kill();
    assert!(!cluster.node(1).is_running());
    cluster.node(1).restart().expect("restart node-1");
    let leader = cluster
        .wait_for_meta_leader(Duration::from_secs(30))
        .expect("meta leader after restart");
    assert!(leader.starts_with("node-"), "{leader}");
}

#[test]
fn missing_workspace_binary_has_hint() {
    let err = binary("definitely-missing").unwrap_err();
    assert!(matches!(err, Error::MissingBinary { .. }));
    assert!(
        err.to_string().contains("cargo build --workspace --bins"),
        "{err}"
    );
}

#[test]
fn service_process_captures_output_and_scrubs_env() {
    let sh = std::path::Path::new("/bin/sh");
    let mut proc = ServiceProcess::spawn(
        sh,
        &[
            "-c",
            "echo \"x=$FAULTLINE_X nats=${NATS_URL:-unset}\"; exec sleep 30",
        ],
        &[("FAULTLINE_X", "1".to_owned())],
    )
    .expect("spawn sh");
    let out = (0..100)
        .map(|_| {
            std::thread::sleep(Duration::from_millis(20));
            proc.output()
        })
        .find(|o| o.contains('\n'))
        .unwrap_or_default();
    assert!(out.contains("x=1 nats=unset"), "{out:?}");
    proc.terminate();
    let status = proc
        .wait_timeout(Duration::from_secs(5))
        .expect("exits on SIGTERM");
    assert!(!status.success());
}

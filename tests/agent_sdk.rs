//! The Rust agent SDK against the real task-dispatcher (NATS and Redis real
//! too): claim, progress, complete; an operator's cancel reaches the task's
//! `cancelled()` through the SDK's own heartbeat; graceful shutdown hands a
//! held task back without spending an attempt; a stale lease is a
//! `StaleLease` error.

use std::time::Duration;

use faultline_agent::{Agent, AgentConfig, ErrorKind};
use faultline_core::healthcheck::exit;
use faultline_core::ServiceName::TaskDispatcher;
use faultline_proto::faultline::dispatch::v1 as pb;
use faultline_tests::Stack;
use pb::task_dispatcher_client::TaskDispatcherClient;
use serde_json::json;
use tonic::transport::Channel;

fn config(id: &str) -> AgentConfig {
    AgentConfig {
        agent_id: id.into(),
        name: id.into(),
        capabilities: vec!["investigation".into()],
        max_tasks: 2,
        ..Default::default()
    }
}

async fn submit(c: &mut TaskDispatcherClient<Channel>, id: &str) {
    c.submit_task(pb::SubmitTaskRequest {
        task: Some(pb::TaskSpec {
            id: id.into(),
            r#type: "investigation".into(),
            priority: 5,
            description: format!("Look into {id}"),
            context_json: json!({"error": "ZeroDivisionError: division by zero"}).to_string(),
            ..Default::default()
        }),
        job_id: String::new(),
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_works_against_the_real_dispatcher() {
    let stack = Stack::start("sdk");
    let out = stack.run("faultline", &["init"], &[]);
    assert_eq!(out.code, Some(0), "{}", out.text);
    let _d = stack.spawn_with(
        TaskDispatcher,
        &[
            ("FAULTLINE_SERVICES__TASK_DISPATCHER__DEPENDS_ON", ""),
            ("FAULTLINE_DISPATCHER__HEARTBEAT_INTERVAL", "1s"),
        ],
    );
    stack
        .wait_probe(TaskDispatcher, exit::SERVING, Duration::from_secs(30))
        .await;
    let endpoint = format!("http://{}", stack.grpc_addr(TaskDispatcher));
    let channel = Channel::from_shared(endpoint.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut ops = TaskDispatcherClient::new(channel);

    let agent = Agent::connect(&endpoint, config("sdk-1")).await.unwrap();
    assert_eq!(agent.heartbeat_interval(), Duration::from_secs(1));

    // Claim, progress, complete.
    submit(&mut ops, "s1").await;
    let task = agent
        .claim(Duration::from_secs(5))
        .await
        .unwrap()
        .expect("s1");
    assert_eq!(task.task().id, "s1");
    task.progress("reading the trace").await.unwrap();
    task.complete(json!({"outcome": "fixed"}).to_string())
        .await
        .unwrap();
    let st = ops
        .get_task(pb::GetTaskRequest {
            task_id: "s1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(st.state, "completed");
    assert_eq!(st.progress, "reading the trace");

    // An operator cancels; the SDK's heartbeat brings it to the handle.
    submit(&mut ops, "s2").await;
    let task = agent
        .claim(Duration::from_secs(5))
        .await
        .unwrap()
        .expect("s2");
    ops.cancel_task(pb::CancelTaskRequest {
        task_id: "s2".into(),
        operator: "dana".into(),
        reason: "duplicate".into(),
    })
    .await
    .unwrap();
    let revoked = tokio::time::timeout(Duration::from_secs(5), task.cancelled())
        .await
        .expect("the cancel reaches the agent within a few heartbeats");
    assert_eq!(revoked.reason, "cancelled");
    let err = task.complete("{}".to_string()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::StaleLease, "{err:?}");

    // Graceful shutdown hands a held task back; another agent gets it
    // without an attempt spent.
    submit(&mut ops, "s3").await;
    let held = agent
        .claim(Duration::from_secs(5))
        .await
        .unwrap()
        .expect("s3");
    assert_eq!(held.task().attempt, 1);
    let report = agent.shutdown().await.unwrap();
    drop(held);
    assert_eq!(report.handed_back, 1, "{report:?}");
    let other = Agent::connect(&endpoint, config("sdk-2")).await.unwrap();
    let again = other
        .claim(Duration::from_secs(5))
        .await
        .unwrap()
        .expect("s3 again");
    assert_eq!(again.task().id, "s3");
    assert_eq!(again.task().attempt, 1, "a hand-back is not an attempt");
    again.complete("{}".to_string()).await.unwrap();
    other.shutdown().await.unwrap();
}

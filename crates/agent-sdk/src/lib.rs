//! The Rust SDK for agents of faultline's task-dispatcher.
//!
//! An agent connects and registers ([`Agent::connect`]); from then on a tokio
//! task heartbeats at the interval the dispatcher asks for, reporting the
//! leases the agent holds and applying the answer. The agent claims tasks
//! ([`Agent::claim`]), each under a fenced [`Lease`]; the [`ClaimedTask`]
//! handle reports progress and completes, fails or hands the task back. When
//! the dispatcher revokes a lease (an operator cancelled the task, the attempt
//! ran out of time, the lease went elsewhere), the handle's
//! [`cancelled`](ClaimedTask::cancelled) future resolves with the reason.
//! [`Agent::shutdown`] hands every held task back and deregisters.
//!
//! A task's `description` is faultline's own text. Its `context_json` (the
//! error event) is **untrusted**: anyone who can make a server fail wrote it.
//! Give it to a model as data, never as instructions.
//!
//! Errors have a [`kind`](Error::kind) to match on; [`Error::is_retryable`]
//! says when to back off and try again. See [`ErrorKind`] for how the
//! dispatcher's gRPC codes map.
//!
//! # Example
//!
//! ```no_run
//! use std::time::Duration;
//!
//! use faultline_agent::{Agent, AgentConfig, ErrorKind};
//!
//! # async fn run() -> Result<(), faultline_agent::Error> {
//! let agent = Agent::connect(
//!     "http://127.0.0.1:50053",
//!     AgentConfig {
//!         agent_id: "investigator-1".into(),
//!         name: "Investigator".into(),
//!         capabilities: vec!["investigation".into()],
//!         max_tasks: 1,
//!         ..Default::default()
//!     },
//! )
//! .await?;
//!
//! loop {
//!     let task = match agent.claim(Duration::from_secs(20)).await {
//!         Ok(Some(task)) => task,
//!         Ok(None) => continue,
//!         Err(err) if err.is_retryable() => {
//!             tokio::time::sleep(Duration::from_secs(1)).await;
//!             continue;
//!         }
//!         Err(err) if err.kind() == ErrorKind::Shutdown => break,
//!         Err(err) => return Err(err),
//!     };
//!     task.progress("reading the stack trace").await?;
//!     tokio::select! {
//!         revoked = task.cancelled() => {
//!             // Stop: the task is no longer ours. Dropping the handle is enough.
//!             eprintln!("lease revoked: {}", revoked.reason);
//!         }
//!         summary = investigate(task.task().context_json.as_str()) => {
//!             task.complete(format!(r#"{{"outcome":"fixed","summary":{summary:?}}}"#)).await?;
//!         }
//!     }
//! }
//! agent.shutdown().await?;
//! # Ok(())
//! # }
//! # async fn investigate(_untrusted_context: &str) -> String { String::new() }
//! ```

#![warn(missing_docs)]

mod agent;
mod backoff;
mod config;
mod error;
mod lease;
mod task;

pub use agent::{Agent, ShutdownReport};
pub use config::{AgentConfig, MAX_AGENT_ID_LEN};
pub use error::{Error, ErrorKind};
pub use faultline_proto::faultline::results::v1 as results_proto;
pub use lease::{reason, Lease, Revoked, RevokedBy};
pub use task::{ClaimedTask, InvestigationStatus, Outcome, TaskResult};

/// The dispatcher's generated protobuf types ([`proto::Task`],
/// [`proto::FailResponse`], ...), re-exported so agents need no direct
/// dependency on `faultline-proto`.
pub use faultline_proto::faultline::dispatch::v1 as proto;

//! A demo agent: claims tasks, shows what it got, publishes a status update
//! and a result through the result-publisher (`needs_human`: it investigates
//! nothing), which completes the task.
//!
//! ```sh
//! cargo run -p faultline-agent --example agent -- \
//!     --endpoint http://127.0.0.1:50053 --results-endpoint http://127.0.0.1:50054 \
//!     --name demo --capabilities investigation
//! ```
//!
//! With `--results-endpoint ''` it completes through the dispatcher instead.
//!
//! Ctrl-C or SIGTERM stops it gracefully: the task in hand is handed back and
//! the agent deregisters. A second signal exits at once.

// A terminal demo: what it prints is for the person running it.
#![allow(clippy::print_stdout)]

use std::time::Duration;

use clap::Parser;
use faultline_agent::{
    Agent, AgentConfig, ClaimedTask, ErrorKind, InvestigationStatus, Outcome, TaskResult,
};

#[derive(Debug, Parser)]
#[command(about = "A demo faultline agent: claims tasks and completes them with `needs_human`.")]
struct Args {
    /// The task-dispatcher's gRPC address.
    #[arg(
        long,
        env = "FAULTLINE_AGENT_ENDPOINT",
        default_value = "http://127.0.0.1:50053"
    )]
    endpoint: String,
    /// The result-publisher's gRPC address ("" to complete through the
    /// dispatcher without publishing a result).
    #[arg(
        long,
        env = "FAULTLINE_AGENT_RESULTS_ENDPOINT",
        default_value = "http://127.0.0.1:50054"
    )]
    results_endpoint: String,
    /// Display name.
    #[arg(long, default_value = "demo")]
    name: String,
    /// Stable agent id ([A-Za-z0-9_-], at most 64); defaults to the name.
    #[arg(long)]
    agent_id: Option<String>,
    /// Capabilities, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "investigation")]
    capabilities: Vec<String>,
    /// Only these task types, comma-separated (default: any).
    #[arg(long, value_delimiter = ',')]
    types: Vec<String>,
    /// How long each claim waits for a task, in seconds.
    #[arg(long, default_value_t = 20)]
    wait_secs: u64,
    /// Pretend to work this long on each task, in milliseconds.
    #[arg(long, default_value_t = 500)]
    work_ms: u64,
    /// Stop after this many tasks (default: run until a signal).
    #[arg(long)]
    count: Option<u64>,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    match run(args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            // Debug: the message and its whole cause chain.
            eprintln!("agent: {err:?}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), faultline_agent::Error> {
    let config = AgentConfig {
        agent_id: args.agent_id.clone().unwrap_or_else(|| args.name.clone()),
        name: args.name.clone(),
        capabilities: args.capabilities.clone(),
        max_tasks: 1,
        results_endpoint: (!args.results_endpoint.is_empty())
            .then(|| args.results_endpoint.clone()),
        ..Default::default()
    };
    let agent = Agent::connect(&args.endpoint, config).await?;
    println!(
        "registered as {} at {} (heartbeat every {:?}); waiting for tasks, Ctrl-C to stop",
        agent.agent_id(),
        args.endpoint,
        agent.heartbeat_interval()
    );

    // The first signal starts the shutdown: claims return `Shutdown`, held
    // leases are revoked so the work loop below stops, tasks go back.
    let stopper = agent.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        println!("stopping: handing back tasks and deregistering (again to exit at once)");
        tokio::spawn(async {
            wait_for_signal().await;
            std::process::exit(130);
        });
        if let Err(err) = stopper.shutdown().await {
            eprintln!("agent: shutdown: {err}");
        }
    });

    let wait = Duration::from_secs(args.wait_secs);
    let mut done = 0u64;
    let mut failures = 0u32;
    loop {
        if args.count.is_some_and(|max| done >= max) {
            break;
        }
        match agent.claim_types(wait, args.types.clone()).await {
            Ok(Some(task)) => {
                failures = 0;
                let publish = !args.results_endpoint.is_empty();
                if work(task, Duration::from_millis(args.work_ms), publish).await {
                    done += 1;
                }
            }
            Ok(None) => {}
            Err(err) if err.kind() == ErrorKind::Shutdown => break,
            Err(err) if err.is_retryable() || err.kind() == ErrorKind::AtCapacity => {
                failures = failures.saturating_add(1);
                let delay = Duration::from_millis(250 << failures.min(6));
                eprintln!("agent: claim: {err}; trying again in {delay:?}");
                tokio::time::sleep(delay).await;
            }
            Err(err) => {
                let _ = agent.shutdown().await;
                return Err(err);
            }
        }
    }
    let report = agent.shutdown().await?;
    println!(
        "stopped after completing {done} task(s); handed back {}, {} more returned on deregistration",
        report.handed_back, report.released_by_deregister
    );
    Ok(())
}

/// Shows the task, publishes a status update, "works", and publishes the
/// result (or completes through the dispatcher when `publish` is off); true
/// when the task was completed. Stops early if the lease is revoked: the
/// handle is then dropped and nothing more is sent.
async fn work(task: ClaimedTask, work_time: Duration, publish: bool) -> bool {
    let t = task.task();
    println!("---");
    println!(
        "claimed     {} (type {}, attempt {})",
        t.id, t.r#type, t.attempt
    );
    println!("lease       {}", task.lease());
    println!("fingerprint {}", or_dash(&t.fingerprint));
    println!("filter      {}", or_dash(&t.filter_decision));
    println!(
        "description {}",
        t.description.lines().next().unwrap_or("-")
    );
    let error_line = first_error_line(&t.context_json);
    match &error_line {
        Some(line) => println!("error (UNTRUSTED DATA, not instructions): {line:?}"),
        None => println!("error (UNTRUSTED DATA): none found in context_json"),
    }

    let update = if publish {
        task.publish_status(
            InvestigationStatus::InProgress,
            "demo agent: read the error and its stack; no investigation is done by this demo",
            vec!["hand the error to a person".into()],
        )
        .await
        .map(|seq| println!("status      in_progress (stored, seq {seq})"))
    } else {
        task.progress("demo agent: looked at the error").await
    };
    if let Err(err) = update {
        eprintln!("agent: status: {err}");
        if err.kind() == ErrorKind::StaleLease {
            return false;
        }
    }

    tokio::select! {
        revoked = task.cancelled() => {
            println!("lease revoked ({}): stopping work on {}", revoked.reason, t.id);
            return false;
        }
        () = tokio::time::sleep(work_time) => {}
    }

    let id = t.id.clone();
    if publish {
        let result = TaskResult {
            solution: format!(
                "demo agent: no investigation performed; a person should look at: {}",
                error_line.as_deref().unwrap_or("the error")
            ),
            ..Default::default()
        };
        return match task.publish_result(Outcome::NeedsHuman, result).await {
            Ok(answer) => {
                let r = answer.result.unwrap_or_default();
                println!(
                    "result      {} for {id} (result {}, seq {}{})",
                    r.outcome,
                    r.result_id,
                    r.seq,
                    if r.flagged {
                        ", FLAGGED by the filter"
                    } else {
                        ""
                    }
                );
                true
            }
            Err(err) => {
                eprintln!("agent: result {id}: {err}");
                false
            }
        };
    }
    let result = serde_json::json!({
        "outcome": "needs_human",
        "summary": "demo agent: no investigation performed; a human should look at this error",
        "agent": "faultline-agent example",
    });
    match task.complete(result.to_string()).await {
        Ok(released) if released.is_empty() => println!("completed {id}"),
        Ok(released) => println!("completed {id}; released {}", released.join(", ")),
        Err(err) => {
            eprintln!("agent: complete {id}: {err}");
            return false;
        }
    }
    true
}

fn or_dash(s: &str) -> &str {
    if s.is_empty() {
        "-"
    } else {
        s
    }
}

/// The first line of the error message in a task's context, cut to 200
/// characters with control characters (terminal escapes) removed. The context
/// is either `{"event": {...}}` or the event itself.
fn first_error_line(context_json: &str) -> Option<String> {
    let context: serde_json::Value = serde_json::from_str(context_json).ok()?;
    let event = context.get("event").unwrap_or(&context);
    let text = event
        .get("error")
        .and_then(serde_json::Value::as_str)
        .or_else(|| {
            event
                .pointer("/exception/value")
                .and_then(serde_json::Value::as_str)
        })?;
    let line = text.lines().next().unwrap_or_default();
    Some(line.chars().filter(|c| !c.is_control()).take(200).collect())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

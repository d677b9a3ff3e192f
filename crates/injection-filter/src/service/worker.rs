//! One durable pull consumer per error stream. Messages are handled
//! concurrently up to `filter.batch`; each is acked (double ack: the server
//! confirms) only after what it became is stored, and on any failure it is
//! left to come back after `filter.retry_delay`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy};
use async_nats::jetstream::AckKind;
use faultline_core::service::AppStatus;
use faultline_core::shutdown::ShutdownSignal;
use futures_util::stream::{FuturesUnordered, StreamExt};

use super::filter::{Filter, Source};

/// The durable consumer's name on every error stream.
pub(crate) const CONSUMER: &str = "injection-filter";

/// Worker settings.
#[derive(Debug, Clone)]
pub(crate) struct WorkerConfig {
    pub(crate) batch: usize,
    pub(crate) ack_wait: Duration,
    pub(crate) retry_delay: Duration,
}

/// Which streams have a problem; the service is ready when none has.
#[derive(Debug, Clone)]
pub(crate) struct StreamHealth {
    problems: Arc<Mutex<BTreeMap<String, String>>>,
    status: AppStatus,
}

impl StreamHealth {
    pub(crate) fn new(status: AppStatus) -> Self {
        Self {
            problems: Arc::default(),
            status,
        }
    }

    fn set(&self, stream: &str, problem: Option<String>) {
        let mut problems = self.problems.lock().expect("stream health poisoned");
        match problem {
            Some(p) => problems.insert(stream.to_owned(), p),
            None => problems.remove(stream),
        };
        match problems.iter().next() {
            Some((stream, p)) => self.status.not_ready(format!("{stream}: {p}")),
            None => self.status.ready(),
        }
    }
}

/// Consumes `stream` until `shutdown`, then finishes the messages in hand.
pub(crate) async fn run(
    filter: Filter,
    stream: String,
    cfg: WorkerConfig,
    health: StreamHealth,
    mut shutdown: ShutdownSignal,
) {
    let mut backoff = Duration::from_millis(200);
    loop {
        if shutdown.is_triggered() {
            return;
        }
        match consume(&filter, &stream, &cfg, &health, &mut shutdown).await {
            Ok(()) => return,
            Err(problem) => {
                tracing::warn!(
                    stream,
                    problem,
                    "error stream consumer stopped; retrying in {backoff:?}"
                );
                health.set(&stream, Some(problem));
            }
        }
        tokio::select! {
            () = shutdown.wait() => return,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

fn consumer_config(cfg: &WorkerConfig) -> pull::Config {
    pull::Config {
        durable_name: Some(CONSUMER.to_owned()),
        description: Some("injection-filter: scans every error event".to_owned()),
        ack_policy: AckPolicy::Explicit,
        deliver_policy: DeliverPolicy::All,
        ack_wait: cfg.ack_wait,
        // Failures are the infrastructure's, not the message's (a message
        // that is not an event is quarantined, not retried): never give up.
        max_deliver: -1,
        max_ack_pending: i64::try_from(cfg.batch * 4).unwrap_or(i64::MAX),
        ..Default::default()
    }
}

/// Returns `Ok` on shutdown, `Err` with the problem otherwise.
async fn consume(
    filter: &Filter,
    stream_name: &str,
    cfg: &WorkerConfig,
    health: &StreamHealth,
    shutdown: &mut ShutdownSignal,
) -> Result<(), String> {
    let stream = filter.js.get_stream(stream_name).await.map_err(|e| {
        format!("cannot open stream {stream_name}: {e} (provision it: `faultline init`)")
    })?;
    let wanted = consumer_config(cfg);
    let consumer: async_nats::jetstream::consumer::Consumer<pull::Config> = stream
        .get_or_create_consumer(CONSUMER, wanted.clone())
        .await
        .map_err(|e| format!("cannot create consumer {CONSUMER}: {e}"))?;
    let have = &consumer.cached_info().config;
    let consumer = if have.ack_wait != wanted.ack_wait
        || have.max_ack_pending != wanted.max_ack_pending
        || have.max_deliver != wanted.max_deliver
    {
        tracing::info!(
            stream = stream_name,
            "updating consumer {CONSUMER} to the configured settings"
        );
        stream
            .update_consumer(wanted)
            .await
            .map_err(|e| format!("cannot update consumer {CONSUMER}: {e}"))?
    } else {
        consumer
    };
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(cfg.batch)
        .heartbeat(Duration::from_secs(5))
        .expires(Duration::from_secs(30))
        .messages()
        .await
        .map_err(|e| format!("cannot pull from {stream_name}: {e}"))?;
    health.set(stream_name, None);
    tracing::info!(
        stream = stream_name,
        consumer = CONSUMER,
        "scanning error stream"
    );
    let mut in_hand = FuturesUnordered::new();
    let result = loop {
        tokio::select! {
            biased;
            () = shutdown.wait() => break Ok(()),
            Some(()) = in_hand.next(), if !in_hand.is_empty() => {}
            item = messages.next(), if in_hand.len() < cfg.batch => match item {
                Some(Ok(msg)) => in_hand.push(handle(filter, stream_name, cfg.retry_delay, msg)),
                Some(Err(err)) => break Err(format!("pulling from {stream_name}: {err}")),
                None => break Err(format!("pull subscription on {stream_name} ended")),
            },
        }
    };
    // Finish what is in hand: each is bounded by the publish timeout.
    while in_hand.next().await.is_some() {}
    result
}

async fn handle(
    filter: &Filter,
    stream: &str,
    retry_delay: Duration,
    msg: async_nats::jetstream::Message,
) {
    let (seq, published) = match msg.info() {
        Ok(info) => (info.stream_sequence, SystemTime::from(info.published)),
        Err(err) => {
            tracing::warn!(stream, error = %err, "message without JetStream metadata; left for redelivery");
            return;
        }
    };
    let src = Source {
        stream,
        seq,
        subject: msg.subject.as_str(),
        published,
        headers: msg.headers.as_ref(),
        payload: &msg.payload,
    };
    match filter.handle(&src).await {
        Ok(outcome) => {
            if let Err(err) = msg.double_ack().await {
                // Redelivered later; what it became is deduplicated by id.
                filter.metrics.failed();
                tracing::warn!(stream, seq, error = %err, "ack failed; the message will come back and publish nothing twice");
            }
            filter.metrics.outcome(outcome.as_str());
        }
        Err(err) => {
            filter.metrics.failed();
            tracing::warn!(stream, seq, error = %err, "cannot handle the message now; redelivery in {retry_delay:?}");
            if let Err(err) = msg.ack_with(AckKind::Nak(Some(retry_delay))).await {
                tracing::debug!(stream, seq, error = %err, "nak failed; redelivered after ack_wait");
            }
        }
    }
}

//! Live feeds for dashboards: status updates and results as they are stored,
//! read from the streams (an ordered consumer per stream and watcher), so a
//! watcher may start in the past (`since`) and sees what every replica
//! published. Watchers are bounded (`results.max_watchers`); a slow watcher
//! slows only its own consumers.

use std::time::{Duration, UNIX_EPOCH};

use async_nats::jetstream::consumer::{pull, DeliverPolicy};
use faultline_core::names::stream;
use faultline_task_dispatcher::DispatchError;
use futures_util::StreamExt;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::publisher::Publisher;

/// What a watcher wants.
#[derive(Debug, Clone, Default)]
pub struct WatchFilter {
    /// Only this task.
    pub task_id: Option<String>,
    /// Only this fingerprint.
    pub fingerprint: Option<String>,
    /// Start here, unix ms (default: now).
    pub since_ms: Option<i64>,
    /// Only results.
    pub results_only: bool,
}

/// One event of a feed.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// `status` or `result`.
    pub kind: &'static str,
    /// The task.
    pub task_id: String,
    /// Where it was stored.
    pub subject: String,
    /// Its sequence in its stream.
    pub seq: u64,
    /// The document.
    pub json: Value,
}

/// Events buffered per watcher before its consumers wait.
const BUFFER: usize = 64;

impl Publisher {
    /// Starts a feed. The receiver ends when the feed fails or the publisher
    /// stops; dropping it stops the feed.
    pub async fn watch(&self, f: WatchFilter) -> Result<mpsc::Receiver<Event>, DispatchError> {
        let permit = self.0.watchers.clone().try_acquire_owned().map_err(|_| {
            DispatchError::AtCapacity(format!(
                "{} watchers already; at most results.max_watchers",
                self.cfg().max_watchers
            ))
        })?;
        let ns = self.names().namespace().as_str().to_owned();
        let task = f.task_id.clone().unwrap_or_else(|| "*".into());
        if task != "*" {
            faultline_core::names::id_token("task id", &task)
                .map_err(|e| DispatchError::InvalidArgument(e.to_string()))?;
        }
        let deliver = match f.since_ms {
            Some(ms) => DeliverPolicy::ByStartTime {
                start_time: (UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0)))
                    .into(),
            },
            None => DeliverPolicy::New,
        };
        let mut feeds = vec![(
            "result",
            self.names().stream(stream::RESULTS),
            format!("{ns}.results.*.{task}"),
        )];
        if !f.results_only {
            feeds.push((
                "status",
                self.names().stream(stream::INVESTIGATIONS),
                format!("{ns}.investigation.status.{task}"),
            ));
        }
        let (tx, rx) = mpsc::channel(BUFFER);
        let mut consumers = Vec::new();
        for (kind, name, filter) in feeds {
            let s = self
                .js()
                .get_stream(&name)
                .await
                .map_err(|e| DispatchError::Unavailable(format!("cannot open {name}: {e}")))?;
            let c = s
                .create_consumer(pull::OrderedConfig {
                    filter_subject: filter,
                    deliver_policy: deliver,
                    ..Default::default()
                })
                .await
                .map_err(|e| DispatchError::Unavailable(format!("cannot watch {name}: {e}")))?;
            let messages = c
                .messages()
                .await
                .map_err(|e| DispatchError::Unavailable(format!("cannot watch {name}: {e}")))?;
            consumers.push(messages.map(move |m| (kind, m)));
        }
        let fingerprint = f.fingerprint;
        tokio::spawn(async move {
            let _permit = permit;
            let mut merged = futures_util::stream::select_all(consumers);
            while let Some((kind, m)) = tokio::select! {
                () = tx.closed() => None,
                m = merged.next() => m,
            } {
                let m = match m {
                    Ok(m) => m,
                    Err(e) => {
                        tracing::warn!(error = %e, "a watcher's feed failed; it ends");
                        break;
                    }
                };
                let Ok(json) = serde_json::from_slice::<Value>(&m.payload) else {
                    continue;
                };
                if let Some(fp) = &fingerprint {
                    if json.get("fingerprint").and_then(Value::as_str) != Some(fp.as_str()) {
                        continue;
                    }
                }
                let seq = m.info().map(|i| i.stream_sequence).unwrap_or(0);
                let task_id = json
                    .get("task_id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let event = Event {
                    kind,
                    task_id,
                    subject: m.subject.to_string(),
                    seq,
                    json,
                };
                if tx.send(event).await.is_err() {
                    break;
                }
            }
        });
        Ok(rx)
    }
}

//! Live feeds for dashboards: status updates and results as they are stored,
//! read from the streams (an ordered consumer per stream and watcher), so a
//! watcher may start in the past (`since`) and sees what every replica
//! published. Watchers are bounded (`results.max_watchers`); a slow watcher
//! slows only its own consumers.
//!
//! Every event carries a [`Cursor`]: where the watcher is in each stream.
//! A watcher that reconnects with it (SSE `Last-Event-ID`) resumes right
//! after the last event it saw, with nothing lost and nothing repeated.

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
    /// Resume after this cursor (wins over `since_ms`).
    pub resume: Option<Cursor>,
    /// Only results.
    pub results_only: bool,
}

/// A watcher's position in one stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// Everything after this stream sequence is still to come.
    After(u64),
    /// Nothing seen yet; the feed starts at this time (unix ms).
    From(i64),
}

/// A watcher's position in the results and the status streams; written
/// `<results>.<status>`, each a sequence or `t<unix ms>`, e.g. `57.t1732400000000`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// In the RESULTS stream.
    pub results: Position,
    /// In the INVESTIGATIONS stream (status updates).
    pub status: Position,
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::After(seq) => write!(f, "{seq}"),
            Self::From(ms) => write!(f, "t{ms}"),
        }
    }
}

impl std::str::FromStr for Position {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not a stream sequence or t<unix ms>");
        match s.strip_prefix('t') {
            Some(ms) => ms.parse().map(Self::From).map_err(|_| bad()),
            None => s.parse().map(Self::After).map_err(|_| bad()),
        }
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.results, self.status)
    }
}

impl std::str::FromStr for Cursor {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (r, st) = s
            .split_once('.')
            .ok_or_else(|| format!("cursor {s:?} is not <results>.<status>"))?;
        Ok(Self {
            results: r.parse()?,
            status: st.parse()?,
        })
    }
}

impl Position {
    fn deliver(self) -> DeliverPolicy {
        match self {
            Self::After(seq) => DeliverPolicy::ByStartSequence {
                start_sequence: seq + 1,
            },
            Self::From(ms) => DeliverPolicy::ByStartTime {
                start_time: (UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0)))
                    .into(),
            },
        }
    }
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
    /// The watcher's position after this event (resume from it).
    pub cursor: Cursor,
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
        // Where each stream starts: after the resumed cursor, at `since`,
        // or after the last message stored now.
        let mut cursor = Cursor {
            results: Position::After(0),
            status: Position::After(0),
        };
        for (kind, name, filter) in feeds {
            let mut s = self
                .js()
                .get_stream(&name)
                .await
                .map_err(|e| DispatchError::Unavailable(format!("cannot open {name}: {e}")))?;
            let start = match (f.resume, f.since_ms) {
                (Some(c), _) if kind == "result" => c.results,
                (Some(c), _) => c.status,
                (None, Some(ms)) => Position::From(ms),
                (None, None) => Position::After(
                    s.info()
                        .await
                        .map_err(|e| {
                            DispatchError::Unavailable(format!("cannot read {name}: {e}"))
                        })?
                        .state
                        .last_sequence,
                ),
            };
            if kind == "result" {
                cursor.results = start;
            } else {
                cursor.status = start;
            }
            let c = s
                .create_consumer(pull::OrderedConfig {
                    filter_subject: filter,
                    deliver_policy: start.deliver(),
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
                let seq = m.info().map(|i| i.stream_sequence).unwrap_or(0);
                // Past this message, shown or not.
                if kind == "result" {
                    cursor.results = Position::After(seq);
                } else {
                    cursor.status = Position::After(seq);
                }
                let Ok(json) = serde_json::from_slice::<Value>(&m.payload) else {
                    continue;
                };
                if let Some(fp) = &fingerprint {
                    if json.get("fingerprint").and_then(Value::as_str) != Some(fp.as_str()) {
                        continue;
                    }
                }
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
                    cursor,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_bad_ones_are_refused() {
        for text in ["57.12", "0.t1732400000000", "t5.9"] {
            let c: Cursor = text.parse().unwrap();
            assert_eq!(c.to_string(), text);
        }
        let c: Cursor = "57.t9".parse().unwrap();
        assert_eq!(c.results, Position::After(57));
        assert_eq!(c.status, Position::From(9));
        assert_eq!(
            Position::After(57).deliver(),
            DeliverPolicy::ByStartSequence { start_sequence: 58 }
        );
        for bad in ["", "57", "a.b", "57.-1", "t.1", "1.2.3"] {
            assert!(bad.parse::<Cursor>().is_err(), "{bad:?}");
        }
    }
}

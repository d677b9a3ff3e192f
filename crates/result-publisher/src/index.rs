//! An in-memory index of the RESULTS stream, built by every replica from the
//! stream itself (nothing lives only here): listings by task, fingerprint,
//! outcome and time, without scanning the stream per call.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_nats::jetstream::consumer::{pull, DeliverPolicy};
use async_nats::jetstream::{self};
use faultline_core::names::{stream, Names};
use faultline_core::shutdown::ShutdownSignal;
use futures_util::StreamExt;
use tokio::sync::watch;

use crate::model::ResultDoc;

/// One indexed result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Sequence in the RESULTS stream.
    pub seq: u64,
    /// `<task>-<epoch>`.
    pub result_id: String,
    /// The task.
    pub task_id: String,
    /// Its fingerprint.
    pub fingerprint: Option<String>,
    /// The outcome.
    pub outcome: String,
    /// Published at, unix ms.
    pub at_ms: i64,
    /// Flagged by the filter.
    pub flagged: bool,
}

/// A listing's filter.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Only this task.
    pub task_id: Option<String>,
    /// Only this fingerprint.
    pub fingerprint: Option<String>,
    /// Only this outcome.
    pub outcome: Option<String>,
    /// Published at or after (unix ms).
    pub since_ms: Option<i64>,
    /// Published before (unix ms).
    pub until_ms: Option<i64>,
    /// Only flagged results.
    pub flagged_only: bool,
    /// At most this many (1 to 500).
    pub limit: usize,
}

#[derive(Debug, Default)]
struct State {
    entries: VecDeque<Entry>,
    by_task: HashMap<String, Entry>,
    last_seq: u64,
}

/// The index.
#[derive(Debug)]
pub struct Index {
    capacity: usize,
    state: Mutex<State>,
    synced: watch::Sender<bool>,
}

/// Parses RFC 3339 into unix ms.
pub fn parse_ms(s: &str) -> Option<i64> {
    let t = humantime::parse_rfc3339_weak(s).ok()?;
    let d = t.duration_since(std::time::UNIX_EPOCH).ok()?;
    i64::try_from(d.as_millis()).ok()
}

impl Index {
    /// An empty index keeping at most `capacity` results.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            state: Mutex::default(),
            synced: watch::channel(false).0,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds the result stored at `seq`.
    pub fn add(&self, seq: u64, doc: &ResultDoc) {
        let e = Entry {
            seq,
            result_id: doc.result_id.clone(),
            task_id: doc.task_id.clone(),
            fingerprint: doc.fingerprint.clone(),
            outcome: doc.outcome.clone(),
            at_ms: parse_ms(&doc.published_at).unwrap_or(0),
            flagged: doc.flagged,
        };
        let mut st = self.lock();
        if seq <= st.last_seq {
            return;
        }
        st.last_seq = seq;
        st.by_task.insert(e.task_id.clone(), e.clone());
        st.entries.push_back(e);
        while st.entries.len() > self.capacity {
            if let Some(old) = st.entries.pop_front() {
                if st
                    .by_task
                    .get(&old.task_id)
                    .is_some_and(|x| x.seq == old.seq)
                {
                    st.by_task.remove(&old.task_id);
                }
            }
        }
    }

    /// The latest result of a task.
    pub fn by_task(&self, task_id: &str) -> Option<Entry> {
        self.lock().by_task.get(task_id).cloned()
    }

    /// Sequences of the results matching `q`, newest first.
    pub fn query(&self, q: &Query) -> Vec<u64> {
        let limit = q.limit.clamp(1, 500);
        let st = self.lock();
        if let Some(task) = &q.task_id {
            return st
                .by_task
                .get(task)
                .filter(|e| matches(e, q))
                .map(|e| vec![e.seq])
                .unwrap_or_default();
        }
        st.entries
            .iter()
            .rev()
            .filter(|e| matches(e, q))
            .take(limit)
            .map(|e| e.seq)
            .collect()
    }

    /// Results indexed.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// True when nothing is indexed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True once the index has read the stream up to where it was at start.
    pub fn is_synced(&self) -> bool {
        *self.synced.borrow()
    }

    /// Waits until [`is_synced`](Self::is_synced).
    pub async fn wait_synced(&self) {
        let mut rx = self.synced.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }

    fn set_synced(&self) {
        self.synced
            .send_if_modified(|s| !std::mem::replace(s, true));
    }
}

fn matches(e: &Entry, q: &Query) -> bool {
    q.fingerprint
        .as_ref()
        .is_none_or(|f| e.fingerprint.as_ref() == Some(f))
        && q.outcome.as_ref().is_none_or(|o| &e.outcome == o)
        && q.since_ms.is_none_or(|t| e.at_ms >= t)
        && q.until_ms.is_none_or(|t| e.at_ms < t)
        && (!q.flagged_only || e.flagged)
}

/// Follows the RESULTS stream into `index` until `stop`; restarts after
/// errors from where it was.
pub async fn follow(
    js: jetstream::Context,
    names: Names,
    index: std::sync::Arc<Index>,
    mut stop: ShutdownSignal,
) {
    let name = names.stream(stream::RESULTS);
    let filter = format!("{}.results.*.*", names.namespace().as_str());
    let mut backoff = Duration::from_millis(100);
    loop {
        let result: Result<(), String> = async {
            let mut s = js.get_stream(&name).await.map_err(|e| e.to_string())?;
            let info = s.info().await.map_err(|e| e.to_string())?;
            if info.state.messages == 0 || index.lock().last_seq >= info.state.last_sequence {
                index.set_synced();
            }
            let from = index.lock().last_seq + 1;
            let consumer = s
                .create_consumer(pull::OrderedConfig {
                    filter_subject: filter.clone(),
                    deliver_policy: DeliverPolicy::ByStartSequence { start_sequence: from },
                    ..Default::default()
                })
                .await
                .map_err(|e| e.to_string())?;
            let mut messages = consumer.messages().await.map_err(|e| e.to_string())?;
            backoff = Duration::from_millis(100);
            loop {
                tokio::select! {
                    () = stop.wait() => return Ok(()),
                    m = messages.next() => match m {
                        Some(Ok(m)) => {
                            let Ok(info) = m.info() else { continue };
                            let (seq, pending) = (info.stream_sequence, info.pending);
                            match serde_json::from_slice::<ResultDoc>(&m.payload) {
                                Ok(doc) => index.add(seq, &doc),
                                Err(e) => tracing::warn!(seq, error = %e, "unreadable result skipped"),
                            }
                            if pending == 0 {
                                index.set_synced();
                            }
                        }
                        Some(Err(e)) => return Err(e.to_string()),
                        None => return Err("the results consumer ended".into()),
                    }
                }
            }
        }
        .await;
        match result {
            Ok(()) => return,
            Err(e) => tracing::warn!(error = %e, "following the results failed; restarting"),
        }
        tokio::select! {
            () = stop.wait() => return,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(task: &str, fp: &str, outcome: &str, at: &str, flagged: bool) -> ResultDoc {
        ResultDoc {
            result_id: format!("{task}-1"),
            task_id: task.into(),
            epoch: 1,
            agent_id: "a".into(),
            outcome: outcome.into(),
            solution: String::new(),
            pr_url: None,
            test_results: None,
            artifacts: vec![],
            fingerprint: Some(fp.into()),
            task_type: "investigation".into(),
            published_at: at.into(),
            flagged,
            filter: None,
        }
    }

    #[test]
    fn queries_filter_and_order_newest_first() {
        let ix = Index::new(3);
        ix.add(1, &doc("t1", "f1", "fixed", "2026-01-01T00:00:00Z", false));
        ix.add(2, &doc("t2", "f2", "failed", "2026-01-02T00:00:00Z", true));
        ix.add(3, &doc("t3", "f1", "fixed", "2026-01-03T00:00:00Z", false));
        ix.add(3, &doc("dup", "f1", "fixed", "2026-01-03T00:00:00Z", false));
        let all = ix.query(&Query {
            limit: 10,
            ..Default::default()
        });
        assert_eq!(all, [3, 2, 1]);
        let f1 = ix.query(&Query {
            fingerprint: Some("f1".into()),
            limit: 10,
            ..Default::default()
        });
        assert_eq!(f1, [3, 1]);
        let since = ix.query(&Query {
            since_ms: parse_ms("2026-01-02T00:00:00Z"),
            limit: 10,
            ..Default::default()
        });
        assert_eq!(since, [3, 2]);
        let flagged = ix.query(&Query {
            flagged_only: true,
            limit: 10,
            ..Default::default()
        });
        assert_eq!(flagged, [2]);
        assert_eq!(ix.by_task("t2").map(|e| e.seq), Some(2));
        // Capacity: the oldest goes.
        ix.add(
            4,
            &doc("t4", "f4", "wont_fix", "2026-01-04T00:00:00Z", false),
        );
        assert_eq!(ix.len(), 3);
        assert!(ix.by_task("t1").is_none());
        assert_eq!(
            ix.query(&Query {
                limit: 1,
                ..Default::default()
            }),
            [4]
        );
    }
}

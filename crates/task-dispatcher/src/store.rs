//! Where the dispatcher's state lives: task and fingerprint records in a
//! NATS KV bucket (changed only by compare-and-set), a mirror of that bucket
//! in every replica (a cache fed by a KV watch: never the source of truth),
//! and agents' presence in Redis (leases that expire unless renewed).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_nats::jetstream::kv::{self, Operation, UpdateErrorKind};
use async_nats::jetstream::stream::LastRawMessageErrorKind;
use async_nats::jetstream::{self, stream::StorageType};
use bytes::Bytes;
use faultline_core::nats::is_wrong_last_sequence;
use futures_util::StreamExt;
use redis::aio::ConnectionManager;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::{watch, Notify};

use crate::error::DispatchError;
use crate::record::{task_key, AgentRecord, State, TaskRecord};

/// The header a KV delete or purge marker carries.
const KV_OPERATION: &str = "KV-Operation";

/// A value read from the bucket with the revision a CAS must name.
#[derive(Debug, Clone)]
pub struct Versioned<T> {
    /// The KV revision.
    pub rev: u64,
    /// The value.
    pub value: T,
}

/// The KV bucket, typed.
#[derive(Clone)]
pub struct Kv {
    store: kv::Store,
}

impl std::fmt::Debug for Kv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kv").finish_non_exhaustive()
    }
}

/// What a compare-and-set found.
#[derive(Debug)]
pub enum Cas {
    /// Written, at this revision.
    Done(u64),
    /// Someone else wrote first (or the key exists, for a create).
    Conflict,
}

impl Kv {
    /// Opens the bucket, creating it when missing.
    pub async fn open(
        js: &jetstream::Context,
        bucket: &str,
        max_age: Duration,
        replicas: usize,
    ) -> Result<Self, DispatchError> {
        let store = match js.get_key_value(bucket).await {
            Ok(store) => store,
            Err(_) => js
                .create_key_value(kv::Config {
                    bucket: bucket.to_owned(),
                    description: "faultline task-dispatcher: task state (compare-and-set)".into(),
                    history: 1,
                    max_age,
                    storage: StorageType::File,
                    num_replicas: replicas.max(1),
                    ..Default::default()
                })
                .await
                .map_err(|e| {
                    DispatchError::Unavailable(format!("cannot create KV {bucket}: {e}"))
                })?,
        };
        Ok(Self { store })
    }

    /// Reads `key` from the stream leader.
    ///
    /// Not through `kv::Store::entry`: that is a direct get, which any
    /// replica of a replicated bucket may answer, also a follower that has
    /// not applied the last write yet; a lease just claimed then looked stale
    /// to the next call (found by the cluster test, `tests/cluster.rs`).
    /// `STREAM.MSG.GET` is answered by the leader: a read sees every write
    /// that was acknowledged before it.
    pub async fn get<T: DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<Versioned<T>>, DispatchError> {
        match self.read(key).await? {
            Some((rev, Some(bytes))) => {
                let value = serde_json::from_slice(&bytes).map_err(|err| {
                    DispatchError::Internal(format!("KV {key} is corrupt: {err}"))
                })?;
                Ok(Some(Versioned { rev, value }))
            }
            _ => Ok(None),
        }
    }

    /// The last revision of `key` and its value (`None` for a delete or
    /// purge marker); `None` when the key was never written.
    async fn read(&self, key: &str) -> Result<Option<(u64, Option<Bytes>)>, DispatchError> {
        let subject = format!("{}{key}", self.store.prefix);
        match self
            .store
            .stream
            .get_last_raw_message_by_subject(&subject)
            .await
        {
            Ok(msg) => {
                let removed = msg
                    .headers
                    .get(KV_OPERATION)
                    .is_some_and(|op| matches!(op.as_str(), "DEL" | "PURGE"));
                Ok(Some((msg.sequence, (!removed).then_some(msg.payload))))
            }
            Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => Ok(None),
            Err(e) => Err(DispatchError::Unavailable(format!("KV get {key}: {e}"))),
        }
    }

    /// Creates `key` only if absent (never written, or deleted).
    pub async fn create<T: Serialize>(&self, key: &str, value: &T) -> Result<Cas, DispatchError> {
        let bytes: Bytes = serde_json::to_vec(value)
            .map_err(|e| DispatchError::Internal(e.to_string()))?
            .into();
        if let Cas::Done(rev) = self.update_bytes(key, bytes.clone(), 0).await? {
            return Ok(Cas::Done(rev));
        }
        match self.read(key).await? {
            // A deleted key may be created again, at the marker's revision.
            Some((rev, None)) => self.update_bytes(key, bytes, rev).await,
            _ => Ok(Cas::Conflict),
        }
    }

    /// Writes `key` only if it is still at `rev`.
    pub async fn update<T: Serialize>(
        &self,
        key: &str,
        value: &T,
        rev: u64,
    ) -> Result<Cas, DispatchError> {
        let bytes =
            serde_json::to_vec(value).map_err(|e| DispatchError::Internal(e.to_string()))?;
        self.update_bytes(key, bytes.into(), rev).await
    }

    async fn update_bytes(&self, key: &str, bytes: Bytes, rev: u64) -> Result<Cas, DispatchError> {
        match self.store.update(key, bytes, rev).await {
            Ok(rev) => Ok(Cas::Done(rev)),
            // A replicated bucket reports the conflict as 10164, which
            // async-nats does not classify (see `is_wrong_last_sequence`).
            Err(e)
                if e.kind() == UpdateErrorKind::WrongLastRevision || is_wrong_last_sequence(&e) =>
            {
                Ok(Cas::Conflict)
            }
            Err(e) => Err(DispatchError::Unavailable(format!("KV update {key}: {e}"))),
        }
    }

    /// Reads `key`, applies `change`, writes it back by CAS; repeats on
    /// conflict (bounded). `change` returns `None` to leave it as it is.
    pub async fn modify<T, F>(
        &self,
        key: &str,
        mut change: F,
    ) -> Result<Option<Versioned<T>>, DispatchError>
    where
        T: Serialize + DeserializeOwned + Clone,
        F: FnMut(Option<&T>) -> Option<T>,
    {
        for _ in 0..16 {
            let current: Option<Versioned<T>> = self.get(key).await?;
            let Some(next) = change(current.as_ref().map(|v| &v.value)) else {
                return Ok(None);
            };
            let cas = match &current {
                Some(v) => self.update(key, &next, v.rev).await?,
                None => self.create(key, &next).await?,
            };
            if let Cas::Done(rev) = cas {
                return Ok(Some(Versioned { rev, value: next }));
            }
        }
        Err(DispatchError::Unavailable(format!(
            "KV {key}: too many concurrent writers; retry"
        )))
    }

    fn inner(&self) -> &kv::Store {
        &self.store
    }
}

/// Every replica's view of the task records, fed by a KV watch.
#[derive(Debug, Default)]
pub struct Mirror {
    tasks: RwLock<HashMap<String, Versioned<TaskRecord>>>,
    /// Ids by state, for the states the loops scan.
    open: RwLock<HashMap<State, HashSet<String>>>,
    /// Woken when a task becomes available (claims wait on it).
    available: Notify,
    /// Woken on any change.
    changed: Notify,
    synced: SyncedFlag,
}

#[derive(Debug)]
struct SyncedFlag(watch::Sender<bool>);

impl Default for SyncedFlag {
    fn default() -> Self {
        Self(watch::channel(false).0)
    }
}

impl Mirror {
    /// Applies a record read or written at `rev` (older revisions are ignored).
    pub fn apply(&self, id: &str, rev: u64, record: Option<TaskRecord>) {
        let mut tasks = self.tasks.write().expect("mirror poisoned");
        let old_state = match tasks.get(id) {
            Some(v) if v.rev >= rev => return,
            Some(v) => Some(v.value.state),
            None => None,
        };
        let new_state = record.as_ref().map(|r| r.state);
        match record {
            Some(value) => {
                tasks.insert(id.to_owned(), Versioned { rev, value });
            }
            None => {
                tasks.remove(id);
            }
        }
        drop(tasks);
        if old_state != new_state {
            let mut open = self.open.write().expect("mirror poisoned");
            if let Some(s) = old_state {
                if let Some(set) = open.get_mut(&s) {
                    set.remove(id);
                }
            }
            if let Some(s) = new_state {
                if !s.is_terminal() {
                    open.entry(s).or_default().insert(id.to_owned());
                }
            }
        }
        if new_state == Some(State::Available) {
            self.available.notify_waiters();
        }
        self.changed.notify_waiters();
    }

    /// One record.
    pub fn get(&self, id: &str) -> Option<Versioned<TaskRecord>> {
        self.tasks.read().expect("mirror poisoned").get(id).cloned()
    }

    /// Whether a task with this id is known.
    pub fn contains(&self, id: &str) -> bool {
        self.tasks.read().expect("mirror poisoned").contains_key(id)
    }

    /// Records in `state` (a non-terminal one).
    pub fn in_state(&self, state: State) -> Vec<Versioned<TaskRecord>> {
        let ids: Vec<String> = self
            .open
            .read()
            .expect("mirror poisoned")
            .get(&state)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        // The index and the records are two locks: a record may have moved
        // on since the index was read, so its own state decides.
        let tasks = self.tasks.read().expect("mirror poisoned");
        ids.iter()
            .filter_map(|id| tasks.get(id))
            .filter(|v| v.value.state == state)
            .cloned()
            .collect()
    }

    /// How many records in `state` (a non-terminal one) match `keep`,
    /// counting no further than `limit`. Clones nothing: the intake loop
    /// asks this on every pass.
    pub fn count_in_state(
        &self,
        state: State,
        limit: usize,
        mut keep: impl FnMut(&TaskRecord) -> bool,
    ) -> usize {
        let open = self.open.read().expect("mirror poisoned");
        let Some(ids) = open.get(&state) else {
            return 0;
        };
        let tasks = self.tasks.read().expect("mirror poisoned");
        ids.iter()
            .filter_map(|id| tasks.get(id))
            .filter(|v| v.value.state == state && keep(&v.value))
            .take(limit)
            .count()
    }

    /// Every record that matches `keep`.
    pub fn select(&self, mut keep: impl FnMut(&TaskRecord) -> bool) -> Vec<Versioned<TaskRecord>> {
        self.tasks
            .read()
            .expect("mirror poisoned")
            .values()
            .filter(|v| keep(&v.value))
            .cloned()
            .collect()
    }

    /// Claimed tasks held by `agent`.
    pub fn held_by(&self, agent: &str) -> Vec<Versioned<TaskRecord>> {
        let mut held = self.in_state(State::Claimed);
        held.retain(|v| v.value.agent.as_deref() == Some(agent));
        held
    }

    /// The best `n` available tasks `capabilities` can take, best first.
    /// Ranks under the lock and clones only the `n` it returns.
    pub fn candidates(
        &self,
        capabilities: &BTreeSet<String>,
        types: &[String],
        now: i64,
        aging: Duration,
        n: usize,
    ) -> Vec<Versioned<TaskRecord>> {
        let open = self.open.read().expect("mirror poisoned");
        let Some(ids) = open.get(&State::Available) else {
            return Vec::new();
        };
        let tasks = self.tasks.read().expect("mirror poisoned");
        let mut fit: Vec<&Versioned<TaskRecord>> = ids
            .iter()
            .filter_map(|id| tasks.get(id))
            .filter(|v| v.value.state == State::Available && v.value.fits(capabilities, types))
            .collect();
        let key = |v: &Versioned<TaskRecord>| {
            (
                std::cmp::Reverse(v.value.effective_priority(now, aging)),
                v.value.available_since,
            )
        };
        if fit.len() > n {
            fit.select_nth_unstable_by_key(n, |v| key(v));
            fit.truncate(n);
        }
        fit.sort_by(|a, b| {
            key(a)
                .cmp(&key(b))
                .then(a.value.task.id.cmp(&b.value.task.id))
        });
        fit.into_iter().cloned().collect()
    }

    /// How many tasks `agent` holds.
    pub fn held_count(&self, agent: &str) -> usize {
        let open = self.open.read().expect("mirror poisoned");
        let Some(ids) = open.get(&State::Claimed) else {
            return 0;
        };
        let tasks = self.tasks.read().expect("mirror poisoned");
        ids.iter()
            .filter_map(|id| tasks.get(id))
            .filter(|v| v.value.state == State::Claimed && v.value.agent.as_deref() == Some(agent))
            .count()
    }

    /// A future that completes at the next change that makes a task
    /// available. Create it before looking, so no wake-up is lost.
    pub fn available_changed(&self) -> tokio::sync::futures::Notified<'_> {
        self.available.notified()
    }

    /// Whether the initial load is done.
    pub fn is_synced(&self) -> bool {
        *self.synced.0.borrow()
    }

    /// Waits until the initial load is done.
    pub async fn wait_synced(&self) {
        let mut rx = self.synced.0.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }

    fn set_synced(&self) {
        self.synced.0.send_replace(true);
    }
}

/// Keeps `mirror` up to date with the bucket until `stop` resolves; restarts
/// the watch on errors.
pub async fn follow(
    kv: Kv,
    mirror: Arc<Mirror>,
    mut stop: faultline_core::shutdown::ShutdownSignal,
) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let empty = match kv.inner().status().await {
            Ok(status) => status.values() == 0,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the task bucket's status; retrying");
                false
            }
        };
        if empty {
            mirror.set_synced();
        }
        match kv.inner().watch_with_history("t.>").await {
            Ok(mut watch) => {
                backoff = Duration::from_millis(100);
                loop {
                    tokio::select! {
                        () = stop.wait() => return,
                        item = watch.next() => match item {
                            Some(Ok(entry)) => {
                                let id = entry.key.strip_prefix("t.").unwrap_or(&entry.key).to_owned();
                                let record = match entry.operation {
                                    Operation::Put => match serde_json::from_slice::<TaskRecord>(&entry.value) {
                                        Ok(r) => Some(r),
                                        Err(e) => {
                                            tracing::warn!(key = entry.key, error = %e, "unreadable task record ignored");
                                            None
                                        }
                                    },
                                    Operation::Delete | Operation::Purge => None,
                                };
                                mirror.apply(&id, entry.revision, record);
                                if entry.seen_current || entry.delta == 0 {
                                    mirror.set_synced();
                                }
                            }
                            Some(Err(e)) => {
                                tracing::warn!(error = %e, "task bucket watch failed; restarting it");
                                break;
                            }
                            None => break,
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot watch the task bucket; retrying"),
        }
        tokio::select! {
            () = stop.wait() => return,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

/// Reads a task record, from the bucket (authoritative).
pub async fn task(kv: &Kv, id: &str) -> Result<Option<Versioned<TaskRecord>>, DispatchError> {
    kv.get(&task_key(id)).await
}

/// Agents' presence in Redis: one key per agent that expires unless the
/// agent heartbeats, and an index by expiry for listing.
#[derive(Clone)]
pub struct Agents {
    redis: ConnectionManager,
    names: faultline_core::Names,
    ttl: Duration,
}

impl std::fmt::Debug for Agents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agents")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

#[allow(clippy::needless_pass_by_value)] // used as `map_err(redis_err)`
fn redis_err(e: redis::RedisError) -> DispatchError {
    DispatchError::Unavailable(format!("redis: {e}"))
}

impl Agents {
    /// Presence that lasts `ttl` after each heartbeat.
    pub fn new(redis: ConnectionManager, names: faultline_core::Names, ttl: Duration) -> Self {
        Self { redis, names, ttl }
    }

    /// Writes (or renews) an agent's presence.
    pub async fn put(&self, agent: &AgentRecord) -> Result<(), DispatchError> {
        let mut conn = self.redis.clone();
        let json =
            serde_json::to_string(agent).map_err(|e| DispatchError::Internal(e.to_string()))?;
        let ttl_ms = u64::try_from(self.ttl.as_millis()).unwrap_or(u64::MAX);
        let expires = agent.heartbeat_at + i64::try_from(ttl_ms).unwrap_or(i64::MAX);
        redis::pipe()
            .atomic()
            .cmd("SET")
            .arg(self.names.agent_key(&agent.id))
            .arg(json)
            .arg("PX")
            .arg(ttl_ms)
            .ignore()
            .cmd("ZADD")
            .arg(self.names.agent_index_key())
            .arg(expires)
            .arg(&agent.id)
            .ignore()
            .query_async::<()>(&mut conn)
            .await
            .map_err(redis_err)
    }

    /// An agent's record, if it is present.
    pub async fn get(&self, id: &str) -> Result<Option<AgentRecord>, DispatchError> {
        let mut conn = self.redis.clone();
        let raw: Option<String> = redis::cmd("GET")
            .arg(self.names.agent_key(id))
            .query_async(&mut conn)
            .await
            .map_err(redis_err)?;
        Ok(raw.and_then(|s| serde_json::from_str(&s).ok()))
    }

    /// Which of `ids` are present.
    pub async fn present(&self, ids: &[String]) -> Result<HashSet<String>, DispatchError> {
        if ids.is_empty() {
            return Ok(HashSet::new());
        }
        let mut conn = self.redis.clone();
        let keys: Vec<String> = ids.iter().map(|id| self.names.agent_key(id)).collect();
        let vals: Vec<Option<String>> = redis::cmd("MGET")
            .arg(keys)
            .query_async(&mut conn)
            .await
            .map_err(redis_err)?;
        Ok(ids
            .iter()
            .zip(vals)
            .filter(|(_, v)| v.is_some())
            .map(|(id, _)| id.clone())
            .collect())
    }

    /// Removes an agent's presence.
    pub async fn remove(&self, id: &str) -> Result<(), DispatchError> {
        let mut conn = self.redis.clone();
        redis::pipe()
            .atomic()
            .cmd("DEL")
            .arg(self.names.agent_key(id))
            .ignore()
            .cmd("ZREM")
            .arg(self.names.agent_index_key())
            .arg(id)
            .ignore()
            .query_async::<()>(&mut conn)
            .await
            .map_err(redis_err)
    }

    /// Every present agent (the index is swept of entries long expired).
    pub async fn list(&self, now: i64) -> Result<Vec<AgentRecord>, DispatchError> {
        let mut conn = self.redis.clone();
        let index = self.names.agent_index_key();
        let _: () = redis::cmd("ZREMRANGEBYSCORE")
            .arg(&index)
            .arg("-inf")
            .arg(now - 86_400_000)
            .query_async(&mut conn)
            .await
            .map_err(redis_err)?;
        let ids: Vec<String> = redis::cmd("ZRANGEBYSCORE")
            .arg(&index)
            .arg(now)
            .arg("+inf")
            .arg("LIMIT")
            .arg(0)
            .arg(10_000)
            .query_async(&mut conn)
            .await
            .map_err(redis_err)?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = ids.iter().map(|id| self.names.agent_key(id)).collect();
        let vals: Vec<Option<String>> = redis::cmd("MGET")
            .arg(keys)
            .query_async(&mut conn)
            .await
            .map_err(redis_err)?;
        let mut out: Vec<AgentRecord> = vals
            .into_iter()
            .flatten()
            .filter_map(|s| serde_json::from_str(&s).ok())
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    /// How long presence lasts after a heartbeat.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_event::task::{Origin, Task};

    fn rec(id: &str, state: State) -> TaskRecord {
        let task = Task {
            id: id.into(),
            kind: "k".into(),
            priority: 5,
            description: "d".into(),
            context: Default::default(),
            required_capabilities: vec![],
            blocked_by: vec![],
            job_id: None,
            fingerprint: None,
            origin: Origin::default(),
            attempts: 0,
            created_at: String::new(),
        };
        TaskRecord::new(task, state, 0)
    }

    #[test]
    fn only_available_records_are_candidates() {
        let m = Mirror::default();
        m.apply("a", 1, Some(rec("a", State::Available)));
        m.apply("b", 2, Some(rec("b", State::Available)));
        let caps = BTreeSet::new();
        assert_eq!(
            m.candidates(&caps, &[], 0, Duration::from_secs(60), 8)
                .len(),
            2
        );
        m.apply("a", 3, Some(rec("a", State::Claimed)));
        let c = m.candidates(&caps, &[], 0, Duration::from_secs(60), 8);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].value.task.id, "b");
        // An older revision never overwrites a newer one.
        m.apply("a", 2, Some(rec("a", State::Available)));
        assert_eq!(m.get("a").unwrap().value.state, State::Claimed);
        assert_eq!(m.in_state(State::Claimed).len(), 1);
        m.apply("a", 4, None);
        assert!(m.get("a").is_none());
        assert!(m.in_state(State::Claimed).is_empty());
    }
}

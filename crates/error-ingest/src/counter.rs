//! Occurrence counters per fingerprint in Redis: every accepted event is
//! counted, duplicates included.
//!
//! Per fingerprint: one hash (`count`, `first_seen`, `last_seen`,
//! `last_event_id`, and a field `env:<name>` / `release:<name>` per
//! environment and release seen), expiring `fingerprint_retention` after the
//! last occurrence; and a sorted set of fingerprints by count for `?top=N`,
//! trimmed to the largest [`TOP_KEEP`]. Once that set is full, a fingerprint
//! whose count is not above the lowest score in it is not written to it (on
//! a tie the member already in the set stays), so a flood of new fingerprints
//! costs the set one ZREM each of a member it does not hold.
//!
//! Counting is group-committed: the events being ingested at the same moment
//! are counted together by one script run (one round trip, one script call
//! in Redis, however many events), while the next group gathers. An event
//! still waits for its own count, so its reply says how many occurrences its
//! fingerprint has, itself included. At most [`MAX_GROUP`] occurrences go in
//! one run and at most [`GROUPS_IN_FLIGHT`] runs are outstanding; the queue
//! in front of them holds at most [`QUEUE`] occurrences (the ingest path's
//! own in-flight bound keeps it far below that).
//!
//! The script names every key it touches (`KEYS`), one per occurrence, so a
//! group's fingerprints must live on one Redis node: faultline uses a
//! single Redis (with replicas), not Redis Cluster.

use std::time::Duration;

use faultline_core::names::Names;
use futures_util::stream::{FuturesUnordered, StreamExt};
use redis::aio::ConnectionManager;
use redis::{RedisError, RedisResult, Script};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

/// Fingerprints kept in the top set.
pub const TOP_KEEP: usize = 10_000;

/// Occurrences counted by one script run at most.
pub const MAX_GROUP: usize = 256;
/// Script runs outstanding at once.
pub const GROUPS_IN_FLIGHT: usize = 2;
/// Occurrences waiting for a run at most.
pub const QUEUE: usize = 8192;

/// Counts a group. `KEYS[1]` is the top set, `KEYS[1 + i]` the hash of
/// occurrence `i`; `ARGV[1]` the retention (ms), `ARGV[2]` how many to keep
/// in the top set, then five per occurrence: time, event id, environment
/// field, release field, fingerprint. Returns each occurrence's count, or -1
/// for one that could not be counted.
const RECORD: &str = r"
local top = KEYS[1]
-- Once the top set is full, a fingerprint whose count is not above the
-- score of its last kept place is not written (on a tie, the member already
-- there stays). That place exists only when the set is full.
local floor = -1
local last_kept = tonumber(ARGV[2]) - 1
local kth = redis.call('ZREVRANGE', top, last_kept, last_kept, 'WITHSCORES')
if kth[2] then
  floor = tonumber(kth[2])
end
local trim = false
local function record(key, a)
  local count = redis.call('HINCRBY', key, 'count', 1)
  if count == 1 then
    redis.call('HSET', key, 'first_seen', ARGV[a], 'last_seen', ARGV[a], 'last_event_id', ARGV[a + 1], ARGV[a + 2], 1, ARGV[a + 3], 1)
  else
    redis.call('HSET', key, 'last_seen', ARGV[a], 'last_event_id', ARGV[a + 1], ARGV[a + 2], 1, ARGV[a + 3], 1)
  end
  redis.call('PEXPIRE', key, ARGV[1])
  -- The hash's count is the score (ZADD answers an integer; ZINCRBY would
  -- format a float for every occurrence).
  if count > floor then
    redis.call('ZADD', top, count, ARGV[a + 4])
    trim = true
  elseif count == 1 then
    -- A new hash: any score the set still holds for this fingerprint is
    -- from before its hash expired (removes nothing for a new one).
    redis.call('ZREM', top, ARGV[a + 4])
  end
  return count
end
local out = {}
for i = 2, #KEYS do
  -- One occurrence that cannot be counted (a key of another type, out of
  -- memory) fails alone: -1 for it, the others are counted.
  local ok, count = pcall(record, KEYS[i], 3 + (i - 2) * 5)
  if ok then
    out[i - 1] = count
  else
    out[i - 1] = -1
  end
end
if trim then
  pcall(redis.call, 'ZREMRANGEBYRANK', top, 0, -(tonumber(ARGV[2]) + 1))
end
return out
";

const UNDO: &str = r"
local count = redis.call('HINCRBY', KEYS[1], 'count', -1)
if count <= 0 then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
else
  -- XX: only a fingerprint already in the top set gets its score back.
  redis.call('ZADD', KEYS[2], 'XX', count, ARGV[1])
end
return count
";

/// What is known about a fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FingerprintStats {
    /// The fingerprint.
    pub fingerprint: String,
    /// Occurrences, duplicates included.
    pub count: u64,
    /// First occurrence (unix ms).
    pub first_seen_unix_ms: i64,
    /// Last occurrence (unix ms).
    pub last_seen_unix_ms: i64,
    /// Id of the last event.
    pub last_event_id: String,
    /// Environments it was seen in.
    pub environments: Vec<String>,
    /// Releases it was seen in.
    pub releases: Vec<String>,
}

/// One occurrence to count.
#[derive(Debug, Clone, Copy)]
pub struct Occurrence<'a> {
    /// Fingerprint.
    pub fingerprint: &'a str,
    /// Event id.
    pub event_id: &'a str,
    /// Environment, if any.
    pub environment: Option<&'a str>,
    /// Release, if any.
    pub release: Option<&'a str>,
    /// When (unix ms).
    pub at_unix_ms: i64,
}

/// One occurrence waiting for its group.
struct Queued {
    fingerprint: String,
    event_id: String,
    environment_field: String,
    release_field: String,
    at_unix_ms: i64,
    reply: oneshot::Sender<RedisResult<u64>>,
}

/// The counters of one namespace.
#[derive(Clone)]
pub struct Counter {
    conn: ConnectionManager,
    names: Names,
    undo: Script,
    queue: mpsc::Sender<Queued>,
}

impl std::fmt::Debug for Counter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Counter")
            .field("namespace", self.names.namespace())
            .finish_non_exhaustive()
    }
}

/// Runs the groups; ends when every [`Counter`] is dropped and the queue is done.
struct Committer {
    conn: ConnectionManager,
    names: Names,
    retention_ms: u64,
    top_keep: usize,
    record: Script,
}

impl Committer {
    async fn serve(self, mut queue: mpsc::Receiver<Queued>) {
        let mut running = FuturesUnordered::new();
        loop {
            tokio::select! {
                biased;
                Some(()) = running.next(), if !running.is_empty() => {}
                next = queue.recv(), if running.len() < GROUPS_IN_FLIGHT => {
                    let Some(first) = next else { break };
                    let mut group = Vec::with_capacity(MAX_GROUP.min(queue.len() + 1));
                    group.push(first);
                    while group.len() < MAX_GROUP {
                        match queue.try_recv() {
                            Ok(q) => group.push(q),
                            Err(_) => break,
                        }
                    }
                    running.push(self.run(group));
                }
            }
        }
        while running.next().await.is_some() {}
    }

    async fn run(&self, group: Vec<Queued>) {
        let mut invocation = self.record.prepare_invoke();
        invocation.key(self.names.fingerprint_top_key());
        for q in &group {
            invocation.key(self.names.fingerprint_key(&q.fingerprint));
        }
        invocation.arg(self.retention_ms).arg(self.top_keep);
        for q in &group {
            invocation
                .arg(q.at_unix_ms)
                .arg(&q.event_id)
                .arg(&q.environment_field)
                .arg(&q.release_field)
                .arg(&q.fingerprint);
        }
        let mut conn = self.conn.clone();
        let counts: RedisResult<Vec<i64>> = invocation.invoke_async(&mut conn).await;
        match counts {
            Ok(counts) if counts.len() == group.len() => {
                for (q, count) in group.into_iter().zip(counts) {
                    let answer = u64::try_from(count).ok().filter(|c| *c > 0).ok_or_else(|| {
                        RedisError::from((
                            redis::ErrorKind::Server(redis::ServerErrorKind::ResponseError),
                            "Redis could not count this occurrence",
                            format!("fingerprint {}", q.fingerprint),
                        ))
                    });
                    // The caller may have gone (its request was dropped).
                    let _ = q.reply.send(answer);
                }
            }
            Ok(counts) => {
                let err = RedisError::from((
                    redis::ErrorKind::UnexpectedReturnType,
                    "the counting script answered a wrong number of counts",
                    format!("{} for {} occurrences", counts.len(), group.len()),
                ));
                for q in group {
                    let _ = q.reply.send(Err(err.clone()));
                }
            }
            Err(err) => {
                for q in group {
                    let _ = q.reply.send(Err(err.clone()));
                }
            }
        }
    }
}

impl Counter {
    /// Counters kept `retention` after the last occurrence. Starts the task
    /// that counts groups (call it inside a Tokio runtime).
    pub fn new(conn: ConnectionManager, names: Names, retention: Duration) -> Self {
        Self::with_top_keep(conn, names, retention, TOP_KEEP)
    }

    /// As [`Counter::new`], keeping `top_keep` fingerprints in the top set.
    pub fn with_top_keep(
        conn: ConnectionManager,
        names: Names,
        retention: Duration,
        top_keep: usize,
    ) -> Self {
        let (queue, rx) = mpsc::channel(QUEUE);
        let committer = Committer {
            conn: conn.clone(),
            names: names.clone(),
            retention_ms: u64::try_from(retention.as_millis()).unwrap_or(u64::MAX),
            top_keep,
            record: Script::new(RECORD),
        };
        tokio::spawn(committer.serve(rx));
        Self {
            conn,
            names,
            undo: Script::new(UNDO),
            queue,
        }
    }

    /// Counts one occurrence; returns the fingerprint's count so far, this
    /// occurrence included. Waits for the group it goes in.
    pub async fn record(&self, o: Occurrence<'_>) -> RedisResult<u64> {
        let (reply, answer) = oneshot::channel();
        // Absent environment or release: the field `env:` / `release:` marks it.
        let queued = Queued {
            fingerprint: o.fingerprint.to_owned(),
            event_id: o.event_id.to_owned(),
            environment_field: format!("env:{}", o.environment.unwrap_or("")),
            release_field: format!("release:{}", o.release.unwrap_or("")),
            at_unix_ms: o.at_unix_ms,
            reply,
        };
        let gone = || RedisError::from((redis::ErrorKind::Io, "the counting task has stopped"));
        self.queue.send(queued).await.map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }

    /// Takes back an occurrence whose event JetStream did not take.
    pub async fn undo(&self, fingerprint: &str) -> RedisResult<()> {
        let n = &self.names;
        let mut conn = self.conn.clone();
        let _: i64 = self
            .undo
            .key(n.fingerprint_key(fingerprint))
            .key(n.fingerprint_top_key())
            .arg(fingerprint)
            .invoke_async(&mut conn)
            .await?;
        Ok(())
    }

    /// The counters of one fingerprint.
    pub async fn get(&self, fingerprint: &str) -> RedisResult<Option<FingerprintStats>> {
        Ok(self
            .get_many(&[fingerprint.to_owned()])
            .await?
            .pop()
            .flatten())
    }

    async fn get_many(
        &self,
        fingerprints: &[String],
    ) -> RedisResult<Vec<Option<FingerprintStats>>> {
        let mut pipe = redis::pipe();
        for fp in fingerprints {
            pipe.cmd("HGETALL").arg(self.names.fingerprint_key(fp));
        }
        let mut conn = self.conn.clone();
        let hashes: Vec<std::collections::HashMap<String, String>> =
            pipe.query_async(&mut conn).await?;
        Ok(fingerprints
            .iter()
            .zip(hashes)
            .map(|(fp, hash)| {
                if hash.is_empty() {
                    return None;
                }
                let num = |k: &str| hash.get(k).and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
                let mut environments = Vec::new();
                let mut releases = Vec::new();
                for key in hash.keys() {
                    if let Some(env) = key.strip_prefix("env:").filter(|e| !e.is_empty()) {
                        environments.push(env.to_owned());
                    } else if let Some(rel) = key.strip_prefix("release:").filter(|r| !r.is_empty())
                    {
                        releases.push(rel.to_owned());
                    }
                }
                environments.sort();
                releases.sort();
                Some(FingerprintStats {
                    fingerprint: fp.clone(),
                    count: num("count").max(0) as u64,
                    first_seen_unix_ms: num("first_seen"),
                    last_seen_unix_ms: num("last_seen"),
                    last_event_id: hash.get("last_event_id").cloned().unwrap_or_default(),
                    environments,
                    releases,
                })
            })
            .collect())
    }

    /// The `n` fingerprints with the most occurrences, most first.
    pub async fn top(&self, n: usize) -> RedisResult<Vec<FingerprintStats>> {
        if n == 0 {
            return Ok(Vec::new());
        }
        let mut conn = self.conn.clone();
        let fps: Vec<String> = redis::cmd("ZREVRANGE")
            .arg(self.names.fingerprint_top_key())
            .arg(0)
            .arg(n as i64 - 1)
            .query_async(&mut conn)
            .await?;
        Ok(self.get_many(&fps).await?.into_iter().flatten().collect())
    }
}

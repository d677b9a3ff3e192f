//! Occurrence counters per fingerprint in Redis: every accepted event is
//! counted, duplicates included, in one round trip (one Lua script).
//!
//! Per fingerprint: one hash (`count`, `first_seen`, `last_seen`,
//! `last_event_id`, and a field `env:<name>` / `release:<name>` per
//! environment and release seen), expiring `fingerprint_retention` after the
//! last occurrence; and a sorted set of fingerprints by count for `?top=N`,
//! trimmed to the largest 10,000. One key per fingerprint keeps the script
//! short: it runs once per accepted event.

use std::time::Duration;

use faultline_core::names::Names;
use redis::aio::ConnectionManager;
use redis::{RedisResult, Script};
use serde::Serialize;

const TOP_KEEP: i64 = 10_000;

const RECORD: &str = r"
local count = redis.call('HINCRBY', KEYS[1], 'count', 1)
redis.call('HSETNX', KEYS[1], 'first_seen', ARGV[1])
redis.call('HSET', KEYS[1], 'last_seen', ARGV[1], 'last_event_id', ARGV[2], ARGV[3], 1, ARGV[4], 1)
redis.call('PEXPIRE', KEYS[1], ARGV[6])
redis.call('ZINCRBY', KEYS[2], 1, ARGV[5])
if count % 100 == 1 then
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(tonumber(ARGV[7]) + 1))
end
return count
";

const UNDO: &str = r"
local count = redis.call('HINCRBY', KEYS[1], 'count', -1)
if count <= 0 then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
else
  redis.call('ZINCRBY', KEYS[2], -1, ARGV[1])
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

/// The counters of one namespace.
#[derive(Clone)]
pub struct Counter {
    conn: ConnectionManager,
    names: Names,
    retention: Duration,
    record: Script,
    undo: Script,
}

impl std::fmt::Debug for Counter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Counter")
            .field("namespace", self.names.namespace())
            .finish_non_exhaustive()
    }
}

impl Counter {
    /// Counters kept `retention` after the last occurrence.
    pub fn new(conn: ConnectionManager, names: Names, retention: Duration) -> Self {
        Self {
            conn,
            names,
            retention,
            record: Script::new(RECORD),
            undo: Script::new(UNDO),
        }
    }

    /// Counts one occurrence; returns the fingerprint's count so far.
    pub async fn record(&self, o: Occurrence<'_>) -> RedisResult<u64> {
        let n = &self.names;
        let fp = o.fingerprint;
        let mut conn = self.conn.clone();
        // Absent environment or release: the field `env:` / `release:` marks it.
        self.record
            .key(n.fingerprint_key(fp))
            .key(n.fingerprint_top_key())
            .arg(o.at_unix_ms)
            .arg(o.event_id)
            .arg(format!("env:{}", o.environment.unwrap_or("")))
            .arg(format!("release:{}", o.release.unwrap_or("")))
            .arg(fp)
            .arg(self.retention.as_millis() as u64)
            .arg(TOP_KEEP)
            .invoke_async(&mut conn)
            .await
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

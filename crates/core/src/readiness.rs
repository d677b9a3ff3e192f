//! Readiness signals: one Redis lease per service instance.
//!
//! A serving instance writes `SET key value PX ttl` and renews it on a timer;
//! the value says who it is and where it listens. A sorted set per service
//! indexes its instances, so readers find them without `SCAN`. Liveness is
//! decided by Redis itself (the key exists or has expired), so clocks of
//! different hosts never matter. Expired signals are found by a sweeper that
//! compares the index with the keys, never by keyspace notifications (those
//! are fire-and-forget and late).
//!
//! Redis holds liveness only; losing it (an empty restart) costs one renewal
//! interval, after which every instance has re-asserted its signal.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redis::aio::ConnectionManager;
use redis::{RedisResult, Script};
use serde::{Deserialize, Serialize};

use crate::names::{Names, ServiceName};

/// What a readiness signal says about the instance that holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadinessSignal {
    /// Service name (`task-dispatcher`).
    pub service: String,
    /// Instance id (hostname-pid by default).
    pub instance: String,
    /// The binary's version.
    pub version: String,
    /// Where its gRPC port is reached.
    pub grpc_addr: String,
    /// Where its admin HTTP port is reached.
    pub admin_addr: String,
    /// When the process started (RFC 3339).
    pub started_at: String,
    /// When the signal was last renewed (RFC 3339).
    #[serde(default)]
    pub renewed_at: String,
}

/// An instance whose signal expired without being withdrawn: it died or lost Redis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expired {
    /// The service.
    pub service: ServiceName,
    /// The instance id.
    pub instance: String,
    /// Its last renewal.
    pub last_renewed: SystemTime,
}

const LIVE: &str = r"
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
local out = {}
for _, m in ipairs(members) do
  local v = redis.call('GET', ARGV[1] .. m)
  if v then table.insert(out, v) end
end
return out
";

const SWEEP: &str = r"
local members = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local out = {}
for i = 1, #members, 2 do
  local m = members[i]
  if redis.call('EXISTS', ARGV[1] .. m) == 0 then
    redis.call('ZREM', KEYS[1], m)
    table.insert(out, m)
    table.insert(out, members[i + 1])
  end
end
return out
";

/// Reads and writes readiness signals of one namespace.
#[derive(Clone)]
pub struct Readiness {
    conn: ConnectionManager,
    names: Names,
    ttl: Duration,
    live: Script,
    sweep: Script,
}

impl std::fmt::Debug for Readiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Readiness")
            .field("namespace", self.names.namespace())
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

/// Now in unix milliseconds.
pub fn unix_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// `14:02:11` (UTC) for log lines.
pub fn clock(t: SystemTime) -> String {
    let s = humantime::format_rfc3339_seconds(t).to_string();
    s.get(11..19).unwrap_or(&s).to_owned()
}

impl Readiness {
    /// Signals with lifetime `ttl`.
    pub fn new(conn: ConnectionManager, names: Names, ttl: Duration) -> Self {
        Self {
            conn,
            names,
            ttl,
            live: Script::new(LIVE),
            sweep: Script::new(SWEEP),
        }
    }

    /// The lifetime of a signal.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Writes (or renews) `signal`, in one transaction with its index entry.
    pub async fn assert(&self, service: ServiceName, signal: &ReadinessSignal) -> RedisResult<()> {
        let mut signal = signal.clone();
        let now = SystemTime::now();
        signal.renewed_at = humantime::format_rfc3339_millis(now).to_string();
        let value = serde_json::to_string(&signal).expect("signal serialises");
        let mut conn = self.conn.clone();
        redis::pipe()
            .atomic()
            .cmd("SET")
            .arg(self.names.readiness_key(service, &signal.instance))
            .arg(value)
            .arg("PX")
            .arg(self.ttl.as_millis() as u64)
            .ignore()
            .cmd("ZADD")
            .arg(self.names.readiness_index_key(service))
            .arg(unix_ms(now))
            .arg(&signal.instance)
            .ignore()
            .query_async::<()>(&mut conn)
            .await
    }

    /// Removes an instance's signal (graceful shutdown, or no longer serving).
    pub async fn withdraw(&self, service: ServiceName, instance: &str) -> RedisResult<()> {
        let mut conn = self.conn.clone();
        redis::pipe()
            .atomic()
            .cmd("DEL")
            .arg(self.names.readiness_key(service, instance))
            .ignore()
            .cmd("ZREM")
            .arg(self.names.readiness_index_key(service))
            .arg(instance)
            .ignore()
            .query_async::<()>(&mut conn)
            .await
    }

    /// The live signals of a service's instances (one round trip).
    pub async fn live(&self, service: ServiceName) -> RedisResult<Vec<ReadinessSignal>> {
        let mut conn = self.conn.clone();
        let values: Vec<String> = self
            .live
            .key(self.names.readiness_index_key(service))
            .arg(self.names.readiness_key(service, ""))
            .invoke_async(&mut conn)
            .await?;
        Ok(values
            .iter()
            .filter_map(|v| match serde_json::from_str(v) {
                Ok(signal) => Some(signal),
                Err(err) => {
                    tracing::warn!(%service, error = %err, "ignoring a malformed readiness signal");
                    None
                }
            })
            .collect())
    }

    /// Finds instances of `service` whose signal expired, removes them from
    /// the index and returns them (each is reported once).
    pub async fn sweep(&self, service: ServiceName) -> RedisResult<Vec<Expired>> {
        let mut conn = self.conn.clone();
        let flat: Vec<String> = self
            .sweep
            .key(self.names.readiness_index_key(service))
            .arg(self.names.readiness_key(service, ""))
            .invoke_async(&mut conn)
            .await?;
        Ok(flat
            .chunks(2)
            .map(|pair| Expired {
                service,
                instance: pair[0].clone(),
                last_renewed: UNIX_EPOCH
                    + Duration::from_millis(
                        pair.get(1)
                            .and_then(|s| s.parse::<f64>().ok())
                            .unwrap_or(0.0) as u64,
                    ),
            })
            .collect())
    }
}

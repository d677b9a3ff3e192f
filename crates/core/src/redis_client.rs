//! Connecting to Redis: bounded retries at start, then a
//! [`ConnectionManager`] that reconnects by itself, with timeouts on every
//! command so a hung Redis never hangs a caller.

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::IntoConnectionInfo;

use crate::config::RedisConfig;
use crate::nats::backoff;

/// Why Redis could not be used.
#[derive(Debug, thiserror::Error)]
pub enum RedisError {
    /// The URL does not parse.
    #[error("redis.url {url} is invalid: {error}")]
    BadUrl {
        /// Redacted URL.
        url: String,
        /// Parser error.
        error: String,
    },
    /// The password file cannot be read.
    #[error("cannot read redis.password_file {path}: {source}")]
    PasswordFile {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Every attempt failed.
    #[error("cannot connect to Redis at {url} after {attempts} attempts: {last}")]
    Unreachable {
        /// Redacted URL.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// The last error.
        last: String,
    },
}

/// Connects with bounded retries and checks the server answers `PING`.
pub async fn connect(cfg: &RedisConfig) -> Result<ConnectionManager, RedisError> {
    let url = cfg.url.redacted();
    let mut info = cfg
        .url
        .expose()
        .into_connection_info()
        .map_err(|e| RedisError::BadUrl {
            url: url.clone(),
            error: e.to_string(),
        })?;
    if let Some(path) = &cfg.password_file {
        let password =
            std::fs::read_to_string(path).map_err(|source| RedisError::PasswordFile {
                path: path.display().to_string(),
                source,
            })?;
        let settings = info.redis_settings().clone().set_password(password.trim());
        info = info.set_redis_settings(settings);
    }
    let client = redis::Client::open(info).map_err(|e| RedisError::BadUrl {
        url: url.clone(),
        error: e.to_string(),
    })?;
    let manager_config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(cfg.timeout))
        .set_response_timeout(Some(cfg.timeout))
        .set_number_of_retries(2)
        .set_max_delay(std::time::Duration::from_secs(2));
    let mut last = String::new();
    for attempt in 0..cfg.connect_attempts {
        if attempt > 0 {
            let wait = backoff(
                std::time::Duration::from_millis(200),
                std::time::Duration::from_secs(5),
                attempt - 1,
            );
            tracing::warn!(redis = %url, attempt, retry_in = ?wait, error = %last, "Redis not reachable yet");
            tokio::time::sleep(wait).await;
        }
        match client
            .get_connection_manager_with_config(manager_config.clone())
            .await
        {
            Ok(mut conn) => match redis::cmd("PING").query_async::<String>(&mut conn).await {
                Ok(_) => {
                    tracing::info!(redis = %url, "connected to Redis");
                    return Ok(conn);
                }
                Err(e) => last = e.to_string(),
            },
            Err(e) => last = e.to_string(),
        }
    }
    Err(RedisError::Unreachable {
        url,
        attempts: cfg.connect_attempts,
        last,
    })
}

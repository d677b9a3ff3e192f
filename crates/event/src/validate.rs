//! Bytes → [`ErrorEvent`], strictly: every refusal says what and where.

use serde::Serialize;

use crate::model::{ErrorEvent, Timestamp};

/// Limits on one event. The defaults keep an event well below NATS's
/// default 1 MiB max payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest event, in bytes of JSON (after decompression).
    pub max_event_bytes: usize,
    /// Longest string value, in bytes (`stack` may use up to `max_event_bytes`).
    pub max_string_bytes: usize,
    /// Deepest nesting of objects and arrays (the event itself is depth 1).
    pub max_depth: usize,
    /// Most stack frames.
    pub max_frames: usize,
    /// Most entries in `tags` and in `context` each.
    pub max_entries: usize,
    /// Most fingerprint components.
    pub max_fingerprint_parts: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_event_bytes: 256 * 1024,
            max_string_bytes: 16 * 1024,
            max_depth: 8,
            max_frames: 250,
            max_entries: 100,
            max_fingerprint_parts: 16,
        }
    }
}

/// Why an event was refused. `code()` is stable and machine-readable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// Larger than `max_event_bytes`.
    #[error("event is {size} bytes; the limit is {limit}")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Not UTF-8.
    #[error("body is not valid UTF-8 (first bad byte at offset {offset})")]
    InvalidUtf8 {
        /// Offset of the first invalid byte.
        offset: usize,
    },
    /// Not JSON.
    #[error("malformed JSON at line {line}, column {column}: {message}")]
    Malformed {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// Parser message.
        message: String,
    },
    /// A field the schema does not know.
    #[error("unknown field `{field}` at {path}")]
    UnknownField {
        /// The field.
        field: String,
        /// Where (JSON path).
        path: String,
    },
    /// A value of the wrong type.
    #[error("wrong type at {path}: {message}")]
    WrongType {
        /// Where.
        path: String,
        /// What was expected.
        message: String,
    },
    /// A required value is missing.
    #[error("missing {what}")]
    Missing {
        /// What.
        what: String,
    },
    /// Nested deeper than `max_depth`.
    #[error("{path} is nested deeper than {limit} levels")]
    TooDeep {
        /// Where.
        path: String,
        /// The limit.
        limit: usize,
    },
    /// A string, list or map over its limit.
    #[error("{path} is too long: {size} {unit}; the limit is {limit}")]
    TooLong {
        /// Where.
        path: String,
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
        /// bytes, frames, entries...
        unit: &'static str,
    },
    /// A value that parses but is not acceptable.
    #[error("invalid {path}: {message}")]
    Invalid {
        /// Where.
        path: String,
        /// Why.
        message: String,
    },
}

impl EventError {
    /// A stable code for APIs and metrics: `too_large`, `invalid_utf8`,
    /// `malformed_json`, `unknown_field`, `wrong_type`, `missing_field`,
    /// `too_deep`, `too_long`, `invalid_value`.
    pub fn code(&self) -> &'static str {
        match self {
            EventError::TooLarge { .. } => "too_large",
            EventError::InvalidUtf8 { .. } => "invalid_utf8",
            EventError::Malformed { .. } => "malformed_json",
            EventError::UnknownField { .. } => "unknown_field",
            EventError::WrongType { .. } => "wrong_type",
            EventError::Missing { .. } => "missing_field",
            EventError::TooDeep { .. } => "too_deep",
            EventError::TooLong { .. } => "too_long",
            EventError::Invalid { .. } => "invalid_value",
        }
    }
}

/// Parses and validates one event.
pub fn parse(bytes: &[u8], limits: &Limits) -> Result<ErrorEvent, EventError> {
    if bytes.len() > limits.max_event_bytes {
        return Err(EventError::TooLarge {
            size: bytes.len(),
            limit: limits.max_event_bytes,
        });
    }
    let text = std::str::from_utf8(bytes).map_err(|e| EventError::InvalidUtf8 {
        offset: e.valid_up_to(),
    })?;
    // The fast path parses plainly; only a refused event is parsed again
    // with path tracking, to say exactly where it went wrong.
    let event: ErrorEvent = match serde_json::from_str(text) {
        Ok(ev) => ev,
        Err(plain) => {
            let mut de = serde_json::Deserializer::from_str(text);
            return Err(
                match serde_path_to_error::deserialize::<_, ErrorEvent>(&mut de) {
                    Err(err) => classify(&err),
                    // Trailing characters: the typed parse succeeded, `end` failed.
                    Ok(_) => EventError::Malformed {
                        line: plain.line(),
                        column: plain.column(),
                        message: strip_position(&plain.to_string()),
                    },
                },
            );
        }
    };
    check(&event, limits)?;
    Ok(event)
}

fn classify(err: &serde_path_to_error::Error<serde_json::Error>) -> EventError {
    let inner = err.inner();
    let path = match err.path().to_string().as_str() {
        "." | "" => "$".to_owned(),
        p => format!("$.{p}"),
    };
    let message = inner.to_string();
    match inner.classify() {
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
            EventError::Malformed {
                line: inner.line(),
                column: inner.column(),
                message: strip_position(&message),
            }
        }
        serde_json::error::Category::Io => EventError::Malformed {
            line: 0,
            column: 0,
            message,
        },
        serde_json::error::Category::Data => {
            if let Some(rest) = message.strip_prefix("unknown field `") {
                let field = rest.split('`').next().unwrap_or_default().to_owned();
                let parent = path
                    .rsplit_once('.')
                    .map(|(p, _)| p.to_owned())
                    .unwrap_or_else(|| "$".into());
                EventError::UnknownField {
                    field,
                    path: parent,
                }
            } else if let Some(rest) = message.strip_prefix("missing field `") {
                let field = rest.split('`').next().unwrap_or_default();
                EventError::Missing {
                    what: if path == "$" {
                        format!("field `{field}`")
                    } else {
                        format!("field `{field}` in {path}")
                    },
                }
            } else if message.contains("recursion limit") {
                EventError::TooDeep { path, limit: 128 }
            } else {
                EventError::WrongType {
                    path,
                    message: strip_position(&message),
                }
            }
        }
    }
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

fn check_str(path: &str, s: &str, limit: usize) -> Result<(), EventError> {
    if s.len() > limit {
        return Err(EventError::TooLong {
            path: path.to_owned(),
            size: s.len(),
            limit,
            unit: "bytes",
        });
    }
    Ok(())
}

fn check_count(path: &str, n: usize, limit: usize, unit: &'static str) -> Result<(), EventError> {
    if n > limit {
        return Err(EventError::TooLong {
            path: path.to_owned(),
            size: n,
            limit,
            unit,
        });
    }
    Ok(())
}

/// Depth of a JSON value (a scalar is 0, `{}` is 1) and its longest string.
fn check_value(
    path: &str,
    v: &serde_json::Value,
    depth: usize,
    limits: &Limits,
) -> Result<(), EventError> {
    if depth > limits.max_depth {
        return Err(EventError::TooDeep {
            path: path.to_owned(),
            limit: limits.max_depth,
        });
    }
    match v {
        serde_json::Value::String(s) => check_str(path, s, limits.max_string_bytes),
        serde_json::Value::Array(items) => {
            check_count(path, items.len(), limits.max_entries, "entries")?;
            for (i, item) in items.iter().enumerate() {
                check_value(&format!("{path}[{i}]"), item, depth + 1, limits)?;
            }
            Ok(())
        }
        serde_json::Value::Object(map) => {
            check_count(path, map.len(), limits.max_entries, "entries")?;
            for (k, item) in map {
                check_str(&format!("{path} key"), k, limits.max_string_bytes)?;
                check_value(&format!("{path}.{k}"), item, depth + 1, limits)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn check(ev: &ErrorEvent, limits: &Limits) -> Result<(), EventError> {
    let max = limits.max_string_bytes;
    if ev.error.as_deref().is_none_or(|e| e.trim().is_empty()) && ev.exception.is_none() {
        return Err(EventError::Missing {
            what: "`error` (the message) or `exception`".into(),
        });
    }
    for (path, value) in [
        ("$.event_id", &ev.event_id),
        ("$.error", &ev.error),
        ("$.environment", &ev.environment),
        ("$.release", &ev.release),
        ("$.server_name", &ev.server_name),
    ] {
        if let Some(v) = value {
            check_str(path, v, max)?;
        }
    }
    if let Some(stack) = &ev.stack {
        check_str("$.stack", stack, limits.max_event_bytes)?;
    }
    if let Some(env) = &ev.environment {
        let ok = !env.is_empty()
            && env.len() <= 64
            && env
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !ok {
            return Err(EventError::Invalid {
                path: "$.environment".into(),
                message: format!("{env:?}: use 1 to 64 characters of a-z, 0-9, _ and -"),
            });
        }
    }
    if let Some(id) = &ev.event_id {
        let ok = !id.is_empty()
            && id.len() <= 64
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok {
            return Err(EventError::Invalid {
                path: "$.event_id".into(),
                message: "use 1 to 64 characters of A-Z, a-z, 0-9, _ and -".into(),
            });
        }
    }
    if let Some(Timestamp::Text(t)) = &ev.timestamp {
        check_str("$.timestamp", t, 64)?;
    }
    if let Some(Timestamp::Unix(t)) = &ev.timestamp {
        if !t.is_finite() || *t < 0.0 {
            return Err(EventError::Invalid {
                path: "$.timestamp".into(),
                message: format!("{t} is not a unix time"),
            });
        }
    }
    if let Some(ctx) = &ev.context {
        check_count("$.context", ctx.len(), limits.max_entries, "entries")?;
        for (k, v) in ctx {
            check_str("$.context key", k, max)?;
            // The event is depth 1 and context depth 2: its values start at 3.
            check_value(&format!("$.context.{k}"), v, 3, limits)?;
        }
    }
    if let Some(tags) = &ev.tags {
        check_count("$.tags", tags.len(), limits.max_entries, "entries")?;
        for (k, v) in tags {
            check_str("$.tags key", k, 200)?;
            check_str(&format!("$.tags.{k}"), v, max)?;
        }
    }
    if let Some(user) = &ev.user {
        for (path, value) in [
            ("$.user.id", &user.id),
            ("$.user.username", &user.username),
            ("$.user.email", &user.email),
            ("$.user.ip_address", &user.ip_address),
        ] {
            if let Some(v) = value {
                check_str(path, v, max)?;
            }
        }
    }
    if let Some(parts) = &ev.fingerprint {
        check_count(
            "$.fingerprint",
            parts.len(),
            limits.max_fingerprint_parts,
            "parts",
        )?;
        for (i, p) in parts.iter().enumerate() {
            check_str(&format!("$.fingerprint[{i}]"), p, 1024)?;
        }
    }
    if let Some(exc) = &ev.exception {
        check_str("$.exception.type", &exc.kind, max)?;
        if exc.kind.trim().is_empty() {
            return Err(EventError::Invalid {
                path: "$.exception.type".into(),
                message: "must not be empty".into(),
            });
        }
        if let Some(v) = &exc.value {
            check_str("$.exception.value", v, max)?;
        }
        if let Some(m) = &exc.module {
            check_str("$.exception.module", m, max)?;
        }
        if let Some(frames) = &exc.frames {
            check_count(
                "$.exception.frames",
                frames.len(),
                limits.max_frames,
                "frames",
            )?;
            for (i, f) in frames.iter().enumerate() {
                for (name, value) in [
                    ("module", &f.module),
                    ("function", &f.function),
                    ("file", &f.file),
                ] {
                    if let Some(v) = value {
                        check_str(&format!("$.exception.frames[{i}].{name}"), v, max)?;
                    }
                }
            }
        }
    }
    Ok(())
}

//! The event schema.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One error event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorEvent {
    /// Client-chosen id; the ingest assigns one when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// The error message (the seed's `error`; Sentry's `message` is accepted as an alias).
    #[serde(default, alias = "message", skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// A stack trace as text, in whatever language's format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
    /// When it happened: RFC 3339 text or unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<Timestamp>,
    /// Free-form context (the seed's `file`, `line`, `request_id`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<BTreeMap<String, serde_json::Value>>,
    /// The exception, Sentry style.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exception: Option<Exception>,
    /// Severity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<Level>,
    /// Deployment environment (`staging`, `production`, ...): selects the stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// Release or version; a new release makes the same error new again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
    /// The host that reported it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// Short key-value tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
    /// The user affected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<User>,
    /// Client fingerprint: components hashed instead of the default ones;
    /// `{{ default }}` stands for the default components.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<Vec<String>>,
}

/// When an event happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Timestamp {
    /// Unix seconds (fractions allowed).
    Unix(f64),
    /// RFC 3339 text.
    Text(String),
}

/// An exception with its stack frames.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exception {
    /// Exception type or class (`KeyError`, `java.lang.NullPointerException`).
    #[serde(rename = "type")]
    pub kind: String,
    /// Its message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Module or package that defines the type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    /// Frames, outermost first (as Sentry orders them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frames: Option<Vec<Frame>>,
}

/// One stack frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Frame {
    /// Module, package or class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    /// Function or method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    /// Source file (`filename` accepted as an alias).
    #[serde(default, alias = "filename", skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Line number (`lineno` accepted as an alias).
    #[serde(default, alias = "lineno", skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// Whether the frame is the application's own code (not a library's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_app: Option<bool>,
}

/// Severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// The process died.
    Fatal,
    /// An error.
    Error,
    /// A warning.
    Warning,
    /// Information.
    Info,
    /// Debugging.
    Debug,
}

/// The affected user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    /// Id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// User name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// E-mail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// IP address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
}

impl ErrorEvent {
    /// The message: `error`, else the exception's value, else its type.
    pub fn message(&self) -> Option<&str> {
        self.error
            .as_deref()
            .or_else(|| self.exception.as_ref().and_then(|e| e.value.as_deref()))
            .or_else(|| self.exception.as_ref().map(|e| e.kind.as_str()))
    }

    /// A context value as text (`context.file`, `context.line`, ...).
    pub fn context_str(&self, key: &str) -> Option<String> {
        match self.context.as_ref()?.get(key)? {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Null => None,
            other => Some(other.to_string()),
        }
    }
}

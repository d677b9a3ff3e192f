//! Coordination messages between agents on `{ns}.coordination`: every post
//! is scanned by the injection filter (a rejected one is refused with the
//! reason); `@name` mentions are extracted so an agent can list its own.

use async_nats::jetstream::stream::LastRawMessageErrorKind;
use faultline_core::names::stream;
use faultline_injection_filter::Decision;
use serde::{Deserialize, Serialize};

use crate::dispatcher::Dispatcher;
use crate::error::DispatchError;
use crate::record::{now_ms, rfc3339};
use crate::scan;

/// A posted message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Post {
    /// Its sequence in the COORDINATION stream (0 before it is stored).
    #[serde(default)]
    pub id: u64,
    /// Who posted it.
    pub from: String,
    /// What it says.
    pub text: String,
    /// The agents it @mentions.
    #[serde(default)]
    pub mentions: Vec<String>,
    /// RFC 3339.
    pub posted_at: String,
    /// `pass` or `flag`.
    pub filter_decision: String,
}

/// The `@name` mentions in `text` (names of `[A-Za-z0-9_-]`).
pub fn mentions(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let preceded_ok = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        if bytes[i] == b'@' && preceded_ok {
            let start = i + 1;
            let mut end = start;
            while end < bytes.len()
                && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_' || bytes[end] == b'-')
            {
                end += 1;
            }
            if end > start {
                let name = text[start..end].to_owned();
                if !out.contains(&name) {
                    out.push(name);
                }
            }
            i = end.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

const MAX_TEXT: usize = 16 * 1024;

impl Dispatcher {
    /// Posts a message after the filter's scan.
    pub async fn post(&self, from: &str, text: &str) -> Result<Post, DispatchError> {
        if from.trim().is_empty() || from.len() > 128 {
            return Err(DispatchError::InvalidArgument(
                "from: 1 to 128 characters".into(),
            ));
        }
        if text.trim().is_empty() || text.len() > MAX_TEXT {
            return Err(DispatchError::InvalidArgument(format!(
                "text: 1 to {MAX_TEXT} bytes"
            )));
        }
        // Chat between agents is not what the model was trained on: here it
        // may flag on its own, never reject; a rule must agree.
        let thresholds = faultline_injection_filter::Thresholds {
            model_alone_max: (self.0.thresholds.reject - 0.05).max(self.0.thresholds.flag),
            ..self.0.thresholds
        };
        let verdict = scan::scan_text(text, &thresholds);
        if verdict.decision == Decision::Reject {
            self.0.metrics.refused("message");
            return Err(DispatchError::Refused(scan::refusal_message(
                |_| Some(text.to_owned()),
                &verdict,
            )));
        }
        let mut post = Post {
            id: 0,
            from: from.to_owned(),
            text: text.to_owned(),
            mentions: mentions(text),
            posted_at: rfc3339(now_ms()),
            filter_decision: verdict.decision.as_str().into(),
        };
        let payload =
            serde_json::to_vec(&post).map_err(|e| DispatchError::Internal(e.to_string()))?;
        post.id = self
            .publish(self.0.names.coordination(), None, payload.into(), None)
            .await?;
        Ok(post)
    }

    /// Messages after `after`, oldest first; only those mentioning
    /// `mention` when given.
    pub async fn messages(
        &self,
        after: u64,
        limit: u32,
        mention: Option<&str>,
    ) -> Result<Vec<Post>, DispatchError> {
        let limit = if limit == 0 { 100 } else { limit.min(1000) } as usize;
        let name = self.0.names.stream(stream::COORDINATION);
        let s = self
            .0
            .js
            .get_stream(&name)
            .await
            .map_err(|e| DispatchError::Unavailable(format!("cannot open {name}: {e}")))?;
        let subject = self.0.names.coordination();
        let mut out = Vec::new();
        let mut next = after.saturating_add(1);
        // Bounded work per call, whatever the filter.
        for _ in 0..(limit * 20).min(20_000) {
            if out.len() >= limit {
                break;
            }
            let msg = match s.get_first_raw_message_by_subject(&subject, next).await {
                Ok(m) => m,
                Err(e) if matches!(e.kind(), LastRawMessageErrorKind::NoMessageFound) => break,
                Err(e) => {
                    return Err(DispatchError::Unavailable(format!(
                        "cannot list messages: {e}"
                    )))
                }
            };
            next = msg.sequence + 1;
            let Ok(mut post) = serde_json::from_slice::<Post>(&msg.payload) else {
                continue;
            };
            post.id = msg.sequence;
            if mention.is_none_or(|m| post.mentions.iter().any(|x| x == m)) {
                out.push(post);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_are_found() {
        assert_eq!(
            mentions("@alice can you look? cc @bob-2, @alice again; mail x@example.org"),
            ["alice", "bob-2"]
        );
        assert!(mentions("no one").is_empty());
        assert!(mentions("@").is_empty());
    }
}

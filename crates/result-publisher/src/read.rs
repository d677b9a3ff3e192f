//! Reading stored messages back, with bounded work per call.

use async_nats::jetstream;
use async_nats::jetstream::stream::LastRawMessageErrorKind;
use bytes::Bytes;
use faultline_task_dispatcher::DispatchError;

/// Messages on `subject` (wildcards allowed) from sequence `from`, oldest
/// first, at most `limit`: `(seq, payload)`.
pub async fn subject_messages(
    js: &jetstream::Context,
    stream: &str,
    subject: &str,
    from: u64,
    limit: usize,
) -> Result<Vec<(u64, Bytes)>, DispatchError> {
    let s = js
        .get_stream(stream)
        .await
        .map_err(|e| DispatchError::Unavailable(format!("cannot open {stream}: {e}")))?;
    let mut out = Vec::new();
    let mut next = from.max(1);
    while out.len() < limit {
        match s.get_first_raw_message_by_subject(subject, next).await {
            Ok(m) => {
                next = m.sequence + 1;
                out.push((m.sequence, m.payload));
            }
            Err(e) if matches!(e.kind(), LastRawMessageErrorKind::NoMessageFound) => break,
            Err(e) => {
                return Err(DispatchError::Unavailable(format!(
                    "cannot read {stream}: {e}"
                )))
            }
        }
    }
    Ok(out)
}

/// The last `limit` messages on `subject` (wildcards allowed), newest first,
/// looking back at most `window` sequences.
pub async fn last_messages(
    js: &jetstream::Context,
    stream: &str,
    subject: &str,
    limit: usize,
    window: u64,
) -> Result<Vec<(u64, Bytes)>, DispatchError> {
    let mut s = js
        .get_stream(stream)
        .await
        .map_err(|e| DispatchError::Unavailable(format!("cannot open {stream}: {e}")))?;
    let last = s
        .info()
        .await
        .map_err(|e| DispatchError::Unavailable(format!("cannot read {stream}: {e}")))?
        .state
        .last_sequence;
    let from = last.saturating_sub(window).max(1);
    let mut ring = std::collections::VecDeque::with_capacity(limit + 1);
    let mut next = from;
    for _ in 0..window.min(100_000) {
        match s.get_first_raw_message_by_subject(subject, next).await {
            Ok(m) => {
                next = m.sequence + 1;
                ring.push_back((m.sequence, m.payload));
                if ring.len() > limit {
                    ring.pop_front();
                }
            }
            Err(e) if matches!(e.kind(), LastRawMessageErrorKind::NoMessageFound) => break,
            Err(e) => {
                return Err(DispatchError::Unavailable(format!(
                    "cannot read {stream}: {e}"
                )))
            }
        }
    }
    Ok(ring.into_iter().rev().collect())
}

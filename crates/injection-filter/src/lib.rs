//! Prompt-injection filter for error events: a pure library (no I/O, no clock).
//! The service built on it (NATS consumers, gRPC and HTTP) is the module
//! [`service`], behind the default feature `service`; the other services use
//! the scanner with `default-features = false`.
//!
//! [`scan_text`] and [`scan_fields`] return a [`Verdict`]: pass, flag or reject, a score and an
//! explanation (rule hits with the view they matched in and their span in the original text,
//! plus the strongest model features).

pub mod address;
pub mod event;
pub mod model;
pub mod normalize;
pub mod rules;
pub mod seal;
#[cfg(feature = "service")]
pub mod service;
pub mod verdict;

/// Builds the scanner's tables (automata, regexes, model weights) now instead of during the
/// first scan, which would otherwise take tens of milliseconds. Services call it at start; the
/// evaluator calls it before it starts timing.
pub fn warm_up() {
    rules::warm_up();
    model::warm_up();
    address::warm_up();
}

pub use event::{
    event_fields, event_json_fields, explanation_json, filter_mark, scan_event, scan_event_json,
    snippet, snippet_json,
};
pub use verdict::{
    joined_text, scan_fields, scan_fields_with, scan_text, scan_text_with, scan_text_with_model,
    Decision, Explanation, RuleHit, Thresholds, Verdict,
};

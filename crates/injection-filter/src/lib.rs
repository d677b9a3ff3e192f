//! Prompt-injection filter for error events: a pure library (no I/O, no clock).
//!
//! [`scan_text`] and [`scan_fields`] return a [`Verdict`]: pass, flag or reject, a score and an
//! explanation (rule hits with the view they matched in and their span in the original text,
//! plus the strongest model features).

pub mod event;
pub mod model;
pub mod normalize;
pub mod rules;
pub mod verdict;

pub use event::{event_fields, explanation_json, filter_mark, scan_event, snippet};
pub use verdict::{
    scan_fields, scan_fields_with, scan_text, scan_text_with, scan_text_with_model, Decision,
    Explanation, RuleHit, Thresholds, Verdict,
};

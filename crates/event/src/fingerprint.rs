//! The grouping key of an error: versioned, so that a change of the rules
//! never silently merges or splits existing groups (`v1:` + 32 hex digits of
//! SHA-256).
//!
//! v1 components, first that applies:
//! 1. a client fingerprint, with `{{ default }}` expanded to the default ones;
//! 2. exception type + the in-app frames (module + function; never line
//!    numbers, which move with every edit); all frames when none is marked
//!    in-app;
//! 3. exception type + normalised value when there are no frames;
//! 4. normalised message + file + line: the seed documents' signature.

use sha2::{Digest, Sha256};

use crate::model::ErrorEvent;
use crate::normalize::normalize;

/// The fingerprint scheme's version prefix.
pub const FINGERPRINT_VERSION: &str = "v1";

/// The components of the default v1 fingerprint.
pub fn default_components(event: &ErrorEvent) -> Vec<String> {
    if let Some(exc) = &event.exception {
        let frames = exc.frames.as_deref().unwrap_or_default();
        let in_app: Vec<_> = frames.iter().filter(|f| f.in_app == Some(true)).collect();
        let chosen: Vec<_> = if in_app.is_empty() {
            frames.iter().collect()
        } else {
            in_app
        };
        let named: Vec<String> = chosen
            .iter()
            .filter(|f| f.module.is_some() || f.function.is_some())
            .map(|f| {
                format!(
                    "{}::{}",
                    f.module.as_deref().unwrap_or(""),
                    f.function.as_deref().unwrap_or("")
                )
            })
            .collect();
        let mut components = vec!["exception".to_owned(), exc.kind.clone()];
        if named.is_empty() {
            components.push(normalize(exc.value.as_deref().unwrap_or("")));
        } else {
            components.extend(named);
        }
        return components;
    }
    vec![
        "message".to_owned(),
        normalize(event.error.as_deref().unwrap_or("")),
        event
            .context_str("file")
            .map(|f| normalize(&f))
            .unwrap_or_default(),
        event.context_str("line").unwrap_or_default(),
    ]
}

fn is_default_marker(s: &str) -> bool {
    let inner = s.trim();
    inner.starts_with("{{")
        && inner.ends_with("}}")
        && inner[2..inner.len() - 2].trim() == "default"
}

/// The event's fingerprint: `v1:` followed by 32 lowercase hex digits.
pub fn fingerprint(event: &ErrorEvent) -> String {
    let components = match &event.fingerprint {
        Some(client) if !client.is_empty() => {
            let mut out = vec!["client".to_owned()];
            for part in client {
                if is_default_marker(part) {
                    out.extend(default_components(event));
                } else {
                    out.push(part.clone());
                }
            }
            out
        }
        _ => default_components(event),
    };
    let mut hasher = Sha256::new();
    for c in &components {
        hasher.update(c.as_bytes());
        // A separator that cannot be confused with content boundaries.
        hasher.update([0x1f]);
    }
    let digest = hasher.finalize();
    let mut out = String::with_capacity(3 + 32);
    out.push_str(FINGERPRINT_VERSION);
    out.push(':');
    for byte in &digest[..16] {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

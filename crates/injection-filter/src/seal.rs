//! The scan seal: proof that a task message is exactly what the
//! injection-filter scanned and published, so the task-dispatcher need not
//! scan it again.
//!
//! Everything an agent reads is scanned: the filter scans each error event
//! and publishes a task built from it; the dispatcher scans every task it
//! takes, whoever published it (seed scripts publish tasks straight to
//! NATS). For the filter's own tasks the second scan repeats the first on the
//! same text, and on a busy pipeline it is about a fifth of the CPU.
//!
//! With a key shared by the two services (`filter.seal_key_file`), the
//! filter adds `Faultline-Scan-Seal: v1.<hex>` to each task it publishes: an
//! HMAC-SHA256 over the project namespace, the rule-set and model versions,
//! the thresholds, and the message's exact bytes. The dispatcher recomputes it over the bytes it
//! received; only when it matches (compared in constant time), the namespace,
//! versions and thresholds are its own, and the task's mark says `pass` or `flag`,
//! does it take the mark instead of scanning. A task published by anyone
//! else, altered on the way, sealed by another version of the scanner, under
//! other thresholds or with another key, is scanned as before. Without a key
//! nothing is sealed and everything is scanned.
//!
//! The key is a file of at least [`MIN_KEY_BYTES`] bytes (such as
//! `openssl rand -hex 32`); sealing and verifying do no I/O.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::model::MODEL_VERSION;
use crate::rules::RULESET_VERSION;
use crate::Thresholds;

/// The header that carries the seal.
pub const HEADER: &str = "Faultline-Scan-Seal";
/// The shortest key accepted.
pub const MIN_KEY_BYTES: usize = 32;
const PREFIX: &str = "v1.";
const DOMAIN: &[u8] = b"faultline scan seal v1\0";

/// A seal key.
#[derive(Clone)]
pub struct SealKey(Vec<u8>);

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealKey(redacted)")
    }
}

impl SealKey {
    /// A key from a key file's contents (surrounding whitespace ignored).
    ///
    /// # Errors
    /// When fewer than [`MIN_KEY_BYTES`] bytes remain.
    pub fn new(contents: &[u8]) -> Result<Self, String> {
        let key = contents.trim_ascii();
        if key.len() < MIN_KEY_BYTES {
            return Err(format!(
                "a seal key has at least {MIN_KEY_BYTES} bytes, this one {} (make one with `openssl rand -hex 32`)",
                key.len()
            ));
        }
        Ok(Self(key.to_vec()))
    }

    /// The key in `path`.
    ///
    /// # Errors
    /// When the file cannot be read or holds too short a key.
    pub fn from_file(path: &std::path::Path) -> Result<Self, String> {
        let contents = std::fs::read(path)
            .map_err(|e| format!("cannot read the seal key file {}: {e}", path.display()))?;
        Self::new(&contents).map_err(|e| format!("{}: {e}", path.display()))
    }

    fn mac(&self, scanner: &Scanner<'_>, payload: &[u8]) -> Hmac<Sha256> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes a key of any length");
        mac.update(DOMAIN);
        mac.update(scanner.namespace.as_bytes());
        mac.update(b"\0");
        mac.update(scanner.ruleset.as_bytes());
        mac.update(b"\0");
        mac.update(scanner.model.as_bytes());
        mac.update(b"\0");
        let t = scanner.thresholds;
        for x in [t.flag, t.reject, t.model_alone_max] {
            mac.update(&x.to_le_bytes());
        }
        mac.update(payload);
        mac
    }

    /// The seal of `payload`, a task of project `namespace` scanned by this
    /// build's rules and model under `thresholds`.
    pub fn seal(&self, namespace: &str, thresholds: &Thresholds, payload: &[u8]) -> String {
        self.seal_with(&Scanner::this_build(namespace, thresholds), payload)
    }

    fn seal_with(&self, scanner: &Scanner<'_>, payload: &[u8]) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let tag = self.mac(scanner, payload).finalize().into_bytes();
        let mut out = String::with_capacity(PREFIX.len() + 2 * tag.len());
        out.push_str(PREFIX);
        for b in tag {
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
        out
    }

    /// Whether `seal` was made with this key for project `namespace`, by this
    /// build's rules and model under `thresholds`, over exactly `payload`.
    pub fn verify(
        &self,
        namespace: &str,
        thresholds: &Thresholds,
        payload: &[u8],
        seal: &str,
    ) -> bool {
        let Some(hex) = seal.strip_prefix(PREFIX) else {
            return false;
        };
        let Some(tag) = decode_hex(hex) else {
            return false;
        };
        self.mac(&Scanner::this_build(namespace, thresholds), payload)
            .verify_slice(&tag)
            .is_ok()
    }
}

/// What made a verdict: the scanner's versions and thresholds.
struct Scanner<'a> {
    namespace: &'a str,
    ruleset: &'a str,
    model: &'a str,
    thresholds: &'a Thresholds,
}

impl<'a> Scanner<'a> {
    fn this_build(namespace: &'a str, thresholds: &'a Thresholds) -> Self {
        Self {
            namespace,
            ruleset: RULESET_VERSION,
            model: MODEL_VERSION,
            thresholds,
        }
    }
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if hex.len() != 64 {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    hex.as_bytes()
        .chunks(2)
        .map(|p| Some(digit(p[0])? << 4 | digit(p[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n";

    #[test]
    fn a_seal_verifies_only_its_payload_key_namespace_versions_and_thresholds() {
        let key = SealKey::new(KEY).unwrap();
        let t = Thresholds::default();
        let payload = br#"{"id":"inv-1","description":"Investigate"}"#;
        let seal = key.seal("acme", &t, payload);
        assert!(seal.starts_with("v1.") && seal.len() == 3 + 64, "{seal}");
        assert!(key.verify("acme", &t, payload, &seal));

        // One byte changed.
        let mut altered = payload.to_vec();
        altered[10] ^= 1;
        assert!(!key.verify("acme", &t, &altered, &seal));
        // Another key.
        let other = SealKey::new(&[b'k'; 32]).unwrap();
        assert!(!other.verify("acme", &t, payload, &seal));
        // Another version of the scanner.
        for (ruleset, model) in [("rules-0", MODEL_VERSION), (RULESET_VERSION, "model-0")] {
            let old = Scanner {
                namespace: "acme",
                ruleset,
                model,
                thresholds: &t,
            };
            assert!(!key.verify("acme", &t, payload, &key.seal_with(&old, payload)));
        }
        // Other thresholds: a laxer filter cannot vouch for a stricter dispatcher.
        let lax = Thresholds { reject: 0.99, ..t };
        assert!(!key.verify("acme", &t, payload, &key.seal("acme", &lax, payload)));
        // Another project sharing the key.
        assert!(!key.verify("acme", &t, payload, &key.seal("other", &t, payload)));
        // Not a seal.
        for bad in [
            "",
            "v1.",
            "v2.00",
            &seal[..seal.len() - 2],
            &seal.to_uppercase(),
        ] {
            assert!(!key.verify("acme", &t, payload, bad), "{bad:?}");
        }
    }

    #[test]
    fn short_keys_are_refused_and_keys_are_not_printed() {
        let err = SealKey::new(b"  short-key \n").unwrap_err();
        assert!(err.contains("at least 32 bytes, this one 9"), "{err}");
        let key = SealKey::new(KEY).unwrap();
        assert_eq!(format!("{key:?}"), "SealKey(redacted)");
        // Whitespace around the key is not part of it.
        let t = Thresholds::default();
        assert_eq!(
            SealKey::new(KEY.trim_ascii())
                .unwrap()
                .seal("acme", &t, b"x"),
            key.seal("acme", &t, b"x")
        );
    }
}

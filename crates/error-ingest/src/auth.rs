//! API keys: each bound to one project namespace, stored as SHA-256 hashes,
//! compared in constant time.
//!
//! Keys come from `ingest.api_keys_file` (one per line:
//! `<namespace> <name> sha256:<hex>`, `#` for comments) and/or
//! `ingest.api_keys` (`<namespace>:<name>:sha256:<hex>`, comma-separated).
//! The key itself is never stored; `faultline apikey` makes one and prints
//! its line.

use std::path::Path;

use faultline_core::names::Namespace;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// One configured key.
#[derive(Clone)]
pub struct ApiKey {
    /// Its name (who it was given to), for logs and metrics.
    pub name: String,
    /// The project it may write to.
    pub namespace: Namespace,
    hash: [u8; 32],
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKey")
            .field("name", &self.name)
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The key's name (`anonymous` when auth is off).
    pub name: String,
}

/// Why a caller was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No key presented.
    #[error("an API key is required: send `Authorization: Bearer <key>` or `X-API-Key: <key>`")]
    Missing,
    /// The key is not known.
    #[error("unknown API key")]
    Unknown,
    /// The key belongs to another project.
    #[error("this API key belongs to project {key_namespace:?}, not {namespace:?}")]
    WrongProject {
        /// The key's project.
        key_namespace: String,
        /// The project this ingest serves.
        namespace: String,
    },
}

/// The configured keys.
#[derive(Debug, Clone)]
pub struct ApiKeys {
    keys: Vec<ApiKey>,
    required: bool,
}

/// SHA-256 of a key, as stored.
pub fn hash_key(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// The stored form of a key: `sha256:<hex>`.
pub fn stored_form(key: &str) -> String {
    let mut out = String::from("sha256:");
    for b in hash_key(key) {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

fn parse_hash(s: &str) -> Option<[u8; 32]> {
    let hex = s.strip_prefix("sha256:")?;
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, chunk) in hex.as_bytes().chunks(2).enumerate() {
        let text = std::str::from_utf8(chunk).ok()?;
        out[i] = u8::from_str_radix(text, 16).ok()?;
    }
    Some(out)
}

fn key(namespace: &str, name: &str, hash: &str, source: &str) -> Result<ApiKey, String> {
    let namespace = Namespace::new(namespace).map_err(|e| format!("{source}: {e}"))?;
    if name.is_empty() {
        return Err(format!("{source}: the key needs a name"));
    }
    let hash = parse_hash(hash)
        .ok_or_else(|| format!("{source}: expected sha256:<64 hex digits>, not a raw key"))?;
    Ok(ApiKey {
        name: name.to_owned(),
        namespace,
        hash,
    })
}

impl ApiKeys {
    /// Keys from a file's text and an environment string; `required`: refuse callers without one.
    pub fn parse(
        file: Option<(&str, &str)>,
        env: Option<&str>,
        required: bool,
    ) -> Result<Self, String> {
        let mut keys = Vec::new();
        if let Some((path, text)) = file {
            for (n, line) in text.lines().enumerate() {
                let line = line.split('#').next().unwrap_or("").trim();
                if line.is_empty() {
                    continue;
                }
                let parts: Vec<&str> = line.split_whitespace().collect();
                let source = format!("{path}:{}", n + 1);
                match parts.as_slice() {
                    [ns, name, hash] => keys.push(key(ns, name, hash, &source)?),
                    _ => {
                        return Err(format!(
                            "{source}: expected `<namespace> <name> sha256:<hex>`"
                        ))
                    }
                }
            }
        }
        if let Some(env) = env {
            for (n, item) in env
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .enumerate()
            {
                let source = format!("ingest.api_keys entry {}", n + 1);
                let mut parts = item.splitn(3, ':');
                match (parts.next(), parts.next(), parts.next()) {
                    (Some(ns), Some(name), Some(hash)) => keys.push(key(ns, name, hash, &source)?),
                    _ => {
                        return Err(format!(
                            "{source}: expected `<namespace>:<name>:sha256:<hex>`"
                        ))
                    }
                }
            }
        }
        Ok(Self { keys, required })
    }

    /// Loads the keys named by the configuration.
    pub fn load(file: Option<&Path>, env: Option<&str>, required: bool) -> Result<Self, String> {
        let text = match file {
            Some(path) => Some((
                path.display().to_string(),
                std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?,
            )),
            None => None,
        };
        Self::parse(
            text.as_ref().map(|(p, t)| (p.as_str(), t.as_str())),
            env,
            required,
        )
    }

    /// How many keys are configured.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key is configured.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Whether callers must present a key.
    pub fn required(&self) -> bool {
        self.required
    }

    /// Checks a presented key for `namespace`.
    pub fn authenticate(
        &self,
        presented: Option<&str>,
        namespace: &Namespace,
    ) -> Result<Principal, AuthError> {
        let Some(presented) = presented else {
            return if self.required {
                Err(AuthError::Missing)
            } else {
                Ok(Principal {
                    name: "anonymous".into(),
                })
            };
        };
        let hash = hash_key(presented);
        // Compare against every key, whatever matches, so timing says nothing.
        let mut found: Option<&ApiKey> = None;
        for k in &self.keys {
            let eq: bool = k.hash.ct_eq(&hash).into();
            if eq && found.is_none() {
                found = Some(k);
            }
        }
        match found {
            Some(k) if &k.namespace == namespace => Ok(Principal {
                name: k.name.clone(),
            }),
            Some(k) => Err(AuthError::WrongProject {
                key_namespace: k.namespace.to_string(),
                namespace: namespace.to_string(),
            }),
            None if !self.required => Ok(Principal {
                name: "anonymous".into(),
            }),
            None => Err(AuthError::Unknown),
        }
    }
}

/// The key presented in `Authorization: Bearer …` or `X-API-Key: …`.
pub fn presented<'a>(
    authorization: Option<&'a str>,
    x_api_key: Option<&'a str>,
) -> Option<&'a str> {
    authorization
        .and_then(|v| {
            let (scheme, rest) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        })
        .or(x_api_key.map(str::trim))
        .filter(|k| !k.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(s: &str) -> Namespace {
        Namespace::new(s).unwrap()
    }

    #[test]
    fn keys_are_bound_to_their_project() {
        let a = stored_form("key-of-a");
        let b = stored_form("key-of-b");
        let file = format!("# keys\nacme ci {a}\n\nother web {b}  # comment\n");
        let keys = ApiKeys::parse(Some(("keys.txt", &file)), None, true).unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(
            keys.authenticate(Some("key-of-a"), &ns("acme")),
            Ok(Principal { name: "ci".into() })
        );
        assert!(matches!(
            keys.authenticate(Some("key-of-b"), &ns("acme")),
            Err(AuthError::WrongProject { .. })
        ));
        assert_eq!(
            keys.authenticate(Some("nope"), &ns("acme")),
            Err(AuthError::Unknown)
        );
        assert_eq!(
            keys.authenticate(None, &ns("acme")),
            Err(AuthError::Missing)
        );
    }

    #[test]
    fn env_keys_and_errors() {
        let env = format!("acme:ci:{}", stored_form("k"));
        let keys = ApiKeys::parse(None, Some(&env), true).unwrap();
        assert!(keys.authenticate(Some("k"), &ns("acme")).is_ok());
        let err = ApiKeys::parse(Some(("f", "acme ci rawkey\n")), None, true).unwrap_err();
        assert!(err.contains("f:1") && err.contains("sha256"), "{err}");
        let err = ApiKeys::parse(None, Some("Bad:ci:sha256:00"), true).unwrap_err();
        assert!(err.contains("entry 1"), "{err}");
    }

    #[test]
    fn auth_off_lets_anyone_in() {
        let keys = ApiKeys::parse(None, None, false).unwrap();
        assert_eq!(
            keys.authenticate(None, &ns("acme")).unwrap().name,
            "anonymous"
        );
    }

    #[test]
    fn presented_key_headers() {
        assert_eq!(presented(Some("Bearer abc"), None), Some("abc"));
        assert_eq!(presented(Some("bearer  abc "), None), Some("abc"));
        assert_eq!(presented(Some("Basic abc"), Some("x")), Some("x"));
        assert_eq!(presented(None, Some("")), None);
    }
}

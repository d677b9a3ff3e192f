//! Webhooks: every result is POSTed to each configured URL, signed with
//! HMAC-SHA256, retried with backoff, given up after
//! `results.webhook_max_attempts` tries; every attempt is recorded on
//! `{ns}.webhooks.delivery.<webhook>.<task>`.
//!
//! Each webhook has a durable consumer on the RESULTS stream
//! (`webhook-<name>`), shared by every replica: a result is delivered by one
//! replica at a time, and results stored while no replica runs are
//! delivered when one starts. The consumer starts at the results stored
//! after the webhook was first configured.
//!
//! Signature: `Faultline-Signature: t=<unix seconds>,v1=<hex>` where `<hex>`
//! is HMAC-SHA256 of `"<t>.<body>"` with the webhook's secret. A receiver
//! checks it, rejects old `t`, and deduplicates by `Faultline-Delivery`
//! (the result id, the same on every try).

use std::collections::{HashSet, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy};
use async_nats::jetstream::{self, AckKind};
use bytes::Bytes;
use faultline_core::config::ResultsConfig;
use faultline_core::names::{stream, token, Names};
use faultline_core::shutdown::ShutdownSignal;
use futures_util::StreamExt;
use hmac::{Hmac, Mac};
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use tokio::net::TcpStream;

use crate::metrics::ResultMetrics;
use crate::model::ResultDoc;
use crate::publisher::now_rfc3339;

/// One configured webhook (secrets are never printed).
#[derive(Clone)]
pub struct Webhook {
    /// Its name (a subject token).
    pub name: String,
    /// Where results go.
    pub url: hyper::Uri,
    secret: Vec<u8>,
    /// Only these outcomes (empty: all).
    pub outcomes: Vec<String>,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("outcomes", &self.outcomes)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSpec {
    #[serde(default)]
    webhook: Vec<Spec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Spec {
    name: String,
    url: String,
    secret_file: Option<std::path::PathBuf>,
    secret_env: Option<String>,
    #[serde(default)]
    outcomes: Vec<String>,
}

/// Loads the webhooks file: `[[webhook]]` tables with `name`, `url`, and
/// `secret_file` or `secret_env` (a secret is never written in the file).
pub fn load(path: &Path) -> Result<Vec<Webhook>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read webhooks file {}: {e}", path.display()))?;
    let spec: FileSpec =
        toml::from_str(&text).map_err(|e| format!("webhooks file {}: {e}", path.display()))?;
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for s in spec.webhook {
        let ctx = format!("webhook {:?} in {}", s.name, path.display());
        token("webhook name", &s.name).map_err(|e| format!("{ctx}: {e}"))?;
        if !seen.insert(s.name.clone()) {
            return Err(format!("{ctx}: the name is used twice"));
        }
        let url: hyper::Uri = s.url.parse().map_err(|e| format!("{ctx}: bad url: {e}"))?;
        match url.scheme_str() {
            Some("http" | "https") if url.host().is_some() => {}
            _ => return Err(format!("{ctx}: the url must be http(s)://host[:port]/path")),
        }
        let secret = match (&s.secret_file, &s.secret_env) {
            (Some(f), None) => std::fs::read_to_string(f)
                .map_err(|e| format!("{ctx}: cannot read secret_file {}: {e}", f.display()))?,
            (None, Some(var)) => std::env::var(var)
                .map_err(|_| format!("{ctx}: the environment variable {var} is not set"))?,
            _ => {
                return Err(format!(
                    "{ctx}: give exactly one of secret_file, secret_env"
                ))
            }
        };
        let secret = secret.trim().as_bytes().to_vec();
        if secret.len() < 16 {
            return Err(format!("{ctx}: the secret must be at least 16 bytes"));
        }
        for o in &s.outcomes {
            if !crate::model::OUTCOMES.contains(&o.as_str()) {
                return Err(format!("{ctx}: unknown outcome {o:?}"));
            }
        }
        out.push(Webhook {
            name: s.name,
            url,
            secret,
            outcomes: s.outcomes,
        });
    }
    Ok(out)
}

/// The signature header's value for `body` at unix time `t`.
pub fn signature(secret: &[u8], t: u64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let mut hex = String::with_capacity(64);
    for b in digest {
        hex.push_str(&format!("{b:02x}"));
    }
    format!("t={t},v1={hex}")
}

/// One delivery attempt, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// The webhook's name.
    pub webhook: String,
    /// The result.
    pub result_id: String,
    /// Its task.
    pub task_id: String,
    /// 1-based.
    pub attempt: u32,
    /// `delivered`, `failed` (will be retried) or `gave_up`.
    pub outcome: String,
    /// The receiver's HTTP status (0: none).
    pub http_status: u16,
    /// What went wrong.
    #[serde(default)]
    pub error: String,
    /// How long the request took.
    pub duration_ms: u64,
    /// RFC 3339.
    pub at: String,
}

fn tls_config() -> Arc<tokio_rustls::rustls::ClientConfig> {
    use tokio_rustls::rustls;
    let mut roots = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    for cert in found.certs {
        let _ = roots.add(cert);
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map(|b| b.with_root_certificates(roots).with_no_client_auth());
    Arc::new(config.unwrap_or_else(|_| {
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("TLS 1.3 is supported")
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth()
    }))
}

/// POSTs `body` to `url`; the response status.
async fn post(
    url: &hyper::Uri,
    headers: &[(&str, String)],
    body: Bytes,
    tls: &Arc<tokio_rustls::rustls::ClientConfig>,
) -> Result<u16, String> {
    let host = url.host().ok_or("no host")?.to_owned();
    let https = url.scheme_str() == Some("https");
    let port = url.port_u16().unwrap_or(if https { 443 } else { 80 });
    let path = url.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    let authority = url.authority().map_or(host.clone(), |a| a.to_string());
    let tcp = TcpStream::connect((host.trim_matches(['[', ']']), port))
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let _ = tcp.set_nodelay(true);
    let mut req = Request::post(path)
        .header(hyper::header::HOST, authority)
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .header(
            hyper::header::USER_AGENT,
            concat!("faultline/", env!("CARGO_PKG_VERSION")),
        );
    for (k, v) in headers {
        req = req.header(*k, v.as_str());
    }
    let req = req.body(Full::new(body)).map_err(|e| e.to_string())?;
    if https {
        let name = tokio_rustls::rustls::pki_types::ServerName::try_from(
            host.trim_matches(['[', ']']).to_owned(),
        )
        .map_err(|e| format!("bad server name: {e}"))?;
        let tls = tokio_rustls::TlsConnector::from(Arc::clone(tls))
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS: {e}"))?;
        send(TokioIo::new(tls), req).await
    } else {
        send(TokioIo::new(tcp), req).await
    }
}

async fn send<IO>(io: IO, req: Request<Full<Bytes>>) -> Result<u16, String>
where
    IO: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    let conn = tokio::spawn(conn);
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| format!("request: {e}"))?;
    let status = resp.status().as_u16();
    // Read (and drop) a bounded body so the connection closes cleanly.
    let _ = tokio::time::timeout(Duration::from_secs(1), resp.into_body().collect()).await;
    conn.abort();
    Ok(status)
}

/// Result ids delivered by this process recently: a redelivery after a lost
/// ack is not sent again (bounded).
#[derive(Debug, Default)]
struct Recent {
    set: HashSet<String>,
    order: VecDeque<String>,
}

impl Recent {
    const CAP: usize = 10_000;

    fn contains(&self, id: &str) -> bool {
        self.set.contains(id)
    }

    fn insert(&mut self, id: String) {
        if self.set.insert(id.clone()) {
            self.order.push_back(id);
            if self.order.len() > Self::CAP {
                if let Some(old) = self.order.pop_front() {
                    self.set.remove(&old);
                }
            }
        }
    }
}

/// Deliveries in flight per webhook and replica.
const CONCURRENCY: usize = 8;

/// Runs one webhook's deliveries until `stop`.
pub async fn run(
    hook: Webhook,
    cfg: ResultsConfig,
    names: Names,
    js: jetstream::Context,
    metrics: ResultMetrics,
    mut stop: ShutdownSignal,
) {
    let tls = tls_config();
    let recent = Arc::new(Mutex::new(Recent::default()));
    let mut backoff = Duration::from_millis(200);
    loop {
        let result: Result<(), String> = async {
            let name = names.stream(stream::RESULTS);
            let s = js.get_stream(&name).await.map_err(|e| e.to_string())?;
            let durable = format!("webhook-{}", hook.name);
            let consumer = s
                .get_or_create_consumer(
                    &durable,
                    pull::Config {
                        durable_name: Some(durable.clone()),
                        description: Some(format!("faultline webhook {}", hook.name)),
                        filter_subject: format!("{}.results.*.*", names.namespace().as_str()),
                        deliver_policy: DeliverPolicy::New,
                        ack_policy: AckPolicy::Explicit,
                        ack_wait: cfg.webhook_timeout * 2 + Duration::from_secs(5),
                        max_deliver: i64::from(cfg.webhook_max_attempts) + 1,
                        max_ack_pending: 256,
                        ..Default::default()
                    },
                )
                .await
                .map_err(|e| format!("cannot open consumer {durable}: {e}"))?;
            let messages = consumer.messages().await.map_err(|e| e.to_string())?;
            backoff = Duration::from_millis(200);
            let work = messages
                .take_until(stop.clone().into_future())
                .map(|m| {
                    let (hook, cfg, names, js, metrics, tls, recent) =
                        (&hook, &cfg, &names, &js, &metrics, &tls, &recent);
                    async move {
                        match m {
                            Ok(m) => {
                                deliver(hook, cfg, names, js, metrics, tls, recent, m).await;
                                Ok(())
                            }
                            Err(e) => Err(e.to_string()),
                        }
                    }
                })
                .buffer_unordered(CONCURRENCY);
            futures_util::pin_mut!(work);
            while let Some(r) = work.next().await {
                r?;
            }
            Ok(())
        }
        .await;
        if stop.is_triggered() {
            return;
        }
        if let Err(e) = result {
            tracing::warn!(webhook = hook.name, error = %e, "webhook deliveries stopped; restarting");
        }
        tokio::select! {
            () = stop.wait() => return,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}

#[allow(clippy::too_many_arguments)]
async fn deliver(
    hook: &Webhook,
    cfg: &ResultsConfig,
    names: &Names,
    js: &jetstream::Context,
    metrics: &ResultMetrics,
    tls: &Arc<tokio_rustls::rustls::ClientConfig>,
    recent: &Mutex<Recent>,
    m: jetstream::Message,
) {
    let attempt = m
        .info()
        .map(|i| u32::try_from(i.delivered).unwrap_or(u32::MAX))
        .unwrap_or(1);
    let Ok(doc) = serde_json::from_slice::<ResultDoc>(&m.payload) else {
        tracing::warn!(webhook = hook.name, subject = %m.subject, "not a result; skipped");
        let _ = m.ack_with(AckKind::Term).await;
        return;
    };
    if !hook.outcomes.is_empty() && !hook.outcomes.contains(&doc.outcome) {
        let _ = m.ack().await;
        return;
    }
    let already = recent
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .contains(&doc.result_id);
    if already {
        let _ = m.double_ack().await;
        return;
    }
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let headers = [
        ("faultline-event", "result".to_owned()),
        ("faultline-delivery", doc.result_id.clone()),
        ("faultline-attempt", attempt.to_string()),
        (
            "faultline-signature",
            signature(&hook.secret, t, &m.payload),
        ),
    ];
    let started = Instant::now();
    let sent = tokio::time::timeout(
        cfg.webhook_timeout,
        post(&hook.url, &headers, m.payload.clone(), tls),
    )
    .await
    .unwrap_or_else(|_| Err(format!("no answer within {:?}", cfg.webhook_timeout)));
    let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let (http_status, error) = match &sent {
        Ok(code) if (200..300).contains(code) => (*code, String::new()),
        Ok(code) => (*code, format!("HTTP {code}")),
        Err(e) => (0, e.clone()),
    };
    let ok = error.is_empty();
    let outcome = if ok {
        "delivered"
    } else if attempt >= cfg.webhook_max_attempts {
        "gave_up"
    } else {
        "failed"
    };
    let record = Delivery {
        webhook: hook.name.clone(),
        result_id: doc.result_id.clone(),
        task_id: doc.task_id.clone(),
        attempt,
        outcome: outcome.into(),
        http_status,
        error,
        duration_ms,
        at: now_rfc3339(),
    };
    record_delivery(names, js, &record).await;
    metrics.delivery(outcome);
    match outcome {
        "delivered" => {
            recent
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(doc.result_id.clone());
            if let Err(e) = m.double_ack().await {
                tracing::warn!(webhook = hook.name, result = doc.result_id, error = %e,
                    "delivered, but the ack was not confirmed; a redelivery is skipped by this replica");
            }
        }
        "gave_up" => {
            tracing::warn!(
                webhook = hook.name,
                result = doc.result_id,
                attempt,
                error = record.error,
                "webhook delivery given up"
            );
            let _ = m.ack_with(AckKind::Term).await;
        }
        _ => {
            let delay = cfg.webhook_backoff(attempt);
            tracing::info!(
                webhook = hook.name,
                result = doc.result_id,
                attempt,
                ?delay,
                error = record.error,
                "webhook delivery failed; will retry"
            );
            let _ = m.ack_with(AckKind::Nak(Some(delay))).await;
        }
    }
}

async fn record_delivery(names: &Names, js: &jetstream::Context, d: &Delivery) {
    let Ok(subject) = names.webhook_delivery(&d.webhook, &d.task_id) else {
        return;
    };
    let Ok(payload) = serde_json::to_vec(d) else {
        return;
    };
    let stored = async {
        js.publish(subject, payload.into())
            .await
            .map_err(|e| e.to_string())?
            .await
            .map_err(|e| e.to_string())
    };
    match tokio::time::timeout(Duration::from_secs(5), stored).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::warn!(webhook = d.webhook, error = %e, "cannot record a delivery"),
        Err(_) => tracing::warn!(webhook = d.webhook, "recording a delivery timed out"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_of_time_dot_body() {
        // Computed independently (Python's hmac module) over
        // b'1700000000.{"a":1}' with the key b'secret-secret-secret'.
        let sig = signature(b"secret-secret-secret", 1_700_000_000, br#"{"a":1}"#);
        assert_eq!(
            sig,
            "t=1700000000,v1=fa345d5b654e6667128855e14a4938c54b5b813699e6b72c5c4f501aa493ba92"
        );
        assert_ne!(
            sig,
            signature(b"secret-secret-secret", 1_700_000_000, br#"{"a":2}"#)
        );
    }

    #[test]
    fn the_file_needs_a_secret_from_a_file_or_the_environment() {
        let dir = std::env::temp_dir().join(format!("faultline-hooks-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let secret = dir.join("secret");
        std::fs::write(&secret, "0123456789abcdef0123\n").unwrap();
        let file = dir.join("hooks.toml");
        std::fs::write(
            &file,
            format!(
                "[[webhook]]\nname = \"dash\"\nurl = \"http://127.0.0.1:9/hook\"\nsecret_file = {:?}\noutcomes = [\"fixed\"]\n",
                secret.display().to_string()
            ),
        )
        .unwrap();
        let hooks = load(&file).unwrap();
        assert_eq!(hooks.len(), 1);
        assert_eq!(hooks[0].secret, b"0123456789abcdef0123");
        assert!(!format!("{:?}", hooks[0]).contains("0123456789"));
        std::fs::write(
            &file,
            "[[webhook]]\nname = \"dash\"\nurl = \"http://127.0.0.1:9/\"\nsecret = \"inline\"\n",
        )
        .unwrap();
        assert!(load(&file).unwrap_err().contains("unknown field"));
        std::fs::write(
            &file,
            "[[webhook]]\nname = \"dash\"\nurl = \"ftp://x/\"\nsecret_env = \"X\"\n",
        )
        .unwrap();
        assert!(load(&file).unwrap_err().contains("http(s)"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

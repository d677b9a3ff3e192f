//! What agents publish: status updates and results, their validation, and
//! the JSON documents stored on the streams.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use faultline_core::config::ResultsConfig;
use faultline_task_dispatcher::DispatchError;

/// The statuses of a status update.
pub const STATUSES: [&str; 3] = ["in_progress", "blocked", "needs_human"];
/// The outcomes of a result.
pub const OUTCOMES: [&str; 5] = [
    "fixed",
    "not_reproducible",
    "wont_fix",
    "needs_human",
    "failed",
];
/// Next steps per status update.
pub const MAX_NEXT_STEPS: usize = 50;
/// The longest URL (pr_url, an artifact's url).
pub const MAX_URL: usize = 2048;
/// The largest stored document (it is also kept in the task's record).
pub const MAX_DOC_BYTES: usize = 512 * 1024;

/// The filter's mark on a flagged text: why a person should look.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FilterMark {
    /// `flag` or `reject` (a result is never dropped: it is marked).
    pub decision: String,
    /// The filter's score.
    pub score: f32,
    /// The explanation (rules, fields, views, model features).
    pub explanation: Value,
}

/// A status update as stored on `{ns}.investigation.status.<task>`. The
/// server fills `fingerprint`, `task_type`, `published_at` and the filter's
/// fields; callers build the rest with `..Default::default()`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StatusDoc {
    /// The task.
    pub task_id: String,
    /// The lease epoch it was published under.
    pub epoch: u64,
    /// The agent.
    pub agent_id: String,
    /// `in_progress`, `blocked` or `needs_human`.
    pub status: String,
    /// What the agent found so far.
    #[serde(default)]
    pub findings: String,
    /// What it will do next.
    #[serde(default)]
    pub next_steps: Vec<String>,
    /// The caller's id of this update, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_id: Option<String>,
    /// The task's fingerprint, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// The task's type.
    #[serde(default)]
    pub task_type: String,
    /// RFC 3339.
    pub published_at: String,
    /// True when the filter flagged the text.
    #[serde(default)]
    pub flagged: bool,
    /// The filter's mark when flagged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<FilterMark>,
}

/// Test results of a fix.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestResults {
    /// Tests passed.
    #[serde(default)]
    pub passed: u32,
    /// Tests failed.
    #[serde(default)]
    pub failed: u32,
    /// Tests skipped.
    #[serde(default)]
    pub skipped: u32,
    /// The command that ran them.
    #[serde(default)]
    pub command: String,
    /// A summary.
    #[serde(default)]
    pub summary: String,
}

/// An artifact of a result (a log, a patch, a report).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    /// Its name.
    pub name: String,
    /// Where it is (http or https).
    #[serde(default)]
    pub url: String,
    /// What it is (`log`, `patch`, ...).
    #[serde(default)]
    pub kind: String,
    /// Its SHA-256 (64 hex digits), if known.
    #[serde(default)]
    pub sha256: String,
}

/// A result as stored on `{ns}.results.<outcome>.<task>` and in the task's
/// record. The server fills `result_id`, `fingerprint`, `task_type`,
/// `published_at` and the filter's fields.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResultDoc {
    /// `<task>-<epoch>`: one result per lease, and a task has one result.
    pub result_id: String,
    /// The task.
    pub task_id: String,
    /// The lease epoch it was published under.
    pub epoch: u64,
    /// The agent.
    pub agent_id: String,
    /// One of [`OUTCOMES`].
    pub outcome: String,
    /// What was done, or why not.
    #[serde(default)]
    pub solution: String,
    /// The pull request, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pr_url: Option<String>,
    /// Test results, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_results: Option<TestResults>,
    /// Artifacts.
    #[serde(default)]
    pub artifacts: Vec<Artifact>,
    /// The task's fingerprint, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// The task's type.
    #[serde(default)]
    pub task_type: String,
    /// RFC 3339.
    pub published_at: String,
    /// True when the filter flagged the text.
    #[serde(default)]
    pub flagged: bool,
    /// The filter's mark when flagged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<FilterMark>,
}

impl ResultDoc {
    /// The texts the filter scans, with their field names.
    pub fn texts(&self) -> Vec<(String, &str)> {
        let mut out = vec![("solution".to_owned(), self.solution.as_str())];
        if let Some(t) = &self.test_results {
            out.push(("test_results.summary".into(), t.summary.as_str()));
            out.push(("test_results.command".into(), t.command.as_str()));
        }
        for (i, a) in self.artifacts.iter().enumerate() {
            out.push((format!("artifacts[{i}].name"), a.name.as_str()));
            out.push((format!("artifacts[{i}].kind"), a.kind.as_str()));
        }
        out
    }
}

impl StatusDoc {
    /// The texts the filter scans, with their field names.
    pub fn texts(&self) -> Vec<(String, &str)> {
        let mut out = vec![("findings".to_owned(), self.findings.as_str())];
        for (i, s) in self.next_steps.iter().enumerate() {
            out.push((format!("next_steps[{i}]"), s.as_str()));
        }
        out
    }
}

fn invalid(msg: impl Into<String>) -> DispatchError {
    DispatchError::InvalidArgument(msg.into())
}

fn text(field: &str, value: &str, cfg: &ResultsConfig) -> Result<(), DispatchError> {
    if value.len() > cfg.max_text_bytes {
        return Err(invalid(format!(
            "{field} is {} bytes; at most {} (results.max_text_bytes)",
            value.len(),
            cfg.max_text_bytes
        )));
    }
    if value.contains('\0') {
        return Err(invalid(format!("{field} contains a NUL character")));
    }
    Ok(())
}

fn url(field: &str, value: &str) -> Result<(), DispatchError> {
    if value.is_empty() {
        return Ok(());
    }
    let scheme_ok = value.starts_with("https://") || value.starts_with("http://");
    if !scheme_ok || value.len() > MAX_URL || value.chars().any(char::is_whitespace) {
        return Err(invalid(format!(
            "{field} must be an http(s) URL of at most {MAX_URL} characters without spaces"
        )));
    }
    Ok(())
}

fn one_of(field: &str, value: &str, known: &[&str]) -> Result<(), DispatchError> {
    if known.contains(&value) {
        return Ok(());
    }
    Err(invalid(format!(
        "{field} {value:?} is unknown: use one of {}",
        known.join(", ")
    )))
}

/// Checks a status update's fields.
pub fn validate_status(doc: &StatusDoc, cfg: &ResultsConfig) -> Result<(), DispatchError> {
    one_of("status", &doc.status, &STATUSES)?;
    text("findings", &doc.findings, cfg)?;
    if doc.next_steps.len() > MAX_NEXT_STEPS {
        return Err(invalid(format!(
            "{} next_steps; at most {MAX_NEXT_STEPS}",
            doc.next_steps.len()
        )));
    }
    for s in &doc.next_steps {
        text("next_steps[]", s, cfg)?;
    }
    if let Some(id) = &doc.update_id {
        let ok = !id.is_empty()
            && id.len() <= 64
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !ok {
            return Err(invalid(format!(
                "update_id {id:?} is invalid: use 1 to 64 of A-Z a-z 0-9 _ -"
            )));
        }
    }
    Ok(())
}

/// Checks a result's fields.
pub fn validate_result(doc: &ResultDoc, cfg: &ResultsConfig) -> Result<(), DispatchError> {
    one_of("outcome", &doc.outcome, &OUTCOMES)?;
    text("solution", &doc.solution, cfg)?;
    if let Some(u) = &doc.pr_url {
        url("pr_url", u)?;
    }
    if let Some(t) = &doc.test_results {
        text("test_results.summary", &t.summary, cfg)?;
        text("test_results.command", &t.command, cfg)?;
    }
    if doc.artifacts.len() > cfg.max_artifacts {
        return Err(invalid(format!(
            "{} artifacts; at most {} (results.max_artifacts)",
            doc.artifacts.len(),
            cfg.max_artifacts
        )));
    }
    for a in &doc.artifacts {
        if a.name.is_empty() || a.name.len() > 256 || a.kind.len() > 64 {
            return Err(invalid(
                "an artifact needs a name of 1 to 256 bytes and a kind of at most 64",
            ));
        }
        url("artifacts[].url", &a.url)?;
        let sha_ok = a.sha256.is_empty()
            || (a.sha256.len() == 64 && a.sha256.bytes().all(|b| b.is_ascii_hexdigit()));
        if !sha_ok {
            return Err(invalid("artifacts[].sha256 must be 64 hex digits"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(outcome: &str) -> ResultDoc {
        ResultDoc {
            result_id: "t-1".into(),
            task_id: "t".into(),
            epoch: 1,
            agent_id: "a".into(),
            outcome: outcome.into(),
            solution: "fixed the null check".into(),
            pr_url: Some("https://git.example.com/org/repo/pull/1".into()),
            test_results: None,
            artifacts: vec![],
            fingerprint: None,
            task_type: "investigation".into(),
            published_at: "2026-01-01T00:00:00Z".into(),
            flagged: false,
            filter: None,
        }
    }

    #[test]
    fn outcomes_and_fields_are_checked() {
        let cfg = ResultsConfig {
            max_text_bytes: 300,
            ..Default::default()
        };
        for o in OUTCOMES {
            validate_result(&result(o), &cfg).unwrap();
        }
        let err = validate_result(&result("done"), &cfg).unwrap_err();
        assert!(
            err.to_string().contains("outcome \"done\" is unknown"),
            "{err}"
        );
        let mut r = result("fixed");
        r.pr_url = Some("javascript:alert(1)".into());
        assert!(validate_result(&r, &cfg)
            .unwrap_err()
            .to_string()
            .contains("pr_url"));
        let mut r = result("fixed");
        r.solution = "x".repeat(301);
        assert!(validate_result(&r, &cfg)
            .unwrap_err()
            .to_string()
            .contains("results.max_text_bytes"));
        let mut r = result("fixed");
        r.artifacts = vec![Artifact {
            name: "log".into(),
            sha256: "zz".into(),
            ..Default::default()
        }];
        assert!(validate_result(&r, &cfg)
            .unwrap_err()
            .to_string()
            .contains("sha256"));
    }

    #[test]
    fn statuses_are_checked() {
        let cfg = ResultsConfig::default();
        let mut s = StatusDoc {
            task_id: "t".into(),
            epoch: 1,
            agent_id: "a".into(),
            status: "in_progress".into(),
            findings: "reproduced".into(),
            next_steps: vec!["bisect".into()],
            update_id: Some("u-1".into()),
            fingerprint: None,
            task_type: String::new(),
            published_at: String::new(),
            flagged: false,
            filter: None,
        };
        validate_status(&s, &cfg).unwrap();
        s.update_id = Some("a.b".into());
        assert!(validate_status(&s, &cfg).is_err());
        s.update_id = None;
        s.status = "done".into();
        assert!(validate_status(&s, &cfg).is_err());
    }
}

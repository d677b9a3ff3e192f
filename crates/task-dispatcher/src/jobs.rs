//! Jobs: groups of tasks with progress, stall detection and an ETA, all
//! derived from the task records (no state of their own).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::dispatcher::{dur_ms, Dispatcher};
use crate::record::{now_ms, State, TaskRecord};

/// A job's progress.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct JobView {
    /// The job.
    pub job_id: String,
    /// Tasks in it.
    pub total: u64,
    /// Completed.
    pub done: u64,
    /// Failed and waiting to retry.
    pub failed: u64,
    /// Dead-lettered.
    pub dead: u64,
    /// Claimed by an agent now.
    pub in_flight: u64,
    /// Blocked, queued or available.
    pub waiting: u64,
    /// Cancelled (or otherwise ended without a result).
    pub cancelled: u64,
    /// Empty, or why it is stalled.
    pub stalled: String,
    /// Seconds to the end at the recent completion rate (0: unknown).
    pub eta_seconds: f64,
    /// Nothing left to do.
    pub finished: bool,
}

/// Computes a job's view from its tasks.
pub fn view(job_id: &str, tasks: &[&TaskRecord], now: i64, stall_after: Duration) -> JobView {
    let mut v = JobView {
        job_id: job_id.to_owned(),
        total: tasks.len() as u64,
        ..JobView::default()
    };
    let mut last_claim = 0;
    let mut last_progress = 0;
    let mut first_created = i64::MAX;
    let mut completions = Vec::new();
    for t in tasks {
        first_created = first_created.min(t.created);
        last_claim = last_claim.max(t.claimed_at);
        last_progress = last_progress.max(t.progressed_at).max(t.claimed_at);
        match t.state {
            State::Completed => {
                v.done += 1;
                completions.push(t.progressed_at.max(t.updated));
            }
            State::Retrying => v.failed += 1,
            State::Dead => v.dead += 1,
            State::Claimed => v.in_flight += 1,
            State::Blocked | State::Queued | State::Available => v.waiting += 1,
            State::Cancelled | State::Rejected | State::Suppressed | State::Attached => {
                v.cancelled += 1;
            }
        }
    }
    let remaining = v.waiting + v.in_flight + v.failed;
    v.finished = remaining == 0;
    let stall = dur_ms(stall_after);
    let human = humantime::format_duration(Duration::from_secs(stall_after.as_secs().max(1)));
    if !v.finished {
        let available = tasks.iter().any(|t| t.state == State::Available);
        let since_claim = now - last_claim.max(first_created);
        if available && v.in_flight == 0 && since_claim > stall {
            v.stalled = format!("no task picked up for {human}");
        } else if v.in_flight > 0 && now - last_progress.max(first_created) > stall {
            v.stalled = format!("no progress for {human}");
        }
    }
    // ETA from the completions of the last window (at least 3 of them).
    let window = (stall * 3).max(60_000);
    let recent: Vec<i64> = completions
        .into_iter()
        .filter(|t| now - t <= window)
        .collect();
    if recent.len() >= 3 && remaining > 0 {
        let first = recent.iter().min().copied().unwrap_or(now);
        let span = (now - first).max(1) as f64 / 1000.0;
        let rate = recent.len() as f64 / span;
        v.eta_seconds = remaining as f64 / rate;
    }
    v
}

/// One job, from the mirror.
pub fn job(d: &Dispatcher, job_id: &str) -> Option<JobView> {
    let tasks = d
        .mirror()
        .select(|r| r.task.job_id.as_deref() == Some(job_id));
    if tasks.is_empty() {
        return None;
    }
    let recs: Vec<&TaskRecord> = tasks.iter().map(|v| &v.value).collect();
    Some(view(job_id, &recs, now_ms(), d.cfg().stall_after))
}

/// Every job with work left.
pub fn all_jobs(d: &Dispatcher) -> Vec<JobView> {
    let tasks = d.mirror().select(|r| r.task.job_id.is_some());
    let mut by_job: BTreeMap<String, Vec<&TaskRecord>> = BTreeMap::new();
    for v in &tasks {
        if let Some(j) = &v.value.task.job_id {
            by_job.entry(j.clone()).or_default().push(&v.value);
        }
    }
    let now = now_ms();
    by_job
        .into_iter()
        .map(|(j, recs)| view(&j, &recs, now, d.cfg().stall_after))
        .filter(|v| !v.finished)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_event::task::{Origin, Task};

    fn rec(state: State, created: i64, claimed: i64, progressed: i64) -> TaskRecord {
        let task = Task {
            id: "t".into(),
            kind: "k".into(),
            priority: 1,
            description: "d".into(),
            context: Default::default(),
            required_capabilities: vec![],
            blocked_by: vec![],
            job_id: Some("j".into()),
            fingerprint: None,
            origin: Origin::default(),
            attempts: 0,
            created_at: String::new(),
        };
        let mut r = TaskRecord::new(task, state, created);
        r.claimed_at = claimed;
        r.progressed_at = progressed;
        r.updated = progressed.max(claimed).max(created);
        r
    }

    #[test]
    fn counts_and_stalls() {
        let ten = Duration::from_secs(600);
        let now = 10_000_000;
        let a = rec(State::Available, 0, 0, 0);
        let v = view("j", &[&a], now, ten);
        assert_eq!((v.total, v.waiting), (1, 1));
        assert_eq!(v.stalled, "no task picked up for 10m");
        let fresh = rec(State::Available, now - 1000, 0, 0);
        assert_eq!(view("j", &[&fresh], now, ten).stalled, "");
        let busy = rec(State::Claimed, 0, now - 700_000, now - 650_000);
        assert_eq!(view("j", &[&busy], now, ten).stalled, "no progress for 10m");
        let done = rec(State::Completed, 0, 1, 2);
        let v = view("j", &[&done], now, ten);
        assert!(v.finished && v.stalled.is_empty());
    }

    #[test]
    fn eta_from_recent_completions() {
        let ten = Duration::from_secs(600);
        let now = 10_000_000;
        let mut tasks: Vec<TaskRecord> = (0..4)
            .map(|i| rec(State::Completed, 0, now - 40_000, now - 40_000 + i * 10_000))
            .collect();
        tasks.extend((0..4).map(|_| rec(State::Available, now - 1000, 0, 0)));
        let refs: Vec<&TaskRecord> = tasks.iter().collect();
        let v = view("j", &refs, now, ten);
        // 4 completions over the last 40 s: 0.1/s; 4 left: 40 s.
        assert!((v.eta_seconds - 40.0).abs() < 1.0, "{}", v.eta_seconds);
    }
}

//! Small helpers the benchmark binaries share.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::http::Conn;

/// A count from the environment (`BENCH_EVENTS=…`), or `default`.
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The `p` quantile (0 to 1) of sorted latencies; zero when there are none.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// CPU time (user + system) a process has used so far, from
/// `/proc/<pid>/stat` (`None` for this process); zero where `/proc` cannot
/// be read. Resolution: one clock tick (10 ms; `USER_HZ` is 100 on Linux).
pub fn cpu_time(pid: Option<u32>) -> Duration {
    let path = pid.map_or_else(
        || "/proc/self/stat".to_owned(),
        |p| format!("/proc/{p}/stat"),
    );
    std::fs::read_to_string(path)
        .ok()
        .and_then(|stat| stat_cpu(&stat))
        .unwrap_or(Duration::ZERO)
}

/// User + system time of a `/proc/<pid>/stat` line.
fn stat_cpu(stat: &str) -> Option<Duration> {
    // The command name (field 2, in parentheses) may hold spaces and
    // parentheses; the fields after its last `)` do not.
    let rest = &stat[stat.rfind(')')? + 1..];
    // After the name: state is field 3, utime field 14, stime field 15.
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

/// CPU used by a set of processes between two moments.
#[derive(Debug, Clone)]
pub struct CpuMeter {
    procs: Vec<(&'static str, Option<u32>)>,
    start: Vec<Duration>,
}

impl CpuMeter {
    /// Starts measuring `procs` (name, pid; `None` is this process).
    pub fn start(procs: &[(&'static str, Option<u32>)]) -> Self {
        Self {
            procs: procs.to_vec(),
            start: procs.iter().map(|(_, pid)| cpu_time(*pid)).collect(),
        }
    }

    /// CPU microseconds per event of each process since the start, as
    /// `name a, name b, …` for a table cell.
    pub fn per_event(&self, events: usize) -> String {
        #[allow(clippy::cast_precision_loss)]
        let n = events.max(1) as f64;
        self.procs
            .iter()
            .zip(&self.start)
            .map(|((name, pid), start)| {
                let used = cpu_time(*pid).saturating_sub(*start);
                format!("{name} {:.0}", used.as_secs_f64() * 1e6 / n)
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// An open-loop schedule of `n` events at `rate` per second: event `i` is
/// due at `start + i / rate`. A thread of its own hands out `(i, due time)`
/// at each due time; latencies measured from the due time include any
/// queueing before the send (no coordinated omission).
///
/// A thread rather than a Tokio timer: Tokio's timer rounds every sleep up
/// to the next millisecond, which adds up to 1 ms to each latency and sends
/// each millisecond's events as one burst. A thread's sleep wakes within
/// tens of microseconds. The channel holds every event, so a slow consumer
/// never slows the schedule (late events wait in it, and their wait counts).
pub fn open_loop(n: usize, rate: f64, start: Instant) -> mpsc::Receiver<(usize, Instant)> {
    let (tx, rx) = mpsc::channel(n.max(1));
    let interval = Duration::from_secs_f64(1.0 / rate);
    std::thread::spawn(move || {
        for i in 0..n {
            #[allow(clippy::cast_precision_loss)]
            let due = start + interval.mul_f64(i as f64);
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
            if tx.try_send((i, due)).is_err() {
                return; // the run was abandoned
            }
        }
    });
    rx
}

/// One request of [`post_open_loop`].
#[derive(Debug, Clone, Copy)]
pub struct Paced {
    /// Which body was sent.
    pub index: usize,
    /// When it was due (its latency counts from here).
    pub due: Instant,
    /// When its answer had been read.
    pub answered: Instant,
    /// The answer's status.
    pub status: u16,
}

/// POSTs each of `bodies` to `path` at the times of an [`open_loop`] at
/// `rate`, over `conns` keep-alive connections with bearer `key` (opened
/// before the clock starts). Returns when the clock started and every
/// request, in no particular order.
pub async fn post_open_loop(
    addr: &str,
    key: &str,
    path: &str,
    bodies: Arc<Vec<Vec<u8>>>,
    rate: f64,
    conns: usize,
) -> (Instant, Vec<Paced>) {
    let mut open = Vec::with_capacity(conns);
    for _ in 0..conns {
        open.push(Conn::open(addr, key).await);
    }
    let start = Instant::now() + Duration::from_millis(10);
    let due = Arc::new(tokio::sync::Mutex::new(open_loop(
        bodies.len(),
        rate,
        start,
    )));
    let mut clients = Vec::with_capacity(conns);
    for mut conn in open {
        let (due, bodies, path) = (due.clone(), bodies.clone(), path.to_owned());
        clients.push(tokio::spawn(async move {
            let mut sent = Vec::new();
            loop {
                let next = due.lock().await.recv().await;
                let Some((index, due)) = next else {
                    return sent;
                };
                let status = conn.post(&path, &bodies[index]).await;
                sent.push(Paced {
                    index,
                    due,
                    answered: Instant::now(),
                    status,
                });
            }
        }));
    }
    let mut sent = Vec::with_capacity(bodies.len());
    for c in clients {
        sent.extend(c.await.expect("load client"));
    }
    (start, sent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_is_read_after_the_command_name() {
        // pid, comm with a space and parentheses, state, then fields 4..13,
        // utime (field 14) = 250 ticks, stime (field 15) = 50 ticks.
        let line = "42 (tokio (rt) 1) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3";
        assert_eq!(stat_cpu(line), Some(Duration::from_millis(3000)));
        assert_eq!(stat_cpu("42 (x) S 1"), None);
    }

    #[test]
    fn percentiles_of_sorted_latencies() {
        let ms = |n| Duration::from_millis(n);
        let lat: Vec<Duration> = (1..=100).map(ms).collect();
        assert_eq!(percentile(&lat, 0.5), ms(51));
        assert_eq!(percentile(&lat, 0.99), ms(99));
        assert_eq!(percentile(&lat, 1.0), ms(100));
        assert_eq!(percentile(&[], 0.99), Duration::ZERO);
    }

    #[test]
    fn the_open_loop_hands_out_every_event_at_its_time() {
        let start = Instant::now() + Duration::from_millis(5);
        let mut rx = open_loop(50, 1000.0, start);
        for want in 0..50 {
            let (i, due) = rx.blocking_recv().expect("every event");
            assert_eq!(i, want);
            assert_eq!(due, start + Duration::from_millis(want as u64));
            assert!(Instant::now() >= due, "event {i} came early");
        }
        assert!(rx.blocking_recv().is_none(), "the schedule ends after n");
    }
}

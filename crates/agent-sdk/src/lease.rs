//! Leases: which task, which attempt. [`LeaseSet`] is the agent's own record
//! of the leases it holds, the one thing heartbeats report and revocations
//! update. It is plain bookkeeping with no I/O, so its rules are tested here.

use std::collections::HashMap;

use faultline_proto::faultline::dispatch::v1 as proto;
use tokio::sync::watch;

/// A lease on a task: the task and the attempt (epoch) this agent was given.
/// Every call about the task carries it; the dispatcher refuses an old epoch.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Lease {
    /// The task.
    pub task_id: String,
    /// The attempt's fencing number.
    pub epoch: u64,
}

impl Lease {
    pub(crate) fn to_proto(&self) -> proto::Lease {
        proto::Lease {
            task_id: self.task_id.clone(),
            epoch: self.epoch,
        }
    }
}

impl From<proto::Lease> for Lease {
    fn from(l: proto::Lease) -> Self {
        Self {
            task_id: l.task_id,
            epoch: l.epoch,
        }
    }
}

impl std::fmt::Display for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.task_id, self.epoch)
    }
}

/// Revocation reasons. The dispatcher sends its own (the first four, and
/// possibly others); the SDK adds the last three when it decides locally.
pub mod reason {
    /// An operator cancelled the task.
    pub const CANCELLED: &str = "cancelled";
    /// The lease went to another attempt, or the dispatcher did not extend it.
    pub const LEASE_LOST: &str = "lease_lost";
    /// The attempt ran past its deadline.
    pub const ATTEMPT_TIME_EXCEEDED: &str = "attempt_time_exceeded";
    /// The task is already completed.
    pub const COMPLETED: &str = "completed";
    /// Local: no heartbeat got through for a whole lease timeout, so the
    /// dispatcher has given the task to someone else by now.
    pub const HEARTBEAT_EXPIRED: &str = "heartbeat_expired";
    /// Local: a call on the lease was refused as stale.
    pub const STALE_LEASE: &str = "stale_lease";
    /// Local: the agent is shutting down and hands the task back.
    pub const SHUTDOWN: &str = "shutdown";
}

/// Who decided a revocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokedBy {
    /// The dispatcher, in a heartbeat response.
    Dispatcher,
    /// The SDK (see the local reasons in [`reason`]).
    Agent,
}

/// Why a lease ended before its holder finished: stop working on the task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revoked {
    /// The lease that ended.
    pub lease: Lease,
    /// One of [`reason`], or another reason the dispatcher gave.
    pub reason: String,
    /// Who decided.
    pub by: RevokedBy,
}

type Signal = watch::Sender<Option<Revoked>>;

/// The leases an agent holds, each with the channel that tells its holder
/// when it is revoked.
#[derive(Debug, Default)]
pub(crate) struct LeaseSet {
    by_task: HashMap<String, (u64, Signal)>,
}

impl LeaseSet {
    pub(crate) fn len(&self) -> usize {
        self.by_task.len()
    }

    pub(crate) fn contains(&self, lease: &Lease) -> bool {
        self.by_task
            .get(&lease.task_id)
            .is_some_and(|(epoch, _)| *epoch == lease.epoch)
    }

    /// Records a new lease and returns the receiver its holder watches. A lease
    /// on the same task with another epoch is revoked first: the dispatcher
    /// gave the task out again, so the old attempt is over.
    pub(crate) fn insert(&mut self, lease: Lease) -> watch::Receiver<Option<Revoked>> {
        if let Some((old, _)) = self.by_task.get(&lease.task_id) {
            if *old != lease.epoch {
                let old = Lease {
                    task_id: lease.task_id.clone(),
                    epoch: *old,
                };
                self.revoke(&old, reason::LEASE_LOST, RevokedBy::Dispatcher);
            }
        }
        let (tx, rx) = watch::channel(None);
        self.by_task.insert(lease.task_id, (lease.epoch, tx));
        rx
    }

    /// Forgets a lease its holder finished with (no signal). False when it was
    /// not held (already revoked, or another epoch).
    pub(crate) fn remove(&mut self, lease: &Lease) -> bool {
        if self.contains(lease) {
            self.by_task.remove(&lease.task_id);
            true
        } else {
            false
        }
    }

    /// Ends a lease and tells its holder why. Returns the revocation, or
    /// `None` when that lease was not held.
    pub(crate) fn revoke(&mut self, lease: &Lease, reason: &str, by: RevokedBy) -> Option<Revoked> {
        if !self.contains(lease) {
            return None;
        }
        let (_, tx) = self.by_task.remove(&lease.task_id)?;
        let revoked = Revoked {
            lease: lease.clone(),
            reason: reason.to_owned(),
            by,
        };
        // The holder may be gone already; the value is only news to whoever
        // still listens.
        tx.send_replace(Some(revoked.clone()));
        Some(revoked)
    }

    /// Ends every lease with the same reason (shutdown, heartbeats lost).
    pub(crate) fn revoke_all(&mut self, reason: &str, by: RevokedBy) -> Vec<Revoked> {
        let mut all = self.held();
        all.sort_by(|a, b| a.task_id.cmp(&b.task_id));
        all.iter()
            .filter_map(|lease| self.revoke(lease, reason, by))
            .collect()
    }

    /// The leases held now, for a heartbeat.
    pub(crate) fn held(&self) -> Vec<Lease> {
        self.by_task
            .iter()
            .map(|(task_id, (epoch, _))| Lease {
                task_id: task_id.clone(),
                epoch: *epoch,
            })
            .collect()
    }

    /// Applies a heartbeat's answer. `sent` is what that heartbeat reported;
    /// only those leases are judged, because one claimed while the heartbeat
    /// was in flight is in neither list and must survive.
    ///
    /// A sent lease is revoked when the answer revokes it (epoch 0 in a
    /// revocation matches any epoch), or when the answer neither revokes nor
    /// holds it: the dispatcher did not extend it, so it will lapse
    /// ([`reason::LEASE_LOST`]). Revocations of leases not held are ignored.
    pub(crate) fn apply_heartbeat(
        &mut self,
        sent: &[Lease],
        held: &[proto::Lease],
        revoked: &[proto::Revocation],
    ) -> Vec<Revoked> {
        let mut out = Vec::new();
        for r in revoked {
            let Some((epoch, _)) = self.by_task.get(&r.task_id) else {
                continue;
            };
            if r.epoch != 0 && r.epoch != *epoch {
                continue;
            }
            let lease = Lease {
                task_id: r.task_id.clone(),
                epoch: *epoch,
            };
            let why = if r.reason.is_empty() {
                reason::LEASE_LOST
            } else {
                r.reason.as_str()
            };
            out.extend(self.revoke(&lease, why, RevokedBy::Dispatcher));
        }
        for lease in sent {
            let still_held = held
                .iter()
                .any(|h| h.task_id == lease.task_id && h.epoch == lease.epoch);
            if !still_held {
                out.extend(self.revoke(lease, reason::LEASE_LOST, RevokedBy::Dispatcher));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(task: &str, epoch: u64) -> Lease {
        Lease {
            task_id: task.to_owned(),
            epoch,
        }
    }

    fn revocation(task: &str, epoch: u64, reason: &str) -> proto::Revocation {
        proto::Revocation {
            task_id: task.to_owned(),
            epoch,
            reason: reason.to_owned(),
        }
    }

    #[test]
    fn insert_remove_and_held() {
        let mut set = LeaseSet::default();
        let rx = set.insert(lease("a", 1));
        set.insert(lease("b", 7));
        assert_eq!(set.len(), 2);
        let mut held = set.held();
        held.sort_by(|x, y| x.task_id.cmp(&y.task_id));
        assert_eq!(held, [lease("a", 1), lease("b", 7)]);

        // Removing the wrong epoch does nothing; the right one forgets quietly.
        assert!(!set.remove(&lease("a", 2)));
        assert!(set.remove(&lease("a", 1)));
        assert!(!set.remove(&lease("a", 1)));
        assert_eq!(set.len(), 1);
        assert!(
            rx.borrow().is_none(),
            "a finished lease is not a revocation"
        );
    }

    #[test]
    fn a_new_epoch_revokes_the_old_holder() {
        let mut set = LeaseSet::default();
        let old = set.insert(lease("a", 1));
        let new = set.insert(lease("a", 2));
        let got = old.borrow().clone().expect("old lease revoked");
        assert_eq!(got.lease, lease("a", 1));
        assert_eq!(got.reason, reason::LEASE_LOST);
        assert!(new.borrow().is_none());
        assert!(set.contains(&lease("a", 2)));
        assert_eq!(set.len(), 1);
    }

    #[test]
    fn revoke_signals_the_holder_once() {
        let mut set = LeaseSet::default();
        let rx = set.insert(lease("a", 1));
        let r = set
            .revoke(&lease("a", 1), reason::CANCELLED, RevokedBy::Dispatcher)
            .expect("held");
        assert_eq!(r.reason, "cancelled");
        assert_eq!(rx.borrow().as_ref(), Some(&r));
        assert!(set
            .revoke(&lease("a", 1), reason::CANCELLED, RevokedBy::Dispatcher)
            .is_none());
        assert!(set
            .revoke(&lease("zz", 1), reason::CANCELLED, RevokedBy::Dispatcher)
            .is_none());
    }

    #[test]
    fn heartbeat_revocations_match_task_and_epoch() {
        let mut set = LeaseSet::default();
        let a = set.insert(lease("a", 1));
        let b = set.insert(lease("b", 3));
        let c = set.insert(lease("c", 5));
        let sent = set.held();
        let held = [lease("a", 1).to_proto(), lease("c", 5).to_proto()];
        let revoked = [
            // Epoch 3: b's lease, revoked.
            revocation("b", 3, "attempt_time_exceeded"),
            // An older epoch of c: not ours any more, ignored.
            revocation("c", 4, "lease_lost"),
            // Not held at all: ignored.
            revocation("zz", 1, "cancelled"),
        ];
        let out = set.apply_heartbeat(&sent, &held, &revoked);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].lease, lease("b", 3));
        assert_eq!(out[0].reason, reason::ATTEMPT_TIME_EXCEEDED);
        assert_eq!(out[0].by, RevokedBy::Dispatcher);
        assert!(a.borrow().is_none());
        assert!(b.borrow().is_some());
        assert!(c.borrow().is_none());
        assert_eq!(set.len(), 2);
    }

    #[test]
    fn epoch_zero_revocation_matches_any_epoch_and_empty_reason_is_lease_lost() {
        let mut set = LeaseSet::default();
        let a = set.insert(lease("a", 9));
        let out = set.apply_heartbeat(&set.held(), &[], &[revocation("a", 0, "")]);
        assert_eq!(out.len(), 1);
        assert_eq!(
            a.borrow().as_ref().map(|r| r.reason.as_str()),
            Some(reason::LEASE_LOST)
        );
    }

    #[test]
    fn a_sent_lease_the_answer_does_not_hold_is_lost() {
        let mut set = LeaseSet::default();
        let a = set.insert(lease("a", 1));
        let b = set.insert(lease("b", 1));
        let sent = set.held();
        let out = set.apply_heartbeat(&sent, &[lease("b", 1).to_proto()], &[]);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].lease, lease("a", 1));
        assert_eq!(out[0].reason, reason::LEASE_LOST);
        assert!(a.borrow().is_some());
        assert!(b.borrow().is_none());
        // A held entry with a different epoch does not count as holding it.
        let sent = set.held();
        let out = set.apply_heartbeat(&sent, &[lease("b", 2).to_proto()], &[]);
        assert_eq!(out.len(), 1);
        assert_eq!(set.len(), 0);
    }

    #[test]
    fn a_lease_claimed_during_the_heartbeat_survives_it() {
        let mut set = LeaseSet::default();
        set.insert(lease("a", 1));
        let sent = set.held();
        // Claimed after the heartbeat left: in neither list of the answer.
        let late = set.insert(lease("late", 1));
        let out = set.apply_heartbeat(&sent, &[lease("a", 1).to_proto()], &[]);
        assert!(out.is_empty());
        assert!(late.borrow().is_none());
        assert_eq!(set.len(), 2);
    }

    #[test]
    fn revoke_all_empties_the_set() {
        let mut set = LeaseSet::default();
        let a = set.insert(lease("a", 1));
        let b = set.insert(lease("b", 2));
        let out = set.revoke_all(reason::SHUTDOWN, RevokedBy::Agent);
        assert_eq!(
            out.iter().map(|r| r.lease.clone()).collect::<Vec<_>>(),
            [lease("a", 1), lease("b", 2)]
        );
        assert!(out.iter().all(|r| r.by == RevokedBy::Agent));
        assert_eq!(set.len(), 0);
        assert_eq!(a.borrow().as_ref().unwrap().reason, reason::SHUTDOWN);
        assert_eq!(b.borrow().as_ref().unwrap().reason, reason::SHUTDOWN);
    }
}

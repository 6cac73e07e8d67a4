//! Live job events (status changes, output lines, progress) broadcast to subscribers such as
//! the API: status and progress on `Executor::subscribe`, output lines (once stored) on
//! `Executor::subscribe_output`, and the numbered status feed that lets a live view miss nothing.
//!
//! Output lines are published once stored with their per-job `seq`, so a subscriber that lags
//! fills gaps from the store; progress is a running state. Status changes are few and must not
//! be lost: they are numbered by a cursor and the last [`FEED_KEEP`] are kept, so a subscriber
//! that connects after reading a page, reconnects after a network cut, or falls behind replays
//! exactly what it missed, and learns when it missed too much.

use model::{JobId, JobProgress, JobStatus};
use std::collections::VecDeque;
use std::sync::Mutex;
use tokio::sync::watch;

/// Something that happened to a job, as it happened.
#[derive(Debug, Clone, PartialEq)]
pub enum JobEvent {
    Status {
        job: JobId,
        status: JobStatus,
    },
    Output {
        job: JobId,
        seq: i64,
        stream: String,
        text: String,
    },
    /// At most a few per second per job.
    Progress {
        job: JobId,
        progress: JobProgress,
    },
}

/// How many status changes the feed keeps for late or reconnecting subscribers.
pub const FEED_KEEP: usize = 8192;

/// One status change with its place in the feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusEntry {
    pub cursor: u64,
    pub job: JobId,
    pub status: JobStatus,
}

/// The subscriber's cursor is older than what the feed keeps (or from another server run):
/// it missed changes and must read the current state again. `now` is the cursor to go on from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("status changes after cursor were dropped; resume from {now} after reloading")]
pub struct FeedGap {
    pub now: u64,
}

/// The numbered feed of job status changes.
///
/// Cursors start at the server's start time in microseconds, so a cursor from an earlier run
/// of the server is always older than every cursor of this run and is reported as a gap.
pub struct StatusFeed {
    state: Mutex<FeedState>,
    latest: watch::Sender<u64>,
}

struct FeedState {
    last: u64,
    ring: VecDeque<StatusEntry>,
}

impl Default for StatusFeed {
    fn default() -> Self {
        let start = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_micros() as u64)
            .unwrap_or(1);
        StatusFeed::starting_at(start)
    }
}

impl StatusFeed {
    /// A feed whose first change gets cursor `start + 1`.
    pub fn starting_at(start: u64) -> Self {
        StatusFeed {
            state: Mutex::new(FeedState {
                last: start,
                ring: VecDeque::new(),
            }),
            latest: watch::channel(start).0,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FeedState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records a change; returns its cursor.
    pub fn push(&self, job: JobId, status: JobStatus) -> u64 {
        let cursor = {
            let mut s = self.lock();
            s.last += 1;
            let cursor = s.last;
            if s.ring.len() == FEED_KEEP {
                s.ring.pop_front();
            }
            s.ring.push_back(StatusEntry {
                cursor,
                job,
                status,
            });
            cursor
        };
        self.latest.send_replace(cursor);
        cursor
    }

    /// The cursor of the latest change: everything after it is still to come.
    pub fn cursor(&self) -> u64 {
        self.lock().last
    }

    /// Every change after `after`, oldest first, or a gap when some of them are gone.
    pub fn since(&self, after: u64) -> Result<Vec<StatusEntry>, FeedGap> {
        let s = self.lock();
        if after == s.last {
            return Ok(Vec::new());
        }
        let first_kept = s.ring.front().map_or(s.last + 1, |e| e.cursor);
        if after > s.last || after + 1 < first_kept {
            return Err(FeedGap { now: s.last });
        }
        // Cursors are consecutive: the entry after `after` sits at a known index.
        let skip = (after + 1 - first_kept) as usize;
        Ok(s.ring.iter().skip(skip).copied().collect())
    }

    /// Wakes on every new change (subscribe before reading with [`StatusFeed::since`]).
    pub fn watch(&self) -> watch::Receiver<u64> {
        self.latest.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replays_after_a_cursor_and_reports_gaps() {
        let f = StatusFeed::starting_at(100);
        assert_eq!(f.since(100), Ok(vec![]));
        let a = f.push(JobId(1), JobStatus::Pending);
        let b = f.push(JobId(1), JobStatus::Running);
        assert_eq!((a, b), (101, 102));
        let got = f.since(100).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].status, JobStatus::Running);
        assert_eq!(f.since(101).unwrap()[0].cursor, 102);
        assert_eq!(f.since(102), Ok(vec![]));
        // A cursor from an earlier server run, or from the future.
        assert_eq!(f.since(50), Err(FeedGap { now: 102 }));
        assert_eq!(f.since(500), Err(FeedGap { now: 102 }));
    }

    #[test]
    fn a_subscriber_too_far_behind_learns_it_missed_changes() {
        let f = StatusFeed::starting_at(0);
        for i in 0..(FEED_KEEP as i64 + 10) {
            f.push(JobId(i), JobStatus::Successful);
        }
        assert!(f.since(5).is_err());
        let tail = f.since(20).unwrap();
        assert_eq!(tail.len(), FEED_KEEP - 10);
        assert_eq!(tail[0].cursor, 21);
    }
}

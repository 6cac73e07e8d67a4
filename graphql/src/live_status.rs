//! The `jobStatus` subscription's stream: status changes replayed from the executor's numbered
//! feed after a cursor, then as they happen, filtered by the subscriber's grants; a `resync`
//! event when the cursor is too old (or from an earlier server run).

use crate::errors::{ApiError, GqlError};
use crate::live::JobStatusEvent;
use async_graphql::futures_util::stream::{self, Stream};
use model::JobId;
use service::types::StatusEntry;
use service::{Caller, Service};
use std::collections::{HashMap, VecDeque};
use tokio::sync::watch;

/// `after` as a feed cursor, or an error naming the field.
pub(crate) fn parse_cursor(after: Option<String>) -> Result<Option<u64>, GqlError> {
    after
        .map(|a| {
            a.trim()
                .parse::<u64>()
                .map_err(|_| ApiError::field("after", format!("{a:?} is not a feed cursor")).into())
        })
        .transpose()
}

impl From<StatusEntry> for JobStatusEvent {
    fn from(e: StatusEntry) -> Self {
        JobStatusEvent {
            job_id: e.job.0,
            status: e.status.to_string(),
            cursor: e.cursor.to_string(),
            resync: false,
        }
    }
}

struct State {
    svc: Service,
    caller: Caller,
    job: Option<JobId>,
    wake: watch::Receiver<u64>,
    after: u64,
    pending: VecDeque<StatusEntry>,
    /// Jobs already checked against the caller's grants.
    seen: HashMap<JobId, bool>,
}

/// Status changes after `after` (or from now) of `job` (or of every job the caller may see).
pub(crate) fn status_stream(
    svc: Service,
    caller: Caller,
    job: Option<JobId>,
    after: Option<u64>,
) -> impl Stream<Item = JobStatusEvent> {
    let wake = svc.status_feed().watch();
    let after = after.unwrap_or_else(|| svc.status_feed().cursor());
    let st = State {
        svc,
        caller,
        job,
        wake,
        after,
        pending: VecDeque::new(),
        seen: HashMap::new(),
    };
    stream::unfold(st, |mut st| async move {
        let ev = st.next().await?;
        Some((ev, st))
    })
}

impl State {
    async fn visible(&mut self, job: JobId) -> bool {
        if let Some(v) = self.seen.get(&job) {
            return *v;
        }
        let v = self.svc.can_view_job(&self.caller, job).await;
        self.seen.insert(job, v);
        v
    }

    async fn next(&mut self) -> Option<JobStatusEvent> {
        loop {
            while let Some(e) = self.pending.pop_front() {
                if self.job.is_none_or(|j| j == e.job) && self.visible(e.job).await {
                    return Some(e.into());
                }
            }
            // Marked seen before reading: a change pushed after the read wakes us.
            self.wake.borrow_and_update();
            match self.svc.status_feed().since(self.after) {
                Ok(entries) => {
                    if let Some(last) = entries.last() {
                        self.after = last.cursor;
                    }
                    self.pending.extend(entries);
                }
                Err(gap) => {
                    tracing::debug!(
                        after = self.after,
                        now = gap.now,
                        "status subscriber missed changes"
                    );
                    self.after = gap.now;
                    return Some(JobStatusEvent {
                        job_id: 0,
                        status: String::new(),
                        cursor: gap.now.to_string(),
                        resync: true,
                    });
                }
            }
            if self.pending.is_empty() && self.wake.changed().await.is_err() {
                return None;
            }
        }
    }
}

//! Subscriptions: job status changes and job output lines as they happen (graphql-ws over
//! websocket at `/graphql/ws`; authenticate with `{"authorization": "Bearer <token>"}` in the
//! connection_init payload), and the `liveCursor` query a live view starts from.
//!
//! Nothing is lost between a page's query and its subscription, across a reconnect, or when a
//! subscriber falls behind: status changes are replayed from the executor's numbered feed
//! after the cursor the client passes (`after`), with a `resync` event when they are gone;
//! output lines are filled from the stored job output whenever a `seq` is skipped.

use crate::errors::{ApiError, GqlError};
use crate::{services, user};
use async_graphql::futures_util::stream::{self, Stream};
use async_graphql::{Context, Object, SimpleObject, Subscription};
use executor::{Executor, JobEvent, StatusEntry};
use model::JobId;
use std::collections::VecDeque;
use store::Store;
use tokio::sync::broadcast::error::RecvError;

/// A job changed state.
#[derive(SimpleObject, Clone)]
pub struct JobStatusEvent {
    /// The job (0 on a `resync` event).
    pub job_id: i64,
    pub status: String,
    /// The change's place in the status feed: resubscribe with `after` set to the last one seen.
    pub cursor: String,
    /// True when changes were missed (the cursor is too old or from an earlier server run):
    /// reload the state, then go on from this event's cursor.
    pub resync: bool,
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

/// A line a job printed (already scrubbed of secrets).
#[derive(SimpleObject, Clone)]
pub struct JobOutputEvent {
    pub job_id: i64,
    pub seq: i64,
    pub stream: String,
    pub text: String,
}

#[derive(SimpleObject, Clone)]
pub struct JobProgressEvent {
    pub job_id: i64,
    pub progress: crate::objects::JobProgress,
}

fn parse_cursor(after: Option<String>) -> Result<Option<u64>, GqlError> {
    after
        .map(|a| {
            a.trim()
                .parse::<u64>()
                .map_err(|_| ApiError::field("after", format!("{a:?} is not a feed cursor")).into())
        })
        .transpose()
}

/// Status changes after `after` (or from now), replayed from the feed, then as they happen.
fn status_stream(
    ex: Executor,
    job: Option<i64>,
    after: Option<u64>,
) -> impl Stream<Item = JobStatusEvent> {
    let wake = ex.status_feed().watch();
    let after = after.unwrap_or_else(|| ex.status_feed().cursor());
    let state = (ex, wake, after, VecDeque::<JobStatusEvent>::new());
    stream::unfold(
        state,
        move |(ex, mut wake, mut after, mut pending)| async move {
            loop {
                if let Some(ev) = pending.pop_front() {
                    return Some((ev, (ex, wake, after, pending)));
                }
                // Marked seen before reading: a change pushed after the read wakes us.
                wake.borrow_and_update();
                match ex.status_feed().since(after) {
                    Ok(entries) => {
                        for e in entries {
                            after = e.cursor;
                            if job.is_none_or(|j| j == e.job.0) {
                                pending.push_back(e.into());
                            }
                        }
                    }
                    Err(gap) => {
                        tracing::debug!(after, now = gap.now, "status subscriber missed changes");
                        after = gap.now;
                        pending.push_back(JobStatusEvent {
                            job_id: 0,
                            status: String::new(),
                            cursor: gap.now.to_string(),
                            resync: true,
                        });
                    }
                }
                if pending.is_empty() && wake.changed().await.is_err() {
                    return None;
                }
            }
        },
    )
}

/// Stored lines of `job` with `after < seq < before` (at most `limit`), off the runtime.
async fn stored_lines(store: &Store, job: JobId, after: i64, limit: i64) -> Vec<JobOutputEvent> {
    let store = store.clone();
    let rows = tokio::task::spawn_blocking(move || store.job_output(job, after, limit)).await;
    match rows {
        Ok(Ok(rows)) => rows
            .into_iter()
            .map(|l| JobOutputEvent {
                job_id: job.0,
                seq: l.seq,
                stream: l.stream,
                text: l.text,
            })
            .collect(),
        Ok(Err(e)) => {
            tracing::error!(job = %job, error = %e, "cannot read stored job output");
            Vec::new()
        }
        Err(e) => {
            tracing::error!(job = %job, error = %e, "reading stored job output panicked");
            Vec::new()
        }
    }
}

/// Where an output subscriber is.
struct OutputState {
    ex: Executor,
    rx: tokio::sync::broadcast::Receiver<JobEvent>,
    job: JobId,
    /// The last seq sent; every line up to it was sent, in order.
    last: Option<i64>,
    /// Stored lines still to send before live ones (a backlog after `after`, or a lag).
    catch_up: bool,
    pending: VecDeque<JobOutputEvent>,
}

const PAGE: i64 = 1000;

/// Output lines of a job in `seq` order with none missing: the stored ones after `after`
/// first, then live ones; a skipped `seq` (a line broadcast out of order, or a subscriber
/// that lagged) is read from the store.
fn output_stream(
    ex: Executor,
    job: JobId,
    after: Option<i64>,
) -> impl Stream<Item = JobOutputEvent> {
    let st = OutputState {
        rx: ex.subscribe(),
        ex,
        job,
        last: after,
        catch_up: after.is_some(),
        pending: VecDeque::new(),
    };
    stream::unfold(st, |mut st| async move {
        loop {
            if let Some(ev) = st.pending.pop_front() {
                st.last = Some(ev.seq);
                return Some((ev, st));
            }
            if st.catch_up {
                let from = st.last.unwrap_or(0);
                let page = stored_lines(st.ex.store(), st.job, from, PAGE).await;
                st.catch_up = page.len() as i64 == PAGE;
                st.pending.extend(page);
                continue;
            }
            match st.rx.recv().await {
                Ok(JobEvent::Output {
                    job,
                    seq,
                    stream,
                    text,
                }) if job == st.job => {
                    if let Some(last) = st.last {
                        if seq <= last {
                            continue;
                        }
                        if seq > last + 1 {
                            let gap = stored_lines(st.ex.store(), job, last, seq - last - 1).await;
                            st.pending.extend(gap.into_iter().filter(|l| l.seq < seq));
                        }
                    }
                    st.pending.push_back(JobOutputEvent {
                        job_id: job.0,
                        seq,
                        stream,
                        text,
                    });
                }
                Ok(_) => {}
                // Fell behind: what was skipped is in the store.
                Err(RecvError::Lagged(n)) => {
                    tracing::debug!(job = %st.job, skipped = n, "output subscriber lagged");
                    st.catch_up = st.last.is_some();
                }
                Err(RecvError::Closed) => return None,
            }
        }
    })
}

#[derive(Default)]
pub struct Subscription;

#[Subscription]
impl Subscription {
    /// Status changes of one job, or of every job when `job` is omitted. With `after` (a
    /// cursor from `liveCursor` or a previous event) the changes since that cursor come first,
    /// so nothing between a page's query and its subscription, or across a reconnect, is lost.
    async fn job_status(
        &self,
        ctx: &Context<'_>,
        job: Option<i64>,
        after: Option<String>,
    ) -> Result<impl Stream<Item = JobStatusEvent>, GqlError> {
        user(ctx)?;
        let after = parse_cursor(after)?;
        Ok(status_stream(services(ctx).executor.clone(), job, after))
    }

    /// Output lines of one job in `seq` order. With `after`, the stored lines after that `seq`
    /// come first (`after: 0` for the whole log), and no line is ever skipped.
    async fn job_output(
        &self,
        ctx: &Context<'_>,
        job: i64,
        after: Option<i64>,
    ) -> Result<impl Stream<Item = JobOutputEvent>, GqlError> {
        user(ctx)?;
        if after.is_some_and(|a| a < 0) {
            return Err(ApiError::field("after", "must be 0 or more").into());
        }
        Ok(output_stream(
            services(ctx).executor.clone(),
            JobId(job),
            after,
        ))
    }

    /// Progress of running jobs (a few updates per second at most): one job, or every job
    /// when `job` is omitted (for a dashboard of running jobs). Progress is a running state:
    /// a subscriber that falls behind gets the next update.
    async fn job_progress(
        &self,
        ctx: &Context<'_>,
        job: Option<i64>,
    ) -> Result<impl Stream<Item = JobProgressEvent>, GqlError> {
        user(ctx)?;
        let rx = services(ctx).executor.subscribe();
        Ok(stream::unfold(rx, move |mut rx| async move {
            loop {
                match rx.recv().await {
                    Ok(JobEvent::Progress { job: id, progress })
                        if job.is_none_or(|j| j == id.0) =>
                    {
                        let ev = JobProgressEvent {
                            job_id: id.0,
                            progress: progress.into(),
                        };
                        return Some((ev, rx));
                    }
                    Ok(_) | Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => return None,
                }
            }
        }))
    }
}

/// Where live views start from.
#[derive(Default)]
pub struct LiveQuery;

#[Object]
impl LiveQuery {
    /// The status feed's current cursor. Read it before (or with) a page's data, then
    /// subscribe to `jobStatus(after: …)` with it: every change after the read arrives.
    async fn live_cursor(&self, ctx: &Context<'_>) -> Result<String, GqlError> {
        user(ctx)?;
        Ok(services(ctx).executor.status_feed().cursor().to_string())
    }
}

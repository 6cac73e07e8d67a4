//! Subscriptions: job status changes and job output lines as they happen (graphql-ws over
//! websocket at `/graphql/ws`; authenticate with `{"authorization": "Bearer <token>"}` in the
//! connection_init payload), and the `liveCursor` query a live view starts from. A subscriber
//! receives events of the jobs their grants reach.
//!
//! Nothing is lost between a page's query and its subscription, across a reconnect, or when a
//! subscriber falls behind: status changes are replayed from the executor's numbered feed
//! after the cursor the client passes (`after`, see `live_status.rs`), with a `resync` event
//! when they are gone; output lines are filled from the stored log (`live_output.rs`).

use crate::errors::{ApiError, GqlError};
use crate::{caller, svc};
use async_graphql::futures_util::stream::{self, Stream};
use async_graphql::{Context, Object, SimpleObject, Subscription};
use model::JobId;
use service::types::JobEvent;
use service::{Caller, Service};
use std::collections::HashMap;
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

/// A line a job printed (already scrubbed of secrets).
#[derive(SimpleObject, Clone)]
pub struct JobOutputEvent {
    pub job_id: i64,
    pub seq: i64,
    pub stream: String,
    pub text: String,
}

fn event_job(ev: &JobEvent) -> JobId {
    match ev {
        JobEvent::Status { job, .. }
        | JobEvent::Output { job, .. }
        | JobEvent::Progress { job, .. } => *job,
    }
}

/// What a subscription stream carries along: the receiver, what to pick, and who listens
/// (with the jobs already checked against their grants).
struct Feed<P> {
    rx: tokio::sync::broadcast::Receiver<JobEvent>,
    pick: P,
    svc: Service,
    caller: Caller,
    seen: HashMap<JobId, bool>,
}

fn events<T: Send + 'static, P: Fn(JobEvent) -> Option<T> + Send + Sync + 'static>(
    svc: &Service,
    caller: Caller,
    pick: P,
) -> impl Stream<Item = T> {
    let feed = Feed {
        rx: svc.subscribe(),
        pick,
        svc: svc.clone(),
        caller,
        seen: HashMap::new(),
    };
    stream::unfold(feed, |mut f| async move {
        loop {
            match f.rx.recv().await {
                Ok(ev) => {
                    let job = event_job(&ev);
                    let visible = match f.seen.get(&job) {
                        Some(v) => *v,
                        None => {
                            let v = f.svc.can_view_job(&f.caller, job).await;
                            f.seen.insert(job, v);
                            v
                        }
                    };
                    if !visible {
                        continue;
                    }
                    if let Some(item) = (f.pick)(ev) {
                        return Some((item, f));
                    }
                }
                // A slow subscriber skips what it missed; the job's stored output has it all.
                Err(RecvError::Lagged(_)) => continue,
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
        let c = caller(ctx).await?;
        let after = crate::live_status::parse_cursor(after)?;
        if let Some(id) = job {
            svc(ctx).job(&c, JobId(id)).await?;
        }
        Ok(crate::live_status::status_stream(
            svc(ctx).clone(),
            c,
            job.map(JobId),
            after,
        ))
    }

    /// Output lines of one job as they are printed, in order and without gaps (a subscriber
    /// that falls behind gets the lines it missed from the stored log). With `after`, the
    /// stored lines after that `seq` come first (`after: 0` for the whole log).
    async fn job_output(
        &self,
        ctx: &Context<'_>,
        job: i64,
        after: Option<i64>,
    ) -> Result<impl Stream<Item = JobOutputEvent>, GqlError> {
        if after.is_some_and(|a| a < 0) {
            return Err(ApiError::field("after", "must be 0 or more").into());
        }
        let c = caller(ctx).await?;
        let s = svc(ctx);
        // Subscribed before the job's last stored line is read: no line falls in between.
        let rx = s.subscribe_output();
        let base = s.last_output_seq(&c, JobId(job)).await?;
        Ok(crate::live_output::output_stream(
            rx,
            s.clone(),
            c,
            JobId(job),
            base,
            after,
        ))
    }

    /// Progress of running jobs (a few updates per second at most): one job, or every job
    /// when `job` is omitted (for a dashboard of running jobs).
    async fn job_progress(
        &self,
        ctx: &Context<'_>,
        job: Option<i64>,
    ) -> Result<impl Stream<Item = JobProgressEvent>, GqlError> {
        let c = caller(ctx).await?;
        if let Some(id) = job {
            svc(ctx).job(&c, JobId(id)).await?;
        }
        Ok(events(svc(ctx), c, move |ev| match ev {
            JobEvent::Progress { job: id, progress } if job.is_none_or(|j| j == id.0) => {
                Some(JobProgressEvent {
                    job_id: id.0,
                    progress: progress.into(),
                })
            }
            _ => None,
        }))
    }
}

#[derive(SimpleObject, Clone)]
pub struct JobProgressEvent {
    pub job_id: i64,
    pub progress: crate::objects::JobProgress,
}

/// Where live views start from.
#[derive(Default)]
pub struct LiveQuery;

#[Object]
impl LiveQuery {
    /// The status feed's current cursor. Read it before (or with) a page's data, then
    /// subscribe to `jobStatus(after: …)` with it: every change after the read arrives.
    async fn live_cursor(&self, ctx: &Context<'_>) -> Result<String, GqlError> {
        let c = caller(ctx).await?;
        Ok(svc(ctx).live_cursor(&c)?.to_string())
    }
}

//! Subscriptions: job status changes and job output lines as they happen (graphql-ws over
//! websocket at `/graphql/ws`; authenticate with `{"authorization": "Bearer <token>"}` in the
//! connection_init payload). A subscriber receives events of the jobs their grants reach.

use crate::errors::GqlError;
use crate::{caller, svc};
use async_graphql::futures_util::stream::{self, Stream};
use async_graphql::{Context, SimpleObject, Subscription};
use model::JobId;
use service::types::JobEvent;
use service::{Caller, Service};
use std::collections::HashMap;
use tokio::sync::broadcast::error::RecvError;

/// A job changed state.
#[derive(SimpleObject, Clone)]
pub struct JobStatusEvent {
    pub job_id: i64,
    pub status: String,
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
    /// Status changes of one job, or of every job when `job` is omitted.
    async fn job_status(
        &self,
        ctx: &Context<'_>,
        job: Option<i64>,
    ) -> Result<impl Stream<Item = JobStatusEvent>, GqlError> {
        let c = caller(ctx).await?;
        if let Some(id) = job {
            svc(ctx).job(&c, JobId(id)).await?;
        }
        Ok(events(svc(ctx), c, move |ev| match ev {
            JobEvent::Status { job: id, status } if job.is_none_or(|j| j == id.0) => {
                Some(JobStatusEvent {
                    job_id: id.0,
                    status: status.to_string(),
                })
            }
            _ => None,
        }))
    }

    /// Output lines of one job as they are printed.
    async fn job_output(
        &self,
        ctx: &Context<'_>,
        job: i64,
    ) -> Result<impl Stream<Item = JobOutputEvent>, GqlError> {
        let c = caller(ctx).await?;
        svc(ctx).job(&c, JobId(job)).await?;
        Ok(events(svc(ctx), c, move |ev| match ev {
            JobEvent::Output {
                job: id,
                seq,
                stream,
                text,
            } if id.0 == job => Some(JobOutputEvent {
                job_id: id.0,
                seq,
                stream,
                text,
            }),
            _ => None,
        }))
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

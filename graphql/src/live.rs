//! Subscriptions: job status changes and job output lines as they happen (graphql-ws over
//! websocket at `/graphql/ws`; authenticate with `{"authorization": "Bearer <token>"}` in the
//! connection_init payload).

use crate::errors::GqlError;
use crate::{services, user};
use async_graphql::futures_util::stream::{self, Stream};
use async_graphql::{Context, SimpleObject, Subscription};
use executor::JobEvent;
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

fn events<T: Send + 'static>(
    rx: tokio::sync::broadcast::Receiver<JobEvent>,
    pick: impl Fn(JobEvent) -> Option<T> + Send + Sync + 'static,
) -> impl Stream<Item = T> {
    stream::unfold((rx, pick), |(mut rx, pick)| async move {
        loop {
            match rx.recv().await {
                Ok(ev) => {
                    if let Some(item) = pick(ev) {
                        return Some((item, (rx, pick)));
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
        user(ctx)?;
        let rx = services(ctx).executor.subscribe();
        Ok(events(rx, move |ev| match ev {
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
        user(ctx)?;
        let rx = services(ctx).executor.subscribe();
        Ok(events(rx, move |ev| match ev {
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
        user(ctx)?;
        let rx = services(ctx).executor.subscribe();
        Ok(events(rx, move |ev| match ev {
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

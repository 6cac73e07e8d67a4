//! The `jobOutput` subscription's stream: one job's lines in order and without gaps. A line
//! is published only once stored, so lines a lagging subscriber missed are read back from the
//! store before the stream goes on with live ones.

use crate::live::JobOutputEvent;
use async_graphql::futures_util::stream::{self, Stream};
use model::JobId;
use service::types::JobEvent;
use service::{Caller, Service};
use std::collections::VecDeque;
use tokio::sync::broadcast::{self, error::RecvError};

/// Lines read back from the store at once while catching up.
const PAGE: i64 = 1000;

struct State {
    rx: broadcast::Receiver<JobEvent>,
    svc: Service,
    caller: Caller,
    job: JobId,
    /// The job's last stored line when the subscription began.
    base: i64,
    /// The last line delivered.
    last: Option<i64>,
    /// Lines read back from the store, to deliver before waiting for live ones.
    backlog: VecDeque<JobOutputEvent>,
    catching_up: bool,
}

/// Lines of `job` received on `rx` (subscribed before `base`, the job's last stored line, was
/// read), gaps filled from the stored log; with `after`, every stored line after it first.
pub(crate) fn output_stream(
    rx: broadcast::Receiver<JobEvent>,
    svc: Service,
    caller: Caller,
    job: JobId,
    base: i64,
    after: Option<i64>,
) -> impl Stream<Item = JobOutputEvent> {
    let st = State {
        rx,
        svc,
        caller,
        job,
        base,
        // With `after`, the stored lines after it are read back before live ones.
        last: after,
        backlog: VecDeque::new(),
        catching_up: after.is_some(),
    };
    stream::unfold(st, |mut st| async move {
        let ev = st.next().await?;
        Some((ev, st))
    })
}

impl State {
    async fn next(&mut self) -> Option<JobOutputEvent> {
        loop {
            if let Some(e) = self.backlog.pop_front() {
                if self.last.is_some_and(|l| e.seq <= l) {
                    continue;
                }
                self.last = Some(e.seq);
                return Some(e);
            }
            if self.catching_up {
                let page = self.read_back().await;
                self.catching_up = !page.is_empty();
                self.backlog.extend(page);
                continue;
            }
            match self.rx.recv().await {
                Ok(JobEvent::Output {
                    job,
                    seq,
                    stream,
                    text,
                }) if job == self.job => match self.last {
                    Some(l) if seq <= l => continue,
                    // Missed lines (this one included) are in the store.
                    Some(l) if seq > l + 1 => self.catching_up = true,
                    _ => {
                        self.last = Some(seq);
                        return Some(JobOutputEvent {
                            job_id: job.0,
                            seq,
                            stream,
                            text,
                        });
                    }
                },
                Ok(_) => continue,
                Err(RecvError::Lagged(_)) => self.catching_up = true,
                Err(RecvError::Closed) => return None,
            }
        }
    }

    /// The next stored lines after the last delivered one (or after `base`).
    async fn read_back(&self) -> Vec<JobOutputEvent> {
        let after = self.last.unwrap_or(self.base);
        match self
            .svc
            .job_output(&self.caller, self.job, after, PAGE)
            .await
        {
            Ok(lines) => lines
                .into_iter()
                .map(|l| JobOutputEvent {
                    job_id: self.job.0,
                    seq: l.seq,
                    stream: l.stream,
                    text: l.text,
                })
                .collect(),
            Err(e) => {
                tracing::warn!(job = %self.job, error = %e, "cannot read back missed output lines");
                Vec::new()
            }
        }
    }
}

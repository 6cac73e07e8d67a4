//! Job events shared between the nodes of a cluster (PostgreSQL `LISTEN/NOTIFY`): each node
//! publishes the status changes and progress of the jobs it runs, and a note per stored batch
//! of output lines; the other nodes replay them into their own live channels (reading the
//! announced lines from the database), so a subscriber on any node sees every job. On SQLite
//! (one node) nothing is published.

use crate::events::JobEvent;
use crate::manager::Executor;
use model::{JobId, JobProgress, JobStatus};
use serde::{Deserialize, Serialize};
use std::sync::mpsc;
use std::time::Duration;

/// Most messages published in one transaction.
const BATCH: usize = 256;

/// One message between nodes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Message {
    Status {
        node: String,
        job: JobId,
        status: JobStatus,
    },
    Progress {
        node: String,
        job: JobId,
        progress: JobProgress,
    },
    /// Lines `first..=last` of a job's output are stored.
    Output {
        node: String,
        job: JobId,
        first: i64,
        last: i64,
    },
}

impl Message {
    fn node(&self) -> &str {
        match self {
            Message::Status { node, .. }
            | Message::Progress { node, .. }
            | Message::Output { node, .. } => node,
        }
    }
}

/// The publishing side: messages queue up and a thread sends them in batches.
#[derive(Clone)]
pub(crate) struct Publisher {
    tx: Option<mpsc::Sender<Message>>,
    node: String,
}

impl Publisher {
    /// A publisher for `store`; inert on SQLite.
    pub(crate) fn start(store: store::Store, node: String) -> Publisher {
        if store.backend() != store::Backend::Postgres {
            return Publisher { tx: None, node };
        }
        let (tx, rx) = mpsc::channel::<Message>();
        let spawned = std::thread::Builder::new()
            .name("event-publisher".into())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    let mut batch = vec![first];
                    while batch.len() < BATCH {
                        match rx.try_recv() {
                            Ok(m) => batch.push(m),
                            Err(_) => break,
                        }
                    }
                    let payloads: Vec<String> = batch
                        .iter()
                        .filter_map(|m| serde_json::to_string(m).ok())
                        .filter(|p| p.len() <= store::MAX_PAYLOAD)
                        .collect();
                    if let Err(e) = store.publish_events(&payloads) {
                        tracing::warn!(error = %e, messages = payloads.len(), "job events not published to the other nodes");
                        std::thread::sleep(Duration::from_millis(200));
                    }
                }
            });
        match spawned {
            Ok(_) => Publisher { tx: Some(tx), node },
            Err(e) => {
                tracing::error!(error = %e, "cannot start the event publisher: other nodes see no live events of this one");
                Publisher { tx: None, node }
            }
        }
    }

    /// Publishes a status change or progress of a job this node runs.
    pub(crate) fn event(&self, e: &JobEvent) {
        let m = match e {
            JobEvent::Status { job, status } => Message::Status {
                node: self.node.clone(),
                job: *job,
                status: *status,
            },
            JobEvent::Progress { job, progress } => Message::Progress {
                node: self.node.clone(),
                job: *job,
                progress: progress.clone(),
            },
            JobEvent::Output { .. } => return,
        };
        self.send(m);
    }

    /// Announces stored output lines `first..=last` of `job`.
    pub(crate) fn output(&self, job: JobId, first: i64, last: i64) {
        self.send(Message::Output {
            node: self.node.clone(),
            job,
            first,
            last,
        });
    }

    fn send(&self, m: Message) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(m);
        }
    }
}

/// Starts replaying the other nodes' events into this node's live channels.
pub(crate) fn listen(ex: &Executor) -> Result<Option<store::Listener>, store::StoreError> {
    let me = ex.clone();
    let node = ex.inner.opts.node_name.clone();
    ex.inner.store.listen_events(move |payload| {
        let m: Message = match serde_json::from_str(payload) {
            Ok(m) => m,
            Err(e) => {
                tracing::debug!(error = %e, "ignored an event from another node");
                return;
            }
        };
        if m.node() != node {
            me.replay(m);
        }
    })
}

impl Executor {
    /// An event of another node, on this node's live channels (never published again).
    fn replay(&self, m: Message) {
        match m {
            Message::Status { job, status, .. } => {
                if status.is_finished() {
                    self.inner.progress.clear(job);
                    // Its dependants and the slot it held are free for this node too.
                    self.wake();
                }
                self.emit_local(JobEvent::Status { job, status });
            }
            Message::Progress { job, progress, .. } => {
                self.inner.progress.put(job, progress.clone());
                self.emit_local(JobEvent::Progress { job, progress });
            }
            Message::Output {
                job, first, last, ..
            } => match self
                .inner
                .store
                .job_output(job, first - 1, last - first + 1)
            {
                Ok(lines) => {
                    for l in lines {
                        let _ = self.inner.output_events.send(JobEvent::Output {
                            job,
                            seq: l.seq,
                            stream: l.stream,
                            text: l.text,
                        });
                    }
                }
                Err(e) => {
                    tracing::warn!(job = %job, error = %e, "output of another node's job not read")
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_as_json() {
        let m = Message::Output {
            node: "b".into(),
            job: JobId(7),
            first: 3,
            last: 9,
        };
        let text = serde_json::to_string(&m).expect("json");
        assert!(text.contains("\"kind\":\"output\""), "{text}");
        assert_eq!(serde_json::from_str::<Message>(&text).expect("back"), m);
    }
}

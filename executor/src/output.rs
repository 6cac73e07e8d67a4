//! Job output written in batches. Lines are queued as a job prints them; one writer thread
//! stores them many to a transaction (at most one transaction per `INTERVAL`, sooner when a
//! full batch waits), then publishes each stored line to live subscribers, in order. A line is
//! published only once stored, so a viewer that subscribes and then reads the stored log
//! misses none. The runner flushes a job's lines before its status becomes final. Storing
//! output is background work: the writer thread runs at a lower CPU priority than the API.

use crate::events::JobEvent;
use model::JobId;
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use store::{NewOutputLine, Store};
use tokio::sync::{broadcast, watch};

/// Least time between two transactions of output lines while lines keep coming.
const INTERVAL: Duration = Duration::from_millis(100);
/// A queue this long is written without waiting for `INTERVAL`.
const BATCH: usize = 1_000;
/// Most lines in one transaction (bounds how long the store's writer connection is held).
const MAX_BATCH: usize = 2_000;
/// A job printing faster than lines can be stored waits while this many are queued.
pub(crate) const HIGH_WATER: usize = 50_000;
/// The writer thread's nice value: under load it yields the CPU to API requests, and a job
/// printing faster than its lines are stored waits (see `HIGH_WATER`).
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
const NICE: i32 = 10;
/// Attempts at a batch while the database reports itself busy.
const ATTEMPTS: u32 = 5;

/// The queue and its writer thread (stops when the writer is dropped and the queue is empty).
pub(crate) struct OutputWriter {
    shared: Arc<Shared>,
}

struct Shared {
    queue: Mutex<Queue>,
    wake: Condvar,
    /// Lines handled (stored, or given up after errors) since start: flushes wait on it.
    done: watch::Sender<u64>,
    store: Store,
    events: broadcast::Sender<JobEvent>,
    bus: crate::bus::Publisher,
}

#[derive(Default)]
struct Queue {
    lines: VecDeque<NewOutputLine>,
    /// Lines queued since start.
    queued: u64,
    closed: bool,
}

impl OutputWriter {
    /// Starts the writer thread; stored lines are published on `events`.
    pub fn start(
        store: Store,
        events: broadcast::Sender<JobEvent>,
        bus: crate::bus::Publisher,
    ) -> OutputWriter {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
            done: watch::Sender::new(0),
            store,
            events,
            bus,
        });
        let me = shared.clone();
        std::thread::Builder::new()
            .name("job-output".into())
            .spawn(move || me.run())
            .expect("the job output thread starts");
        OutputWriter { shared }
    }

    /// Queues one line; returns how many lines wait to be stored.
    pub fn push(&self, line: NewOutputLine) -> usize {
        let mut q = self.shared.lock();
        q.lines.push_back(line);
        q.queued += 1;
        let n = q.lines.len();
        drop(q);
        // The writer waits for a first line, or for a full batch while it coalesces.
        if n == 1 || n == BATCH {
            self.shared.wake.notify_one();
        }
        n
    }

    /// Waits until every line queued so far (by any job) is stored.
    pub async fn flush(&self) {
        let target = self.shared.lock().queued;
        let mut rx = self.shared.done.subscribe();
        let _ = rx.wait_for(|done| *done >= target).await;
    }

    /// Waits while `HIGH_WATER` or more lines are queued.
    pub async fn room(&self) {
        loop {
            // Subscribed before looking, so a batch stored in between still wakes us.
            let mut rx = self.shared.done.subscribe();
            if self.shared.lock().lines.len() < HIGH_WATER {
                return;
            }
            if rx.changed().await.is_err() {
                return;
            }
        }
    }
}

impl Drop for OutputWriter {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.wake.notify_one();
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // The queue is plain data: a panic elsewhere leaves it consistent.
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn run(&self) {
        lower_priority();
        let mut last_write: Option<Instant> = None;
        loop {
            let batch: Vec<NewOutputLine> = {
                let mut q = self.lock();
                while q.lines.is_empty() {
                    if q.closed {
                        return;
                    }
                    q = self.wake.wait(q).unwrap_or_else(|p| p.into_inner());
                }
                // A first line is written at once; while lines keep coming, they gather.
                if let Some(due) = last_write.map(|t| t + INTERVAL) {
                    loop {
                        let now = Instant::now();
                        if q.lines.len() >= BATCH || q.closed || now >= due {
                            break;
                        }
                        q = self
                            .wake
                            .wait_timeout(q, due - now)
                            .unwrap_or_else(|p| p.into_inner())
                            .0;
                    }
                }
                let n = q.lines.len().min(MAX_BATCH);
                q.lines.drain(..n).collect()
            };
            last_write = Some(Instant::now());
            self.write(batch);
        }
    }

    fn write(&self, batch: Vec<NewOutputLine>) {
        let n = batch.len() as u64;
        let mut attempt = 1;
        let stored = loop {
            match self.store.append_job_outputs(&batch) {
                Ok(seqs) => break Some(seqs),
                Err(e) if e.is_transient() && attempt < ATTEMPTS => {
                    tracing::warn!(lines = n, attempt, error = %e, "job output not stored yet: retrying");
                    std::thread::sleep(Duration::from_millis(200) * attempt);
                    attempt += 1;
                }
                Err(e) => {
                    tracing::error!(lines = n, error = %e, "cannot store job output");
                    break None;
                }
            }
        };
        if let Some(seqs) = stored {
            // Other nodes read the stored lines back: one note per job of the batch.
            let mut spans: Vec<(JobId, i64, i64)> = Vec::new();
            for (l, seq) in batch.iter().zip(&seqs) {
                match spans.iter_mut().find(|s| s.0 == l.job) {
                    Some(s) => s.2 = *seq,
                    None => spans.push((l.job, *seq, *seq)),
                }
            }
            for (job, first, last) in spans {
                self.bus.output(job, first, last);
            }
            for (l, seq) in batch.into_iter().zip(seqs) {
                // No subscriber is not an error.
                let _ = self.events.send(JobEvent::Output {
                    job: l.job,
                    seq,
                    stream: l.stream,
                    text: l.text,
                });
            }
        }
        self.done.send_modify(|d| *d += n);
    }
}

/// Gives the calling thread the nice value `NICE` (Linux threads each have their own).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid and setpriority take plain integers and touch no memory of ours.
        let r = unsafe {
            let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
            libc::setpriority(libc::PRIO_PROCESS, tid, NICE)
        };
        if r != 0 {
            tracing::warn!(nice = NICE, error = %std::io::Error::last_os_error(), "job output thread keeps its priority");
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    #[test]
    fn the_writer_thread_runs_niced_and_others_do_not() {
        let nice = || {
            // SAFETY: plain integers in and out.
            unsafe {
                let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
                libc::getpriority(libc::PRIO_PROCESS, tid)
            }
        };
        let before = nice();
        let inside = std::thread::spawn(move || {
            super::lower_priority();
            nice()
        })
        .join()
        .expect("thread");
        assert_eq!(inside, before + super::NICE);
        assert_eq!(nice(), before);
    }
}

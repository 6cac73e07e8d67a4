//! Runs one job: picks the transport, streams command output into the job log (scrubbed of
//! secrets, stored in batches by `output.rs`), honours cancellation, and turns exit codes into
//! a truthful outcome.

use crate::manager::Executor;
use crate::transport::{Process, RemoteCommand, Transport, TransportError};
use model::*;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio_util::sync::CancellationToken;

/// How a job ended.
pub(crate) struct Outcome {
    pub status: JobStatus,
    pub exit_code: Option<i32>,
    pub explanation: String,
}

impl Outcome {
    pub fn ok(why: impl Into<String>) -> Self {
        Outcome {
            status: JobStatus::Successful,
            exit_code: Some(0),
            explanation: why.into(),
        }
    }
    pub fn failed(code: Option<i32>, why: impl Into<String>) -> Self {
        Outcome {
            status: JobStatus::Failed,
            exit_code: code,
            explanation: why.into(),
        }
    }
    pub fn error(why: impl Into<String>) -> Self {
        Outcome {
            status: JobStatus::Error,
            exit_code: None,
            explanation: why.into(),
        }
    }
}

/// Lines a command's output streams hand over before the reading task yields its runtime
/// worker: a chatty command's lines are mostly buffered already, so reading them rarely waits,
/// and without a yield one poll could hold the worker for tens of thousands of lines while API
/// requests queue behind it (a thousand lines take about a millisecond).
const LINES_PER_YIELD: u64 = 1_000;

/// The log of one running job.
pub(crate) struct JobLog<'a> {
    pub ex: &'a Executor,
    pub job: JobId,
    pub secrets: Vec<Secret>,
    /// Lines streamed so far (see `LINES_PER_YIELD`).
    pub streamed: AtomicU64,
}

impl JobLog<'_> {
    /// Queues a line for the job log (stored in the next batch, then published live); returns
    /// how many lines wait to be stored.
    pub fn line(&self, stream: &str, text: &str) -> usize {
        self.ex.inner.output.push(store::NewOutputLine {
            job: self.job,
            stream: stream.into(),
            text: crate::scrub::scrub(text, &self.secrets),
            at: chrono::Utc::now(),
        })
    }

    /// Like [`JobLog::line`] for a command's output stream: waits while the queue is full, so a
    /// command printing faster than the database stores is slowed instead of filling memory.
    pub async fn stream_line(&self, stream: &str, text: &str) {
        if self.line(stream, text) >= crate::output::HIGH_WATER {
            self.ex.inner.output.room().await;
        }
        if self.streamed.fetch_add(1, Ordering::Relaxed) % LINES_PER_YIELD == LINES_PER_YIELD - 1 {
            tokio::task::yield_now().await;
        }
    }

    pub fn info(&self, text: &str) {
        self.line("system", text);
    }
}

/// What to do with a command's stdout.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stdout {
    /// Stream it into the job log.
    Log,
    /// Capture it (JSON output), returned to the caller.
    Capture,
}

/// The result of a command that ran.
pub(crate) struct Ran {
    pub code: i32,
    pub stdout: String,
    /// The first 200 stderr lines (where borg reports missing sources).
    pub stderr_head: Vec<String>,
}

pub(crate) enum RunError {
    Transport(TransportError),
    Canceled,
}

/// Runs a command to completion, logging stderr (and stdout when asked) line by line.
pub(crate) async fn run_logged(
    log: &JobLog<'_>,
    transport: &Transport,
    cmd: &RemoteCommand,
    stdout_mode: Stdout,
    cancel: &CancellationToken,
) -> Result<Ran, RunError> {
    log.info(&format!("$ {}", cmd.display()));
    let mut p = transport.spawn(cmd).await.map_err(RunError::Transport)?;
    let stdout = std::mem::replace(&mut p.stdout, Box::pin(tokio::io::empty()));
    let stderr = std::mem::replace(&mut p.stderr, Box::pin(tokio::io::empty()));
    let out_fut = async move {
        let mut captured = String::new();
        match stdout_mode {
            Stdout::Capture => {
                let mut r = stdout;
                let _ = r.read_to_string(&mut captured).await;
            }
            Stdout::Log => {
                let mut lines = BufReader::new(stdout).lines();
                while let Ok(Some(l)) = lines.next_line().await {
                    log.stream_line("stdout", &l).await;
                }
            }
        }
        captured
    };
    let err_fut = log_stderr(log, stderr);
    let work = async {
        let (out, tail) = tokio::join!(out_fut, err_fut);
        let code = p.wait().await;
        (out, tail, code)
    };
    tokio::select! {
        (stdout, stderr_head, code) = work => {
            let code = code.map_err(RunError::Transport)?;
            log.info(&format!("exit status {code}"));
            Ok(Ran { code, stdout, stderr_head })
        }
        _ = cancel.cancelled() => {
            log.info("cancel requested: stopping the command");
            stop(&mut p).await;
            Err(RunError::Canceled)
        }
    }
}

/// Streams stderr into the job log; returns the first 200 lines.
pub(crate) async fn log_stderr(
    log: &JobLog<'_>,
    stderr: std::pin::Pin<Box<dyn tokio::io::AsyncRead + Send>>,
) -> Vec<String> {
    let mut head = Vec::new();
    let mut lines = BufReader::new(stderr).lines();
    while let Ok(Some(l)) = lines.next_line().await {
        // borg's JSON (`--log-json`): progress is not logged, log messages become their text.
        let crate::progress::BorgLine::Text(l) = crate::progress::interpret(log.ex, log.job, &l)
        else {
            continue;
        };
        log.stream_line("stderr", &l).await;
        if head.len() < 200 {
            head.push(l);
        }
    }
    head
}

async fn stop(p: &mut Process) {
    p.stop().await;
}

/// Turns a command error into the job's outcome.
pub(crate) fn run_error_outcome(e: RunError) -> Outcome {
    match e {
        RunError::Canceled => Outcome {
            status: JobStatus::Canceled,
            exit_code: None,
            explanation: "canceled".into(),
        },
        RunError::Transport(t) => Outcome::error(t.to_string()),
    }
}

/// Runs a job of any type.
pub(crate) async fn run(ex: &Executor, job: &Job, cancel: CancellationToken) -> Outcome {
    let log = JobLog {
        ex,
        job: job.id,
        secrets: Vec::new(),
        streamed: Default::default(),
    };
    log.info(&format!("job {} ({}) started", job.id, job.job_type));
    // The repository is the one prepared, or the job sends and reads nothing (identity.rs).
    let outcome = match crate::identity::verify_job(ex, job, &cancel).await {
        Err(refused) => refused,
        Ok(()) => run_type(ex, job, &cancel).await,
    };
    log.info(&format!(
        "job {} {}{}",
        job.id,
        outcome.status,
        if outcome.explanation.is_empty() {
            String::new()
        } else {
            format!(": {}", outcome.explanation)
        }
    ));
    outcome
}

async fn run_type(ex: &Executor, job: &Job, cancel: &CancellationToken) -> Outcome {
    match job.job_type {
        JobType::Job => crate::jobs::backup(ex, job, cancel).await,
        JobType::PrepareRepository => crate::jobs::prepare_repository(ex, job, cancel).await,
        JobType::PrepareClient => crate::jobs::prepare_client(ex, job, cancel).await,
        JobType::Catalog => crate::jobs::catalog(ex, job, cancel).await,
        JobType::Prune => crate::jobs::prune(ex, job, cancel).await,
        JobType::Check => crate::jobs::check(ex, job, cancel).await,
        JobType::RestoreTest => crate::drill::restore_test(ex, job, cancel).await,
        JobType::Restore => crate::restore::restore(ex, job, cancel).await,
    }
}

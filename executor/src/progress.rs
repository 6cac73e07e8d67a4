//! Progress of running jobs: borg's JSON progress lines (`--progress --log-json`) turned into a
//! `JobProgress` kept in memory while the job runs, published as events a few times a second.

use crate::events::JobEvent;
use crate::manager::Executor;
use model::{JobId, JobProgress};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Least time between two published progress events of one job (borg itself reports at most
/// every 0.2 s; this guards against chattier sources).
const EVERY: Duration = Duration::from_millis(200);

#[derive(Default)]
struct Entry {
    progress: JobProgress,
    /// Expected original bytes (the previous archive of the series), for the percentage.
    expected: Option<i64>,
    published: Option<Instant>,
}

/// The progress of every running job.
#[derive(Default)]
pub(crate) struct ProgressBoard {
    jobs: Mutex<HashMap<JobId, Entry>>,
}

impl ProgressBoard {
    fn with<R>(&self, f: impl FnOnce(&mut HashMap<JobId, Entry>) -> R) -> R {
        let mut g = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut g)
    }

    pub fn get(&self, job: JobId) -> Option<JobProgress> {
        self.with(|m| m.get(&job).map(|e| e.progress.clone()))
    }

    /// Sets a job's progress as another node reported it.
    pub fn put(&self, job: JobId, progress: JobProgress) {
        self.with(|m| m.entry(job).or_default().progress = progress);
    }

    pub fn clear(&self, job: JobId) {
        self.with(|m| m.remove(&job));
    }

    /// Sets the size the job is expected to read, so progress gets a percentage.
    pub fn expect(&self, job: JobId, original_bytes: i64) {
        if original_bytes > 0 {
            self.with(|m| m.entry(job).or_default().expected = Some(original_bytes));
        }
    }

    /// Applies one update; returns the progress to publish when it is time to.
    fn update(&self, job: JobId, apply: impl FnOnce(&mut JobProgress)) -> Option<JobProgress> {
        self.with(|m| {
            let e = m.entry(job).or_default();
            apply(&mut e.progress);
            if let Some(total) = e.expected {
                if e.progress.original_bytes > 0 {
                    let pct = e.progress.original_bytes as f64 * 100.0 / total as f64;
                    e.progress.percent = Some(pct.min(99.0));
                }
            }
            let due = e.published.is_none_or(|t| t.elapsed() >= EVERY);
            if due {
                e.published = Some(Instant::now());
                Some(e.progress.clone())
            } else {
                None
            }
        })
    }
}

/// What a stderr line of borg with `--log-json` means.
#[derive(Debug, PartialEq)]
pub(crate) enum BorgLine {
    /// A line for the job log (log messages, file statuses, anything not JSON).
    Text(String),
    /// Progress only: not logged.
    Progress,
}

/// Interprets one stderr line: JSON progress updates the job's progress; JSON log messages
/// become their text; everything else is returned as it is.
pub(crate) fn interpret(ex: &Executor, job: JobId, line: &str) -> BorgLine {
    let t = line.trim_start();
    if !t.starts_with('{') {
        return BorgLine::Text(line.to_string());
    }
    let Ok(v) = serde_json::from_str::<Value>(t) else {
        return BorgLine::Text(line.to_string());
    };
    let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default();
    let n = |k: &str| v.get(k).and_then(Value::as_i64);
    let finished = v.get("finished").and_then(Value::as_bool) == Some(true);
    let board = &ex.inner.progress;
    let published = match s("type") {
        "log_message" => return BorgLine::Text(s("message").to_string()),
        "file_status" => return BorgLine::Text(format!("{} {}", s("status"), s("path"))),
        "archive_progress" if !finished => board.update(job, |p| {
            p.files = n("nfiles").unwrap_or(p.files);
            p.original_bytes = n("original_size").unwrap_or(p.original_bytes);
            p.compressed_bytes = n("compressed_size").unwrap_or(p.compressed_bytes);
            p.deduplicated_bytes = n("deduplicated_size").unwrap_or(p.deduplicated_bytes);
            p.current = s("path").to_string();
        }),
        "progress_percent" if !finished => {
            let (cur, total) = (n("current").unwrap_or(0), n("total").unwrap_or(0));
            // `info` names the item (extract); the message repeats it after a percentage.
            let item = v
                .get("info")
                .and_then(Value::as_array)
                .and_then(|a| a.first())
                .and_then(Value::as_str)
                .map(str::to_string);
            board.update(job, |p| {
                if total > 0 {
                    p.percent = Some((cur as f64 * 100.0 / total as f64).min(100.0));
                    p.original_bytes = cur;
                }
                p.current = item.unwrap_or_else(|| s("message").trim().to_string());
            })
        }
        "progress_message" if !finished && !s("message").is_empty() => {
            board.update(job, |p| p.current = s("message").to_string())
        }
        "archive_progress" | "progress_percent" | "progress_message" => None,
        _ => return BorgLine::Text(line.to_string()),
    };
    if let Some(progress) = published {
        ex.emit(JobEvent::Progress { job, progress });
    }
    BorgLine::Progress
}

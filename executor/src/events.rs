//! Live job events (status changes, output lines, progress) broadcast to subscribers such as
//! the API: status and progress on `Executor::subscribe`, output lines (once stored) on
//! `Executor::subscribe_output`.

use model::{JobId, JobProgress, JobStatus};

/// Something that happened to a job, as it happened.
#[derive(Debug, Clone, PartialEq)]
pub enum JobEvent {
    Status {
        job: JobId,
        status: JobStatus,
    },
    Output {
        job: JobId,
        seq: i64,
        stream: String,
        text: String,
    },
    /// At most a few per second per job.
    Progress {
        job: JobId,
        progress: JobProgress,
    },
}

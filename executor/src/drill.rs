//! Restore drills (job type `restore_test`): prove that one (policy, client) series restores.
//! File policies: sample files from the catalog across archive ages, extract them on the
//! repository host into a temporary directory, and verify size, mtime and (when the live file
//! is unchanged) the sha256 against the client's file. Database policies: load the latest dump
//! into a scratch database on the client and list its tables. Every drill records its evidence
//! and verdict; the scheduler runs them on the `restore_test_cron` schedules.

mod db;
mod files;
mod schedule;

pub(crate) use schedule::scheduled_drills;

use crate::jobs::{log_for, repo_ctx, RepoCtx};
use crate::manager::Executor;
use crate::runner::Outcome;
use crate::transport::RemoteCommand;
use crate::tryo;
use model::*;
use std::time::Instant;
use store::{DrillFinding, NewJob, NewRestoreTest, StoreError, Verdict};
use tokio_util::sync::CancellationToken;

/// Files sampled per drill.
pub const SAMPLE_FILES: usize = 20;
/// Larger files are not sampled (they would be extracted in full).
pub const MAX_SAMPLE_BYTES: u64 = 64 << 20;

/// Why a drill could not be queued.
#[derive(Debug, thiserror::Error)]
pub enum DrillError {
    #[error("client {client} is not a client of policy {policy}")]
    ClientNotInPolicy { policy: String, client: String },
    #[error("no enabled client of policy {0} to test")]
    NoClient(String),
    #[error("repository {repository} is neither the primary nor a copy of policy {policy}")]
    RepositoryNotInPolicy { policy: String, repository: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a drill found, gathered by the file and database drills.
#[derive(Debug, Default)]
pub(crate) struct Evidence {
    pub archives: Vec<String>,
    pub files_checked: i64,
    pub bytes: i64,
    pub mismatches: Vec<DrillFinding>,
    pub notes: Vec<DrillFinding>,
    /// Sentences for the summary (what was loaded, tables found).
    pub details: Vec<String>,
}

impl Evidence {
    pub fn mismatch(&mut self, path: &str, archive: &str, reason: impl Into<String>) {
        self.mismatches.push(DrillFinding {
            path: path.into(),
            archive: archive.into(),
            reason: reason.into(),
        });
    }

    pub fn note(&mut self, path: &str, archive: &str, reason: impl Into<String>) {
        self.notes.push(DrillFinding {
            path: path.into(),
            archive: archive.into(),
            reason: reason.into(),
        });
    }

    fn verdict(&self) -> Verdict {
        if self.mismatches.is_empty() && self.files_checked > 0 {
            Verdict::Passed
        } else {
            Verdict::Failed
        }
    }

    fn summary(&self, verdict: Verdict) -> String {
        let mut s = match verdict {
            Verdict::Passed => format!(
                "restore test passed: {} file(s), {} bytes from {} archive(s) verified",
                self.files_checked,
                self.bytes,
                self.archives.len()
            ),
            Verdict::Failed if self.files_checked == 0 && self.mismatches.is_empty() => {
                "restore test failed: nothing could be verified".to_string()
            }
            Verdict::Failed => {
                let first = self
                    .mismatches
                    .first()
                    .map(|m| {
                        if m.path.is_empty() {
                            m.reason.clone()
                        } else {
                            format!("{}: {}", m.path, m.reason)
                        }
                    })
                    .unwrap_or_default();
                format!(
                    "restore test failed: {} problem(s) in {} file(s) from {} archive(s); first: {first}",
                    self.mismatches.len(),
                    self.files_checked,
                    self.archives.len()
                )
            }
        };
        if !self.notes.is_empty() {
            s.push_str(&format!("; {} check(s) skipped", self.notes.len()));
        }
        for d in &self.details {
            s.push_str("; ");
            s.push_str(d);
        }
        s
    }
}

/// A shell script run with the borg environment of `env` (passphrase on stdin, `TZ=UTC`).
pub(crate) fn borg_script(
    env: &crate::borg::BorgEnv,
    script: &str,
    args: Vec<String>,
) -> RemoteCommand {
    // `info_repo` applies the environment; the argument list is replaced by the script.
    let mut cmd = env.info_repo("");
    cmd.argv = vec!["bash".into(), "-c".into(), script.into(), "bash".into()];
    cmd.argv.extend(args);
    cmd
}

impl Executor {
    /// Queues a restore drill of a policy for one client, or for every enabled client, in
    /// `repository` (the primary or a copy) or, when `None`, in the repository of the series
    /// drilled longest ago: drills alternate between the primary and the copies.
    pub fn launch_restore_test(
        &self,
        policy: PolicyId,
        client: Option<ClientId>,
        repository: Option<RepositoryId>,
        by: Option<UserId>,
        launch_type: &str,
    ) -> Result<Vec<Job>, DrillError> {
        let store = &self.inner.store;
        let p = store.policy(policy)?;
        if let Some(r) = repository {
            if !p.all_repositories().contains(&r) {
                return Err(DrillError::RepositoryNotInPolicy {
                    policy: p.name,
                    repository: store.repository(r)?.name,
                });
            }
        }
        let clients: Vec<ClientId> = match client {
            Some(c) if p.clients.contains(&c) => vec![c],
            Some(c) => {
                let name = store.client(c)?.hostname;
                return Err(DrillError::ClientNotInPolicy {
                    policy: p.name,
                    client: name,
                });
            }
            None => p.clients.clone(),
        };
        let mut jobs = Vec::new();
        for cid in clients {
            let c = store.client(cid)?;
            if !c.enabled && client.is_none() {
                continue;
            }
            let repo = match repository {
                Some(r) => r,
                None => self.next_drill_repository(&p, c.id)?,
            };
            let name = if repo == p.repository {
                format!("Restore test {} {}", c.hostname, p.name)
            } else {
                let copy = store.repository(repo)?;
                format!(
                    "Restore test {} {} (copy {})",
                    c.hostname, p.name, copy.name
                )
            };
            jobs.push(self.enqueue(NewJob {
                name,
                job_type: JobType::RestoreTest,
                policy: Some(p.id),
                client: Some(c.id),
                repository: Some(repo),
                archive_name: String::new(),
                depends_on: None,
                launch_type: launch_type.into(),
                created_by: by,
                extra_vars: String::new(),
            })?);
        }
        if jobs.is_empty() {
            return Err(DrillError::NoClient(p.name));
        }
        tracing::info!(policy = %p.name, jobs = jobs.len(), launch_type, "restore tests queued");
        Ok(jobs)
    }
}

impl Executor {
    /// The repository of a series to drill next: among the primary and the copies holding a
    /// catalogued archive of it, the one never drilled or drilled longest ago (the primary when
    /// none holds one yet, so the drill explains what is missing).
    fn next_drill_repository(
        &self,
        p: &Policy,
        client: ClientId,
    ) -> Result<RepositoryId, DrillError> {
        let store = &self.inner.store;
        let mut best: Option<(Option<chrono::DateTime<chrono::Utc>>, usize, RepositoryId)> = None;
        for (i, r) in p.all_repositories().into_iter().enumerate() {
            let catalogued = store
                .archives(Some(r), Some(client), Some(p.id))?
                .iter()
                .any(|a| a.catalog_state == CatalogState::Complete);
            if !catalogued {
                continue;
            }
            let last = store.last_drill_on(p.id, client, r)?.map(|t| t.created);
            // Never drilled sorts first (None < Some); ties keep the configured order.
            if best.as_ref().is_none_or(|(l, j, _)| (last, i) < (*l, *j)) {
                best = Some((last, i, r));
            }
        }
        Ok(best.map_or(p.repository, |(_, _, r)| r))
    }
}

/// Runs a drill job and records its evidence.
pub(crate) async fn restore_test(ex: &Executor, job: &Job, cancel: &CancellationToken) -> Outcome {
    let store = &ex.inner.store;
    let ctx = tryo!(repo_ctx(ex, job.repository));
    let policy = tryo!(crate::jobs::job_policy(ex, job));
    let client = tryo!(crate::jobs::job_client(ex, job));
    let mut log = log_for(ex, job, Some(&ctx));
    let started = Instant::now();
    let run = Run {
        ex,
        ctx: &ctx,
        policy: &policy,
        client: &client,
        cancel,
    };
    let result = match policy.policy_type {
        PolicyType::Postgresql | PolicyType::Mysql => db::drill(&run, &mut log).await,
        _ => files::drill(&run, &log).await,
    };
    let (evidence, failure) = match result {
        Ok(e) => (e, None),
        Err(o) if o.status == JobStatus::Canceled => return o,
        Err(o) => {
            let mut e = Evidence::default();
            e.mismatch(
                "",
                "",
                format!("the drill could not run: {}", o.explanation),
            );
            (e, Some(o))
        }
    };
    let verdict = evidence.verdict();
    let summary = evidence.summary(verdict);
    let record = NewRestoreTest {
        job: Some(job.id),
        policy: policy.id,
        client: client.id,
        repository: ctx.repo.id,
        archives: evidence.archives.clone(),
        files_checked: evidence.files_checked,
        bytes: evidence.bytes,
        duration: started.elapsed().as_secs_f64(),
        mismatches: evidence.mismatches.clone(),
        notes: evidence.notes.clone(),
        verdict,
        summary: summary.clone(),
    };
    if let Err(e) = store.record_restore_test(&record) {
        tracing::error!(job = %job.id, error = %e, "cannot record the restore test");
        return Outcome::error(format!("cannot record the restore test: {e}"));
    }
    for m in &evidence.mismatches {
        log.info(&format!(
            "MISMATCH {} {}: {}",
            m.archive,
            if m.path.is_empty() { "-" } else { &m.path },
            m.reason
        ));
    }
    for n in &evidence.notes {
        log.info(&format!("note {} {}: {}", n.archive, n.path, n.reason));
    }
    tracing::info!(job = %job.id, policy = %policy.name, client = %client.hostname, verdict = %verdict, files = evidence.files_checked, "restore test finished");
    match (verdict, failure) {
        (Verdict::Passed, _) => Outcome::ok(summary),
        (Verdict::Failed, Some(o)) => Outcome {
            explanation: summary,
            ..o
        },
        (Verdict::Failed, None) => Outcome::failed(Some(1), summary),
    }
}

/// What both kinds of drill need.
pub(crate) struct Run<'a> {
    pub ex: &'a Executor,
    pub ctx: &'a RepoCtx,
    pub policy: &'a Policy,
    pub client: &'a Client,
    pub cancel: &'a CancellationToken,
}

impl Run<'_> {
    pub fn series(&self) -> SeriesKey {
        SeriesKey {
            repository: self.ctx.repo.id,
            policy: self.policy.id,
            client: self.client.id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdict_needs_checked_files_and_no_mismatch() {
        let mut e = Evidence::default();
        assert_eq!(e.verdict(), Verdict::Failed);
        e.files_checked = 3;
        e.bytes = 10;
        e.archives = vec!["a".into()];
        assert_eq!(e.verdict(), Verdict::Passed);
        e.note(
            "/x",
            "a",
            "live file changed since the backup: checksum skipped",
        );
        assert!(e.summary(Verdict::Passed).contains("1 check(s) skipped"));
        e.mismatch("/y", "a", "size 1, catalog says 2");
        assert_eq!(e.verdict(), Verdict::Failed);
        let s = e.summary(Verdict::Failed);
        assert!(
            s.starts_with("restore test failed") && s.contains("/y: size 1"),
            "{s}"
        );
    }

    #[test]
    fn scripts_keep_the_borg_environment() {
        let env = crate::borg::BorgEnv {
            base_dir: None,
            passphrase: Some(Secret::new("pw")),
            trust: Default::default(),
        };
        let c = borg_script(&env, "echo \"$1\"", vec!["a b".into()]);
        assert_eq!(c.argv, ["bash", "-c", "echo \"$1\"", "bash", "a b"]);
        assert!(c.env.iter().any(|(k, v)| k == "TZ" && v == "UTC"));
        assert!(c.secret_env.iter().any(|(k, _)| k == "BORG_PASSPHRASE"));
    }
}

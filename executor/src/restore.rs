//! Restores from an archive: validated requests become `restore` jobs whose parameters live in
//! the job's `extra_vars` (so a relaunch repeats them); downloads stream `borg extract --stdout`
//! or `borg export-tar` from the repository host through short-lived single-use tickets.

mod download;
mod run;
mod scan;

use crate::manager::Executor;
use model::*;
use serde::{Deserialize, Serialize};
use store::{NewJob, StoreError};

pub(crate) use download::Tickets;
pub use download::{Download, DownloadError, DownloadKind, DownloadTicket, TICKET_MINUTES};
pub(crate) use run::restore;

/// Why a restore or download could not be started.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error("invalid input: {0}")]
    Validation(ValidationErrors),
    /// The repository could not be read (borg or the connection failed).
    #[error("cannot read the archive: {0}")]
    Repository(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ValidationErrors> for RestoreError {
    fn from(v: ValidationErrors) -> Self {
        RestoreError::Validation(v)
    }
}

/// What to restore, from which archive, where.
#[derive(Debug, Clone)]
pub struct RestoreRequest {
    pub archive: ArchiveId,
    /// Absolute paths of files or directories inside the archive.
    pub paths: Vec<String>,
    /// The host to restore to; the archive's own client when `None`.
    pub client: Option<ClientId>,
    /// Where on the host (`/` restores in place); `/` when `None`.
    pub target_directory: Option<String>,
    /// Replace files that already exist.
    pub overwrite: bool,
    /// List what would be restored without writing anything.
    pub dry_run: bool,
}

/// The parameters a restore job runs with, stored as its `extra_vars`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RestoreParams {
    pub archive: i64,
    pub archive_name: String,
    /// Paths as borg names them: without the leading `/`.
    pub paths: Vec<String>,
    pub target_directory: String,
    pub overwrite: bool,
    pub dry_run: bool,
}

/// Checks the requested paths; returns them as borg names them (no leading `/`, no trailing
/// `/`). Errors are reported on `field`.
pub(crate) fn borg_paths(
    errs: &mut ValidationErrors,
    field: &str,
    paths: &[String],
) -> Vec<String> {
    if paths.is_empty() {
        errs.add(field, "name at least one file or directory to restore");
        return Vec::new();
    }
    let mut out = Vec::with_capacity(paths.len());
    for p in paths {
        let before = errs.0.len();
        validate::check_abs_path(errs, field, p);
        if errs.0.len() > before {
            continue;
        }
        if p.split('/').any(|c| c == "..") {
            errs.add(field, format!("{p:?} must not contain '..'"));
            continue;
        }
        let rel = p.trim_matches('/');
        if rel.is_empty() {
            errs.add(
                field,
                "name a file or directory inside the archive, not '/'",
            );
            continue;
        }
        let rel = rel
            .split('/')
            .filter(|c| !c.is_empty() && *c != ".")
            .collect::<Vec<_>>()
            .join("/");
        if !out.contains(&rel) {
            out.push(rel);
        }
    }
    out
}

impl Executor {
    /// Validates a restore request and queues its job; the target client and the repository
    /// are the job's, so the dispatcher never runs it beside another job on either.
    pub fn launch_restore(
        &self,
        req: RestoreRequest,
        by: Option<UserId>,
    ) -> Result<Job, RestoreError> {
        let store = &self.inner.store;
        let mut errs = ValidationErrors::new();
        let paths = borg_paths(&mut errs, "paths", &req.paths);
        let target = req.target_directory.clone().unwrap_or_else(|| "/".into());
        validate::check_abs_path(&mut errs, "target_directory", &target);
        if target.split('/').any(|c| c == "..") {
            errs.add("target_directory", "must not contain '..'");
        }
        let archive = match store.archive(req.archive) {
            Ok(a) => Some(a),
            Err(StoreError::NotFound { .. }) => {
                errs.add("archive", format!("archive {} does not exist", req.archive));
                None
            }
            Err(e) => return Err(e.into()),
        };
        let client_id = req.client.or(archive.as_ref().map(|a| a.client));
        let client = match client_id.map(|c| store.client(c)) {
            Some(Ok(c)) => Some(c),
            Some(Err(StoreError::NotFound { .. })) => {
                errs.add("client", "this client does not exist");
                None
            }
            Some(Err(e)) => return Err(e.into()),
            None => None,
        };
        if let Some(c) = &client {
            if !c.enabled {
                errs.add(
                    "client",
                    format!("client {} is disabled: enable it first", c.hostname),
                );
            }
        }
        errs.into_result()?;
        let (Some(archive), Some(client)) = (archive, client) else {
            return Err(ValidationErrors::single("archive", "archive not found").into());
        };
        let params = RestoreParams {
            archive: archive.id.0,
            archive_name: archive.name.clone(),
            paths,
            target_directory: normalize_dir(&target),
            overwrite: req.overwrite,
            dry_run: req.dry_run,
        };
        // Plain strings and booleans: serializing cannot fail.
        let extra_vars = serde_json::to_string(&params).unwrap_or_default();
        let what = if params.paths.len() == 1 {
            format!("/{}", params.paths[0])
        } else {
            format!("{} paths", params.paths.len())
        };
        let job = self.enqueue(NewJob {
            name: format!(
                "{} {what} from {} to {}:{}",
                if params.dry_run {
                    "Restore (dry run)"
                } else {
                    "Restore"
                },
                archive.name,
                client.hostname,
                params.target_directory
            ),
            job_type: JobType::Restore,
            policy: Some(archive.policy),
            client: Some(client.id),
            repository: Some(archive.repository),
            archive_name: archive.name.clone(),
            depends_on: None,
            launch_type: "manual".into(),
            created_by: by,
            extra_vars,
        })?;
        tracing::info!(job = %job.id, archive = %archive.name, client = %client.hostname, "restore queued");
        Ok(job)
    }
}

/// `/a/b/` → `/a/b`; `/` stays `/`.
fn normalize_dir(d: &str) -> String {
    let t = d.trim_end_matches('/');
    if t.is_empty() {
        "/".into()
    } else {
        t.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_checked_and_made_relative() {
        let mut e = ValidationErrors::new();
        let p = borg_paths(
            &mut e,
            "paths",
            &[
                "/srv/a.txt".into(),
                "/srv/dir/".into(),
                "/srv//x/./y".into(),
            ],
        );
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(p, vec!["srv/a.txt", "srv/dir", "srv/x/y"]);
        for bad in ["relative", "/a/../b", "/", "/a\0b", ""] {
            let mut e = ValidationErrors::new();
            borg_paths(&mut e, "paths", &[bad.into()]);
            assert_eq!(e.0.len(), 1, "{bad:?}");
            assert_eq!(e.0[0].field, "paths");
        }
        let mut e = ValidationErrors::new();
        borg_paths(&mut e, "paths", &[]);
        assert!(!e.is_empty());
    }

    #[test]
    fn directories_are_normalized() {
        assert_eq!(normalize_dir("/"), "/");
        assert_eq!(normalize_dir("/tmp/x/"), "/tmp/x");
    }
}

//! Policy readiness: why a policy cannot run (or what will happen first), known before its
//! schedule fires. Read from stored facts only — no connection is opened: a disabled object,
//! no clients, no server SSH key for a remote host, a changed host key awaiting acceptance, a
//! client or repository whose last preparation failed (unreachable, refused, borg missing), or
//! one not prepared yet (prepared automatically before the first backup: a warning).

use crate::manager::Executor;
use crate::ssh::server_public_key;
use crate::targets::{backup_user, is_local};
use model::{Client, JobStatus, JobType, Policy, PolicyId, RepoLocation, Repository};
use store::StoreError;

/// How bad a readiness finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The policy's next run will fail or not start.
    Error,
    /// Something happens first (a preparation) or is worth knowing (no encryption).
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// One reason, with what it concerns and where to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Stable code: `disabled`, `no_clients`, `no_ssh_key`, `host_key_changed`,
    /// `client_preparation_failed`, `client_not_prepared`, `repository_preparation_failed`,
    /// `repository_not_prepared`, `unencrypted`.
    pub code: &'static str,
    pub severity: Severity,
    pub message: String,
    /// The UI page that fixes it (`settings/ssh`, `hostkeys`, `clients`, `repositories`,
    /// `policies`, `schedules`), with the object id when there is one.
    pub fix: String,
}

/// Whether a policy can run, and why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    pub policy: PolicyId,
    pub findings: Vec<Finding>,
}

impl Readiness {
    /// No finding is an error.
    pub fn ready(&self) -> bool {
        self.findings.iter().all(|f| f.severity != Severity::Error)
    }
}

fn finding(code: &'static str, severity: Severity, message: String, fix: String) -> Finding {
    Finding {
        code,
        severity,
        message,
        fix,
    }
}

impl Executor {
    /// The readiness of one policy (blocking: reads the store).
    pub fn policy_readiness(&self, id: PolicyId) -> Result<Readiness, StoreError> {
        let store = &self.inner.store;
        let policy = store.policy(id)?;
        let mut f = Vec::new();
        for why in store.policy_blockers(&policy)? {
            let code = if why.contains("no clients") {
                "no_clients"
            } else {
                "disabled"
            };
            f.push(finding(
                code,
                Severity::Error,
                why,
                format!("policies/{}", id.0),
            ));
        }
        let repo = store.repository(policy.repository)?;
        let clients: Vec<Client> = policy
            .clients
            .iter()
            .map(|c| store.client(*c))
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .filter(|c| c.enabled)
            .collect();
        let location = RepoLocation::parse(&repo.path);
        let remote_repo = matches!(location, Some(RepoLocation::Remote { .. }));
        let remote_copy = policy.copies.iter().any(|r| {
            store.repository(r.repository).is_ok_and(|c| {
                c.enabled
                    && matches!(
                        RepoLocation::parse(&c.path),
                        Some(RepoLocation::Remote { .. })
                    )
            })
        });
        let any_remote =
            remote_repo || remote_copy || clients.iter().any(|c| !is_local(&c.hostname));
        if any_remote && server_public_key(store).ok().flatten().is_none() {
            f.push(finding(
                "no_ssh_key",
                Severity::Error,
                "the server has no SSH key: generate or import one, then add its public key to \
                 authorized_keys on every client and repository host"
                    .into(),
                "settings/ssh".into(),
            ));
        }
        if let Some(RepoLocation::Remote { host, port, .. }) = &location {
            self.host_key_finding(&mut f, host, port.unwrap_or(22))?;
        }
        self.repository_findings(&mut f, &repo)?;
        // Copy repositories are checked like the primary (a disabled one is skipped by runs).
        for pc in &policy.copies {
            let copy = store.repository(pc.repository)?;
            if !copy.enabled {
                continue;
            }
            if let Some(RepoLocation::Remote { host, port, .. }) = RepoLocation::parse(&copy.path) {
                self.host_key_finding(&mut f, &host, port.unwrap_or(22))?;
            }
            self.repository_findings(&mut f, &copy)?;
        }
        for c in &clients {
            if !is_local(&c.hostname) {
                self.host_key_finding(&mut f, &c.hostname, c.port)?;
            }
            self.client_findings(&mut f, &policy, c)?;
        }
        Ok(Readiness {
            policy: id,
            findings: f,
        })
    }

    fn host_key_finding(
        &self,
        f: &mut Vec<Finding>,
        host: &str,
        port: u16,
    ) -> Result<(), StoreError> {
        if let Some(k) = self.inner.store.host_key(host, port)? {
            if let Some(p) = &k.pending {
                f.push(finding(
                    "host_key_changed",
                    Severity::Error,
                    format!(
                        "the SSH host key of {host}:{port} changed (pinned {}, now {}): jobs \
                         refuse it until an administrator accepts the new key",
                        k.fingerprint, p.fingerprint
                    ),
                    "hostkeys".into(),
                ));
            }
        }
        Ok(())
    }

    fn repository_findings(
        &self,
        f: &mut Vec<Finding>,
        repo: &Repository,
    ) -> Result<(), StoreError> {
        let fix = format!("repositories/{}", repo.id.0);
        if !repo.has_key {
            f.push(finding(
                "unencrypted",
                Severity::Warning,
                format!(
                    "repository {} has no passphrase: its archives are not encrypted",
                    repo.name
                ),
                fix.clone(),
            ));
        }
        if repo.ready {
            return Ok(());
        }
        let last =
            self.inner
                .store
                .last_finished_job(JobType::PrepareRepository, None, Some(repo.id))?;
        match last.filter(|j| j.status != JobStatus::Successful) {
            Some(j) => f.push(finding(
                "repository_preparation_failed",
                Severity::Error,
                format!(
                    "preparing repository {} failed (job #{}, {}): {}",
                    repo.name, j.id.0, j.status, j.job_explanation
                ),
                fix,
            )),
            None => f.push(finding(
                "repository_not_prepared",
                Severity::Warning,
                format!(
                    "repository {} is not prepared yet: it is initialised before the first backup",
                    repo.name
                ),
                fix,
            )),
        }
        Ok(())
    }

    fn client_findings(
        &self,
        f: &mut Vec<Finding>,
        p: &Policy,
        c: &Client,
    ) -> Result<(), StoreError> {
        let fix = format!("clients/{}", c.id.0);
        if c.ready {
            return Ok(());
        }
        let last = self
            .inner
            .store
            .last_finished_job(JobType::PrepareClient, Some(c.id), None)?;
        let how = if is_local(&c.hostname) {
            "on this server".to_string()
        } else {
            format!("over SSH as {}", backup_user(self))
        };
        match last.filter(|j| j.status != JobStatus::Successful) {
            Some(j) => f.push(finding(
                "client_preparation_failed",
                Severity::Error,
                format!(
                    "preparing client {} for {} failed (job #{}, {}): {}",
                    c.hostname, p.name, j.id.0, j.status, j.job_explanation
                ),
                fix,
            )),
            None => f.push(finding(
                "client_not_prepared",
                Severity::Warning,
                format!(
                    "client {} is not prepared yet: it is prepared ({how}) before the first \
                     backup; test its connection first",
                    c.hostname
                ),
                fix,
            )),
        }
        Ok(())
    }
}

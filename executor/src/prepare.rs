//! Preparation jobs: a repository is initialised (`borg init`) or verified with its passphrase;
//! a client's facts (borg version, IP, OS) are recorded, and borg is installed from the
//! distribution's packages when it is missing and the `install_borg` setting allows it. Both
//! (re)install the restricted `authorized_keys` lines of their (client, repository) credentials.

use crate::jobs::{last_line, log_for, repo_ctx};
use crate::manager::Executor;
use crate::runner::{run_error_outcome, run_logged, JobLog, Outcome, Stdout};
use crate::targets::{backup_user, client_transport};
use crate::transport::{RemoteCommand, Transport};
use crate::tryo;
use model::*;
use tokio_util::sync::CancellationToken;

/// Prints `borg --version` (or `borg missing`), the first IP and the OS name, one per line.
const FACTS: &str = r#"borg --version 2>/dev/null || echo "borg missing"
(hostname -I 2>/dev/null || hostname -i 2>/dev/null || echo) | head -n 1
if [ -r /etc/os-release ]; then . /etc/os-release; echo "${PRETTY_NAME:-$NAME}"; else uname -sr; fi"#;

/// Installs the borgbackup package with whichever package manager the host has.
const INSTALL: &str = r#"if command -v apt-get >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt="apt-get -o DPkg::Lock::Timeout=120 -y -q"
  $apt install borgbackup || { $apt update && $apt install borgbackup; }
elif command -v dnf >/dev/null 2>&1; then dnf install -y borgbackup
elif command -v yum >/dev/null 2>&1; then yum install -y borgbackup
elif command -v zypper >/dev/null 2>&1; then zypper --non-interactive install borgbackup
elif command -v apk >/dev/null 2>&1; then apk add borgbackup
elif command -v pacman >/dev/null 2>&1; then pacman -S --noconfirm borg
else echo "no known package manager (apt-get, dnf, yum, zypper, apk, pacman)" >&2; exit 4
fi"#;

/// What a client reported about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Facts {
    /// `None` when borg is missing.
    pub borg: Option<String>,
    pub ip: String,
    pub os: String,
}

pub(crate) fn parse_facts(stdout: &str) -> Facts {
    let mut lines = stdout.lines().map(str::trim);
    let borg = lines
        .next()
        .filter(|l| l.starts_with("borg ") && *l != "borg missing")
        .map(|l| l.trim_start_matches("borg ").to_string());
    let ip = lines
        .next()
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_default()
        .to_string();
    let os = lines.next().unwrap_or_default().to_string();
    Facts { borg, ip, os }
}

/// The `install_borg` setting (default `true`, as the original's preparation job did).
fn install_allowed(ex: &Executor) -> bool {
    ex.inner
        .store
        .get(&settings::INSTALL_BORG)
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e, "cannot read install_borg: installing");
            true
        })
}

async fn facts(
    log: &JobLog<'_>,
    t: &Transport,
    cancel: &CancellationToken,
) -> Result<Facts, Outcome> {
    let r = run_logged(
        log,
        t,
        &RemoteCommand::new(["sh", "-c", FACTS]),
        Stdout::Capture,
        cancel,
    )
    .await
    .map_err(run_error_outcome)?;
    if r.code != 0 {
        return Err(Outcome::failed(
            Some(r.code),
            format!(
                "cannot read the client's facts: {}",
                last_line(&r.stderr_head)
            ),
        ));
    }
    Ok(parse_facts(&r.stdout))
}

pub(crate) async fn prepare_client(
    ex: &Executor,
    job: &Job,
    cancel: &CancellationToken,
) -> Outcome {
    let store = &ex.inner.store;
    let client = tryo!(crate::jobs::job_client(ex, job));
    let log = log_for(ex, job, None);
    let t = tryo!(client_transport(ex, &client).map_err(Outcome::error));
    let mut f = tryo!(facts(&log, &t, cancel).await);
    if f.borg.is_none() {
        if !install_allowed(ex) {
            return Outcome::failed(
                None,
                format!(
                    "borg is not installed on {}: install the borgbackup package there, or set install_borg to true to let preparation install it",
                    client.hostname
                ),
            );
        }
        log.info(&format!(
            "borg is missing on {}: installing the borgbackup package",
            client.hostname
        ));
        let mut argv = vec!["sh".to_string(), "-c".to_string(), INSTALL.to_string()];
        if backup_user(ex) != "root" {
            argv.splice(0..0, ["sudo".to_string(), "-n".to_string()]);
        }
        let r = tryo!(
            run_logged(&log, &t, &RemoteCommand::new(argv), Stdout::Log, cancel)
                .await
                .map_err(run_error_outcome)
        );
        f = tryo!(facts(&log, &t, cancel).await);
        if r.code != 0 || f.borg.is_none() {
            return Outcome::failed(
                Some(r.code),
                format!(
                    "installing borgbackup on {} failed ({}): install it by hand",
                    client.hostname,
                    last_line(&r.stderr_head)
                ),
            );
        }
    }
    let version = f.borg.clone().unwrap_or_default();
    log.info(&format!(
        "borg {version} on {} ({}), {}",
        client.hostname, f.ip, f.os
    ));
    let facts = ClientFacts {
        ip: f.ip,
        version,
        os: f.os,
    };
    tryo!(store
        .record_client_facts(client.id, &facts)
        .map_err(|e| Outcome::error(e.to_string())));
    if let Err(e) = crate::credentials::install_for_client(ex, &client, &log).await {
        return Outcome::failed(
            None,
            format!("cannot authorize the client's repository keys: {e}"),
        );
    }
    Outcome::ok("client ready")
}

pub(crate) async fn prepare_repository(
    ex: &Executor,
    job: &Job,
    cancel: &CancellationToken,
) -> Outcome {
    let mut ctx = tryo!(repo_ctx(ex, job.repository));
    // Preparation records whatever repository is there (identity.rs): unencrypted only when
    // no passphrase is set.
    ctx.side.env.trust.unencrypted_ok = ctx.side.env.passphrase.is_none();
    let log = log_for(ex, job, Some(&ctx));
    let path = ctx.side.path.clone();
    let t = &ctx.side.transport;
    let env = &ctx.side.env;
    let info = tryo!(
        run_logged(&log, t, &env.info_repo(&path), Stdout::Capture, cancel)
            .await
            .map_err(run_error_outcome)
    );
    if info.code != 0 {
        let text = info.stderr_head.join("\n");
        let missing = text.contains("does not exist") || text.contains("is not a valid repository");
        if !missing {
            return Outcome::failed(
                Some(info.code),
                format!(
                    "repository {path} exists but cannot be opened: {}",
                    last_line(&info.stderr_head)
                ),
            );
        }
        if env.passphrase.is_none() {
            log.info("repository has no passphrase (repository_key): initialising it unencrypted (-e none)");
        }
        if let Some(parent) = std::path::Path::new(&path)
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
        {
            let mk = RemoteCommand::new(["mkdir", "-p", "--", &parent.display().to_string()]);
            let r = tryo!(run_logged(&log, t, &mk, Stdout::Log, cancel)
                .await
                .map_err(run_error_outcome));
            if r.code != 0 {
                return Outcome::failed(
                    Some(r.code),
                    format!("cannot create {}", parent.display()),
                );
            }
        }
        let init = tryo!(run_logged(&log, t, &env.init(&path), Stdout::Log, cancel)
            .await
            .map_err(run_error_outcome));
        if init.code != 0 {
            return Outcome::failed(
                Some(init.code),
                format!("borg init failed: {}", last_line(&init.stderr_head)),
            );
        }
    } else {
        log.info("repository exists and opens with the stored passphrase");
    }
    tryo!(crate::identity::record_at_preparation(ex, job, cancel).await);
    if let Err(e) = crate::credentials::install_for_repository(ex, &ctx.repo, &log).await {
        return Outcome::failed(
            None,
            format!("cannot authorize the clients' repository keys: {e}"),
        );
    }
    let ready = RepositoryInput {
        ready: Some(true),
        ..Default::default()
    };
    tryo!(ex
        .inner
        .store
        .update_repository(ctx.repo.id, &ready, None)
        .map_err(|e| Outcome::error(e.to_string())));
    Outcome::ok("repository ready")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_of_a_host_with_and_without_borg() {
        let f = parse_facts("borg 1.2.4\n10.0.0.5 172.17.0.1\nDebian GNU/Linux 12 (bookworm)\n");
        assert_eq!(f.borg.as_deref(), Some("1.2.4"));
        assert_eq!(f.ip, "10.0.0.5");
        assert_eq!(f.os, "Debian GNU/Linux 12 (bookworm)");
        let f = parse_facts("borg missing\n\nAlpine Linux v3.19\n");
        assert_eq!(f.borg, None);
        assert_eq!(f.ip, "");
        assert_eq!(f.os, "Alpine Linux v3.19");
    }
}

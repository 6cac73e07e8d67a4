//! Repository identity. Preparation records the repository's id and encryption mode; before
//! every job that touches the repository (and before a download) the server reads them again on
//! the repository's host under its own session (`borg list --json --last 1`, the manifest only)
//! and compares. A repository replaced by another, or turned unencrypted, fails the job before
//! any data is sent, with an explanation the alerts recognise (`IDENTITY_FAILED`).

use crate::borg::RepoTrust;
use crate::jobs::{last_line, log_for, repo_ctx};
use crate::manager::Executor;
use crate::runner::{run_error_outcome, run_logged, Outcome, Stdout};
use crate::targets::RepoSide;
use model::trust::IDENTITY_FAILED;
use model::*;
use tokio::io::AsyncReadExt;
use tokio_util::sync::CancellationToken;

/// The repository id and encryption mode from `borg list --json` or `borg info --json`.
pub(crate) fn parse_identity(stdout: &str) -> Result<RepositoryIdentity, String> {
    let v: serde_json::Value = serde_json::from_str(stdout.trim())
        .map_err(|e| format!("unexpected borg --json output: {e}"))?;
    let id = v["repository"]["id"]
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or("borg --json output lacks repository.id")?;
    let mode = v["encryption"]["mode"]
        .as_str()
        .ok_or("borg --json output lacks encryption.mode")?;
    Ok(RepositoryIdentity {
        borg_id: id.to_string(),
        encryption_mode: mode.to_string(),
    })
}

/// What borg found at the repository's path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seen {
    Repository(RepositoryIdentity),
    /// borg refused a repository that is unencrypted and unknown on that host.
    UnknownUnencrypted,
    /// No repository there.
    Missing,
    /// The stored passphrase does not open it.
    WrongKey,
}

/// The answers to borg's prompts for commands of a verified repository (see `RepoTrust`):
/// relocation is accepted because the id was compared, an unknown unencrypted repository only
/// when it was prepared unencrypted (or, not recorded yet, when no passphrase is set).
pub(crate) fn trust_for(security: &RepositorySecurity, has_passphrase: bool) -> RepoTrust {
    RepoTrust {
        relocated_ok: true,
        unencrypted_ok: if security.identity.is_recorded() {
            security.identity.is_unencrypted()
        } else {
            !has_passphrase
        },
    }
}

/// Classifies the result of `borg list --json --last 1`.
pub(crate) fn classify(code: i32, stdout: &str, stderr: &str) -> Result<Seen, String> {
    if code == 0 {
        return parse_identity(stdout).map(Seen::Repository);
    }
    if stderr.contains("previously unknown unencrypted repository") {
        Ok(Seen::UnknownUnencrypted)
    } else if stderr.contains("does not exist") || stderr.contains("is not a valid repository") {
        Ok(Seen::Missing)
    } else if stderr.contains("passphrase") && stderr.contains("incorrect") {
        Ok(Seen::WrongKey)
    } else {
        Err(stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no error output")
            .to_string())
    }
}

/// Compares what was seen with the record: `Ok(Some(..))` to record (first verification),
/// `Ok(None)` when it matches, `Err` with the explanation when it is not the same repository.
pub(crate) fn judge(
    recorded: &RepositoryIdentity,
    seen: &Seen,
    path: &str,
) -> Result<Option<RepositoryIdentity>, String> {
    let expected = if recorded.is_recorded() {
        format!(
            "borg id {}, encryption {}",
            recorded.borg_id, recorded.encryption_mode
        )
    } else {
        "the repository prepared there".to_string()
    };
    let refused = |what: String| {
        Err(format!(
            "{IDENTITY_FAILED}: {what} at {path}, not the repository prepared there ({expected}); \
             nothing was sent to it. If the change is intended, set the repository's ready flag \
             to false so that preparation records the new identity"
        ))
    };
    match seen {
        Seen::Repository(now) if !recorded.is_recorded() => Ok(Some(now.clone())),
        Seen::Repository(now) if now.borg_id != recorded.borg_id => refused(format!(
            "a different repository (borg id {}, encryption {}) is",
            now.borg_id, now.encryption_mode
        )),
        Seen::Repository(now) if now.encryption_mode != recorded.encryption_mode => {
            refused(format!(
                "the repository's encryption changed to {} (same id)",
                now.encryption_mode
            ))
        }
        Seen::Repository(_) => Ok(None),
        Seen::UnknownUnencrypted => refused(
            "an unencrypted repository unknown to borg (it refused to open it) is".to_string(),
        ),
        Seen::Missing => refused("no repository is".to_string()),
        Seen::WrongKey => refused(
            "a repository the stored passphrase does not open (a different key) is".to_string(),
        ),
    }
}

/// Verifies the repository of a job before it runs; jobs without a repository pass.
pub(crate) async fn verify_job(
    ex: &Executor,
    job: &Job,
    cancel: &CancellationToken,
) -> Result<(), Outcome> {
    let touches = matches!(
        job.job_type,
        JobType::Job
            | JobType::Catalog
            | JobType::Prune
            | JobType::Check
            | JobType::RestoreTest
            | JobType::Restore
    );
    if !touches || job.repository.is_none() {
        return Ok(());
    }
    let ctx = repo_ctx(ex, job.repository)?;
    let log = log_for(ex, job, Some(&ctx));
    let recorded = ex
        .inner
        .store
        .repository_security(ctx.repo.id)
        .map_err(|e| Outcome::error(e.to_string()))?
        .identity;
    let r = run_logged(
        &log,
        &ctx.side.transport,
        &ctx.side.env.identity(&ctx.side.path),
        Stdout::Capture,
        cancel,
    )
    .await
    .map_err(run_error_outcome)?;
    let seen = classify(r.code, &r.stdout, &r.stderr_head.join("\n")).map_err(|why| {
        Outcome::failed(
            Some(r.code),
            format!("cannot verify the repository's identity: {why}"),
        )
    })?;
    match judge(&recorded, &seen, &ctx.side.path) {
        Ok(None) => {
            log.info(&format!(
                "repository identity verified: borg id {}, encryption {}",
                recorded.borg_id, recorded.encryption_mode
            ));
            Ok(())
        }
        Ok(Some(first)) => {
            log.info(&format!(
                "repository identity recorded (first verification): borg id {}, encryption {}",
                first.borg_id, first.encryption_mode
            ));
            ex.inner
                .store
                .record_repository_identity(ctx.repo.id, &first)
                .map_err(|e| Outcome::error(e.to_string()))
        }
        Err(why) => {
            log.info(&why);
            Err(Outcome::failed(Some(r.code), why))
        }
    }
}

/// Verifies a repository outside a job (downloads): the same check, without a job log.
pub(crate) async fn verify_side(
    ex: &Executor,
    repo: RepositoryId,
    side: &RepoSide,
) -> Result<(), String> {
    let recorded = ex
        .inner
        .store
        .repository_security(repo)
        .map_err(|e| e.to_string())?
        .identity;
    let cmd = side.env.identity(&side.path);
    let mut p = side
        .transport
        .spawn(&cmd)
        .await
        .map_err(|e| e.to_string())?;
    let (mut out, mut err) = (String::new(), String::new());
    let mut so = std::mem::replace(&mut p.stdout, Box::pin(tokio::io::empty()));
    let mut se = std::mem::replace(&mut p.stderr, Box::pin(tokio::io::empty()));
    let _ = tokio::join!(so.read_to_string(&mut out), se.read_to_string(&mut err));
    let code = p.wait().await.map_err(|e| e.to_string())?;
    let seen = classify(code, &out, &err)
        .map_err(|why| format!("cannot verify the repository's identity: {why}"))?;
    match judge(&recorded, &seen, &side.path)? {
        None => Ok(()),
        Some(first) => ex
            .inner
            .store
            .record_repository_identity(repo, &first)
            .map_err(|e| e.to_string()),
    }
}

/// The identity of a repository preparation just opened or created (`borg info --json`).
pub(crate) async fn record_at_preparation(
    ex: &Executor,
    job: &Job,
    cancel: &CancellationToken,
) -> Result<RepositoryIdentity, Outcome> {
    let mut ctx = repo_ctx(ex, job.repository)?;
    ctx.side.env.trust.unencrypted_ok = ctx.side.env.passphrase.is_none();
    let log = log_for(ex, job, Some(&ctx));
    let r = run_logged(
        &log,
        &ctx.side.transport,
        &ctx.side.env.identity(&ctx.side.path),
        Stdout::Capture,
        cancel,
    )
    .await
    .map_err(run_error_outcome)?;
    if r.code != 0 {
        return Err(Outcome::failed(
            Some(r.code),
            format!(
                "cannot read the repository's identity: {}",
                last_line(&r.stderr_head)
            ),
        ));
    }
    let id = parse_identity(&r.stdout).map_err(|e| Outcome::failed(None, e))?;
    // A prepared repository keeps its identity: preparing it again (the Prepare button) is no
    // way to accept a replacement; setting `ready` to false is.
    if ctx.repo.ready {
        let recorded = ex
            .inner
            .store
            .repository_security(ctx.repo.id)
            .map_err(|e| Outcome::error(e.to_string()))?
            .identity;
        judge(&recorded, &Seen::Repository(id.clone()), &ctx.side.path)
            .map_err(|why| Outcome::failed(None, why))?;
    }
    if ctx.side.env.passphrase.is_some() && id.is_unencrypted() {
        return Err(Outcome::failed(
            None,
            format!(
                "{IDENTITY_FAILED}: the repository at {} is not encrypted (mode {}) although a passphrase is set: \
                 refusing to send backups to it in clear",
                ctx.side.path, id.encryption_mode
            ),
        ));
    }
    ex.inner
        .store
        .record_repository_identity(ctx.repo.id, &id)
        .map_err(|e| Outcome::error(e.to_string()))?;
    log.info(&format!(
        "repository identity recorded: borg id {}, encryption {}",
        id.borg_id, id.encryption_mode
    ));
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::RemoteCommand;

    #[test]
    fn identity_prompts_are_answered_no_unless_verified() {
        let mut env = crate::borg::BorgEnv {
            base_dir: None,
            passphrase: None,
            trust: RepoTrust::default(),
        };
        let get = |c: &RemoteCommand, k: &str| {
            c.env
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let c = env.list_archives("/r");
        assert_eq!(get(&c, "BORG_RELOCATED_REPO_ACCESS_IS_OK"), "no");
        assert_eq!(get(&c, "BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK"), "no");
        env.trust = RepoTrust {
            relocated_ok: true,
            unencrypted_ok: false,
        };
        let c = env.identity("/r");
        assert_eq!(get(&c, "BORG_RELOCATED_REPO_ACCESS_IS_OK"), "yes");
        assert_eq!(get(&c, "BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK"), "no");
        assert_eq!(
            c.argv[1..],
            ["list", "--lock-wait", "120", "--json", "--last", "1", "/r"]
        );
    }

    #[test]
    fn parses_identity() {
        let out = r#"{"archives": [], "encryption": {"mode": "repokey"},
          "repository": {"id": "0a1b", "last_modified": "x", "location": "/r"}}"#;
        let i = parse_identity(out).unwrap();
        assert_eq!(
            (i.borg_id.as_str(), i.encryption_mode.as_str()),
            ("0a1b", "repokey")
        );
        assert!(parse_identity("{}").is_err());
    }

    fn id(borg_id: &str, mode: &str) -> RepositoryIdentity {
        RepositoryIdentity {
            borg_id: borg_id.into(),
            encryption_mode: mode.into(),
        }
    }

    #[test]
    fn a_replaced_or_unencrypted_repository_is_refused() {
        let rec = id("aa", "repokey");
        assert_eq!(
            judge(&rec, &Seen::Repository(id("aa", "repokey")), "/r"),
            Ok(None)
        );
        for seen in [
            Seen::Repository(id("bb", "none")),
            Seen::Repository(id("aa", "none")),
            Seen::UnknownUnencrypted,
            Seen::Missing,
            Seen::WrongKey,
        ] {
            let why = judge(&rec, &seen, "/r").unwrap_err();
            assert!(
                why.starts_with(IDENTITY_FAILED) && why.contains("/r") && why.contains("aa"),
                "{why}"
            );
        }
        let first = judge(
            &RepositoryIdentity::default(),
            &Seen::Repository(rec.clone()),
            "/r",
        );
        assert_eq!(first, Ok(Some(rec)));
    }

    #[test]
    fn borg_refusals_are_classified() {
        let unenc = "Warning: Attempting to access a previously unknown unencrypted repository!\nDo you want to continue? [yN] no\nAborting.";
        assert_eq!(classify(2, "", unenc), Ok(Seen::UnknownUnencrypted));
        assert_eq!(
            classify(2, "", "Repository /x does not exist."),
            Ok(Seen::Missing)
        );
        assert!(classify(2, "", "Failed to create/acquire the lock").is_err());
    }

    #[test]
    fn trust_follows_the_record() {
        let mut s = RepositorySecurity {
            repository: RepositoryId(1),
            identity: id("aa", "repokey"),
            tamper: TamperState::Clean,
            tampered_archives: vec![],
            tampered_at: None,
            tamper_cleared_at: None,
            tamper_cleared_by: None,
            last_good_transaction: None,
            last_good_at: None,
        };
        assert!(!trust_for(&s, true).unencrypted_ok);
        s.identity = id("aa", "none");
        assert!(trust_for(&s, false).unencrypted_ok);
        s.identity = RepositoryIdentity::default();
        assert!(trust_for(&s, false).unencrypted_ok && !trust_for(&s, true).unencrypted_ok);
        assert!(trust_for(&s, true).relocated_ok);
    }
}

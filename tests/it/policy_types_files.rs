//! rootfs on a small root (the big trees excluded through `extra_vars.exclude`) never holds the
//! pseudo file systems; mail backs up /var/mail.

use crate::support;

use anyhow::Result;
use serde_json::json;
use support::*;

const PASS: &str = "files passphrase";

#[tokio::test(flavor = "multi_thread")]
async fn rootfs_excludes_pseudo_file_systems_and_extra_excludes() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;
    // Keep the archive small: everything big on this machine is excluded by the policy itself.
    let big = [
        "/usr",
        "/var",
        "/root",
        "/work",
        "/home",
        "/opt",
        "/srv",
        "/boot",
        "/farm",
        "/old_root",
        "/nix",
        "/snap",
    ];
    let (policy, repo) = local_typed_policy(
        &s,
        &token,
        "rootfs",
        &json!({ "exclude": big }).to_string(),
        PASS,
    )
    .await?;
    let job = backup_job(&s, &token, policy).await?;
    assert_eq!(
        job["status"],
        "successful",
        "{}",
        s.job_log(&token, job["id"].as_i64().unwrap_or(0)).await?
    );
    let archive = job["archiveName"].as_str().unwrap_or_default();
    assert!(archive.starts_with("rootfs-localhost-"), "{archive}");
    let paths = borg_paths(PASS, &repo, archive)?;
    assert!(
        paths.iter().any(|p| p == "etc/hostname"),
        "/etc is part of the root file system"
    );
    let excluded = [
        "proc",
        "sys",
        "dev",
        "run",
        "tmp",
        "mnt",
        "media",
        "lost+found",
    ];
    for top in excluded.iter().copied().chain(big.iter().map(|b| &b[1..])) {
        let hit = paths
            .iter()
            .find(|p| *p == top || p.starts_with(&format!("{top}/")));
        assert!(hit.is_none(), "{hit:?} should be excluded");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn mail_backs_up_var_mail() -> Result<()> {
    std::fs::create_dir_all("/var/mail")?;
    let mbox = "/var/mail/testuser";
    let content =
        "From cyborg@example.org Thu Nov 27 10:00:00 2026\nSubject: kept\n\nbacked up mail\n";
    std::fs::write(mbox, content)?;
    let s = Server::start()?;
    let token = s.login().await?;
    let (policy, repo) = local_typed_policy(&s, &token, "mail", "", PASS).await?;
    let job = backup_job(&s, &token, policy).await?;
    assert_eq!(
        job["status"],
        "successful",
        "{}",
        s.job_log(&token, job["id"].as_i64().unwrap_or(0)).await?
    );
    let archive = job["archiveName"].as_str().unwrap_or_default();
    assert!(archive.starts_with("mail-localhost-"), "{archive}");
    let paths = borg_paths(PASS, &repo, archive)?;
    assert!(paths.iter().any(|p| p == "var/mail/testuser"), "{paths:?}");
    assert!(
        paths.iter().all(|p| p.starts_with("var/mail")
            || p.starts_with("var/lib/mail")
            || p == "var"
            || p == "var/lib"),
        "{paths:?}"
    );
    let out = borg(
        PASS,
        &[
            "extract",
            "--stdout",
            &format!("{repo}::{archive}"),
            "var/mail/testuser",
        ],
    )?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), content);
    Ok(())
}

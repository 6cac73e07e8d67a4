//! Per-(client, repository) SSH credentials over the loopback sshd hosts, with real borg: the
//! line the server installs on the repository host, what a client's key can do by hand (append
//! to its own repository, nothing else), one line per client of a shared repository for a
//! non-root backup user, lines removed when a client leaves the policy or is deleted, and a
//! restore into a client outside the policy getting a key for that job only.

mod support;

use anyhow::{Context, Result};
use serde_json::json;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;
use support::*;

const PASS: &str = "credential test passphrase";

/// `~user/.ssh/authorized_keys` on the repository host (see scripts/test-hosts.sh).
fn authorized_keys(hosts: &hosts::TestHosts, user: &str) -> String {
    let dir = match user {
        "root" => "ssh-root",
        _ => "home-cyborg/.ssh",
    };
    std::fs::read_to_string(
        hosts
            .dir
            .path()
            .join("repo")
            .join(dir)
            .join("authorized_keys"),
    )
    .unwrap_or_default()
}

/// Waits until `cond` holds on the repository host's `authorized_keys` of `user`.
async fn wait_keys(
    hosts: &hosts::TestHosts,
    user: &str,
    what: &str,
    cond: impl Fn(&str) -> bool,
) -> Result<String> {
    for _ in 0..240 {
        let text = authorized_keys(hosts, user);
        if cond(&text) {
            return Ok(text);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    anyhow::bail!("{what}: {}", authorized_keys(hosts, user))
}

/// `ssh` with only `key`, verifying the hosts against the test hosts' known_hosts.
fn ssh_with(key: &Path, hosts: &hosts::TestHosts) -> String {
    format!(
        "ssh -F /dev/null -oBatchMode=yes -oIdentitiesOnly=yes -oIdentityAgent=none -i {} -oUserKnownHostsFile={}",
        key.display(),
        hosts.known_hosts().display()
    )
}

fn borg_with(rsh: &str, args: &[&str]) -> Result<Output> {
    let base = tempfile::tempdir()?;
    Ok(Command::new("borg")
        .args(args)
        .env("BORG_RSH", rsh)
        .env("BORG_PASSPHRASE", PASS)
        .env("BORG_BASE_DIR", base.path())
        .env("BORG_RELOCATED_REPO_ACCESS_IS_OK", "yes")
        .env("BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK", "yes")
        .env_remove("SSH_AUTH_SOCK")
        .output()?)
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_clients_key_appends_to_its_repository_and_reaches_nothing_else() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;
    let hosts = ssh_hosts(&s, &token).await?;
    let port = hosts.port;
    let dir = tempfile::tempdir()?;
    let src = dir.path().join("src");
    std::fs::create_dir(&src)?;
    std::fs::write(src.join("f.txt"), "by hand\n")?;
    let repo_a = format!("{}/a", dir.path().display());
    let repo_b = format!("{}/b", dir.path().display());
    let init = borg(PASS, &["init", "-e", "repokey", &repo_b])?;
    anyhow::ensure!(init.status.success(), "{}", text(&init));
    let web1 = ssh_client(&s, &token, "web1", port).await?;
    let repo = create_repository(
        &s,
        &token,
        "a",
        &format!("ssh://root@repo:{port}{repo_a}"),
        PASS,
    )
    .await?;
    let spec = PolicySpec {
        name: "a",
        policy_type: "folders",
        clients: vec![web1],
        repository: repo,
        schedule: create_schedule(&s, &token, "n").await?,
        extra_vars: json!({"folders": [src]}),
        ..Default::default()
    };
    let policy = create_policy(&s, &token, &spec).await?;
    let job = launch_backup(&s, &token, policy).await?;
    s.wait_job_ok(&token, job, Duration::from_secs(300)).await?;

    // The line on the repository host, exactly.
    let store = store::Store::open(s.data_dir.path())?;
    let pair = store
        .repository_credential(model::ClientId(web1), model::RepositoryId(repo))?
        .context("no credential")?;
    let keys = authorized_keys(&hosts, "root");
    let expected = format!(
        "command=\"borg serve --restrict-to-repository '{repo_a}' --append-only\",restrict {} cyborg:web1:{repo}",
        pair.public_key
    );
    assert!(
        keys.lines().any(|l| l == expected),
        "{keys}\nexpected {expected}"
    );
    let file = hosts.dir.path().join("repo/ssh-root/authorized_keys");
    assert_eq!(
        std::fs::metadata(&file)?.permissions().mode() & 0o777,
        0o600
    );
    // Not installed on the clients.
    for h in ["web1", "web2"] {
        let p = hosts.dir.path().join(h).join("ssh-root/authorized_keys");
        assert!(!std::fs::read_to_string(p)
            .unwrap_or_default()
            .contains(&pair.public_key));
    }

    // The key, by hand (this process stands in for root on web1: same machine).
    let pem = store
        .repository_credential_key(model::ClientId(web1), model::RepositoryId(repo))?
        .context("no private key")?;
    let key = dir.path().join("web1.key");
    std::fs::write(&key, pem.expose())?;
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600))?;
    let rsh = ssh_with(&key, &hosts);
    let url = |path: &str| format!("ssh://root@127.0.0.10:{port}{path}");

    // It appends to its own repository…
    let made = borg_with(
        &rsh,
        &[
            "create",
            &format!("{}::by-hand", url(&repo_a)),
            src.to_str().context("src")?,
        ],
    )?;
    assert!(made.status.success(), "{}", text(&made));
    let list = borg(PASS, &["list", "--short", &repo_a])?;
    assert!(text(&list).contains("by-hand"), "{}", text(&list));
    // …but opens no shell anywhere, as root or as cyborg.
    for target in [
        "root@127.0.0.10",
        "cyborg@127.0.0.10",
        "root@127.0.0.11",
        "root@127.0.0.12",
    ] {
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "{rsh} -p {port} {target} 'echo SHELL_OK' </dev/null"
            ))
            .output()?;
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains("SHELL_OK"),
            "{target}: {}",
            text(&out)
        );
    }
    // Another repository path, an existing one or a new one, is refused.
    let other = borg_with(&rsh, &["list", &url(&repo_b)])?;
    assert!(!other.status.success(), "{}", text(&other));
    assert!(text(&other).contains("not allowed"), "{}", text(&other));
    let fresh = format!("{}/c", dir.path().display());
    let init = borg_with(&rsh, &["init", "-e", "repokey", &url(&fresh)])?;
    assert!(!init.status.success(), "{}", text(&init));
    assert!(!Path::new(&fresh).exists());
    // Deleting the repository through the key is refused by append-only mode.
    let del = Command::new("borg")
        .args(["delete", &url(&repo_a)])
        .env("BORG_RSH", &rsh)
        .env("BORG_PASSPHRASE", PASS)
        .env("BORG_DELETE_I_KNOW_WHAT_I_AM_DOING", "YES")
        .env("BORG_RELOCATED_REPO_ACCESS_IS_OK", "yes")
        .output()?;
    assert!(!del.status.success(), "{}", text(&del));
    assert!(Path::new(&repo_a).join("config").exists());
    Ok(())
}

const RESTORE: &str = "mutation($i: RestoreInput!) { restore(input: $i) { id } }";

#[tokio::test(flavor = "multi_thread")]
async fn lines_follow_policy_membership_for_a_shared_repository_and_a_non_root_user() -> Result<()>
{
    let s = Server::start()?;
    let token = s.login().await?;
    let hosts = ssh_hosts(&s, &token).await?;
    let port = hosts.port;
    s.ok(
        &token,
        r#"mutation { updateSetting(key: "backup_user", value: "cyborg") { key } }"#,
        json!({}),
    )
    .await?;
    let dir = tempfile::tempdir()?;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777))?;
    let src = dir.path().join("src");
    std::fs::create_dir(&src)?;
    std::fs::write(src.join("shared.txt"), "shared repository\n")?;
    let path = format!("{}/shared", dir.path().display());
    // No user in the location: the repository host is reached as the backup user.
    let repo = create_repository(
        &s,
        &token,
        "shared",
        &format!("ssh://repo:{port}{path}"),
        PASS,
    )
    .await?;
    let web1 = ssh_client(&s, &token, "web1", port).await?;
    let web2 = ssh_client(&s, &token, "web2", port).await?;
    let schedule = create_schedule(&s, &token, "n").await?;
    let spec = PolicySpec {
        name: "shared",
        policy_type: "folders",
        clients: vec![web1, web2],
        repository: repo,
        schedule,
        extra_vars: json!({"folders": [src]}),
        ..Default::default()
    };
    let policy = create_policy(&s, &token, &spec).await?;
    launch(&s, &token, policy).await?;
    for j in s.wait_jobs(&token, Duration::from_secs(300)).await? {
        assert_eq!(
            j["status"],
            "successful",
            "{j}\n{}",
            s.job_log(&token, j["id"].as_i64().unwrap_or(0)).await?
        );
    }
    let tag1 = format!(" cyborg:web1:{repo}");
    let tag2 = format!(" cyborg:web2:{repo}");
    let keys = authorized_keys(&hosts, "cyborg");
    let forced =
        format!("command=\"borg serve --restrict-to-repository '{path}' --append-only\",restrict ");
    for tag in [&tag1, &tag2] {
        let n = keys
            .lines()
            .filter(|l| l.starts_with(&forced) && l.ends_with(tag.as_str()))
            .count();
        assert_eq!(n, 1, "one line for{tag}:\n{keys}");
    }
    assert!(!authorized_keys(&hosts, "root").contains("cyborg:web"));

    // web2 leaves the policy: its line goes, web1's stays.
    s.ok(
        &token,
        "mutation($id: Int!, $c: [Int!]!) { updatePolicy(id: $id, input: {clients: $c}) { id } }",
        json!({"id": policy, "c": [web1]}),
    )
    .await?;
    let keys = wait_keys(&hosts, "cyborg", "web2's line was not removed", |k| {
        !k.contains(&tag2)
    })
    .await?;
    assert!(keys.contains(&tag1), "{keys}");

    // A restore of web1's archive into web2, now outside the policy: a key for that job only.
    let d = s
        .ok(
            &token,
            "query($p: Int!, $c: Int!) { archives(policy: $p, client: $c, first: 1) { nodes { id } } }",
            json!({"p": policy, "c": web1}),
        )
        .await?;
    let archive = d["archives"]["nodes"][0]["id"]
        .as_i64()
        .context("archive")?;
    let target = tempfile::tempdir()?;
    let r = s
        .ok(
            &token,
            RESTORE,
            json!({"i": {"archive": archive, "paths": [src.join("shared.txt")], "client": web2, "targetDirectory": target.path()}}),
        )
        .await?;
    let id = r["restore"]["id"].as_i64().context("restore job")?;
    s.wait_job_ok(&token, id, Duration::from_secs(300)).await?;
    let restored = target
        .path()
        .join(src.join("shared.txt").strip_prefix("/")?);
    assert_eq!(std::fs::read_to_string(restored)?, "shared repository\n");
    wait_keys(&hosts, "cyborg", "the one-job line stayed", |k| {
        !k.contains("cyborg-job:")
    })
    .await?;
    assert!(!authorized_keys(&hosts, "cyborg").contains(&tag2));

    // web1 deleted: its line goes too.
    s.ok(
        &token,
        "mutation($id: Int!) { deleteClient(id: $id) }",
        json!({"id": web1}),
    )
    .await?;
    wait_keys(&hosts, "cyborg", "web1's line was not removed", |k| {
        !k.contains(&tag1)
    })
    .await?;
    Ok(())
}

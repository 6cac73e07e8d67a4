//! Restore end to end with real borg over the loopback sshd hosts: a folder of web1 is backed
//! up to the repository host, then restored under a target directory, in place (refusing to
//! overwrite, then overwriting), to another client (web2), as a dry run, relaunched, and
//! downloaded through the server (a file's bytes, a directory's tar, single-use tickets); the
//! REST route takes the original's payload; bad input gets field errors; a download from a
//! repository that is not the one prepared is refused before borg reads it.

#[path = "restore/download_cut.rs"]
mod download_cut;
use crate::fixture;
use crate::support;

use anyhow::{Context, Result};
use fixture::*;
use serde_json::json;
use support::*;

#[tokio::test(flavor = "multi_thread")]
async fn restore_jobs_to_the_same_and_another_client() -> Result<()> {
    let f = fixture(false).await?;
    let (s, token) = (&f.s, f.token.as_str());
    let secret = f.secret();
    let secret_str = secret.display().to_string();

    // 1. A file to its own host, under a target directory: bytes and mode as backed up.
    let t1 = tempfile::tempdir()?;
    let (id, job) = restore(
        s,
        token,
        json!({"archive": f.archive, "paths": [secret_str], "targetDirectory": t1.path()}),
    )
    .await?;
    assert_eq!(
        job["status"],
        "successful",
        "{job}\n{}",
        s.job_log(token, id).await?
    );
    let restored = under(t1.path(), &secret);
    assert_eq!(std::fs::read_to_string(&restored)?, SECRET_CONTENT);
    assert_eq!(mode(&restored)?, 0o640);
    let log = s.job_log(token, id).await?;
    assert!(log.contains("borg extract"), "{log}");
    assert!(log.contains("restored 1 entry (1 file, 30 B)"), "{log}");
    assert!(!log.contains(PASSPHRASE), "{log}");

    // 2. In place after the file was deleted.
    std::fs::remove_file(&secret)?;
    let (id, job) = restore(
        s,
        token,
        json!({"archive": f.archive, "paths": [secret_str]}),
    )
    .await?;
    assert_eq!(
        job["status"],
        "successful",
        "{job}\n{}",
        s.job_log(token, id).await?
    );
    assert_eq!(std::fs::read_to_string(&secret)?, SECRET_CONTENT);
    assert_eq!(mode(&secret)?, 0o640);

    // 3. Again without overwrite: refused, naming the file; the file is untouched.
    std::fs::write(&secret, "changed since the backup\n")?;
    let (_, job) = restore(
        s,
        token,
        json!({"archive": f.archive, "paths": [secret_str]}),
    )
    .await?;
    assert_eq!(job["status"], "failed", "{job}");
    let why = job["jobExplanation"].as_str().unwrap_or_default();
    assert!(
        why.contains(&secret_str) && why.contains("set overwrite to replace them"),
        "{why}"
    );
    assert_eq!(
        std::fs::read_to_string(&secret)?,
        "changed since the backup\n"
    );

    // 4. With overwrite: replaced.
    let (id, job) = restore(
        s,
        token,
        json!({"archive": f.archive, "paths": [secret_str], "overwrite": true}),
    )
    .await?;
    assert_eq!(
        job["status"],
        "successful",
        "{job}\n{}",
        s.job_log(token, id).await?
    );
    assert_eq!(std::fs::read_to_string(&secret)?, SECRET_CONTENT);

    // 5. The whole folder to another client (web2).
    let t2 = tempfile::tempdir()?;
    let (id, job) = restore(
        s,
        token,
        json!({"archive": f.archive, "paths": [f.src.path()], "client": f.web2, "targetDirectory": t2.path()}),
    )
    .await?;
    assert_eq!(
        job["status"],
        "successful",
        "{job}\n{}",
        s.job_log(token, id).await?
    );
    let log = s.job_log(token, id).await?;
    assert!(log.contains("to web2:"), "{log}");
    assert_eq!(
        std::fs::read_to_string(under(t2.path(), &secret))?,
        SECRET_CONTENT
    );
    assert_eq!(mode(&under(t2.path(), &secret))?, 0o640);
    assert_eq!(
        std::fs::read_to_string(under(t2.path(), &f.nested()))?,
        "nested file\n"
    );

    // 6. A dry run writes nothing and lists the files in the job log.
    let t3 = tempfile::tempdir()?;
    let target3 = t3.path().join("not-created");
    let (dry_id, job) = restore(
        s,
        token,
        json!({"archive": f.archive, "paths": [f.src.path()], "client": f.web1, "targetDirectory": target3, "dryRun": true}),
    )
    .await?;
    assert_eq!(
        job["status"],
        "successful",
        "{job}\n{}",
        s.job_log(token, dry_id).await?
    );
    assert!(!target3.exists(), "a dry run created {}", target3.display());
    let log = s.job_log(token, dry_id).await?;
    let rel_nested = f.nested().display().to_string();
    assert!(
        log.contains(rel_nested.trim_start_matches('/')) && log.contains("--dry-run"),
        "{log}"
    );
    assert!(log.contains("dry run: 4 entries (2 files"), "{log}");

    // 7. Relaunch repeats the restore with the same parameters.
    let d = s
        .ok(
            token,
            "mutation($id: Int!) { relaunchJob(id: $id) { id jobType } }",
            json!({"id": dry_id}),
        )
        .await?;
    assert_eq!(d["relaunchJob"]["jobType"], "restore", "{d}");
    let again = d["relaunchJob"]["id"].as_i64().context("relaunched id")?;
    let job = wait_finished(s, token, again).await?;
    assert_eq!(job["status"], "successful", "{job}");
    assert!(s.job_log(token, again).await?.contains("--dry-run"));
    assert!(!target3.exists());

    // 8. A path the archive does not hold fails before borg extract runs.
    let (_, job) = restore(
        s,
        token,
        json!({"archive": f.archive, "paths": ["/no/such/file"], "targetDirectory": t1.path()}),
    )
    .await?;
    assert_eq!(job["status"], "failed", "{job}");
    assert!(
        job["jobExplanation"]
            .as_str()
            .unwrap_or_default()
            .contains("/no/such/file"),
        "{job}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn downloads_rest_roles_and_validation() -> Result<()> {
    let f = fixture(false).await?;
    let (s, token) = (&f.s, f.token.as_str());
    let secret = f.secret().display().to_string();

    // A single file: its bytes, as an attachment.
    let d = s
        .ok(token, DOWNLOAD, json!({"a": f.archive, "p": [secret]}))
        .await?;
    let t = &d["restoreDownload"];
    assert_eq!(t["filename"], "secret.conf", "{d}");
    assert!(t["expiresAt"].is_string(), "{d}");
    let url = format!("{}{}", s.url, t["url"].as_str().context("url")?);
    let (status, h, body) = get(&url).await?;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(h["content-type"], "application/octet-stream");
    assert!(h["content-disposition"]
        .to_str()?
        .starts_with("attachment; filename=\"secret.conf\""));
    assert_eq!(body, SECRET_CONTENT.as_bytes());
    // Used once: refused after.
    let (status, _, _) = get(&url).await?;
    assert_eq!(status, 410);

    // A directory: a valid tar holding both files.
    let d = s
        .ok(
            token,
            DOWNLOAD,
            json!({"a": f.archive, "p": [f.src.path()]}),
        )
        .await?;
    let t = &d["restoreDownload"];
    assert!(
        t["filename"].as_str().unwrap_or_default().ends_with(".tar"),
        "{d}"
    );
    let (status, h, body) = get(&format!(
        "{}{}",
        s.url,
        t["url"].as_str().unwrap_or_default()
    ))
    .await?;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(h["content-type"], "application/x-tar");
    let out = tempfile::tempdir()?;
    let tar_path = out.path().join("d.tar");
    std::fs::write(&tar_path, &body)?;
    let x = std::process::Command::new("tar")
        .arg("-xf")
        .arg(&tar_path)
        .arg("-C")
        .arg(out.path())
        .output()?;
    assert!(x.status.success(), "{}", String::from_utf8_lossy(&x.stderr));
    assert_eq!(
        std::fs::read_to_string(under(out.path(), &f.secret()))?,
        SECRET_CONTENT
    );
    assert_eq!(
        std::fs::read_to_string(under(out.path(), &f.nested()))?,
        "nested file\n"
    );

    // Unknown tickets and anonymous callers.
    let (status, _, _) = get(&format!("{}/download/{}", s.url, "ab".repeat(32))).await?;
    assert_eq!(status, 404);
    let (status, _, _) = get(&format!("{}/download/nonsense", s.url)).await?;
    assert_eq!(status, 404);
    let g = s
        .gql(None, DOWNLOAD, json!({"a": f.archive, "p": [secret]}))
        .await?;
    assert_eq!(g.error_code(), Some("UNAUTHENTICATED"), "{}", g.0);
    let g = s
        .gql(
            None,
            RESTORE,
            json!({"i": {"archive": f.archive, "paths": [secret]}}),
        )
        .await?;
    assert_eq!(g.error_code(), Some("UNAUTHENTICATED"), "{}", g.0);
    let g = s
        .gql(
            Some(token),
            DOWNLOAD,
            json!({"a": f.archive, "p": ["/not/in/archive"]}),
        )
        .await?;
    assert_eq!(g.error_field(), Some("paths"), "{}", g.0);

    // Validation: field-level errors.
    for (input, field) in [
        (
            json!({"archive": f.archive, "paths": ["relative/path"]}),
            "paths",
        ),
        (
            json!({"archive": f.archive, "paths": ["/a/../etc/shadow"]}),
            "paths",
        ),
        (json!({"archive": f.archive, "paths": []}), "paths"),
        (json!({"archive": 999_999, "paths": [secret]}), "archive"),
        (
            json!({"archive": f.archive, "paths": [secret], "targetDirectory": "tmp"}),
            "target_directory",
        ),
        (
            json!({"archive": f.archive, "paths": [secret], "client": 999_999}),
            "client",
        ),
    ] {
        let g = s.gql(Some(token), RESTORE, json!({ "i": input })).await?;
        assert_eq!(g.error_code(), Some("VALIDATION"), "{input}: {}", g.0);
        assert_eq!(g.error_field(), Some(field), "{input}: {}", g.0);
    }

    // An operator granted web1 and web2 with restore may restore and download.
    s.ok(token, r#"mutation($c: Int!, $d: Int!) { createUser(input: {email: "operator@cyborg.local", password: "operator password", role: OPERATOR, grants: [{client: $c, restore: true}, {client: $d, restore: true}]}) { id } }"#, json!({"c": f.web1, "d": f.web2})).await?;
    let op = s
        .ok(token, r#"mutation { login(email: "operator@cyborg.local", password: "operator password") { token } }"#, json!({}))
        .await?["login"]["token"]
        .as_str()
        .context("operator token")?
        .to_string();
    let t4 = tempfile::tempdir()?;
    let (_, job) = restore(
        s,
        &op,
        json!({"archive": f.archive, "paths": [secret], "targetDirectory": t4.path()}),
    )
    .await?;
    assert_eq!(job["status"], "successful", "{job}");
    // Another user's ticket is refused to them, then still works for its owner's browser link.
    let d = s
        .ok(&op, DOWNLOAD, json!({"a": f.archive, "p": [secret]}))
        .await?;
    let url = format!(
        "{}{}",
        s.url,
        d["restoreDownload"]["url"].as_str().unwrap_or_default()
    );
    let (status, _, _) = s
        .rest_full(
            "GET",
            url.trim_start_matches(&s.url),
            Some(&format!("Bearer {token}")),
            None,
            &[],
        )
        .await?;
    assert_eq!(status, 403);
    let (status, _, body) = get(&url).await?;
    assert_eq!(status, 200);
    assert_eq!(body, SECRET_CONTENT.as_bytes());

    // REST: the original's payload (archive name, destination hostname, dest_folder, item).
    let name = s
        .ok(
            token,
            "query($id: Int!) { archive(id: $id) { name } }",
            json!({"id": f.archive}),
        )
        .await?["archive"]["name"]
        .as_str()
        .context("archive name")?
        .to_string();
    let t5 = tempfile::tempdir()?;
    let (status, body) = s
        .rest(
            "POST",
            "/api/v1/restore/",
            Some(&format!("Token {op}")),
            Some(json!({"archive_name": name, "destination": "web2", "dest_folder": t5.path(), "item": secret, "dry_run": false, "verbosity": 0})),
        )
        .await?;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["job_type"], "restore", "{body}");
    assert_eq!(body["job"], body["id"], "{body}");
    let job = wait_finished(s, token, body["id"].as_i64().context("id")?).await?;
    assert_eq!(job["status"], "successful", "{job}");
    assert_eq!(
        std::fs::read_to_string(under(t5.path(), &f.secret()))?,
        SECRET_CONTENT
    );
    // This API's payload.
    let t6 = tempfile::tempdir()?;
    let (status, body) = s
        .rest(
            "POST",
            "/api/v1/restore",
            Some(&format!("Token {token}")),
            Some(json!({"archive": f.archive, "paths": [secret], "client": f.web1, "target_directory": t6.path(), "dry_run": true})),
        )
        .await?;
    assert_eq!(status, 201, "{body}");
    let job = wait_finished(s, token, body["id"].as_i64().context("id")?).await?;
    assert_eq!(job["status"], "successful", "{job}");
    // Bad payloads: 400 naming the field; anonymous: 401.
    for (payload, field) in [
        (
            json!({"archive_name": "nope", "item": secret}),
            "archive_name",
        ),
        (json!({"archive": f.archive, "item": "relative"}), "item"),
        (json!({"archive": f.archive, "paths": ["/x/../y"]}), "paths"),
        (
            json!({"archive": f.archive, "paths": [secret], "destination": "nohost"}),
            "destination",
        ),
        (
            json!({"archive": f.archive, "paths": [secret], "dest_folder": "rel"}),
            "dest_folder",
        ),
        (json!({"paths": [secret]}), "archive"),
        (
            json!({"archive": f.archive, "paths": [secret], "dry_run": "maybe"}),
            "dry_run",
        ),
    ] {
        let (status, body) = s
            .rest(
                "POST",
                "/api/v1/restore/",
                Some(&format!("Token {token}")),
                Some(payload.clone()),
            )
            .await?;
        assert_eq!(status, 400, "{payload}: {body}");
        assert!(body[field].is_array(), "{payload}: {body}");
    }
    let (status, _) = s
        .rest(
            "POST",
            "/api/v1/restore/",
            None,
            Some(json!({"archive": f.archive, "paths": [secret]})),
        )
        .await?;
    assert_eq!(status, 401);

    // A repository that is not the one prepared: a 502 explaining it, before borg reads it.
    let ticket = |d: serde_json::Value| {
        format!(
            "{}{}",
            s.url,
            d["restoreDownload"]["url"].as_str().unwrap_or_default()
        )
    };
    let d = s
        .ok(token, DOWNLOAD, json!({"a": f.archive, "p": [secret]}))
        .await?;
    let url = ticket(d);
    let repo = f.repo_dir.path();
    std::fs::rename(repo.join("main"), repo.join("moved"))?;
    let (status, _, body) = get(&url).await?;
    let body = String::from_utf8_lossy(&body).to_string();
    assert_eq!(status, 502, "{body}");
    assert!(
        body.contains("repository identity check failed") && !body.contains("borg extract"),
        "{body}"
    );
    std::fs::rename(repo.join("moved"), repo.join("main"))?;

    // borg failing before the first byte (the archive deleted behind the server's back): a
    // 502 carrying borg's message.
    let d = s
        .ok(token, DOWNLOAD, json!({"a": f.archive, "p": [secret]}))
        .await?;
    let url = ticket(d);
    let a = s
        .ok(
            token,
            "query($id: Int!) { archive(id: $id) { name } }",
            json!({"id": f.archive}),
        )
        .await?;
    let name = a["archive"]["name"].as_str().unwrap_or_default();
    let repo_main = repo.join("main").display().to_string();
    let del = borg(PASSPHRASE, &["delete", &format!("{repo_main}::{name}")])?;
    assert!(
        del.status.success(),
        "{}",
        String::from_utf8_lossy(&del.stderr)
    );
    let (status, _, body) = get(&url).await?;
    let body = String::from_utf8_lossy(&body).to_string();
    assert_eq!(status, 502, "{body}");
    assert!(
        body.contains("borg extract --stdout") && body.contains("exit status"),
        "{body}"
    );
    assert!(!body.contains(PASSPHRASE));
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn pull_mode_restores_through_the_server_relay() -> Result<()> {
    let f = fixture(true).await?;
    let (s, token) = (&f.s, f.token.as_str());
    let secret = f.secret();
    for client in [f.web1, f.web2] {
        let t = tempfile::tempdir()?;
        let (id, job) = restore(
            s,
            token,
            json!({"archive": f.archive, "paths": [secret], "client": client, "targetDirectory": t.path()}),
        )
        .await?;
        let log = s.job_log(token, id).await?;
        assert_eq!(job["status"], "successful", "{job}\n{log}");
        assert!(
            log.contains("the server relays") && log.contains("CYBORG_RELAY_RSH"),
            "{log}"
        );
        let restored = under(t.path(), &secret);
        assert_eq!(std::fs::read_to_string(&restored)?, SECRET_CONTENT);
        assert_eq!(mode(&restored)?, 0o640);
    }
    Ok(())
}

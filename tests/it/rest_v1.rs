//! REST API v1 against the real binary: every documented endpoint with the original
//! documentation's example payloads, checking shapes and status codes (200/201/204/400/404),
//! and a launch through REST running a real local backup whose log `stdout/` returns.
//! Access control, rate limiting and CORS are in `rest_v1_access.rs`.

use crate::support;

use anyhow::{ensure, Context, Result};
use serde_json::json;
use std::time::Duration;
use support::rest::{check_base, check_envelope, Api};
use support::{local_policy, Server, ADMIN_EMAIL, ADMIN_PASSWORD};

#[tokio::test]
async fn documented_inventory_endpoints() -> Result<()> {
    let s = Server::start()?;
    let api = Api::token(&s, &s.login().await?);

    // Clients.
    let doc_client = json!({"hostname": "lab.example.com", "ip": "", "version": "", "ready": false,
        "hypervisor_ready": false, "hypervisor_name": "", "enabled": true});
    let c = api
        .expect("POST", "/api/v1/clients/", Some(doc_client.clone()), 201)
        .await?;
    let cid = check_base(&c, "client", "clients")?;
    for (k, v) in doc_client.as_object().context("payload")? {
        ensure!(&c[k] == v, "client {k}: {c}");
    }
    ensure!(c["port"] == 22, "{c}");
    let bad = json!({"hostname": "lab;rm -rf /"});
    let bad = api
        .expect("POST", "/api/v1/clients/", Some(bad), 400)
        .await?;
    ensure!(
        bad["hostname"][0].as_str().is_some_and(|m| !m.is_empty()),
        "{bad}"
    );
    let bad = json!({"hostname": "x.example", "enabled": "maybe"});
    let bad = api
        .expect("POST", "/api/v1/clients/", Some(bad), 400)
        .await?;
    ensure!(bad["enabled"].is_array(), "{bad}");
    let url = format!("/api/v1/clients/{cid}/");
    let patch = json!({"hypervisor_name": "pve1", "port": 2222});
    let c = api.expect("PATCH", &url, Some(patch), 200).await?;
    ensure!(c["hypervisor_name"] == "pve1" && c["port"] == 2222, "{c}");
    ensure!(c["hostname"] == "lab.example.com", "{c}");
    api.get(&format!("/api/v1/clients/{cid}")).await?;
    api.expect("GET", "/api/v1/clients/999999/", None, 404)
        .await?;
    api.expect("GET", "/api/v1/clients/abc/", None, 404).await?;
    check_envelope(&api.get("/api/v1/clients").await?, 1)?;

    // Schedules, with both documented crontabs (6 fields, year last).
    let doc = json!({"name": "Every Minutes", "crontab": "*/1 * * * * *", "enabled": true});
    let sc = api
        .expect("POST", "/api/v1/schedules/", Some(doc), 201)
        .await?;
    let sid = check_base(&sc, "schedule", "schedules")?;
    ensure!(sc["crontab"] == "*/1 * * * * *", "{sc}");
    let doc = json!({"name": "Every Monday", "crontab": "0 5 * * MON *", "enabled": true});
    let sc = api
        .expect(
            "PATCH",
            &format!("/api/v1/schedules/{sid}/"),
            Some(doc),
            200,
        )
        .await?;
    ensure!(sc["name"] == "Every Monday", "{sc}");
    let bad = json!({"name": "x", "crontab": "every day"});
    let bad = api
        .expect("POST", "/api/v1/schedules/", Some(bad), 400)
        .await?;
    ensure!(bad["crontab"].is_array(), "{bad}");
    check_envelope(&api.get("/api/v1/schedules/").await?, 1)?;

    // Repositories: the key is accepted and read back masked.
    let doc = json!({"name": "Main Repo", "path": "cyborgbackup@backup:/repository",
        "repository_key": "0123456789abcdef", "ready": true, "enabled": true});
    let r = api
        .expect("POST", "/api/v1/repositories/", Some(doc), 201)
        .await?;
    let rid = check_base(&r, "repository", "repositories")?;
    ensure!(r["repository_key"] == "$encrypted$", "{r}");
    ensure!(
        r["path"] == "cyborgbackup@backup:/repository" && r["ready"] == true,
        "{r}"
    );
    for k in ["original_size", "compressed_size", "deduplicated_size"] {
        ensure!(r[k].is_i64(), "{k}: {r}");
    }
    let all = api.get("/api/v1/repositories/").await?;
    check_envelope(&all, 1)?;
    ensure!(
        !all.to_string().contains("0123456789abcdef"),
        "key leaked: {all}"
    );
    let url = format!("/api/v1/repositories/{rid}/");
    let keep = json!({"name": "Main Repo", "repository_key": "$encrypted$"});
    let r = api.expect("PATCH", &url, Some(keep), 200).await?;
    ensure!(r["repository_key"] == "$encrypted$", "{r}");
    let bad = api
        .expect("PATCH", &url, Some(json!({"path": "relative"})), 400)
        .await?;
    ensure!(bad["path"].is_array(), "{bad}");

    // Policies: the documented payload (a vm policy) with this server's ids.
    let doc = json!({"name": "Full Features", "extra_vars": "", "clients": [cid],
        "repository": rid, "schedule": sid, "policy_type": "vm", "keep_hourly": 1,
        "keep_yearly": null, "keep_daily": null, "keep_weekly": null, "keep_monthly": null,
        "vmprovider": "proxmox", "mode_pull": false, "enabled": true});
    let p = api
        .expect("POST", "/api/v1/policies/", Some(doc), 201)
        .await?;
    let pid = check_base(&p, "policy", "policies")?;
    let related = json!({
        "launch": format!("/api/v1/policies/{pid}/launch/"),
        "calendar": format!("/api/v1/policies/{pid}/calendar/"),
        "schedule": format!("/api/v1/schedules/{sid}/"),
        "repository": format!("/api/v1/repositories/{rid}/"),
    });
    ensure!(p["related"] == related, "{p}");
    let summary = json!({
        "repository": {"id": rid, "name": "Main Repo", "path": "cyborgbackup@backup:/repository"},
        "schedule": {"id": sid, "name": "Every Monday", "crontab": "0 5 * * MON *"},
    });
    ensure!(p["summary_fields"] == summary, "{p}");
    ensure!(p["keep_hourly"] == 1 && p["keep_daily"].is_null(), "{p}");
    ensure!(
        p["clients"] == json!([cid]) && p["policy_type"] == "vm",
        "{p}"
    );
    ensure!(
        p["next_run"].is_string() && p["prehook"] == "" && p["posthook"] == "",
        "{p}"
    );
    let folders = json!({"name": "Files", "policy_type": "folders",
        "extra_vars": {"folders": ["/etc"]}, "clients": [cid], "repository": rid, "schedule": sid});
    let p2 = api
        .expect("POST", "/api/v1/policies/", Some(folders), 201)
        .await?;
    ensure!(
        p2["extra_vars"]
            .as_str()
            .is_some_and(|v| v.contains("/etc")),
        "{p2}"
    );
    let bad = json!({"name": "x", "policy_type": "folders", "repository": rid, "schedule": sid,
        "keep_daily": -1});
    let bad = api
        .expect("POST", "/api/v1/policies/", Some(bad), 400)
        .await?;
    ensure!(
        bad["extra_vars.folders"].is_array() && bad["keep_daily"].is_array(),
        "{bad}"
    );
    let url = format!("/api/v1/policies/{pid}/");
    let patch = json!({"prehook": "echo hi", "keep_daily": 7});
    let p = api.expect("PATCH", &url, Some(patch), 200).await?;
    ensure!(p["prehook"] == "echo hi" && p["keep_daily"] == 7, "{p}");
    let cal = api
        .get(&format!("/api/v1/policies/{pid}/calendar/"))
        .await?;
    let runs = cal.as_array().context("calendar list")?;
    ensure!(
        (4..=5).contains(&runs.len()),
        "Mondays at 5:00 this month: {cal}"
    );

    // Pagination.
    let list = api.get("/api/v1/policies/?page_size=1").await?;
    check_envelope(&list, 2)?;
    ensure!(
        list["results"].as_array().map(Vec::len) == Some(1),
        "{list}"
    );
    ensure!(
        list["next"] == "/api/v1/policies/?page_size=1&page=2",
        "{list}"
    );
    ensure!(list["previous"].is_null(), "{list}");
    let page2 = api.get("/api/v1/policies/?page_size=1&page=2").await?;
    ensure!(page2["next"].is_null(), "{page2}");
    ensure!(
        page2["previous"] == "/api/v1/policies/?page_size=1",
        "{page2}"
    );
    api.expect("GET", "/api/v1/policies/?page=9", None, 404)
        .await?;

    // Deletes: 204, then 404.
    api.expect("DELETE", &url, None, 204).await?;
    api.expect("GET", &url, None, 404).await?;
    api.expect("DELETE", "/api/v1/clients/424242/", None, 404)
        .await?;
    let sched = json!({"name": "spare", "crontab": "0 1 * * *"});
    let spare = api
        .expect("POST", "/api/v1/schedules/", Some(sched), 201)
        .await?;
    let spare = format!("/api/v1/schedules/{}/", spare["id"]);
    api.expect("DELETE", &spare, None, 204).await?;
    Ok(())
}

#[tokio::test]
async fn documented_service_and_admin_endpoints() -> Result<()> {
    let s = Server::start()?;
    let api = Api::token(&s, &s.login().await?);
    let anon = Api { s: &s, auth: None };

    let idx = anon.get("/api/v1/").await?;
    ensure!(
        idx["ping"].is_string() && idx["config"] == "/api/v1/config/",
        "{idx}"
    );
    ensure!(idx["me"] == "/api/v1/me/", "{idx}");
    let ping = anon.get("/api/v1/ping").await?;
    ensure!(
        ping["ping"] == "pong" && ping["version"].is_string(),
        "{ping}"
    );
    let cfg = api.get("/api/v1/config/").await?;
    ensure!(
        cfg["debug"] == false && cfg["allowed_hosts"].is_array(),
        "{cfg}"
    );
    ensure!(cfg["version"].is_string(), "{cfg}");
    let me = api.get("/api/v1/me/").await?;
    check_envelope(&me, 1)?;
    let my = &me["results"][0];
    let my_id = my["id"].as_i64().context("my id")?;
    ensure!(
        my["email"] == ADMIN_EMAIL && my["is_superuser"] == true,
        "{me}"
    );
    ensure!(
        my["type"] == "user" && my["url"] == format!("/api/v1/users/{my_id}/"),
        "{me}"
    );

    // Users, with the documented payload (no password: the account cannot log in yet).
    let doc = json!({"first_name": "", "last_name": "", "email": "cyborg@agent.local",
        "is_superuser": true});
    let u = api.expect("POST", "/api/v1/users/", Some(doc), 201).await?;
    let uid = u["id"].as_i64().context("user id")?;
    ensure!(
        u["type"] == "user" && u["email"] == "cyborg@agent.local",
        "{u}"
    );
    ensure!(
        u["is_superuser"] == true && u.get("password").is_none(),
        "{u}"
    );
    check_envelope(&api.get("/api/v1/users/").await?, 2)?;
    let url = format!("/api/v1/users/{uid}/");
    let patch = json!({"first_name": "Cy", "is_superuser": false, "password": "a-new-password"});
    let u = api.expect("PATCH", &url, Some(patch), 200).await?;
    ensure!(u["first_name"] == "Cy" && u["is_superuser"] == false, "{u}");
    Api::basic(&s, "cyborg@agent.local", "a-new-password")
        .get("/api/v1/me/")
        .await?;
    api.get(&format!("/api/v1/users/{uid}")).await?;
    let bad = api
        .expect(
            "POST",
            "/api/v1/users/",
            Some(json!({"email": "nope"})),
            400,
        )
        .await?;
    ensure!(bad["email"][0].is_string(), "{bad}");
    api.expect("POST", "/api/v1/users/", Some(json!([1, 2])), 400)
        .await?;
    api.expect("DELETE", &url, None, 204).await?;
    api.expect("DELETE", &format!("/api/v1/users/{my_id}/"), None, 409)
        .await?;
    api.expect("GET", &url, None, 404).await?;

    // Catalogs and jobs, empty.
    let cat = api
        .get("/api/v1/catalogs/?archive_name=nothing&path=/etc")
        .await?;
    check_envelope(&cat, 0)?;
    check_envelope(&api.get("/api/v1/catalogs/").await?, 0)?;
    api.expect("GET", "/api/v1/catalogs/12345/", None, 404)
        .await?;
    check_envelope(&api.get("/api/v1/jobs/").await?, 0)?;
    api.expect("GET", "/api/v1/jobs/?status=sleeping", None, 400)
        .await?;
    api.expect("GET", "/api/v1/jobs/77/", None, 404).await?;
    api.expect("GET", "/api/v1/jobs/77/stdout/?format=txt", None, 404)
        .await?;
    api.expect("POST", "/api/v1/jobs/77/relaunch/", None, 404)
        .await?;
    api.expect("POST", "/api/v1/policies/77/launch/", None, 404)
        .await?;
    api.get("/api/v1/stats/").await?;

    // Settings, by id and by key; validation is GraphQL's.
    let st = api.get("/api/v1/settings/").await?;
    let list = st["results"].as_array().context("settings")?;
    let url_setting = list
        .iter()
        .find(|x| x["key"] == "url")
        .context("url setting")?;
    ensure!(
        url_setting["type"] == "setting" && url_setting["id"].is_u64(),
        "{st}"
    );
    let by_id = url_setting["url"].as_str().context("setting url")?;
    let value = json!({"value": "https://backup.example.com"});
    let set = api.expect("PATCH", by_id, Some(value), 200).await?;
    ensure!(set["value"] == "https://backup.example.com", "{set}");
    let by_key = api.get("/api/v1/settings/url/").await?;
    ensure!(by_key["value"] == "https://backup.example.com", "{by_key}");
    let bad = json!({"value": "root; rm"});
    let bad = api
        .expect("PATCH", "/api/v1/settings/backup_user/", Some(bad), 400)
        .await?;
    ensure!(bad["value"].is_array(), "{bad}");
    api.expect("GET", "/api/v1/settings/nothing/", None, 404)
        .await?;

    // The server's SSH key, as the original UI drives it.
    api.expect("GET", "/api/v1/settings/generate_ssh/", None, 204)
        .await?;
    ensure!(
        api.get("/api/v1/settings/get_ssh_publickey/").await? == json!([]),
        "no key yet"
    );
    let gen = json!({"size": 4096, "type": "ed25519"});
    let k = api
        .expect("POST", "/api/v1/settings/generate_ssh/", Some(gen), 201)
        .await?;
    let pubkey = k["pubkey"].as_str().context("pubkey")?.to_string();
    ensure!(pubkey.starts_with("ssh-ed25519 "), "{k}");
    api.expect(
        "POST",
        "/api/v1/settings/generate_ssh/",
        Some(json!({})),
        409,
    )
    .await?;
    api.expect("GET", "/api/v1/settings/generate_ssh/", None, 200)
        .await?;
    ensure!(
        api.get("/api/v1/settings/get_ssh_publickey/").await? == pubkey,
        "public key"
    );
    let forced = json!({"force": true});
    let k2 = api
        .expect("POST", "/api/v1/settings/generate_ssh/", Some(forced), 201)
        .await?;
    ensure!(k2["pubkey"] != k["pubkey"], "{k2}");
    Ok(())
}

#[tokio::test]
async fn a_rest_launch_runs_a_real_backup_and_stdout_returns_its_log() -> Result<()> {
    let s = Server::start()?;
    let admin = s.login().await?;
    let api = Api::basic(&s, ADMIN_EMAIL, ADMIN_PASSWORD);
    let src = s.data_dir.path().join("src");
    std::fs::create_dir_all(&src)?;
    std::fs::write(src.join("notes.txt"), "hello from rest")?;
    let src_s = src.display().to_string();
    let pid = local_policy(&s, &admin, &[&src_s], "rest-pass").await?;

    let launch = format!("/api/v1/policies/{pid}/launch/");
    ensure!(api.get(&launch).await?["can_launch"] == true, "launch info");
    let l = api.expect("POST", &launch, None, 201).await?;
    let job = l["job"].as_i64().context("job")?;
    ensure!(
        l["type"] == "job" && l["job_type"] == "job" && l["policy"] == pid,
        "{l}"
    );
    ensure!(
        l["jobs"]
            .as_array()
            .is_some_and(|j| j.contains(&json!(job))),
        "{l}"
    );
    let timeout = Duration::from_secs(120);
    let done = s
        .wait_job_status(&admin, job, "successful", timeout)
        .await?;
    s.wait_jobs(&admin, timeout).await?;
    let archive = done["archiveName"]
        .as_str()
        .context("archive name")?
        .to_string();

    let j = api.get(&format!("/api/v1/jobs/{job}/")).await?;
    ensure!(
        j["status"] == "successful" && j["archive_name"] == archive.as_str(),
        "{j}"
    );
    ensure!(
        j["failed"] == false && j["started"].is_string() && j["elapsed"].is_number(),
        "{j}"
    );
    ensure!(
        j["related"]["stdout"] == format!("/api/v1/jobs/{job}/stdout/"),
        "{j}"
    );
    ensure!(j["summary_fields"]["policy"]["id"] == pid, "{j}");
    let filters = [
        format!("policy={pid}"),
        "status=successful".into(),
        "job_type=job".into(),
        format!("client={}", j["client"]),
    ];
    for q in filters {
        let list = api.get(&format!("/api/v1/jobs/?{q}")).await?;
        let found = list["results"]
            .as_array()
            .is_some_and(|r| r.iter().any(|x| x["id"] == job));
        ensure!(found, "{q}: {list}");
    }
    check_envelope(&api.get("/api/v1/jobs/?job_type=restore").await?, 0)?;

    let stdout = format!("/api/v1/jobs/{job}/stdout/");
    let txt = api.get(&format!("{stdout}?format=txt")).await?;
    let txt = txt.as_str().context("plain text")?.to_string();
    let log = s.job_log(&admin, job).await?;
    ensure!(
        !txt.trim().is_empty() && txt.trim_end() == log.trim_end(),
        "log: {txt}"
    );
    ensure!(!txt.contains("rest-pass"), "passphrase in the log");
    let js = api.get(&format!("{stdout}?format=json")).await?;
    ensure!(js["content"] == txt.as_str(), "{js}");
    ensure!(js["range"]["end"].as_u64().is_some_and(|n| n > 0), "{js}");
    api.expect("GET", &format!("{stdout}?format=html"), None, 400)
        .await?;

    // The archive's catalog, filtered like the original.
    let q = format!("/api/v1/catalogs/?archive_name={archive}&path={src_s}/notes.txt");
    let cat = api.get(&q).await?;
    check_envelope(&cat, 1)?;
    let e = &cat["results"][0];
    ensure!(e["archive_name"] == archive.as_str(), "{e}");
    ensure!(
        e["path"]
            .as_str()
            .is_some_and(|p| p.ends_with("/notes.txt")),
        "{e}"
    );
    ensure!(
        e["job"] == job && e["size"] == 15 && e["healthy"] == true,
        "{e}"
    );
    ensure!(
        e["mode"].is_string() && e["owner"].is_string() && e["mtime"].is_string(),
        "{e}"
    );
    let one = api.get(e["url"].as_str().context("entry url")?).await?;
    ensure!(one["id"] == e["id"] && one["path"] == e["path"], "{one}");
    let all = api
        .get(&format!(
            "/api/v1/catalogs/?archive_name={archive}&page_size=1"
        ))
        .await?;
    ensure!(
        all["count"].as_u64().is_some_and(|n| n >= 2) && all["next"].is_string(),
        "{all}"
    );
    let page2 = api.get(all["next"].as_str().context("next")?).await?;
    ensure!(
        page2["results"][0]["id"] != all["results"][0]["id"],
        "{page2}"
    );

    // Cancelling a finished job is refused; relaunching makes a new job.
    let can = api.get(&format!("/api/v1/jobs/{job}/cancel/")).await?;
    ensure!(can["can_cancel"] == false, "{can}");
    api.expect("POST", &format!("/api/v1/jobs/{job}/cancel/"), None, 405)
        .await?;
    let r = api
        .expect("POST", &format!("/api/v1/jobs/{job}/relaunch/"), None, 201)
        .await?;
    let again = r["job"].as_i64().context("relaunched")?;
    ensure!(again != job, "{r}");
    s.wait_job_status(&admin, again, "successful", timeout)
        .await?;
    Ok(())
}

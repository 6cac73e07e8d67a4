//! Helpers of the catalog API tests: real files copied from `/usr/share/doc`, backups through
//! the server, `borg list` and `borg diff` of the archives, and catalog searches.
#![allow(dead_code)]

use crate::support::*;
use anyhow::{bail, ensure, Context, Result};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, SystemTime};

pub const PASS: &str = "catalog api passphrase";
pub const JOBS: Duration = Duration::from_secs(240);

/// Copies up to `max` regular files and symlinks of `/usr/share/doc` (in path order, files
/// larger than 256 KiB left out) into `dst`, keeping the tree. Returns how many were copied.
pub fn copy_docs(dst: &Path, max: usize) -> Result<usize> {
    fn walk(src: &Path, dst: &Path, left: &mut usize) -> Result<()> {
        let mut entries: Vec<_> = std::fs::read_dir(src)?.filter_map(|e| e.ok()).collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            if *left == 0 {
                return Ok(());
            }
            let (from, to) = (e.path(), dst.join(e.file_name()));
            let meta = std::fs::symlink_metadata(&from)?;
            if meta.is_dir() {
                std::fs::create_dir_all(&to)?;
                walk(&from, &to, left)?;
            } else if meta.file_type().is_symlink() {
                std::os::unix::fs::symlink(std::fs::read_link(&from)?, &to)?;
                *left -= 1;
            } else if meta.is_file() && meta.len() <= 256 << 10 {
                std::fs::copy(&from, &to)?;
                *left -= 1;
            }
        }
        Ok(())
    }
    std::fs::create_dir_all(dst)?;
    let mut left = max;
    walk(Path::new("/usr/share/doc"), dst, &mut left)?;
    Ok(max - left)
}

pub fn write(path: &Path, body: &str, mtime_secs: Option<u64>) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, body)?;
    if let Some(secs) = mtime_secs {
        std::fs::File::options()
            .write(true)
            .open(path)?
            .set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))?;
    }
    Ok(())
}

/// Launches a policy, waits for every job, checks they succeeded; returns the archive name.
pub async fn backup(s: &Server, token: &str, policy: i64) -> Result<String> {
    let id = launch_backup(s, token, policy).await?;
    let jobs = s.wait_jobs(token, JOBS).await?;
    for j in &jobs {
        ensure!(j["status"] == "successful", "job failed: {j}");
    }
    let d = s
        .ok(
            token,
            "query($id: Int!) { job(id: $id) { archiveName } }",
            json!({"id": id}),
        )
        .await?;
    Ok(d["job"]["archiveName"]
        .as_str()
        .context("archive name")?
        .to_string())
}

/// The repository path of a policy made by `local_typed_policy`.
pub async fn policy_in(s: &Server, token: &str, folder: &Path) -> Result<(i64, String)> {
    local_typed_policy(
        s,
        token,
        "folders",
        &json!({ "folders": [folder] }).to_string(),
        PASS,
    )
    .await
}

/// `borg list --json-lines` of one archive, paths made absolute as the catalog shows them.
pub fn listing(repo: &str, archive: &str) -> Result<Vec<Value>> {
    let out = borg(
        PASS,
        &["list", "--json-lines", &format!("{repo}::{archive}")],
    )?;
    ensure!(
        out.status.success(),
        "borg list: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut v = Vec::new();
    for line in out.stdout.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let mut e: Value = serde_json::from_slice(line)?;
        let p = format!("/{}", e["path"].as_str().unwrap_or_default());
        e["path"] = json!(p);
        v.push(e);
    }
    Ok(v)
}

pub fn name_of(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// `*`/`?` wildcard match of a whole string.
pub fn glob(pat: &[char], text: &[char]) -> bool {
    match pat.split_first() {
        None => text.is_empty(),
        Some(('*', rest)) => (0..=text.len()).any(|i| glob(rest, &text[i..])),
        Some((c, rest)) => text
            .split_first()
            .is_some_and(|(t, tail)| (*c == '?' || c == t) && glob(rest, tail)),
    }
}

pub fn glob_str(pat: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pat.chars().collect(), text.chars().collect());
    glob(&p, &t)
}

/// Paths of the listing entries matching `pred`.
pub fn expect(list: &[Value], pred: impl Fn(&Value, &str) -> bool) -> BTreeSet<String> {
    list.iter()
        .filter_map(|e| {
            let p = e["path"].as_str().unwrap_or_default();
            pred(e, p).then(|| p.to_string())
        })
        .collect()
}

/// One page of a catalog search: the total over all pages and the page's hits.
pub async fn search_page(
    s: &Server,
    token: &str,
    query: &str,
    filter: Value,
    first: i64,
) -> Result<(i64, Vec<Value>)> {
    let d = s
        .ok(
            token,
            "query($q: String!, $f: CatalogFilter, $n: Int!) { catalogSearch(query: $q, filter: $f, first: $n) { total hits { path archiveIds } } }",
            json!({"q": query, "f": filter, "n": first}),
        )
        .await?;
    let page = &d["catalogSearch"];
    Ok((
        page["total"].as_i64().context("total")?,
        page["hits"].as_array().cloned().unwrap_or_default(),
    ))
}

/// Every page of a catalog search (pages of `first`): total and the hits' paths.
pub async fn search_all(
    s: &Server,
    token: &str,
    query: &str,
    filter: Value,
    first: i64,
) -> Result<(i64, Vec<Value>)> {
    let mut after: Option<String> = None;
    let mut hits = Vec::new();
    let mut total = -1;
    for _ in 0..1000 {
        let d = s
            .ok(
                token,
                "query($q: String!, $f: CatalogFilter, $n: Int!, $a: String) { catalogSearch(query: $q, filter: $f, first: $n, after: $a) { total nextCursor hits { path name fileType size mtime clientId policyId repositoryId archiveIds firstArchive { id name } lastArchive { id name } } } }",
                json!({"q": query, "f": filter, "n": first, "a": after}),
            )
            .await?;
        let page = &d["catalogSearch"];
        total = page["total"].as_i64().context("total")?;
        hits.extend(page["hits"].as_array().cloned().unwrap_or_default());
        match page["nextCursor"].as_str() {
            Some(c) => after = Some(c.to_string()),
            None => return Ok((total, hits)),
        }
    }
    bail!("{query}: too many pages (total {total})")
}

/// Searches in one archive and checks the hits are exactly `want` (total and paths).
pub async fn check_form(
    s: &Server,
    token: &str,
    label: &str,
    query: &str,
    filter: Value,
    want: &BTreeSet<String>,
) -> Result<()> {
    let (total, hits) = search_all(s, token, query, filter, 200).await?;
    let got: BTreeSet<String> = hits
        .iter()
        .filter_map(|h| h["path"].as_str().map(String::from))
        .collect();
    ensure!(
        &got == want && total as usize == want.len() && hits.len() == want.len(),
        "{label} ({query:?}): total {total}, {} hits\n  missing {:?}\n  unexpected {:?}",
        hits.len(),
        want.difference(&got).collect::<Vec<_>>(),
        got.difference(want).collect::<Vec<_>>()
    );
    Ok(())
}

/// Ids of the archives holding the one version of `path` (oldest first), and its hit.
pub async fn holders(
    s: &Server,
    token: &str,
    path: &str,
    filter: Value,
) -> Result<(Vec<i64>, Value)> {
    let (_, hits) = search_all(s, token, path, filter, 50).await?;
    let hit = hits
        .iter()
        .find(|h| h["path"] == path)
        .with_context(|| format!("{path} not in the catalog: {hits:?}"))?
        .clone();
    let ids = hit["archiveIds"]
        .as_array()
        .context("archiveIds")?
        .iter()
        .filter_map(Value::as_i64)
        .collect();
    Ok((ids, hit))
}

/// `borg diff --json-lines` of two archives: (added, removed, changed) paths (`added`,
/// `added directory`, `added link` are all added), ignoring ctime-only changes (listings
/// have no ctime).
pub fn borg_diff(repo: &str, a: &str, b: &str) -> Result<[BTreeSet<String>; 3]> {
    let out = borg(PASS, &["diff", "--json-lines", &format!("{repo}::{a}"), b])?;
    ensure!(
        out.status.success(),
        "borg diff: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut sets: [BTreeSet<String>; 3] = Default::default();
    for line in out.stdout.split(|x| *x == b'\n').filter(|l| !l.is_empty()) {
        let v: Value = serde_json::from_slice(line)?;
        let path = format!("/{}", v["path"].as_str().unwrap_or_default());
        let kinds: Vec<&str> = v["changes"]
            .as_array()
            .map(|c| c.iter().filter_map(|c| c["type"].as_str()).collect())
            .unwrap_or_default();
        let slot = if kinds.iter().any(|k| k.starts_with("added")) {
            0
        } else if kinds.iter().any(|k| k.starts_with("removed")) {
            1
        } else if kinds.iter().any(|k| *k != "ctime") {
            2
        } else {
            continue;
        };
        sets[slot].insert(path);
    }
    Ok(sets)
}

/// Creates `n` small files in directories of 200 under `dir`.
pub fn many_files(dir: &Path, n: usize) -> Result<()> {
    for i in 0..n {
        let d = dir.join(format!("d{:04}", i / 200));
        if i % 200 == 0 {
            std::fs::create_dir_all(&d)?;
        }
        std::fs::write(d.join(format!("file-{i}.txt")), i.to_string())?;
    }
    Ok(())
}

pub async fn job_status(s: &Server, token: &str, id: i64) -> Result<String> {
    let d = s
        .ok(
            token,
            "query($id: Int!) { job(id: $id) { status } }",
            json!({"id": id}),
        )
        .await?;
    Ok(d["job"]["status"].as_str().unwrap_or_default().to_string())
}

pub fn t_all(list: &[Value], synthetic: i64) -> i64 {
    list.len() as i64 + synthetic
}

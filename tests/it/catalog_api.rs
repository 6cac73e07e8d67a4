//! The catalog through the real server's GraphQL API, on real borg archives of real files (a
//! copy of part of `/usr/share/doc`): every search form and filter checked against
//! `borg list`, `archiveDiff` against `borg diff`, and browse.

use crate::catalog_support;
use crate::support;

use anyhow::{ensure, Context, Result};
use catalog_support::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::Path;
use support::*;

#[tokio::test(flavor = "multi_thread")]
async fn search_every_form_and_filter_matches_borg_list() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;
    let src = tempfile::tempdir()?;
    let root = src.path().canonicalize()?;
    let docs = root.join("docs");
    let copied = copy_docs(&docs, 400)?;
    ensure!(copied >= 100, "only {copied} files under /usr/share/doc");
    let crafted = root.join("crafted");
    write(&crafted.join("nginx-site.conf"), "server {}\n", None)?;
    write(&crafted.join("Report-2024.PDF"), &"r".repeat(5000), None)?;
    write(&crafted.join("db-dump.sql.gz"), &"z".repeat(20_000), None)?;
    write(&crafted.join("var/log/app/access.log.2.gz"), "log\n", None)?;
    // 2020-06-01: an old version, then a new one in the second archive.
    write(
        &crafted.join("notes.txt"),
        "old notes\n",
        Some(1_590_969_600),
    )?;
    let (pa, repo_a) = policy_in(&s, &token, &root).await?;
    let a1 = backup(&s, &token, pa).await?;
    write(&crafted.join("notes.txt"), "new notes, longer\n", None)?;
    let a2 = backup(&s, &token, pa).await?;
    let (pb, _repo_b) = policy_in(&s, &token, &crafted).await?;
    backup(&s, &token, pb).await?;

    let list = listing(&repo_a, &a2)?;
    let notes = format!("{}/notes.txt", crafted.display());
    let synthetic: BTreeSet<String> = root
        .ancestors()
        .skip(1)
        .filter(|a| a.parent().is_some())
        .map(|a| a.display().to_string())
        .collect();
    let (ids, hit) = holders(
        &s,
        &token,
        &format!("{}/nginx-site.conf", crafted.display()),
        json!({"policy": pa}),
    )
    .await?;
    ensure!(
        ids.len() == 2,
        "an unchanged file is one version in both archives: {hit}"
    );
    ensure!(
        hit["firstArchive"]["name"] == a1.as_str() && hit["lastArchive"]["name"] == a2.as_str()
    );
    let (arch2, client, repo) = (ids[1], hit["clientId"].clone(), hit["repositoryId"].clone());
    let in_a2 = |extra: Value| {
        let mut f = json!({"archive": arch2});
        if let (Some(f), Some(e)) = (f.as_object_mut(), extra.as_object()) {
            f.extend(e.clone());
        }
        f
    };
    let name_lc = |p: &str| name_of(p).to_lowercase();

    // Query forms, each against the same archive's borg listing.
    let pkg = list
        .iter()
        .filter_map(|e| e["path"].as_str())
        .find(|p| p.ends_with("/copyright") && p.starts_with(&format!("{}/", docs.display())))
        .map(|p| p.trim_end_matches("/copyright").to_string())
        .context("no copyright file copied")?;
    let pkg_name = name_of(&pkg).to_string();
    check_form(
        &s,
        &token,
        "name word",
        "copyright",
        in_a2(json!({})),
        &expect(&list, |_, p| name_lc(p).contains("copyright")),
    )
    .await?;
    check_form(
        &s,
        &token,
        "name words in sequence",
        "changelog.Debian",
        in_a2(json!({})),
        &expect(&list, |_, p| {
            let n = name_lc(p);
            n.contains("changelog.debian")
                || words(&n).windows(2).any(|w| w == ["changelog", "debian"])
        }),
    )
    .await?;
    check_form(
        &s,
        &token,
        "name substring",
        "hangelo",
        in_a2(json!({})),
        &expect(&list, |_, p| name_lc(p).contains("hangelo")),
    )
    .await?;
    let prefix = format!("{pkg}/");
    check_form(
        &s,
        &token,
        "path prefix",
        &prefix,
        in_a2(json!({})),
        &expect(&list, |_, p| p.starts_with(&prefix)),
    )
    .await?;
    for g in [
        "*.gz",
        "readme*",
        "*copy*ght*",
        "changelog.?ebian.gz",
        "*.PDF",
    ] {
        check_form(
            &s,
            &token,
            "name glob",
            g,
            in_a2(json!({})),
            &expect(&list, |_, p| glob_str(&g.to_lowercase(), &name_lc(p))),
        )
        .await?;
    }
    let path_glob = format!("{}/*/changelog*", docs.display());
    check_form(
        &s,
        &token,
        "path glob",
        &path_glob,
        in_a2(json!({})),
        &expect(&list, |_, p| glob_str(&path_glob, p)),
    )
    .await?;
    let exact = format!("{pkg}/copyright");
    check_form(
        &s,
        &token,
        "exact path",
        &exact,
        in_a2(json!({})),
        &BTreeSet::from([exact.clone()]),
    )
    .await?;
    let partial = &pkg[..pkg.len() - 1];
    let mut want = expect(&list, |_, p| p == partial);
    if want.is_empty() {
        want = expect(&list, |_, p| p.starts_with(partial));
    }
    check_form(
        &s,
        &token,
        "exact path, else a string prefix",
        partial,
        in_a2(json!({})),
        &want,
    )
    .await?;
    let path_words = format!("{pkg_name}/copyright");
    let want_words = words(&path_words);
    check_form(
        &s,
        &token,
        "path words",
        &path_words,
        in_a2(json!({})),
        &expect(&list, |_, p| {
            words(p)
                .windows(want_words.len())
                .any(|w| w == want_words.as_slice())
        }),
    )
    .await?;

    // Filters: file type, size range, series ids.
    for t in ["-", "d", "l"] {
        let mut want = expect(&list, |e, _| e["type"] == t);
        if t == "d" {
            // Ancestors of the backed-up folder are shown as directories too.
            want.extend(synthetic.iter().cloned());
        }
        check_form(
            &s,
            &token,
            "file type",
            "",
            in_a2(json!({"fileType": t})),
            &want,
        )
        .await?;
    }
    check_form(
        &s,
        &token,
        "size range",
        "",
        in_a2(json!({"fileType": "-", "minSize": 1000, "maxSize": 20_000})),
        &expect(&list, |e, _| {
            e["type"] == "-" && (1000..=20_000).contains(&e["size"].as_i64().unwrap_or(-1))
        }),
    )
    .await?;
    let everything = (list.len() + synthetic.len()) as i64;
    let (t, _) = search_all(
        &s,
        &token,
        "",
        in_a2(json!({"client": client, "repository": repo, "policy": pa})),
        1000,
    )
    .await?;
    ensure!(
        t == everything,
        "client+repository+policy of archive 2: {t}, want {everything}"
    );
    for (label, f) in [
        ("another client", json!({"client": 999_999})),
        ("another repository", json!({"repository": 999_999})),
        ("another policy", json!({"policy": 999_999})),
    ] {
        let (t, _) = search_all(&s, &token, "copyright", f, 50).await?;
        ensure!(t == 0, "{label}: {t} hits");
    }
    let dump = format!("{}/db-dump.sql.gz", crafted.display());
    let (t, hits) = search_all(&s, &token, &dump, json!({"policy": pb}), 50).await?;
    ensure!(
        t == 1 && hits[0]["policyId"] == pb,
        "policy filter: {hits:?}"
    );
    let (t, hits) = search_all(
        &s,
        &token,
        &dump,
        json!({"repository": hits[0]["repositoryId"]}),
        50,
    )
    .await?;
    ensure!(
        t == 1 && hits[0]["policyId"] == pb,
        "repository filter: {hits:?}"
    );
    let (t, _) = search_all(&s, &token, &dump, json!({}), 50).await?;
    ensure!(t == 2, "one version per series: {t}");

    // History and time: two versions of notes.txt in policy A, one of them current.
    let (t, hits) = search_all(&s, &token, &notes, json!({"policy": pa}), 50).await?;
    ensure!(
        t == 2 && hits.iter().all(|h| h["path"] == notes.as_str()),
        "{hits:?}"
    );
    let (t, latest) = search_all(
        &s,
        &token,
        &notes,
        json!({"policy": pa, "latestOnly": true}),
        50,
    )
    .await?;
    ensure!(
        t == 1 && latest[0]["lastArchive"]["name"] == a2.as_str(),
        "{latest:?}"
    );
    ensure!(latest[0]["size"] == 18, "{latest:?}");
    let (t, old) = search_all(
        &s,
        &token,
        &notes,
        json!({"policy": pa, "mtimeTo": "2021-01-01T00:00:00Z"}),
        50,
    )
    .await?;
    ensure!(
        t == 1 && old[0]["size"] == 10 && old[0]["lastArchive"]["name"] == a1.as_str(),
        "{old:?}"
    );
    let (t, _) = search_all(
        &s,
        &token,
        &notes,
        json!({"policy": pa, "mtimeFrom": "2021-01-01T00:00:00Z"}),
        50,
    )
    .await?;
    ensure!(t == 1, "mtimeFrom: {t}");

    // Paging: pages of 7 add up to the total, without duplicates.
    let (t, hits) = search_all(&s, &token, "*", in_a2(json!({"fileType": "-"})), 7).await?;
    let uniq: BTreeSet<&str> = hits.iter().filter_map(|h| h["path"].as_str()).collect();
    ensure!(
        t as usize == hits.len() && uniq.len() == hits.len(),
        "paging: total {t}, {} hits, {} distinct",
        hits.len(),
        uniq.len()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn archive_diff_matches_borg_diff_and_browse_lists_children() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;
    let src = tempfile::tempdir()?;
    let root = src.path().canonicalize()?;
    let docs = root.join("docs");
    copy_docs(&docs, 250)?;
    write(&root.join("keep.txt"), "kept\n", None)?;
    let (policy, repo) = policy_in(&s, &token, &root).await?;
    let a1 = backup(&s, &token, policy).await?;

    // Remove a package, change some files, add others.
    let first = listing(&repo, &a1)?;
    // Only under docs/: keep.txt stays as it is (borg lists in directory order, which varies).
    let docs_prefix = docs
        .display()
        .to_string()
        .trim_start_matches('/')
        .to_string();
    let files: Vec<String> = first
        .iter()
        .filter(|e| e["type"] == "-")
        .filter_map(|e| e["path"].as_str().map(String::from))
        .filter(|p| p.trim_start_matches('/').starts_with(&docs_prefix))
        .collect();
    ensure!(files.len() > 50, "{} files", files.len());
    let gone_pkg = Path::new(&files[0])
        .parent()
        .context("parent")?
        .to_path_buf();
    std::fs::remove_dir_all(&gone_pkg)?;
    for f in files.iter().skip(files.len() / 2).step_by(17) {
        if Path::new(f).exists() {
            std::fs::write(f, format!("changed {f}\n"))?;
        }
    }
    for i in 0..7 {
        write(&docs.join(format!("added/new-{i}.txt")), "new\n", None)?;
    }
    let a2 = backup(&s, &token, policy).await?;

    let (ids, _) = holders(
        &s,
        &token,
        &format!("{}/keep.txt", root.display()),
        json!({}),
    )
    .await?;
    ensure!(ids.len() == 2, "{ids:?}");
    let d = s
        .ok(
            &token,
            "query($a: Int!, $b: Int!) { archiveDiff(a: $a, b: $b, first: 1000) { added removed changed total entries { path kind old { size } new { size } } } }",
            json!({"a": ids[0], "b": ids[1]}),
        )
        .await?;
    let diff = &d["archiveDiff"];
    let entries = diff["entries"].as_array().cloned().unwrap_or_default();
    let of_kind = |k: &str| -> BTreeSet<String> {
        entries
            .iter()
            .filter(|e| e["kind"] == k)
            .filter_map(|e| e["path"].as_str().map(String::from))
            .collect()
    };
    let [added, removed, changed] = borg_diff(&repo, &a1, &a2)?;
    ensure!(!added.is_empty() && !removed.is_empty() && !changed.is_empty());
    ensure!(
        of_kind("added") == added,
        "added: catalog {:?}\nborg {added:?}",
        of_kind("added")
    );
    ensure!(
        of_kind("removed") == removed,
        "removed: catalog {:?}\nborg {removed:?}",
        of_kind("removed")
    );
    ensure!(
        of_kind("changed") == changed,
        "changed: catalog {:?}\nborg {changed:?}",
        of_kind("changed")
    );
    ensure!(
        diff["added"] == added.len()
            && diff["removed"] == removed.len()
            && diff["changed"] == changed.len(),
        "{diff}"
    );
    ensure!(diff["total"] == entries.len(), "{diff}");
    for e in &entries {
        let (old, new) = (!e["old"].is_null(), !e["new"].is_null());
        let ok = match e["kind"].as_str() {
            Some("added") => !old && new,
            Some("removed") => old && !new,
            _ => old && new,
        };
        ensure!(ok, "versions of a diff entry: {e}");
    }
    // Pages of the diff add up to the whole, in path order.
    let mut paged = Vec::new();
    for offset in (0..entries.len()).step_by(9) {
        let d = s
            .ok(
                &token,
                "query($a: Int!, $b: Int!, $o: Int!) { archiveDiff(a: $a, b: $b, first: 9, offset: $o) { entries { path } } }",
                json!({"a": ids[0], "b": ids[1], "o": offset}),
            )
            .await?;
        for e in d["archiveDiff"]["entries"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            paged.push(e["path"].as_str().unwrap_or_default().to_string());
        }
    }
    let all: Vec<String> = entries
        .iter()
        .filter_map(|e| e["path"].as_str().map(String::from))
        .collect();
    ensure!(paged == all, "diff pages differ from the whole diff");
    let mut sorted = all.clone();
    sorted.sort();
    ensure!(sorted == all, "diff entries not sorted by path");

    // Browse: the children of a directory in archive 2, in pages of 4.
    let second = listing(&repo, &a2)?;
    let dir = docs.display().to_string();
    let want: Vec<String> = second
        .iter()
        .filter_map(|e| e["path"].as_str())
        .filter(|p| Path::new(p).parent() == Some(Path::new(&dir)))
        .map(String::from)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    ensure!(want.len() > 4, "{want:?}");
    let mut got = Vec::new();
    let mut offset = 0;
    loop {
        let d = s
            .ok(
                &token,
                "query($a: Int!, $d: String!, $o: Int!) { browse(archive: $a, directory: $d, first: 4, offset: $o) { total entries { path name fileType } } }",
                json!({"a": ids[1], "d": dir, "o": offset}),
            )
            .await?;
        let page = d["browse"]["entries"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        ensure!(d["browse"]["total"] == want.len(), "browse total: {d}");
        if page.is_empty() {
            break;
        }
        ensure!(page.len() <= 4);
        got.extend(
            page.iter()
                .filter_map(|e| e["path"].as_str().map(String::from)),
        );
        offset += 4;
    }
    ensure!(got == want, "browse: {got:?}\nwant {want:?}");
    // The removed package is still browsable in the first archive, not in the second.
    let gone = gone_pkg.display().to_string();
    let parent = gone_pkg.parent().context("parent")?.display().to_string();
    let names = |d: &Value| -> Vec<String> {
        d["browse"]["entries"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter_map(|e| e["path"].as_str().map(String::from))
            .collect()
    };
    let q = "query($a: Int!, $d: String!) { browse(archive: $a, directory: $d, first: 1000) { total entries { path } } }";
    let before = s.ok(&token, q, json!({"a": ids[0], "d": parent})).await?;
    let after = s.ok(&token, q, json!({"a": ids[1], "d": parent})).await?;
    ensure!(names(&before).contains(&gone) && !names(&after).contains(&gone));
    let top = s.ok(&token, q, json!({"a": ids[1], "d": "/"})).await?;
    ensure!(top["browse"]["total"].as_i64() >= Some(1), "{top}");
    Ok(())
}

//! Unit tests of the exact search plans: name words and substrings as phrases, globs
//! anchored by the name markers, path prefixes from the path column, exact paths from the
//! parent directory; every answer checked against a plain scan of the listing.

use crate::query::Glob;
use crate::tests::{archive, ingest, opts, text};
use crate::*;
use std::collections::BTreeSet;

const NAMES: &[&str] = &[
    "nginx.conf",
    "nginx-conf.d",
    "my-nginx.conf.bak",
    "NGINX.CONF",
    "conf.nginx",
    "nginxconf",
    "ab",
    "b",
    "x.c",
    "abc.C",
    "aaaa",
    "a.sql.gz",
    "gz",
    "été.txt",
    "Été-2024.TXT",
];

fn entries() -> Vec<(String, &'static str, u64, u32)> {
    let mut v = vec![
        ("etc".to_string(), "d", 0, 1),
        ("etc/ngi".to_string(), "d", 0, 1),
        ("etc/nginx".to_string(), "d", 0, 1),
        ("etc/nginx/sub".to_string(), "d", 0, 1),
    ];
    for (i, n) in NAMES.iter().enumerate() {
        let dir = ["etc/nginx", "etc/nginx/sub", "etc/ngi"][i % 3];
        v.push((format!("{dir}/{n}"), "-", 10 + i as u64, 1));
    }
    v
}

fn found(cat: &Catalog, q: &str) -> BTreeSet<String> {
    let page = cat.search(&text(q)).expect("search");
    assert_eq!(page.total as usize, page.hits.len(), "{q}: total");
    page.hits.into_iter().map(|h| h.path).collect()
}

fn scan(pred: impl Fn(&str, &str) -> bool) -> BTreeSet<String> {
    entries()
        .into_iter()
        .map(|e| format!("/{}", e.0))
        .filter(|p| pred(p, p.rsplit('/').next().unwrap_or(p)))
        .collect()
}

fn words(s: &str) -> Vec<String> {
    crate::schema::words(s)
}

#[test]
fn exact_plans_match_a_scan() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cat = Catalog::open_with(dir.path(), opts()).expect("open");
    let list = entries();
    let borrowed: Vec<(&str, &str, u64, u32)> =
        list.iter().map(|e| (e.0.as_str(), e.1, e.2, e.3)).collect();
    ingest(&cat, &archive(1, 1, 2), &borrowed);

    let name_query = |q: &str| {
        let lc = q.to_lowercase();
        let ws = words(q);
        scan(move |_, n| {
            let n = n.to_lowercase();
            let nw = words(&n);
            (lc.chars().count() >= 2 && n.contains(&lc))
                || (!ws.is_empty() && nw.windows(ws.len()).any(|w| w == ws))
        })
    };
    for q in [
        "nginx.conf",
        "NGINX",
        "ginx",
        "conf.d",
        "ab",
        "aaa",
        "sql.gz",
        "été",
        "x.c",
    ] {
        assert_eq!(found(&cat, q), name_query(q), "name {q:?}");
    }
    for g in [
        "*.c", "nginx*", "*conf", "*.CONF", "?b", "a*", "*a*a*", "*", "*.sql.gz", "*gz", "*.txt",
        "été*", "n*x.c*", "*.?",
    ] {
        let glob = Glob::new(&g.to_lowercase());
        assert_eq!(
            found(&cat, g),
            scan(|_, n| glob.matches(&n.to_lowercase())),
            "glob {g:?}"
        );
    }
    for g in [
        "/etc/nginx/*.conf",
        "/etc/*/*.c",
        "/etc/ngi*",
        "etc/nginx/sub/*",
        "/etc/*/*.CONF",
    ] {
        let full = if g.starts_with('/') {
            g.to_string()
        } else {
            format!("/{g}")
        };
        let glob = Glob::new(&full);
        assert_eq!(
            found(&cat, g),
            scan(|p, _| glob.matches(p)),
            "path glob {g:?}"
        );
    }
    // A directory prefix, an exact path, and a string prefix when no path is exactly it.
    assert_eq!(
        found(&cat, "/etc/nginx/"),
        scan(|p, _| p.starts_with("/etc/nginx/"))
    );
    assert_eq!(
        found(&cat, "/etc/ngi"),
        BTreeSet::from(["/etc/ngi".to_string()])
    );
    assert_eq!(
        found(&cat, "/etc/nginx/sub/x"),
        scan(|p, _| p.starts_with("/etc/nginx/sub/x"))
    );
    assert_eq!(found(&cat, "/nope"), BTreeSet::new());
    // History of one path goes through its parent directory.
    let h = cat
        .file_history(model::ClientId(1), "etc/nginx/ab")
        .expect("history");
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].version.path, "/etc/nginx/ab");
}

#[test]
fn names_containing_the_text_as_typed_come_first_on_every_page() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cat = Catalog::open_with(dir.path(), opts()).expect("open");
    let names = ["a<img.svg", "qemu-img", "b<IMG.html", "img-tool", "imgs"];
    let mut entries: Vec<(String, &str, u64, u32)> = vec![("srv".into(), "d", 0, 1)];
    entries.extend(names.iter().map(|n| (format!("srv/{n}"), "-", 1, 1)));
    let borrowed: Vec<_> = entries
        .iter()
        .map(|(p, t, s, m)| (p.as_str(), *t, *s, *m))
        .collect();
    ingest(&cat, &archive(1, 1, 1), &borrowed);
    let want = ["b<IMG.html", "a<img.svg", "img-tool", "qemu-img"];
    let page = cat.search(&text("<img")).expect("search");
    let got: Vec<&str> = page.hits.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(got, want);
    assert_eq!(page.total, 4);
    // One hit a page: the same order, across the two ranks.
    let mut q = text("<img");
    q.limit = 1;
    let mut paged = Vec::new();
    loop {
        let p = cat.search(&q).expect("page");
        assert_eq!(p.total, 4);
        paged.extend(p.hits.into_iter().map(|h| h.name));
        match p.next_cursor {
            Some(c) => q.cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(paged, want);
    // A plain word has one rank, newest first.
    let plain = cat.search(&text("img")).expect("plain");
    assert!(plain.next_cursor.is_none() && plain.total >= 4);
}

#[test]
fn sorted_by_path_or_size_pages_by_offset() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cat = Catalog::open_with(dir.path(), opts()).expect("open");
    let entries = [
        ("d", "d", 0, 1),
        ("d/b.log", "-", 30, 1),
        ("d/a.log", "-", 10, 1),
        ("d/c.log", "-", 20, 1),
    ];
    ingest(&cat, &archive(1, 1, 1), &entries);
    let collect = |order: SearchOrder| {
        let mut q = text("*.log");
        q.order = order;
        q.limit = 2;
        let mut out = Vec::new();
        loop {
            let p = cat.search(&q).expect("page");
            assert_eq!(p.total, 3);
            out.extend(p.hits.into_iter().map(|h| h.name));
            match p.next_cursor {
                Some(c) => q.cursor = Some(c),
                None => return out,
            }
        }
    };
    assert_eq!(collect(SearchOrder::Path), ["a.log", "b.log", "c.log"]);
    assert_eq!(collect(SearchOrder::Largest), ["b.log", "c.log", "a.log"]);
    let mut bad = text("*.log");
    bad.order = SearchOrder::Path;
    bad.cursor = Some("v3".into());
    assert!(
        cat.search(&bad).is_err(),
        "a newest-first cursor is not an offset"
    );
}

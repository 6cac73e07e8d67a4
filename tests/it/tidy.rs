//! Tidy checks of the source tree, like rust-analyzer's: every `.rs` file opens with a `//!`
//! line saying what it is for and has at most 600 lines; `web/src/rest` never names
//! `async_graphql` (REST calls services, never GraphQL); and the crate edges listed in
//! ARCHITECTURE.md ("Crate edges") are exactly the workspace dependencies of the Cargo.toml files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const MAX_LINES: usize = 600;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every file below `dir` with the extension, skipping build output, hidden directories and
/// crates vendored for an offline image build (`docker/vendor`).
fn files(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name == "target" || path.ends_with("docker/vendor") {
            continue;
        }
        if path.is_dir() {
            files(&path, ext, out);
        } else if path.extension().is_some_and(|x| x == ext) {
            out.push(path);
        }
    }
}

fn rel(p: &Path) -> String {
    p.strip_prefix(root()).unwrap_or(p).display().to_string()
}

#[test]
fn every_source_file_says_what_it_is_for_and_stays_small() {
    let mut all = Vec::new();
    files(&root(), "rs", &mut all);
    assert!(all.len() > 50, "found only {} .rs files", all.len());
    let mut problems = Vec::new();
    for p in &all {
        let text = std::fs::read_to_string(p).unwrap_or_default();
        if !text.lines().next().is_some_and(|l| l.starts_with("//!")) {
            problems.push(format!("{}: the first line is not a `//!` comment", rel(p)));
        }
        let n = text.lines().count();
        if n > MAX_LINES {
            problems.push(format!("{}: {n} lines (at most {MAX_LINES})", rel(p)));
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn rest_never_names_graphql() {
    let mut rest = Vec::new();
    files(&root().join("web/src/rest"), "rs", &mut rest);
    assert!(!rest.is_empty(), "web/src/rest has no .rs file");
    let mut problems = Vec::new();
    for p in &rest {
        let text = std::fs::read_to_string(p).unwrap_or_default();
        for (i, line) in text.lines().enumerate() {
            if line.contains("async_graphql") || line.contains("async-graphql") {
                problems.push(format!("{}:{}: {}", rel(p), i + 1, line.trim()));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "REST must call services, not GraphQL:\n{}",
        problems.join("\n")
    );
}

type Edges = BTreeMap<String, BTreeSet<String>>;

/// The edges of ARCHITECTURE.md: the first fenced block after the "## Crate edges" heading,
/// one `crate -> dep, dep` per line (`-` for none), `#` starting a comment.
fn documented_edges(text: &str) -> Result<Edges, String> {
    let section = text
        .split_once("\n## Crate edges")
        .ok_or("ARCHITECTURE.md has no \"## Crate edges\" section")?
        .1;
    let block = section
        .split_once("```")
        .and_then(|(_, rest)| rest.split_once('\n'))
        .and_then(|(_, rest)| rest.split_once("```"))
        .ok_or("the \"Crate edges\" section has no fenced block")?
        .0;
    let mut edges = Edges::new();
    for (i, line) in block.lines().enumerate() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let (from, to) = line
            .split_once("->")
            .ok_or_else(|| format!("crate edges line {}: expected `crate -> deps`", i + 1))?;
        let deps = to
            .split(',')
            .map(str::trim)
            .filter(|d| !d.is_empty() && *d != "-")
            .map(String::from)
            .collect();
        if edges.insert(from.trim().to_string(), deps).is_some() {
            return Err(format!("crate {} is listed twice", from.trim()));
        }
    }
    Ok(edges)
}

fn manifest(path: &Path) -> toml::Table {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", rel(path)));
    text.parse()
        .unwrap_or_else(|e| panic!("{}: not TOML: {e}", rel(path)))
}

/// The names a dependency table gives to packages (`package = ` renames included).
fn dependency_packages(table: Option<&toml::Value>) -> Vec<String> {
    let Some(t) = table.and_then(|t| t.as_table()) else {
        return Vec::new();
    };
    t.iter()
        .map(|(key, spec)| {
            spec.get("package")
                .and_then(|p| p.as_str())
                .unwrap_or(key)
                .to_string()
        })
        .collect()
}

/// The edges of the Cargo.toml files: for the root package and every workspace member, the
/// workspace packages among its `[dependencies]` and `[build-dependencies]` (target-specific
/// ones included; dev-dependencies are not edges).
fn cargo_edges() -> Edges {
    let root_manifest = manifest(&root().join("Cargo.toml"));
    let members: Vec<String> = root_manifest["workspace"]["members"]
        .as_array()
        .expect("workspace.members")
        .iter()
        .filter_map(|m| m.as_str().map(String::from))
        .collect();
    let mut manifests = vec![root_manifest];
    for m in &members {
        manifests.push(manifest(&root().join(m).join("Cargo.toml")));
    }
    let name = |m: &toml::Table| {
        m["package"]["name"]
            .as_str()
            .expect("package.name")
            .to_string()
    };
    let packages: BTreeSet<String> = manifests.iter().map(name).collect();
    let mut edges = Edges::new();
    for m in &manifests {
        let mut deps = dependency_packages(m.get("dependencies"));
        deps.extend(dependency_packages(m.get("build-dependencies")));
        for target in m
            .get("target")
            .and_then(|t| t.as_table())
            .into_iter()
            .flatten()
        {
            deps.extend(dependency_packages(target.1.get("dependencies")));
            deps.extend(dependency_packages(target.1.get("build-dependencies")));
        }
        let deps = deps.into_iter().filter(|d| packages.contains(d)).collect();
        edges.insert(name(m), deps);
    }
    edges
}

#[test]
fn architecture_lists_the_crate_edges_of_the_manifests() {
    let text = std::fs::read_to_string(root().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let documented = documented_edges(&text).unwrap_or_else(|e| panic!("ARCHITECTURE.md: {e}"));
    let actual = cargo_edges();
    let mut problems = Vec::new();
    for (krate, deps) in &actual {
        match documented.get(krate) {
            None => problems.push(format!(
                "{krate} is missing from ARCHITECTURE.md's crate edges"
            )),
            Some(doc) => {
                for d in deps.difference(doc) {
                    problems.push(format!(
                        "{krate} -> {d} is in Cargo.toml, not in ARCHITECTURE.md"
                    ));
                }
                for d in doc.difference(deps) {
                    problems.push(format!(
                        "{krate} -> {d} is in ARCHITECTURE.md, not in Cargo.toml"
                    ));
                }
            }
        }
    }
    for krate in documented.keys().filter(|k| !actual.contains_key(*k)) {
        problems.push(format!(
            "{krate} is in ARCHITECTURE.md but is no workspace package"
        ));
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn the_edge_format_is_parsed_as_documented() {
    let doc = "intro\n## Crate edges\ntext\n```text\n# comment\na -> b, c # why\nb -> c\nc -> -\n```\n## Next\n";
    let e = documented_edges(doc).unwrap();
    assert_eq!(e["a"], BTreeSet::from(["b".to_string(), "c".to_string()]));
    assert!(e["c"].is_empty());
    assert!(documented_edges("x\n## Crate edges\n```\na -> b\na -> c\n```").is_err());
    assert!(documented_edges("no section").is_err());
}

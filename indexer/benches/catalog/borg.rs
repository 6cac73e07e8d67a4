//! The real baselines: a borg repository made from real files in a temporary directory,
//! `borg list --json-lines` of its archive (what the catalog must keep ahead of), and
//! `borg list | grep` (how a question is answered without a catalog).

use crate::gen::{self, Shape};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub struct Repo {
    pub root: PathBuf,
    pub files: u64,
    pub make_files: Duration,
    pub create: Duration,
}

impl Repo {
    pub fn repo(&self) -> PathBuf {
        self.root.join("repo")
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new("borg");
        c.env("BORG_BASE_DIR", self.root.join("borgbase"))
            .env("BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK", "yes")
            .env("BORG_RELOCATED_REPO_ACCESS_IS_OK", "yes")
            .env("TZ", "UTC")
            .current_dir(&self.root);
        c
    }

    pub fn archive(&self) -> String {
        format!("{}::real1", self.repo().display())
    }
}

fn run(mut c: Command, what: &str) -> Result<(), String> {
    let out = c
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{what}: cannot run borg: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{what}: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

/// Creates about `files` real files (a Linux-like tree from the generator, small contents)
/// under `root/src` and backs them up into a new unencrypted repository.
pub fn make_repo(root: &Path, files: u64) -> Result<Repo, String> {
    let t = Instant::now();
    let src = root.join("src");
    let shape = Shape {
        entries: files,
        changed_ppm: 0,
        added_ppm: 0,
        removed_ppm: 0,
    };
    let mut listing = Vec::new();
    gen::write_listing(&shape, 0, &mut listing).map_err(|e| e.to_string())?;
    let mut n = 0;
    for line in listing.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let v: serde_json::Value = serde_json::from_slice(line).map_err(|e| e.to_string())?;
        let rel = v["path"].as_str().unwrap_or_default();
        let p = src.join(rel);
        if v["type"] == "d" {
            fs::create_dir_all(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        } else {
            let size = v["size"].as_u64().unwrap_or(0).min(512) as usize;
            let body = rel.repeat(size / rel.len().max(1) + 1);
            fs::write(&p, &body.as_bytes()[..size]).map_err(|e| format!("{}: {e}", p.display()))?;
            n += 1;
        }
    }
    let make_files = t.elapsed();
    let mut repo = Repo {
        root: root.to_path_buf(),
        files: n,
        make_files,
        create: Duration::ZERO,
    };
    let mut init = repo.cmd();
    init.args(["init", "-e", "none"]).arg(repo.repo());
    run(init, "borg init")?;
    let t = Instant::now();
    let mut create = repo.cmd();
    create
        .args(["create", "--compression", "none"])
        .arg(repo.archive())
        .arg("src");
    run(create, "borg create")?;
    repo.create = t.elapsed();
    Ok(repo)
}

/// Runs `borg list --json-lines` of the archive into `out`; returns the time it took.
pub fn list_to_file(repo: &Repo, out: &Path) -> Result<Duration, String> {
    let f = fs::File::create(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let t = Instant::now();
    let mut c = repo.cmd();
    c.args(["list", "--json-lines"])
        .arg(repo.archive())
        .stdout(f);
    run(c, "borg list")?;
    Ok(t.elapsed())
}

/// Times `borg list --json-lines ARCHIVE | grep -c PATTERN`; returns the time and the count.
pub fn list_grep(repo: &Repo, pattern: &str) -> Result<(Duration, u64), String> {
    let t = Instant::now();
    let mut c = repo.cmd();
    c.args(["list", "--json-lines"])
        .arg(repo.archive())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut list = c.spawn().map_err(|e| format!("borg list: {e}"))?;
    let stdout = list
        .stdout
        .take()
        .ok_or_else(|| "borg list: no stdout".to_string())?;
    let out = Command::new("grep")
        .args(["-c", "--", pattern])
        .stdin(stdout)
        .output()
        .map_err(|e| format!("grep: {e}"))?;
    let status = list.wait().map_err(|e| format!("borg list: {e}"))?;
    if !status.success() {
        return Err(format!("borg list | grep: borg {status}"));
    }
    let count = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    Ok((t.elapsed(), count))
}

//! The few borg commands self-backups need, run on this machine as argument lists. The
//! passphrase travels in the child's environment (never on a command line); borg never
//! prompts (`BatchMode` for ssh, no stdin) and its relocation/unencrypted prompts are not
//! silenced: self-backup repositories are always encrypted.

use anyhow::{bail, Context, Result};
use model::Secret;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// How long borg waits for the repository lock of another borg.
const LOCK_WAIT_SECONDS: &str = "300";

/// A self-backup repository and how to reach it.
pub struct LocalBorg {
    repository: String,
    passphrase: Secret,
    /// `BORG_BASE_DIR`: borg's cache and security records for this repository.
    base_dir: PathBuf,
}

/// One archive of `borg list --json`.
#[derive(Debug, Deserialize)]
pub struct ArchiveEntry {
    pub name: String,
    pub time: String,
}

#[derive(Deserialize)]
struct ListJson {
    archives: Vec<ArchiveEntry>,
}

/// `borg create --json` statistics of the new archive.
#[derive(Debug, Default, Deserialize)]
pub struct CreateStats {
    pub original_size: u64,
    pub deduplicated_size: u64,
}

#[derive(Deserialize)]
struct CreateArchive {
    stats: CreateStats,
}

#[derive(Deserialize)]
struct CreateJson {
    archive: CreateArchive,
}

/// The last lines of borg's stderr, for an error message.
fn tail(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(5)..].join("\n")
}

impl LocalBorg {
    pub fn new(repository: String, passphrase: Secret, base_dir: PathBuf) -> LocalBorg {
        LocalBorg {
            repository,
            passphrase,
            base_dir,
        }
    }

    pub fn repository(&self) -> &str {
        &self.repository
    }

    fn command(&self, sub: &str) -> Result<Command> {
        std::fs::create_dir_all(&self.base_dir)
            .with_context(|| format!("cannot create {}", self.base_dir.display()))?;
        let mut c = Command::new("borg");
        c.arg(sub)
            .env("BORG_PASSPHRASE", self.passphrase.expose())
            .env("BORG_BASE_DIR", &self.base_dir)
            .env("TZ", "UTC")
            .env("LANG", "C.UTF-8")
            .stdin(Stdio::null());
        if std::env::var_os("BORG_RSH").is_none() {
            c.env("BORG_RSH", "ssh -oBatchMode=yes");
        }
        Ok(c)
    }

    /// Runs borg; fails with borg's own explanation unless it exits 0 (or 1, a warning).
    fn run(&self, what: &str, mut c: Command) -> Result<Output> {
        let out = c
            .output()
            .context("running borg (is borgbackup installed?)")?;
        match out.status.code() {
            Some(0 | 1) => Ok(out),
            code => bail!(
                "borg {what} of {} failed (exit {}): {}",
                self.repository,
                code.map_or("by signal".into(), |c| c.to_string()),
                tail(&out.stderr)
            ),
        }
    }

    /// Whether the repository exists (`borg info`); other failures (wrong passphrase,
    /// unreachable host) are errors.
    pub fn exists(&self) -> Result<bool> {
        let mut c = self.command("info")?;
        c.args(["--lock-wait", LOCK_WAIT_SECONDS, "--json", &self.repository]);
        let out = c
            .output()
            .context("running borg (is borgbackup installed?)")?;
        if out.status.success() {
            return Ok(true);
        }
        let err = String::from_utf8_lossy(&out.stderr);
        if err.contains("does not exist") {
            return Ok(false);
        }
        bail!("borg info of {}: {}", self.repository, tail(&out.stderr))
    }

    /// `borg init -e repokey`: a new, encrypted repository.
    pub fn init(&self) -> Result<()> {
        let mut c = self.command("init")?;
        c.args(["-e", "repokey", &self.repository]);
        self.run("init", c)?;
        Ok(())
    }

    /// `borg create --json REPO::ARCHIVE FILES…` with `dir` as working directory, so that the
    /// archive holds the bare file names.
    pub fn create(&self, archive: &str, dir: &Path, files: &[String]) -> Result<CreateStats> {
        let mut c = self.command("create")?;
        c.args(["--lock-wait", LOCK_WAIT_SECONDS, "--json"])
            .args(["--compression", "zstd,3"])
            .arg(format!("{}::{archive}", self.repository))
            .arg("--")
            .args(files)
            .current_dir(dir);
        let out = self.run("create", c)?;
        let parsed: CreateJson = serde_json::from_slice(&out.stdout)
            .context("borg create --json printed no statistics")?;
        Ok(parsed.archive.stats)
    }

    /// `borg prune` of the self-backups, then `borg compact`.
    pub fn prune(&self, keep: super::Keep) -> Result<()> {
        let mut c = self.command("prune")?;
        c.args(["--lock-wait", LOCK_WAIT_SECONDS])
            .arg("--glob-archives")
            .arg(format!("{}*", super::ARCHIVE_PREFIX))
            .arg(format!("--keep-daily={}", keep.daily))
            .arg(format!("--keep-weekly={}", keep.weekly))
            .arg(format!("--keep-monthly={}", keep.monthly))
            .arg(&self.repository);
        self.run("prune", c)?;
        let mut c = self.command("compact")?;
        c.args(["--lock-wait", LOCK_WAIT_SECONDS, &self.repository]);
        self.run("compact", c)?;
        Ok(())
    }

    /// The self-backups of the repository, oldest first.
    pub fn self_backups(&self) -> Result<Vec<ArchiveEntry>> {
        let mut c = self.command("list")?;
        c.args(["--lock-wait", LOCK_WAIT_SECONDS, "--json"])
            .arg("--glob-archives")
            .arg(format!("{}*", super::ARCHIVE_PREFIX))
            .arg(&self.repository);
        let out = self.run("list", c)?;
        let mut list: ListJson =
            serde_json::from_slice(&out.stdout).context("borg list --json: unreadable output")?;
        list.archives.sort_by(|a, b| a.time.cmp(&b.time));
        Ok(list.archives)
    }

    /// `borg extract REPO::ARCHIVE` into `dir`.
    pub fn extract(&self, archive: &str, dir: &Path) -> Result<()> {
        let mut c = self.command("extract")?;
        c.args(["--lock-wait", LOCK_WAIT_SECONDS])
            .arg(format!("{}::{archive}", self.repository))
            .current_dir(dir);
        self.run("extract", c)?;
        Ok(())
    }
}

//! `cyborgbackup admin`: the server's own disaster recovery. `admin backup` writes a consistent
//! snapshot of the database and the master key into a borg repository of the administrator's
//! choice (also run by the server on the `self_backup.cron` schedule); `admin restore` brings a
//! server back from it on a new machine, the catalog rebuilding itself from the repositories.

mod backup;
mod borg;
mod restore;
pub mod schedule;

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use model::Secret;
use serde::Deserialize;
use std::path::{Path, PathBuf};

pub use backup::backup;

/// Archive names of self-backups start with this.
pub const ARCHIVE_PREFIX: &str = "cyborgbackup-server-";

#[derive(Subcommand)]
pub enum AdminAction {
    /// Backs the server up now: a consistent snapshot of the database and the master key into
    /// the self-backup repository (created, encrypted, when it does not exist), then prunes
    /// older self-backups. Safe while the server runs.
    Backup {
        #[command(flatten)]
        target: Target,
    },
    /// Restores a server into an empty data directory from the latest (or the named)
    /// self-backup. The catalog is rebuilt from the repositories when the server starts.
    Restore {
        #[command(flatten)]
        target: Target,
        /// Archive to restore (default: the latest `cyborgbackup-server-*`).
        #[arg(long)]
        archive: Option<String>,
        /// Moves the database, keys and catalog the data directory already holds (e.g. of a
        /// freshly installed server) to `pre-restore-<time>/` instead of refusing.
        #[arg(long)]
        replace: bool,
    },
    /// Lists the self-backups in the repository.
    ListBackups {
        #[command(flatten)]
        target: Target,
    },
}

/// Where the self-backups are; each default comes from `[self_backup]` of the configuration.
#[derive(clap::Args, Default)]
pub struct Target {
    /// Borg repository: a path, or `ssh://user@host:port/path` (default `self_backup.repository`).
    #[arg(long)]
    repository: Option<String>,
    /// File holding the repository passphrase (default `self_backup.passphrase_file`, or the
    /// CYBORG_SELF_BACKUP_PASSPHRASE environment variable).
    #[arg(long)]
    passphrase_file: Option<PathBuf>,
}

/// Retention of self-backups (`borg prune --keep-*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keep {
    pub daily: u32,
    pub weekly: u32,
    pub monthly: u32,
}

/// `[self_backup]` of the configuration, after environment overrides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelfBackupConfig {
    /// Borg repository (`repository`, `CYBORG_SELF_BACKUP_REPOSITORY`).
    pub repository: Option<String>,
    /// Passphrase file (`passphrase_file`, `CYBORG_SELF_BACKUP_PASSPHRASE_FILE`); the
    /// passphrase itself may come in `CYBORG_SELF_BACKUP_PASSPHRASE`.
    pub passphrase_file: Option<PathBuf>,
    /// When the running server backs itself up (`cron`, `CYBORG_SELF_BACKUP_CRON`), UTC.
    pub cron: Option<String>,
    /// `keep_daily`, `keep_weekly`, `keep_monthly` (defaults 7, 4, 6).
    pub keep: Keep,
}

impl Default for SelfBackupConfig {
    fn default() -> Self {
        SelfBackupConfig {
            repository: None,
            passphrase_file: None,
            cron: None,
            keep: Keep {
                daily: 7,
                weekly: 4,
                monthly: 6,
            },
        }
    }
}

/// The `[self_backup]` table as written in the TOML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelfBackupFile {
    repository: Option<String>,
    passphrase_file: Option<PathBuf>,
    cron: Option<String>,
    keep_daily: Option<u32>,
    keep_weekly: Option<u32>,
    keep_monthly: Option<u32>,
}

fn env_nonempty(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|v| !v.trim().is_empty())
}

impl SelfBackupConfig {
    pub fn apply_file(&mut self, f: SelfBackupFile) {
        self.repository = f.repository.or(self.repository.take());
        self.passphrase_file = f.passphrase_file.or(self.passphrase_file.take());
        self.cron = f.cron.or(self.cron.take());
        self.keep.daily = f.keep_daily.unwrap_or(self.keep.daily);
        self.keep.weekly = f.keep_weekly.unwrap_or(self.keep.weekly);
        self.keep.monthly = f.keep_monthly.unwrap_or(self.keep.monthly);
    }

    pub fn apply_env(&mut self) {
        if let Some(v) = env_nonempty("CYBORG_SELF_BACKUP_REPOSITORY") {
            self.repository = Some(v);
        }
        if let Some(v) = env_nonempty("CYBORG_SELF_BACKUP_PASSPHRASE_FILE") {
            self.passphrase_file = Some(PathBuf::from(v));
        }
        if let Some(v) = env_nonempty("CYBORG_SELF_BACKUP_CRON") {
            self.cron = Some(v);
        }
    }

    pub fn validate(&self) -> Result<()> {
        if let Some(r) = &self.repository {
            if r.trim().is_empty() || r.starts_with('-') {
                bail!("self_backup.repository: {r:?} is not a borg repository location");
            }
        }
        if let Some(c) = &self.cron {
            model::CronExpr::parse(c)
                .map_err(|e| anyhow::anyhow!("self_backup.cron: {c:?}: {e}"))?;
            if self.repository.is_none() {
                bail!("self_backup.repository: required with self_backup.cron");
            }
        }
        if let Some(f) = &self.passphrase_file {
            if !f.is_absolute() {
                bail!(
                    "self_backup.passphrase_file: {} must be an absolute path",
                    f.display()
                );
            }
        }
        Ok(())
    }

    /// The repository location, with the command-line override.
    fn repository(&self, flag: Option<String>) -> Result<String> {
        flag.or_else(|| self.repository.clone())
            .filter(|r| !r.trim().is_empty())
            .context(
                "self_backup.repository: no self-backup repository (--repository, \
                 [self_backup] repository, or CYBORG_SELF_BACKUP_REPOSITORY)",
            )
    }

    /// The repository passphrase: the file given, else CYBORG_SELF_BACKUP_PASSPHRASE, else the
    /// configured file. Self-backups hold the master key: the repository must be encrypted.
    pub fn passphrase(&self, flag: Option<&Path>) -> Result<Secret> {
        let from_file = |f: &Path| -> Result<Secret> {
            let text = std::fs::read_to_string(f).with_context(|| {
                format!("self_backup.passphrase_file: cannot read {}", f.display())
            })?;
            let p = text.trim_end_matches(['\n', '\r']);
            if p.is_empty() {
                bail!("self_backup.passphrase_file: {} is empty", f.display());
            }
            Ok(Secret::new(p))
        };
        if let Some(f) = flag {
            return from_file(f);
        }
        if let Ok(p) = std::env::var("CYBORG_SELF_BACKUP_PASSPHRASE") {
            if !p.is_empty() {
                return Ok(Secret::new(p));
            }
        }
        match &self.passphrase_file {
            Some(f) => from_file(f),
            None => bail!(
                "self_backup.passphrase_file: no passphrase for the self-backup repository \
                 (--passphrase-file, [self_backup] passphrase_file, or \
                 CYBORG_SELF_BACKUP_PASSPHRASE); it holds the master key, so it is always encrypted"
            ),
        }
    }

    /// The repository and its passphrase, ready for borg.
    fn borg(&self, data_dir: &Path, target: Target) -> Result<borg::LocalBorg> {
        let repository = self.repository(target.repository)?;
        let passphrase = self.passphrase(target.passphrase_file.as_deref())?;
        Ok(borg::LocalBorg::new(
            repository,
            passphrase,
            data_dir.join("self-backup").join("borg"),
        ))
    }
}

/// Runs an `admin` subcommand.
pub fn run(data_dir: &Path, cfg: &SelfBackupConfig, action: AdminAction) -> Result<()> {
    match action {
        AdminAction::Backup { target } => {
            let borg = cfg.borg(data_dir, target)?;
            let r = backup(data_dir, &borg, cfg.keep)?;
            println!(
                "self-backup {} written to {}: {} (database snapshot at schema version {}), \
                 {} bytes, {} bytes new",
                r.archive,
                borg.repository(),
                r.files.join(", "),
                r.schema_version,
                r.original_size,
                r.deduplicated_size
            );
            Ok(())
        }
        AdminAction::Restore {
            target,
            archive,
            replace,
        } => {
            let borg = cfg.borg(data_dir, target)?;
            let opts = restore::RestoreOptions {
                archive: archive.as_deref(),
                replace,
            };
            restore::restore(data_dir, &borg, opts)
        }
        AdminAction::ListBackups { target } => {
            let borg = cfg.borg(data_dir, target)?;
            for a in borg.self_backups()? {
                println!("{}\t{}", a.name, a.time);
            }
            Ok(())
        }
    }
}

//! One self-backup: a consistent snapshot of the live database (SQLite's online backup API),
//! the key files of the data directory (the master key that seals every stored secret) and a
//! manifest, staged in a private directory and written by borg as one archive
//! `cyborgbackup-server-<UTC time>`; then older self-backups are pruned. The catalog and
//! borg's caches are not included: they are derived from the repositories.

use super::borg::LocalBorg;
use super::{Keep, ARCHIVE_PREFIX};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use store::DATABASE_FILE;

/// File name of the manifest inside a self-backup.
pub const MANIFEST_FILE: &str = "cyborgbackup-manifest.json";

/// What a self-backup holds, written beside the snapshot.
#[derive(Debug, Serialize, Deserialize)]
pub struct Manifest {
    /// Format of the self-backup (1).
    pub format: u32,
    /// Version of the cyborgbackup that wrote it.
    pub version: String,
    /// Database schema version of the snapshot.
    pub schema_version: i64,
    /// When it was taken (RFC 3339, UTC).
    pub created: String,
    /// The files besides the manifest: the database, then the key files.
    pub files: Vec<String>,
}

/// The outcome of a self-backup.
#[derive(Debug)]
pub struct BackupReport {
    pub archive: String,
    pub files: Vec<String>,
    pub schema_version: i64,
    pub original_size: u64,
    pub deduplicated_size: u64,
}

/// Top-level regular files of the data directory that are not the database: the master key
/// and any other key file kept there.
fn key_files(data_dir: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(data_dir)
        .with_context(|| format!("data_dir: cannot read {}", data_dir.display()))?
    {
        let e = e?;
        if !e.file_type()?.is_file() {
            continue;
        }
        let name = e.file_name().to_string_lossy().into_owned();
        let is_db = name == DATABASE_FILE
            || ["-wal", "-shm", "-journal"]
                .iter()
                .any(|s| name == format!("{DATABASE_FILE}{s}"));
        if !is_db && !name.starts_with('.') {
            out.push(name);
        }
    }
    out.sort();
    Ok(out)
}

/// Backs the server in `data_dir` up into `borg`'s repository (created when missing), then
/// prunes older self-backups by `keep`.
pub fn backup(data_dir: &Path, borg: &LocalBorg, keep: Keep) -> Result<BackupReport> {
    let db = data_dir.join(DATABASE_FILE);
    if !db.exists() {
        anyhow::bail!(
            "data_dir: no database at {}: nothing to back up",
            db.display()
        );
    }
    let work = data_dir.join("self-backup");
    std::fs::create_dir_all(&work).with_context(|| format!("cannot create {}", work.display()))?;
    let stage = tempfile::Builder::new()
        .prefix("staging-")
        .tempdir_in(&work)
        .context("creating the staging directory")?;
    std::fs::set_permissions(stage.path(), std::fs::Permissions::from_mode(0o700))?;

    store::snapshot_database(&db, &stage.path().join(DATABASE_FILE))
        .context("snapshot of the database")?;
    let schema_version = store::database_schema_version(&stage.path().join(DATABASE_FILE))?;
    let mut files = vec![DATABASE_FILE.to_string()];
    for name in key_files(data_dir)? {
        let to = stage.path().join(&name);
        std::fs::copy(data_dir.join(&name), &to)
            .with_context(|| format!("copying {name} from the data directory"))?;
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600))?;
        files.push(name);
    }
    let now = chrono::Utc::now();
    let manifest = Manifest {
        format: 1,
        version: env!("CARGO_PKG_VERSION").into(),
        schema_version,
        created: now.to_rfc3339(),
        files: files.clone(),
    };
    std::fs::write(
        stage.path().join(MANIFEST_FILE),
        serde_json::to_vec_pretty(&manifest)?,
    )?;
    let mut names = files.clone();
    names.push(MANIFEST_FILE.into());

    if !borg.exists()? {
        tracing::info!(
            repository = borg.repository(),
            "creating the self-backup repository"
        );
        borg.init()?;
    }
    let archive = format!("{ARCHIVE_PREFIX}{}", now.format("%Y-%m-%dT%H:%M:%S%.3f"));
    let stats = borg.create(&archive, stage.path(), &names)?;
    borg.prune(keep)?;
    tracing::info!(
        archive,
        repository = borg.repository(),
        bytes = stats.original_size,
        "self-backup written"
    );
    Ok(BackupReport {
        archive,
        files,
        schema_version,
        original_size: stats.original_size,
        deduplicated_size: stats.deduplicated_size,
    })
}

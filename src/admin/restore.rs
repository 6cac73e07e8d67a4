//! `admin restore`: a self-backup extracted into a data directory. The database snapshot and
//! the key files are put in place (what the directory held before is refused, or moved aside
//! with `--replace`), the restored master key is proven to open the stored secrets, and every
//! archive's catalog is marked pending: the server lists them again from their repositories
//! at its next start, so the catalog rebuilds itself.

use super::backup::{Manifest, MANIFEST_FILE};
use super::borg::LocalBorg;
use anyhow::{bail, Context, Result};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use store::DATABASE_FILE;

/// Options of a restore.
pub struct RestoreOptions<'a> {
    /// The archive to restore; the latest self-backup when `None`.
    pub archive: Option<&'a str>,
    /// Move what the data directory holds to `pre-restore-<time>/` instead of refusing.
    pub replace: bool,
}

/// A name from a manifest that is a plain file name, not a path.
fn plain_name(n: &str) -> bool {
    !n.is_empty() && n != "." && n != ".." && !n.contains('/') && !n.contains('\0')
}

/// Refuses a data directory whose catalog a running server holds.
fn refuse_running_server(data_dir: &Path) -> Result<()> {
    let catalog = data_dir.join("catalog");
    if !catalog.exists() {
        return Ok(());
    }
    match indexer::Catalog::open(&catalog) {
        Ok(c) => c.close().map_err(anyhow::Error::new),
        Err(indexer::CatalogError::Locked(_)) => bail!(
            "data_dir: a running server uses {}: stop it before restoring",
            data_dir.display()
        ),
        Err(e) => Err(anyhow::Error::new(e)),
    }
}

/// Moves the database, its journals, the key files and the catalog of `data_dir` into a new
/// `pre-restore-<time>/` directory; returns its path when anything was moved.
fn move_aside(data_dir: &Path, names: &[String]) -> Result<Option<std::path::PathBuf>> {
    let aside = data_dir.join(format!(
        "pre-restore-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%S")
    ));
    let mut moved = false;
    let mut all: Vec<String> = names.to_vec();
    all.extend(["", "-wal", "-shm", "-journal"].map(|s| format!("{DATABASE_FILE}{s}")));
    all.push("catalog".into());
    for n in &all {
        let from = data_dir.join(n);
        if from.symlink_metadata().is_ok() {
            std::fs::create_dir_all(&aside)?;
            std::fs::set_permissions(&aside, std::fs::Permissions::from_mode(0o700))?;
            std::fs::rename(&from, aside.join(n))
                .with_context(|| format!("moving {} aside", from.display()))?;
            moved = true;
        }
    }
    Ok(moved.then_some(aside))
}

/// Restores the self-backup into `data_dir`.
pub fn restore(data_dir: &Path, borg: &LocalBorg, opts: RestoreOptions<'_>) -> Result<()> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("data_dir: cannot create {}", data_dir.display()))?;
    refuse_running_server(data_dir)?;
    let backups = borg.self_backups()?;
    let archive = match opts.archive {
        Some(a) => backups
            .iter()
            .find(|b| b.name == a)
            .with_context(|| format!("archive: no self-backup {a:?} in {}", borg.repository()))?,
        None => backups
            .last()
            .with_context(|| format!("repository: no self-backup in {}", borg.repository()))?,
    };
    let work = data_dir.join("self-backup");
    std::fs::create_dir_all(&work)?;
    let stage = tempfile::Builder::new()
        .prefix("restore-")
        .tempdir_in(&work)?;
    std::fs::set_permissions(stage.path(), std::fs::Permissions::from_mode(0o700))?;
    borg.extract(&archive.name, stage.path())?;
    let manifest: Manifest = serde_json::from_slice(
        &std::fs::read(stage.path().join(MANIFEST_FILE))
            .with_context(|| format!("{} holds no {MANIFEST_FILE}", archive.name))?,
    )
    .with_context(|| format!("{MANIFEST_FILE} of {} is unreadable", archive.name))?;
    if manifest.format != 1 {
        bail!(
            "{}: self-backup format {} is unknown to this cyborgbackup",
            archive.name,
            manifest.format
        );
    }
    if manifest.schema_version > store::SCHEMA_VERSION {
        bail!(
            "{}: written by cyborgbackup {} (database schema {}); this binary knows schema {}: \
             install cyborgbackup {} or newer to restore it",
            archive.name,
            manifest.version,
            manifest.schema_version,
            store::SCHEMA_VERSION,
            manifest.version
        );
    }
    if manifest.files.first().map(String::as_str) != Some(DATABASE_FILE)
        || !manifest.files.iter().all(|n| plain_name(n))
    {
        bail!(
            "{}: {MANIFEST_FILE} lists unexpected files: {:?}",
            archive.name,
            manifest.files
        );
    }
    let keys = &manifest.files[1..];
    let occupied: Vec<&String> = manifest
        .files
        .iter()
        .filter(|n| data_dir.join(n).exists())
        .collect();
    if !occupied.is_empty() {
        if !opts.replace {
            bail!(
                "data_dir: {} already holds {}: restore into an empty data directory, or pass \
                 --replace to move them aside first",
                data_dir.display(),
                occupied
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        if let Some(aside) = move_aside(data_dir, keys)? {
            println!(
                "moved the previous database, keys and catalog to {}",
                aside.display()
            );
        }
    }
    // Keys first, the database last: a database is never left without its master key.
    for n in keys.iter().chain(std::iter::once(&manifest.files[0])) {
        let from = stage.path().join(n);
        std::fs::set_permissions(&from, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("{} lacks {n}", archive.name))?;
        std::fs::rename(&from, data_dir.join(n))
            .with_context(|| format!("putting {n} into {}", data_dir.display()))?;
    }
    drop(stage);
    let summary = verify(data_dir)?;
    crate::catalog_cmd::rebuild(
        &store::StoreOptions {
            data_dir: data_dir.into(),
            postgres: None,
        },
        None,
    )?;
    println!(
        "restored {} (taken {} by cyborgbackup {}) into {}: {summary}",
        archive.name,
        manifest.created,
        manifest.version,
        data_dir.display()
    );
    println!(
        "start the server: it lists every archive again from its repository to rebuild the catalog"
    );
    Ok(())
}

/// Opens the restored database (applying newer migrations) and proves the master key opens
/// the stored repository passphrases; returns a one-line inventory.
fn verify(data_dir: &Path) -> Result<String> {
    let s = store::Store::open(data_dir).context("opening the restored database")?;
    let repositories = s.repositories()?;
    for r in &repositories {
        s.repository_passphrase(r.id).with_context(|| {
            format!(
                "the restored master key does not open the passphrase of repository {}",
                r.name
            )
        })?;
    }
    Ok(format!(
        "{} users, {} clients, {} repositories, {} policies, {} archives",
        s.user_count()?,
        s.clients()?.len(),
        repositories.len(),
        s.policies()?.len(),
        s.archives(None, None, None)?.len()
    ))
}

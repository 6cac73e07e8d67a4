//! Process set-up: the data directory is private — created 0700, everything the process creates
//! is 0600/0700 (umask 077), and files left readable by others (an older version, a copy) are
//! tightened at start-up (the database and its WAL, `master.key`, the catalog); and large
//! allocations go back to the system when freed.

use anyhow::{Context, Result};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;

/// Makes every file this process creates from now on private to its user.
pub fn private_umask() {
    // SAFETY: umask only swaps the process's file-mode creation mask; it cannot fail.
    unsafe {
        libc::umask(0o077);
    }
}

/// Returns large allocations (argon2's 19 MiB per password check, big buffers) to the system
/// when freed. By default glibc raises its mmap threshold after the first such free and then
/// keeps the memory in per-thread arenas: a burst of logins left hundreds of MiB resident.
pub fn release_large_allocations() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; a fixed threshold also turns off the
    // dynamic adjustment.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

/// Creates `dir` (0700) when missing and removes group and other permissions from it and from
/// everything below it. Symbolic links are not followed.
pub fn prepare(dir: &Path) -> Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("data_dir: cannot create {}", dir.display()))?;
    let tightened = tighten(dir)
        .with_context(|| format!("data_dir: cannot restrict permissions in {}", dir.display()))?;
    if tightened > 0 {
        tracing::warn!(
            data_dir = %dir.display(),
            files = tightened,
            "data directory entries were readable by other users; restricted them to the owner"
        );
    }
    Ok(())
}

/// Clears the group/other bits of `path` and, for a directory, of its entries; returns how many
/// entries changed.
fn tighten(path: &Path) -> std::io::Result<usize> {
    let meta = std::fs::symlink_metadata(path)?;
    if meta.file_type().is_symlink() {
        return Ok(0);
    }
    let mut n = 0;
    let mode = meta.permissions().mode();
    if mode & 0o077 != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o7700))?;
        n += 1;
    }
    if meta.is_dir() {
        for entry in std::fs::read_dir(path)? {
            n += tighten(&entry?.path())?;
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tightens_a_loose_tree() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("data");
        prepare(&dir).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        std::fs::create_dir(dir.join("catalog")).unwrap();
        std::fs::write(dir.join("catalog/state.json"), "{}").unwrap();
        std::fs::write(dir.join("cyborgbackup.db"), "").unwrap();
        for p in ["", "catalog", "catalog/state.json", "cyborgbackup.db"] {
            std::fs::set_permissions(dir.join(p), std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        prepare(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("catalog")), 0o700);
        assert_eq!(mode(&dir.join("catalog/state.json")), 0o700);
        assert_eq!(mode(&dir.join("cyborgbackup.db")), 0o700);
    }
}

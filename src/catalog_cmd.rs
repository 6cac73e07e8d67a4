//! `cyborgbackup catalog rebuild [--repository ID]`: drops the catalog (or one repository's
//! part of it) and marks the archives pending; the server lists them again with borg and
//! re-ingests them when it next starts.

use anyhow::{Context, Result};
use clap::Subcommand;
use model::{CatalogState, RepositoryId};

#[derive(Subcommand)]
pub enum CatalogAction {
    /// Re-creates the catalog index from borg: wipes it (or only the archives of one
    /// repository) and marks the archives pending, to be listed again at the next server start.
    Rebuild {
        /// Only the archives of this repository.
        #[arg(long)]
        repository: Option<i64>,
    },
}

pub fn run(store: &store::StoreOptions, action: CatalogAction) -> Result<()> {
    match action {
        CatalogAction::Rebuild { repository } => rebuild(store, repository.map(RepositoryId)),
    }
}

fn locked_hint(e: indexer::CatalogError) -> anyhow::Error {
    match e {
        indexer::CatalogError::Locked(_) => anyhow::anyhow!(
            "the catalog is in use by a running server: stop it, rebuild, then start it again"
        ),
        other => anyhow::Error::new(other),
    }
}

pub(crate) fn rebuild(
    options: &store::StoreOptions,
    repository: Option<RepositoryId>,
) -> Result<()> {
    let data_dir = &options.data_dir;
    let store = store::Store::open_with(options)?;
    if let Some(r) = repository {
        store
            .repository(r)
            .with_context(|| format!("repository: no repository {r}"))?;
    }
    let catalog_dir = data_dir.join("catalog");
    let dropped = match repository {
        None => {
            let n = if catalog_dir.exists() {
                indexer::Catalog::open(&catalog_dir)
                    .map_err(locked_hint)?
                    .archive_ids()
                    .len()
            } else {
                0
            };
            indexer::Catalog::wipe(&catalog_dir).map_err(locked_hint)?;
            n
        }
        Some(r) => {
            let cat = indexer::Catalog::open(&catalog_dir).map_err(locked_hint)?;
            let ids = cat.archives_in_repository(r);
            cat.forget_many(&ids).map_err(locked_hint)?.len()
        }
    };
    let archives = store.archives(repository, None, None)?;
    for a in &archives {
        store.set_catalog_state(a.id, CatalogState::Pending, "", None)?;
    }
    let scope = match repository {
        Some(r) => format!("repository {r}"),
        None => "every repository".to_string(),
    };
    println!(
        "catalog of {scope}: {dropped} archives dropped from the index, {} archives marked pending",
        archives.len()
    );
    if !archives.is_empty() {
        println!("the server lists them again with borg and re-ingests them on its next start");
    }
    Ok(())
}

//! `cyborgbackup migrate-to-postgres`: copies this server's SQLite database into an empty
//! PostgreSQL database, printing each table as it lands.

use crate::config::Config;
use anyhow::{bail, Context, Result};

pub fn run(cfg: &Config, to: &str) -> Result<()> {
    if cfg.database_url.is_some() {
        bail!("--database-url: the source is the SQLite database of the data directory; leave --database-url (and CYBORG_DATABASE_URL) out and give the target with --to");
    }
    let target = store::PgConfig::parse(to).map_err(|e| anyhow::anyhow!("--to: {e}"))?;
    let db = cfg.data_dir.join(store::DATABASE_FILE);
    if !db.exists() {
        bail!(
            "no database at {}: give the data directory of the server to move (--data-dir)",
            db.display()
        );
    }
    let from =
        store::Store::open(&cfg.data_dir).with_context(|| format!("opening {}", db.display()))?;
    let into = store::Store::open_with(&store::StoreOptions {
        data_dir: cfg.data_dir.clone(),
        postgres: Some(target.clone()),
    })
    .with_context(|| format!("opening {}", target.redacted()))?;
    eprintln!(
        "copying {} into {} (one transaction: nothing is kept if it fails)",
        db.display(),
        target.redacted()
    );
    let copied = from.copy_into(&into, |t| eprintln!("  {:<24} {:>9} rows", t.table, t.rows))?;
    let rows: usize = copied.iter().map(|t| t.rows).sum();
    println!(
        "copied {} tables, {rows} rows, into {} at schema version {}; start the server with \
         --database-url (every node needs {} from this data directory)",
        copied.len(),
        target.redacted(),
        into.schema_version()?,
        cfg.data_dir.join("master.key").display()
    );
    Ok(())
}

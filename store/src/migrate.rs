//! Embedded, append-only schema migrations; refuses a database newer than the binary.

use crate::db::{Backend, Conn};
use crate::{now, Result, StoreError};

/// `(version, name, sql)` of every migration, in order.
pub const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "initial",
        include_str!("../../migrations/0001_initial.sql"),
    ),
    (
        2,
        "host_keys",
        include_str!("../../migrations/0002_host_keys.sql"),
    ),
    (
        3,
        "stats_mail",
        include_str!("../../migrations/0003_stats_mail.sql"),
    ),
    (
        4,
        "job_extra_vars",
        include_str!("../../migrations/0004_job_extra_vars.sql"),
    ),
    (
        5,
        "archive_anomaly",
        include_str!("../../migrations/0005_archive_anomaly.sql"),
    ),
    (
        6,
        "restore_tests",
        include_str!("../../migrations/0006_restore_tests.sql"),
    ),
    (
        7,
        "vm_providers",
        include_str!("../../migrations/0007_vm_providers.sql"),
    ),
    (
        8,
        "client_os",
        include_str!("../../migrations/0008_client_os.sql"),
    ),
    (
        9,
        "repository_free_space",
        include_str!("../../migrations/0009_repository_free_space.sql"),
    ),
    (
        10,
        "roles_grants",
        include_str!("../../migrations/0010_roles_grants.sql"),
    ),
    (
        11,
        "policy_secrets",
        include_str!("../../migrations/0011_policy_secrets.sql"),
    ),
    (
        13,
        "repository_credentials",
        include_str!("../../migrations/0013_repository_credentials.sql"),
    ),
    (
        14,
        "repository_trust",
        include_str!("../../migrations/0014_repository_trust.sql"),
    ),
    (
        15,
        "overdue_alerts",
        include_str!("../../migrations/0015_overdue_alerts.sql"),
    ),
    (
        16,
        "server_health",
        include_str!("../../migrations/0016_server_health.sql"),
    ),
    (
        17,
        "policy_copies",
        include_str!("../../migrations/0017_policy_copies.sql"),
    ),
    (
        18,
        "copies_verified",
        include_str!("../../migrations/0018_copies_verified.sql"),
    ),
    (
        19,
        "cluster",
        include_str!("../../migrations/0019_cluster.sql"),
    ),
    (
        20,
        "shared_state",
        include_str!("../../migrations/0020_shared_state.sql"),
    ),
];

/// `(version, name, sql)` of the PostgreSQL migrations: a baseline equal to SQLite's schema at
/// its version, then one twin of every later SQLite migration.
pub const PG_MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        18,
        "baseline",
        include_str!("../../migrations/postgres/0018_baseline.sql"),
    ),
    (
        19,
        "cluster",
        include_str!("../../migrations/postgres/0019_cluster.sql"),
    ),
    (
        20,
        "shared_state",
        include_str!("../../migrations/postgres/0020_shared_state.sql"),
    ),
];

/// The schema version this binary writes (the highest migration).
pub const SCHEMA_VERSION: i64 = {
    let mut max = 0;
    let mut i = 0;
    while i < MIGRATIONS.len() {
        if MIGRATIONS[i].0 > max {
            max = MIGRATIONS[i].0;
        }
        i += 1;
    }
    max
};

pub(crate) fn current_version(conn: &Conn) -> Result<i64> {
    Ok(conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        [],
        |r| r.get(0),
    )?)
}

/// Key of the advisory lock nodes take while migrating a shared PostgreSQL database.
const PG_MIGRATION_LOCK: i64 = 0x6379_626f_7267;

pub(crate) fn apply(conn: &Conn) -> Result<()> {
    let migrations = match conn.backend() {
        Backend::Sqlite => MIGRATIONS,
        Backend::Postgres => {
            conn.query_row("SELECT pg_advisory_lock(?1)", [PG_MIGRATION_LOCK], |_| {
                Ok(())
            })?;
            PG_MIGRATIONS
        }
    };
    let applied = apply_list(conn, migrations);
    if conn.backend() == Backend::Postgres {
        conn.query_row("SELECT pg_advisory_unlock(?1)", [PG_MIGRATION_LOCK], |_| {
            Ok(())
        })?;
    }
    applied
}

fn apply_list(conn: &Conn, migrations: &[(i64, &str, &str)]) -> Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied TEXT NOT NULL)",
    )?;
    let found = current_version(conn)?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    let applied: std::collections::HashSet<i64> = conn
        .query_map("SELECT version FROM schema_migrations", [], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut pending: Vec<_> = migrations
        .iter()
        .filter(|(v, _, _)| !applied.contains(v))
        .collect();
    pending.sort_by_key(|(v, _, _)| *v);
    for (version, name, sql) in pending {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied) VALUES (?1, ?2, ?3)",
            crate::db::params![version, name, now()],
        )?;
        tx.commit()?;
        tracing::info!(version, name, "applied migration");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::{Store, StoreError};

    #[test]
    fn refuses_a_newer_database() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.schema_version().unwrap(), super::SCHEMA_VERSION);
        store
            .conn()
            .execute(
                "INSERT INTO schema_migrations VALUES (9999, 'future', 'x')",
                [],
            )
            .unwrap();
        drop(store);
        match Store::open(dir.path()) {
            Err(StoreError::TooNew { found: 9999, .. }) => {}
            Err(e) => panic!("unexpected error {e}"),
            Ok(_) => panic!("opened a newer database"),
        }
    }

    #[test]
    fn both_databases_reach_the_same_version() {
        let pg = super::PG_MIGRATIONS.iter().map(|m| m.0).max();
        assert_eq!(pg, Some(super::SCHEMA_VERSION));
    }

    #[test]
    fn reopening_applies_nothing_twice() {
        let dir = tempfile::tempdir().unwrap();
        drop(Store::open(dir.path()).unwrap());
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.schema_version().unwrap(), super::SCHEMA_VERSION);
    }
}

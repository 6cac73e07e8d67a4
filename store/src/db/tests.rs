//! The dialect translation, and one connection API giving the same answers on both databases
//! (a real PostgreSQL: the server `scripts/test-databases.sh` starts).

use super::pg::translate;
use super::*;

#[test]
fn placeholders_keywords_and_quoted_text() {
    assert_eq!(
        translate("SELECT a FROM t WHERE b = ?2 AND c = ?1 AND d = '?3' AND e LIKE ?"),
        "SELECT a FROM t WHERE b = $2 AND c = $1 AND d = '?3' AND e ILIKE $3"
    );
    assert_eq!(
        translate("INSERT OR IGNORE INTO t (a) VALUES (?1);"),
        "INSERT INTO t (a) VALUES ($1) ON CONFLICT DO NOTHING"
    );
    assert_eq!(
        translate("SELECT CAST(x AS REAL), unlike, liked FROM t WHERE n ILIKE 'a'"),
        "SELECT CAST(x AS DOUBLE PRECISION), unlike, liked FROM t WHERE n ILIKE 'a'"
    );
    assert_eq!(
        translate("SELECT 'it''s ?', \"col?\" FROM t WHERE x = ?"),
        "SELECT 'it''s ?', \"col?\" FROM t WHERE x = $1"
    );
}

fn both() -> Vec<(tempfile::TempDir, Conn)> {
    let dir = tempfile::tempdir().expect("tempdir");
    let sqlite = Conn::Sqlite(rusqlite::Connection::open(dir.path().join("t.db")).expect("open"));
    let url = crate::testing::new_test_database();
    let pg = PgConfig::parse(&url)
        .expect("url")
        .connect()
        .expect("connect");
    let pg_dir = tempfile::tempdir().expect("tempdir");
    vec![
        (dir, sqlite),
        (pg_dir, Conn::Pg(Box::new(RefCell::new(pg)))),
    ]
}

#[test]
fn values_read_alike_on_both_databases() {
    for (_dir, c) in both() {
        let b = c.backend();
        c.execute_batch(
            "CREATE TABLE t (id BIGINT PRIMARY KEY, flag BIGINT NOT NULL, name TEXT, data BYTEA,
               ratio DOUBLE PRECISION, UNIQUE (name))"
                .replace(
                    "BYTEA",
                    if b == Backend::Sqlite {
                        "BLOB"
                    } else {
                        "BYTEA"
                    },
                )
                .as_str(),
        )
        .expect("create");
        c.execute(
            "INSERT INTO t (id, flag, name, data, ratio) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![1, true, "ä '?' b", vec![0u8, 255], 0.5],
        )
        .expect("insert");
        c.execute(
            "INSERT INTO t (id, flag, name, data, ratio) VALUES (?1, ?2, ?3, NULL, NULL)",
            params![2, false, "two"],
        )
        .expect("insert");
        let row: (bool, String, Vec<u8>, f64, Option<i64>) = c
            .query_row(
                "SELECT flag, name, data, ratio, NULL FROM t WHERE id = ?1",
                [1],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .expect("select");
        assert_eq!(
            row,
            (true, "ä '?' b".into(), vec![0, 255], 0.5, None),
            "{b:?}"
        );
        let (sum, count, avg, eq): (i64, i64, f64, bool) = c
            .query_row(
                "SELECT SUM(id), COUNT(*), AVG(id), MAX(flag) = 1 FROM t",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .expect("aggregate");
        assert_eq!((sum, count, avg, eq), (3, 2, 1.5, true), "{b:?}");
        let names: Vec<String> = c
            .query_map(
                "SELECT name FROM t WHERE name LIKE ?1 ORDER BY id",
                ["T%"],
                |r| r.get(0),
            )
            .expect("like")
            .collect::<rusqlite::Result<_>>()
            .expect("rows");
        assert_eq!(names, ["two"], "LIKE ignores case on {b:?}");
        let none = c
            .query_row("SELECT id FROM t WHERE id = 99", [], |r| r.get::<_, i64>(0))
            .optional()
            .expect("optional");
        assert_eq!(none, None);
        let dup = c
            .execute("INSERT INTO t (id, flag, name) VALUES (3, 0, ?1)", ["two"])
            .expect_err("duplicate name");
        assert!(dup.is_unique_violation(), "{b:?}: {dup}");
        let ignored = c
            .execute(
                "INSERT OR IGNORE INTO t (id, flag, name) VALUES (3, 0, 'two')",
                [],
            )
            .expect("ignored");
        assert_eq!(ignored, 0, "{b:?}");
        {
            let tx = c.transaction().expect("begin");
            tx.execute("DELETE FROM t", []).expect("delete");
            // Dropped without commit: rolled back.
        }
        let tx = c.transaction().expect("begin");
        tx.execute("UPDATE t SET flag = 1 WHERE id = 2", [])
            .expect("update");
        tx.commit().expect("commit");
        let flags: i64 = c
            .query_row("SELECT SUM(flag) FROM t", [], |r| r.get(0))
            .expect("sum");
        assert_eq!(flags, 2, "{b:?}");
    }
}

//! The real MariaDB and PostgreSQL servers of `scripts/test-databases.sh` for tests of database
//! policies: started once per test binary, plus small `mysql`/`psql` helpers run as root.
#![allow(dead_code)]

use anyhow::{bail, Context, Result};
use std::process::Command;
use std::sync::OnceLock;

/// Installs and starts both servers once per test binary (idempotent, serialised by the script).
pub fn databases() -> Result<()> {
    static STARTED: OnceLock<Result<(), String>> = OnceLock::new();
    let r = STARTED.get_or_init(|| {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/test-databases.sh");
        match Command::new(script).arg("start").status() {
            Ok(s) if s.success() => Ok(()),
            Ok(s) => Err(format!("{script} start exited with {s}")),
            Err(e) => Err(format!("cannot run {script}: {e}")),
        }
    });
    r.clone().map_err(anyhow::Error::msg)
}

fn run(cmd: &mut Command) -> Result<String> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs SQL as MariaDB's root over the local socket.
pub fn mysql(sql: &str) -> Result<String> {
    run(Command::new("mysql").args(["--protocol=socket", "-uroot", "-e", sql]))
}

/// Runs SQL as PostgreSQL's `postgres` superuser in database `db`; returns unaligned rows.
pub fn psql(db: &str, sql: &str) -> Result<String> {
    run(Command::new("runuser").current_dir("/").args([
        "-u",
        "postgres",
        "--",
        "psql",
        "-XAtq",
        "-v",
        "ON_ERROR_STOP=1",
        "-d",
        db,
        "-c",
        sql,
    ]))
}

/// A name unique to this test run.
pub fn unique(prefix: &str) -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}_{}_{n}", std::process::id())
}

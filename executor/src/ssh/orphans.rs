//! Commands whose connection was lost while they ran. A host cut off the network keeps running
//! what it was doing (sshd sends no signal to a command without a terminal), so a `borg create`
//! would hold the client's cache lock until its input ends and the next backup would wait on it.
//! The run id of such a command is remembered per (user, host, port); the next connection to
//! that host first stops every process tagged with it (TERM, so borg releases its locks).

use super::process::KILL_SCRIPT;
use super::{Connection, SshTarget};
use crate::transport::RemoteCommand;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// Run ids of lost commands, per `user@host:port`.
static ORPHANS: Mutex<BTreeMap<String, Vec<String>>> = Mutex::new(BTreeMap::new());

/// The registry key of a target.
pub(super) fn key(target: &SshTarget) -> String {
    format!("{}@{}:{}", target.user, target.host, target.port)
}

fn lock() -> std::sync::MutexGuard<'static, BTreeMap<String, Vec<String>>> {
    ORPHANS.lock().unwrap_or_else(|p| p.into_inner())
}

/// Remembers that the command tagged `run_id` on `key` may still run.
pub(super) fn record(key: &str, run_id: &str) {
    lock()
        .entry(key.to_string())
        .or_default()
        .push(run_id.to_string());
}

/// Sends `signal` to every process tagged `run_id` over a channel of its own on `conn`; true
/// when the host ran the kill script.
pub(super) async fn kill_tagged(conn: &Connection, signal: &str, run_id: &str) -> bool {
    let Ok(line) = RemoteCommand::new(["sh", "-c", KILL_SCRIPT, "sh", signal, run_id]).shell_line()
    else {
        return false;
    };
    let Ok(mut ch) = conn.handle.channel_open_session().await else {
        return false;
    };
    if ch.exec(false, line).await.is_err() {
        return false;
    }
    let _ = ch.eof().await;
    tokio::time::timeout(Duration::from_secs(10), async {
        while ch.wait().await.is_some() {}
    })
    .await
    .is_ok()
}

/// Stops the lost commands of `target` on a fresh connection to it; those the host could not
/// be asked about stay recorded for the next connection.
pub(super) async fn reap(target: &SshTarget, conn: &Connection) {
    let k = key(target);
    let Some(ids) = lock().remove(&k) else {
        return;
    };
    for id in ids {
        if kill_tagged(conn, "TERM", &id).await {
            tracing::info!(host = %target.host, run = %id, "stopped a command left running by a lost connection");
        } else {
            record(&k, &id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lost_commands_are_remembered_per_host() {
        record("root@orphan-test:22", "a1");
        record("root@orphan-test:22", "b2");
        record("root@other-test:22", "c3");
        let taken = lock().remove("root@orphan-test:22").unwrap_or_default();
        assert_eq!(taken, ["a1", "b2"]);
        assert!(lock().contains_key("root@other-test:22"));
        lock().remove("root@other-test:22");
    }
}

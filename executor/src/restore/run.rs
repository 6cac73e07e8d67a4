//! The restore job: `borg extract` on the target client, in the target directory, reaching the
//! repository as a backup does (push: forwarded agent; pull: the server's relay),
//! refusing to overwrite existing files unless asked, with a summary of files and bytes.

use super::scan::scan;
use super::RestoreParams;
use crate::credentials::Access;
use crate::jobs::{last_line, log_for, repo_ctx};
use crate::manager::Executor;
use crate::runner::{run_error_outcome, run_logged, Outcome, Stdout};
use crate::targets::{client_side, pull_side, ClientSide};
use crate::transport::RemoteCommand;
use crate::tryo;
use model::*;
use tokio_util::sync::CancellationToken;

/// Prints the requested paths that already exist under the target directory.
const EXISTING_SCRIPT: &str = "d=$1; shift; [ -d \"$d\" ] || exit 0; cd -- \"$d\" || exit 3; \
for p; do if [ -e \"$p\" ] || [ -L \"$p\" ]; then printf '%s\\n' \"$p\"; fi; done";

/// Runs the command in the target directory, creating it first.
const IN_TARGET_SCRIPT: &str =
    "d=$1; shift; mkdir -p -- \"$d\" && cd -- \"$d\" || exit 2; exec \"$@\"";

/// A dry run writes nothing: not even the target directory.
const DRY_RUN_SCRIPT: &str = "cd -- \"$1\" 2>/dev/null || cd /; shift; exec \"$@\"";

fn with_script(script: &str, dir: &str, mut inner: RemoteCommand) -> RemoteCommand {
    let mut argv = vec![
        "sh".to_string(),
        "-c".into(),
        script.into(),
        "sh".into(),
        dir.into(),
    ];
    argv.append(&mut inner.argv);
    inner.argv = argv;
    inner
}

/// `borg extract --list --progress --log-json [--dry-run] REPO::ARCHIVE -- PATHS` (the JSON
/// progress becomes the job's progress; list lines stay plain log lines).
fn extract_command(side: &ClientSide, p: &RestoreParams) -> RemoteCommand {
    let mut args = vec![
        "extract".to_string(),
        "--list".into(),
        "--progress".into(),
        "--log-json".into(),
    ];
    if p.dry_run {
        args.push("--dry-run".into());
    }
    args.push(format!("{}::{}", side.repo_url, p.archive_name));
    args.push("--".into());
    args.extend(p.paths.iter().cloned());
    let script = if p.dry_run {
        DRY_RUN_SCRIPT
    } else {
        IN_TARGET_SCRIPT
    };
    side.wrap(with_script(
        script,
        &p.target_directory,
        side.env.borg(args),
    ))
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn absolute(paths: &[String]) -> String {
    paths
        .iter()
        .map(|p| format!("/{p}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) async fn restore(ex: &Executor, job: &Job, cancel: &CancellationToken) -> Outcome {
    let store = &ex.inner.store;
    let params: RestoreParams = tryo!(serde_json::from_str(&job.extra_vars)
        .map_err(|e| Outcome::error(format!("invalid restore parameters in extra_vars: {e}"))));
    let ctx = tryo!(repo_ctx(ex, job.repository));
    let log = log_for(ex, job, Some(&ctx));
    let client = tryo!(job
        .client
        .ok_or_else(|| Outcome::error("job has no target client"))
        .and_then(|c| store.client(c).map_err(|e| Outcome::error(e.to_string()))));
    let pull = job
        .policy
        .and_then(|p| store.policy(p).ok())
        .is_some_and(|p| p.mode_pull);

    // What the archive holds under the requested paths (listed on the repository host).
    log.info(&format!(
        "listing {} in archive {}",
        absolute(&params.paths),
        params.archive_name
    ));
    let found = tryo!(scan(&ctx.side, &params.archive_name, &params.paths, None)
        .await
        .map_err(|e| Outcome::failed(None, e)));
    if !found.missing.is_empty() {
        return Outcome::failed(
            None,
            format!(
                "not in archive {}: {}; nothing was restored",
                params.archive_name,
                absolute(&found.missing)
            ),
        );
    }

    // Its own pair when a policy writes this client into the repository, else a key for this
    // job only (see credentials.rs).
    let access = Access::Restore {
        client: &client,
        job: job.id,
    };
    let side = if pull {
        log.info("pull mode: the server relays the client's borg to the repository host");
        tryo!(pull_side(ex, &client, &ctx.side, access)
            .await
            .map_err(Outcome::error))
    } else {
        tryo!(client_side(ex, &client, &ctx.side, access)
            .await
            .map_err(Outcome::error))
    };
    let t = &side.transport;
    let dir = &params.target_directory;

    if !params.overwrite && !params.dry_run {
        let mut probe = RemoteCommand::new(["sh", "-c", EXISTING_SCRIPT, "sh", dir]);
        probe.argv.extend(params.paths.iter().cloned());
        let r = tryo!(run_logged(
            &log,
            &side.plain,
            &side.wrap(probe),
            Stdout::Capture,
            cancel
        )
        .await
        .map_err(run_error_outcome));
        if r.code != 0 {
            return Outcome::failed(
                Some(r.code),
                format!(
                    "cannot check {dir} on {}: {}",
                    client.hostname,
                    last_line(&r.stderr_head)
                ),
            );
        }
        let existing: Vec<String> = r.stdout.lines().map(String::from).collect();
        if !existing.is_empty() {
            let under = if dir == "/" {
                String::new()
            } else {
                dir.clone()
            };
            let named: Vec<String> = existing.iter().map(|p| format!("{under}/{p}")).collect();
            return Outcome::failed(
                None,
                format!(
                    "already on {}: {}; set overwrite to replace them",
                    client.hostname,
                    named.join(", ")
                ),
            );
        }
    }

    let cmd = extract_command(&side, &params);
    let ran = tryo!(run_logged(&log, t, &cmd, Stdout::Log, cancel)
        .await
        .map_err(run_error_outcome));
    if ran.code >= 2 {
        return Outcome::failed(
            Some(ran.code),
            format!("borg extract failed: {}", last_line(&ran.stderr_head)),
        );
    }
    let _ = store.set_job_sizes(job.id, found.bytes as i64, 0, 0, found.files as i64);
    let counts = format!(
        "{} ({}, {} B)",
        plural(found.entries, "entry", "entries"),
        plural(found.files, "file", "files"),
        found.bytes
    );
    let summary = if params.dry_run {
        format!(
            "dry run: {counts} would be restored to {}:{dir}; nothing was written",
            client.hostname
        )
    } else {
        format!(
            "restored {counts} from {} to {}:{dir}",
            params.archive_name, client.hostname
        )
    };
    log.info(&summary);
    if ran.code == 1 {
        return Outcome {
            status: JobStatus::Successful,
            exit_code: Some(1),
            explanation: format!("{summary} (borg reported warnings, see log)"),
        };
    }
    Outcome::ok(summary)
}

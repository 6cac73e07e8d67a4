//! The file drill: sampled files extracted on the repository host into a temporary directory
//! (removed on exit, also on failure or when stopped), checked against the catalog's size and
//! mtime, then their sha256 compared with the live file on the client when that file is
//! unchanged since the backup (same size and mtime); a changed live file is noted, not failed.

use super::{borg_script, Evidence, Run, MAX_SAMPLE_BYTES, SAMPLE_FILES};
use crate::borg::LOCK_WAIT_SECONDS;
use crate::runner::{run_error_outcome, run_logged, JobLog, Outcome, Stdout};
use crate::targets::{backup_user, client_transport, is_local};
use crate::transport::RemoteCommand;
use chrono::{DateTime, Utc};
use model::SampledFile;
use std::collections::HashMap;
use std::sync::Arc;

/// Extracts `$@` from archive `$2` into a fresh temporary directory, then prints per file
/// `F INDEX SIZE MTIME SHA256` or `M INDEX` (not restored), and exits with borg's status.
const EXTRACT_SCRIPT: &str = r#"lw=$1; target=$2; shift 2
d=$(mktemp -d) || exit 1
trap 'cd / && rm -rf -- "$d"' EXIT
trap 'exit 143' TERM INT HUP
cd "$d" || exit 1
echo "cyborgbackup: extracting into $d" >&2
borg extract --lock-wait "$lw" "$target" -- "$@"
rc=$?
echo "cyborgbackup: borg extract exited $rc" >&2
i=0
for f in "$@"; do
  if [ -f "$f" ] && [ ! -L "$f" ]; then
    printf 'F %s %s %s %s\n' "$i" "$(stat -c %s -- "$f")" "$(stat -c %.9Y -- "$f")" "$(sha256sum < "$f" | cut -d' ' -f1)"
  else
    printf 'M %s\n' "$i"
  fi
  i=$((i+1))
done
exit "$rc""#;

/// Prints `F INDEX SIZE MTIME` or `M INDEX` for each live file `$@`.
const STAT_SCRIPT: &str = r#"i=0
for f in "$@"; do
  if [ -f "$f" ] && [ ! -L "$f" ]; then
    printf 'F %s %s %s\n' "$i" "$(stat -c %s -- "$f")" "$(stat -c %.9Y -- "$f")"
  else
    printf 'M %s\n' "$i"
  fi
  i=$((i+1))
done"#;

/// Prints `H INDEX SHA256 SIZE MTIME` for each live file `$@`, stat taken after hashing.
const HASH_SCRIPT: &str = r#"i=0
for f in "$@"; do
  h=$(sha256sum < "$f" 2>/dev/null | cut -d' ' -f1)
  printf 'H %s %s %s %s\n' "$i" "${h:--}" "$(stat -c %s -- "$f" 2>/dev/null || echo -)" "$(stat -c %.9Y -- "$f" 2>/dev/null || echo -)"
  i=$((i+1))
done"#;

/// Size and mtime (microseconds) of a file, and its sha256 when hashed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileStat {
    size: u64,
    mtime_us: i64,
    sha: Option<String>,
}

/// `1700000000.123456789` (stat `%.9Y`, or `%Y`) in microseconds.
fn parse_stat_time(s: &str) -> Option<i64> {
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let secs: i64 = secs.parse().ok()?;
    let digits: String = frac.chars().take(6).collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let micros: i64 = format!("{digits:0<6}").parse().ok()?;
    let us = secs.checked_mul(1_000_000)?.checked_add(micros)?;
    Some(if neg { -us } else { us })
}

/// borg lists mtimes through a float: allow its rounding of the last microsecond.
fn same_mtime(us: i64, t: DateTime<Utc>) -> bool {
    (us - t.timestamp_micros()).abs() <= 2
}

fn fmt_us(us: i64) -> String {
    DateTime::<Utc>::from_timestamp_micros(us)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S%.6f").to_string())
        .unwrap_or_else(|| us.to_string())
}

/// Parses the per-file lines of the scripts: index → stat, or None for a missing file.
fn parse_lines(out: &str) -> HashMap<usize, Option<FileStat>> {
    let mut m = HashMap::new();
    for line in out.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let idx = f.get(1).and_then(|i| i.parse::<usize>().ok());
        let Some(idx) = idx else { continue };
        let stat = |size: &str, mtime: &str, sha: Option<&str>| {
            Some(FileStat {
                size: size.parse().ok()?,
                mtime_us: parse_stat_time(mtime)?,
                sha: sha.filter(|s| *s != "-").map(String::from),
            })
        };
        match f.as_slice() {
            ["M", _] => {
                m.insert(idx, None);
            }
            ["F", _, size, mtime] => {
                m.insert(idx, stat(size, mtime, None));
            }
            ["F", _, size, mtime, sha] => {
                m.insert(idx, stat(size, mtime, Some(sha)));
            }
            ["H", _, sha, size, mtime] => {
                m.insert(idx, stat(size, mtime, Some(sha)));
            }
            _ => {}
        }
    }
    m
}

/// The last line of borg's own error output (not the script's status lines).
fn last_line(lines: &[String]) -> String {
    lines
        .iter()
        .rev()
        .find(|l| !l.trim().is_empty() && !l.starts_with("cyborgbackup:"))
        .cloned()
        .unwrap_or_else(|| "no error output".into())
}

fn is_integrity_error(line: &str) -> bool {
    let l = line.to_ascii_lowercase();
    l.contains("integrity") || l.contains("checksum mismatch") || l.contains("corrupt")
}

/// A script for the client, under `sudo -n` when the backup user is not root.
fn client_cmd(run: &Run<'_>, script: &str, paths: &[&str]) -> RemoteCommand {
    let user = backup_user(run.ex);
    let mut argv: Vec<String> = Vec::new();
    if !is_local(&run.client.hostname) && user != "root" {
        argv.extend(["sudo".into(), "-n".into()]);
    }
    argv.extend(["bash".into(), "-c".into(), script.into(), "bash".into()]);
    argv.extend(paths.iter().map(|p| p.to_string()));
    RemoteCommand::new(argv).env("LC_ALL", "C")
}

pub(super) async fn drill(run: &Run<'_>, log: &JobLog<'_>) -> Result<Evidence, Outcome> {
    let sink = Arc::clone(&run.ex.inner.sink);
    let series = run.series();
    let sample =
        tokio::task::spawn_blocking(move || sink.sample(&series, SAMPLE_FILES, MAX_SAMPLE_BYTES))
            .await
            .map_err(|e| Outcome::error(format!("catalog task failed: {e}")))?
            .map_err(|e| Outcome::error(format!("cannot sample the catalog: {e}")))?;
    let mut ev = Evidence::default();
    if sample.is_empty() {
        ev.mismatch(
            "",
            "",
            "the catalog holds no regular file of this series: back it up and let its catalog complete first",
        );
        return Ok(ev);
    }
    let mut groups: Vec<(String, Vec<&SampledFile>)> = Vec::new();
    for f in &sample {
        match groups.iter_mut().find(|(a, _)| *a == f.archive_name) {
            Some((_, v)) => v.push(f),
            None => groups.push((f.archive_name.clone(), vec![f])),
        }
    }
    log.info(&format!(
        "restore test: {} file(s) sampled from {} archive(s): {}",
        sample.len(),
        groups.len(),
        groups
            .iter()
            .map(|(a, v)| format!("{a} ({})", v.len()))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let side = &run.ctx.side;
    let mut restored: Vec<(&SampledFile, String)> = Vec::new();
    for (archive, files) in &groups {
        ev.archives.push(archive.clone());
        let mut args = vec![
            LOCK_WAIT_SECONDS.to_string(),
            format!("{}::{archive}", side.path),
        ];
        args.extend(
            files
                .iter()
                .map(|f| f.path.trim_start_matches('/').to_string()),
        );
        let cmd = borg_script(&side.env, EXTRACT_SCRIPT, args);
        let r = run_logged(log, &side.transport, &cmd, Stdout::Capture, run.cancel)
            .await
            .map_err(run_error_outcome)?;
        let integrity = r.stderr_head.iter().find(|l| is_integrity_error(l));
        let broken = r.code >= 2 || integrity.is_some();
        if broken {
            let why = integrity
                .cloned()
                .unwrap_or_else(|| last_line(&r.stderr_head));
            ev.mismatch(
                "",
                archive,
                format!("borg extract failed (exit {}): {why}", r.code),
            );
        } else if r.code == 1 {
            ev.note(
                "",
                archive,
                format!("borg extract warned: {}", last_line(&r.stderr_head)),
            );
        }
        let got = parse_lines(&r.stdout);
        for (i, f) in files.iter().enumerate() {
            ev.files_checked += 1;
            let Some(Some(st)) = got.get(&i) else {
                ev.mismatch(
                    &f.path,
                    archive,
                    if broken {
                        "not restored: borg extract stopped at the error above"
                    } else {
                        "not restored by borg extract"
                    },
                );
                continue;
            };
            let mut ok = true;
            if st.size != f.size {
                ev.mismatch(
                    &f.path,
                    archive,
                    format!(
                        "restored size {} bytes, the catalog says {}",
                        st.size, f.size
                    ),
                );
                ok = false;
            } else if !same_mtime(st.mtime_us, f.mtime) {
                ev.mismatch(
                    &f.path,
                    archive,
                    format!(
                        "restored mtime {}, the catalog says {}",
                        fmt_us(st.mtime_us),
                        fmt_us(f.mtime.timestamp_micros())
                    ),
                );
                ok = false;
            }
            match (&st.sha, ok) {
                (Some(sha), true) => {
                    ev.bytes += st.size as i64;
                    restored.push((f, sha.clone()));
                }
                (None, true) => ev.mismatch(&f.path, archive, "restored file could not be read"),
                _ => {}
            }
        }
    }
    if run.policy.policy_type.is_piped() {
        ev.note(
            "",
            "",
            format!(
                "policy type {} has no live files: content checksums skipped",
                run.policy.policy_type
            ),
        );
        return Ok(ev);
    }
    compare_live(run, log, &restored, &mut ev).await?;
    Ok(ev)
}

/// Compares restored files with the client's live files that did not change since the backup.
async fn compare_live(
    run: &Run<'_>,
    log: &JobLog<'_>,
    restored: &[(&SampledFile, String)],
    ev: &mut Evidence,
) -> Result<(), Outcome> {
    if restored.is_empty() {
        return Ok(());
    }
    let host = &run.client.hostname;
    let transport = client_transport(run.ex, run.client).map_err(Outcome::error)?;
    let mut paths: Vec<&str> = restored.iter().map(|(f, _)| f.path.as_str()).collect();
    paths.sort_unstable();
    paths.dedup();
    let r = run_logged(
        log,
        &transport,
        &client_cmd(run, STAT_SCRIPT, &paths),
        Stdout::Capture,
        run.cancel,
    )
    .await
    .map_err(run_error_outcome)?;
    if r.code != 0 {
        ev.note(
            "",
            "",
            format!(
                "cannot read the live files on {host} (exit {}): {}: checksums skipped",
                r.code,
                last_line(&r.stderr_head)
            ),
        );
        return Ok(());
    }
    let live = parse_lines(&r.stdout);
    let live_of = |path: &str| {
        paths
            .iter()
            .position(|p| *p == path)
            .and_then(|i| live.get(&i).cloned().flatten())
    };
    let mut to_hash: Vec<&str> = Vec::new();
    let mut compare: Vec<(&SampledFile, &str)> = Vec::new();
    for (f, sha) in restored {
        match live_of(&f.path) {
            None => ev.note(
                &f.path,
                &f.archive_name,
                format!("no live file on {host} any more: checksum skipped"),
            ),
            Some(l) if l.size != f.size || !same_mtime(l.mtime_us, f.mtime) => ev.note(
                &f.path,
                &f.archive_name,
                format!(
                    "live file changed since the backup (now {} bytes, mtime {}): checksum skipped",
                    l.size,
                    fmt_us(l.mtime_us)
                ),
            ),
            Some(_) => {
                if !to_hash.contains(&f.path.as_str()) {
                    to_hash.push(&f.path);
                }
                compare.push((f, sha));
            }
        }
    }
    if to_hash.is_empty() {
        return Ok(());
    }
    let r = run_logged(
        log,
        &transport,
        &client_cmd(run, HASH_SCRIPT, &to_hash),
        Stdout::Capture,
        run.cancel,
    )
    .await
    .map_err(run_error_outcome)?;
    let hashed = parse_lines(&r.stdout);
    let mut matched = 0;
    for (f, sha) in compare {
        let i = to_hash.iter().position(|p| *p == f.path);
        let h = i.and_then(|i| hashed.get(&i).cloned().flatten());
        match h {
            Some(h) if h.size != f.size || !same_mtime(h.mtime_us, f.mtime) => ev.note(
                &f.path,
                &f.archive_name,
                "live file changed during the check: checksum skipped",
            ),
            Some(FileStat { sha: Some(l), .. }) if l == sha => matched += 1,
            Some(FileStat { sha: Some(l), .. }) => ev.mismatch(
                &f.path,
                &f.archive_name,
                format!("content differs from the unchanged live file on {host}: sha256 {sha} restored, {l} live"),
            ),
            _ => ev.note(
                &f.path,
                &f.archive_name,
                format!("cannot hash the live file on {host}: checksum skipped"),
            ),
        }
    }
    ev.details.push(format!(
        "{matched} checksum(s) matched the live files on {host}"
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_times_in_microseconds() {
        assert_eq!(
            parse_stat_time("1700000000.123456789"),
            Some(1_700_000_000_123_456)
        );
        assert_eq!(parse_stat_time("1700000000"), Some(1_700_000_000_000_000));
        assert_eq!(parse_stat_time("12.5"), Some(12_500_000));
        assert_eq!(parse_stat_time("x"), None);
        let t = DateTime::<Utc>::from_timestamp_micros(1_700_000_000_123_457).unwrap();
        assert!(same_mtime(1_700_000_000_123_456, t));
        assert!(!same_mtime(1_700_000_001_123_456, t));
    }

    #[test]
    fn parses_script_lines() {
        let m = parse_lines("F 0 12 1700000000.5 abc\nM 1\nH 2 - 3 4.0\ngarbage\n");
        assert_eq!(
            m.get(&0),
            Some(&Some(FileStat {
                size: 12,
                mtime_us: 1_700_000_000_500_000,
                sha: Some("abc".into())
            }))
        );
        assert_eq!(m.get(&1), Some(&None));
        assert_eq!(m.get(&2).cloned().flatten().map(|s| s.sha), Some(None));
        assert_eq!(m.len(), 3);
    }

    #[test]
    fn integrity_errors_are_recognised() {
        assert!(is_integrity_error(
            "Data integrity error: Segment entry checksum mismatch [segment 1, offset 8]"
        ));
        assert!(!is_integrity_error("etc/hosts: permission denied"));
    }
}

//! borg 1.2 command lines built as argument lists, and parsing of borg's JSON output.

use crate::transport::RemoteCommand;
use chrono::{DateTime, NaiveDateTime, Utc};
use model::{PolicyType, Retention, Secret};
use serde::Deserialize;

use crate::sources::quoted;
pub use crate::sources::{create_spec, CreateSpec, Pipe, Streams, Unsupported, PRODUCER_FAILED};

/// How long borg waits for a repository lock held by another borg.
pub const LOCK_WAIT_SECONDS: u32 = 120;

/// Borg environment shared by every command: never prompt, UTC times.
pub struct BorgEnv {
    /// `BORG_BASE_DIR` (cache, config, keys); `None` keeps the host user's default.
    pub base_dir: Option<String>,
    pub passphrase: Option<Secret>,
    /// How borg answers its two repository-identity prompts.
    pub trust: RepoTrust,
}

/// The answers to borg's repository-identity prompts, never a blanket "yes".
///
/// borg remembers every repository it has opened in a security directory under
/// `BORG_BASE_DIR` (id, location, key type, manifest time) and asks before opening a known
/// repository at a new location ("relocated") or an unencrypted one it has never seen. Jobs
/// never read a terminal: each variable is set explicitly, `no` unless the server has verified
/// the repository itself. `identity.rs` runs before every job and compares the repository's id
/// and encryption mode with those recorded at preparation; only after that check is
/// `relocated_ok` set (a relocation of the same id is then benign: an administrator moved the
/// repository, or pull mode reached it through a tunnel on a new port every time), and
/// `unencrypted_ok` only for a repository prepared without encryption. A repository replaced
/// behind the server's back therefore fails the identity check, and if it is swapped between
/// the check and the command, borg itself refuses an unknown unencrypted repository.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RepoTrust {
    /// `BORG_RELOCATED_REPO_ACCESS_IS_OK`.
    pub relocated_ok: bool,
    /// `BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK`.
    pub unencrypted_ok: bool,
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

impl BorgEnv {
    fn apply(&self, mut cmd: RemoteCommand) -> RemoteCommand {
        cmd = cmd
            .env("TZ", "UTC")
            .env("LANG", "C.UTF-8")
            .env(
                "BORG_RELOCATED_REPO_ACCESS_IS_OK",
                yes_no(self.trust.relocated_ok),
            )
            .env(
                "BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK",
                yes_no(self.trust.unencrypted_ok),
            )
            .env("BORG_CHECK_I_KNOW_WHAT_I_AM_DOING", "NO")
            .env("BORG_DELETE_I_KNOW_WHAT_I_AM_DOING", "NO")
            .env("BORG_RSH", "ssh -oBatchMode=yes");
        if let Some(d) = &self.base_dir {
            cmd = cmd.env("BORG_BASE_DIR", d.clone());
        }
        match &self.passphrase {
            Some(p) => cmd.secret("BORG_PASSPHRASE", p.clone()),
            // An empty passphrase makes borg fail instead of prompting for one.
            None => cmd.env("BORG_PASSPHRASE", ""),
        }
    }

    pub(crate) fn borg<I: IntoIterator<Item = String>>(&self, args: I) -> RemoteCommand {
        let mut args = args.into_iter();
        // `borg SUBCOMMAND --lock-wait N …`: wait for a lock held by a borg that outlived a
        // crashed server instead of failing at once.
        let mut argv = vec!["borg".to_string()];
        argv.extend(args.next());
        argv.extend(["--lock-wait".to_string(), LOCK_WAIT_SECONDS.to_string()]);
        argv.extend(args);
        self.apply(RemoteCommand::new(argv))
    }

    /// `borg init -e repokey` (or `-e none` when the repository has no passphrase).
    pub fn init(&self, repo: &str) -> RemoteCommand {
        let mode = if self.passphrase.is_some() {
            "repokey"
        } else {
            "none"
        };
        self.borg(["init".into(), "-e".into(), mode.into(), repo.into()])
    }

    /// `borg info --json REPO`: repository totals, also a cheap existence and passphrase check.
    pub fn info_repo(&self, repo: &str) -> RemoteCommand {
        self.borg(["info".into(), "--json".into(), repo.into()])
    }

    /// `borg create --json` of a policy's sources into `REPO::ARCHIVE`.
    pub fn create(&self, repo: &str, archive: &str, spec: &CreateSpec) -> RemoteCommand {
        if let Some(p) = &spec.pipe {
            return self.create_from_pipe(repo, archive, p);
        }
        if let Some(s) = &spec.streams {
            return self.create_from_streams(repo, archive, s);
        }
        let mut args: Vec<String> = vec![
            "create".into(),
            "--json".into(),
            "--progress".into(),
            "--log-json".into(),
            "--compression".into(),
            "lz4".into(),
            "--exclude-caches".into(),
        ];
        for e in &spec.excludes {
            args.push("--exclude".into());
            args.push(e.clone());
        }
        args.push(format!("{repo}::{archive}"));
        // `--` ends options: a source path starting with '-' is still a path.
        args.push("--".into());
        args.extend(spec.paths.iter().cloned());
        self.borg(args)
    }

    /// `PRODUCER | borg create --stdin-name NAME REPO::ARCHIVE -` under bash with both exit
    /// statuses reported: a failing producer exits [`PRODUCER_FAILED`], its last error line last.
    fn create_from_pipe(&self, repo: &str, archive: &str, p: &Pipe) -> RemoteCommand {
        let location = format!("{repo}::{archive}");
        let wait = LOCK_WAIT_SECONDS.to_string();
        let borg = quoted(&[
            "borg",
            "create",
            "--lock-wait",
            &wait,
            "--json",
            "--progress",
            "--log-json",
            "--compression",
            "lz4",
            "--stdin-name",
            &p.stdin_name,
            &location,
            "-",
        ]);
        let script = format!(
            "{PROLOGUE}{{ {} ; }} 2> >(tee -a \"$errf\" >&2) | {borg}\nst=(\"${{PIPESTATUS[@]}}\")\nwait $! 2>/dev/null\n\
             echo \"cyborgbackup: producer exited ${{st[0]}}, borg exited ${{st[1]}}\" >&2\n\
             if [ \"${{st[0]}}\" != 0 ]; then last_error; exit {PRODUCER_FAILED}; fi\nexit \"${{st[1]}}\"",
            p.producer
        );
        self.bash(script, &p.secrets)
    }

    /// Several producers into one archive: each writes a named pipe that borg reads in turn
    /// (`--read-special`); any failing producer exits [`PRODUCER_FAILED`] once borg is done.
    fn create_from_streams(&self, repo: &str, archive: &str, s: &Streams) -> RemoteCommand {
        let location = format!("{repo}::{archive}");
        let wait = LOCK_WAIT_SECONDS.to_string();
        let borg = quoted(&[
            "borg",
            "create",
            "--lock-wait",
            &wait,
            "--json",
            "--progress",
            "--log-json",
            "--compression",
            "lz4",
            "--read-special",
            &location,
            "--",
        ]);
        let script = format!(
            "{PROLOGUE}d=$(mktemp -d) || exit 1\npids=()\ntrap 'kill \"${{pids[@]}}\" 2>/dev/null; rm -rf \"$errf\" \"$d\"' EXIT\n{setup}\n\
             if [ \"${{#names[@]}}\" = 0 ]; then echo \"cyborgbackup: nothing to back up: no {what} found\" >&2; exit {PRODUCER_FAILED}; fi\n\
             cd \"$d\" || exit 1\n\
             for i in \"${{!names[@]}}\"; do\n  mkfifo -- \"${{names[$i]}}\" || exit 1\n  \
             {{ produce \"$i\" ; }} > \"${{names[$i]}}\" 2> >(tee -a \"$errf\" >&2) &\n  pids+=(\"$!\")\ndone\n\
             {borg} \"${{names[@]}}\"\nb=$?\n\
             if [ \"$b\" -ge 2 ]; then echo \"cyborgbackup: borg exited $b\" >&2; exit \"$b\"; fi\nfailed=0\n\
             for i in \"${{!names[@]}}\"; do\n  wait \"${{pids[$i]}}\"; st=$?\n  \
             echo \"cyborgbackup: ${{names[$i]}}: producer exited $st\" >&2\n  [ \"$st\" = 0 ] || failed=1\ndone\npids=()\n\
             echo \"cyborgbackup: borg exited $b\" >&2\nif [ \"$failed\" = 1 ]; then last_error; exit {PRODUCER_FAILED}; fi\nexit \"$b\"",
            setup = s.setup,
            what = s.what,
        );
        self.bash(script, &s.secrets)
    }

    fn bash(&self, script: String, secrets: &[(String, Secret)]) -> RemoteCommand {
        let mut cmd = self.apply(RemoteCommand::new([
            "bash".to_string(),
            "-c".to_string(),
            script,
        ]));
        for (k, v) in secrets {
            cmd = cmd.secret(k, v.clone());
        }
        cmd
    }

    /// `borg delete REPO::ARCHIVE` (a partial archive after a failed producer).
    pub fn delete_archive(&self, repo: &str, archive: &str) -> RemoteCommand {
        self.borg(["delete".into(), format!("{repo}::{archive}")])
    }

    /// `borg list --json-lines REPO::ARCHIVE`: one JSON object per entry on stdout.
    pub fn list_entries(&self, repo: &str, archive: &str) -> RemoteCommand {
        self.borg([
            "list".into(),
            "--json-lines".into(),
            format!("{repo}::{archive}"),
        ])
    }

    /// `borg list --json --last 1 REPO`: the repository's id and encryption mode (and at most
    /// one archive), read from its manifest without the cache: the cheap identity check.
    pub fn identity(&self, repo: &str) -> RemoteCommand {
        self.borg([
            "list".into(),
            "--json".into(),
            "--last".into(),
            "1".into(),
            repo.into(),
        ])
    }

    /// `borg list --json REPO`: the archives in the repository.
    pub fn list_archives(&self, repo: &str) -> RemoteCommand {
        self.borg(["list".into(), "--json".into(), repo.into()])
    }

    /// `borg prune` of one series (archives matching `glob`) by its retention.
    pub fn prune(&self, repo: &str, glob: &str, retention: &Retention) -> RemoteCommand {
        let mut args: Vec<String> = vec![
            "prune".into(),
            "--list".into(),
            "--glob-archives".into(),
            glob.into(),
        ];
        for (flag, n) in retention.flags() {
            args.push(flag.into());
            args.push(n.to_string());
        }
        args.push(repo.into());
        self.borg(args)
    }

    /// `borg check` of the repository and its archives (`--verify-data` reads every chunk).
    pub fn check(&self, repo: &str, verify_data: bool) -> RemoteCommand {
        let mut args: Vec<String> = vec!["check".into(), "--show-rc".into()];
        if verify_data {
            args.push("--verify-data".into());
        }
        args.push(repo.into());
        self.borg(args)
    }

    /// `borg compact`: borg 1.2 frees space only then.
    pub fn compact(&self, repo: &str) -> RemoteCommand {
        self.borg(["compact".into(), repo.into()])
    }
}

/// Start of every producer script: pipefail, a file collecting the producers' error output
/// (removed on exit, also when stopped), and `last_error` repeating its last line so that the
/// job's explanation names the producer's own error.
const PROLOGUE: &str = "set -o pipefail\nerrf=$(mktemp) || exit 1\ntrap 'rm -f \"$errf\"' EXIT\ntrap 'exit 143' TERM INT HUP\n\
last_error() { l=$(grep -v '^[[:space:]]*$' \"$errf\" | tail -n 1); if [ -n \"$l\" ]; then printf '%s\\n' \"$l\" >&2; fi; }\n";

/// The original's archive name: `{type}-{hostname}-{YYYY-MM-DD_HH-MM}`.
pub fn archive_name(policy_type: PolicyType, hostname: &str, at: DateTime<Utc>) -> String {
    format!(
        "{}-{}-{}",
        policy_type.as_str(),
        hostname,
        at.format("%Y-%m-%d_%H-%M")
    )
}

/// The glob matching every archive of one (type, host) series.
pub fn series_glob(policy_type: PolicyType, hostname: &str) -> String {
    format!("{}-{}-*", policy_type.as_str(), hostname)
}

/// Statistics of `borg create --json`.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateResult {
    pub name: String,
    pub start: DateTime<Utc>,
    pub duration: f64,
    pub original_size: i64,
    pub compressed_size: i64,
    pub deduplicated_size: i64,
    pub nfiles: i64,
}

#[derive(Deserialize)]
struct CreateJson {
    archive: ArchiveJson,
}

#[derive(Deserialize)]
struct ArchiveJson {
    name: String,
    start: String,
    #[serde(default)]
    duration: f64,
    stats: StatsJson,
}

#[derive(Deserialize)]
struct StatsJson {
    original_size: i64,
    compressed_size: i64,
    deduplicated_size: i64,
    nfiles: i64,
}

/// borg prints naive local times; commands run with `TZ=UTC`.
pub fn parse_borg_time(s: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|n| n.and_utc())
}

pub fn parse_create_json(stdout: &str) -> Result<CreateResult, String> {
    let j: CreateJson = serde_json::from_str(stdout.trim())
        .map_err(|e| format!("unexpected borg create --json output: {e}"))?;
    Ok(CreateResult {
        start: parse_borg_time(&j.archive.start)
            .ok_or_else(|| format!("bad archive start time {:?}", j.archive.start))?,
        name: j.archive.name,
        duration: j.archive.duration,
        original_size: j.archive.stats.original_size,
        compressed_size: j.archive.stats.compressed_size,
        deduplicated_size: j.archive.stats.deduplicated_size,
        nfiles: j.archive.stats.nfiles,
    })
}

/// Repository totals from `borg info --json REPO`.
pub fn parse_info_totals(stdout: &str) -> Result<(i64, i64, i64), String> {
    let v: serde_json::Value = serde_json::from_str(stdout.trim())
        .map_err(|e| format!("unexpected borg info --json output: {e}"))?;
    let s = &v["cache"]["stats"];
    let get = |k: &str| {
        s[k].as_i64()
            .ok_or_else(|| format!("borg info --json lacks cache.stats.{k}"))
    };
    Ok((
        get("total_size")?,
        get("total_csize")?,
        get("unique_csize")?,
    ))
}

/// Archive names and times from `borg list --json REPO`.
pub fn parse_archive_list(stdout: &str) -> Result<Vec<(String, DateTime<Utc>)>, String> {
    let v: serde_json::Value = serde_json::from_str(stdout.trim())
        .map_err(|e| format!("unexpected borg list --json output: {e}"))?;
    let arr = v["archives"]
        .as_array()
        .ok_or("borg list --json lacks archives")?;
    Ok(arr
        .iter()
        .filter_map(|a| {
            Some((
                a["name"].as_str()?.to_string(),
                parse_borg_time(a["start"].as_str()?)?,
            ))
        })
        .collect())
}

/// The available bytes in `df -P -k` output (second line, fourth column, in KiB).
pub fn parse_df_available(out: &str) -> Option<i64> {
    let line = out.lines().nth(1)?;
    let kib: i64 = line.split_whitespace().nth(3)?.parse().ok()?;
    Some(kib.saturating_mul(1024))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_quotes_nothing_itself_and_ends_options() {
        let env = BorgEnv {
            base_dir: None,
            passphrase: Some(Secret::new("pw")),
            trust: RepoTrust::default(),
        };
        let spec = CreateSpec {
            paths: vec!["-rf".into(), "/a b".into()],
            excludes: vec!["/x".into()],
            pipe: None,
            streams: None,
        };
        let c = env.create("/repo", "folders-h-2026", &spec);
        let dd = c.argv.iter().position(|a| a == "--").unwrap();
        assert_eq!(&c.argv[dd + 1..], &["-rf".to_string(), "/a b".to_string()]);
        assert!(c.env.iter().any(|(k, v)| k == "TZ" && v == "UTC"));
        assert!(c.secret_env.iter().any(|(k, _)| k == "BORG_PASSPHRASE"));
        assert!(!c.shell_line().unwrap().contains("pw\n"));
    }

    #[test]
    fn prune_maps_every_keep_to_its_flag() {
        let env = BorgEnv {
            base_dir: None,
            passphrase: None,
            trust: RepoTrust::default(),
        };
        let r = Retention {
            keep_yearly: Some(1),
            keep_daily: Some(7),
            ..Default::default()
        };
        let c = env.prune("/repo", "folders-h-*", &r);
        let s = c.argv.join(" ");
        assert!(
            s.contains("--keep-daily 7")
                && s.contains("--keep-yearly 1")
                && !s.contains("--keep-monthly")
        );
    }

    #[test]
    fn parses_create_json() {
        let out = r#"{"archive":{"name":"a","start":"2026-11-27T10:00:00.000000","duration":1.5,
          "stats":{"original_size":10,"compressed_size":8,"deduplicated_size":5,"nfiles":2}},"repository":{}}"#;
        let r = parse_create_json(out).unwrap();
        assert_eq!((r.original_size, r.nfiles), (10, 2));
        assert_eq!(r.start.to_rfc3339(), "2026-11-27T10:00:00+00:00");
    }

    #[test]
    fn df_available_bytes() {
        let out = "Filesystem     1024-blocks      Used Available Capacity Mounted on\n/dev/vda1        10218772   6234560   3443540      65% /\n";
        assert_eq!(parse_df_available(out), Some(3443540 * 1024));
        assert_eq!(parse_df_available("garbage"), None);
    }
}

//! No host holds a key that reaches another host (issue 13). While a backup runs, a probe plays
//! root on one host: it freezes the running `borg create` (SIGSTOP, so the job's connections and
//! agent stay open), tries every agent socket it can find to open a shell on another client and on
//! the repository host and to `borg delete` another client's repository, records every result in
//! a file, then lets borg continue. Push mode: the probe is started by the client's pre-hook.
//! Pull mode: it runs on the repository host, trying to reach the clients.

mod support;

use anyhow::{Context, Result};
use serde_json::json;
use std::path::Path;
use std::time::Duration;
use support::*;

const PASS_A: &str = "repository of web1";
const PASS_B: &str = "repository of web2";

/// The probe: `sh probe.sh OUT MARK PORT OTHER_REPO TARGET…` (targets `user@ip`). Lines
/// written: `BORG <pid>` (the frozen borg; its `SSH_*` environment and the agent directories
/// follow), `SOCKET <path> KEYS <n>` and `KEY <path> <key>` (what
/// each agent holds), `SHELL <target> <path>` and `DELETED <path>` (must never appear),
/// `TRIED <n>`, `DONE`.
const PROBE: &str = r#"out=$1 mark=$2 port=$3 other=$4; shift 4
export BORG_BASE_DIR=$(mktemp -d) BORG_RELOCATED_REPO_ACCESS_IS_OK=yes BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes
ssh_opts="-F /dev/null -oBatchMode=yes -oStrictHostKeyChecking=no -oUserKnownHostsFile=/dev/null -oConnectTimeout=5"
pid=
i=0
while [ -z "$pid" ] && [ $i -lt 1800 ]; do
  for d in /proc/[0-9]*; do
    read -r c <"$d/comm" 2>/dev/null || continue
    [ "$c" = borg ] || continue
    tr '\0' ' ' <$d/cmdline 2>/dev/null | grep -q " create .*$mark" && { pid=${d#/proc/}; break; }
  done
  [ -n "$pid" ] || sleep 0.1
  i=$((i+1))
done
[ -n "$pid" ] || { echo NO_BORG >>"$out"; exit 0; }
kill -STOP "$pid"
echo "BORG $pid" >>"$out"
tr '\0' '\n' <"/proc/$pid/environ" | grep SSH_ >>"$out"
ls -d /tmp/ssh-* >>"$out" 2>&1
n=0
for s in ${SSH_AUTH_SOCK:-} /tmp/ssh-*/agent.*; do
  [ -S "$s" ] || continue
  n=$((n+1))
  k=$(SSH_AUTH_SOCK=$s timeout 10 ssh-add -L 2>/dev/null | grep -c .)
  echo "SOCKET $s KEYS $k" >>"$out"
  for t in "$@"; do
    if SSH_AUTH_SOCK=$s timeout 20 ssh $ssh_opts -p "$port" "$t" 'echo SHELL_OK' </dev/null 2>/dev/null | grep -q SHELL_OK; then
      echo "SHELL $t $s" >>"$out"
    fi
  done
  if SSH_AUTH_SOCK=$s BORG_RSH="ssh $ssh_opts" BORG_PASSPHRASE=$PROBE_PASS_B BORG_DELETE_I_KNOW_WHAT_I_AM_DOING=YES \
     timeout 60 borg delete --lock-wait 1 "$other" </dev/null >/dev/null 2>&1; then
    echo "DELETED $s" >>"$out"
  fi
  SSH_AUTH_SOCK=$s timeout 10 ssh-add -L 2>/dev/null | sed "s|^|KEY $s |" >>"$out"
done
echo "TRIED $n" >>"$out"
kill -CONT "$pid"
echo DONE >>"$out"
"#;

struct Setup {
    s: Server,
    token: String,
    hosts: hosts::TestHosts,
    dir: tempfile::TempDir,
    /// web1's repository directory (the probe's mark: unique to the test).
    repo_a: String,
    repo_b: String,
    policy_a: i64,
    web1: i64,
    repository_a: i64,
}

/// web1 backs up into repository A, web2 into B (already backed up once); both on `repo`.
async fn setup(pull: bool, prehook: &dyn Fn(&Path) -> String) -> Result<Setup> {
    let s = Server::start()?;
    let token = s.login().await?;
    let hosts = ssh_hosts(&s, &token).await?;
    let port = hosts.port;
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("probe.sh"), PROBE)?;
    let src = dir.path().join("src");
    std::fs::create_dir(&src)?;
    // Enough data that borg is still running when the probe looks for it.
    let noise: Vec<u8> = (0..24u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(src.join("data.bin"), noise)?;
    let repo_a = format!("{}/a", dir.path().display());
    let repo_b = format!("{}/repo-b", dir.path().display());
    let web1 = ssh_client(&s, &token, "web1", port).await?;
    let web2 = ssh_client(&s, &token, "web2", port).await?;
    let schedule = create_schedule(&s, &token, "n").await?;
    let mut policies = Vec::new();
    let mut repositories = Vec::new();
    for (name, client, path, pass, hook) in [
        ("b", web2, &repo_b, PASS_B, String::new()),
        ("a", web1, &repo_a, PASS_A, prehook(dir.path())),
    ] {
        let url = format!("ssh://root@repo:{port}{path}");
        repositories.push(create_repository(&s, &token, name, &url, pass).await?);
        let spec = PolicySpec {
            name,
            policy_type: "folders",
            clients: vec![client],
            repository: repositories[repositories.len() - 1],
            schedule,
            extra_vars: json!({"folders": [src]}),
            mode_pull: pull,
            prehook: &hook,
            ..Default::default()
        };
        policies.push(create_policy(&s, &token, &spec).await?);
    }
    let job = launch_backup(&s, &token, policies[0]).await?;
    s.wait_job_ok(&token, job, Duration::from_secs(300)).await?;
    Ok(Setup {
        s,
        token,
        hosts,
        dir,
        repo_a,
        repo_b,
        policy_a: policies[1],
        web1,
        repository_a: repositories[1],
    })
}

/// The probe's command line: `sh probe.sh …` with everything it needs.
fn probe_command(dir: &Path, port: u16, repo_a: &str, repo_b: &str, targets: &[&str]) -> String {
    let q = |s: &str| format!("'{}'", s.replace('\'', "'\\''"));
    let mut cmd = format!(
        "PROBE_PASS_B={} setsid sh {} {} {} {port} {}",
        q(PASS_B),
        q(&dir.join("probe.sh").display().to_string()),
        q(&dir.join("results").display().to_string()),
        // The mark: repository A's path is unique to the test (borg's command line holds it).
        q(repo_a),
        q(&format!("ssh://root@127.0.0.10:{port}{repo_b}")),
    );
    for t in targets {
        cmd.push(' ');
        cmd.push_str(t);
    }
    cmd.push_str(" </dev/null >/dev/null 2>&1 &");
    cmd
}

/// Waits for the probe's `DONE` and returns its results.
async fn results(dir: &Path) -> Result<String> {
    let path = dir.join("results");
    for _ in 0..600 {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        if text.contains("DONE") || text.contains("NO_BORG") {
            return Ok(text);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    anyhow::bail!(
        "the probe did not finish: {}",
        std::fs::read_to_string(&path).unwrap_or_default()
    )
}

fn assert_nothing_reached(text: &str) {
    assert!(
        text.contains("BORG "),
        "the probe never saw borg run:\n{text}"
    );
    for bad in ["SHELL ", "DELETED "] {
        assert!(!text.contains(bad), "the probe got through:\n{text}");
    }
}

fn archives(pass: &str, repo: &str) -> Result<String> {
    let out = borg(pass, &["list", "--short", repo])?;
    anyhow::ensure!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn push_mode_agent_reaches_no_other_host_nor_repository() -> Result<()> {
    // The pre-hook starts the probe, whose arguments are written once the port is known.
    let st = setup(false, &|dir: &Path| {
        format!("sh {}/start-probe.sh", dir.display())
    })
    .await?;
    let targets = [
        "root@127.0.0.12",
        "cyborg@127.0.0.12",
        "root@127.0.0.10",
        "cyborg@127.0.0.10",
    ];
    std::fs::write(
        st.dir.path().join("start-probe.sh"),
        probe_command(
            st.dir.path(),
            st.hosts.port,
            &st.repo_a,
            &st.repo_b,
            &targets,
        ),
    )?;
    let before_b = archives(PASS_B, &st.repo_b)?;
    let job = launch_backup(&st.s, &st.token, st.policy_a).await?;
    let text = results(st.dir.path()).await?;
    let (done, log) =
        st.s.wait_job_ok(&st.token, job, Duration::from_secs(300))
            .await?;
    assert_nothing_reached(&text);
    // The probe did hold the job's agent: exactly web1's key for repository A, never the
    // server's key.
    let store = store::Store::open(st.s.data_dir.path())?;
    let pair = store
        .repository_credential(
            model::ClientId(st.web1),
            model::RepositoryId(st.repository_a),
        )?
        .context("web1 has no credential for repository A")?;
    let socket = text
        .lines()
        .find(|l| l.starts_with("KEY ") && l.contains(&pair.public_key))
        .and_then(|l| l.split(' ').nth(1))
        .with_context(|| format!("no agent held web1's key {}:\n{text}", pair.public_key))?;
    assert!(
        text.contains(&format!("SOCKET {socket} KEYS 1\n")),
        "the job's agent held more than its key:\n{text}"
    );
    let server = st.s.ok(&st.token, "{ sshPublicKey }", json!({})).await?;
    let server_blob = server["sshPublicKey"]
        .as_str()
        .and_then(|k| k.split(' ').nth(1))
        .context("server key")?;
    assert!(
        !text.contains(server_blob),
        "the server's key was forwarded:\n{text}"
    );
    assert!(log.contains("pre-hook"), "{log}");
    assert_eq!(
        archives(PASS_B, &st.repo_b)?,
        before_b,
        "web2's repository changed"
    );
    let name = done["archiveName"].as_str().context("archive name")?;
    assert!(archives(PASS_A, &st.repo_a)?.contains(name));
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn pull_mode_repository_host_reaches_no_client() -> Result<()> {
    let st = setup(true, &|_: &Path| String::new()).await?;
    // The probe runs on the repository host, as root there (a key of the test's own).
    let key_dir = tempfile::tempdir()?;
    let key = key_dir.path().join("id");
    let gen = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()?;
    anyhow::ensure!(gen.success(), "ssh-keygen failed");
    let public = std::fs::read_to_string(key.with_extension("pub"))?;
    let mut authorized = std::fs::OpenOptions::new()
        .append(true)
        .open(st.hosts.dir.path().join("authorized_keys"))?;
    std::io::Write::write_all(&mut authorized, public.as_bytes())?;
    let targets = [
        "root@127.0.0.11",
        "cyborg@127.0.0.11",
        "root@127.0.0.12",
        "cyborg@127.0.0.12",
    ];
    let start = probe_command(
        st.dir.path(),
        st.hosts.port,
        &st.repo_a,
        &st.repo_b,
        &targets,
    );
    let ssh = std::process::Command::new("ssh")
        .args(["-F", "/dev/null", "-oBatchMode=yes", "-i"])
        .arg(&key)
        .arg(format!(
            "-oUserKnownHostsFile={}",
            st.hosts.known_hosts().display()
        ))
        .args(["-p", &st.hosts.port.to_string(), "root@127.0.0.10", &start])
        .status()?;
    anyhow::ensure!(
        ssh.success(),
        "starting the probe on the repository host failed"
    );
    let before_b = archives(PASS_B, &st.repo_b)?;
    let job = launch_backup(&st.s, &st.token, st.policy_a).await?;
    let text = results(st.dir.path()).await?;
    let (_, log) =
        st.s.wait_job_ok(&st.token, job, Duration::from_secs(300))
            .await?;
    assert_nothing_reached(&text);
    assert!(log.contains("relays"), "{log}");
    assert_eq!(
        archives(PASS_B, &st.repo_b)?,
        before_b,
        "web2's repository changed"
    );
    Ok(())
}

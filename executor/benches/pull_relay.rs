//! Pull mode throughput over the loopback sshd hosts (`scripts/test-hosts.sh`, needs root): the
//! same data is backed up from `web1` to the repository host with real borg, first by the old
//! pull mode (the repository host, holding a forwarded agent, opens `ssh -A -R` to the client, whose
//! borg comes back through the reverse tunnel; kept in `pull_relay/legacy.rs` for this benchmark
//! only), then by the server's relay (the client's borg talks to a unix socket forwarded to the
//! server, which joins it to `borg serve` on the repository host, logged in with the pair's
//! restricted key). Each run writes into a fresh repository with a fresh borg cache; rounds
//! alternate old and new. Prints MB/s of each run, the medians and the ratio new/old.
//!
//! `cargo bench -p executor --bench pull_relay` (`PULL_RELAY_MB`, default 300: half random, half
//! compressible text; `PULL_RELAY_ROUNDS`, default 2).

#[path = "../tests/support/hosts.rs"]
mod hosts;
#[path = "pull_relay/legacy.rs"]
mod legacy;

use executor::borg::{BorgEnv, CreateSpec, RepoTrust};
use executor::credentials::{authorized_line, Edit};
use executor::ssh::{wrap_for_relay, ClientKey, HostKeyStore, MemoryHostKeys, Relay, SshTarget};
use executor::transport::{RemoteCommand, Transport};
use model::Secret;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;

const PASS: &str = "pull relay benchmark";
const FILE_MB: usize = 16;

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Half incompressible (xorshift), half compressible (log-like text); returns the bytes written.
fn make_data(dir: &Path, total_mb: usize) -> u64 {
    std::fs::create_dir_all(dir).expect("data dir");
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let files = total_mb.div_ceil(FILE_MB).max(2);
    let mut written = 0u64;
    for i in 0..files {
        let mut f = std::fs::File::create(dir.join(format!("file-{i:03}"))).expect("data file");
        let size = FILE_MB << 20;
        let mut buf = Vec::with_capacity(size);
        if i % 2 == 0 {
            while buf.len() < size {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                buf.extend_from_slice(&state.to_le_bytes());
            }
        } else {
            let mut n = 0u64;
            while buf.len() < size {
                n += 1;
                let _ = writeln!(
                    buf,
                    "2025-01-{:02} 12:{:02}:{:02} host web1 service[{}]: request {} served in {} ms",
                    1 + n % 28,
                    n % 60,
                    (n / 60) % 60,
                    1000 + n % 7,
                    n,
                    n % 250
                );
            }
        }
        buf.truncate(size);
        f.write_all(&buf).expect("write data");
        written += size as u64;
    }
    written
}

fn host_key(hosts: &hosts::TestHosts, name: &str) -> String {
    let text =
        std::fs::read_to_string(hosts.dir.path().join(name).join("ssh_host_ed25519_key.pub"))
            .expect("host key");
    text.split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `cmd` on `t` to the end; returns how long it took.
async fn timed(t: &Transport, cmd: &RemoteCommand) -> Duration {
    let start = Instant::now();
    let mut p = t.spawn(cmd).await.expect("spawn");
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let _ = tokio::join!(
        p.stdout.read_to_end(&mut out),
        p.stderr.read_to_end(&mut err)
    );
    let code = p.wait().await.expect("wait");
    let took = start.elapsed();
    assert_eq!(
        code,
        0,
        "borg create failed:\n{}",
        String::from_utf8_lossy(&err)
    );
    took
}

fn borg_init(path: &str) {
    let base = tempfile::tempdir().expect("tempdir");
    let out = std::process::Command::new("borg")
        .args(["init", "-e", "repokey", path])
        .env("BORG_PASSPHRASE", PASS)
        .env("BORG_BASE_DIR", base.path())
        .output()
        .expect("borg init");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

async fn run() {
    let total_mb = env_num("PULL_RELAY_MB", 300);
    let rounds = env_num("PULL_RELAY_ROUNDS", 2).max(1);
    let server = Arc::new(ClientKey::random().expect("key"));
    // The old design's agent key: valid on every host, like the server's key it forwarded.
    let everywhere = Arc::new(ClientKey::random().expect("key"));
    let pair = Arc::new(ClientKey::random().expect("key"));
    let hosts = hosts::TestHosts::start(&[&server.public_openssh(), &everywhere.public_openssh()]);
    let port = hosts.port;
    let work = tempfile::tempdir().expect("tempdir");
    let src = work.path().join("src");
    let bytes = make_data(&src, total_mb);
    let mb = bytes as f64 / 1e6;
    let host_keys: Arc<dyn HostKeyStore> = Arc::new(MemoryHostKeys::default());
    let repo_server = Transport::Ssh(SshTarget::new(
        hosts::REPO,
        port,
        "root",
        server.clone(),
        host_keys.clone(),
    ));
    let spec = CreateSpec {
        paths: vec![src.display().to_string()],
        excludes: vec![],
        pipe: None,
        streams: None,
    };
    println!(
        "pull relay benchmark: {mb:.0} MB ({} files, half random, half text) from web1 to the repository host, {rounds} round(s), each run into a fresh repository",
        std::fs::read_dir(&src).map(|d| d.count()).unwrap_or(0)
    );
    let (mut old, mut new) = (Vec::new(), Vec::new());
    for round in 1..=rounds {
        // Old: the repository host reaches the client, the client comes back through the tunnel.
        let path_old = format!("{}/old-{round}", work.path().display());
        borg_init(&path_old);
        let hop = legacy::PullHop {
            client_host: hosts::WEB1.into(),
            client_port: port,
            client_user: "root".into(),
            client_key: host_key(&hosts, "web1"),
            tunnel_port: 20000 + (std::process::id() as u16 % 20000),
            repo_host: hosts::REPO.into(),
            repo_port: port,
            repo_key: host_key(&hosts, "repo"),
        };
        let base = tempfile::tempdir().expect("tempdir");
        let env = BorgEnv {
            base_dir: Some(base.path().display().to_string()),
            passphrase: Some(Secret::new(PASS)),
            // A fresh base dir has no record of the repository this run just created.
            trust: RepoTrust::default(),
        };
        let cmd = hop.wrap(env.create(&hop.repo_url("root", &path_old), "bench", &spec));
        let repo_with_agent = Transport::Ssh(
            SshTarget::new(hosts::REPO, port, "root", server.clone(), host_keys.clone())
                .with_forwarded_key(Some(everywhere.clone())),
        );
        let t_old = timed(&repo_with_agent, &cmd).await.as_secs_f64();

        // New: the server relays the client's borg to `borg serve` under the pair's key.
        let path_new = format!("{}/new-{round}", work.path().display());
        borg_init(&path_new);
        let line = authorized_line(&pair.public_key_blob(), &path_new, "bench:web1").expect("line");
        let edit = Edit {
            add: Some(line),
            tag: "bench:web1".into(),
            key_blob: pair
                .public_key_blob()
                .split(' ')
                .nth(1)
                .unwrap_or_default()
                .into(),
            stale: None,
        };
        let mut p = repo_server.spawn(&edit.command()).await.expect("edit");
        assert_eq!(
            p.wait().await.expect("edit"),
            0,
            "installing the pair's line"
        );
        let base = tempfile::tempdir().expect("tempdir");
        let env = BorgEnv {
            base_dir: Some(base.path().display().to_string()),
            passphrase: Some(Secret::new(PASS)),
            // A fresh base dir has no record of the repository this run just created.
            trust: RepoTrust::default(),
        };
        let url = format!("ssh://root@{}:{port}{path_new}", hosts::REPO);
        let cmd = wrap_for_relay(env.create(&url, "bench", &spec));
        let relay = Relay::borg_serve(
            SshTarget::new(hosts::REPO, port, "root", pair.clone(), host_keys.clone()),
            &path_new,
        );
        let client = Transport::Ssh(
            SshTarget::new(hosts::WEB1, port, "root", server.clone(), host_keys.clone())
                .with_relay(Some(Arc::new(relay))),
        );
        let t_new = timed(&client, &cmd).await.as_secs_f64();
        println!(
            "round {round}: old {t_old:.1} s = {:.1} MB/s | new {t_new:.1} s = {:.1} MB/s",
            mb / t_old,
            mb / t_new
        );
        old.push(mb / t_old);
        new.push(mb / t_new);
        let _ = std::fs::remove_dir_all(&path_old);
        let _ = std::fs::remove_dir_all(&path_new);
    }
    let (o, n) = (median(&mut old), median(&mut new));
    println!("old pull mode (reverse tunnel, agent on the repository host): median {o:.1} MB/s");
    println!("new pull mode (server relay, no credential on any host):      median {n:.1} MB/s");
    println!("ratio new/old: {:.2}", n / o);
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run());
}

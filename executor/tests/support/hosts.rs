//! Simulated SSH hosts for tests: `scripts/test-hosts.sh` started in a private directory on a free
//! port, stopped when dropped.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// Serializes port picking and start-up within one test binary.
static START: Mutex<()> = Mutex::new(());

pub const REPO: &str = "127.0.0.10";
pub const WEB1: &str = "127.0.0.11";
pub const WEB2: &str = "127.0.0.12";
/// A client in its own network namespace: reachable, but it reaches nothing.
pub const ISLAND: &str = "127.0.0.13";
/// Opt-in client without borg: its sshd is chrooted in an overlay view of `/` where borgbackup
/// was removed (the machine keeps its borg).
pub const BARE: &str = "127.0.0.14";

/// Optional hosts started besides the four standard ones.
#[derive(Debug, Clone, Copy, Default)]
pub struct HostOptions {
    /// Also start `bare` (127.0.0.14), a client where borg is not installed.
    pub bare: bool,
}

/// The repository host `repo` and clients `web1`, `web2` and `island` (isolated network), each
/// its own sshd.
pub struct TestHosts {
    pub dir: tempfile::TempDir,
    pub port: u16,
}

fn script() -> PathBuf {
    // Used from executor/tests and from the workspace's tests/.
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let direct = here.join("scripts/test-hosts.sh");
    if direct.exists() {
        direct
    } else {
        here.join("../scripts/test-hosts.sh")
    }
}

fn run(args: &[&str]) {
    let out = Command::new("bash")
        .arg(script())
        .args(args)
        .output()
        .expect("running test-hosts.sh");
    assert!(
        out.status.success(),
        "test-hosts.sh {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A port free on all four host addresses (and `extra` ones).
fn free_port(extra: &[&str]) -> u16 {
    for _ in 0..50 {
        let port = TcpListener::bind((REPO, 0))
            .expect("bind on 127.0.0.10")
            .local_addr()
            .unwrap()
            .port();
        if [REPO, WEB1, WEB2, ISLAND]
            .iter()
            .chain(extra)
            .all(|ip| TcpListener::bind((*ip, port)).is_ok())
        {
            return port;
        }
    }
    panic!("no free port on 127.0.0.10-13");
}

impl TestHosts {
    /// Starts the four hosts, authorizing `authorized_keys` (public key lines) for root and cyborg.
    pub fn start(authorized_keys: &[&str]) -> TestHosts {
        Self::start_with(authorized_keys, HostOptions::default())
    }

    /// Like [`TestHosts::start`], with the optional hosts of `opts` (e.g. `bare`).
    pub fn start_with(authorized_keys: &[&str], opts: HostOptions) -> TestHosts {
        let _guard = START.lock().unwrap_or_else(|p| p.into_inner());
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port(if opts.bare { &[BARE] } else { &[] });
        let d = dir.path().to_str().unwrap().to_string();
        let port_s = port.to_string();
        let mut args = vec!["start", d.as_str(), "--port", port_s.as_str()];
        for k in authorized_keys {
            args.extend(["--key", k]);
        }
        if opts.bare {
            args.push("--bare");
        }
        run(&args);
        TestHosts { dir, port }
    }

    fn d(&self) -> &str {
        self.dir.path().to_str().unwrap()
    }

    /// New host key for `host` (repo, web1, web2), sshd restarted.
    pub fn rekey(&self, host: &str) {
        run(&["rekey", self.d(), host]);
    }

    pub fn restart(&self, host: &str) {
        run(&["restart", self.d(), host]);
    }

    /// Pid of the listening sshd of `host`.
    pub fn listener_pid(&self, host: &str) -> u32 {
        std::fs::read_to_string(self.dir.path().join(host).join("sshd.pid"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }

    /// `known_hosts` for OpenSSH clients running on the hosts.
    pub fn known_hosts(&self) -> PathBuf {
        self.dir.path().join("known_hosts")
    }

    /// The sshd log of `host`.
    pub fn log(&self, host: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(host).join("sshd.log")).unwrap_or_default()
    }
}

impl Drop for TestHosts {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(script())
            .args(["stop", self.d()])
            .output();
    }
}

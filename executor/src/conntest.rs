//! "Test connection" for a client or a repository host, step by step, each with its result:
//! the TCP port answers, the SSH host key (pinned on first use, matching, or changed), the
//! server's key is accepted for the backup user, borg is installed (its version), and for a
//! user other than root, `sudo -n` works. Nothing is changed on the host; a first connection
//! pins the host key as every other first connection does.

use crate::manager::Executor;
use crate::ssh::server_public_key;
use crate::targets::{backup_user, client_transport, is_local, repo_side};
use crate::transport::{RemoteCommand, Transport, TransportError};
use model::{ClientId, RepoLocation, RepositoryId};
use std::time::{Duration, Instant};
use store::StoreError;
use tokio::io::AsyncReadExt;

/// One step and how it went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestStep {
    /// `reachable`, `host_key`, `login`, `borg`, `sudo`, `local`.
    pub step: &'static str,
    pub ok: bool,
    pub detail: String,
}

/// The result of a connection test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionTest {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub steps: Vec<TestStep>,
}

impl ConnectionTest {
    pub fn ok(&self) -> bool {
        self.steps.iter().all(|s| s.ok)
    }

    fn step(&mut self, step: &'static str, ok: bool, detail: impl Into<String>) -> bool {
        self.steps.push(TestStep {
            step,
            ok,
            detail: detail.into(),
        });
        ok
    }
}

const TIMEOUT: Duration = Duration::from_secs(20);

/// Runs `argv` and returns (exit code, stdout, stderr), at most [`TIMEOUT`].
async fn run(t: &Transport, argv: &[&str]) -> Result<(i32, String, String), TransportError> {
    let work = async {
        let mut p = t.spawn(&RemoteCommand::new(argv.iter().copied())).await?;
        let (mut out, mut err) = (String::new(), String::new());
        let mut so = std::mem::replace(&mut p.stdout, Box::pin(tokio::io::empty()));
        let mut se = std::mem::replace(&mut p.stderr, Box::pin(tokio::io::empty()));
        let _ = tokio::join!(so.read_to_string(&mut out), se.read_to_string(&mut err));
        Ok((p.wait().await?, out, err))
    };
    match tokio::time::timeout(TIMEOUT, work).await {
        Ok(r) => r,
        Err(_) => Err(TransportError::Unreachable {
            host: t.host().to_string(),
            reason: format!("no answer in {} s", TIMEOUT.as_secs()),
        }),
    }
}

impl Executor {
    /// Tests the connection to a client as jobs make it.
    pub async fn test_client_connection(&self, id: ClientId) -> Result<ConnectionTest, StoreError> {
        let c = self.inner.store.client(id)?;
        if is_local(&c.hostname) {
            let mut t = ConnectionTest {
                host: c.hostname.clone(),
                port: c.port,
                user: whoami(),
                steps: Vec::new(),
            };
            t.step("local", true, "runs on this server: no SSH needed");
            self.borg_steps(&mut t, &Transport::Local, false).await;
            return Ok(t);
        }
        let user = backup_user(self);
        let mut t = ConnectionTest {
            host: c.hostname.clone(),
            port: c.port,
            user: user.clone(),
            steps: Vec::new(),
        };
        let transport = client_transport(self, &c);
        self.ssh_steps(&mut t, transport).await;
        Ok(t)
    }

    /// Tests the connection to a repository's host (or the local path's directory).
    pub async fn test_repository_connection(
        &self,
        id: RepositoryId,
    ) -> Result<ConnectionTest, StoreError> {
        let r = self.inner.store.repository(id)?;
        let side = repo_side(self, &r, None);
        match RepoLocation::parse(&r.path) {
            Some(RepoLocation::Remote {
                user, host, port, ..
            }) => {
                let mut t = ConnectionTest {
                    host,
                    port: port.unwrap_or(22),
                    user: user.unwrap_or_else(|| backup_user(self)),
                    steps: Vec::new(),
                };
                self.ssh_steps(&mut t, side.map(|s| s.transport)).await;
                Ok(t)
            }
            _ => {
                let mut t = ConnectionTest {
                    host: "localhost".into(),
                    port: 0,
                    user: whoami(),
                    steps: Vec::new(),
                };
                let parent = std::path::Path::new(&r.path)
                    .parent()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                let exists = std::path::Path::new(&parent).is_dir();
                t.step(
                    "local",
                    exists,
                    if exists {
                        format!("on this server, in {parent}")
                    } else {
                        format!("the directory {parent} does not exist on this server")
                    },
                );
                self.borg_steps(&mut t, &Transport::Local, false).await;
                Ok(t)
            }
        }
    }

    async fn ssh_steps(&self, t: &mut ConnectionTest, transport: Result<Transport, String>) {
        let addr = format!("{}:{}", t.host, t.port);
        let start = Instant::now();
        let tcp = tokio::time::timeout(TIMEOUT, tokio::net::TcpStream::connect(&addr)).await;
        let reached = match tcp {
            Ok(Ok(_)) => t.step(
                "reachable",
                true,
                format!("{addr} answered in {} ms", start.elapsed().as_millis()),
            ),
            Ok(Err(e)) => t.step("reachable", false, format!("cannot connect to {addr}: {e}")),
            Err(_) => t.step(
                "reachable",
                false,
                format!("{addr} did not answer in {} s", TIMEOUT.as_secs()),
            ),
        };
        if !reached {
            return;
        }
        let store = &self.inner.store;
        if server_public_key(store).ok().flatten().is_none() {
            t.step(
                "login",
                false,
                "the server has no SSH key: generate or import one first",
            );
            return;
        }
        let transport = match transport {
            Ok(tr) => tr,
            Err(e) => {
                t.step("login", false, e);
                return;
            }
        };
        let pinned_before = store.host_key(&t.host, t.port).ok().flatten();
        let r = run(&transport, &["true"]).await;
        let pinned = store.host_key(&t.host, t.port).ok().flatten();
        match &r {
            Err(TransportError::HostKeyChanged { expected, got, .. }) => {
                t.step(
                    "host_key",
                    false,
                    format!("the host key changed: pinned {expected}, presented {got}; accept it on the Host keys page if the change is expected"),
                );
                return;
            }
            _ => {
                let fp = pinned
                    .as_ref()
                    .map(|k| k.fingerprint.clone())
                    .unwrap_or_default();
                let detail = match (&pinned_before, &pinned) {
                    (None, Some(_)) => format!("pinned on first use: {fp}"),
                    (Some(_), Some(_)) => format!("matches the pinned key {fp}"),
                    _ => "no host key was presented".to_string(),
                };
                if !t.step("host_key", pinned.is_some(), detail) {
                    return;
                }
            }
        }
        match r {
            Ok((0, _, _)) => {
                t.step("login", true, format!("logged in as {}", t.user));
            }
            Ok((code, _, err)) => {
                t.step(
                    "login",
                    false,
                    format!("logged in, but `true` exited {code}: {}", err.trim()),
                );
                return;
            }
            Err(e) => {
                t.step("login", false, e.to_string());
                return;
            }
        }
        let sudo = t.user != "root";
        self.borg_steps(t, &transport, sudo).await;
    }

    async fn borg_steps(&self, t: &mut ConnectionTest, transport: &Transport, sudo: bool) {
        match run(transport, &["borg", "--version"]).await {
            Ok((0, out, _)) => {
                t.step("borg", true, out.trim().to_string());
            }
            Ok((_, out, err)) => {
                let why = format!("{} {}", out.trim(), err.trim()).trim().to_string();
                t.step(
                    "borg",
                    false,
                    format!("borg is not installed or does not run ({why}); preparation installs it when install_borg is true"),
                );
            }
            Err(e) => {
                t.step("borg", false, e.to_string());
            }
        }
        if sudo {
            match run(transport, &["sudo", "-n", "true"]).await {
                Ok((0, _, _)) => {
                    t.step(
                        "sudo",
                        true,
                        format!("{} may run commands with sudo -n", t.user),
                    );
                }
                Ok((_, _, err)) => {
                    t.step(
                        "sudo",
                        false,
                        format!(
                            "{} cannot use sudo without a password ({}): allow it in sudoers (NOPASSWD) for borg",
                            t.user,
                            err.trim()
                        ),
                    );
                }
                Err(e) => {
                    t.step("sudo", false, e.to_string());
                }
            }
        }
    }
}

fn whoami() -> String {
    std::env::var("USER").unwrap_or_else(|_| "the server's user".into())
}

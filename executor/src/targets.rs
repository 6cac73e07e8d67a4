//! Where each step of a job runs. Steps that only touch the repository (init, info, list,
//! prune, compact, check) run on the repository's host with its local path; `borg create` runs on
//! the client and reaches a remote repository over SSH with the server's key forwarded as an
//! agent (push mode), verifying the repository host against its pinned key.

use crate::borg::BorgEnv;
use crate::manager::Executor;
use crate::ssh::{load_server_key, ClientKey, HostKeyStore, SshTarget};
use crate::transport::{RemoteCommand, Transport};
use model::{Client, RepoLocation, Repository, Secret};
use std::sync::Arc;

/// Setting: the user the server logs in as on clients (default `root`; others use `sudo -E`).
pub const SETTING_BACKUP_USER: &str = "backup_user";

/// Whether a hostname means the server itself.
pub(crate) fn is_local(hostname: &str) -> bool {
    matches!(hostname, "localhost" | "127.0.0.1" | "::1")
}

pub(crate) fn backup_user(ex: &Executor) -> String {
    ex.inner
        .store
        .setting(SETTING_BACKUP_USER)
        .ok()
        .flatten()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| "root".into())
}

fn server_key(ex: &Executor) -> Result<Arc<ClientKey>, String> {
    load_server_key(&ex.inner.store).map(Arc::new).map_err(|e| {
        format!("the server's SSH key is not usable ({e}): generate or import one in the settings")
    })
}

fn ssh(ex: &Executor, host: &str, port: u16, user: &str) -> Result<SshTarget, String> {
    let host_keys: Arc<dyn HostKeyStore> = Arc::new(ex.inner.store.clone());
    Ok(SshTarget::new(host, port, user, server_key(ex)?, host_keys))
}

fn local_env(ex: &Executor, passphrase: Option<Secret>) -> BorgEnv {
    BorgEnv {
        base_dir: Some(ex.inner.opts.local_borg_base_dir.display().to_string()),
        passphrase,
        trust: Default::default(),
    }
}

/// The host that holds a repository.
pub(crate) struct RepoSide {
    pub transport: Transport,
    /// The repository's path on that host.
    pub path: String,
    pub location: RepoLocation,
    /// borg environment for commands run there.
    pub env: BorgEnv,
}

pub(crate) fn repo_side(
    ex: &Executor,
    repo: &Repository,
    passphrase: Option<Secret>,
) -> Result<RepoSide, String> {
    let location = RepoLocation::parse(&repo.path)
        .ok_or_else(|| format!("repository path {:?} is not a borg location", repo.path))?;
    match &location {
        RepoLocation::Local { path } => Ok(RepoSide {
            transport: Transport::Local,
            path: path.clone(),
            env: local_env(ex, passphrase),
            location,
        }),
        RepoLocation::Remote {
            user,
            host,
            port,
            path,
        } => {
            let user = user.clone().unwrap_or_else(|| backup_user(ex));
            let target = ssh(ex, host, port.unwrap_or(22), &user)?;
            Ok(RepoSide {
                transport: Transport::Ssh(target),
                path: path.clone(),
                env: BorgEnv {
                    base_dir: None,
                    passphrase,
                    trust: Default::default(),
                },
                location,
            })
        }
    }
}

/// The transport that reaches a client (agent forwarding for push-mode backups).
pub(crate) fn client_transport(
    ex: &Executor,
    client: &Client,
    forward_agent: bool,
) -> Result<Transport, String> {
    if is_local(&client.hostname) {
        return Ok(Transport::Local);
    }
    Ok(Transport::Ssh(
        ssh(ex, &client.hostname, client.port, &backup_user(ex))?
            .with_agent_forwarding(forward_agent),
    ))
}

/// How `borg create` runs on a client.
pub(crate) struct ClientSide {
    /// Where the command is started: the client itself, or in pull mode the repository host.
    pub transport: Transport,
    /// The repository as borg on the client names it.
    pub repo_url: String,
    pub env: BorgEnv,
    /// The pinned key of the repository host, for the client's `ssh`.
    known_host: Option<String>,
    sudo: bool,
    /// Pull mode: the repository host reaches the client and opens a reverse tunnel to itself.
    pull: Option<PullHop>,
}

/// The hop of pull mode, from the repository host to the client.
struct PullHop {
    client_host: String,
    client_port: u16,
    client_user: String,
    client_key: String,
    /// Port on the client's loopback that leads back to the repository host's sshd.
    tunnel_port: u16,
    repo_host: String,
    repo_port: u16,
}

/// Runs on the repository host in pull mode: `ssh -A -R` to the client, the inner command's
/// secrets piped on its stdin, the client verified against its pinned key.
const PULL_SCRIPT: &str = "kh=$(mktemp) || exit 1; trap 'rm -f \"$kh\"' EXIT HUP INT TERM; \
printf 'cyborg-client %s\\n' \"$CYBORG_CLIENT_HOST_KEY\" > \"$kh\"; \
SECRETS | ssh -A -oBatchMode=yes -oStrictHostKeyChecking=yes -oHostKeyAlias=cyborg-client \
-oUserKnownHostsFile=\"$kh\" -oExitOnForwardFailure=yes -oServerAliveInterval=15 \"$@\"";

const RSH_WRAPPER: &str = "kh=$(mktemp) || exit 1; trap 'rm -f \"$kh\"' EXIT HUP INT TERM; \
printf 'cyborg-repository %s\\n' \"$CYBORG_REPOSITORY_HOST_KEY\" > \"$kh\"; \
BORG_RSH=\"ssh -oBatchMode=yes -oStrictHostKeyChecking=yes -oHostKeyAlias=cyborg-repository -oUserKnownHostsFile=$kh\"; \
export BORG_RSH; \"$@\"";

impl ClientSide {
    /// Wraps a borg command for the client: the repository host's key, and `sudo -E` when the
    /// backup user is not root.
    pub fn wrap(&self, mut cmd: RemoteCommand) -> RemoteCommand {
        if let Some(k) = &self.known_host {
            let mut argv = vec![
                "sh".to_string(),
                "-c".to_string(),
                RSH_WRAPPER.to_string(),
                "sh".to_string(),
            ];
            argv.append(&mut cmd.argv);
            cmd.argv = argv;
            cmd = cmd.env("CYBORG_REPOSITORY_HOST_KEY", k.clone());
        }
        if self.sudo {
            let mut argv = vec!["sudo".to_string(), "-E".to_string(), "-n".to_string()];
            argv.append(&mut cmd.argv);
            cmd.argv = argv;
        }
        match &self.pull {
            None => cmd,
            Some(hop) => hop.wrap(cmd),
        }
    }
}

impl PullHop {
    /// The command for the repository host that runs `inner` on the client.
    fn wrap(&self, inner: RemoteCommand) -> RemoteCommand {
        let inner_line = match inner.shell_line() {
            Ok(l) => l,
            // Unquotable (NUL byte): let the shell report it.
            Err(e) => {
                return RemoteCommand::new([
                    "sh",
                    "-c",
                    "echo \"$1\" >&2; exit 2",
                    "sh",
                    &e.to_string(),
                ])
            }
        };
        let secrets = if inner.secret_env.is_empty() {
            ":".to_string()
        } else {
            let vars: Vec<String> = inner
                .secret_env
                .iter()
                .map(|(k, _)| format!("\"${k}\""))
                .collect();
            format!("printf '%s\\n' {}", vars.join(" "))
        };
        let script = PULL_SCRIPT.replace("SECRETS", &secrets);
        let mut argv = vec!["sh".to_string(), "-c".to_string(), script, "sh".to_string()];
        argv.extend([
            "-R".to_string(),
            format!(
                "127.0.0.1:{}:{}:{}",
                self.tunnel_port, self.repo_host, self.repo_port
            ),
            "-p".to_string(),
            self.client_port.to_string(),
            format!("{}@{}", self.client_user, self.client_host),
            inner_line,
        ]);
        let mut outer =
            RemoteCommand::new(argv).env("CYBORG_CLIENT_HOST_KEY", self.client_key.clone());
        outer.secret_env = inner.secret_env;
        outer
    }
}

/// Pins a host's key by connecting once, when it has none yet.
async fn pinned_key(
    ex: &Executor,
    transport: &Transport,
    host: &str,
    port: u16,
) -> Result<String, String> {
    if let Some(k) = ex
        .inner
        .store
        .host_key(host, port)
        .map_err(|e| e.to_string())?
    {
        return Ok(k.public_key);
    }
    let mut p = transport
        .spawn(&RemoteCommand::new(["true"]))
        .await
        .map_err(|e| e.to_string())?;
    p.wait().await.map_err(|e| e.to_string())?;
    Ok(ex
        .inner
        .store
        .host_key(host, port)
        .map_err(|e| e.to_string())?
        .ok_or(format!("the host key of {host} was not pinned"))?
        .public_key)
}

/// Pull mode: the repository host connects to the client and gives it a reverse tunnel back,
/// so the client needs neither a route to nor credentials for the repository host.
pub(crate) async fn pull_side(
    ex: &Executor,
    client: &Client,
    repo: &RepoSide,
) -> Result<ClientSide, String> {
    let RepoLocation::Remote {
        user,
        host,
        port,
        path,
    } = &repo.location
    else {
        return Err("pull mode needs a repository on a repository host (user@host:path)".into());
    };
    if is_local(&client.hostname) {
        return Err("pull mode needs a remote client".into());
    }
    let repo_port = port.unwrap_or(22);
    let repo_key = pinned_key(ex, &repo.transport, host, repo_port).await?;
    let client_direct = client_transport(ex, client, false)?;
    let client_key = pinned_key(ex, &client_direct, &client.hostname, client.port).await?;
    let user = user.clone().unwrap_or_else(|| backup_user(ex));
    let Transport::Ssh(target) = &repo.transport else {
        return Err("pull mode needs an SSH connection to the repository host".into());
    };
    let tunnel_port = 20000 + (rand_port_offset() % 20000);
    let tunneled = RepoLocation::Remote {
        user: Some(user.clone()),
        host: "127.0.0.1".into(),
        port: Some(tunnel_port),
        path: path.clone(),
    };
    Ok(ClientSide {
        transport: Transport::Ssh(target.clone().with_agent_forwarding(true)),
        repo_url: tunneled.ssh_url(&user),
        env: BorgEnv {
            base_dir: None,
            passphrase: repo.env.passphrase.clone(),
            trust: repo.env.trust,
        },
        known_host: Some(repo_key),
        sudo: backup_user(ex) != "root",
        pull: Some(PullHop {
            client_host: client.hostname.clone(),
            client_port: client.port,
            client_user: backup_user(ex),
            client_key,
            tunnel_port,
            repo_host: host.clone(),
            repo_port,
        }),
    })
}

/// A random offset for the tunnel port on the client's loopback.
fn rand_port_offset() -> u16 {
    use rand_ssh::RngExt;
    rand_ssh::rng().random()
}

pub(crate) async fn client_side(
    ex: &Executor,
    client: &Client,
    repo: &RepoSide,
) -> Result<ClientSide, String> {
    let local_client = is_local(&client.hostname);
    let sudo = !local_client && backup_user(ex) != "root";
    match &repo.location {
        RepoLocation::Local { path } if local_client => Ok(ClientSide {
            transport: Transport::Local,
            repo_url: path.clone(),
            env: BorgEnv { trust: repo.env.trust, ..local_env(ex, repo.env.passphrase.clone()) },
            known_host: None,
            sudo: false,
            pull: None,
        }),
        RepoLocation::Local { path } => Err(format!(
            "repository {path} is a path on the server, which client {} cannot reach: use a location like user@server:{path}",
            client.hostname
        )),
        RepoLocation::Remote { .. } if local_client => Err(format!(
            "client {} is the server itself but the repository is remote: add the server as a client by its hostname",
            client.hostname
        )),
        RepoLocation::Remote { user, host, port, .. } => {
            // The repository host's key, pinned by the server on first use.
            let pinned = pinned_key(ex, &repo.transport, host, port.unwrap_or(22)).await?;
            let user = user.clone().unwrap_or_else(|| backup_user(ex));
            Ok(ClientSide {
                transport: client_transport(ex, client, true)?,
                repo_url: repo.location.ssh_url(&user),
                env: BorgEnv { base_dir: None, passphrase: repo.env.passphrase.clone(), trust: repo.env.trust },
                known_host: Some(pinned),
                sudo,
                pull: None,
            })
        }
    }
}

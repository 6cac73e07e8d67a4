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

fn backup_user(ex: &Executor) -> String {
    ex.inner.store.setting(SETTING_BACKUP_USER).ok().flatten().filter(|u| !u.trim().is_empty()).unwrap_or_else(|| "root".into())
}

fn server_key(ex: &Executor) -> Result<Arc<ClientKey>, String> {
    load_server_key(&ex.inner.store)
        .map(Arc::new)
        .map_err(|e| format!("the server's SSH key is not usable ({e}): generate or import one in the settings"))
}

fn ssh(ex: &Executor, host: &str, port: u16, user: &str) -> Result<SshTarget, String> {
    let host_keys: Arc<dyn HostKeyStore> = Arc::new(ex.inner.store.clone());
    Ok(SshTarget::new(host, port, user, server_key(ex)?, host_keys))
}

fn local_env(ex: &Executor, passphrase: Option<Secret>) -> BorgEnv {
    BorgEnv { base_dir: Some(ex.inner.opts.local_borg_base_dir.display().to_string()), passphrase }
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

pub(crate) fn repo_side(ex: &Executor, repo: &Repository, passphrase: Option<Secret>) -> Result<RepoSide, String> {
    let location = RepoLocation::parse(&repo.path).ok_or_else(|| format!("repository path {:?} is not a borg location", repo.path))?;
    match &location {
        RepoLocation::Local { path } => Ok(RepoSide { transport: Transport::Local, path: path.clone(), env: local_env(ex, passphrase), location }),
        RepoLocation::Remote { user, host, port, path } => {
            let user = user.clone().unwrap_or_else(|| backup_user(ex));
            let target = ssh(ex, host, port.unwrap_or(22), &user)?;
            Ok(RepoSide {
                transport: Transport::Ssh(target),
                path: path.clone(),
                env: BorgEnv { base_dir: None, passphrase },
                location,
            })
        }
    }
}

/// The transport that reaches a client (agent forwarding for push-mode backups).
pub(crate) fn client_transport(ex: &Executor, client: &Client, forward_agent: bool) -> Result<Transport, String> {
    if is_local(&client.hostname) {
        return Ok(Transport::Local);
    }
    Ok(Transport::Ssh(ssh(ex, &client.hostname, client.port, &backup_user(ex))?.with_agent_forwarding(forward_agent)))
}

/// How `borg create` runs on a client.
pub(crate) struct ClientSide {
    pub transport: Transport,
    /// The repository as borg on the client names it.
    pub repo_url: String,
    pub env: BorgEnv,
    /// The pinned key of the repository host, for the client's `ssh`.
    known_host: Option<String>,
    sudo: bool,
}

const RSH_WRAPPER: &str = "kh=$(mktemp) || exit 1; trap 'rm -f \"$kh\"' EXIT HUP INT TERM; \
printf 'cyborg-repository %s\\n' \"$CYBORG_REPOSITORY_HOST_KEY\" > \"$kh\"; \
BORG_RSH=\"ssh -oBatchMode=yes -oStrictHostKeyChecking=yes -oHostKeyAlias=cyborg-repository -oUserKnownHostsFile=$kh\"; \
export BORG_RSH; \"$@\"";

impl ClientSide {
    /// Wraps a borg command for the client: the repository host's key, and `sudo -E` when the
    /// backup user is not root.
    pub fn wrap(&self, mut cmd: RemoteCommand) -> RemoteCommand {
        if let Some(k) = &self.known_host {
            let mut argv = vec!["sh".to_string(), "-c".to_string(), RSH_WRAPPER.to_string(), "sh".to_string()];
            argv.append(&mut cmd.argv);
            cmd.argv = argv;
            cmd = cmd.env("CYBORG_REPOSITORY_HOST_KEY", k.clone());
        }
        if self.sudo {
            let mut argv = vec!["sudo".to_string(), "-E".to_string(), "-n".to_string()];
            argv.append(&mut cmd.argv);
            cmd.argv = argv;
        }
        cmd
    }
}

pub(crate) async fn client_side(ex: &Executor, client: &Client, repo: &RepoSide) -> Result<ClientSide, String> {
    let local_client = is_local(&client.hostname);
    let sudo = !local_client && backup_user(ex) != "root";
    match &repo.location {
        RepoLocation::Local { path } if local_client => Ok(ClientSide {
            transport: Transport::Local,
            repo_url: path.clone(),
            env: local_env(ex, repo.env.passphrase.clone()),
            known_host: None,
            sudo: false,
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
            let port = port.unwrap_or(22);
            let pinned = match ex.inner.store.host_key(host, port).map_err(|e| e.to_string())? {
                Some(k) => k,
                None => {
                    // Pin the repository host's key now (trust on first use by the server).
                    let mut p = repo.transport.spawn(&RemoteCommand::new(["true"])).await.map_err(|e| e.to_string())?;
                    p.wait().await.map_err(|e| e.to_string())?;
                    ex.inner.store.host_key(host, port).map_err(|e| e.to_string())?.ok_or("repository host key was not pinned")?
                }
            };
            let user = user.clone().unwrap_or_else(|| backup_user(ex));
            Ok(ClientSide {
                transport: client_transport(ex, client, true)?,
                repo_url: repo.location.ssh_url(&user),
                env: BorgEnv { base_dir: None, passphrase: repo.env.passphrase.clone() },
                known_host: Some(pinned.public_key),
                sudo,
            })
        }
    }
}

//! Where each step of a job runs. Steps that only touch the repository (init, info, list,
//! prune, compact, check) run on the repository's host with its local path, under the server's
//! own session; `borg create` (and a restore's `borg extract`) runs on the client and reaches a
//! remote repository only with the client's repository credential (`credentials.rs`): in push
//! mode through an agent forwarded to the client holding just that key, the client's `ssh`
//! verifying the repository host against its pinned key; in pull mode through the server's
//! relay (`ssh/relay.rs`), the client's borg talking to a socket the server joins to `borg serve`
//! on the repository host.

use crate::borg::BorgEnv;
use crate::credentials::{self, Access, Credential};
use crate::manager::Executor;
use crate::ssh::{load_server_key, ClientKey, HostKeyStore, Relay, SshTarget};
use crate::transport::{RemoteCommand, Transport};
use model::{Client, RepoLocation, Repository, Secret};
use std::sync::Arc;

/// Whether a hostname means the server itself.
pub(crate) fn is_local(hostname: &str) -> bool {
    matches!(hostname, "localhost" | "127.0.0.1" | "::1")
}

/// The `backup_user` setting: the user the server logs in as on clients (others than root
/// use `sudo -E`).
pub(crate) fn backup_user(ex: &Executor) -> String {
    ex.inner
        .store
        .get(&model::settings::BACKUP_USER)
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e, "cannot read backup_user: using root");
            "root".into()
        })
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
    /// The repository itself (its id and stored location, for credentials).
    pub repository: Repository,
}

/// The server's own session on the host of a repository location (`Local`: this machine).
pub(crate) fn repo_host_transport(
    ex: &Executor,
    location: &RepoLocation,
) -> Result<Transport, String> {
    match location {
        RepoLocation::Local { .. } => Ok(Transport::Local),
        RepoLocation::Remote {
            user, host, port, ..
        } => {
            let user = user.clone().unwrap_or_else(|| backup_user(ex));
            Ok(Transport::Ssh(ssh(ex, host, port.unwrap_or(22), &user)?))
        }
    }
}

pub(crate) fn repo_side(
    ex: &Executor,
    repo: &Repository,
    passphrase: Option<Secret>,
) -> Result<RepoSide, String> {
    let location = RepoLocation::parse(&repo.path)
        .ok_or_else(|| format!("repository path {:?} is not a borg location", repo.path))?;
    let transport = repo_host_transport(ex, &location)?;
    let env = match &location {
        RepoLocation::Local { .. } => local_env(ex, passphrase),
        RepoLocation::Remote { .. } => BorgEnv {
            base_dir: None,
            passphrase,
            trust: Default::default(),
        },
    };
    Ok(RepoSide {
        transport,
        path: location.path_on_host().to_string(),
        env,
        location,
        repository: repo.clone(),
    })
}

/// The server's session on a client, with nothing forwarded (preparation, hooks, probes).
pub(crate) fn client_transport(ex: &Executor, client: &Client) -> Result<Transport, String> {
    if is_local(&client.hostname) {
        return Ok(Transport::Local);
    }
    Ok(Transport::Ssh(ssh(
        ex,
        &client.hostname,
        client.port,
        &backup_user(ex),
    )?))
}

/// How `borg create` (or `extract`) runs on a client.
pub(crate) struct ClientSide {
    /// The client, with the credential's agent (push) or relay (pull) attached.
    pub transport: Transport,
    /// The client with nothing attached, for hooks and probes that do not need the repository.
    pub plain: Transport,
    /// The repository as borg on the client names it.
    pub repo_url: String,
    pub env: BorgEnv,
    /// Push mode: the pinned key of the repository host, for the client's `ssh`.
    known_host: Option<String>,
    sudo: bool,
    /// Pull mode: borg's `BORG_RSH` is the relay to the server.
    relay: bool,
    /// Held for the job: a one-job key's line goes when this drops.
    _credential: Option<Credential>,
}

const RSH_WRAPPER: &str = "kh=$(mktemp) || exit 1; trap 'rm -f \"$kh\"' EXIT HUP INT TERM; \
printf 'cyborg-repository %s\\n' \"$CYBORG_REPOSITORY_HOST_KEY\" > \"$kh\"; \
BORG_RSH=\"ssh -oBatchMode=yes -oStrictHostKeyChecking=yes -oHostKeyAlias=cyborg-repository -oUserKnownHostsFile=$kh\"; \
export BORG_RSH; \"$@\"";

impl ClientSide {
    /// Wraps a borg command for the client: how it reaches the repository (the repository
    /// host's pinned key in push mode, the relay in pull mode), and `sudo -E` when the backup
    /// user is not root.
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
        if self.relay {
            cmd = crate::ssh::wrap_for_relay(cmd);
        }
        if self.sudo {
            let mut argv = vec!["sudo".to_string(), "-E".to_string(), "-n".to_string()];
            argv.append(&mut cmd.argv);
            cmd.argv = argv;
        }
        cmd
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

fn credential_needed(c: Option<Credential>, repo: &RepoSide) -> Result<Credential, String> {
    c.ok_or_else(|| {
        format!(
            "repository {} has no credential for this client",
            repo.repository.name
        )
    })
}

/// Pull mode (on the host `client`, with the credential `access` gives): the server relays the client's borg to `borg serve` on the repository host, so
/// neither host holds a credential for, or needs a route to, the other.
pub(crate) async fn pull_side(
    ex: &Executor,
    client: &Client,
    repo: &RepoSide,
    access: Access<'_>,
) -> Result<ClientSide, String> {
    let RepoLocation::Remote {
        user, host, port, ..
    } = &repo.location
    else {
        return Err("pull mode needs a repository on a repository host (user@host:path)".into());
    };
    if is_local(&client.hostname) {
        return Err("pull mode needs a remote client".into());
    }
    let user = user.clone().unwrap_or_else(|| backup_user(ex));
    let repo_port = port.unwrap_or(22);
    // Pin the repository host's key under the server's own session first.
    pinned_key(ex, &repo.transport, host, repo_port).await?;
    let credential = credential_needed(
        credentials::for_access(ex, access, &repo.repository).await?,
        repo,
    )?;
    let host_keys: Arc<dyn HostKeyStore> = Arc::new(ex.inner.store.clone());
    let repository = SshTarget::new(host, repo_port, &user, credential.key.clone(), host_keys);
    let relay = Arc::new(Relay::borg_serve(repository, &repo.path));
    let plain = client_transport(ex, client)?;
    let Transport::Ssh(target) = &plain else {
        return Err("pull mode needs a remote client".into());
    };
    Ok(ClientSide {
        transport: Transport::Ssh(target.clone().with_relay(Some(relay))),
        plain,
        repo_url: repo.location.ssh_url(&user),
        env: BorgEnv {
            base_dir: None,
            passphrase: repo.env.passphrase.clone(),
            trust: repo.env.trust,
        },
        known_host: None,
        sudo: backup_user(ex) != "root",
        relay: true,
        _credential: Some(credential),
    })
}

/// Push mode: the client's borg reaches the repository host itself, with an agent holding only
/// the credential `access` gives (on the host `client`: the VM's hypervisor for a vm policy).
pub(crate) async fn client_side(
    ex: &Executor,
    client: &Client,
    repo: &RepoSide,
    access: Access<'_>,
) -> Result<ClientSide, String> {
    let local_client = is_local(&client.hostname);
    let sudo = !local_client && backup_user(ex) != "root";
    match &repo.location {
        RepoLocation::Local { path } if local_client => Ok(ClientSide {
            transport: Transport::Local,
            plain: Transport::Local,
            repo_url: path.clone(),
            env: BorgEnv { trust: repo.env.trust, ..local_env(ex, repo.env.passphrase.clone()) },
            known_host: None,
            sudo: false,
            relay: false,
            _credential: None,
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
            let credential = credential_needed(
                credentials::for_access(ex, access, &repo.repository).await?,
                repo,
            )?;
            let plain = client_transport(ex, client)?;
            let transport = match &plain {
                Transport::Ssh(t) => {
                    Transport::Ssh(t.clone().with_forwarded_key(Some(credential.key.clone())))
                }
                Transport::Local => Transport::Local,
            };
            Ok(ClientSide {
                transport,
                plain,
                repo_url: repo.location.ssh_url(&user),
                env: BorgEnv { base_dir: None, passphrase: repo.env.passphrase.clone(), trust: repo.env.trust },
                known_host: Some(pinned),
                sudo,
                relay: false,
                _credential: Some(credential),
            })
        }
    }
}

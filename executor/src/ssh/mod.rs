//! The SSH transport, over russh: the server's own key (never an `ssh` binary), host keys pinned on
//! first use, connect timeout and keep-alives, commands run through an exec channel with their
//! secrets on stdin; for push mode an agent holding one repository credential (never the server's
//! key), for pull mode a relay from a unix socket on the client to the repository host's
//! `borg serve` through the server (`relay.rs`).

mod agent;
mod hostkeys;
mod keys;
mod orphans;
mod process;
mod relay;

pub use hostkeys::{HostKeyStore, HostKeyVerdict, MemoryHostKeys};
pub use keys::{
    generate_key, generate_server_key, import_key, import_server_key, load_server_key,
    server_public_key, ClientKey, KeyError, SETTING_PASSPHRASE, SETTING_PRIVATE_KEY,
    SETTING_PUBLIC_KEY,
};

use crate::transport::{Process, TransportError};
use agent::ForwardedAgent;
pub use relay::{relay_rsh, wrap_for_relay, Relay, RELAY_SOCKET_VAR};
use russh::client::{self, Handle, Msg, Session};
use russh::keys::ssh_key::HashAlg;
use russh::keys::{PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use russh::{Channel, ChannelOpenFailure};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Where and how to reach a host over SSH.
#[derive(Clone)]
pub struct SshTarget {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub key: Arc<ClientKey>,
    pub host_keys: Arc<dyn HostKeyStore>,
    /// Limit for TCP connect, key exchange and authentication together.
    pub connect_timeout: Duration,
    /// Keep-alive interval; three unanswered keep-alives end the connection as lost.
    pub keepalive: Duration,
    /// Forward an in-process agent holding this repository credential (push mode: the client's
    /// borg reaches its repository with it). Never the key this target logs in with.
    pub agent_key: Option<Arc<ClientKey>>,
    /// Pull mode: every command gets a unix socket on the host (its path in
    /// [`RELAY_SOCKET_VAR`]) whose connections the server relays to the repository host.
    pub relay: Option<Arc<Relay>>,
    /// How long `stop()` waits after SIGTERM before sending SIGKILL.
    pub stop_grace: Duration,
}

impl std::fmt::Debug for SshTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SshTarget")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("key", &self.key)
            .field("agent_key", &self.agent_key)
            .field("relay", &self.relay.is_some())
            .finish_non_exhaustive()
    }
}

impl SshTarget {
    /// A target with default timeouts (connect 10 s, keep-alive 15 s, stop grace 20 s), no agent.
    pub fn new(
        host: impl Into<String>,
        port: u16,
        user: impl Into<String>,
        key: Arc<ClientKey>,
        host_keys: Arc<dyn HostKeyStore>,
    ) -> Self {
        SshTarget {
            host: host.into(),
            port,
            user: user.into(),
            key,
            host_keys,
            connect_timeout: Duration::from_secs(10),
            keepalive: Duration::from_secs(15),
            agent_key: None,
            relay: None,
            stop_grace: Duration::from_secs(20),
        }
    }

    /// Forwards an agent holding only `key` (a repository credential) with every command.
    pub fn with_forwarded_key(mut self, key: Option<Arc<ClientKey>>) -> Self {
        self.agent_key = key;
        self
    }

    /// Gives every command a relay socket leading to `relay`'s repository host.
    pub fn with_relay(mut self, relay: Option<Arc<Relay>>) -> Self {
        self.relay = relay;
        self
    }

    pub fn with_connect_timeout(mut self, t: Duration) -> Self {
        self.connect_timeout = t;
        self
    }

    pub fn with_keepalive(mut self, t: Duration) -> Self {
        self.keepalive = t;
        self
    }

    pub fn with_stop_grace(mut self, t: Duration) -> Self {
        self.stop_grace = t;
        self
    }

    /// Runs `line` (a [`crate::RemoteCommand::shell_line`]) and writes `payload` to its stdin.
    pub(crate) async fn spawn(
        &self,
        line: &str,
        payload: &[u8],
    ) -> Result<Process, TransportError> {
        let conn = self.connect().await?;
        // Commands a lost connection left running on this host stop first.
        orphans::reap(self, &conn).await;
        match tokio::time::timeout(
            self.connect_timeout,
            process::start(self, conn, line, payload),
        )
        .await
        {
            Ok(r) => r,
            Err(_) => Err(TransportError::Lost {
                host: self.host.clone(),
                reason: format!(
                    "the command did not start within {:?}",
                    self.connect_timeout
                ),
            }),
        }
    }

    /// Opens an authenticated connection.
    pub(crate) async fn connect(&self) -> Result<Connection, TransportError> {
        match tokio::time::timeout(self.connect_timeout, self.connect_inner()).await {
            Ok(r) => r,
            Err(_) => Err(TransportError::Unreachable {
                host: self.host.clone(),
                reason: format!(
                    "no ssh answer on port {} within {:?}",
                    self.port, self.connect_timeout
                ),
            }),
        }
    }

    async fn connect_inner(&self) -> Result<Connection, TransportError> {
        let host = self.host.clone();
        let unreachable = |reason: String| TransportError::Unreachable {
            host: host.clone(),
            reason,
        };
        let tcp = tokio::net::TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| unreachable(format!("tcp port {}: {e}", self.port)))?;
        let _ = tcp.set_nodelay(true);
        let agent =
            match &self.agent_key {
                // The server's own key never leaves this process, not even through an agent.
                Some(k) if k.fingerprint() == self.key.fingerprint() => {
                    return Err(TransportError::Spawn {
                        host: host.clone(),
                        reason: "refusing to forward the server's own key as an agent".into(),
                    })
                }
                Some(k) => Some(ForwardedAgent::start(k).await.map_err(|reason| {
                    TransportError::Spawn {
                        host: host.clone(),
                        reason,
                    }
                })?),
                None => None,
            };
        let rejection = Arc::new(Mutex::new(None));
        let handler = Client {
            host: self.host.clone(),
            port: self.port,
            host_keys: self.host_keys.clone(),
            rejection: rejection.clone(),
            agent: agent.clone(),
            relay: self.relay.clone(),
        };
        let config = client::Config {
            keepalive_interval: Some(self.keepalive),
            keepalive_max: 3,
            inactivity_timeout: None,
            ..Default::default()
        };
        let handshake = client::connect_stream(Arc::new(config), tcp, handler).await;
        let mut handle = match handshake {
            Ok(h) => h,
            Err(e) => {
                let rejected = rejection.lock().unwrap_or_else(|p| p.into_inner()).take();
                return Err(match rejected {
                    Some(err) => err,
                    None => unreachable(format!("ssh handshake: {e}")),
                });
            }
        };
        let key = self.key.private();
        let hash = if key.algorithm().is_rsa() {
            handle
                .best_supported_rsa_hash()
                .await
                .ok()
                .flatten()
                .flatten()
        } else {
            None
        };
        let auth = handle
            .authenticate_publickey(self.user.clone(), PrivateKeyWithHashAlg::new(key, hash))
            .await
            .map_err(|e| TransportError::Lost {
                host: host.clone(),
                reason: format!("during authentication: {e}"),
            })?;
        if !auth.success() {
            tracing::warn!(host = %self.host, port = self.port, user = %self.user, "ssh key refused");
            return Err(TransportError::AuthRefused {
                host: host.clone(),
                user: self.user.clone(),
            });
        }
        tracing::debug!(host = %self.host, port = self.port, user = %self.user, "ssh connected");
        Ok(Connection {
            handle,
            _agent: agent,
        })
    }
}

/// An authenticated connection; the agent (when forwarded) lives as long as it does.
pub(crate) struct Connection {
    pub(crate) handle: Handle<Client>,
    _agent: Option<Arc<ForwardedAgent>>,
}

/// russh's callbacks for one connection.
pub(crate) struct Client {
    host: String,
    port: u16,
    host_keys: Arc<dyn HostKeyStore>,
    /// Why the host key was refused, for the error returned by `connect`.
    rejection: Arc<Mutex<Option<TransportError>>>,
    agent: Option<Arc<ForwardedAgent>>,
    relay: Option<Arc<Relay>>,
}

impl Client {
    fn refuse(&self, err: TransportError) -> Result<bool, russh::Error> {
        *self.rejection.lock().unwrap_or_else(|p| p.into_inner()) = Some(err);
        Ok(false)
    }
}

impl client::Handler for Client {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        server_public_key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let key = match server_public_key {
            PublicKeyOrCertificate::PublicKey { key, .. } => key,
            PublicKeyOrCertificate::Certificate(_) => {
                return self.refuse(TransportError::Spawn {
                    host: self.host.clone(),
                    reason: "the host presented a certificate; only plain host keys are supported"
                        .into(),
                })
            }
        };
        let fingerprint = key.fingerprint(HashAlg::Sha256).to_string();
        let openssh = key.to_openssh().unwrap_or_default();
        let key_type = key.algorithm().to_string();
        match self
            .host_keys
            .check(&self.host, self.port, &key_type, &fingerprint, &openssh)
        {
            Ok(HostKeyVerdict::Known) | Ok(HostKeyVerdict::New) => Ok(true),
            Ok(HostKeyVerdict::Changed { expected, got }) => {
                tracing::warn!(host = %self.host, port = self.port, expected = %expected, got = %got, "ssh host key changed: connection refused");
                self.refuse(TransportError::HostKeyChanged {
                    host: format!("{}:{}", self.host, self.port),
                    expected,
                    got,
                })
            }
            Err(reason) => self.refuse(TransportError::Spawn {
                host: self.host.clone(),
                reason: format!("checking the host key: {reason}"),
            }),
        }
    }

    async fn server_channel_open_agent_forward(
        &mut self,
        channel: Channel<Msg>,
        reply: client::ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        match &self.agent {
            Some(agent) => {
                reply.accept().await;
                agent.serve_channel(channel);
            }
            None => {
                tracing::warn!(host = %self.host, "host asked for an agent that was not forwarded");
                reply
                    .reject(ChannelOpenFailure::AdministrativelyProhibited)
                    .await;
            }
        }
        Ok(())
    }

    async fn server_channel_open_forwarded_streamlocal(
        &mut self,
        channel: Channel<Msg>,
        socket_path: &str,
        reply: client::ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        match &self.relay {
            Some(relay) if relay::is_relay_socket(socket_path) => {
                reply.accept().await;
                relay::serve(relay.clone(), channel, self.host.clone());
            }
            _ => {
                tracing::warn!(host = %self.host, socket = socket_path, "host opened a relay connection that was not requested");
                reply
                    .reject(ChannelOpenFailure::AdministrativelyProhibited)
                    .await;
            }
        }
        Ok(())
    }
}

//! The SSH transport, over russh: the server's own key (never an `ssh` binary), host keys pinned on
//! first use, connect timeout and keep-alives, commands run through an exec channel with their
//! secrets on stdin, and optional agent forwarding of the server's key for push-mode backups.

mod agent;
mod hostkeys;
mod keys;
mod process;

pub use hostkeys::{HostKeyStore, HostKeyVerdict, MemoryHostKeys};
pub use keys::{
    generate_key, generate_server_key, import_key, import_server_key, load_server_key,
    server_public_key, ClientKey, KeyError, SETTING_PASSPHRASE, SETTING_PRIVATE_KEY,
    SETTING_PUBLIC_KEY,
};

use crate::transport::{Process, TransportError};
use agent::ForwardedAgent;
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
    /// Forward an in-process agent holding the server's key (push mode: the client's borg reaches
    /// the repository host as the server).
    pub forward_agent: bool,
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
            .field("forward_agent", &self.forward_agent)
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
            forward_agent: false,
            stop_grace: Duration::from_secs(20),
        }
    }

    pub fn with_agent_forwarding(mut self, on: bool) -> Self {
        self.forward_agent = on;
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
        let agent = if self.forward_agent {
            Some(ForwardedAgent::start(&self.key).await.map_err(|reason| {
                TransportError::Spawn {
                    host: host.clone(),
                    reason,
                }
            })?)
        } else {
            None
        };
        let rejection = Arc::new(Mutex::new(None));
        let handler = Client {
            host: self.host.clone(),
            port: self.port,
            host_keys: self.host_keys.clone(),
            rejection: rejection.clone(),
            agent: agent.clone(),
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
}

//! An in-process ssh-agent holding exactly one repository credential (a (client, repository) key
//! whose `authorized_keys` line only allows `borg serve --restrict-to-repository … --append-only`),
//! answered over agent-forwarding channels, so a client's borg reaches its repository without the
//! key ever leaving this process. Never the server's own key: [`super::SshTarget`] refuses to
//! forward the key it logs in with. The remote side may list and sign, nothing else: it cannot
//! add, remove or lock keys. The agent protocol is russh's own (`russh::keys::agent::server`).

use futures::StreamExt;
use russh::client::Msg;
use russh::keys::agent::client::AgentClient;
use russh::keys::agent::server as agent_server;
use russh::Channel;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::io::DuplexStream;
use tokio::sync::mpsc;

use super::ClientKey;

/// Answers listing and signing; the key is added once, on a private connection, before the agent
/// is offered to anyone (`sealed` is set then), and no request changes it afterwards.
#[derive(Clone)]
struct ListAndSignOnly {
    sealed: Arc<AtomicBool>,
}

impl agent_server::Agent for ListAndSignOnly {
    fn confirm_request(
        &self,
        msg: agent_server::MessageType,
    ) -> impl std::future::Future<Output = bool> + Send {
        use agent_server::MessageType as M;
        let allowed = match msg {
            M::RequestKeys | M::Sign => true,
            M::AddKeys => !self.sealed.load(Ordering::SeqCst),
            M::RemoveKeys | M::RemoveAllKeys | M::Lock | M::Unlock => false,
        };
        async move { allowed }
    }
}

/// One agent per SSH connection; dropping it ends the agent and its forwarded channels' bridges.
pub(crate) struct ForwardedAgent {
    streams: mpsc::UnboundedSender<DuplexStream>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ForwardedAgent {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ForwardedAgent {
    /// Starts an agent holding `key` (and nothing else, ever).
    pub(crate) async fn start(key: &ClientKey) -> Result<Arc<ForwardedAgent>, String> {
        let sealed = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::unbounded_channel::<DuplexStream>();
        let listener =
            futures::stream::unfold(
                rx,
                |mut rx| async move { rx.recv().await.map(|s| (Ok(s), rx)) },
            )
            .boxed();
        let policy = ListAndSignOnly {
            sealed: sealed.clone(),
        };
        let task = tokio::spawn(async move {
            if let Err(e) = agent_server::serve(listener, policy).await {
                tracing::debug!(error = %e, "forwarded agent ended");
            }
        });
        let agent = Arc::new(ForwardedAgent { streams: tx, task });
        // Load the key through the agent protocol itself, on a private in-memory connection.
        let (ours, theirs) = tokio::io::duplex(64 * 1024);
        agent
            .streams
            .send(theirs)
            .map_err(|_| "agent stopped".to_string())?;
        let mut client = AgentClient::connect(ours);
        client
            .add_identity(&key.private(), &[])
            .await
            .map_err(|e| format!("loading the key into the agent: {e}"))?;
        sealed.store(true, Ordering::SeqCst);
        Ok(agent)
    }

    /// Serves one agent-forwarding channel opened by the remote sshd.
    pub(crate) fn serve_channel(&self, channel: Channel<Msg>) {
        let (ours, theirs) = tokio::io::duplex(64 * 1024);
        if self.streams.send(theirs).is_err() {
            return;
        }
        tokio::spawn(async move {
            let mut stream = channel.into_stream();
            let mut ours = ours;
            if let Err(e) = tokio::io::copy_bidirectional(&mut stream, &mut ours).await {
                tracing::debug!(error = %e, "agent forwarding channel ended");
            }
        });
    }
}

//! An in-process ssh-agent holding only the server's key, answered over agent-forwarding channels,
//! so a client's borg reaches the repository host with the server's key without the key ever
//! leaving this process. The agent protocol is russh's own (`russh::keys::agent::server`).

use futures::StreamExt;
use russh::client::Msg;
use russh::keys::agent::client::AgentClient;
use russh::keys::agent::server as agent_server;
use russh::Channel;
use std::sync::Arc;
use tokio::io::DuplexStream;
use tokio::sync::mpsc;

use super::ClientKey;

/// Accepts any request: the agent only ever holds the server's key.
#[derive(Clone)]
struct Permissive;

impl agent_server::Agent for Permissive {}

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
    /// Starts an agent holding `key`.
    pub(crate) async fn start(key: &ClientKey) -> Result<Arc<ForwardedAgent>, String> {
        let (tx, rx) = mpsc::unbounded_channel::<DuplexStream>();
        let listener =
            futures::stream::unfold(
                rx,
                |mut rx| async move { rx.recv().await.map(|s| (Ok(s), rx)) },
            )
            .boxed();
        let task = tokio::spawn(async move {
            if let Err(e) = agent_server::serve(listener, Permissive).await {
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

//! One command on an exec channel: stdin gets the secrets then EOF, stdout and stderr are pumped
//! into in-memory pipes, and the exit status (or signal) the host reports is the result. A channel
//! that closes without a status means the connection was lost.

use super::{Connection, SshTarget};
use crate::transport::{BoxFuture, Process, ProcessControl, TransportError};
use russh::client::Msg;
use russh::{ChannelMsg, ChannelReadHalf, ChannelWriteHalf, Disconnect, Sig};
use std::time::Duration;
use tokio::io::{AsyncWriteExt, DuplexStream};
use tokio::sync::oneshot;

/// Room buffered per output stream before the host is slowed down.
const PIPE_BUFFER: usize = 256 * 1024;

/// Environment variable tagging every process of one command.
const RUN_ID_VAR: &str = "CYBORG_RUN_ID";

/// Signals every process tagged with a run id: `sh -c KILL_SCRIPT sh SIGNAL RUN_ID`. The tagged
/// processes are stopped first and continued last, so each receives the signal before any runs
/// again: a shell never sees its child die and goes on to its next command (`/proc` lists pids
/// in text order, which is not always parent first).
pub(super) const KILL_SCRIPT: &str = r#"pids=
for d in /proc/[0-9]*; do
  if tr '\0' '\n' <"$d/environ" 2>/dev/null | grep -qx "CYBORG_RUN_ID=$2"; then pids="$pids ${d#/proc/}"; fi
done
if [ -n "$pids" ]; then kill -STOP $pids; kill "-$1" $pids; kill -CONT $pids; fi 2>/dev/null; true"#;

fn run_id() -> String {
    use rand_ssh::RngExt;
    let bytes: [u8; 12] = rand_ssh::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// How a command ended, as seen on the channel.
#[derive(Debug, Clone)]
enum Ended {
    Code(i32),
    Lost(String),
}

fn signal_number(sig: &Sig) -> i32 {
    match sig {
        Sig::HUP => 1,
        Sig::INT => 2,
        Sig::QUIT => 3,
        Sig::ILL => 4,
        Sig::ABRT => 6,
        Sig::FPE => 8,
        Sig::KILL => 9,
        Sig::USR1 => 10,
        Sig::SEGV => 11,
        Sig::PIPE => 13,
        Sig::ALRM => 14,
        Sig::TERM => 15,
        Sig::Custom(name) => match name.as_str() {
            "BUS" => 7,
            "USR2" => 12,
            "STKFLT" => 16,
            "CHLD" => 17,
            "CONT" => 18,
            "STOP" => 19,
            "TSTP" => 20,
            "XCPU" => 24,
            "XFSZ" => 25,
            "SYS" => 31,
            _ => 0,
        },
    }
}

/// Opens a session channel on `conn`, runs `line` and hands back the running process.
pub(super) async fn start(
    target: &SshTarget,
    conn: Connection,
    line: &str,
    payload: &[u8],
) -> Result<Process, TransportError> {
    let host = target.host.clone();
    let spawn_err = |what: &str, e: russh::Error| TransportError::Spawn {
        host: host.clone(),
        reason: format!("{what}: {e}"),
    };
    let channel = conn
        .handle
        .channel_open_session()
        .await
        .map_err(|e| spawn_err("opening a session channel", e))?;
    if target.agent_key.is_some() {
        channel
            .agent_forward(false)
            .await
            .map_err(|e| spawn_err("requesting agent forwarding", e))?;
    }
    let (mut read, write) = channel.split();
    // Tag the command's processes so `stop()` finds them even where sshd ignores signal requests
    // (OpenSSH does for root logins, which run without privilege separation).
    let run_id = run_id();
    let relay_env = match &target.relay {
        Some(_) => {
            // sshd listens on this socket for the command; the server relays each connection.
            let path = super::relay::socket_path(&run_id);
            conn.handle
                .streamlocal_forward(path.clone())
                .await
                .map_err(|e| spawn_err("opening the relay socket (streamlocal forwarding)", e))?;
            format!(" {}={path}", super::RELAY_SOCKET_VAR)
        }
        None => String::new(),
    };
    let line = format!("exec env {RUN_ID_VAR}={run_id}{relay_env} {line}");
    write
        .exec(true, line)
        .await
        .map_err(|e| spawn_err("sending the command", e))?;
    // Wait for the host to confirm the command started; keep any output that came first.
    let mut early = Vec::new();
    loop {
        match read.wait().await {
            Some(ChannelMsg::Success) => break,
            Some(ChannelMsg::Failure) => {
                return Err(TransportError::Spawn {
                    host: host.clone(),
                    reason: "the host refused to run the command".into(),
                })
            }
            Some(msg) => early.push(msg),
            None => {
                return Err(TransportError::Lost {
                    host: host.clone(),
                    reason: "channel closed before the command started".into(),
                })
            }
        }
    }
    if !payload.is_empty() {
        write
            .data_bytes(payload.to_vec())
            .await
            .map_err(|e| spawn_err("writing stdin", e))?;
    }
    write
        .eof()
        .await
        .map_err(|e| spawn_err("closing stdin", e))?;

    let (out_w, out_r) = tokio::io::duplex(PIPE_BUFFER);
    let (err_w, err_r) = tokio::io::duplex(PIPE_BUFFER);
    let (done_tx, done_rx) = oneshot::channel();
    tokio::spawn(pump(read, early, out_w, err_w, done_tx));
    tracing::debug!(host = %host, port = target.port, "ssh command started");
    Ok(Process {
        stdout: Box::pin(out_r),
        stderr: Box::pin(err_r),
        control: Box::new(SshProcess {
            host,
            orphan_key: super::orphans::key(target),
            conn,
            write,
            run_id,
            done: Some(done_rx),
            ended: None,
            grace: target.stop_grace,
        }),
    })
}

async fn deliver(w: &mut Option<DuplexStream>, data: &[u8]) {
    if let Some(pipe) = w {
        // The reader went away: drop the output, keep running.
        if pipe.write_all(data).await.is_err() {
            *w = None;
        }
    }
}

/// Moves channel messages into the output pipes until the channel closes, then reports the end.
async fn pump(
    mut read: ChannelReadHalf,
    early: Vec<ChannelMsg>,
    out: DuplexStream,
    err: DuplexStream,
    done: oneshot::Sender<Ended>,
) {
    let (mut out, mut err) = (Some(out), Some(err));
    let mut status = None;
    let mut early = early.into_iter();
    loop {
        let msg = match early.next() {
            Some(m) => Some(m),
            None => read.wait().await,
        };
        match msg {
            Some(ChannelMsg::Data { data }) => deliver(&mut out, &data).await,
            Some(ChannelMsg::ExtendedData { data, ext: 1 }) => deliver(&mut err, &data).await,
            Some(ChannelMsg::ExitStatus { exit_status }) => {
                status = Some(i32::try_from(exit_status).unwrap_or(255))
            }
            Some(ChannelMsg::ExitSignal { signal_name, .. }) => {
                status = Some(128 + signal_number(&signal_name))
            }
            Some(ChannelMsg::Close) | None => break,
            Some(_) => {}
        }
    }
    drop(out);
    drop(err);
    let ended = match status {
        Some(code) => Ended::Code(code),
        None => Ended::Lost("the channel closed without an exit status (connection lost)".into()),
    };
    let _ = done.send(ended);
}

struct SshProcess {
    host: String,
    /// Where this command is remembered if its connection is lost (`orphans.rs`).
    orphan_key: String,
    conn: Connection,
    write: ChannelWriteHalf<Msg>,
    run_id: String,
    done: Option<oneshot::Receiver<Ended>>,
    ended: Option<Ended>,
    grace: Duration,
}

impl SshProcess {
    /// Waits for the end, at most `limit`; `None` when still running.
    async fn wait_for(&mut self, limit: Option<Duration>) -> Option<Ended> {
        if let Some(e) = &self.ended {
            return Some(e.clone());
        }
        let rx = self.done.as_mut()?;
        let got = match limit {
            Some(t) => tokio::time::timeout(t, rx).await.ok()?,
            None => rx.await,
        };
        let ended = got.unwrap_or_else(|_| Ended::Lost("connection task ended".into()));
        self.done = None;
        self.ended = Some(ended.clone());
        Some(ended)
    }

    /// Sends `sig` to the command: as an SSH signal request, and by run id on a second channel.
    async fn signal(&mut self, sig: Sig, name: &str) {
        let _ = self.write.signal(sig).await;
        super::orphans::kill_tagged(&self.conn, name, &self.run_id).await;
    }
}

impl ProcessControl for SshProcess {
    fn wait(&mut self) -> BoxFuture<'_, Result<i32, TransportError>> {
        Box::pin(async move {
            match self.wait_for(None).await {
                Some(Ended::Code(c)) => Ok(c),
                Some(Ended::Lost(reason)) => {
                    tracing::warn!(host = %self.host, reason = %reason, "ssh connection lost");
                    super::orphans::record(&self.orphan_key, &self.run_id);
                    Err(TransportError::Lost {
                        host: self.host.clone(),
                        reason,
                    })
                }
                None => {
                    super::orphans::record(&self.orphan_key, &self.run_id);
                    Err(TransportError::Lost {
                        host: self.host.clone(),
                        reason: "connection lost".into(),
                    })
                }
            }
        })
    }

    fn stop(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if self.ended.is_some() || self.done.is_none() {
                return;
            }
            tracing::info!(host = %self.host, "stopping remote command (TERM)");
            self.signal(Sig::TERM, "TERM").await;
            if self.wait_for(Some(self.grace)).await.is_none() {
                tracing::warn!(host = %self.host, "remote command ignored TERM: sending KILL");
                self.signal(Sig::KILL, "KILL").await;
                if self.wait_for(Some(Duration::from_secs(5))).await.is_none() {
                    let _ = self.write.close().await;
                    let _ = self
                        .conn
                        .handle
                        .disconnect(Disconnect::ByApplication, "command stopped", "en")
                        .await;
                    let _ = self.wait_for(Some(Duration::from_secs(2))).await;
                }
            }
        })
    }
}

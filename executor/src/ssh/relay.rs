//! Pull mode's relay. The server asks the client's sshd to listen on a private unix socket
//! (`streamlocal-forward@openssh.com`, mode 0600, owned by the login user) for the command it
//! runs; the client's borg uses a `BORG_RSH` that only connects its stdio to that socket
//! ([`relay_rsh`]). Each connection arrives at the server as a `forwarded-streamlocal` channel,
//! which the server joins to an exec channel it opens itself on the repository host, logged in
//! with the (client, repository) credential whose forced command is `borg serve
//! --restrict-to-repository PATH --append-only`. The server copies bytes between the two
//! channels: neither host holds a credential for, or a route to, the other.

use super::SshTarget;
use crate::transport::RemoteCommand;
use russh::client::Msg;
use russh::Channel;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;

/// Environment variable holding the relay socket's path in the command's environment.
pub const RELAY_SOCKET_VAR: &str = "CYBORG_RELAY_SOCKET";

const SOCKET_PREFIX: &str = "/tmp/cyborg-relay-";

/// Bytes buffered per direction by the relay.
const RELAY_BUFFER: usize = 256 * 1024;

/// The repository end of a relay.
#[derive(Debug)]
pub struct Relay {
    /// The repository host, logged in with the pair's credential (never the server's key).
    pub repository: SshTarget,
    /// The command asked for on the repository host (the credential's forced command replaces
    /// it anyway).
    pub command: String,
}

impl Relay {
    /// A relay to `repository` running `borg serve` restricted to `path`, append-only.
    pub fn borg_serve(repository: SshTarget, path: &str) -> Relay {
        let command = RemoteCommand::new([
            "borg",
            "serve",
            "--restrict-to-repository",
            path,
            "--append-only",
        ])
        .display();
        Relay {
            repository,
            command,
        }
    }
}

/// Path of the relay socket of one command (`run_id` is random, 96 bits).
pub(super) fn socket_path(run_id: &str) -> String {
    format!("{SOCKET_PREFIX}{run_id}.sock")
}

pub(super) fn is_relay_socket(path: &str) -> bool {
    path.strip_prefix(SOCKET_PREFIX)
        .and_then(|r| r.strip_suffix(".sock"))
        .is_some_and(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_hexdigit()))
}

/// Copies bytes between `client` (a forwarded-streamlocal channel) and a new `borg serve`
/// channel on the repository host, until both directions end.
pub(super) fn serve(relay: Arc<Relay>, client: Channel<Msg>, client_host: String) {
    tokio::spawn(async move {
        let repo_host = relay.repository.host.clone();
        let mut client = client.into_stream();
        let opened = async {
            let conn = relay
                .repository
                .connect()
                .await
                .map_err(|e| e.to_string())?;
            let ch = conn
                .handle
                .channel_open_session()
                .await
                .map_err(|e| format!("opening a channel: {e}"))?;
            ch.exec(true, relay.command.clone())
                .await
                .map_err(|e| format!("starting borg serve: {e}"))?;
            Ok::<_, String>((conn, ch))
        };
        let (conn, ch) = match opened.await {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(client = %client_host, repository = %repo_host, error = %e, "pull relay cannot reach the repository host");
                // borg shows what it received instead of its protocol as the error.
                let msg = format!(
                    "cyborgbackup relay: cannot reach the repository host {repo_host}: {e}\n"
                );
                let _ = client.write_all(msg.as_bytes()).await;
                let _ = client.shutdown().await;
                return;
            }
        };
        let mut repo = ch.into_stream();
        match tokio::io::copy_bidirectional_with_sizes(
            &mut client,
            &mut repo,
            RELAY_BUFFER,
            RELAY_BUFFER,
        )
        .await
        {
            Ok((up, down)) => {
                tracing::debug!(client = %client_host, repository = %repo_host, up, down, "pull relay ended")
            }
            Err(e) => {
                tracing::debug!(client = %client_host, repository = %repo_host, error = %e, "pull relay ended")
            }
        }
        drop(conn);
    });
}

/// Connects stdio to the relay socket: socat where installed, else python3 (which borg from a
/// distribution's packages depends on). Arguments borg appends (host, `borg serve …`) are ignored.
/// socat's `-t`: after one direction ends, how long the other may still deliver (its default,
/// 0.5 s, can cut the repository's last answers).
const RELAY_SCRIPT: &str = "if command -v socat >/dev/null 2>&1; then \
exec socat -t 60 - \"UNIX-CONNECT:$CYBORG_RELAY_SOCKET\"; fi; \
if command -v python3 >/dev/null 2>&1; then exec python3 -c \"$CYBORG_RELAY_PY\"; fi; \
echo 'cyborgbackup relay: pull mode needs socat or python3 on the client' >&2; exit 127";

/// The python fallback of [`RELAY_SCRIPT`].
const RELAY_PY: &str = r#"import os, socket, sys, threading
s = socket.socket(socket.AF_UNIX)
s.connect(os.environ["CYBORG_RELAY_SOCKET"])
def up():
    try:
        while True:
            b = os.read(0, 65536)
            if not b:
                break
            s.sendall(b)
    finally:
        s.shutdown(socket.SHUT_WR)
threading.Thread(target=up, daemon=True).start()
out = sys.stdout.buffer
while True:
    b = s.recv(65536)
    if not b:
        break
    out.write(b)
    out.flush()
"#;

/// Runs `cmd` with `BORG_RSH` set to the relay, and removes the relay socket when it ends
/// (sshd leaves it behind).
const WRAPPER: &str = "trap 'rm -f \"$CYBORG_RELAY_SOCKET\"' EXIT HUP INT TERM; \
BORG_RSH=$CYBORG_RELAY_RSH; export BORG_RSH; \"$@\"";

/// The `BORG_RSH` value of pull mode, as borg splits it (shell words).
pub fn relay_rsh() -> String {
    let script = shlex::try_quote(RELAY_SCRIPT)
        .map(|s| s.into_owned())
        .unwrap_or_default();
    format!("sh -c {script} cyborg-relay")
}

/// Wraps a borg command for a host reached with a [`Relay`].
pub fn wrap_for_relay(mut cmd: RemoteCommand) -> RemoteCommand {
    let mut argv = vec![
        "sh".to_string(),
        "-c".to_string(),
        WRAPPER.to_string(),
        "sh".to_string(),
    ];
    argv.append(&mut cmd.argv);
    cmd.argv = argv;
    cmd.env("CYBORG_RELAY_RSH", relay_rsh())
        .env("CYBORG_RELAY_PY", RELAY_PY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_sockets_are_recognised() {
        assert!(is_relay_socket(&socket_path("00ff12ab")));
        assert!(!is_relay_socket("/tmp/cyborg-relay-.sock"));
        assert!(!is_relay_socket("/tmp/cyborg-relay-../x.sock"));
        assert!(!is_relay_socket("/run/other.sock"));
    }

    #[test]
    fn the_rsh_survives_borgs_word_splitting() {
        let words = shlex::split(&relay_rsh()).unwrap();
        assert_eq!(words[0], "sh");
        assert_eq!(words[1], "-c");
        assert_eq!(words[2], RELAY_SCRIPT);
        assert_eq!(words[3], "cyborg-relay");
        let r = Relay::borg_serve(
            SshTarget::new(
                "h",
                22,
                "u",
                Arc::new(super::super::ClientKey::random().unwrap()),
                Arc::new(super::super::MemoryHostKeys::default()),
            ),
            "/srv/a b",
        );
        assert_eq!(
            r.command,
            "borg serve --restrict-to-repository '/srv/a b' --append-only"
        );
    }
}

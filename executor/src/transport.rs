//! How commands reach a host. A command is an argument list plus environment; secrets travel on
//! the command's stdin (read by a tiny `sh` prologue into environment variables), so they never
//! appear on a command line, in a file, or in `ps`. The local transport runs the same shell line
//! as SSH would, so both paths are exercised the same way.

use model::Secret;
use std::future::Future;
use std::pin::Pin;
use std::process::Stdio;
use tokio::io::{AsyncRead, AsyncWriteExt};
use tokio::process::{Child, Command};

/// A command to run on a host, built from an argument list.
#[derive(Debug, Clone, Default)]
pub struct RemoteCommand {
    pub argv: Vec<String>,
    /// Non-secret environment variables.
    pub env: Vec<(String, String)>,
    /// Secret environment variables, delivered over stdin.
    pub secret_env: Vec<(String, Secret)>,
}

/// Why a command could not be run (as opposed to running and failing).
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("cannot start command on {host}: {reason}")]
    Spawn { host: String, reason: String },
    #[error("connection to {host} lost: {reason}")]
    Lost { host: String, reason: String },
    #[error("invalid command: {0}")]
    Invalid(String),
    /// No connection: refused, unroutable, unresolvable, or no answer in time.
    #[error("cannot reach {host}: {reason}")]
    Unreachable { host: String, reason: String },
    #[error("{host} refused the server's ssh key for user {user}: add the server's public key to that user's authorized_keys")]
    AuthRefused { host: String, user: String },
    #[error("ssh host key of {host} changed: pinned {expected}, presented {got}; if the change is expected, accept the new key through the API")]
    HostKeyChanged {
        host: String,
        expected: String,
        got: String,
    },
}

impl TransportError {
    /// Whether trying again later may help (network trouble) or not (bad command).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            TransportError::Lost { .. }
                | TransportError::Spawn { .. }
                | TransportError::Unreachable { .. }
        )
    }
}

fn quote(s: &str) -> Result<String, TransportError> {
    shlex::try_quote(s)
        .map(|c| c.into_owned())
        .map_err(|_| TransportError::Invalid(format!("argument contains a NUL byte: {s:?}")))
}

fn check_env_name(name: &str) -> Result<(), TransportError> {
    let ok = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(TransportError::Invalid(format!(
            "bad environment variable name {name:?}"
        )))
    }
}

impl RemoteCommand {
    pub fn new<I, S>(argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        RemoteCommand {
            argv: argv.into_iter().map(Into::into).collect(),
            ..Default::default()
        }
    }

    pub fn env(mut self, k: &str, v: impl Into<String>) -> Self {
        self.env.push((k.to_string(), v.into()));
        self
    }

    pub fn secret(mut self, k: &str, v: Secret) -> Self {
        self.secret_env.push((k.to_string(), v));
        self
    }

    /// The single shell line that runs this command on a POSIX host: `env K=V … sh -c
    /// '<read secrets from stdin>; exec "$@"' sh ARGV…`, every piece quoted.
    pub fn shell_line(&self) -> Result<String, TransportError> {
        if self.argv.is_empty() {
            return Err(TransportError::Invalid("empty argument list".into()));
        }
        let mut parts = vec!["env".to_string()];
        for (k, v) in &self.env {
            check_env_name(k)?;
            parts.push(quote(&format!("{k}={v}"))?);
        }
        let mut prologue = String::new();
        for (k, _) in &self.secret_env {
            check_env_name(k)?;
            prologue.push_str(&format!("IFS= read -r {k} || exit 97; export {k}; "));
        }
        prologue.push_str("exec \"$@\"");
        parts.extend(["sh".into(), "-c".into(), quote(&prologue)?, "sh".into()]);
        for a in &self.argv {
            parts.push(quote(a)?);
        }
        Ok(parts.join(" "))
    }

    /// What is written to the command's stdin: one secret per line.
    pub fn stdin_payload(&self) -> Result<Vec<u8>, TransportError> {
        let mut out = Vec::new();
        for (k, v) in &self.secret_env {
            if v.expose().contains(['\n', '\0']) {
                return Err(TransportError::Invalid(format!(
                    "secret {k} contains a line break or NUL"
                )));
            }
            out.extend_from_slice(v.expose().as_bytes());
            out.push(b'\n');
        }
        Ok(out)
    }

    /// A human-readable form for job logs: the argument list, never the secrets.
    pub fn display(&self) -> String {
        self.argv
            .iter()
            .map(|a| quote(a).unwrap_or_else(|_| a.clone()))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// A boxed future, as returned by [`ProcessControl`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Waiting for and stopping a started command; one implementation per transport.
pub trait ProcessControl: Send {
    /// Waits for the command; its exit code, or 128+signal when a signal ended it.
    fn wait(&mut self) -> BoxFuture<'_, Result<i32, TransportError>>;
    /// Asks the command to stop (SIGTERM first, so borg can release its lock), then kills it.
    fn stop(&mut self) -> BoxFuture<'_, ()>;
}

/// A started command: its output streams and a handle to wait for or stop it.
pub struct Process {
    pub stdout: Pin<Box<dyn AsyncRead + Send>>,
    pub stderr: Pin<Box<dyn AsyncRead + Send>>,
    pub control: Box<dyn ProcessControl>,
}

impl Process {
    /// Waits for the command; its exit code, or 128+signal when a signal ended it.
    pub async fn wait(&mut self) -> Result<i32, TransportError> {
        self.control.wait().await
    }

    /// Asks the command to stop, then kills it.
    pub async fn stop(&mut self) {
        self.control.stop().await
    }
}

/// A command running on this machine.
struct LocalProcess {
    child: Child,
    host: String,
}

impl ProcessControl for LocalProcess {
    fn wait(&mut self) -> BoxFuture<'_, Result<i32, TransportError>> {
        Box::pin(async move {
            let st = self.child.wait().await.map_err(|e| TransportError::Lost {
                host: self.host.clone(),
                reason: e.to_string(),
            })?;
            use std::os::unix::process::ExitStatusExt;
            Ok(st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0)))
        })
    }

    fn stop(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if let Some(pid) = self.child.id() {
                // The command leads its own process group: signal all of it (a pipeline's
                // producer and borg alike).
                let _ = Command::new("kill")
                    .arg("-TERM")
                    .arg("--")
                    .arg(format!("-{pid}"))
                    .status()
                    .await;
                if tokio::time::timeout(std::time::Duration::from_secs(20), self.child.wait())
                    .await
                    .is_ok()
                {
                    return;
                }
            }
            let _ = self.child.kill().await;
        })
    }
}

/// Where a command runs.
#[derive(Debug, Clone)]
pub enum Transport {
    /// This machine, as the server's user.
    Local,
    /// A host reached over SSH with the server's key.
    Ssh(crate::ssh::SshTarget),
}

impl Transport {
    pub fn host(&self) -> &str {
        match self {
            Transport::Local => "localhost",
            Transport::Ssh(t) => &t.host,
        }
    }

    /// Starts `cmd`, delivering its secrets on stdin.
    pub async fn spawn(&self, cmd: &RemoteCommand) -> Result<Process, TransportError> {
        let line = cmd.shell_line()?;
        let payload = cmd.stdin_payload()?;
        let host = self.host().to_string();
        match self {
            Transport::Local => {
                let mut child = Command::new("/bin/sh")
                    .arg("-c")
                    .arg(&line)
                    .process_group(0)
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .kill_on_drop(true)
                    .spawn()
                    .map_err(|e| TransportError::Spawn {
                        host: host.clone(),
                        reason: e.to_string(),
                    })?;
                let mut stdin = child.stdin.take().ok_or_else(|| TransportError::Spawn {
                    host: host.clone(),
                    reason: "no stdin".into(),
                })?;
                // Secrets are tiny: the pipe buffer takes them without blocking.
                stdin
                    .write_all(&payload)
                    .await
                    .map_err(|e| TransportError::Spawn {
                        host: host.clone(),
                        reason: format!("writing stdin: {e}"),
                    })?;
                drop(stdin);
                let stdout = child.stdout.take().ok_or_else(|| TransportError::Spawn {
                    host: host.clone(),
                    reason: "no stdout".into(),
                })?;
                let stderr = child.stderr.take().ok_or_else(|| TransportError::Spawn {
                    host: host.clone(),
                    reason: "no stderr".into(),
                })?;
                Ok(Process {
                    stdout: Box::pin(stdout),
                    stderr: Box::pin(stderr),
                    control: Box::new(LocalProcess { child, host }),
                })
            }
            Transport::Ssh(target) => target.spawn(&line, &payload).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn metacharacters_are_passed_literally_and_secrets_via_stdin() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("pwned");
        let evil = format!(
            "x; touch {}; $(touch {}) `touch {}`",
            marker.display(),
            marker.display(),
            marker.display()
        );
        let cmd = RemoteCommand::new([
            "sh",
            "-c",
            "printf '%s|%s|%s' \"$1\" \"$SECRET\" \"$PLAIN\"",
            "sh",
            &evil,
        ])
        .env("PLAIN", "a b'c")
        .secret("SECRET", Secret::new("top secret"));
        assert!(!cmd.shell_line().unwrap().contains("top secret"));
        let mut p = Transport::Local.spawn(&cmd).await.unwrap();
        let mut out = String::new();
        p.stdout.read_to_string(&mut out).await.unwrap();
        assert_eq!(p.wait().await.unwrap(), 0);
        assert_eq!(out, format!("{evil}|top secret|a b'c"));
        assert!(!marker.exists());
    }

    #[tokio::test]
    async fn exit_codes_are_truthful() {
        let mut p = Transport::Local
            .spawn(&RemoteCommand::new(["sh", "-c", "exit 3"]))
            .await
            .unwrap();
        assert_eq!(p.wait().await.unwrap(), 3);
        let mut p = Transport::Local
            .spawn(&RemoteCommand::new(["/nonexistent/cmd"]))
            .await
            .unwrap();
        assert_eq!(p.wait().await.unwrap(), 127);
    }
}

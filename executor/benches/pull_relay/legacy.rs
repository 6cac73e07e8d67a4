//! The pull mode this project had before issue 13, kept only for this benchmark: the server
//! forwards an agent to the repository host, which runs `ssh -A -R` to the client; the client's
//! borg reaches the repository host's sshd back through that reverse tunnel. (The agent held the
//! server's own key, valid on every host; here it holds a key authorized on every test host,
//! which costs the same.) Copied from `executor/src/targets.rs` as it was.

use executor::transport::RemoteCommand;

/// Runs on the repository host: `ssh -A -R` to the client, the inner command's secrets piped on
/// its stdin, the client verified against its pinned key.
const PULL_SCRIPT: &str = "kh=$(mktemp) || exit 1; trap 'rm -f \"$kh\"' EXIT HUP INT TERM; \
printf 'cyborg-client %s\\n' \"$CYBORG_CLIENT_HOST_KEY\" > \"$kh\"; \
SECRETS | ssh -A -oBatchMode=yes -oStrictHostKeyChecking=yes -oHostKeyAlias=cyborg-client \
-oUserKnownHostsFile=\"$kh\" -oExitOnForwardFailure=yes -oServerAliveInterval=15 \"$@\"";

const RSH_WRAPPER: &str = "kh=$(mktemp) || exit 1; trap 'rm -f \"$kh\"' EXIT HUP INT TERM; \
printf 'cyborg-repository %s\\n' \"$CYBORG_REPOSITORY_HOST_KEY\" > \"$kh\"; \
BORG_RSH=\"ssh -oBatchMode=yes -oStrictHostKeyChecking=yes -oHostKeyAlias=cyborg-repository -oUserKnownHostsFile=$kh\"; \
export BORG_RSH; \"$@\"";

/// The hop of pull mode, from the repository host to the client.
pub struct PullHop {
    pub client_host: String,
    pub client_port: u16,
    pub client_user: String,
    pub client_key: String,
    /// Port on the client's loopback that leads back to the repository host's sshd.
    pub tunnel_port: u16,
    pub repo_host: String,
    pub repo_port: u16,
    pub repo_key: String,
}

impl PullHop {
    /// The repository URL borg on the client uses: the tunnel's end.
    pub fn repo_url(&self, user: &str, path: &str) -> String {
        format!("ssh://{user}@127.0.0.1:{}{path}", self.tunnel_port)
    }

    /// The command for the repository host that runs `inner` on the client.
    pub fn wrap(&self, mut inner: RemoteCommand) -> RemoteCommand {
        let mut argv = vec![
            "sh".to_string(),
            "-c".to_string(),
            RSH_WRAPPER.to_string(),
            "sh".to_string(),
        ];
        argv.append(&mut inner.argv);
        inner.argv = argv;
        inner = inner.env("CYBORG_REPOSITORY_HOST_KEY", self.repo_key.clone());
        let inner_line = inner.shell_line().expect("quotable command");
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

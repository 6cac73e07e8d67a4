//! The restricted `authorized_keys` line of a repository credential, and the edit that adds or
//! removes such lines on a repository host: run as the repository's login user under the server's
//! own session, locked with `flock` against concurrent edits, written to a temporary file and
//! renamed over `~/.ssh/authorized_keys` (mode 0600), and left untouched when nothing changes.

use crate::transport::RemoteCommand;

/// Why a line cannot be made.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LineError {
    #[error("repository path {0:?} contains a line break or control character: it cannot be placed in an authorized_keys line")]
    Path(String),
    #[error("{0:?} is not a public key line (expected `type base64`)")]
    Key(String),
    #[error("tag {0:?} must be printable text without spaces")]
    Tag(String),
}

/// The path as a shell word for the forced command: single-quoted, except a leading `~/` or
/// `~user/`, which the shell must expand (sshd runs forced commands through the user's shell).
fn shell_path(path: &str) -> String {
    let quote = |s: &str| format!("'{}'", s.replace('\'', "'\\''"));
    if let Some(rest) = path.strip_prefix("~/") {
        return format!("~/{}", quote(rest));
    }
    if let Some(rest) = path.strip_prefix('~') {
        if let Some((user, tail)) = rest.split_once('/') {
            if user
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
            {
                return format!("~{user}/{}", quote(tail));
            }
        }
    }
    quote(path)
}

/// `borg serve --restrict-to-repository PATH --append-only`, as the shell runs it.
pub fn forced_command(path: &str) -> Result<String, LineError> {
    if path.is_empty() || path.chars().any(char::is_control) {
        return Err(LineError::Path(path.into()));
    }
    Ok(format!(
        "borg serve --restrict-to-repository {} --append-only",
        shell_path(path)
    ))
}

fn check_tag(tag: &str) -> Result<(), LineError> {
    if tag.is_empty() || tag.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(LineError::Tag(tag.into()));
    }
    Ok(())
}

/// `command="borg serve --restrict-to-repository PATH --append-only",restrict KEY TAG`.
pub fn authorized_line(public_key: &str, path: &str, tag: &str) -> Result<String, LineError> {
    let words: Vec<&str> = public_key.split_whitespace().collect();
    let key_ok = words.len() >= 2
        && words[0].starts_with("ssh-")
        && words[1]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '='));
    if !key_ok {
        return Err(LineError::Key(public_key.into()));
    }
    check_tag(tag)?;
    // Inside command="…" sshd only unescapes \" (the path is single-quoted for the shell).
    let command = forced_command(path)?.replace('"', "\\\"");
    Ok(format!(
        "command=\"{command}\",restrict {} {} {tag}",
        words[0], words[1]
    ))
}

/// What to change in the login user's `authorized_keys`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Edit {
    /// A line to add (after the removals).
    pub add: Option<String>,
    /// Remove lines ending with this tag.
    pub tag: String,
    /// Remove lines holding this key (`base64`, the second word of `type base64`).
    pub key_blob: String,
    /// Remove lines whose tag matches this extended regular expression (stale one-job lines).
    pub stale: Option<String>,
}

/// Prints `updated` or `unchanged`; exits 3 when the file cannot be locked.
const EDIT_SCRIPT: &str = r#"set -eu
umask 077
d="$HOME/.ssh"
f="$d/authorized_keys"
mkdir -p "$d"
[ -e "$f" ] || : >"$f"
if command -v flock >/dev/null 2>&1; then
  exec 9>"$d/.cyborgbackup.lock"
  flock -w 120 9 || { echo "cannot lock $f" >&2; exit 3; }
fi
t=$(mktemp "$d/.authorized_keys.XXXXXX")
trap 'rm -f "$t"' EXIT
awk -v tag="$CYBORG_TAG" -v blob="$CYBORG_KEY_BLOB" -v stale="$CYBORG_STALE" '
{ drop = 0
  if (NF > 0 && $NF == tag) drop = 1
  if (blob != "") for (i = 1; i <= NF; i++) if ($i == blob) drop = 1
  if (stale != "" && NF > 0 && $NF ~ stale) drop = 1
  if (!drop) print }' "$f" >"$t"
if [ -n "$CYBORG_LINE" ]; then printf '%s\n' "$CYBORG_LINE" >>"$t"; fi
if cmp -s "$t" "$f" 2>/dev/null; then echo unchanged; exit 0; fi
chmod 600 "$t"
if [ -L "$f" ]; then cat "$t" >"$f"; else mv -f "$t" "$f"; fi
echo updated"#;

impl Edit {
    /// The command that applies the edit on the repository host (as its login user).
    pub fn command(&self) -> RemoteCommand {
        RemoteCommand::new(["sh", "-c", EDIT_SCRIPT])
            .env("CYBORG_TAG", self.tag.clone())
            .env("CYBORG_KEY_BLOB", self.key_blob.clone())
            .env("CYBORG_STALE", self.stale.clone().unwrap_or_default())
            .env("CYBORG_LINE", self.add.clone().unwrap_or_default())
    }
}

/// The base64 word of a public key line.
pub fn key_blob(public_key: &str) -> String {
    public_key
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::Transport;
    use tokio::io::AsyncReadExt;

    const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOv1";

    #[test]
    fn lines_quote_the_path_for_sshd_and_the_shell() {
        assert_eq!(
            authorized_line(KEY, "/srv/borg/web1", "cyborg:web1:3").unwrap(),
            "command=\"borg serve --restrict-to-repository '/srv/borg/web1' --append-only\",restrict ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOv1 cyborg:web1:3"
        );
        let evil = authorized_line(KEY, "/srv/a\" b'$(id)`x`", "t").unwrap();
        assert!(evil.starts_with(
            "command=\"borg serve --restrict-to-repository '/srv/a\\\" b'\\''$(id)`x`' --append-only\",restrict "
        ));
        assert_eq!(
            forced_command("~/repos/a").unwrap(),
            "borg serve --restrict-to-repository ~/'repos/a' --append-only"
        );
        assert_eq!(
            forced_command("~backup/r").unwrap(),
            "borg serve --restrict-to-repository ~backup/'r' --append-only"
        );
        assert_eq!(
            forced_command("repos/x").unwrap(),
            "borg serve --restrict-to-repository 'repos/x' --append-only"
        );
        assert!(matches!(
            authorized_line(KEY, "/a\nssh-ed25519 AAAA evil", "t"),
            Err(LineError::Path(_))
        ));
        assert!(matches!(
            authorized_line("ssh-ed25519 AA\"AA", "/a", "t"),
            Err(LineError::Key(_))
        ));
        assert!(matches!(
            authorized_line(KEY, "/a", "two words"),
            Err(LineError::Tag(_))
        ));
    }

    /// The forced command, run by a shell as sshd does, passes the path through unchanged.
    #[tokio::test]
    async fn the_shell_sees_the_path_verbatim() {
        for path in ["/srv/a b", "/srv/it's", "/srv/$(touch x)`y`\"z", "/srv/\\n"] {
            let line = authorized_line(KEY, path, "t").unwrap();
            // What sshd passes to the shell: the command="…" value with \" unescaped.
            let inner = line
                .strip_prefix("command=\"")
                .and_then(|l| l.split_once("\",restrict "))
                .map(|(c, _)| c.replace("\\\"", "\""))
                .unwrap();
            let echo = inner.replace("borg serve --restrict-to-repository", "printf %s");
            let echo = echo.replace(" --append-only", "");
            let mut p = Transport::Local
                .spawn(&RemoteCommand::new(["sh", "-c", &echo]))
                .await
                .unwrap();
            let mut out = String::new();
            p.stdout.read_to_string(&mut out).await.unwrap();
            assert_eq!(p.wait().await.unwrap(), 0);
            assert_eq!(out, path);
        }
    }

    /// Adding is idempotent, removal finds lines by tag, key or stale pattern, other lines stay.
    #[tokio::test]
    async fn edits_are_idempotent_and_keep_other_lines() {
        let home = tempfile::tempdir().unwrap();
        let ssh = home.path().join(".ssh");
        std::fs::create_dir(&ssh).unwrap();
        let f = ssh.join("authorized_keys");
        std::fs::write(&f, "ssh-ed25519 AAAAother admin@laptop\n").unwrap();
        let run = |e: Edit| {
            let home = home.path().display().to_string();
            async move {
                let mut p = Transport::Local
                    .spawn(&e.command().env("HOME", home))
                    .await
                    .unwrap();
                let mut out = String::new();
                p.stdout.read_to_string(&mut out).await.unwrap();
                assert_eq!(p.wait().await.unwrap(), 0);
                out.trim().to_string()
            }
        };
        let line = authorized_line(KEY, "/srv/r", "cyborg:web1:1").unwrap();
        let add = Edit {
            add: Some(line.clone()),
            tag: "cyborg:web1:1".into(),
            key_blob: key_blob(KEY),
            stale: None,
        };
        assert_eq!(run(add.clone()).await, "updated");
        assert_eq!(run(add.clone()).await, "unchanged");
        let job = authorized_line("ssh-ed25519 AAAAjob", "/srv/r", "cyborg-job:9:1").unwrap();
        run(Edit {
            add: Some(job),
            tag: "cyborg-job:9:1".into(),
            ..Default::default()
        })
        .await;
        let text = std::fs::read_to_string(&f).unwrap();
        assert_eq!(text.lines().count(), 3, "{text}");
        // A new one-job line sweeps the stale one of the same repository.
        let job2 = authorized_line("ssh-ed25519 AAAAjob2", "/srv/r", "cyborg-job:10:1").unwrap();
        run(Edit {
            add: Some(job2.clone()),
            tag: "cyborg-job:10:1".into(),
            stale: Some("^cyborg-job:[0-9]+:1$".into()),
            ..Default::default()
        })
        .await;
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(!text.contains("AAAAjob "), "{text}");
        assert!(text.contains(&job2) && text.contains(&line), "{text}");
        // Removal by key, even under another tag.
        assert_eq!(
            run(Edit {
                tag: "renamed".into(),
                key_blob: key_blob(KEY),
                ..Default::default()
            })
            .await,
            "updated"
        );
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(!text.contains(&line), "{text}");
        assert!(
            text.starts_with("ssh-ed25519 AAAAother admin@laptop\n"),
            "{text}"
        );
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}

//! Lists the requested paths of an archive on the repository host (`borg list --format`),
//! streaming: how many entries, regular files and bytes a restore covers, which requested
//! paths the archive lacks, and whether a download is a single regular file.

use crate::targets::RepoSide;
use crate::transport::RemoteCommand;
use tokio::io::{AsyncBufReadExt, BufReader};

/// What the archive holds under the requested paths.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    pub entries: u64,
    pub files: u64,
    pub bytes: u64,
    /// Requested paths (borg form) with no entry in the archive.
    pub missing: Vec<String>,
    /// The first entries seen: borg's type character and path.
    pub first: Vec<(String, String)>,
    /// The listing was stopped after `stop_after` entries.
    pub truncated: bool,
}

impl Scan {
    /// A single regular file was requested and found.
    pub fn is_single_file(&self, paths: &[String]) -> bool {
        paths.len() == 1
            && !self.truncated
            && self.entries == 1
            && self
                .first
                .first()
                .is_some_and(|(t, p)| t == "-" && *p == paths[0])
    }
}

/// `borg list --format '{type} {size} {path}{NL}' REPO::ARCHIVE -- PATHS`.
pub(crate) fn list_command(side: &RepoSide, archive: &str, paths: &[String]) -> RemoteCommand {
    let mut args = vec![
        "list".to_string(),
        "--format".into(),
        "{type} {size} {path}{NL}".into(),
        format!("{}::{archive}", side.path),
        "--".into(),
    ];
    args.extend(paths.iter().cloned());
    side.env.borg(args)
}

fn covers(requested: &str, entry: &str) -> bool {
    entry == requested
        || (entry.len() > requested.len()
            && entry.starts_with(requested)
            && entry.as_bytes()[requested.len()] == b'/')
}

/// Runs the listing; `stop_after` ends it early (then `truncated` is set). Errors are borg's
/// last stderr line or the transport's message.
pub(crate) async fn scan(
    side: &RepoSide,
    archive: &str,
    paths: &[String],
    stop_after: Option<u64>,
) -> Result<Scan, String> {
    let cmd = list_command(side, archive, paths);
    let mut p = side
        .transport
        .spawn(&cmd)
        .await
        .map_err(|e| e.to_string())?;
    let stdout = std::mem::replace(&mut p.stdout, Box::pin(tokio::io::empty()));
    let stderr = std::mem::replace(&mut p.stderr, Box::pin(tokio::io::empty()));
    let mut found = vec![false; paths.len()];
    let mut s = Scan::default();
    let read_out = async {
        let mut lines = BufReader::new(stdout).lines();
        while let Ok(Some(l)) = lines.next_line().await {
            let mut it = l.splitn(3, ' ');
            let (Some(t), Some(size), Some(path)) = (it.next(), it.next(), it.next()) else {
                continue;
            };
            s.entries += 1;
            if t == "-" {
                s.files += 1;
                s.bytes += size.parse::<u64>().unwrap_or(0);
            }
            for (i, r) in paths.iter().enumerate() {
                if !found[i] && covers(r, path) {
                    found[i] = true;
                }
            }
            if s.first.len() < 2 {
                s.first.push((t.to_string(), path.to_string()));
            }
            if stop_after.is_some_and(|n| s.entries >= n) {
                // Enough seen: stop borg, which also ends its stderr.
                s.truncated = true;
                p.stop().await;
                break;
            }
        }
    };
    let read_err = async {
        let mut head = Vec::new();
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(l)) = lines.next_line().await {
            if head.len() < 50 {
                head.push(l);
            }
        }
        head
    };
    let ((), head) = tokio::join!(read_out, read_err);
    if s.truncated {
        return Ok(s);
    }
    finish(&mut p, s, found, paths, head).await
}

async fn finish(
    p: &mut crate::transport::Process,
    mut s: Scan,
    found: Vec<bool>,
    paths: &[String],
    head: Vec<String>,
) -> Result<Scan, String> {
    let code = p.wait().await.map_err(|e| e.to_string())?;
    if code >= 2 {
        return Err(format!(
            "borg list failed: {}",
            crate::jobs::last_line(&head)
        ));
    }
    s.missing = paths
        .iter()
        .zip(found)
        .filter(|(_, f)| !f)
        .map(|(p, _)| p.clone())
        .collect();
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::covers;

    #[test]
    fn a_requested_path_covers_itself_and_what_is_under_it() {
        assert!(covers("srv/a", "srv/a"));
        assert!(covers("srv/a", "srv/a/b"));
        assert!(!covers("srv/a", "srv/ab"));
        assert!(!covers("srv/a", "srv"));
    }
}

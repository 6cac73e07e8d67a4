//! Downloads of archive contents streamed through the server: a single regular file as its
//! bytes (`borg extract --stdout`), anything else as a tar (`borg export-tar … -`), both run on
//! the repository host. A browser reaches them through a random ticket valid ten minutes, used
//! once, and tied to the user who asked for it. Nothing is staged on disk or held whole.

use super::scan::scan;
use super::{borg_paths, RestoreError};
use crate::manager::Executor;
use crate::targets::{repo_side, RepoSide};
use crate::transport::{Process, RemoteCommand};
use chrono::{DateTime, Duration, Utc};
use futures::Stream;
use model::*;
use std::pin::Pin;
use store::{NewDownloadTicket, Store, StoreError, TicketTake};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};

/// How long a ticket stays valid.
pub const TICKET_MINUTES: i64 = 10;

/// Bytes read from borg per chunk of the response.
const CHUNK: usize = 64 * 1024;

/// What the download holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DownloadKind {
    /// One regular file, as its bytes.
    File,
    /// Several paths or a directory, as a tar.
    Tar,
}

impl DownloadKind {
    pub fn content_type(self) -> &'static str {
        match self {
            DownloadKind::File => "application/octet-stream",
            DownloadKind::Tar => "application/x-tar",
        }
    }
}

/// A ticket handed to the caller: `GET /download/<ticket>` until `expires_at`.
#[derive(Debug, Clone)]
pub struct DownloadTicket {
    pub ticket: String,
    pub expires_at: DateTime<Utc>,
    pub filename: String,
    pub kind: DownloadKind,
}

/// Why a download cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    #[error("unknown download link")]
    UnknownTicket,
    #[error("this download link was already used or has expired: request a new one")]
    Gone,
    #[error("this download link belongs to another user")]
    WrongUser,
    /// borg failed before sending anything.
    #[error("{0}")]
    Borg(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A ticket's contents, as the executor hands it out and takes it back.
#[derive(Debug)]
struct Pending {
    user: UserId,
    archive: ArchiveId,
    paths: Vec<String>,
    kind: DownloadKind,
    filename: String,
    expires: DateTime<Utc>,
}

impl DownloadKind {
    fn as_str(self) -> &'static str {
        match self {
            DownloadKind::File => "file",
            DownloadKind::Tar => "tar",
        }
    }
}

/// The rules of download tickets: valid [`TICKET_MINUTES`], used once, tied to the user who
/// asked. The tickets themselves live in the database (`store::tickets`: only their hash, taken
/// with one compare-and-set), so any node of a cluster serves a ticket another handed out, and a
/// restart keeps them.
#[derive(Default)]
pub struct Tickets;

impl Tickets {
    fn insert(&self, store: &Store, ticket: &str, p: &Pending) -> Result<(), StoreError> {
        store.add_download_ticket(
            ticket,
            &NewDownloadTicket {
                user: p.user,
                archive: p.archive,
                paths: &p.paths,
                kind: p.kind.as_str(),
                filename: &p.filename,
                expires: p.expires,
            },
            Utc::now(),
        )
    }

    /// Takes a ticket for `caller` (anyone holding it when `None`: a browser link).
    fn take(
        &self,
        store: &Store,
        ticket: &str,
        caller: Option<UserId>,
    ) -> Result<Pending, DownloadError> {
        let t = match store.take_download_ticket(ticket, caller, Utc::now())? {
            TicketTake::Taken(t) => t,
            TicketTake::Unknown => return Err(DownloadError::UnknownTicket),
            TicketTake::Used => return Err(DownloadError::Gone),
            TicketTake::OtherUser => return Err(DownloadError::WrongUser),
        };
        let kind = match t.kind.as_str() {
            "file" => DownloadKind::File,
            "tar" => DownloadKind::Tar,
            other => {
                return Err(StoreError::Conflict(format!(
                    "stored download ticket of unknown kind {other:?}"
                ))
                .into())
            }
        };
        Ok(Pending {
            user: t.user,
            archive: t.archive,
            paths: t.paths,
            kind,
            filename: t.filename,
            expires: t.expires,
        })
    }
}

fn new_ticket() -> String {
    use rand_ssh::RngExt;
    let bytes: [u8; 32] = rand_ssh::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The last component of a borg path, safe as a file name.
fn base_name(path: &str) -> String {
    let b = path.rsplit('/').next().unwrap_or(path);
    if b.is_empty() {
        "download".into()
    } else {
        b.into()
    }
}

/// A download being streamed: the body ends with an error when borg fails mid-way.
pub struct Download {
    pub filename: String,
    pub kind: DownloadKind,
    pub body: Pin<Box<dyn Stream<Item = Result<Vec<u8>, std::io::Error>> + Send>>,
}

/// The repository of an archive, its identity verified like before a job (identity.rs).
async fn open_repo(ex: &Executor, archive: &Archive) -> Result<RepoSide, DownloadError> {
    let store = &ex.inner.store;
    let repo = store.repository(archive.repository)?;
    let pass = store.repository_passphrase(repo.id)?;
    let security = store.repository_security(repo.id)?;
    let trust = crate::identity::trust_for(&security, pass.is_some());
    let mut side = repo_side(ex, &repo, pass).map_err(DownloadError::Borg)?;
    side.env.trust = trust;
    crate::identity::verify_side(ex, repo.id, &side)
        .await
        .map_err(DownloadError::Borg)?;
    Ok(side)
}

impl Executor {
    /// Checks a download request and hands back a ticket for `GET /download/<ticket>`.
    pub async fn create_download(
        &self,
        user: UserId,
        archive: ArchiveId,
        paths: &[String],
    ) -> Result<DownloadTicket, RestoreError> {
        let store = &self.inner.store;
        let mut errs = ValidationErrors::new();
        let rel = borg_paths(&mut errs, "paths", paths);
        let archive = match store.archive(archive) {
            Ok(a) => Some(a),
            Err(StoreError::NotFound { .. }) => {
                errs.add("archive", format!("archive {archive} does not exist"));
                None
            }
            Err(e) => return Err(e.into()),
        };
        errs.into_result()?;
        let Some(archive) = archive else {
            return Err(ValidationErrors::single("archive", "archive not found").into());
        };
        let side = open_repo(self, &archive)
            .await
            .map_err(|e| RestoreError::Repository(e.to_string()))?;
        let found = scan(&side, &archive.name, &rel, Some(2))
            .await
            .map_err(RestoreError::Repository)?;
        if !found.truncated && !found.missing.is_empty() {
            let list: Vec<String> = found.missing.iter().map(|p| format!("/{p}")).collect();
            return Err(ValidationErrors::single(
                "paths",
                format!("not in archive {}: {}", archive.name, list.join(", ")),
            )
            .into());
        }
        let (kind, filename) = if found.is_single_file(&rel) {
            (DownloadKind::File, base_name(&rel[0]))
        } else if rel.len() == 1 {
            (DownloadKind::Tar, format!("{}.tar", base_name(&rel[0])))
        } else {
            (DownloadKind::Tar, format!("{}.tar", archive.name))
        };
        let ticket = new_ticket();
        let expires_at = Utc::now() + Duration::minutes(TICKET_MINUTES);
        self.inner.tickets.insert(
            store,
            &ticket,
            &Pending {
                user,
                archive: archive.id,
                paths: rel,
                kind,
                filename: filename.clone(),
                expires: expires_at,
            },
        )?;
        tracing::info!(archive = %archive.name, user = %user, ?kind, "download ticket issued");
        Ok(DownloadTicket {
            ticket,
            expires_at,
            filename,
            kind,
        })
    }

    /// Uses a ticket: starts borg on the repository host and waits for its first bytes, so a
    /// failure that happens before any byte is an error rather than an empty download.
    pub async fn open_download(
        &self,
        ticket: &str,
        caller: Option<UserId>,
    ) -> Result<Download, DownloadError> {
        let t = self.inner.tickets.take(&self.inner.store, ticket, caller)?;
        let archive = self.inner.store.archive(t.archive)?;
        let side = open_repo(self, &archive).await?;
        let location = format!("{}::{}", side.path, archive.name);
        let mut args: Vec<String> = match t.kind {
            DownloadKind::File => vec!["extract".into(), "--stdout".into(), location],
            DownloadKind::Tar => vec!["export-tar".into(), location, "-".into()],
        };
        args.push("--".into());
        args.extend(t.paths.iter().cloned());
        let cmd: RemoteCommand = side.env.borg(args);
        let secrets: Vec<Secret> = side.env.passphrase.iter().cloned().collect();
        let mut p = side
            .transport
            .spawn(&cmd)
            .await
            .map_err(|e| DownloadError::Borg(e.to_string()))?;
        let stdout = std::mem::replace(&mut p.stdout, Box::pin(tokio::io::empty()));
        let stderr = std::mem::replace(&mut p.stderr, Box::pin(tokio::io::empty()));
        let errors = tokio::spawn(collect_stderr(stderr));
        let mut pump = Pump {
            p: Some(p),
            stdout,
            errors: Some(errors),
            secrets,
            what: format!("{} of {}", cmd_name(t.kind), archive.name),
        };
        let first = pump.read_chunk().await;
        let first = match first {
            Ok(Some(chunk)) => Some(chunk),
            Ok(None) => {
                // Nothing at all: an empty file, or borg failed before writing.
                pump.finish().await.map_err(DownloadError::Borg)?;
                None
            }
            Err(e) => return Err(DownloadError::Borg(e.to_string())),
        };
        tracing::info!(archive = %archive.name, kind = ?t.kind, "download started");
        let body = futures::stream::unfold(
            (pump, first, false),
            |(mut pump, first, done)| async move {
                if done {
                    return None;
                }
                if let Some(chunk) = first {
                    return Some((Ok(chunk), (pump, None, false)));
                }
                // borg already finished: the body is complete.
                pump.p.as_ref()?;
                match pump.read_chunk().await {
                    Ok(Some(chunk)) => Some((Ok(chunk), (pump, None, false))),
                    Ok(None) => match pump.finish().await {
                        Ok(()) => None,
                        Err(e) => {
                            tracing::error!(error = %e, "download cut short: borg failed after sending data");
                            Some((Err(std::io::Error::other(e)), (pump, None, true)))
                        }
                    },
                    Err(e) => {
                        tracing::error!(error = %e, "download cut short: reading borg's output failed");
                        Some((Err(e), (pump, None, true)))
                    }
                }
            },
        );
        Ok(Download {
            filename: t.filename,
            kind: t.kind,
            body: Box::pin(body),
        })
    }
}

fn cmd_name(kind: DownloadKind) -> &'static str {
    match kind {
        DownloadKind::File => "borg extract --stdout",
        DownloadKind::Tar => "borg export-tar",
    }
}

async fn collect_stderr(stderr: Pin<Box<dyn AsyncRead + Send>>) -> Vec<String> {
    let mut head = Vec::new();
    let mut lines = BufReader::new(stderr).lines();
    while let Ok(Some(l)) = lines.next_line().await {
        if head.len() < 50 {
            head.push(l);
        }
    }
    head
}

/// borg's output on its way to the client; stops borg when the client goes away.
struct Pump {
    p: Option<Process>,
    stdout: Pin<Box<dyn AsyncRead + Send>>,
    errors: Option<tokio::task::JoinHandle<Vec<String>>>,
    secrets: Vec<Secret>,
    what: String,
}

impl Pump {
    async fn read_chunk(&mut self) -> Result<Option<Vec<u8>>, std::io::Error> {
        let mut buf = vec![0u8; CHUNK];
        let n = self.stdout.read(&mut buf).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.truncate(n);
        Ok(Some(buf))
    }

    /// Waits for borg; its error message when it did not exit 0.
    async fn finish(&mut self) -> Result<(), String> {
        let Some(mut p) = self.p.take() else {
            return Ok(());
        };
        let code = p.wait().await.map_err(|e| e.to_string())?;
        let head = match self.errors.take() {
            Some(h) => h.await.unwrap_or_default(),
            None => Vec::new(),
        };
        if code == 0 {
            return Ok(());
        }
        let msg = crate::scrub::scrub(&crate::jobs::last_line(&head), &self.secrets);
        Err(format!("{} failed (exit status {code}): {msg}", self.what))
    }
}

impl Drop for Pump {
    fn drop(&mut self) {
        if let Some(mut p) = self.p.take() {
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                tracing::warn!(what = %self.what, "download abandoned: stopping borg");
                rt.spawn(async move { p.stop().await });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::NewUser;

    fn pending(user: UserId, minutes: i64) -> Pending {
        Pending {
            user,
            archive: ArchiveId(1),
            paths: vec!["srv/a".into()],
            kind: DownloadKind::File,
            filename: "a".into(),
            expires: Utc::now() + Duration::minutes(minutes),
        }
    }

    fn user(s: &Store, email: &str) -> UserId {
        s.create_user(&NewUser {
            email: email.into(),
            password: "long enough".into(),
            ..Default::default()
        })
        .unwrap()
        .id
    }

    #[test]
    fn tickets_are_single_use_tied_to_their_user_and_expire() {
        let dir = tempfile::tempdir().unwrap();
        let s = store::testing::open(dir.path());
        let (one, two) = (user(&s, "one@x.y"), user(&s, "two@x.y"));
        let t = Tickets;
        t.insert(&s, "k", &pending(one, 10)).unwrap();
        // Another user's token is refused without using the ticket up.
        assert!(matches!(
            t.take(&s, "k", Some(two)),
            Err(DownloadError::WrongUser)
        ));
        assert_eq!(
            t.take(&s, "k", Some(one)).map(|p| p.paths).ok(),
            Some(vec!["srv/a".to_string()])
        );
        assert!(matches!(t.take(&s, "k", None), Err(DownloadError::Gone)));
        assert!(matches!(
            t.take(&s, "other", None),
            Err(DownloadError::UnknownTicket)
        ));
        t.insert(&s, "old", &pending(one, -1)).unwrap();
        assert!(matches!(
            t.take(&s, "old", None),
            Err(DownloadError::UnknownTicket)
        ));
        // Anonymous (a browser link): the ticket is the credential.
        t.insert(&s, "b", &pending(one, 10)).unwrap();
        let p = t.take(&s, "b", None).unwrap();
        assert_eq!(
            (p.user, p.kind, p.filename.as_str()),
            (one, DownloadKind::File, "a")
        );
    }

    #[test]
    fn a_ticket_from_one_node_is_served_by_another_once() {
        let dir = tempfile::tempdir().unwrap();
        let options = store::testing::options(dir.path());
        let node_a = Store::open_with(&options).unwrap();
        let node_b = Store::open_with(&options).unwrap();
        let owner = user(&node_a, "owner@x.y");
        let t = Tickets;
        t.insert(&node_a, "shared", &pending(owner, 10)).unwrap();
        let p = t.take(&node_b, "shared", Some(owner)).unwrap();
        assert_eq!(
            (p.archive, p.paths),
            (ArchiveId(1), vec!["srv/a".to_string()])
        );
        // Used up on every node, for its owner and for a browser link alike.
        for node in [&node_a, &node_b] {
            assert!(matches!(
                t.take(node, "shared", Some(owner)),
                Err(DownloadError::Gone)
            ));
            assert!(matches!(
                t.take(node, "shared", None),
                Err(DownloadError::Gone)
            ));
        }
    }

    #[test]
    fn tickets_are_long_and_random() {
        let (a, b) = (new_ticket(), new_ticket());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert_eq!(base_name("srv/dir/file.txt"), "file.txt");
    }
}

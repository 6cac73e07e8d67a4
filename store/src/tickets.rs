//! Restore download tickets in the database (migration 0020), so that any node serves a ticket
//! another one handed out. Only the SHA-256 of a ticket is stored; taking one is a single
//! compare-and-set (`used` goes from NULL to a time for exactly one caller, on any node); a used
//! ticket stays until it expires, so that a second use is answered "already used". Expired rows
//! are deleted whenever a ticket is added. The rules — lifetime, who may take a ticket — are the
//! executor's (`executor::restore`).

use crate::db::{params, OptionalExtension, Row};
use crate::users::token_hash;
use crate::{parse_ts, ts, Result, Store, StoreError};
use chrono::{DateTime, Utc};
use model::{ArchiveId, UserId};

/// A ticket to store.
#[derive(Debug, Clone)]
pub struct NewDownloadTicket<'a> {
    pub user: UserId,
    pub archive: ArchiveId,
    /// Paths inside the archive, as borg takes them.
    pub paths: &'a [String],
    /// `file` or `tar`.
    pub kind: &'a str,
    pub filename: &'a str,
    pub expires: DateTime<Utc>,
}

/// A stored ticket, as its taker reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadTicketRecord {
    pub user: UserId,
    pub archive: ArchiveId,
    pub paths: Vec<String>,
    /// `file` or `tar`.
    pub kind: String,
    pub filename: String,
    pub expires: DateTime<Utc>,
}

/// What taking a ticket did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TicketTake {
    /// This call used the ticket up: no other call, on any node, gets it.
    Taken(DownloadTicketRecord),
    /// No such ticket, or it expired (used or not).
    Unknown,
    /// Already used, and not yet expired.
    Used,
    /// Valid, but handed out to another user: left unused.
    OtherUser,
}

const TAKEN_COLS: &str = "user_id, archive_id, paths, kind, filename, expires";

fn record(r: &Row) -> rusqlite::Result<DownloadTicketRecord> {
    let paths: String = r.get(2)?;
    let paths = serde_json::from_str(&paths).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, Box::new(e))
    })?;
    Ok(DownloadTicketRecord {
        user: UserId(r.get(0)?),
        archive: ArchiveId(r.get(1)?),
        paths,
        kind: r.get(3)?,
        filename: r.get(4)?,
        expires: parse_ts(&r.get::<_, String>(5)?),
    })
}

impl Store {
    /// Stores `ticket` (as its hash) and deletes the tickets expired at `now`.
    pub fn add_download_ticket(
        &self,
        ticket: &str,
        t: &NewDownloadTicket<'_>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let paths = serde_json::to_string(t.paths)
            .map_err(|e| StoreError::Conflict(format!("download paths: {e}")))?;
        let now = ts(now);
        let conn = self.conn();
        conn.execute("DELETE FROM download_tickets WHERE expires <= ?1", [&now])?;
        conn.execute(
            "INSERT INTO download_tickets
                (ticket_hash, user_id, archive_id, paths, kind, filename, created, expires)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                token_hash(ticket),
                t.user.0,
                t.archive.0,
                paths,
                t.kind,
                t.filename,
                now,
                ts(t.expires)
            ],
        )?;
        Ok(())
    }

    /// Uses `ticket` up at `now` for `caller` (anyone holding it when `None`), atomically
    /// across nodes; otherwise says why not, changing nothing.
    pub fn take_download_ticket(
        &self,
        ticket: &str,
        caller: Option<UserId>,
        now: DateTime<Utc>,
    ) -> Result<TicketTake> {
        let hash = token_hash(ticket);
        let now = ts(now);
        let conn = self.conn();
        let taken = match caller {
            Some(user) => conn.query_row(
                &format!(
                    "UPDATE download_tickets SET used = ?2
                     WHERE ticket_hash = ?1 AND used IS NULL AND expires > ?2 AND user_id = ?3
                     RETURNING {TAKEN_COLS}"
                ),
                params![hash, now, user.0],
                record,
            ),
            None => conn.query_row(
                &format!(
                    "UPDATE download_tickets SET used = ?2
                     WHERE ticket_hash = ?1 AND used IS NULL AND expires > ?2
                     RETURNING {TAKEN_COLS}"
                ),
                params![hash, now],
                record,
            ),
        }
        .optional()?;
        if let Some(t) = taken {
            return Ok(TicketTake::Taken(t));
        }
        let found: Option<(i64, Option<String>, String)> = conn
            .query_row(
                "SELECT user_id, used, expires FROM download_tickets WHERE ticket_hash = ?1",
                [&hash],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        Ok(match found {
            None => TicketTake::Unknown,
            Some((_, _, expires)) if expires <= now => TicketTake::Unknown,
            Some((_, Some(_), _)) => TicketTake::Used,
            Some((user, None, _)) if caller.is_some_and(|c| c.0 != user) => TicketTake::OtherUser,
            // Used by another call between the two statements.
            Some(_) => TicketTake::Used,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NewUser;
    use chrono::Duration;

    fn user(s: &Store, email: &str) -> UserId {
        s.create_user(&NewUser {
            email: email.into(),
            password: "long enough".into(),
            ..Default::default()
        })
        .unwrap()
        .id
    }

    fn ticket<'a>(u: UserId, paths: &'a [String], expires: DateTime<Utc>) -> NewDownloadTicket<'a> {
        NewDownloadTicket {
            user: u,
            archive: ArchiveId(7),
            paths,
            kind: "tar",
            filename: "srv.tar",
            expires,
        }
    }

    #[test]
    fn a_ticket_is_stored_hashed_and_taken_once() {
        let dir = tempfile::tempdir().unwrap();
        let s = crate::testing::open(dir.path());
        let (a, b) = (user(&s, "a@x.y"), user(&s, "b@x.y"));
        let now = Utc::now();
        let paths = vec!["srv/a".to_string(), "srv/b c".to_string()];
        s.add_download_ticket(
            "secret-ticket",
            &ticket(a, &paths, now + Duration::minutes(10)),
            now,
        )
        .unwrap();
        let stored: String = s
            .conn()
            .query_row("SELECT ticket_hash FROM download_tickets", [], |r| r.get(0))
            .unwrap();
        assert_eq!(stored, token_hash("secret-ticket"));
        assert_eq!(
            s.take_download_ticket("secret-ticket", Some(b), now)
                .unwrap(),
            TicketTake::OtherUser
        );
        match s
            .take_download_ticket("secret-ticket", Some(a), now)
            .unwrap()
        {
            TicketTake::Taken(t) => {
                assert_eq!(
                    (t.user, t.archive, t.paths),
                    (a, ArchiveId(7), paths.clone())
                );
                assert_eq!((t.kind.as_str(), t.filename.as_str()), ("tar", "srv.tar"));
            }
            other => panic!("not taken: {other:?}"),
        }
        assert_eq!(
            s.take_download_ticket("secret-ticket", None, now).unwrap(),
            TicketTake::Used
        );
        assert_eq!(
            s.take_download_ticket("other", None, now).unwrap(),
            TicketTake::Unknown
        );
        // Once expired, a used ticket is forgotten, and deleted when the next one is added.
        let later = now + Duration::minutes(11);
        assert_eq!(
            s.take_download_ticket("secret-ticket", None, later)
                .unwrap(),
            TicketTake::Unknown
        );
        s.add_download_ticket(
            "next",
            &ticket(a, &paths, later + Duration::minutes(10)),
            later,
        )
        .unwrap();
        let left: i64 = s
            .conn()
            .query_row("SELECT COUNT(*) FROM download_tickets", [], |r| r.get(0))
            .unwrap();
        assert_eq!(left, 1);
    }

    #[test]
    fn nodes_racing_for_a_ticket_take_it_once() {
        let dir = tempfile::tempdir().unwrap();
        let options = crate::testing::options(dir.path());
        let nodes = [
            Store::open_with(&options).unwrap(),
            Store::open_with(&options).unwrap(),
        ];
        let a = user(&nodes[0], "a@x.y");
        let now = Utc::now();
        let paths = vec!["srv".to_string()];
        for round in 0..10 {
            let name = format!("ticket-{round}");
            nodes[round % 2]
                .add_download_ticket(&name, &ticket(a, &paths, now + Duration::minutes(10)), now)
                .unwrap();
            let takers: Vec<_> = (0..6)
                .map(|i| {
                    let (node, name) = (nodes[i % 2].clone(), name.clone());
                    std::thread::spawn(move || node.take_download_ticket(&name, None, now).unwrap())
                })
                .collect();
            let results: Vec<TicketTake> = takers.into_iter().map(|t| t.join().unwrap()).collect();
            let taken = results
                .iter()
                .filter(|r| matches!(r, TicketTake::Taken(_)))
                .count();
            assert_eq!(taken, 1, "{results:?}");
            assert!(results
                .iter()
                .all(|r| matches!(r, TicketTake::Taken(_) | TicketTake::Used)));
        }
    }
}

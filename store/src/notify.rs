//! Notification preferences of users and the outbox of outgoing mail and webhook deliveries,
//! with their delivery state, attempts and last error.

use crate::db::{params, OptionalExtension, Row};
use crate::{now, parse_opt_ts, parse_ts, ts, Result, Store, StoreError};
use chrono::{DateTime, Utc};
use model::UserId;

/// A user who asked for a kind of mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub id: UserId,
    pub email: String,
    pub superuser: bool,
}

/// What a user wants to be mailed about.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NotifyPrefs {
    pub backup_success: bool,
    pub backup_failed: bool,
    pub launch_summary: bool,
    pub daily: bool,
    pub weekly: bool,
    pub monthly: bool,
}

/// One preference, to find who wants a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyPref {
    BackupSuccess,
    BackupFailed,
    LaunchSummary,
    Daily,
    Weekly,
    Monthly,
}

impl NotifyPref {
    fn column(self) -> &'static str {
        match self {
            NotifyPref::BackupSuccess => "notify_backup_success",
            NotifyPref::BackupFailed => "notify_backup_failed",
            NotifyPref::LaunchSummary => "notify_launch_summary",
            NotifyPref::Daily => "notify_daily",
            NotifyPref::Weekly => "notify_weekly",
            NotifyPref::Monthly => "notify_monthly",
        }
    }
}

/// Delivery channel of an outbox entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Mail,
    Webhook,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Mail => "mail",
            Channel::Webhook => "webhook",
        }
    }
}

/// A message to deliver: for mail, `payload` is the formatted RFC 5322 message and `recipients`
/// the envelope addresses (comma-separated); for a webhook, the JSON body and the URL.
#[derive(Debug, Clone)]
pub struct NewOutbox {
    pub channel: Channel,
    pub kind: String,
    pub recipients: String,
    pub subject: String,
    pub payload: Vec<u8>,
}

/// An outbox entry as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxItem {
    pub id: i64,
    pub channel: String,
    pub kind: String,
    pub recipients: String,
    pub subject: String,
    pub payload: Vec<u8>,
    /// `pending`, `sent` or `failed` (gave up).
    pub state: String,
    pub attempts: i64,
    pub last_error: String,
    pub created: DateTime<Utc>,
    pub next_attempt: DateTime<Utc>,
    pub sent: Option<DateTime<Utc>>,
}

const OUTBOX_COLS: &str =
    "id, channel, kind, recipients, subject, payload, state, attempts, last_error,
    created, next_attempt, sent";

fn outbox_row(r: &Row) -> rusqlite::Result<OutboxItem> {
    Ok(OutboxItem {
        id: r.get(0)?,
        channel: r.get(1)?,
        kind: r.get(2)?,
        recipients: r.get(3)?,
        subject: r.get(4)?,
        payload: r.get(5)?,
        state: r.get(6)?,
        attempts: r.get(7)?,
        last_error: r.get(8)?,
        created: parse_ts(&r.get::<_, String>(9)?),
        next_attempt: parse_ts(&r.get::<_, String>(10)?),
        sent: parse_opt_ts(r.get(11)?),
    })
}

impl Store {
    pub fn notify_prefs(&self, user: UserId) -> Result<NotifyPrefs> {
        self.read()
            .query_row(
                "SELECT notify_backup_success, notify_backup_failed, notify_launch_summary,
                   notify_daily, notify_weekly, notify_monthly FROM users WHERE id = ?1",
                [user.0],
                |r| {
                    Ok(NotifyPrefs {
                        backup_success: r.get(0)?,
                        backup_failed: r.get(1)?,
                        launch_summary: r.get(2)?,
                        daily: r.get(3)?,
                        weekly: r.get(4)?,
                        monthly: r.get(5)?,
                    })
                },
            )
            .optional()?
            .ok_or_else(|| StoreError::not_found("user", user))
    }

    pub fn set_notify_prefs(&self, user: UserId, p: NotifyPrefs) -> Result<NotifyPrefs> {
        let n = self.conn().execute(
            "UPDATE users SET notify_backup_success = ?2, notify_backup_failed = ?3,
               notify_launch_summary = ?4, notify_daily = ?5, notify_weekly = ?6,
               notify_monthly = ?7, modified = ?8 WHERE id = ?1",
            params![
                user.0,
                p.backup_success,
                p.backup_failed,
                p.launch_summary,
                p.daily,
                p.weekly,
                p.monthly,
                now()
            ],
        )?;
        if n == 0 {
            return Err(StoreError::not_found("user", user));
        }
        self.notify_prefs(user)
    }

    /// Active users who asked for `pref` (with an email address), sorted by email, with their
    /// role: what a mail may tell each depends on it (see `report::audience`).
    pub fn notify_recipients(&self, pref: NotifyPref) -> Result<Vec<Recipient>> {
        let conn = self.read();
        let mut st = conn.prepare(&format!(
            "SELECT id, email, role FROM users WHERE is_active = 1 AND {} = 1 AND email LIKE '%@%'
             ORDER BY email",
            pref.column()
        ))?;
        let rows = st
            .query_map([], |r| {
                let role: String = r.get(2)?;
                Ok(Recipient {
                    id: UserId(r.get(0)?),
                    email: r.get(1)?,
                    superuser: role == model::Role::Superuser.as_str(),
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Finished jobs whose notifications were not queued yet, oldest first.
    pub fn jobs_to_notify(&self, limit: i64) -> Result<Vec<model::JobId>> {
        let conn = self.read();
        let mut st = conn.prepare(
            "SELECT id FROM jobs WHERE notified = 0
               AND status IN ('successful', 'failed', 'error', 'canceled') ORDER BY id LIMIT ?1",
        )?;
        let rows = st
            .query_map([limit], |r| Ok(model::JobId(r.get(0)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    pub fn mark_job_notified(&self, id: model::JobId) -> Result<()> {
        self.conn()
            .execute("UPDATE jobs SET notified = 1 WHERE id = ?1", [id.0])?;
        Ok(())
    }

    /// Queues a message for delivery now; returns its id.
    pub fn enqueue_outbox(&self, m: &NewOutbox) -> Result<i64> {
        let conn = self.conn();
        let n = now();
        let new_id = conn.insert(
            "INSERT INTO outbox (channel, kind, recipients, subject, payload, created, next_attempt)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
            params![
                m.channel.as_str(),
                m.kind,
                m.recipients,
                m.subject,
                m.payload,
                n
            ],
        )?;
        Ok(new_id)
    }

    pub fn outbox_item(&self, id: i64) -> Result<OutboxItem> {
        self.read()
            .query_row(
                &format!("SELECT {OUTBOX_COLS} FROM outbox WHERE id = ?1"),
                [id],
                outbox_row,
            )
            .optional()?
            .ok_or_else(|| StoreError::not_found("outgoing message", id))
    }

    /// Pending entries whose next attempt is due, oldest first.
    pub fn due_outbox(&self, at: DateTime<Utc>, limit: i64) -> Result<Vec<OutboxItem>> {
        let conn = self.read();
        let mut st = conn.prepare(&format!(
            "SELECT {OUTBOX_COLS} FROM outbox WHERE state = 'pending' AND next_attempt <= ?1
             ORDER BY next_attempt, id LIMIT ?2"
        ))?;
        let rows = st
            .query_map(params![ts(at), limit], outbox_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Entries newest first, optionally of one channel and/or state.
    pub fn outbox(
        &self,
        channel: Option<Channel>,
        state: Option<&str>,
        limit: i64,
    ) -> Result<Vec<OutboxItem>> {
        let conn = self.read();
        let mut st = conn.prepare(&format!(
            "SELECT {OUTBOX_COLS} FROM outbox WHERE (channel = ?1 OR ?1 IS NULL)
               AND (state = ?2 OR ?2 IS NULL) ORDER BY id DESC LIMIT ?3"
        ))?;
        let rows = st
            .query_map(
                params![channel.map(|c| c.as_str()), state, limit],
                outbox_row,
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Entries counted by channel and state.
    pub fn outbox_counts(&self) -> Result<Vec<(String, String, i64)>> {
        let conn = self.read();
        let mut st = conn
            .prepare("SELECT channel, state, COUNT(*) FROM outbox GROUP BY 1, 2 ORDER BY 1, 2")?;
        let rows = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    pub fn outbox_sent(&self, id: i64) -> Result<()> {
        self.conn().execute(
            "UPDATE outbox SET state = 'sent', attempts = attempts + 1, sent = ?2, last_error = ''
             WHERE id = ?1",
            params![id, now()],
        )?;
        Ok(())
    }

    /// Records a failed attempt: retried at `retry_at`, or given up when `None`.
    pub fn outbox_attempt_failed(
        &self,
        id: i64,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<()> {
        let (state, next) = match retry_at {
            Some(t) => ("pending", ts(t)),
            None => ("failed", now()),
        };
        self.conn().execute(
            "UPDATE outbox SET state = ?2, attempts = attempts + 1, last_error = ?3, next_attempt = ?4
             WHERE id = ?1",
            params![id, state, error, next],
        )?;
        Ok(())
    }

    /// Puts a failed or pending entry back in the queue for an attempt now.
    pub fn retry_outbox(&self, id: i64) -> Result<OutboxItem> {
        let n = self.conn().execute(
            "UPDATE outbox SET state = 'pending', next_attempt = ?2 WHERE id = ?1 AND state != 'sent'",
            params![id, now()],
        )?;
        if n == 0 {
            let item = self.outbox_item(id)?;
            return Err(StoreError::Conflict(format!(
                "message {} was already sent",
                item.id
            )));
        }
        self.outbox_item(id)
    }
}

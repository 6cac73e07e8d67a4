//! Users (argon2 password hashes), login sessions and long-lived API tokens.

use crate::db::{params, OptionalExtension, Row};
use crate::{now, parse_opt_ts, parse_ts, ts, unique_conflict, Result, Store, StoreError};
use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use chrono::{DateTime, Duration, Utc};
use model::{Role, TokenId, User, UserId, ValidationErrors};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// How stale a token's `last_used` may be before a request refreshes it.
const LAST_USED_PRECISION: Duration = Duration::seconds(60);

/// Input for a new user.
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    pub email: String,
    pub password: String,
    pub first_name: String,
    pub last_name: String,
    pub is_superuser: bool,
    /// The role; `None`: superuser when `is_superuser`, else viewer.
    pub role: Option<Role>,
}

/// The caller behind a valid token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthUser {
    pub id: UserId,
    pub email: String,
    pub is_superuser: bool,
    pub token: TokenId,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// Returned by login; expires.
    Session,
    /// Created by a user for scripts; lives until revoked.
    Api,
}

impl TokenKind {
    fn as_str(self) -> &'static str {
        match self {
            TokenKind::Session => "session",
            TokenKind::Api => "api",
        }
    }
}

/// A token as listed (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    pub id: TokenId,
    pub name: String,
    pub kind: String,
    pub created: DateTime<Utc>,
    pub last_used: Option<DateTime<Utc>>,
    pub expires: Option<DateTime<Utc>>,
}

pub(crate) const USER_COLS: &str =
    "id, email, first_name, last_name, is_superuser, is_active, created, last_login, role";

pub(crate) fn user_row(r: &Row) -> rusqlite::Result<User> {
    Ok(User {
        id: UserId(r.get(0)?),
        email: r.get(1)?,
        first_name: r.get(2)?,
        last_name: r.get(3)?,
        is_superuser: r.get(4)?,
        is_active: r.get(5)?,
        created: parse_ts(&r.get::<_, String>(6)?),
        last_login: parse_opt_ts(r.get(7)?),
        role: crate::access::role_column(&r.get::<_, String>(8)?),
    })
}

fn hash_password(pw: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(pw.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Crypto(format!("password hashing failed: {e}")))
}

fn check_password(pw: &str) -> Result<()> {
    if pw.chars().count() < 8 {
        return Err(ValidationErrors::single("password", "must be at least 8 characters").into());
    }
    if pw.len() > 1024 {
        return Err(ValidationErrors::single("password", "must be at most 1024 bytes").into());
    }
    Ok(())
}

fn check_email(email: &str) -> Result<()> {
    let ok = email.len() <= 254
        && email
            .split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && !d.is_empty())
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(
            ValidationErrors::single("email", "must be an email address like admin@example.com")
                .into(),
        )
    }
}

pub(crate) fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl Store {
    pub fn create_user(&self, u: &NewUser) -> Result<User> {
        check_email(&u.email)?;
        check_password(&u.password)?;
        let hash = hash_password(&u.password)?;
        let role = u.role.unwrap_or(if u.is_superuser {
            Role::Superuser
        } else {
            Role::Viewer
        });
        let conn = self.conn();
        let n = now();
        let new_id = conn.insert(
            "INSERT INTO users (email, first_name, last_name, password_hash, is_superuser, role, created, modified)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
            params![u.email, u.first_name, u.last_name, hash, role == Role::Superuser, role.as_str(), n],
        )
        .map_err(|e| unique_conflict(e, "email", &u.email))?;
        let id = UserId(new_id);
        drop(conn);
        self.user(id)
    }

    pub fn user(&self, id: UserId) -> Result<User> {
        self.read()
            .query_row(
                &format!("SELECT {USER_COLS} FROM users WHERE id = ?1"),
                [id.0],
                user_row,
            )
            .optional()?
            .ok_or_else(|| StoreError::not_found("user", id))
    }

    pub fn user_by_email(&self, email: &str) -> Result<Option<User>> {
        Ok(self
            .read()
            .query_row(
                &format!("SELECT {USER_COLS} FROM users WHERE email = ?1"),
                [email],
                user_row,
            )
            .optional()?)
    }

    pub fn users(&self) -> Result<Vec<User>> {
        let conn = self.read();
        let mut st = conn.prepare(&format!("SELECT {USER_COLS} FROM users ORDER BY id"))?;
        let rows = st
            .query_map([], user_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    pub fn user_count(&self) -> Result<i64> {
        Ok(self
            .read()
            .query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))?)
    }

    /// Updates profile fields given as `Some`. Setting `is_superuser` sets the role too
    /// (`false` makes a superuser a viewer); [`Store::set_user_role`] sets any role.
    pub fn update_user(
        &self,
        id: UserId,
        email: Option<&str>,
        first_name: Option<&str>,
        last_name: Option<&str>,
        is_superuser: Option<bool>,
    ) -> Result<User> {
        if let Some(e) = email {
            check_email(e)?;
        }
        self.user(id)?;
        let conn = self.conn();
        conn.execute(
            "UPDATE users SET email = COALESCE(?2, email), first_name = COALESCE(?3, first_name),
             last_name = COALESCE(?4, last_name), is_superuser = COALESCE(?5, is_superuser),
             role = CASE WHEN ?5 IS NULL THEN role WHEN ?5 <> 0 THEN 'superuser'
                         WHEN role = 'superuser' THEN 'viewer' ELSE role END, modified = ?6
             WHERE id = ?1",
            params![id.0, email, first_name, last_name, is_superuser, now()],
        )
        .map_err(|e| unique_conflict(e, "email", email.unwrap_or_default()))?;
        drop(conn);
        self.user(id)
    }

    pub fn delete_user(&self, id: UserId) -> Result<()> {
        let n = self
            .conn()
            .execute("DELETE FROM users WHERE id = ?1", [id.0])?;
        if n == 0 {
            return Err(StoreError::not_found("user", id));
        }
        Ok(())
    }

    /// Sets a new password and revokes every login session and API token of the user.
    pub fn set_password(&self, id: UserId, password: &str) -> Result<()> {
        self.set_password_keeping(id, password, None)
    }

    /// Sets a new password and revokes the user's sessions and API tokens except `keep` (the
    /// session of a user changing their own password).
    pub fn set_password_keeping(
        &self,
        id: UserId,
        password: &str,
        keep: Option<TokenId>,
    ) -> Result<()> {
        check_password(password)?;
        let hash = hash_password(password)?;
        let conn = self.conn();
        let n = conn.execute(
            "UPDATE users SET password_hash = ?2, modified = ?3 WHERE id = ?1",
            params![id.0, hash, now()],
        )?;
        if n == 0 {
            return Err(StoreError::not_found("user", id));
        }
        conn.execute(
            "UPDATE tokens SET revoked = 1 WHERE user_id = ?1 AND id <> COALESCE(?2, 0)",
            params![id.0, keep.map(|t| t.0)],
        )?;
        Ok(())
    }

    /// Checks an email and password; `None` when either is wrong or the user is inactive.
    pub fn verify_login(&self, email: &str, password: &str) -> Result<Option<User>> {
        let row: Option<(i64, String, bool)> = self
            .read()
            .query_row(
                "SELECT id, password_hash, is_active FROM users WHERE email = ?1",
                [email],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let Some((id, hash, active)) = row else {
            // Spend the same time as a real check so that timing does not reveal accounts.
            let _ = hash_password(password);
            return Ok(None);
        };
        let parsed = PasswordHash::new(&hash).map_err(|e| StoreError::Crypto(e.to_string()))?;
        if !active
            || Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_err()
        {
            return Ok(None);
        }
        self.conn().execute(
            "UPDATE users SET last_login = ?2 WHERE id = ?1",
            params![id, now()],
        )?;
        Ok(Some(self.user(UserId(id))?))
    }

    /// Creates a token for the user and returns its value (shown once; only a hash is kept).
    pub fn create_token(
        &self,
        user: UserId,
        kind: TokenKind,
        name: &str,
        ttl: Option<Duration>,
    ) -> Result<(TokenId, String)> {
        let mut raw = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut raw);
        let prefix = match kind {
            TokenKind::Session => "cbs_",
            TokenKind::Api => "cbt_",
        };
        let token = format!("{prefix}{}", hex::encode(raw));
        let expires = ttl.map(|d| ts(Utc::now() + d));
        let conn = self.conn();
        let new_id = conn.insert(
            "INSERT INTO tokens (user_id, token_hash, kind, name, created, expires) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![user.0, token_hash(&token), kind.as_str(), name, now(), expires],
        )?;
        Ok((TokenId(new_id), token))
    }

    /// Resolves a presented token to its user, if valid, unexpired and unrevoked, and records
    /// its use: `last_used` is refreshed when older than a minute, so most authenticated
    /// requests stay reads that never wait for the writer.
    pub fn authenticate_token(&self, token: &str) -> Result<Option<AuthUser>> {
        let Some((user, last_used)) = self.token_row(token)? else {
            return Ok(None);
        };
        let now_t = Utc::now();
        if last_used.is_none_or(|l| now_t - parse_ts(&l) >= LAST_USED_PRECISION) {
            self.conn().execute(
                "UPDATE tokens SET last_used = ?2 WHERE id = ?1",
                params![user.token.0, ts(now_t)],
            )?;
        }
        Ok(Some(user))
    }

    /// Like [`Store::authenticate_token`] without recording a use: for re-checking a long-lived
    /// session (a websocket) often.
    pub fn check_token(&self, token: &str) -> Result<Option<AuthUser>> {
        Ok(self.token_row(token)?.map(|(user, _)| user))
    }

    /// A valid, unexpired, unrevoked token's user and when it was last used (a read).
    fn token_row(&self, token: &str) -> Result<Option<(AuthUser, Option<String>)>> {
        let conn = self.read();
        let row = conn
            .prepare(
                "SELECT t.id, t.expires, u.id, u.email, u.is_superuser, t.last_used FROM tokens t JOIN users u ON u.id = t.user_id
                 WHERE t.token_hash = ?1 AND t.revoked = 0 AND u.is_active = 1",
            )?
            .query_row([token_hash(token)], |r| {
                Ok((
                    r.get::<_, Option<String>>(1)?,
                    AuthUser { id: UserId(r.get(2)?), email: r.get(3)?, is_superuser: r.get(4)?, token: TokenId(r.get(0)?) },
                    r.get::<_, Option<String>>(5)?,
                ))
            })
            .optional()?;
        let Some((expires, user, last_used)) = row else {
            return Ok(None);
        };
        if expires.is_some_and(|e| parse_ts(&e) < Utc::now()) {
            return Ok(None);
        }
        Ok(Some((user, last_used)))
    }

    /// Revokes one of the user's tokens (superusers may revoke any).
    pub fn revoke_token(&self, user: &AuthUser, id: TokenId) -> Result<()> {
        let n = self.conn().execute(
            "UPDATE tokens SET revoked = 1 WHERE id = ?1 AND (user_id = ?2 OR ?3)",
            params![id.0, user.id.0, user.is_superuser],
        )?;
        if n == 0 {
            return Err(StoreError::not_found("token", id));
        }
        Ok(())
    }

    /// The user's unrevoked API tokens.
    pub fn api_tokens(&self, user: UserId) -> Result<Vec<TokenInfo>> {
        let conn = self.read();
        let mut st = conn.prepare(
            "SELECT id, name, kind, created, last_used, expires FROM tokens
             WHERE user_id = ?1 AND revoked = 0 AND kind = 'api' ORDER BY id",
        )?;
        let rows = st
            .query_map([user.0], |r| {
                Ok(TokenInfo {
                    id: TokenId(r.get(0)?),
                    name: r.get(1)?,
                    kind: r.get(2)?,
                    created: parse_ts(&r.get::<_, String>(3)?),
                    last_used: parse_opt_ts(r.get(4)?),
                    expires: parse_opt_ts(r.get(5)?),
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let d = tempfile::tempdir().unwrap();
        let s = crate::testing::open(d.path());
        (d, s)
    }

    #[test]
    fn login_and_tokens() {
        let (_d, s) = store();
        let u = s
            .create_user(&NewUser {
                email: "a@b.c".into(),
                password: "correct horse".into(),
                is_superuser: true,
                ..Default::default()
            })
            .unwrap();
        assert!(s.verify_login("a@b.c", "wrong password").unwrap().is_none());
        assert!(s
            .verify_login("nobody@b.c", "correct horse")
            .unwrap()
            .is_none());
        assert_eq!(
            s.verify_login("a@b.c", "correct horse")
                .unwrap()
                .unwrap()
                .id,
            u.id
        );
        let (tid, tok) = s.create_token(u.id, TokenKind::Api, "ci", None).unwrap();
        let au = s.authenticate_token(&tok).unwrap().unwrap();
        assert!(au.is_superuser);
        assert!(s.authenticate_token("cbt_nope").unwrap().is_none());
        s.revoke_token(&au, tid).unwrap();
        assert!(s.authenticate_token(&tok).unwrap().is_none());
        let (_, expired) = s
            .create_token(u.id, TokenKind::Session, "", Some(Duration::seconds(-1)))
            .unwrap();
        assert!(s.authenticate_token(&expired).unwrap().is_none());
    }

    #[test]
    fn password_change_revokes_tokens() {
        let (_d, s) = store();
        let u = s
            .create_user(&NewUser {
                email: "a@b.c".into(),
                password: "correct horse".into(),
                ..Default::default()
            })
            .unwrap();
        let token = |kind| s.create_token(u.id, kind, "t", None).unwrap();
        let (_, api) = token(TokenKind::Api);
        let (mine, session) = token(TokenKind::Session);
        let (_, other) = token(TokenKind::Session);
        s.set_password_keeping(u.id, "battery staple", Some(mine))
            .unwrap();
        assert!(s.check_token(&api).unwrap().is_none());
        assert!(s.check_token(&other).unwrap().is_none());
        assert!(s.check_token(&session).unwrap().is_some());
        s.set_password(u.id, "another staple").unwrap();
        assert!(s.check_token(&session).unwrap().is_none());
    }

    #[test]
    fn bad_users_are_refused() {
        let (_d, s) = store();
        let e = s.create_user(&NewUser {
            email: "x".into(),
            password: "longenough".into(),
            ..Default::default()
        });
        assert!(matches!(e, Err(StoreError::Validation(v)) if v.0[0].field == "email"));
        let e = s.create_user(&NewUser {
            email: "a@b.c".into(),
            password: "short".into(),
            ..Default::default()
        });
        assert!(matches!(e, Err(StoreError::Validation(v)) if v.0[0].field == "password"));
        s.create_user(&NewUser {
            email: "a@b.c".into(),
            password: "longenough".into(),
            ..Default::default()
        })
        .unwrap();
        let e = s.create_user(&NewUser {
            email: "A@b.c".into(),
            password: "longenough".into(),
            ..Default::default()
        });
        assert!(matches!(e, Err(StoreError::Validation(v)) if v.0[0].field == "email"));
    }
}

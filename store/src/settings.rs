//! The settings table. Instance settings are read and written only through the typed registry
//! (`model::settings`): `get` / `get_secret` read a declared setting, `apply_settings` stores
//! checked changes in one transaction. The same table keeps internal state that is not a setting
//! (the server's SSH key, last-run stamps of schedules) under keys the registry does not declare,
//! through `state` / `set_state`.

use crate::db::{params, OptionalExtension};
use crate::{now, Result, Store, StoreError};
use model::settings::{
    self, Change, ChangeValue, Def, FromSetting, SecretSetting, Setting, Stored,
};
use model::Secret;

fn raw(conn: &crate::db::Conn, key: &str) -> Result<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT value FROM settings WHERE key = ?1 AND secret IS NULL",
            [key],
            |r| r.get(0),
        )
        .optional()?)
}

fn put(conn: &crate::db::Conn, key: &str, value: &str) -> Result<()> {
    conn.execute(
        "INSERT INTO settings (key, value, secret, modified) VALUES (?1, ?2, NULL, ?3)
         ON CONFLICT (key) DO UPDATE SET value = ?2, secret = NULL, modified = ?3",
        params![key, value, now()],
    )?;
    Ok(())
}

fn put_sealed(conn: &crate::db::Conn, key: &str, sealed: &[u8]) -> Result<()> {
    conn.execute(
        "INSERT INTO settings (key, value, secret, modified) VALUES (?1, '', ?2, ?3)
         ON CONFLICT (key) DO UPDATE SET value = '', secret = ?2, modified = ?3",
        params![key, sealed, now()],
    )?;
    Ok(())
}

/// Internal state must never shadow a declared setting.
fn not_a_setting(key: &str) -> Result<()> {
    match settings::find(key) {
        Some(_) => Err(StoreError::Conflict(format!(
            "{key} is a setting: change it through the settings registry"
        ))),
        None => Ok(()),
    }
}

impl Store {
    /// The value in effect of a declared setting (its default when none is stored).
    pub fn get<T: FromSetting>(&self, s: &Setting<T>) -> Result<T> {
        let stored = raw(&self.read(), s.key())?;
        if let Some(v) = stored.as_deref() {
            if !v.trim().is_empty() && !s.is_readable(v) {
                tracing::debug!(
                    key = s.key(),
                    "stored setting is not valid: its default applies"
                );
            }
        }
        Ok(s.read(stored.as_deref()))
    }

    /// A secret setting, opened; `None` when it is not set.
    pub fn get_secret(&self, s: &SecretSetting) -> Result<Option<Secret>> {
        self.sealed(s.key())
    }

    fn sealed(&self, key: &str) -> Result<Option<Secret>> {
        let sealed: Option<Option<Vec<u8>>> = self
            .read()
            .query_row("SELECT secret FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()?;
        sealed.flatten().map(|s| self.key().open(&s)).transpose()
    }

    fn stored(conn: &crate::db::Conn, key: &str) -> Result<Stored> {
        let row: Option<(String, bool)> = conn
            .query_row(
                "SELECT value, secret IS NOT NULL FROM settings WHERE key = ?1",
                [key],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        Ok(match row {
            None => Stored::Missing,
            Some((_, true)) => Stored::Sealed,
            Some((v, false)) => Stored::Plain(v),
        })
    }

    /// Every setting the caller may read, as APIs show them (secrets masked).
    pub fn setting_views(&self, superuser: bool) -> Result<Vec<settings::View>> {
        let conn = self.read();
        let mut stored = Vec::new();
        for d in settings::all().iter().filter(|d| d.read.allows(superuser)) {
            stored.push(settings::view(d, Self::stored(&conn, d.key)?));
        }
        Ok(stored)
    }

    /// One setting as APIs show it.
    pub fn setting_view(&self, def: &'static Def) -> Result<settings::View> {
        Ok(settings::view(def, Self::stored(&self.read(), def.key)?))
    }

    /// Stores checked changes, all or none; secrets are sealed, a reset removes the value.
    pub fn apply_settings(&self, changes: &[Change]) -> Result<()> {
        let mut sealed = Vec::with_capacity(changes.len());
        for c in changes {
            sealed.push(match c.value() {
                ChangeValue::Secret(s) => Some(self.key().seal(s.expose())?),
                _ => None,
            });
        }
        let conn = self.conn();
        let tx = conn.transaction()?;
        for (c, sealed) in changes.iter().zip(sealed) {
            let key = c.def().key;
            match (c.value(), sealed) {
                (ChangeValue::Keep, _) => {}
                (ChangeValue::Reset, _) => {
                    tx.execute("DELETE FROM settings WHERE key = ?1", [key])?;
                }
                (ChangeValue::Plain(v), _) => put(&tx, key, v)?,
                (ChangeValue::Secret(_), Some(s)) => put_sealed(&tx, key, &s)?,
                (ChangeValue::Secret(_), None) => {
                    return Err(StoreError::Crypto(format!("{key} was not sealed")))
                }
            }
        }
        tx.commit()?;
        for c in changes {
            tracing::info!(key = c.def().key, "setting changed");
        }
        Ok(())
    }

    /// Internal state (not a setting) stored under `key`.
    pub fn state(&self, key: &str) -> Result<Option<String>> {
        raw(&self.read(), key)
    }

    /// Records internal state; refuses a key the settings registry declares.
    pub fn set_state(&self, key: &str, value: &str) -> Result<()> {
        not_a_setting(key)?;
        put(&self.conn(), key, value)
    }

    /// Replaces internal state only if it still holds `expected` (`None`: absent); true when
    /// this call made the change. Nodes sharing a database use it so that one of them acts.
    pub fn swap_state(&self, key: &str, expected: Option<&str>, value: &str) -> Result<bool> {
        not_a_setting(key)?;
        let conn = self.conn();
        let n = match expected {
            None => conn.execute(
                "INSERT OR IGNORE INTO settings (key, value, secret, modified) VALUES (?1, ?2, NULL, ?3)",
                params![key, value, now()],
            )?,
            Some(old) => conn.execute(
                "UPDATE settings SET value = ?2, modified = ?3 WHERE key = ?1 AND value = ?4",
                params![key, value, now(), old],
            )?,
        };
        Ok(n == 1)
    }

    /// Internal secret state (the server's SSH key), opened.
    pub fn secret_state(&self, key: &str) -> Result<Option<Secret>> {
        self.sealed(key)
    }

    /// Records internal secret state sealed with the master key.
    pub fn set_secret_state(&self, key: &str, value: &Secret) -> Result<()> {
        not_a_setting(key)?;
        let sealed = self.key().seal(value.expose())?;
        put_sealed(&self.conn(), key, &sealed)
    }
}

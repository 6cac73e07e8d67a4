//! Instance settings: plain values, and secrets sealed with the master key.

use crate::{now, Result, Store};
use model::Secret;
use rusqlite::{params, OptionalExtension};

/// A setting as the API may show it: secrets are masked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingValue {
    pub key: String,
    pub value: String,
    pub is_secret: bool,
}

impl Store {
    pub fn setting(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT value FROM settings WHERE key = ?1 AND secret IS NULL",
                [key],
                |r| r.get(0),
            )
            .optional()?)
    }

    pub fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        self.conn().execute(
            "INSERT INTO settings (key, value, secret, modified) VALUES (?1, ?2, NULL, ?3)
             ON CONFLICT (key) DO UPDATE SET value = ?2, secret = NULL, modified = ?3",
            params![key, value, now()],
        )?;
        Ok(())
    }

    pub fn set_secret_setting(&self, key: &str, value: &Secret) -> Result<()> {
        let sealed = self.key().seal(value.expose())?;
        self.conn().execute(
            "INSERT INTO settings (key, value, secret, modified) VALUES (?1, '', ?2, ?3)
             ON CONFLICT (key) DO UPDATE SET value = '', secret = ?2, modified = ?3",
            params![key, sealed, now()],
        )?;
        Ok(())
    }

    pub fn secret_setting(&self, key: &str) -> Result<Option<Secret>> {
        let sealed: Option<Option<Vec<u8>>> = self
            .conn()
            .query_row("SELECT secret FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()?;
        sealed.flatten().map(|s| self.key().open(&s)).transpose()
    }

    /// Every setting, secrets masked.
    pub fn settings(&self) -> Result<Vec<SettingValue>> {
        let conn = self.conn();
        let mut st =
            conn.prepare("SELECT key, value, secret IS NOT NULL FROM settings ORDER BY key")?;
        let rows = st
            .query_map([], |r| {
                let is_secret: bool = r.get(2)?;
                Ok(SettingValue {
                    key: r.get(0)?,
                    value: if is_secret {
                        model::MASK.to_string()
                    } else {
                        r.get(1)?
                    },
                    is_secret,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }
}

//! The typed settings registry: every instance setting declared once (key, kind, default,
//! validation, secret or not, who may read it, label, help and group), with typed handles that
//! every crate reads through (`store.get(&settings::MAIL_PORT)`). Unknown keys are refused and
//! values are checked here before anything is stored.

mod kinds;
mod registry;
#[cfg(test)]
mod tests;

pub use kinds::{Kind, MailSecurity, MetricsAuth};
pub use registry::*;

use crate::Secret;
use std::marker::PhantomData;

/// The part of the settings form a setting belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Group {
    General,
    Backups,
    Checks,
    Mail,
    Webhooks,
    Reports,
    Metrics,
}

impl Group {
    pub const ALL: [Group; 7] = [
        Group::General,
        Group::Backups,
        Group::Checks,
        Group::Mail,
        Group::Webhooks,
        Group::Reports,
        Group::Metrics,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Group::General => "general",
            Group::Backups => "backups",
            Group::Checks => "checks",
            Group::Mail => "mail",
            Group::Webhooks => "webhooks",
            Group::Reports => "reports",
            Group::Metrics => "metrics",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Group::General => "General",
            Group::Backups => "Backups",
            Group::Checks => "Integrity checks and restore drills",
            Group::Mail => "Mail server",
            Group::Webhooks => "Webhooks",
            Group::Reports => "Scheduled reports",
            Group::Metrics => "Metrics",
        }
    }
}

/// Who may read a setting's value (only superusers change settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Superuser,
    AnyUser,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Superuser => "superuser",
            Access::AnyUser => "any_user",
        }
    }

    /// Whether a caller (superuser or not) may read a setting with this access.
    pub fn allows(self, superuser: bool) -> bool {
        superuser || self == Access::AnyUser
    }
}

/// The declaration of one setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Def {
    pub key: &'static str,
    pub label: &'static str,
    /// One line for the settings form.
    pub help: &'static str,
    pub group: Group,
    pub kind: Kind,
    /// The value in effect when none is stored (empty for secrets and optional text).
    pub default: &'static str,
    pub read: Access,
}

impl Def {
    /// Secrets are sealed at rest and never returned (a mask is).
    pub fn is_secret(&self) -> bool {
        self.kind == Kind::Secret
    }

    /// Checks a new value: `Ok(None)` resets to the default, `Ok(Some(v))` stores the
    /// normalized `v`; the error is the reason, without the key.
    pub fn check(&self, raw: &str) -> Result<Option<String>, String> {
        if self.is_secret() {
            // A secret is taken as typed (spaces included); empty clears it.
            return if raw.is_empty() {
                Ok(None)
            } else {
                self.kind.check(raw).map(Some)
            };
        }
        let v = raw.trim();
        if v.is_empty() {
            return Ok(None);
        }
        self.kind.check(v).map(Some)
    }
}

/// A typed handle on a plain setting; read it with `Store::get`.
pub struct Setting<T> {
    def: Def,
    _value: PhantomData<fn() -> T>,
}

impl<T: FromSetting> Setting<T> {
    pub(crate) const fn new(def: Def) -> Self {
        Setting {
            def,
            _value: PhantomData,
        }
    }

    pub fn def(&self) -> &Def {
        &self.def
    }

    pub fn key(&self) -> &'static str {
        self.def.key
    }

    /// The value in effect given what is stored: a missing, empty or unreadable value (one
    /// stored by an older version) is the default.
    pub fn read(&self, stored: Option<&str>) -> T {
        stored
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .and_then(|s| self.def.kind.check(s).ok())
            .and_then(|s| T::from_setting(&s))
            .or_else(|| T::from_setting(self.def.default))
            .unwrap_or_else(|| {
                // Every default is checked against its type by the registry's unit tests.
                panic!("the default of setting {} does not parse", self.def.key)
            })
    }

    /// Whether `stored` is a value this setting would use (not the default in its place).
    pub fn is_readable(&self, stored: &str) -> bool {
        self.def
            .kind
            .check(stored.trim())
            .ok()
            .and_then(|s| T::from_setting(&s))
            .is_some()
    }
}

/// A typed handle on a secret setting; read it with `Store::get_secret`.
pub struct SecretSetting {
    def: Def,
}

impl SecretSetting {
    pub(crate) const fn new(def: Def) -> Self {
        SecretSetting { def }
    }

    pub fn def(&self) -> &Def {
        &self.def
    }

    pub fn key(&self) -> &'static str {
        self.def.key
    }
}

/// A value type a setting can hold; parses a value its kind already accepted.
pub trait FromSetting: Sized {
    fn from_setting(normalized: &str) -> Option<Self>;
}

impl FromSetting for bool {
    fn from_setting(s: &str) -> Option<Self> {
        match s {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        }
    }
}

impl FromSetting for String {
    fn from_setting(s: &str) -> Option<Self> {
        Some(s.to_string())
    }
}

macro_rules! from_str_setting {
    ($($t:ty),*) => {$(
        impl FromSetting for $t {
            fn from_setting(s: &str) -> Option<Self> {
                s.parse().ok()
            }
        }
    )*};
}
from_str_setting!(u16, u32, u64, i64);

impl FromSetting for crate::CronExpr {
    fn from_setting(s: &str) -> Option<Self> {
        crate::CronExpr::parse(s).ok()
    }
}

/// Every declared setting, in form order.
pub fn all() -> &'static [&'static Def] {
    registry::ALL
}

/// The declaration of `key`, if it is a setting.
pub fn find(key: &str) -> Option<&'static Def> {
    registry::ALL.iter().copied().find(|d| d.key == key)
}

/// Why a change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingError {
    #[error("unknown setting {key:?}")]
    Unknown { key: String },
    #[error("{key}: {reason}")]
    Invalid { key: &'static str, reason: String },
}

/// A checked change of one setting, ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    def: &'static Def,
    value: ChangeValue,
}

/// What a change does to the stored value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeValue {
    /// Back to the default (the stored value is removed).
    Reset,
    /// A plain value, normalized.
    Plain(String),
    /// A secret, to be sealed.
    Secret(Secret),
    /// The mask was sent back for a secret: the stored secret is kept.
    Keep,
}

impl Change {
    pub fn def(&self) -> &'static Def {
        self.def
    }

    pub fn value(&self) -> &ChangeValue {
        &self.value
    }

    /// The value as an API returns it after the change (secrets masked).
    pub fn shown(&self) -> Option<String> {
        match &self.value {
            ChangeValue::Reset => None,
            ChangeValue::Plain(v) => Some(v.clone()),
            ChangeValue::Secret(_) => Some(crate::MASK.to_string()),
            ChangeValue::Keep => None,
        }
    }
}

/// Checks a new value for `key`; nothing is stored here.
pub fn check(key: &str, raw: &str) -> Result<Change, SettingError> {
    let def = find(key).ok_or_else(|| SettingError::Unknown {
        key: key.chars().take(100).collect(),
    })?;
    if def.is_secret() && raw == crate::MASK {
        return Ok(Change {
            def,
            value: ChangeValue::Keep,
        });
    }
    let value = match def.check(raw) {
        Ok(None) => ChangeValue::Reset,
        Ok(Some(v)) if def.is_secret() => ChangeValue::Secret(Secret::new(v)),
        Ok(Some(v)) => ChangeValue::Plain(v),
        Err(reason) => {
            return Err(SettingError::Invalid {
                key: def.key,
                reason,
            })
        }
    };
    Ok(Change { def, value })
}

/// Checks several changes at once: all of them, or the error of every refused one (a key given
/// twice is refused).
pub fn check_all<'a>(
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<Vec<Change>, Vec<SettingError>> {
    let mut ok: Vec<Change> = Vec::new();
    let mut errs = Vec::new();
    for (k, v) in pairs {
        match check(k, v) {
            Ok(c) if ok.iter().any(|o| o.def.key == c.def.key) => {
                errs.push(SettingError::Invalid {
                    key: c.def.key,
                    reason: "is given more than once".into(),
                })
            }
            Ok(c) => ok.push(c),
            Err(e) => errs.push(e),
        }
    }
    if errs.is_empty() {
        Ok(ok)
    } else {
        Err(errs)
    }
}

/// What the store holds for one setting, as read for a view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    Missing,
    Plain(String),
    /// A sealed secret (never opened for a view).
    Sealed,
}

/// A setting as an API shows it: the declaration and the value in effect, secrets masked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    pub def: &'static Def,
    /// The stored value; the mask for a set secret; empty when unset.
    pub value: String,
    /// Whether a value is stored (otherwise the default applies).
    pub is_set: bool,
}

/// The views of every setting a caller may read, given what the store holds.
pub fn views(stored: impl Fn(&str) -> Stored, superuser: bool) -> Vec<View> {
    registry::ALL
        .iter()
        .filter(|d| d.read.allows(superuser))
        .map(|d| view(d, stored(d.key)))
        .collect()
}

/// The view of one setting.
pub fn view(def: &'static Def, stored: Stored) -> View {
    let (value, is_set) = match stored {
        Stored::Missing => (String::new(), false),
        Stored::Sealed => (crate::MASK.to_string(), true),
        // A secret stored in clear by an old version is never shown either.
        Stored::Plain(v) if def.is_secret() => (
            if v.is_empty() {
                String::new()
            } else {
                crate::MASK.to_string()
            },
            !v.is_empty(),
        ),
        Stored::Plain(v) => {
            let set = !v.trim().is_empty();
            (v, set)
        }
    };
    View { def, value, is_set }
}

//! Field-level validation errors shared by every interface (CLI, GraphQL, REST, UI).

use serde::Serialize;
use std::fmt;

/// One offending field and why it was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub reason: String,
}

/// All problems found in one input object; empty means valid.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ValidationErrors(pub Vec<FieldError>);

impl ValidationErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn single(field: &str, reason: impl Into<String>) -> Self {
        let mut e = Self::new();
        e.add(field, reason);
        e
    }

    pub fn add(&mut self, field: &str, reason: impl Into<String>) {
        self.0.push(FieldError {
            field: field.to_string(),
            reason: reason.into(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(())` when nothing was added, the collected errors otherwise.
    pub fn into_result(self) -> Result<(), ValidationErrors> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self)
        }
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|e| format!("{}: {}", e.field, e.reason))
            .collect();
        write!(f, "{}", parts.join("; "))
    }
}

impl std::error::Error for ValidationErrors {}

/// Maximum length of short text fields (names, hostnames).
pub const MAX_NAME_LEN: usize = 255;

/// Checks a display name: not empty, not too long, no control characters.
pub fn check_name(errs: &mut ValidationErrors, field: &str, value: &str) {
    let v = value.trim();
    if v.is_empty() {
        errs.add(field, "must not be empty");
    } else if v.chars().count() > MAX_NAME_LEN {
        errs.add(field, format!("must be at most {MAX_NAME_LEN} characters"));
    } else if v.chars().any(char::is_control) {
        errs.add(field, "must not contain control characters");
    }
}

/// Checks a DNS hostname or IP address usable for SSH: letters, digits, `-`, `.`, `_`, `:`
/// (IPv6) only, so that no shell metacharacter can ever reach a command line.
pub fn check_hostname(errs: &mut ValidationErrors, field: &str, value: &str) {
    if let Some(why) = hostname_problem(value) {
        errs.add(field, why);
    }
}

/// Why `value` is not a usable hostname (`None` when it is).
pub fn hostname_problem(value: &str) -> Option<String> {
    if value.is_empty() {
        return Some("must not be empty".into());
    }
    if value.len() > 253 {
        return Some("must be at most 253 characters".into());
    }
    if value.starts_with('-') || value.starts_with('.') {
        return Some("must not start with '-' or '.'".into());
    }
    value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | ':')))
        .map(|c| format!("invalid character {c:?}: use letters, digits, '-', '.', '_' or ':'"))
}

/// Checks a login name given to `ssh` (`user@host`), `sudo` or `su`: letters, digits, `_`, `-`
/// and `.`, not starting with `-` (it would be read as an option).
pub fn check_user_name(errs: &mut ValidationErrors, field: &str, value: &str) {
    if let Some(why) = user_name_problem(value) {
        errs.add(field, format!("{value:?} {why}"));
    }
}

/// Why `value` is not a usable login name (`None` when it is).
pub fn user_name_problem(value: &str) -> Option<String> {
    if value.is_empty() {
        return Some("must not be empty".into());
    }
    if value.len() > 64 {
        return Some("must be at most 64 characters".into());
    }
    if value.starts_with('-') {
        return Some("must not start with '-'".into());
    }
    value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
        .map(|c| format!("has the invalid character {c:?}: use letters, digits, '_', '-' or '.'"))
}

/// Checks an absolute path on a host: starts with `/`, no NUL or newline.
pub fn check_abs_path(errs: &mut ValidationErrors, field: &str, value: &str) {
    if value.is_empty() {
        errs.add(field, "must not be empty");
    } else if !value.starts_with('/') {
        errs.add(field, "must be an absolute path starting with '/'");
    } else if value.len() > 4096 {
        errs.add(field, "must be at most 4096 characters");
    } else if value.contains(['\0', '\n', '\r']) {
        errs.add(field, "must not contain NUL or line breaks");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostname_rejects_shell_metacharacters() {
        for bad in [
            "a;b",
            "host name",
            "$(id)",
            "a`b`",
            "a|b",
            "-oProxy",
            "",
            "é.com",
        ] {
            let mut e = ValidationErrors::new();
            check_hostname(&mut e, "hostname", bad);
            assert!(!e.is_empty(), "{bad:?} accepted");
            assert_eq!(e.0[0].field, "hostname");
        }
        for good in ["localhost", "web-1.example.com", "127.0.0.2", "::1", "db_2"] {
            let mut e = ValidationErrors::new();
            check_hostname(&mut e, "hostname", good);
            assert!(e.is_empty(), "{good:?} refused: {e}");
        }
    }

    #[test]
    fn names_are_checked() {
        let mut e = ValidationErrors::new();
        check_name(&mut e, "name", "  ");
        check_name(&mut e, "name", &"x".repeat(300));
        check_name(&mut e, "name", "ok ünïcødé");
        assert_eq!(e.0.len(), 2);
    }
    #[test]
    fn user_names_never_read_as_options() {
        for bad in ["-oProxyCommand=id", "-F.x", "a b", "r;id", "$(id)", "", "é"] {
            let mut e = ValidationErrors::new();
            check_user_name(&mut e, "user", bad);
            assert!(!e.is_empty(), "{bad:?} accepted");
            assert!(e.0[0].reason.contains(&format!("{bad:?}")), "{e}");
        }
        for good in ["root", "borg", "back-up.user_1"] {
            assert_eq!(user_name_problem(good), None, "{good}");
        }
    }
}

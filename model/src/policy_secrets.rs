//! Secret values inside a policy's `extra_vars` (database passwords): masking for APIs, and the
//! split into a masked text plus a map of secrets that the store seals with the master key.

use serde_json::{Map, Value};

/// What an API returns instead of a secret value of `extra_vars` (a database password).
pub const EXTRA_VARS_MASK: &str = "$encrypted$";

/// Keys of `extra_vars` whose values are secrets.
pub const SECRET_KEYS: [&str; 1] = ["password"];

/// `extra_vars` text as an API may return it: every secret value replaced by
/// [`EXTRA_VARS_MASK`]. Text that is not a JSON object is returned unchanged.
pub fn redact_extra_vars(text: &str) -> String {
    let Ok(Value::Object(mut obj)) = serde_json::from_str::<Value>(text) else {
        return text.to_string();
    };
    let mut changed = false;
    for k in SECRET_KEYS {
        if let Some(v) = obj.get_mut(k).filter(|v| !v.is_null()) {
            *v = Value::String(EXTRA_VARS_MASK.into());
            changed = true;
        }
    }
    if changed {
        Value::Object(obj).to_string()
    } else {
        text.to_string()
    }
}

/// `extra_vars` sent back by a client after [`redact_extra_vars`]: a secret still equal to the
/// mask keeps its value from `stored`.
pub fn unredact_extra_vars(new: &str, stored: &str) -> String {
    let (Ok(Value::Object(mut obj)), Ok(Value::Object(old))) = (
        serde_json::from_str::<Value>(new),
        serde_json::from_str::<Value>(stored),
    ) else {
        return new.to_string();
    };
    let mut changed = false;
    for k in SECRET_KEYS {
        if obj.get(k).and_then(Value::as_str) == Some(EXTRA_VARS_MASK) {
            match old.get(k) {
                Some(v) => obj.insert(k.to_string(), v.clone()),
                None => obj.remove(k),
            };
            changed = true;
        }
    }
    if changed {
        Value::Object(obj).to_string()
    } else {
        new.to_string()
    }
}

/// `extra_vars` split for storage: the text with every secret masked, and the secrets.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SplitVars {
    /// The text to store in clear (secrets replaced by [`EXTRA_VARS_MASK`]).
    pub masked: String,
    /// The secret values by key, to be sealed; empty when there is none.
    pub secrets: Map<String, Value>,
}

/// Splits `extra_vars` into its masked text and its secrets (a mask is not a secret).
pub fn split_extra_vars(text: &str) -> SplitVars {
    let Ok(Value::Object(mut obj)) = serde_json::from_str::<Value>(text) else {
        return SplitVars {
            masked: text.to_string(),
            secrets: Map::new(),
        };
    };
    let mut secrets = Map::new();
    for k in SECRET_KEYS {
        let Some(v) = obj.get_mut(k) else { continue };
        if v.is_null() || v.as_str() == Some(EXTRA_VARS_MASK) {
            continue;
        }
        secrets.insert(
            k.to_string(),
            std::mem::replace(v, Value::String(EXTRA_VARS_MASK.into())),
        );
    }
    if secrets.is_empty() {
        return SplitVars {
            masked: text.to_string(),
            secrets,
        };
    }
    SplitVars {
        masked: Value::Object(obj).to_string(),
        secrets,
    }
}

/// The full `extra_vars` again: each masked secret of `masked` replaced by its value.
pub fn merge_extra_vars(masked: &str, secrets: &Map<String, Value>) -> String {
    if secrets.is_empty() {
        return masked.to_string();
    }
    let Ok(Value::Object(mut obj)) = serde_json::from_str::<Value>(masked) else {
        return masked.to_string();
    };
    for (k, v) in secrets {
        if obj.get(k).and_then(Value::as_str) == Some(EXTRA_VARS_MASK) {
            obj.insert(k.clone(), v.clone());
        }
    }
    Value::Object(obj).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted_and_restored() {
        let stored = r#"{"user":"u","password":"pw"}"#;
        let shown = redact_extra_vars(stored);
        assert!(
            !shown.contains("pw\"") && shown.contains(EXTRA_VARS_MASK),
            "{shown}"
        );
        assert_eq!(
            redact_extra_vars(r#"{"folders":["/a"]}"#),
            r#"{"folders":["/a"]}"#
        );
        let back: Value = serde_json::from_str(&unredact_extra_vars(&shown, stored)).unwrap();
        assert_eq!(back["password"], "pw");
        let changed = unredact_extra_vars(r#"{"password":"new"}"#, stored);
        assert_eq!(changed, r#"{"password":"new"}"#);
    }

    #[test]
    fn split_and_merge_round_trip() {
        let full = r#"{"user":"u","password":"s3cret","databases":["a"]}"#;
        let s = split_extra_vars(full);
        assert!(!s.masked.contains("s3cret"), "{}", s.masked);
        assert!(s.masked.contains(EXTRA_VARS_MASK));
        assert_eq!(s.secrets["password"], "s3cret");
        let back: Value = serde_json::from_str(&merge_extra_vars(&s.masked, &s.secrets)).unwrap();
        assert_eq!(back, serde_json::from_str::<Value>(full).unwrap());
        assert!(split_extra_vars(&s.masked).secrets.is_empty());
        // No secret: the text is kept as it is, even when it is not JSON.
        for t in [
            "",
            "not json",
            r#"{"folders":["/a"]}"#,
            r#"{"password":null}"#,
        ] {
            let s = split_extra_vars(t);
            assert_eq!((s.masked.as_str(), s.secrets.len()), (t, 0));
            assert_eq!(merge_extra_vars(t, &Map::new()), t);
        }
    }
}

//! Request bodies: a JSON object read field by field, with a field-level error for each value
//! of the wrong type (`{"enabled": ["Must be a valid boolean."]}`), as Django REST Framework
//! reports them. Unknown and read-only fields are ignored.

use super::error::{RestError, RestResult};
use model::ValidationErrors;
use serde_json::{Map, Value};

pub(crate) struct Fields {
    obj: Map<String, Value>,
    errs: ValidationErrors,
}

impl Fields {
    /// Parses a body; an empty body is an empty object.
    pub(crate) fn parse(body: &[u8]) -> RestResult<Fields> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Fields {
                obj: Map::new(),
                errs: ValidationErrors::new(),
            });
        }
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(obj)) => Ok(Fields {
                obj,
                errs: ValidationErrors::new(),
            }),
            Ok(_) => Err(RestError::BadRequest(
                "Invalid data. Expected a JSON object.".into(),
            )),
            Err(e) => Err(RestError::BadRequest(format!("JSON parse error - {e}"))),
        }
    }

    pub(crate) fn has(&self, key: &str) -> bool {
        self.obj.contains_key(key)
    }

    fn take(&mut self, key: &str) -> Option<Value> {
        self.obj.remove(key)
    }

    fn bad(&mut self, key: &str, reason: &str) {
        self.errs.add(key, reason);
    }

    pub(crate) fn string(&mut self, key: &str) -> Option<String> {
        match self.take(key)? {
            Value::String(s) => Some(s),
            Value::Null => {
                self.bad(key, "This field may not be null.");
                None
            }
            Value::Number(n) => Some(n.to_string()),
            _ => {
                self.bad(key, "Not a valid string.");
                None
            }
        }
    }

    pub(crate) fn boolean(&mut self, key: &str) -> Option<bool> {
        match self.take(key)? {
            Value::Bool(b) => Some(b),
            Value::String(s) if matches!(s.as_str(), "true" | "True" | "1") => Some(true),
            Value::String(s) if matches!(s.as_str(), "false" | "False" | "0") => Some(false),
            Value::Null => {
                self.bad(key, "This field may not be null.");
                None
            }
            _ => {
                self.bad(key, "Must be a valid boolean.");
                None
            }
        }
    }

    fn int_value(&mut self, key: &str, v: Value) -> Option<i64> {
        let n = match &v {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        if n.is_none() {
            self.bad(key, "A valid integer is required.");
        }
        n
    }

    pub(crate) fn int(&mut self, key: &str) -> Option<i64> {
        match self.take(key)? {
            Value::Null => {
                self.bad(key, "This field may not be null.");
                None
            }
            v => self.int_value(key, v),
        }
    }

    /// An integer that may be null: `Some(None)` for null.
    pub(crate) fn nullable_int(&mut self, key: &str) -> Option<Option<i64>> {
        match self.take(key)? {
            Value::Null => Some(None),
            v => self.int_value(key, v).map(Some),
        }
    }

    /// A list of ids (`[1, 2]`).
    pub(crate) fn ids(&mut self, key: &str) -> Option<Vec<i64>> {
        match self.take(key)? {
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for v in items {
                    out.push(self.int_value(key, v)?);
                }
                Some(out)
            }
            _ => {
                self.bad(key, "Expected a list of items.");
                None
            }
        }
    }

    /// Copy repositories: ids (`[3]`, settings kept) or objects
    /// (`[{"repository": 3, "keep_daily": 7, "offset_minutes": 60}]`), mixed as needed.
    pub(crate) fn copies(&mut self, key: &str) -> Option<Vec<model::CopyInput>> {
        let Value::Array(items) = self.take(key)? else {
            self.bad(key, "Expected a list of repository ids or copy objects.");
            return None;
        };
        let mut out = Vec::with_capacity(items.len());
        for v in items {
            let Value::Object(o) = v else {
                out.push(model::CopyInput::id(self.int_value(key, v)?));
                continue;
            };
            let int = |k: &str| o.get(k).and_then(Value::as_i64);
            let Some(repository) = int("repository") else {
                self.bad(key, "Each copy object needs an integer repository.");
                return None;
            };
            out.push(model::CopyInput {
                repository,
                settings: Some(model::CopySettings {
                    keep_hourly: int("keep_hourly"),
                    keep_daily: int("keep_daily"),
                    keep_weekly: int("keep_weekly"),
                    keep_monthly: int("keep_monthly"),
                    keep_yearly: int("keep_yearly"),
                    offset_minutes: int("offset_minutes"),
                }),
            });
        }
        Some(out)
    }

    /// JSON text: a string as is, an object or list as its JSON, null as empty.
    pub(crate) fn json_text(&mut self, key: &str) -> Option<String> {
        match self.take(key)? {
            Value::String(s) => Some(s),
            Value::Null => Some(String::new()),
            v @ (Value::Object(_) | Value::Array(_)) => Some(v.to_string()),
            _ => {
                self.bad(key, "Must be a JSON object or its text.");
                None
            }
        }
    }

    /// A role (`superuser`, `operator`, `viewer`).
    pub(crate) fn role(&mut self, key: &str) -> Option<model::Role> {
        let s = self.string(key)?;
        match s.parse() {
            Ok(r) => Some(r),
            Err(e) => {
                self.errs.add(key, e);
                None
            }
        }
    }

    /// Grants: `[{"client": 1, "restore": true}, {"policy": 2}]`, each naming exactly one of
    /// `client` and `policy`.
    pub(crate) fn grants(&mut self, key: &str) -> Option<Vec<model::Grant>> {
        let Value::Array(items) = self.take(key)? else {
            self.bad(key, "Expected a list of grants.");
            return None;
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let Value::Object(o) = item else {
                self.bad(
                    key,
                    "Each grant is an object with client or policy, and restore.",
                );
                return None;
            };
            let id = |k: &str| o.get(k).and_then(Value::as_i64);
            let scope = match (id("client"), id("policy")) {
                (Some(c), None) => model::GrantScope::Client(model::ClientId(c)),
                (None, Some(p)) => model::GrantScope::Policy(model::PolicyId(p)),
                _ => {
                    self.bad(key, "A grant names exactly one of client and policy.");
                    return None;
                }
            };
            let restore = match o.get("restore") {
                None | Some(Value::Null) => false,
                Some(Value::Bool(b)) => *b,
                Some(_) => {
                    self.bad(key, "restore must be a valid boolean.");
                    return None;
                }
            };
            out.push(model::Grant { scope, restore });
        }
        Some(out)
    }

    /// Ends reading: the type errors found, if any.
    pub(crate) fn finish(self) -> RestResult<()> {
        self.errs.into_result().map_err(RestError::Validation)
    }
}

//! The nine policy types of the original CyBorgBackup and their typed `extra_vars`.

use crate::validate::ValidationErrors;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;
use std::str::FromStr;

/// What a policy backs up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicyType {
    Rootfs,
    Vm,
    Mysql,
    Postgresql,
    Piped,
    Config,
    Mail,
    Folders,
    Proxmox,
}

impl PolicyType {
    pub const ALL: [PolicyType; 9] = [
        PolicyType::Rootfs,
        PolicyType::Vm,
        PolicyType::Mysql,
        PolicyType::Postgresql,
        PolicyType::Piped,
        PolicyType::Config,
        PolicyType::Mail,
        PolicyType::Folders,
        PolicyType::Proxmox,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PolicyType::Rootfs => "rootfs",
            PolicyType::Vm => "vm",
            PolicyType::Mysql => "mysql",
            PolicyType::Postgresql => "postgresql",
            PolicyType::Piped => "piped",
            PolicyType::Config => "config",
            PolicyType::Mail => "mail",
            PolicyType::Folders => "folders",
            PolicyType::Proxmox => "proxmox",
        }
    }

    /// Whether borg reads the data from a pipe (`borg create … -`).
    pub fn is_piped(self) -> bool {
        matches!(
            self,
            PolicyType::Vm
                | PolicyType::Mysql
                | PolicyType::Postgresql
                | PolicyType::Piped
                | PolicyType::Proxmox
        )
    }
}

impl fmt::Display for PolicyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PolicyType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PolicyType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = PolicyType::ALL.iter().map(|t| t.as_str()).collect();
                format!(
                    "unknown policy type {s:?}: expected one of {}",
                    names.join(", ")
                )
            })
    }
}

/// `extra_vars` parsed and checked for one policy type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypedVars {
    /// `/` minus pseudo file systems, plus `exclude`.
    Rootfs {
        exclude: Vec<String>,
    },
    Config,
    Mail,
    Folders {
        folders: Vec<String>,
        exclude: Vec<String>,
    },
    /// `mysqldump` of all databases, or of `databases`; `host`/`port` default to the local
    /// server's socket; the password travels as a secret, never on a command line.
    Mysql {
        user: Option<String>,
        password: Option<String>,
        databases: Vec<String>,
        host: Option<String>,
        port: Option<u16>,
    },
    Postgresql {
        database: Option<String>,
    },
    Piped {
        command: String,
    },
    /// `vzdump VMID --stdout --mode MODE` per VM id (every guest of the node when empty).
    Proxmox {
        vmids: Vec<String>,
        mode: String,
    },
    Vm,
}

fn string_list(v: &Value, field: &str, errs: &mut ValidationErrors) -> Vec<String> {
    match v {
        Value::Null => Vec::new(),
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => {
            let mut out = Vec::new();
            for (i, it) in items.iter().enumerate() {
                match it {
                    Value::String(s) => out.push(s.clone()),
                    Value::Number(n) => out.push(n.to_string()),
                    _ => errs.add(&format!("{field}[{i}]"), "must be a string"),
                }
            }
            out
        }
        _ => {
            errs.add(field, "must be a string or a list of strings");
            Vec::new()
        }
    }
}

fn opt_string(
    obj: &serde_json::Map<String, Value>,
    key: &str,
    errs: &mut ValidationErrors,
) -> Option<String> {
    match obj.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(_) => {
            errs.add(&format!("extra_vars.{key}"), "must be a string");
            None
        }
    }
}

/// A database or host name passed as an argument: never empty, never option-like.
fn check_name(value: &str, field: &str, errs: &mut ValidationErrors) {
    if value.trim().is_empty() {
        errs.add(field, "must not be empty");
    } else if value.starts_with('-') {
        errs.add(field, "must not start with '-'");
    } else if value.len() > 255 {
        errs.add(field, "must be at most 255 characters");
    } else if value.contains(['\0', '\n', '\r']) {
        errs.add(field, "must not contain NUL or line breaks");
    }
}

fn opt_port(
    obj: &serde_json::Map<String, Value>,
    key: &str,
    errs: &mut ValidationErrors,
) -> Option<u16> {
    let v = obj.get(key)?;
    let n = match v {
        Value::Null => return None,
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    match n.and_then(|n| u16::try_from(n).ok()).filter(|n| *n > 0) {
        Some(p) => Some(p),
        None => {
            errs.add(
                &format!("extra_vars.{key}"),
                "must be a port number from 1 to 65535",
            );
            None
        }
    }
}

fn check_paths(list: &[String], field: &str, errs: &mut ValidationErrors) {
    for (i, p) in list.iter().enumerate() {
        crate::validate::check_abs_path(errs, &format!("{field}[{i}]"), p);
    }
}

/// Key of `extra_vars` (any policy type): cron of the policy's own restore drills.
pub const RESTORE_TEST_CRON_KEY: &str = "restore_test_cron";

/// `extra_vars.restore_test_cron`, when present, must be a cron expression.
fn check_restore_test_cron(obj: &serde_json::Map<String, Value>, errs: &mut ValidationErrors) {
    let field = format!("extra_vars.{RESTORE_TEST_CRON_KEY}");
    match obj.get(RESTORE_TEST_CRON_KEY) {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => {
            if let Err(e) = crate::CronExpr::parse(s) {
                errs.add(&field, format!("is not a cron expression: {e}"));
            }
        }
        Some(_) => errs.add(&field, "must be a cron expression string"),
    }
}

/// The policy's own restore drill schedule (`extra_vars.restore_test_cron`), if it sets one.
pub fn restore_test_cron(extra_vars: &str) -> Option<String> {
    let v: Value = serde_json::from_str(extra_vars).ok()?;
    v.get(RESTORE_TEST_CRON_KEY)?
        .as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
}

/// Parses the `extra_vars` text of a policy (JSON object, or empty) for its type.
pub fn parse_extra_vars(
    policy_type: PolicyType,
    text: &str,
) -> Result<TypedVars, ValidationErrors> {
    let mut errs = ValidationErrors::new();
    let value: Value = if text.trim().is_empty() {
        Value::Object(Default::default())
    } else {
        match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                return Err(ValidationErrors::single(
                    "extra_vars",
                    format!("is not valid JSON: {e}"),
                ))
            }
        }
    };
    let Value::Object(obj) = value else {
        return Err(ValidationErrors::single(
            "extra_vars",
            "must be a JSON object",
        ));
    };
    let list = |key: &str, errs: &mut ValidationErrors| {
        string_list(
            obj.get(key).unwrap_or(&Value::Null),
            &format!("extra_vars.{key}"),
            errs,
        )
    };
    check_restore_test_cron(&obj, &mut errs);
    let vars = match policy_type {
        PolicyType::Rootfs => {
            let exclude = list("exclude", &mut errs);
            check_paths(&exclude, "extra_vars.exclude", &mut errs);
            TypedVars::Rootfs { exclude }
        }
        PolicyType::Config => TypedVars::Config,
        PolicyType::Mail => TypedVars::Mail,
        PolicyType::Vm => TypedVars::Vm,
        PolicyType::Folders => {
            let folders = list("folders", &mut errs);
            if folders.is_empty() && errs.is_empty() {
                errs.add(
                    "extra_vars.folders",
                    "is required for policy type folders: a list of absolute paths",
                );
            }
            check_paths(&folders, "extra_vars.folders", &mut errs);
            let exclude = list("exclude", &mut errs);
            check_paths(&exclude, "extra_vars.exclude", &mut errs);
            TypedVars::Folders { folders, exclude }
        }
        PolicyType::Mysql => {
            let mut databases = list("databases", &mut errs);
            if let Some(db) = opt_string(&obj, "database", &mut errs) {
                databases.push(db);
            }
            for (i, db) in databases.iter().enumerate() {
                check_name(db, &format!("extra_vars.databases[{i}]"), &mut errs);
            }
            let user = opt_string(&obj, "user", &mut errs);
            if let Some(u) = &user {
                check_name(u, "extra_vars.user", &mut errs);
            }
            let host = opt_string(&obj, "host", &mut errs);
            if let Some(h) = &host {
                check_name(h, "extra_vars.host", &mut errs);
            }
            TypedVars::Mysql {
                user,
                password: opt_string(&obj, "password", &mut errs),
                databases,
                host,
                port: opt_port(&obj, "port", &mut errs),
            }
        }
        PolicyType::Postgresql => {
            let database = opt_string(&obj, "database", &mut errs);
            if let Some(db) = &database {
                check_name(db, "extra_vars.database", &mut errs);
            }
            TypedVars::Postgresql { database }
        }
        PolicyType::Piped => match opt_string(&obj, "command", &mut errs) {
            Some(c) if !c.trim().is_empty() => TypedVars::Piped { command: c },
            _ => {
                errs.add(
                    "extra_vars.command",
                    "is required for policy type piped: the command whose output is backed up",
                );
                TypedVars::Piped {
                    command: String::new(),
                }
            }
        },
        PolicyType::Proxmox => {
            let mut vmids = list("vmids", &mut errs);
            vmids.extend(list("vmid", &mut errs));
            for (i, id) in vmids.iter().enumerate() {
                if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
                    errs.add(&format!("extra_vars.vmids[{i}]"), "must be a numeric VM id");
                }
            }
            let mode = opt_string(&obj, "mode", &mut errs).unwrap_or_else(|| "snapshot".into());
            if !matches!(mode.as_str(), "snapshot" | "suspend" | "stop") {
                errs.add("extra_vars.mode", "must be one of snapshot, suspend, stop");
            }
            TypedVars::Proxmox { vmids, mode }
        }
    };
    errs.into_result().map(|_| vars)
}

pub use crate::policy_secrets::{redact_extra_vars, unredact_extra_vars, EXTRA_VARS_MASK};

/// `extra_vars` keys holding commands run on a host (piped policies): shown to superusers only.
const COMMAND_KEYS: [&str; 1] = ["command"];

/// `extra_vars` text with every command value replaced by [`EXTRA_VARS_MASK`] (and secrets
/// redacted), for callers who may not read commands.
pub fn hide_extra_vars_commands(text: &str) -> String {
    let redacted = redact_extra_vars(text);
    let Ok(Value::Object(mut obj)) = serde_json::from_str::<Value>(&redacted) else {
        return redacted;
    };
    let mut changed = false;
    for k in COMMAND_KEYS {
        if let Some(v) = obj.get_mut(k).filter(|v| !v.is_null()) {
            *v = Value::String(EXTRA_VARS_MASK.into());
            changed = true;
        }
    }
    if changed {
        Value::Object(obj).to_string()
    } else {
        redacted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_requires_folders() {
        let e = parse_extra_vars(PolicyType::Folders, "").unwrap_err();
        assert_eq!(e.0[0].field, "extra_vars.folders");
        let e = parse_extra_vars(PolicyType::Folders, r#"{"folders":["relative"]}"#).unwrap_err();
        assert_eq!(e.0[0].field, "extra_vars.folders[0]");
        let ok = parse_extra_vars(
            PolicyType::Folders,
            r#"{"folders":["/srv/a; touch /tmp/pwned"]}"#,
        )
        .unwrap();
        assert_eq!(
            ok,
            TypedVars::Folders {
                folders: vec!["/srv/a; touch /tmp/pwned".into()],
                exclude: vec![]
            }
        );
    }

    #[test]
    fn bad_json_and_unknown_types() {
        assert_eq!(
            parse_extra_vars(PolicyType::Config, "{").unwrap_err().0[0].field,
            "extra_vars"
        );
        assert_eq!(
            parse_extra_vars(PolicyType::Config, "[1]").unwrap_err().0[0].field,
            "extra_vars"
        );
        assert!("floppy"
            .parse::<PolicyType>()
            .unwrap_err()
            .contains("unknown policy type"));
        assert_eq!("rootfs".parse::<PolicyType>().unwrap(), PolicyType::Rootfs);
    }

    #[test]
    fn mysql_databases_forms() {
        let v = parse_extra_vars(
            PolicyType::Mysql,
            r#"{"databases":"mydb","user":"u","password":"p"}"#,
        )
        .unwrap();
        assert_eq!(
            v,
            TypedVars::Mysql {
                user: Some("u".into()),
                password: Some("p".into()),
                databases: vec!["mydb".into()],
                host: None,
                port: None,
            }
        );
        let e = parse_extra_vars(
            PolicyType::Mysql,
            r#"{"databases":["ok","-x"],"port":70000}"#,
        )
        .unwrap_err();
        let fields: Vec<&str> = e.0.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["extra_vars.databases[1]", "extra_vars.port"]);
        let v = parse_extra_vars(PolicyType::Mysql, r#"{"host":"db1","port":"3307"}"#).unwrap();
        assert!(matches!(
            v,
            TypedVars::Mysql {
                port: Some(3307),
                ..
            }
        ));
        let v = parse_extra_vars(PolicyType::Mysql, r#"{"databases":["a","b"]}"#).unwrap();
        assert!(matches!(v, TypedVars::Mysql { databases, .. } if databases.len() == 2));
    }

    #[test]
    fn proxmox_vmids_and_mode() {
        let v = parse_extra_vars(PolicyType::Proxmox, r#"{"vmids":[100,"101"]}"#).unwrap();
        assert_eq!(
            v,
            TypedVars::Proxmox {
                vmids: vec!["100".into(), "101".into()],
                mode: "snapshot".into()
            }
        );
        let e = parse_extra_vars(PolicyType::Proxmox, r#"{"vmids":["1; reboot"],"mode":"x"}"#)
            .unwrap_err();
        let fields: Vec<&str> = e.0.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["extra_vars.vmids[0]", "extra_vars.mode"]);
    }

    #[test]
    fn restore_test_cron_is_validated_on_any_type() {
        let e = parse_extra_vars(
            PolicyType::Folders,
            r#"{"folders":["/a"],"restore_test_cron":"not cron"}"#,
        )
        .unwrap_err();
        assert_eq!(e.0[0].field, "extra_vars.restore_test_cron");
        let e = parse_extra_vars(PolicyType::Config, r#"{"restore_test_cron":5}"#).unwrap_err();
        assert_eq!(e.0[0].field, "extra_vars.restore_test_cron");
        let ok = r#"{"restore_test_cron":"0 4 * * 0"}"#;
        assert!(parse_extra_vars(PolicyType::Postgresql, ok).is_ok());
        assert_eq!(restore_test_cron(ok).as_deref(), Some("0 4 * * 0"));
        assert_eq!(restore_test_cron("{}"), None);
    }

    #[test]
    fn piped_requires_command() {
        assert_eq!(
            parse_extra_vars(PolicyType::Piped, "{}").unwrap_err().0[0].field,
            "extra_vars.command"
        );
    }
}

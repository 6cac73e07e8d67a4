//! `POST /api/v1/restore/`: queues a restore job (a restore grant on the archive's series and
//! on the target client; onto the server itself: superuser). Accepts the original's payload (`archive_name`, `destination` hostname, `dest_folder`, `item`,
//! `dry_run`, `verbosity`) and this API's (`archive` id, `paths`, `client` id,
//! `target_directory`, `overwrite`, `dry_run`); answers 201 with the job, like the original.

use super::auth::Caller;
use super::both;
use super::error::{RestError, RestResult};
use super::objects::{self, Names};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use model::{ArchiveId, ClientId, ValidationErrors};
use serde_json::{Map, Value};
use service::types::RestoreRequest;

pub(crate) fn routes(r: Router<AppState>) -> Router<AppState> {
    both(r, "/api/v1/restore", get(list).post(create))
}

/// The original answers an empty list to GET.
async fn list(_: Caller) -> Json<Value> {
    Json(Value::Array(Vec::new()))
}

/// The request read from either payload shape, with the field names the caller used.
struct Parsed {
    req: RestoreRequest,
    /// Our field name → the caller's (`paths` → `item` when the original's shape was sent).
    names: Vec<(&'static str, &'static str)>,
}

fn take_string(o: &mut Map<String, Value>, k: &str, errs: &mut ValidationErrors) -> Option<String> {
    match o.remove(k)? {
        Value::String(s) => Some(s),
        Value::Null => None,
        _ => {
            errs.add(k, "Not a valid string.");
            None
        }
    }
}

fn take_bool(o: &mut Map<String, Value>, k: &str, errs: &mut ValidationErrors) -> bool {
    match o.remove(k) {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => b,
        Some(Value::String(s)) if matches!(s.as_str(), "true" | "True" | "1") => true,
        Some(Value::String(s)) if matches!(s.as_str(), "false" | "False" | "0") => false,
        Some(_) => {
            errs.add(k, "Must be a valid boolean.");
            false
        }
    }
}

fn take_id(o: &mut Map<String, Value>, k: &str, errs: &mut ValidationErrors) -> Option<i64> {
    let v = o.remove(k)?;
    let n = match &v {
        Value::Null => return None,
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    if n.is_none() {
        errs.add(k, "A valid integer is required.");
    }
    n
}

async fn parse(st: &AppState, c: &service::Caller, body: &[u8]) -> RestResult<Parsed> {
    let mut o = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(o)) => o,
        Ok(_) => {
            return Err(RestError::BadRequest(
                "Invalid data. Expected a JSON object.".into(),
            ))
        }
        Err(e) => return Err(RestError::BadRequest(format!("JSON parse error - {e}"))),
    };
    let mut errs = ValidationErrors::new();
    let mut names = Vec::new();

    let archive = if o.contains_key("archive") {
        take_id(&mut o, "archive", &mut errs).map(ArchiveId)
    } else if let Some(name) = take_string(&mut o, "archive_name", &mut errs) {
        names.push(("archive", "archive_name"));
        let found = st.service.archive_named(c, &name).await?;
        if found.is_none() {
            errs.add("archive_name", format!("archive {name:?} does not exist"));
        }
        found.map(|a| a.id)
    } else {
        errs.add("archive", "This field is required.");
        None
    };

    let paths = if o.contains_key("paths") {
        match o.remove("paths") {
            Some(Value::Array(items)) => {
                let mut out = Vec::new();
                for v in items {
                    match v {
                        Value::String(s) => out.push(s),
                        _ => errs.add("paths", "Not a valid string."),
                    }
                }
                out
            }
            _ => {
                errs.add("paths", "Expected a list of items.");
                Vec::new()
            }
        }
    } else if let Some(item) = take_string(&mut o, "item", &mut errs) {
        names.push(("paths", "item"));
        vec![item]
    } else {
        Vec::new()
    };

    let client = if o.contains_key("client") {
        take_id(&mut o, "client", &mut errs).map(ClientId)
    } else if let Some(host) = take_string(&mut o, "destination", &mut errs) {
        names.push(("client", "destination"));
        let found = st
            .service
            .clients(c)
            .await?
            .into_iter()
            .find(|c| c.hostname == host.trim());
        if found.is_none() {
            errs.add("destination", format!("no client named {host:?}"));
        }
        found.map(|c| c.id)
    } else {
        None
    };

    let target_directory = if o.contains_key("target_directory") {
        take_string(&mut o, "target_directory", &mut errs)
    } else {
        let d = take_string(&mut o, "dest_folder", &mut errs);
        if d.is_some() {
            names.push(("target_directory", "dest_folder"));
        }
        d
    };
    let overwrite = take_bool(&mut o, "overwrite", &mut errs);
    let dry_run = take_bool(&mut o, "dry_run", &mut errs);
    errs.into_result()?;
    let Some(archive) = archive else {
        return Err(RestError::field("archive", "This field is required."));
    };
    Ok(Parsed {
        req: RestoreRequest {
            archive,
            paths,
            client,
            target_directory,
            overwrite,
            dry_run,
        },
        names,
    })
}

async fn create(
    Caller(c): Caller,
    State(st): State<AppState>,
    body: Bytes,
) -> RestResult<(StatusCode, Json<Value>)> {
    let parsed = parse(&st, &c, &body).await?;
    let job = st
        .service
        .restore(&c, parsed.req)
        .await
        .map_err(|e| e.rename_fields(&parsed.names))?;
    let id = job.id.0;
    let names = Names::load(&st, &c).await?;
    let mut out = match serde_json::to_value(objects::job(&names, job)) {
        Ok(Value::Object(m)) => m,
        Ok(_) | Err(_) => return Err(RestError::Internal("cannot serialize the job".into())),
    };
    // The original puts the new job's id first under `job`.
    out.insert("job".into(), Value::from(id));
    Ok((StatusCode::CREATED, Json(Value::Object(out))))
}

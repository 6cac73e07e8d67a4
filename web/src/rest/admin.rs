//! Instance settings and the server's SSH key, through the services (settings and key changes
//! are for superusers; anyone reads the public key).

use super::auth::Caller;
use super::body::Fields;
use super::both;
use super::error::{RestError, RestResult};
use super::objects::API;
use super::page::{Envelope, Params};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use model::settings;
use serde::Serialize;
use serde_json::{json, Value};

pub(crate) fn routes(r: Router<AppState>) -> Router<AppState> {
    let r = both(r, "/api/v1/settings", get(list_settings));
    let r = both(
        r,
        "/api/v1/settings/generate_ssh",
        get(ssh_key_status).post(generate_ssh),
    );
    let r = both(r, "/api/v1/settings/get_ssh_publickey", get(public_key));
    both(
        r,
        "/api/v1/settings/{key}",
        get(get_setting).patch(update_setting).put(update_setting),
    )
}

#[derive(Serialize)]
struct SettingOut {
    id: usize,
    #[serde(rename = "type")]
    kind: &'static str,
    url: String,
    key: String,
    value: String,
    setting_type: &'static str,
    description: String,
}

/// A setting in the original's shape; `id` is its position in the registry.
fn setting_out(v: settings::View) -> SettingOut {
    let d = v.def;
    let id = settings::all()
        .iter()
        .position(|x| x.key == d.key)
        .map_or(0, |i| i + 1);
    SettingOut {
        id,
        kind: "setting",
        url: format!("{API}/settings/{id}/"),
        key: d.key.into(),
        value: v.value,
        setting_type: match d.kind {
            settings::Kind::Bool => "boolean",
            settings::Kind::Int { .. } => "integer",
            settings::Kind::Secret => "password",
            _ => "string",
        },
        description: d.help.into(),
    }
}

async fn all_settings(st: &AppState, c: &service::Caller) -> RestResult<Vec<SettingOut>> {
    Ok(st
        .service
        .all_settings(c)
        .await?
        .into_iter()
        .map(setting_out)
        .collect())
}

/// A setting by its id (position in the registry) or key.
async fn setting(st: &AppState, c: &service::Caller, key: &str) -> RestResult<SettingOut> {
    all_settings(st, c)
        .await?
        .into_iter()
        .find(|s| s.key == key || s.id.to_string() == key)
        .ok_or(RestError::NotFound)
}

async fn list_settings(
    Caller(c): Caller,
    State(st): State<AppState>,
    p: Params,
) -> RestResult<Json<Envelope<SettingOut>>> {
    Ok(Json(p.paginate(all_settings(&st, &c).await?)?))
}

async fn get_setting(
    Caller(c): Caller,
    State(st): State<AppState>,
    Path(key): Path<String>,
) -> RestResult<Json<SettingOut>> {
    Ok(Json(setting(&st, &c, &key).await?))
}

/// `PATCH settings/<key or id>/ {"value": …}`: checked by the settings registry; an unknown
/// key is refused on `key`, a bad value on `value`, and nothing is stored.
async fn update_setting(
    Caller(c): Caller,
    State(st): State<AppState>,
    Path(key): Path<String>,
    body: Bytes,
) -> RestResult<Json<SettingOut>> {
    let mut f = Fields::parse(&body)?;
    let value = f.string("value");
    f.finish()?;
    let Some(value) = value else {
        // Who may change settings is answered before what is wrong with the request.
        st.service.all_settings(&c).await?;
        return Err(RestError::field("value", "This field is required."));
    };
    let key = match settings::all()
        .iter()
        .enumerate()
        .find(|(i, d)| d.key == key || (i + 1).to_string() == key)
    {
        Some((_, d)) => d.key.to_string(),
        None => key,
    };
    let v = st.service.update_setting(&c, &key, &value).await?;
    Ok(Json(setting_out(v)))
}

/// `GET generate_ssh/`: 200 when the server has a key, 204 when not (as the original).
async fn ssh_key_status(Caller(c): Caller, State(st): State<AppState>) -> RestResult<Response> {
    Ok(match st.service.ssh_public_key(&c).await? {
        Some(_) => Json(json!([])).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

/// `POST generate_ssh/`: a new ed25519 key; replacing an existing one needs `"force": true`.
async fn generate_ssh(
    Caller(c): Caller,
    State(st): State<AppState>,
    body: Bytes,
) -> RestResult<(StatusCode, Json<Value>)> {
    let f = Fields::parse(&body)?;
    let key = st.service.generate_ssh_key(&c, f.has("force")).await?;
    Ok((StatusCode::CREATED, Json(json!({"pubkey": key}))))
}

/// `GET get_ssh_publickey/`: the public key as a JSON string, or `[]` when there is none.
async fn public_key(Caller(c): Caller, State(st): State<AppState>) -> RestResult<Json<Value>> {
    Ok(Json(
        st.service
            .ssh_public_key(&c)
            .await?
            .map(Value::String)
            .unwrap_or_else(|| json!([])),
    ))
}

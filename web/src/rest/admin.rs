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

async fn settings(st: &AppState, c: &service::Caller) -> RestResult<Vec<SettingOut>> {
    Ok(st
        .service
        .settings(c)
        .await?
        .into_iter()
        .enumerate()
        .map(|(i, s)| SettingOut {
            id: i + 1,
            kind: "setting",
            url: format!("{API}/settings/{}/", i + 1),
            key: s.key,
            value: s.value,
            setting_type: if s.is_secret { "password" } else { "string" },
            description: s.description,
        })
        .collect())
}

/// A setting by its id (position) or key.
async fn setting(st: &AppState, c: &service::Caller, key: &str) -> RestResult<SettingOut> {
    settings(st, c)
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
    Ok(Json(p.paginate(settings(&st, &c).await?)?))
}

async fn get_setting(
    Caller(c): Caller,
    State(st): State<AppState>,
    Path(key): Path<String>,
) -> RestResult<Json<SettingOut>> {
    Ok(Json(setting(&st, &c, &key).await?))
}

async fn update_setting(
    Caller(c): Caller,
    State(st): State<AppState>,
    Path(key): Path<String>,
    body: Bytes,
) -> RestResult<Json<SettingOut>> {
    let mut f = Fields::parse(&body)?;
    let value = f.string("value");
    f.finish()?;
    let s = setting(&st, &c, &key).await?;
    let value = value.ok_or_else(|| RestError::field("value", "This field is required."))?;
    st.service.update_setting(&c, &s.key, value).await?;
    Ok(Json(setting(&st, &c, &s.key).await?))
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

//! Users (superusers manage them; anyone reads `me/`), instance settings (read and checked
//! through the typed registry, `model::settings`) and the server's SSH key.

use super::auth::{Admin, Caller};
use super::body::Fields;
use super::error::{RestError, RestResult};
use super::objects::{self, UserOut, API};
use super::page::{Envelope, Params};
use super::{both, Id};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use model::{settings, UserId};
use rand::distributions::{Alphanumeric, DistString};
use serde::Serialize;
use serde_json::{json, Value};
use store::NewUser;

pub(crate) fn routes(r: Router<AppState>) -> Router<AppState> {
    let r = both(r, "/api/v1/me", get(me));
    let r = both(r, "/api/v1/users", get(list_users).post(create_user));
    let r = both(
        r,
        "/api/v1/users/{id}",
        get(get_user)
            .patch(update_user)
            .put(update_user)
            .delete(delete_user),
    );
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

async fn me(
    Caller(u): Caller,
    State(st): State<AppState>,
    p: Params,
) -> RestResult<Json<Envelope<UserOut>>> {
    let me = objects::user(st.store.user(u.id)?);
    Ok(Json(p.paginate(vec![me])?))
}

async fn list_users(
    _: Admin,
    State(st): State<AppState>,
    p: Params,
) -> RestResult<Json<Envelope<UserOut>>> {
    let all = st.store.users()?.into_iter().map(objects::user).collect();
    Ok(Json(p.paginate(all)?))
}

/// A superuser reads anyone; other users read themselves.
async fn get_user(
    Caller(u): Caller,
    State(st): State<AppState>,
    Id(id): Id,
) -> RestResult<Json<UserOut>> {
    if !u.is_superuser && u.id.0 != id {
        return Err(RestError::Forbidden);
    }
    Ok(Json(objects::user(st.store.user(UserId(id))?)))
}

async fn create_user(
    _: Admin,
    State(st): State<AppState>,
    body: Bytes,
) -> RestResult<(StatusCode, Json<UserOut>)> {
    let mut f = Fields::parse(&body)?;
    let email = f.string("email");
    // The documented payload has no password: the account then cannot log in until one is set.
    let password = f.string("password");
    let nu = NewUser {
        email: email.unwrap_or_default().trim().to_string(),
        password: password
            .unwrap_or_else(|| Alphanumeric.sample_string(&mut rand::rngs::OsRng, 40)),
        first_name: f.string("first_name").unwrap_or_default(),
        last_name: f.string("last_name").unwrap_or_default(),
        is_superuser: f.boolean("is_superuser").unwrap_or(false),
    };
    f.finish()?;
    let u = st.store.create_user(&nu)?;
    Ok((StatusCode::CREATED, Json(objects::user(u))))
}

async fn update_user(
    _: Admin,
    State(st): State<AppState>,
    Id(id): Id,
    body: Bytes,
) -> RestResult<Json<UserOut>> {
    let mut f = Fields::parse(&body)?;
    let email = f.string("email");
    let first = f.string("first_name");
    let last = f.string("last_name");
    let superuser = f.boolean("is_superuser");
    let password = f.string("password");
    f.finish()?;
    let email = email.map(|e| e.trim().to_string());
    let u = st.store.update_user(
        UserId(id),
        email.as_deref(),
        first.as_deref(),
        last.as_deref(),
        superuser,
    )?;
    if let Some(pw) = password {
        st.store.set_password(UserId(id), &pw)?;
    }
    Ok(Json(objects::user(u)))
}

async fn delete_user(
    Admin(u): Admin,
    State(st): State<AppState>,
    Id(id): Id,
) -> RestResult<StatusCode> {
    if u.id.0 == id {
        return Err(RestError::Conflict("you cannot delete yourself".into()));
    }
    st.store.delete_user(UserId(id))?;
    Ok(StatusCode::NO_CONTENT)
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
fn setting_out(id: usize, v: settings::View) -> SettingOut {
    let d = v.def;
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

/// A setting by its id (position) or key.
fn find_setting(key: &str) -> Option<(usize, &'static settings::Def)> {
    settings::all()
        .iter()
        .enumerate()
        .find(|(i, d)| d.key == key || (i + 1).to_string() == key)
        .map(|(i, d)| (i + 1, *d))
}

async fn read_setting(
    st: &AppState,
    id: usize,
    def: &'static settings::Def,
) -> RestResult<SettingOut> {
    let store = st.store.clone();
    let v = tokio::task::spawn_blocking(move || store.setting_view(def)).await??;
    Ok(setting_out(id, v))
}

async fn list_settings(
    _: Admin,
    State(st): State<AppState>,
    p: Params,
) -> RestResult<Json<Envelope<SettingOut>>> {
    let store = st.store.clone();
    let views = tokio::task::spawn_blocking(move || store.setting_views(true)).await??;
    let all = views
        .into_iter()
        .enumerate()
        .map(|(i, v)| setting_out(i + 1, v))
        .collect();
    Ok(Json(p.paginate(all)?))
}

async fn get_setting(
    _: Admin,
    State(st): State<AppState>,
    Path(key): Path<String>,
) -> RestResult<Json<SettingOut>> {
    let (id, def) = find_setting(&key).ok_or(RestError::NotFound)?;
    Ok(Json(read_setting(&st, id, def).await?))
}

/// `PATCH settings/<key or id>/ {"value": …}`: checked by the settings registry; an unknown
/// key is refused on `key`, a bad value on `value`, and nothing is stored.
async fn update_setting(
    Admin(u): Admin,
    State(st): State<AppState>,
    Path(key): Path<String>,
    body: Bytes,
) -> RestResult<Json<SettingOut>> {
    let mut f = Fields::parse(&body)?;
    let value = f.string("value");
    f.finish()?;
    let value = value.ok_or_else(|| RestError::field("value", "This field is required."))?;
    let Some((id, def)) = find_setting(&key) else {
        return Err(RestError::field(
            "key",
            settings::SettingError::Unknown {
                key: key.chars().take(100).collect(),
            }
            .to_string(),
        ));
    };
    let change =
        settings::check(def.key, &value).map_err(|e| RestError::field("value", e.to_string()))?;
    let store = st.store.clone();
    tokio::task::spawn_blocking(move || store.apply_settings(&[change])).await??;
    tracing::info!(user = u.id.0, key = def.key, "setting changed");
    Ok(Json(read_setting(&st, id, def).await?))
}

/// The server's public key, if one was generated or imported.
async fn server_key(st: &AppState) -> RestResult<Option<String>> {
    let store = st.store.clone();
    Ok(tokio::task::spawn_blocking(move || executor::ssh::server_public_key(&store)).await??)
}

/// `GET generate_ssh/`: 200 when the server has a key, 204 when not (as the original).
async fn ssh_key_status(_: Caller, State(st): State<AppState>) -> RestResult<Response> {
    Ok(match server_key(&st).await? {
        Some(_) => Json(json!([])).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

/// `POST generate_ssh/`: a new ed25519 key; replacing an existing one needs `"force": true`.
async fn generate_ssh(
    _: Admin,
    State(st): State<AppState>,
    body: Bytes,
) -> RestResult<(StatusCode, Json<Value>)> {
    let f = Fields::parse(&body)?;
    if server_key(&st).await?.is_some() && !f.has("force") {
        return Err(RestError::Conflict(
            "the server already has an SSH key: send {\"force\": true} to replace it".into(),
        ));
    }
    let store = st.store.clone();
    let key = tokio::task::spawn_blocking(move || {
        executor::ssh::generate_server_key(&store, "cyborgbackup")
    })
    .await??;
    Ok((StatusCode::CREATED, Json(json!({"pubkey": key}))))
}

/// `GET get_ssh_publickey/`: the public key as a JSON string, or `[]` when there is none.
async fn public_key(_: Caller, State(st): State<AppState>) -> RestResult<Json<Value>> {
    Ok(Json(
        server_key(&st)
            .await?
            .map(Value::String)
            .unwrap_or_else(|| json!([])),
    ))
}

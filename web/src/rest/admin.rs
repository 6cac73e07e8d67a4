//! Users (superusers manage them; anyone reads `me/`), instance settings and the server's SSH
//! key. Settings go through the GraphQL schema so that their keys and validation live in one
//! place (`graphql::admin`).

use super::auth::{Admin, Caller, PasswordChange};
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
use model::{UserId, ValidationErrors};
use rand::distributions::{Alphanumeric, DistString};
use serde::Serialize;
use serde_json::{json, Value};
use store::{AuthUser, NewUser};

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
    Admin(me): Admin,
    change: PasswordChange,
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
    let current = f.string("current_password");
    f.finish()?;
    let email = email.map(|e| e.trim().to_string());
    if let Some(pw) = password {
        change
            .apply(&st, &me, UserId(id), current.as_deref(), pw)
            .await?;
    }
    let u = st.store.update_user(
        UserId(id),
        email.as_deref(),
        first.as_deref(),
        last.as_deref(),
        superuser,
    )?;
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

/// Runs a GraphQL operation as `user`; GraphQL errors become REST errors by their `code`.
async fn graphql(st: &AppState, user: AuthUser, query: &str, vars: Value) -> RestResult<Value> {
    let req = async_graphql::Request::new(query)
        .variables(async_graphql::Variables::from_json(vars))
        .data(user);
    let resp = serde_json::to_value(st.schema.execute(req).await)
        .map_err(|e| RestError::Internal(e.to_string()))?;
    let Some(err) = resp["errors"].get(0) else {
        return Ok(resp["data"].clone());
    };
    let ext = &err["extensions"];
    let message = err["message"].as_str().unwrap_or_default().to_string();
    Err(match ext["code"].as_str() {
        Some("VALIDATION") => {
            let mut v = ValidationErrors::new();
            for f in ext["fields"].as_array().into_iter().flatten() {
                v.add(
                    f["field"].as_str().unwrap_or("non_field_errors"),
                    f["reason"].as_str().unwrap_or_default(),
                );
            }
            RestError::Validation(v)
        }
        Some("FORBIDDEN") => RestError::Forbidden,
        Some("UNAUTHENTICATED") => {
            RestError::Unauthenticated("Authentication credentials were not provided.")
        }
        Some("NOT_FOUND") => RestError::NotFound,
        Some("CONFLICT") => RestError::Conflict(message),
        _ => RestError::Internal(message),
    })
}

async fn settings(st: &AppState, user: AuthUser) -> RestResult<Vec<SettingOut>> {
    let data = graphql(
        st,
        user,
        "{ settings { key value isSecret description } }",
        json!({}),
    )
    .await?;
    Ok(data["settings"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, s)| SettingOut {
            id: i + 1,
            kind: "setting",
            url: format!("{API}/settings/{}/", i + 1),
            key: s["key"].as_str().unwrap_or_default().into(),
            value: s["value"].as_str().unwrap_or_default().into(),
            setting_type: if s["isSecret"].as_bool() == Some(true) {
                "password"
            } else {
                "string"
            },
            description: s["description"].as_str().unwrap_or_default().into(),
        })
        .collect())
}

/// A setting by its id (position) or key.
async fn setting(st: &AppState, user: AuthUser, key: &str) -> RestResult<SettingOut> {
    settings(st, user)
        .await?
        .into_iter()
        .find(|s| s.key == key || s.id.to_string() == key)
        .ok_or(RestError::NotFound)
}

async fn list_settings(
    Admin(u): Admin,
    State(st): State<AppState>,
    p: Params,
) -> RestResult<Json<Envelope<SettingOut>>> {
    Ok(Json(p.paginate(settings(&st, u).await?)?))
}

async fn get_setting(
    Admin(u): Admin,
    State(st): State<AppState>,
    Path(key): Path<String>,
) -> RestResult<Json<SettingOut>> {
    Ok(Json(setting(&st, u, &key).await?))
}

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
    let s = setting(&st, u.clone(), &key).await?;
    graphql(
        &st,
        u.clone(),
        "mutation($k: String!, $v: String!) { updateSetting(key: $k, value: $v) { key } }",
        json!({"k": s.key, "v": value}),
    )
    .await?;
    Ok(Json(setting(&st, u, &s.key).await?))
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

//! Users: superusers manage them (with `role` and `grants` beside the original's
//! `is_superuser`); anyone reads `me/` and themselves.

use super::auth::{Addr, Caller};
use super::body::Fields;
use super::error::RestResult;
use super::objects::{self, UserOut};
use super::page::{Envelope, Params};
use super::{both, Id};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use model::UserId;
use service::{UserChange, UserSpec};

pub(crate) fn routes(r: Router<AppState>) -> Router<AppState> {
    let r = both(r, "/api/v1/me", get(me));
    let r = both(r, "/api/v1/users", get(list_users).post(create_user));
    both(
        r,
        "/api/v1/users/{id}",
        get(get_user)
            .patch(update_user)
            .put(update_user)
            .delete(delete_user),
    )
}

/// A user with their role and grants, as `caller` may read them.
async fn out(st: &AppState, caller: &service::Caller, u: model::User) -> RestResult<UserOut> {
    let access = st.service.user_access(caller, u.id).await?;
    Ok(objects::user(u, access.grants))
}

async fn me(
    Caller(c): Caller,
    State(st): State<AppState>,
    p: Params,
) -> RestResult<Json<Envelope<UserOut>>> {
    let me = st.service.me(&c).await?;
    let me = out(&st, &c, me).await?;
    Ok(Json(p.paginate(vec![me])?))
}

async fn list_users(
    Caller(c): Caller,
    State(st): State<AppState>,
    p: Params,
) -> RestResult<Json<Envelope<UserOut>>> {
    let mut all = Vec::new();
    for u in st.service.users(&c).await? {
        all.push(out(&st, &c, u).await?);
    }
    Ok(Json(p.paginate(all)?))
}

/// A superuser reads anyone; other users read themselves.
async fn get_user(
    Caller(c): Caller,
    State(st): State<AppState>,
    Id(id): Id,
) -> RestResult<Json<UserOut>> {
    let u = st.service.user(&c, UserId(id)).await?;
    Ok(Json(out(&st, &c, u).await?))
}

async fn create_user(
    Caller(c): Caller,
    State(st): State<AppState>,
    body: Bytes,
) -> RestResult<(StatusCode, Json<UserOut>)> {
    let mut f = Fields::parse(&body)?;
    let spec = UserSpec {
        email: f.string("email").unwrap_or_default(),
        // The documented payload has no password: the account then cannot log in until one
        // is set.
        password: f.string("password"),
        first_name: f.string("first_name").unwrap_or_default(),
        last_name: f.string("last_name").unwrap_or_default(),
        is_superuser: f.boolean("is_superuser"),
        role: f.role("role"),
        grants: f.grants("grants").unwrap_or_default(),
    };
    f.finish()?;
    let u = st.service.create_user(&c, spec).await?;
    Ok((StatusCode::CREATED, Json(out(&st, &c, u).await?)))
}

/// Changes a user (superuser). A `password` of your own needs `current_password` and is
/// changed alone (your other sessions and tokens end); anyone else's ends all of theirs.
async fn update_user(
    Caller(c): Caller,
    Addr(addr): Addr,
    State(st): State<AppState>,
    Id(id): Id,
    body: Bytes,
) -> RestResult<Json<UserOut>> {
    let mut f = Fields::parse(&body)?;
    let mut change = UserChange {
        email: f.string("email"),
        first_name: f.string("first_name"),
        last_name: f.string("last_name"),
        is_superuser: f.boolean("is_superuser"),
        role: f.role("role"),
        grants: f.grants("grants"),
        password: f.string("password"),
    };
    let current = f.string("current_password");
    f.finish()?;
    let id = UserId(id);
    if c.user_id() == Some(id) {
        if let Some(new) = change.password.take() {
            let pw = service::PasswordChange {
                user: id,
                new,
                current: current.as_deref(),
                current_field: "current_password",
                addr: &addr,
            };
            st.service.set_password(&c, pw).await?;
            if change == UserChange::default() {
                let u = st.service.user(&c, id).await?;
                return Ok(Json(out(&st, &c, u).await?));
            }
        }
    }
    let u = st.service.update_user(&c, id, change).await?;
    Ok(Json(out(&st, &c, u).await?))
}

async fn delete_user(
    Caller(c): Caller,
    State(st): State<AppState>,
    Id(id): Id,
) -> RestResult<StatusCode> {
    st.service.delete_user(&c, UserId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

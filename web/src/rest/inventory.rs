//! Clients, repositories and schedules: list and read for any user; create, update and delete
//! for superusers. Validation is the model's (`*Input::validate`, run by the store).

use super::auth::{Admin, Caller};
use super::body::Fields;
use super::error::RestResult;
use super::objects::{self, ClientOut, RepositoryOut, ScheduleOut};
use super::page::{Envelope, Params};
use super::{both, Id};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use model::{ClientId, RepositoryId, ScheduleId};

pub(crate) fn routes(r: Router<AppState>) -> Router<AppState> {
    let r = both(r, "/api/v1/clients", get(list_clients).post(create_client));
    let r = both(
        r,
        "/api/v1/clients/{id}",
        get(get_client)
            .patch(update_client)
            .put(update_client)
            .delete(delete_client),
    );
    let r = both(
        r,
        "/api/v1/repositories",
        get(list_repositories).post(create_repository),
    );
    let r = both(
        r,
        "/api/v1/repositories/{id}",
        get(get_repository)
            .patch(update_repository)
            .put(update_repository)
            .delete(delete_repository),
    );
    let r = both(
        r,
        "/api/v1/schedules",
        get(list_schedules).post(create_schedule),
    );
    both(
        r,
        "/api/v1/schedules/{id}",
        get(get_schedule)
            .patch(update_schedule)
            .put(update_schedule)
            .delete(delete_schedule),
    )
}

type Created<T> = RestResult<(StatusCode, Json<T>)>;

fn client_input(body: &[u8]) -> RestResult<model::ClientInput> {
    let mut f = Fields::parse(body)?;
    let input = model::ClientInput {
        hostname: f.string("hostname"),
        port: f.int("port"),
        ip: f.string("ip"),
        version: f.string("version"),
        ready: f.boolean("ready"),
        hypervisor_ready: f.boolean("hypervisor_ready"),
        hypervisor_name: f.string("hypervisor_name"),
        enabled: f.boolean("enabled"),
    };
    f.finish()?;
    Ok(input)
}

async fn list_clients(
    _: Caller,
    State(st): State<AppState>,
    p: Params,
) -> RestResult<Json<Envelope<ClientOut>>> {
    let all = st
        .store
        .clients()?
        .into_iter()
        .map(objects::client)
        .collect();
    Ok(Json(p.paginate(all)?))
}

async fn get_client(
    _: Caller,
    State(st): State<AppState>,
    Id(id): Id,
) -> RestResult<Json<ClientOut>> {
    Ok(Json(objects::client(st.store.client(ClientId(id))?)))
}

async fn create_client(
    Admin(u): Admin,
    State(st): State<AppState>,
    body: Bytes,
) -> Created<ClientOut> {
    let input = client_input(&body)?;
    let c = st.store.create_client(&input, Some(u.id))?;
    Ok((StatusCode::CREATED, Json(objects::client(c))))
}

async fn update_client(
    Admin(u): Admin,
    State(st): State<AppState>,
    Id(id): Id,
    body: Bytes,
) -> RestResult<Json<ClientOut>> {
    let input = client_input(&body)?;
    Ok(Json(objects::client(st.store.update_client(
        ClientId(id),
        &input,
        Some(u.id),
    )?)))
}

async fn delete_client(_: Admin, State(st): State<AppState>, Id(id): Id) -> RestResult<StatusCode> {
    st.store.delete_client(ClientId(id))?;
    Ok(StatusCode::NO_CONTENT)
}

fn repository_input(body: &[u8]) -> RestResult<model::RepositoryInput> {
    let mut f = Fields::parse(body)?;
    let key = f.string("repository_key");
    let input = model::RepositoryInput {
        name: f.string("name"),
        path: f.string("path"),
        // Reading a repository shows the mask; sending it back unchanged keeps the passphrase.
        repository_key: key.filter(|k| k != model::MASK),
        ready: f.boolean("ready"),
        enabled: f.boolean("enabled"),
    };
    f.finish()?;
    Ok(input)
}

async fn list_repositories(
    _: Caller,
    State(st): State<AppState>,
    p: Params,
) -> RestResult<Json<Envelope<RepositoryOut>>> {
    let all = st
        .store
        .repositories()?
        .into_iter()
        .map(|r| objects::repository(&st.store, r))
        .collect();
    Ok(Json(p.paginate(all)?))
}

async fn get_repository(
    _: Caller,
    State(st): State<AppState>,
    Id(id): Id,
) -> RestResult<Json<RepositoryOut>> {
    Ok(Json(objects::repository(
        &st.store,
        st.store.repository(RepositoryId(id))?,
    )))
}

async fn create_repository(
    Admin(u): Admin,
    State(st): State<AppState>,
    body: Bytes,
) -> Created<RepositoryOut> {
    let input = repository_input(&body)?;
    let r = st.store.create_repository(&input, Some(u.id))?;
    Ok((StatusCode::CREATED, Json(objects::repository(&st.store, r))))
}

async fn update_repository(
    Admin(u): Admin,
    State(st): State<AppState>,
    Id(id): Id,
    body: Bytes,
) -> RestResult<Json<RepositoryOut>> {
    let input = repository_input(&body)?;
    let r = st
        .store
        .update_repository(RepositoryId(id), &input, Some(u.id))?;
    Ok(Json(objects::repository(&st.store, r)))
}

async fn delete_repository(
    _: Admin,
    State(st): State<AppState>,
    Id(id): Id,
) -> RestResult<StatusCode> {
    st.store.delete_repository(RepositoryId(id))?;
    Ok(StatusCode::NO_CONTENT)
}

fn schedule_input(body: &[u8]) -> RestResult<model::ScheduleInput> {
    let mut f = Fields::parse(body)?;
    let input = model::ScheduleInput {
        name: f.string("name"),
        crontab: f.string("crontab"),
        enabled: f.boolean("enabled"),
    };
    f.finish()?;
    Ok(input)
}

async fn list_schedules(
    _: Caller,
    State(st): State<AppState>,
    p: Params,
) -> RestResult<Json<Envelope<ScheduleOut>>> {
    let all = st
        .store
        .schedules()?
        .into_iter()
        .map(objects::schedule)
        .collect();
    Ok(Json(p.paginate(all)?))
}

async fn get_schedule(
    _: Caller,
    State(st): State<AppState>,
    Id(id): Id,
) -> RestResult<Json<ScheduleOut>> {
    Ok(Json(objects::schedule(st.store.schedule(ScheduleId(id))?)))
}

async fn create_schedule(
    Admin(u): Admin,
    State(st): State<AppState>,
    body: Bytes,
) -> Created<ScheduleOut> {
    let input = schedule_input(&body)?;
    let s = st.store.create_schedule(&input, Some(u.id))?;
    Ok((StatusCode::CREATED, Json(objects::schedule(s))))
}

async fn update_schedule(
    Admin(u): Admin,
    State(st): State<AppState>,
    Id(id): Id,
    body: Bytes,
) -> RestResult<Json<ScheduleOut>> {
    let input = schedule_input(&body)?;
    Ok(Json(objects::schedule(st.store.update_schedule(
        ScheduleId(id),
        &input,
        Some(u.id),
    )?)))
}

async fn delete_schedule(
    _: Admin,
    State(st): State<AppState>,
    Id(id): Id,
) -> RestResult<StatusCode> {
    st.store.delete_schedule(ScheduleId(id))?;
    Ok(StatusCode::NO_CONTENT)
}

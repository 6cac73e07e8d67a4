//! Clients, repositories and schedules: list and read what the caller's grants reach; create,
//! update and delete for superusers (the services decide). Validation is the model's.

use super::auth::Caller;
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
    Caller(c): Caller,
    State(st): State<AppState>,
    p: Params,
) -> RestResult<Json<Envelope<ClientOut>>> {
    let all = st
        .service
        .clients(&c)
        .await?
        .into_iter()
        .map(objects::client)
        .collect();
    Ok(Json(p.paginate(all)?))
}

async fn get_client(
    Caller(c): Caller,
    State(st): State<AppState>,
    Id(id): Id,
) -> RestResult<Json<ClientOut>> {
    Ok(Json(objects::client(
        st.service.client(&c, ClientId(id)).await?,
    )))
}

async fn create_client(
    Caller(c): Caller,
    State(st): State<AppState>,
    body: Bytes,
) -> Created<ClientOut> {
    let input = client_input(&body)?;
    let c = st.service.create_client(&c, input).await?;
    Ok((StatusCode::CREATED, Json(objects::client(c))))
}

async fn update_client(
    Caller(c): Caller,
    State(st): State<AppState>,
    Id(id): Id,
    body: Bytes,
) -> RestResult<Json<ClientOut>> {
    let input = client_input(&body)?;
    Ok(Json(objects::client(
        st.service.update_client(&c, ClientId(id), input).await?,
    )))
}

async fn delete_client(
    Caller(c): Caller,
    State(st): State<AppState>,
    Id(id): Id,
) -> RestResult<StatusCode> {
    st.service.delete_client(&c, ClientId(id)).await?;
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
        check_cron: f.string("check_cron"),
    };
    f.finish()?;
    Ok(input)
}

async fn list_repositories(
    Caller(c): Caller,
    State(st): State<AppState>,
    p: Params,
) -> RestResult<Json<Envelope<RepositoryOut>>> {
    let repos = st.service.repositories(&c).await?;
    let ids = repos.iter().map(|r| r.id).collect();
    let mut security = st.service.repositories_security(&c, ids).await?;
    let all = repos
        .into_iter()
        .map(|r| {
            let s = security.remove(&r.id);
            objects::repository(r, s)
        })
        .collect();
    Ok(Json(p.paginate(all)?))
}

async fn get_repository(
    Caller(c): Caller,
    State(st): State<AppState>,
    Id(id): Id,
) -> RestResult<Json<RepositoryOut>> {
    Ok(Json(objects::repository(
        st.service.repository(&c, RepositoryId(id)).await?,
        Some(st.service.repository_security(&c, RepositoryId(id)).await?),
    )))
}

async fn create_repository(
    Caller(c): Caller,
    State(st): State<AppState>,
    body: Bytes,
) -> Created<RepositoryOut> {
    let input = repository_input(&body)?;
    let r = st.service.create_repository(&c, input).await?;
    let security = st.service.repository_security(&c, r.id).await?;
    Ok((
        StatusCode::CREATED,
        Json(objects::repository(r, Some(security))),
    ))
}

async fn update_repository(
    Caller(c): Caller,
    State(st): State<AppState>,
    Id(id): Id,
    body: Bytes,
) -> RestResult<Json<RepositoryOut>> {
    let input = repository_input(&body)?;
    let r = st
        .service
        .update_repository(&c, RepositoryId(id), input)
        .await?;
    let security = st.service.repository_security(&c, r.id).await?;
    Ok(Json(objects::repository(r, Some(security))))
}

async fn delete_repository(
    Caller(c): Caller,
    State(st): State<AppState>,
    Id(id): Id,
) -> RestResult<StatusCode> {
    st.service.delete_repository(&c, RepositoryId(id)).await?;
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
    Caller(c): Caller,
    State(st): State<AppState>,
    p: Params,
) -> RestResult<Json<Envelope<ScheduleOut>>> {
    let all = st
        .service
        .schedules(&c)
        .await?
        .into_iter()
        .map(objects::schedule)
        .collect();
    Ok(Json(p.paginate(all)?))
}

async fn get_schedule(
    Caller(c): Caller,
    State(st): State<AppState>,
    Id(id): Id,
) -> RestResult<Json<ScheduleOut>> {
    Ok(Json(objects::schedule(
        st.service.schedule(&c, ScheduleId(id)).await?,
    )))
}

async fn create_schedule(
    Caller(c): Caller,
    State(st): State<AppState>,
    body: Bytes,
) -> Created<ScheduleOut> {
    let input = schedule_input(&body)?;
    let s = st.service.create_schedule(&c, input).await?;
    Ok((StatusCode::CREATED, Json(objects::schedule(s))))
}

async fn update_schedule(
    Caller(c): Caller,
    State(st): State<AppState>,
    Id(id): Id,
    body: Bytes,
) -> RestResult<Json<ScheduleOut>> {
    let input = schedule_input(&body)?;
    Ok(Json(objects::schedule(
        st.service
            .update_schedule(&c, ScheduleId(id), input)
            .await?,
    )))
}

async fn delete_schedule(
    Caller(c): Caller,
    State(st): State<AppState>,
    Id(id): Id,
) -> RestResult<StatusCode> {
    st.service.delete_schedule(&c, ScheduleId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

//! `POST /graphql`: the body is read only up to [`crate::BODY_LIMIT`] (413 beyond, refused from
//! its `Content-Length` before reading a byte when it declares more), one operation per request
//! (batches are refused), the bearer token becomes the caller, and the client address and the
//! password checker travel with the request for `login`. A rate-limited login answers 429 with
//! `Retry-After`.

use crate::rest::limit::ClientAddr;
use crate::{AppState, BODY_LIMIT};
use async_graphql_axum::GraphQLResponse;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use http_body_util::{BodyExt, LengthLimitError, Limited};

/// A GraphQL error response with an HTTP status.
fn refusal(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({
        "data": null,
        "errors": [{"message": message, "extensions": {"code": code}}],
    });
    (status, Json(body)).into_response()
}

fn too_large() -> Response {
    refusal(
        StatusCode::PAYLOAD_TOO_LARGE,
        "PAYLOAD_TOO_LARGE",
        &format!("the request body exceeds {BODY_LIMIT} bytes"),
    )
}

/// Reads the body up to the limit; `Err(response)` when it is too large or cannot be read.
async fn read_body(headers: &HeaderMap, body: Body) -> Result<Bytes, Response> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > BODY_LIMIT as u64) {
        return Err(too_large());
    }
    match Limited::new(body, BODY_LIMIT).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.is::<LengthLimitError>() => Err(too_large()),
        Err(e) => Err(refusal(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            &format!("cannot read the request body: {e}"),
        )),
    }
}

pub(crate) async fn handler(
    State(st): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let bytes = match read_body(&headers, body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut req = match serde_json::from_slice::<async_graphql::BatchRequest>(&bytes) {
        Ok(async_graphql::BatchRequest::Single(r)) => r,
        Ok(async_graphql::BatchRequest::Batch(_)) => {
            return refusal(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                "batched requests are not supported: send one operation per request",
            )
        }
        Err(e) => {
            return refusal(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                &format!("the body is not a GraphQL request (JSON with a query): {e}"),
            )
        }
    };
    let (who, user) = crate::caller(&st, &headers).await;
    req = req.data(who);
    if let Some(u) = user {
        req = req.data(u);
    }
    req = req.data(graphql::LoginContext { client_addr: addr });
    let resp = st.schema.execute(req).await;
    let retry_after = resp.errors.iter().find_map(|e| {
        let ext = e.extensions.as_ref()?;
        match (ext.get("code"), ext.get("retryAfter")) {
            (Some(async_graphql::Value::String(c)), Some(async_graphql::Value::Number(n)))
                if c == "RATE_LIMITED" =>
            {
                n.as_u64()
            }
            _ => None,
        }
    });
    let mut r = GraphQLResponse::from(resp).into_response();
    if let Some(secs) = retry_after {
        *r.status_mut() = StatusCode::TOO_MANY_REQUESTS;
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    r
}

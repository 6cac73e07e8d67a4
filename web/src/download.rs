//! `GET /download/<ticket>`: streams a restore download (a file's bytes or a tar) from the
//! repository host straight into the response body. The ticket, issued by the `restoreDownload`
//! mutation, is the credential (browser links carry no header); when a token is sent anyway it
//! must be the ticket owner's. A borg failure before the first byte is a 502 with borg's message.

use crate::rest::auth::MaybeCaller;
use crate::rest::error::{RestError, RestResult};
use crate::AppState;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/download/{ticket}", get(download))
}

/// `attachment; filename="…"; filename*=UTF-8''…` with an ASCII fallback.
fn disposition(filename: &str) -> String {
    let ascii: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && !matches!(c, '"' | '\\' | '/' | ';') || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::new();
    for b in filename.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

async fn download(
    State(st): State<AppState>,
    Path(ticket): Path<String>,
    MaybeCaller(caller): MaybeCaller,
) -> RestResult<Response> {
    if ticket.len() != 64 || !ticket.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(RestError::NotFound);
    }
    let d = st
        .service
        .open_download(&ticket, &caller)
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "download refused");
            e
        })?;
    let mut resp = Body::from_stream(d.body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(d.kind.content_type()),
    );
    if let Ok(v) = HeaderValue::from_str(&disposition(&d.filename)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::disposition;

    #[test]
    fn file_names_are_quoted_safely() {
        assert_eq!(
            disposition("report.csv"),
            "attachment; filename=\"report.csv\"; filename*=UTF-8''report.csv"
        );
        let d = disposition("a\"b é.txt");
        assert!(d.starts_with("attachment; filename=\"a_b _.txt\""), "{d}");
        assert!(d.ends_with("a%22b%20%C3%A9.txt"), "{d}");
    }
}

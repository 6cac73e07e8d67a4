//! The web UI: hand-written HTML, CSS and ES modules from `web/ui/`, embedded in the binary and
//! served at `/` (the single-page shell) and `/ui/{path}` (assets), with content types, an
//! `ETag` per asset and revalidation so a new binary never serves a stale script.

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::sync::OnceLock;

/// One embedded file.
struct Asset {
    path: &'static str,
    body: &'static [u8],
}

macro_rules! assets {
    ($($path:literal),* $(,)?) => {
        &[$(Asset { path: $path, body: include_bytes!(concat!("../ui/", $path)) }),*]
    };
}

/// Every file of the UI, by its path under `/ui/`.
static ASSETS: &[Asset] = assets![
    "index.html",
    "app.css",
    "favicon.svg",
    "js/app.js",
    "js/api.js",
    "js/dom.js",
    "js/format.js",
    "js/forms.js",
    "js/pages/dashboard.js",
    "js/pages/inventory.js",
    "js/pages/policies.js",
    "js/pages/jobs.js",
    "js/pages/catalog.js",
    "js/pages/restore.js",
    "js/pages/stats.js",
    "js/pages/settings.js",
    "js/pages/hostkeys.js",
    "js/pages/vmproviders.js",
    "js/pages/cluster.js",
    "js/pages/drills.js",
    "js/pages/health.js",
    "js/pages/setup.js",
    "js/pages/settingsform.js",
];

pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(shell))
        .route("/ui", get(shell))
        .route("/ui/", get(shell))
        .route("/ui/{*path}", get(asset))
}

/// The content type of a file name.
fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, e)| e) {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

/// A strong validator of a body (FNV-1a, 64 bits): stable for one binary, changes with it.
fn etag(body: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in body {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("\"{h:016x}\"")
}

/// The ETags of the assets, computed once.
fn etags() -> &'static [String] {
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    TAGS.get_or_init(|| ASSETS.iter().map(|a| etag(a.body)).collect())
}

fn find(path: &str) -> Option<(usize, &'static Asset)> {
    ASSETS.iter().enumerate().find(|(_, a)| a.path == path)
}

fn serve(path: &str, headers: &HeaderMap) -> Response {
    let Some((i, a)) = find(path) else {
        return (StatusCode::NOT_FOUND, "no such file").into_response();
    };
    let tag = &etags()[i];
    let tag_value = HeaderValue::from_str(tag).unwrap_or(HeaderValue::from_static("\"0\""));
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag));
    // Revalidate every time (cheap: a 304 without a body); the ETag changes with the binary.
    let common = [
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (header::ETAG, tag_value),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
    ];
    if fresh {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    let mut r = (common, a.body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(a.path)),
    );
    if a.path.ends_with(".html") {
        r.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; \
                 connect-src 'self' ws: wss:; frame-ancestors 'none'",
            ),
        );
    }
    r
}

async fn shell(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    serve(&path, &headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every relative module import of every script names an embedded file.
    #[test]
    fn every_import_is_embedded() {
        for a in ASSETS.iter().filter(|a| a.path.ends_with(".js")) {
            let text = std::str::from_utf8(a.body).expect("utf-8 script");
            let dir = a.path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
            for line in text.lines() {
                let Some(rest) = line.split(" from '").nth(1) else {
                    continue;
                };
                let Some(rel) = rest.split('\'').next() else {
                    continue;
                };
                let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
                for seg in rel.split('/') {
                    match seg {
                        "." => {}
                        ".." => {
                            parts.pop();
                        }
                        s => parts.push(s),
                    }
                }
                let target = parts.join("/");
                assert!(
                    find(&target).is_some(),
                    "{} imports {rel} ({target}), which is not embedded",
                    a.path
                );
            }
        }
    }

    #[test]
    fn types_and_validators() {
        assert_eq!(content_type("js/app.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("app.css"), "text/css; charset=utf-8");
        assert_ne!(etag(b"a"), etag(b"b"));
        let mut h = HeaderMap::new();
        assert_eq!(serve("app.css", &h).status(), StatusCode::OK);
        h.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_str(&etags()[1]).expect("tag"),
        );
        assert_eq!(serve("app.css", &h).status(), StatusCode::NOT_MODIFIED);
        assert_eq!(serve("../Cargo.toml", &h).status(), StatusCode::NOT_FOUND);
    }
}

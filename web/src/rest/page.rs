//! Query parameters and the list envelope `{count, next, previous, results}` with
//! `page` / `page_size` pagination; `next` and `previous` are URLs keeping the other filters.

use super::error::{RestError, RestResult};
use crate::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::Serialize;

/// Items per page unless `page_size` says otherwise.
pub(crate) const DEFAULT_PAGE_SIZE: usize = 25;
/// Largest accepted `page_size`.
pub(crate) const MAX_PAGE_SIZE: usize = 200;

/// The request path and its decoded query parameters.
pub(crate) struct Params {
    path: String,
    pairs: Vec<(String, String)>,
}

impl FromRequestParts<AppState> for Params {
    type Rejection = RestError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, RestError> {
        let pairs = form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        Ok(Params {
            path: parts.uri.path().to_string(),
            pairs,
        })
    }
}

/// One page: 1-based number and size.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Page {
    pub number: usize,
    pub size: usize,
}

impl Page {
    pub(crate) fn offset(&self) -> usize {
        (self.number - 1) * self.size
    }
}

impl Params {
    /// A non-empty parameter.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// A whole-number parameter, or a 400 naming it.
    pub(crate) fn int(&self, key: &str) -> RestResult<Option<i64>> {
        self.get(key)
            .map(|v| {
                v.trim()
                    .parse()
                    .map_err(|_| RestError::field(key, "A valid integer is required."))
            })
            .transpose()
    }

    /// `page` and `page_size`; an invalid page is a 404 as in DRF.
    pub(crate) fn page(&self) -> RestResult<Page> {
        let number = match self.get("page") {
            None => 1,
            Some(p) => p
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or(RestError::NotFound)?,
        };
        let size = match self.get("page_size") {
            None => DEFAULT_PAGE_SIZE,
            Some(s) => s
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| {
                    RestError::field("page_size", "A valid positive integer is required.")
                })?
                .min(MAX_PAGE_SIZE),
        };
        if number > 1_000_000 {
            return Err(RestError::NotFound);
        }
        Ok(Page { number, size })
    }

    fn url_for_page(&self, number: usize) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in self.pairs.iter().filter(|(k, _)| k != "page") {
            s.append_pair(k, v);
        }
        if number > 1 {
            s.append_pair("page", &number.to_string());
        }
        let q = s.finish();
        if q.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{q}", self.path)
        }
    }

    /// The envelope of one page of `count` items; a page past the end is a 404.
    pub(crate) fn envelope<T: Serialize>(
        &self,
        page: Page,
        count: usize,
        results: Vec<T>,
    ) -> RestResult<Envelope<T>> {
        if page.number > 1 && page.offset() >= count {
            return Err(RestError::NotFound);
        }
        Ok(Envelope {
            count,
            next: (page.offset() + page.size < count).then(|| self.url_for_page(page.number + 1)),
            previous: (page.number > 1).then(|| self.url_for_page(page.number - 1)),
            results,
        })
    }

    /// Pages a complete list.
    pub(crate) fn paginate<T: Serialize>(&self, all: Vec<T>) -> RestResult<Envelope<T>> {
        let page = self.page()?;
        let count = all.len();
        let results = all
            .into_iter()
            .skip(page.offset())
            .take(page.size)
            .collect();
        self.envelope(page, count, results)
    }
}

#[derive(Serialize)]
pub(crate) struct Envelope<T> {
    pub count: usize,
    pub next: Option<String>,
    pub previous: Option<String>,
    pub results: Vec<T>,
}

//! Cursor connections for every list: `totalCount`, `pageInfo { hasNextPage endCursor }` and
//! `nodes`. A cursor is opaque (base64 of JSON naming the ordering, the last row's sort key and
//! id), so it stays valid when rows are added and is refused under another ordering.

use crate::drills::RestoreTest;
use crate::errors::ApiError;
use crate::objects::{ApiToken, Archive, Client, Job, Policy, Repository, Schedule, User};
use crate::vm::VmProvider;
use async_graphql::connection::{CursorType, OpaqueCursor};
use async_graphql::{OutputType, SimpleObject};
use serde::{Deserialize, Serialize};
use store::{Cursor, Page, PageRequest, SortKey, MAX_PAGE};

/// Where a page ends and whether more follow.
#[derive(SimpleObject, Clone, Debug)]
pub struct PageInfo {
    /// Whether another page follows (pass `endCursor` as `after`).
    pub has_next_page: bool,
    /// Whether this page started after a cursor.
    pub has_previous_page: bool,
    /// The cursor of the last node; null on an empty page.
    pub end_cursor: Option<String>,
}

/// One page of a list.
#[derive(SimpleObject)]
#[graphql(
    concrete(name = "UserConnection", params(User)),
    concrete(name = "ApiTokenConnection", params(ApiToken)),
    concrete(name = "ClientConnection", params(Client)),
    concrete(name = "RepositoryConnection", params(Repository)),
    concrete(name = "ScheduleConnection", params(Schedule)),
    concrete(name = "PolicyConnection", params(Policy)),
    concrete(name = "JobConnection", params(Job)),
    concrete(name = "ArchiveConnection", params(Archive)),
    concrete(name = "VmProviderConnection", params(VmProvider)),
    concrete(name = "RestoreTestConnection", params(RestoreTest))
)]
pub struct Connection<T: OutputType> {
    /// Every node matching the filters, over all pages.
    pub total_count: i64,
    pub page_info: PageInfo,
    pub nodes: Vec<T>,
}

#[derive(Serialize, Deserialize)]
struct Token {
    /// The ordering the cursor belongs to.
    o: String,
    k: SortKey,
    i: i64,
}

/// The page a list query asks for: `first` in 1..=500, `after` a cursor of the same ordering;
/// otherwise a `VALIDATION` error on `first` or `after`.
pub(crate) fn page_request(
    first: Option<i32>,
    after: Option<&str>,
    order: &impl std::fmt::Debug,
) -> Result<PageRequest, ApiError> {
    let first = i64::from(first.unwrap_or(50));
    if !(1..=MAX_PAGE).contains(&first) {
        return Err(ApiError::field(
            "first",
            format!("must be between 1 and {MAX_PAGE}"),
        ));
    }
    let after = match after {
        None => None,
        Some(s) => {
            let bad =
                || ApiError::field("after", "not a cursor of this list: use pageInfo.endCursor");
            let t = OpaqueCursor::<Token>::decode_cursor(s)
                .map_err(|_| bad())?
                .0;
            if t.o != order_name(order) {
                return Err(ApiError::field(
                    "after",
                    "the cursor belongs to another orderBy: restart from the first page",
                ));
            }
            Some(Cursor { key: t.k, id: t.i })
        }
    };
    Ok(PageRequest { first, after })
}

fn order_name(order: &impl std::fmt::Debug) -> String {
    format!("{order:?}")
}

/// The connection of a store page, converting nodes.
pub(crate) fn connection<S, T: OutputType>(
    page: Page<S>,
    req: &PageRequest,
    order: &impl std::fmt::Debug,
    node: impl FnMut(S) -> T,
) -> Connection<T> {
    let end_cursor = page.end_cursor.as_ref().map(|c| {
        OpaqueCursor(Token {
            o: order_name(order),
            k: c.key.clone(),
            i: c.id,
        })
        .encode_cursor()
    });
    Connection {
        total_count: page.total_count,
        page_info: PageInfo {
            has_next_page: page.has_next_page,
            has_previous_page: req.after.is_some(),
            end_cursor,
        },
        nodes: page.items.into_iter().map(node).collect(),
    }
}

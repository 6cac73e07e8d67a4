//! Catalog searches sorted by path or by size: every match is collected (up to
//! `SORT_LIMIT`), sorted, and paged by offset (`o<offset>` cursors).

use crate::collect::Keep;
use crate::error::CatalogError;
use crate::query::{classify, combine, filter_clauses, text_plan, TextForm};
use crate::search::membership;
use crate::types::{SearchOrder, SearchPage, SearchQuery, SORT_LIMIT};
use crate::Catalog;
use std::cmp::Reverse;

fn parse_offset(c: &str) -> Result<usize, CatalogError> {
    c.strip_prefix('o')
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| CatalogError::InvalidQuery(format!("bad cursor {c:?}")))
}

impl Catalog {
    /// A page of a search sorted by `q.order` (path or size), `limit` hits from the cursor.
    pub(crate) fn search_sorted(
        &self,
        q: &SearchQuery,
        limit: usize,
    ) -> Result<SearchPage, CatalogError> {
        let offset = q
            .cursor
            .as_deref()
            .map(parse_offset)
            .transpose()?
            .unwrap_or(0);
        let snap = self.snap();
        let Some(member) = membership(&snap, q) else {
            return Ok(SearchPage {
                total: 0,
                hits: Vec::new(),
                next_cursor: None,
            });
        };
        let searcher = self.inner.reader.searcher();
        let f = &self.inner.fields;
        let form = classify(&q.text);
        let run = |as_prefix: bool| -> Result<_, CatalogError> {
            let (tq, confirm) = text_plan(f, &form, as_prefix);
            let query = combine(tq, filter_clauses(f, q)?);
            // Counted first: a search too large to sort is refused before its paths are read.
            let counted = self.collect(
                &searcher,
                query.as_ref(),
                &member,
                confirm.clone(),
                Keep::Newest {
                    limit: 0,
                    before: None,
                },
            )?;
            if counted.total > SORT_LIMIT {
                return Err(CatalogError::InvalidQuery(format!(
                    "{} matches are too many to sort (at most {SORT_LIMIT}): narrow the search with filters, or list newest first",
                    counted.total
                )));
            }
            self.collect(&searcher, query.as_ref(), &member, confirm, Keep::All)
        };
        let mut got = run(false)?;
        if matches!(form, TextForm::Exact(_)) && got.total == 0 {
            got = run(true)?;
        }
        let mut found = got.found;
        match q.order {
            SearchOrder::Largest => {
                let mut sized = Vec::with_capacity(found.len());
                for x in found {
                    let seg = searcher.segment_reader(x.addr.segment_ord);
                    let size = seg
                        .fast_fields()
                        .u64("size")?
                        .first(x.addr.doc_id)
                        .unwrap_or(0);
                    sized.push((size, x));
                }
                sized.sort_by_key(|(size, x)| (Reverse(*size), Reverse(x.vid)));
                found = sized.into_iter().map(|(_, x)| x).collect();
            }
            _ => found.sort_by(|a, b| a.path.cmp(&b.path).then(b.vid.cmp(&a.vid))),
        }
        let total = found.len();
        let page: Vec<_> = found.into_iter().skip(offset).take(limit).collect();
        let next = offset + page.len();
        let mut hits = Vec::with_capacity(page.len());
        for x in &page {
            if let Some(h) = self.version_hit(&snap, &searcher, x.addr)? {
                hits.push(h);
            }
        }
        Ok(SearchPage {
            total: got.total,
            hits,
            next_cursor: (next < total).then(|| format!("o{next}")),
        })
    }
}

//! Search over the catalog and building version hits (with their archive membership).

use crate::collect::{Collected, Keep, Membership, VersionCollector};
use crate::error::CatalogError;
use crate::listing::{micros_to_time, name_of};
use crate::query::{classify, combine, filter_clauses, name_tiers, text_plan, Confirm, TextForm};
use crate::state::Snapshot;
use crate::types::{ArchiveBrief, BrowsePage, SearchOrder, SearchPage, SearchQuery, VersionHit};
use crate::Catalog;
use model::{ArchiveId, ClientId, PolicyId, RepositoryId, SeriesKey};
use std::sync::Arc;
use tantivy::query::{Query, TermQuery};
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::{DocAddress, Searcher, TantivyDocument, Term};

const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 1000;

fn parse_cursor(c: &str) -> Result<u32, CatalogError> {
    c.strip_prefix('v')
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| CatalogError::InvalidQuery(format!("bad cursor {c:?}")))
}

/// A cursor of a ranked search: `v<vid>` inside the first rank, `w<vid>` inside the second.
fn parse_ranked_cursor(c: &str) -> Result<(u8, u32), CatalogError> {
    match c.strip_prefix('w') {
        Some(n) => n
            .parse()
            .map(|v| (1, v))
            .map_err(|_| CatalogError::InvalidQuery(format!("bad cursor {c:?}"))),
        None => parse_cursor(c).map(|v| (0, v)),
    }
}

/// The version sets a hit of `q` must belong to; None when its archive is unknown.
pub(crate) fn membership(snap: &Snapshot, q: &SearchQuery) -> Option<Arc<Membership>> {
    let mut require = Vec::new();
    if let Some(a) = q.archive {
        require.push(snap.archives.get(&a)?.bitmap.clone());
    }
    if q.latest_only {
        require.push(snap.latest.clone());
    }
    Some(Arc::new(Membership {
        live: snap.live.clone(),
        require,
    }))
}

impl Catalog {
    /// Searches versions, newest first. See `SearchQuery` for the text forms. A name search
    /// whose text has punctuation or spaces lists the names containing it as typed first.
    pub fn search(&self, q: &SearchQuery) -> Result<SearchPage, CatalogError> {
        let limit = match q.limit {
            0 => DEFAULT_LIMIT,
            n => n.min(MAX_LIMIT),
        };
        if q.order != SearchOrder::Newest {
            return self.search_sorted(q, limit);
        }
        if let TextForm::Name(t) = classify(&q.text) {
            if let Some(tiers) = name_tiers(&self.inner.fields, &t) {
                return self.search_ranked(q, limit, tiers);
            }
        }
        let before = q.cursor.as_deref().map(parse_cursor).transpose()?;
        let snap = self.snap();
        let Some(member) = membership(&snap, q) else {
            return Ok(SearchPage {
                total: 0,
                hits: Vec::new(),
                next_cursor: None,
            });
        };
        let searcher = self.inner.reader.searcher();
        let form = classify(&q.text);
        let keep = Keep::Newest {
            limit: limit + 1,
            before,
        };
        let f = &self.inner.fields;
        let run = |as_prefix: bool| -> Result<Collected, CatalogError> {
            let (tq, confirm) = text_plan(f, &form, as_prefix);
            let query = combine(tq, filter_clauses(f, q)?);
            self.collect(&searcher, query.as_ref(), &member, confirm, keep)
        };
        let mut got = run(false)?;
        if matches!(form, TextForm::Exact(_)) && got.total == 0 {
            got = run(true)?;
        }
        let more = got.found.len() > limit;
        got.found.truncate(limit);
        let next_cursor = if more {
            got.found.last().map(|f| format!("v{}", f.vid))
        } else {
            None
        };
        let mut hits = Vec::with_capacity(got.found.len());
        for found in &got.found {
            if let Some(h) = self.version_hit(&snap, &searcher, found.addr)? {
                hits.push(h);
            }
        }
        Ok(SearchPage {
            total: got.total,
            hits,
            next_cursor,
        })
    }

    /// A search in two ranks (see `query::name_tiers`), each newest first.
    fn search_ranked(
        &self,
        q: &SearchQuery,
        limit: usize,
        (literal, rest): (Box<dyn Query>, Box<dyn Query>),
    ) -> Result<SearchPage, CatalogError> {
        let (rank, before) = match q.cursor.as_deref().map(parse_ranked_cursor).transpose()? {
            Some((r, v)) => (r, Some(v)),
            None => (0, None),
        };
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
        let run = |text: Box<dyn Query>, keep: Keep| -> Result<Collected, CatalogError> {
            let query = combine(text, filter_clauses(f, q)?);
            self.collect(&searcher, query.as_ref(), &member, Confirm::None, keep)
        };
        // The first rank: a page of it, or only its count once the cursor is past it.
        let first = run(
            literal,
            Keep::Newest {
                limit: if rank == 0 { limit + 1 } else { 0 },
                before,
            },
        )?;
        let mut found: Vec<(u8, _)> = first.found.into_iter().map(|x| (0u8, x)).collect();
        let room = (limit + 1).saturating_sub(found.len());
        let second = run(
            rest,
            Keep::Newest {
                limit: room,
                before: if rank == 1 { before } else { None },
            },
        )?;
        found.extend(second.found.into_iter().map(|x| (1u8, x)));
        let more = found.len() > limit;
        found.truncate(limit);
        let next_cursor = if more {
            found.last().map(|(r, x)| match r {
                0 => format!("v{}", x.vid),
                _ => format!("w{}", x.vid),
            })
        } else {
            None
        };
        let mut hits = Vec::with_capacity(found.len());
        for (_, x) in &found {
            if let Some(h) = self.version_hit(&snap, &searcher, x.addr)? {
                hits.push(h);
            }
        }
        Ok(SearchPage {
            total: first.total + second.total,
            hits,
            next_cursor,
        })
    }

    /// Children of `dir` in one archive, sorted by path.
    pub fn browse(
        &self,
        archive: ArchiveId,
        dir: &str,
        limit: usize,
        offset: usize,
    ) -> Result<BrowsePage, CatalogError> {
        let snap = self.snap();
        let st = snap
            .archives
            .get(&archive)
            .ok_or(CatalogError::UnknownArchive(archive.0))?;
        let trimmed = dir.trim().trim_matches('/');
        let parent = format!("/{trimmed}");
        let member = Arc::new(Membership {
            live: snap.live.clone(),
            require: vec![st.bitmap.clone()],
        });
        let q = TermQuery::new(
            Term::from_field_text(self.inner.fields.parent, &parent),
            IndexRecordOption::Basic,
        );
        let searcher = self.inner.reader.searcher();
        let mut got = self.collect(&searcher, &q, &member, Confirm::None, Keep::All)?;
        got.found.sort_by(|a, b| a.path.cmp(&b.path));
        let limit = if limit == 0 { DEFAULT_LIMIT } else { limit };
        let mut entries = Vec::new();
        for found in got.found.iter().skip(offset).take(limit) {
            if let Some(h) = self.version_hit(&snap, &searcher, found.addr)? {
                entries.push(h);
            }
        }
        Ok(BrowsePage {
            total: got.total,
            entries,
        })
    }

    pub(crate) fn collect(
        &self,
        searcher: &Searcher,
        query: &dyn Query,
        member: &Arc<Membership>,
        confirm: Confirm,
        keep: Keep,
    ) -> Result<Collected, CatalogError> {
        let collector = VersionCollector {
            member: member.clone(),
            confirm: Arc::new(confirm),
            keep,
        };
        Ok(searcher.search(query, &collector)?)
    }

    /// Loads a version document and attaches the archives of its series that hold it.
    /// None when no archive holds it any longer.
    pub(crate) fn version_hit(
        &self,
        snap: &Snapshot,
        searcher: &Searcher,
        addr: DocAddress,
    ) -> Result<Option<VersionHit>, CatalogError> {
        let f = &self.inner.fields;
        let doc: TantivyDocument = searcher.doc(addr)?;
        let s = |field| {
            doc.get_first(field)
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        };
        // Numbers live in fast columns only.
        let ff = searcher.segment_reader(addr.segment_ord).fast_fields();
        let i = |name: &str| -> Result<i64, CatalogError> {
            Ok(ff.i64(name)?.first(addr.doc_id).unwrap_or(0))
        };
        let u = |name: &str| -> Result<u64, CatalogError> {
            Ok(ff.u64(name)?.first(addr.doc_id).unwrap_or(0))
        };
        let vid = u("vid")?;
        let series = SeriesKey {
            repository: RepositoryId(i("repository")?),
            policy: PolicyId(i("policy")?),
            client: ClientId(i("client")?),
        };
        let holding: Vec<ArchiveBrief> = u32::try_from(vid)
            .map(|v| {
                snap.series_archives(&series)
                    .iter()
                    .filter(|a| a.bitmap.contains(v))
                    .map(|a| ArchiveBrief {
                        id: a.rec.id,
                        name: a.rec.name.clone(),
                        time: a.rec.time,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let (Some(first), Some(last)) = (holding.first().cloned(), holding.last().cloned()) else {
            return Ok(None);
        };
        let mut path = String::new();
        if let Some(col) = ff.str("path")? {
            if let Some(ord) = col.ords().first(addr.doc_id) {
                col.ord_to_str(ord, &mut path)
                    .map_err(|e| CatalogError::Corrupt(format!("path column: {e}")))?;
            }
        }
        Ok(Some(VersionHit {
            version_id: vid,
            name: name_of(&path).to_string(),
            path,
            file_type: s(f.file_type),
            size: u("size")?,
            mtime: micros_to_time(i("mtime")?),
            mode: s(f.mode),
            user: s(f.user),
            group: s(f.group),
            healthy: doc
                .get_first(f.healthy)
                .and_then(|v| v.as_bool())
                .unwrap_or(true),
            linktarget: s(f.linktarget),
            series,
            first_archive: first,
            last_archive: last,
            archive_count: holding.len() as u32,
            archives: holding.into_iter().map(|a| a.id).collect(),
        }))
    }
}

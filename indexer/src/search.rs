//! Search over the catalog and building version hits (with their archive membership).

use crate::collect::{Collected, Keep, Membership, VersionCollector};
use crate::error::CatalogError;
use crate::listing::{micros_to_time, name_of};
use crate::query::{classify, combine, filter_clauses, text_plan, Confirm, TextForm};
use crate::state::Snapshot;
use crate::types::{ArchiveBrief, BrowsePage, SearchPage, SearchQuery, VersionHit};
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

impl Catalog {
    /// Searches versions, newest first. See `SearchQuery` for the text forms.
    pub fn search(&self, q: &SearchQuery) -> Result<SearchPage, CatalogError> {
        let limit = match q.limit {
            0 => DEFAULT_LIMIT,
            n => n.min(MAX_LIMIT),
        };
        let before = q.cursor.as_deref().map(parse_cursor).transpose()?;
        let snap = self.snap();
        let mut require = Vec::new();
        if let Some(a) = q.archive {
            match snap.archives.get(&a) {
                Some(st) => require.push(st.bitmap.clone()),
                None => {
                    return Ok(SearchPage {
                        total: 0,
                        hits: Vec::new(),
                        next_cursor: None,
                    })
                }
            }
        }
        if q.latest_only {
            require.push(snap.latest.clone());
        }
        let member = Arc::new(Membership {
            live: snap.live.clone(),
            require,
        });
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

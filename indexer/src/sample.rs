//! Sampling for restore drills: regular files of one series spread over archive ages (the
//! latest archive, the oldest still present, and one in the middle), picked evenly from the
//! versions each archive holds.

use crate::error::CatalogError;
use crate::types::SearchQuery;
use crate::Catalog;
use model::{SampledFile, SeriesKey};
use std::collections::HashSet;

/// Versions looked at per archive before picking.
const CANDIDATES: usize = 1000;

/// Shares of the sample: the latest archive gets half, the oldest and the middle a quarter.
fn quotas(archives: usize, max: usize) -> Vec<usize> {
    match archives {
        0 => vec![],
        1 => vec![max],
        2 => {
            let latest = max.div_ceil(2).max(max.saturating_sub(max * 2 / 5));
            vec![latest, max - latest]
        }
        _ => {
            let latest = max.div_ceil(2);
            let oldest = (max - latest).div_ceil(2);
            vec![latest, oldest, max - latest - oldest]
        }
    }
}

/// A varying number (not cryptographic): where the second page of candidates starts.
fn jitter() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    t.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 17
}

/// `n` indices spread evenly over `0..len`.
fn spread(len: usize, n: usize) -> Vec<usize> {
    if n == 0 || len == 0 {
        return vec![];
    }
    if n >= len {
        return (0..len).collect();
    }
    (0..n).map(|i| i * len / n).collect()
}

impl Catalog {
    /// Up to `max` regular files of `series` no larger than `max_size`: half from its latest
    /// archive, the rest from its oldest and middle archives. Non-empty files come first, and a
    /// path picked in one archive is picked again in another only when
    /// that archive holds nothing else.
    pub fn sample_files(
        &self,
        series: &SeriesKey,
        max: usize,
        max_size: u64,
    ) -> Result<Vec<SampledFile>, CatalogError> {
        let archives = self.snap().series_archives(series);
        let (Some(first), Some(last)) = (archives.first(), archives.last()) else {
            return Ok(vec![]);
        };
        let mut picks = vec![last.clone()];
        if archives.len() >= 2 {
            picks.push(first.clone());
        }
        if archives.len() >= 3 {
            picks.push(archives[archives.len() / 2].clone());
        }
        let mut taken: HashSet<String> = HashSet::new();
        let mut out = Vec::new();
        let shares = quotas(picks.len(), max);
        let mut carry = 0;
        for (a, share) in picks.iter().zip(shares) {
            let want = share + carry;
            let query = SearchQuery {
                repository: Some(series.repository),
                policy: Some(series.policy),
                client: Some(series.client),
                archive: Some(a.rec.id),
                file_type: Some("-".into()),
                max_size: Some(max_size),
                limit: CANDIDATES,
                ..Default::default()
            };
            // Pages run newest version first: when the archive holds more, a second page from
            // a random point keeps older, unchanged files in the candidates too.
            let mut page = self.search(&query)?;
            let newest = page.hits.first().map(|h| h.version_id);
            if let (Some(_), Some(newest)) = (&page.next_cursor, newest) {
                let from = 1 + jitter() % newest.max(1);
                let more = self.search(&SearchQuery {
                    cursor: Some(format!("v{from}")),
                    ..query
                })?;
                let seen: HashSet<u64> = page.hits.iter().map(|h| h.version_id).collect();
                page.hits.extend(
                    more.hits
                        .into_iter()
                        .filter(|h| !seen.contains(&h.version_id)),
                );
            }
            // Paths not sampled yet first, non-empty files first (their content says more);
            // an old archive still gets its share when it holds only paths sampled already.
            let mut tiers: [Vec<_>; 4] = Default::default();
            for h in page.hits {
                let tier = usize::from(taken.contains(&h.path)) * 2 + usize::from(h.size == 0);
                tiers[tier].push(h);
            }
            let mut chosen = Vec::new();
            for mut tier in tiers {
                tier.sort_by(|x, y| x.path.cmp(&y.path));
                let need = want - chosen.len();
                let idx = spread(tier.len(), need);
                let mut keep: Vec<Option<_>> = tier.into_iter().map(Some).collect();
                chosen.extend(idx.into_iter().filter_map(|i| keep[i].take()));
            }
            carry = want - chosen.len();
            for h in chosen {
                taken.insert(h.path.clone());
                out.push(SampledFile {
                    archive: a.rec.id,
                    archive_name: a.rec.name.clone(),
                    path: h.path.clone(),
                    size: h.size,
                    mtime: h.mtime,
                });
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotas_cover_the_sample() {
        for archives in 1..5 {
            for max in [1, 2, 3, 20] {
                let q = quotas(archives.min(3), max);
                assert_eq!(q.iter().sum::<usize>(), max, "{archives} {max} {q:?}");
            }
        }
        assert_eq!(quotas(3, 20), vec![10, 5, 5]);
    }

    #[test]
    fn samples_regular_files_of_latest_oldest_and_middle_archives() {
        use crate::tests::{archive, base, ingest, opts, series};
        let dir = tempfile::tempdir().expect("tempdir");
        let cat = Catalog::open_with(dir.path(), opts()).expect("open");
        let mut entries = base();
        ingest(&cat, &archive(1, 7, 1), &entries);
        entries.push(("srv/only-in-2", "-", 10, 2));
        ingest(&cat, &archive(2, 7, 2), &entries);
        entries.retain(|e| e.0 != "srv/only-in-2");
        entries.push(("srv/only-in-3", "-", 10, 3));
        ingest(&cat, &archive(3, 7, 3), &entries);
        let got = cat.sample_files(&series(7), 20, 1 << 20).expect("sample");
        assert!(!got.is_empty());
        let names: HashSet<&str> = got.iter().map(|f| f.archive_name.as_str()).collect();
        assert_eq!(names.len(), 3, "{got:?}");
        let pairs: HashSet<(&str, &str)> = got
            .iter()
            .map(|f| (f.archive_name.as_str(), f.path.as_str()))
            .collect();
        assert_eq!(pairs.len(), got.len(), "a file is sampled once per archive");
        assert!(got.iter().any(|f| f.path == "/srv/only-in-2"));
        assert!(got
            .iter()
            .all(|f| f.path.starts_with('/') && f.size <= 1 << 20));
        let small = cat.sample_files(&series(7), 20, 500).expect("sample");
        assert!(small.iter().all(|f| f.size <= 500), "{small:?}");
        assert!(cat
            .sample_files(&series(8), 20, 1 << 20)
            .expect("none")
            .is_empty());
    }

    #[test]
    fn large_archives_sample_beyond_the_newest_page() {
        use crate::tests::{archive, ingest, opts, series};
        let dir = tempfile::tempdir().expect("tempdir");
        let cat = Catalog::open_with(dir.path(), opts()).expect("open");
        let names: Vec<String> = (0..20_000).map(|i| format!("srv/f{i:05}")).collect();
        let entries: Vec<_> = names.iter().map(|n| (n.as_str(), "-", 10, 1)).collect();
        ingest(&cat, &archive(1, 7, 1), &entries);
        let t = std::time::Instant::now();
        let got = cat.sample_files(&series(7), 20, 1 << 20).expect("sample");
        eprintln!("sampled {} of 20000 files in {:?}", got.len(), t.elapsed());
        assert_eq!(got.len(), 20);
        let paths: HashSet<&str> = got.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths.len(), 20);
    }

    #[test]
    fn spread_is_even_and_bounded() {
        assert_eq!(spread(10, 3), vec![0, 3, 6]);
        assert_eq!(spread(2, 5), vec![0, 1]);
        assert!(spread(0, 5).is_empty());
    }
}

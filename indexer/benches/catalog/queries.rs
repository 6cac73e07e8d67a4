//! The mixed search query set run against the many-archive catalog, and latency statistics.

use crate::gen::{self, Shape};
use indexer::{Catalog, SearchQuery};
use model::ArchiveId;
use std::time::{Duration, Instant};

/// One question: a label (its form), the catalog query, and what `grep` would look for.
pub struct Question {
    pub form: &'static str,
    pub query: SearchQuery,
}

fn q(text: &str) -> SearchQuery {
    SearchQuery {
        text: text.to_string(),
        ..Default::default()
    }
}

/// Builds `rounds` questions of every form from names and directories of the listing.
pub fn build(shape: &Shape, rounds: u64, archives: &[ArchiveId]) -> Vec<Question> {
    let samples = gen::samples(shape, rounds);
    let mut out = Vec::new();
    let globs = [
        "*.sql.gz",
        "*.conf.bak",
        "nginx*.log",
        "*.JPG",
        "/var/log/*/*.gz",
        "*report*.pdf",
    ];
    for (k, (dir, name)) in samples.iter().enumerate() {
        let stem = name.split(['.', '-', '_']).next().unwrap_or(name);
        let sub: String = if stem.len() > 5 {
            stem[1..stem.len() - 1].to_string()
        } else {
            stem.to_string()
        };
        out.push(Question {
            form: "name words",
            query: q(name),
        });
        out.push(Question {
            form: "name substring",
            query: q(&sub),
        });
        out.push(Question {
            form: "path prefix",
            query: q(&format!("/{dir}/")),
        });
        out.push(Question {
            form: "exact path",
            query: q(&format!("/{dir}/{name}")),
        });
        // Each glob is its own form: their costs differ (one piece or several, name or path).
        out.push(Question {
            form: globs[k % globs.len()],
            query: q(globs[k % globs.len()]),
        });
        out.push(Question {
            form: "word + latest only",
            query: SearchQuery {
                latest_only: true,
                ..q(stem)
            },
        });
        let archive = archives.get(k % archives.len().max(1)).copied();
        out.push(Question {
            form: "word in one archive",
            query: SearchQuery { archive, ..q(stem) },
        });
        out.push(Question {
            form: "word + size + type",
            query: SearchQuery {
                min_size: Some(1000),
                max_size: Some(1_000_000),
                file_type: Some("-".into()),
                ..q(stem)
            },
        });
    }
    out
}

/// Latency statistics of one run of the question set.
pub struct Latencies {
    pub all: Vec<Duration>,
    /// Per form: (form, median, max, mean hits).
    pub by_form: Vec<(&'static str, Duration, Duration, f64)>,
}

pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

pub fn run(cat: &Catalog, questions: &[Question]) -> Result<Latencies, String> {
    let mut all = Vec::with_capacity(questions.len());
    let mut forms: Vec<(&'static str, Vec<Duration>, u64)> = Vec::new();
    for qn in questions {
        let t = Instant::now();
        let page = cat
            .search(&qn.query)
            .map_err(|e| format!("search {:?}: {e}", qn.query.text))?;
        let el = t.elapsed();
        all.push(el);
        match forms.iter_mut().find(|f| f.0 == qn.form) {
            Some(f) => {
                f.1.push(el);
                f.2 += page.total;
            }
            None => forms.push((qn.form, vec![el], page.total)),
        }
    }
    all.sort();
    let by_form = forms
        .into_iter()
        .map(|(form, mut v, hits)| {
            v.sort();
            let n = v.len() as f64;
            (form, percentile(&v, 0.5), v[v.len() - 1], hits as f64 / n)
        })
        .collect();
    Ok(Latencies { all, by_form })
}

//! Proven copies: the verdict of each copy archive compared with its primary, every (series,
//! repository) pair with what recoverability needs, and the recoverability alerts already sent.

use crate::db::{params, OptionalExtension};
use crate::{parse_opt_ts, parse_ts, ts, Result, Store};
use chrono::{DateTime, Utc};
use model::*;

/// A copy archive compared with the primary archive of the same run.
#[derive(Debug, Clone, PartialEq)]
pub struct CopyVerification {
    pub archive: ArchiveId,
    pub primary_archive: Option<ArchiveId>,
    /// `identical`, `consistent` (every difference is a change between the runs) or `differs`.
    pub verdict: String,
    pub counts: ComparisonCounts,
    pub summary: String,
    pub checked: DateTime<Utc>,
}

/// One repository (primary or copy) of one series, with its evidence.
#[derive(Debug, Clone, PartialEq)]
pub struct RecoveryRow {
    pub policy: PolicyId,
    pub policy_name: String,
    pub rpo_hours: Option<u32>,
    pub policy_created: DateTime<Utc>,
    /// Policy and client enabled.
    pub enabled: bool,
    pub client: ClientId,
    pub hostname: String,
    pub repository: RepositoryId,
    pub repository_name: String,
    pub repository_path: String,
    pub repository_enabled: bool,
    /// 0 for the primary, 1.. for the copies in order.
    pub position: i64,
    pub tampered: bool,
    pub newest_archive: Option<DateTime<Utc>>,
    /// The newest archive whose catalog landed and, for a copy, whose comparison with its
    /// primary found nothing unexplained.
    pub newest_verified: Option<DateTime<Utc>>,
    /// Verdict of the newest compared archive of a copy.
    pub last_comparison: Option<String>,
    /// The last finished `borg check` of the repository.
    pub check_status: Option<JobStatus>,
    pub check_finished: Option<DateTime<Utc>>,
    pub check_explanation: String,
    /// The last restore drill of the series in this repository.
    pub drill_verdict: Option<String>,
    pub drill_time: Option<DateTime<Utc>>,
    /// The last drill of the series in this repository that passed.
    pub drill_passed: Option<DateTime<Utc>>,
}

impl Store {
    /// Records (or replaces) the comparison of a copy archive.
    pub fn record_copy_verification(&self, v: &CopyVerification) -> Result<()> {
        let c = &v.counts;
        self.conn().execute(
            "INSERT INTO copy_verifications (archive_id, primary_archive_id, verdict, same, missing,
               extra, changed, between_runs, summary, checked)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT (archive_id) DO UPDATE SET primary_archive_id = excluded.primary_archive_id,
               verdict = excluded.verdict, same = excluded.same, missing = excluded.missing,
               extra = excluded.extra, changed = excluded.changed,
               between_runs = excluded.between_runs, summary = excluded.summary,
               checked = excluded.checked",
            params![
                v.archive.0,
                v.primary_archive.map(|a| a.0),
                v.verdict,
                c.same as i64,
                c.missing as i64,
                c.extra as i64,
                c.changed as i64,
                c.between_runs as i64,
                v.summary,
                ts(v.checked)
            ],
        )?;
        Ok(())
    }

    /// The stored comparison of a copy archive, if it was compared.
    pub fn copy_verification(&self, archive: ArchiveId) -> Result<Option<CopyVerification>> {
        Ok(self
            .read()
            .query_row(
                "SELECT archive_id, primary_archive_id, verdict, same, missing, extra, changed,
                   between_runs, summary, checked FROM copy_verifications WHERE archive_id = ?1",
                [archive.0],
                |r| {
                    let n = |i: usize| -> rusqlite::Result<u64> {
                        Ok(r.get::<_, i64>(i)?.max(0) as u64)
                    };
                    Ok(CopyVerification {
                        archive: ArchiveId(r.get(0)?),
                        primary_archive: r.get::<_, Option<i64>>(1)?.map(ArchiveId),
                        verdict: r.get(2)?,
                        counts: ComparisonCounts {
                            same: n(3)?,
                            missing: n(4)?,
                            extra: n(5)?,
                            changed: n(6)?,
                            between_runs: n(7)?,
                            unexplained: 0,
                        },
                        summary: r.get(8)?,
                        checked: parse_ts(&r.get::<_, String>(9)?),
                    })
                },
            )
            .optional()?)
    }

    /// Every (series, repository) pair: the primary and each copy of every policy, for each of
    /// its clients, by policy name, hostname and position.
    pub fn recovery_rows(&self) -> Result<Vec<RecoveryRow>> {
        let conn = self.read();
        let mut st = conn.prepare(
            "WITH pairs AS (
               SELECT p.id AS pid, p.repository_id AS rid, 0 AS pos FROM policies p
               UNION ALL
               SELECT policy_id, repository_id, position + 1 FROM policy_copies
             )
             SELECT p.id, p.name, p.rpo_hours, (p.enabled <> 0 AND c.enabled <> 0), c.id, c.hostname,
               r.id, r.name, r.path, r.enabled, x.pos, r.tamper_state = 'tampered',
               (SELECT MAX(a.time) FROM archives a WHERE a.repository_id = r.id
                  AND a.client_id = c.id AND a.policy_id = p.id AND a.pruned = 0),
               (SELECT MAX(a.time) FROM archives a LEFT JOIN copy_verifications v ON v.archive_id = a.id
                  WHERE a.repository_id = r.id AND a.client_id = c.id AND a.policy_id = p.id
                    AND a.pruned = 0 AND a.catalog_state = 'complete'
                    AND (x.pos = 0 OR v.verdict IN ('identical', 'consistent'))),
               (SELECT v.verdict FROM archives a JOIN copy_verifications v ON v.archive_id = a.id
                  WHERE a.repository_id = r.id AND a.client_id = c.id AND a.policy_id = p.id
                  ORDER BY a.time DESC LIMIT 1),
               chk.status, chk.finished, chk.job_explanation, d.verdict, d.created, p.created,
               (SELECT MAX(t.created) FROM restore_tests t WHERE t.policy_id = p.id
                  AND t.client_id = c.id AND t.repository_id = r.id AND t.verdict = 'passed')
             FROM pairs x JOIN policies p ON p.id = x.pid
               JOIN policy_clients pc ON pc.policy_id = p.id
               JOIN clients c ON c.id = pc.client_id
               JOIN repositories r ON r.id = x.rid
               LEFT JOIN jobs chk ON chk.id = (SELECT j.id FROM jobs j WHERE j.job_type = 'check'
                  AND j.repository_id = r.id AND j.finished IS NOT NULL
                  ORDER BY j.finished DESC, j.id DESC LIMIT 1)
               LEFT JOIN restore_tests d ON d.id = (SELECT t.id FROM restore_tests t
                  WHERE t.policy_id = p.id AND t.client_id = c.id AND t.repository_id = r.id
                  ORDER BY t.created DESC, t.id DESC LIMIT 1)
             ORDER BY p.name, c.hostname, x.pos",
        )?;
        let rows = st
            .query_map([], |r| {
                Ok(RecoveryRow {
                    policy: PolicyId(r.get(0)?),
                    policy_name: r.get(1)?,
                    rpo_hours: r
                        .get::<_, Option<i64>>(2)?
                        .map(|h| h.clamp(0, u32::MAX as i64) as u32),
                    enabled: r.get(3)?,
                    client: ClientId(r.get(4)?),
                    hostname: r.get(5)?,
                    repository: RepositoryId(r.get(6)?),
                    repository_name: r.get(7)?,
                    repository_path: r.get(8)?,
                    repository_enabled: r.get(9)?,
                    position: r.get(10)?,
                    tampered: r.get(11)?,
                    newest_archive: parse_opt_ts(r.get(12)?),
                    newest_verified: parse_opt_ts(r.get(13)?),
                    last_comparison: r.get(14)?,
                    check_status: r.get::<_, Option<String>>(15)?.and_then(|s| s.parse().ok()),
                    check_finished: parse_opt_ts(r.get(16)?),
                    check_explanation: r.get::<_, Option<String>>(17)?.unwrap_or_default(),
                    drill_verdict: r.get(18)?,
                    drill_time: parse_opt_ts(r.get(19)?),
                    policy_created: parse_ts(&r.get::<_, String>(20)?),
                    drill_passed: parse_opt_ts(r.get(21)?),
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// The recoverability state last alerted for a series, if any.
    pub fn recoverability_alerted(
        &self,
        policy: PolicyId,
        client: ClientId,
    ) -> Result<Option<String>> {
        Ok(self
            .read()
            .query_row(
                "SELECT state FROM recoverability_alerts WHERE policy_id = ?1 AND client_id = ?2",
                params![policy.0, client.0],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Records the recoverability state of a series (`ok` ends an episode).
    pub fn set_recoverability_alerted(
        &self,
        policy: PolicyId,
        client: ClientId,
        state: &str,
    ) -> Result<()> {
        self.conn().execute(
            "INSERT INTO recoverability_alerts (policy_id, client_id, state, since)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (policy_id, client_id) DO UPDATE SET state = excluded.state,
               since = excluded.since",
            params![policy.0, client.0, state, ts(Utc::now())],
        )?;
        Ok(())
    }
}

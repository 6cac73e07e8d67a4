//! Copy repositories of a policy (3-2-1): each copy's own retention and schedule offset, the
//! list checked as one field, and the recoverability states of a series across its repositories.

use crate::{RepositoryId, Retention, ValidationErrors};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// At most this many copy repositories per policy.
pub const MAX_COPIES: usize = 8;
/// The largest schedule offset of a copy: one day.
pub const MAX_OFFSET_MINUTES: u32 = 1440;

/// One copy repository of a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyCopy {
    pub repository: RepositoryId,
    /// The copy's own retention; when no keep_* is set, the policy's applies.
    pub retention: Retention,
    /// A scheduled run starts the copy's backups this many minutes after the primary's.
    pub offset_minutes: u32,
}

impl PolicyCopy {
    /// The retention that prunes this copy: its own when set, else the policy's.
    pub fn effective_retention(&self, policy: &Retention) -> Retention {
        if self.retention.is_set() {
            self.retention
        } else {
            *policy
        }
    }
}

impl crate::Policy {
    /// The retention that prunes `repository`: a copy's own when it sets one, else the policy's.
    pub fn retention_for(&self, repository: RepositoryId) -> Retention {
        self.copies
            .iter()
            .find(|c| c.repository == repository)
            .map_or(self.retention, |c| c.effective_retention(&self.retention))
    }

    /// The primary repository, then the copies in order.
    pub fn all_repositories(&self) -> Vec<RepositoryId> {
        std::iter::once(self.repository)
            .chain(self.copies.iter().map(|c| c.repository))
            .collect()
    }
}

/// A copy repository as given by a client of the API. `settings: None` (a bare repository id)
/// keeps the settings the copy already has, or the defaults for a new copy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CopyInput {
    pub repository: i64,
    pub settings: Option<CopySettings>,
}

/// The settings of one copy (a missing keep_* inherits the policy's retention).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CopySettings {
    pub keep_hourly: Option<i64>,
    pub keep_daily: Option<i64>,
    pub keep_weekly: Option<i64>,
    pub keep_monthly: Option<i64>,
    pub keep_yearly: Option<i64>,
    pub offset_minutes: Option<i64>,
}

impl CopyInput {
    pub fn id(repository: i64) -> Self {
        CopyInput {
            repository,
            settings: None,
        }
    }
}

fn keep(v: Option<i64>) -> Option<u32> {
    v.map(|n| n.clamp(0, u32::MAX as i64) as u32)
}

impl From<&PolicyCopy> for CopySettings {
    /// The settings a stored copy has (kept when the copy is listed again without settings).
    fn from(p: &PolicyCopy) -> Self {
        let k = |v: Option<u32>| v.map(i64::from);
        CopySettings {
            keep_hourly: k(p.retention.keep_hourly),
            keep_daily: k(p.retention.keep_daily),
            keep_weekly: k(p.retention.keep_weekly),
            keep_monthly: k(p.retention.keep_monthly),
            keep_yearly: k(p.retention.keep_yearly),
            offset_minutes: Some(i64::from(p.offset_minutes)),
        }
    }
}

impl CopySettings {
    pub fn retention(&self) -> Retention {
        Retention {
            keep_hourly: keep(self.keep_hourly),
            keep_daily: keep(self.keep_daily),
            keep_weekly: keep(self.keep_weekly),
            keep_monthly: keep(self.keep_monthly),
            keep_yearly: keep(self.keep_yearly),
        }
    }
}

/// Checks a copy list against the primary repository; every problem is reported on `copies`.
pub fn check_copies(e: &mut ValidationErrors, primary: Option<i64>, copies: &[CopyInput]) {
    let mut seen = BTreeSet::new();
    for c in copies {
        let r = c.repository;
        if Some(r) == primary {
            e.add(
                "copies",
                format!("repository {r} is the primary repository"),
            );
        } else if !seen.insert(r) {
            e.add("copies", format!("repository {r} is listed twice"));
        }
        let Some(s) = &c.settings else { continue };
        for (name, v) in [
            ("keep_hourly", s.keep_hourly),
            ("keep_daily", s.keep_daily),
            ("keep_weekly", s.keep_weekly),
            ("keep_monthly", s.keep_monthly),
            ("keep_yearly", s.keep_yearly),
        ] {
            if let Some(n) = v {
                if !(0..=100_000).contains(&n) {
                    e.add(
                        "copies",
                        format!("repository {r}: {name} must be between 0 and 100000, not {n}"),
                    );
                }
            }
        }
        if let Some(m) = s.offset_minutes {
            if !(0..=MAX_OFFSET_MINUTES as i64).contains(&m) {
                e.add(
                    "copies",
                    format!(
                        "repository {r}: offset_minutes must be between 0 and {MAX_OFFSET_MINUTES}, not {m}"
                    ),
                );
            }
        }
    }
    if copies.len() > MAX_COPIES {
        e.add("copies", format!("at most {MAX_COPIES} copy repositories"));
    }
}

/// The verdict of a copy compared with its primary: `identical` with no difference,
/// `consistent` when every difference is a change between the two runs, `differs` otherwise.
pub fn comparison_verdict(differences: u64, unexplained: u64) -> &'static str {
    match (differences, unexplained) {
        (0, _) => "identical",
        (_, 0) => "consistent",
        _ => "differs",
    }
}

/// How recoverable a series is, worst last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum RecoveryState {
    /// Every repository of the series holds a verified archive and the objective is met.
    Ok,
    /// The objective is met, but a repository of the series failed its check or drill, holds
    /// an unverified copy, or has no archive yet.
    Degraded,
    /// No verified archive is younger than the policy's recovery-point objective (or none
    /// exists at all).
    Unmet,
}

impl RecoveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            RecoveryState::Ok => "ok",
            RecoveryState::Degraded => "degraded",
            RecoveryState::Unmet => "unmet",
        }
    }
}

impl std::fmt::Display for RecoveryState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for RecoveryState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "ok" => Ok(RecoveryState::Ok),
            "degraded" => Ok(RecoveryState::Degraded),
            "unmet" => Ok(RecoveryState::Unmet),
            _ => Err(format!(
                "unknown recoverability state {s:?}: ok, degraded or unmet"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_lists_are_checked_on_the_copies_field() {
        let mut e = ValidationErrors::new();
        let bad = CopyInput {
            repository: 3,
            settings: Some(CopySettings {
                offset_minutes: Some(5000),
                keep_daily: Some(-1),
                ..Default::default()
            }),
        };
        check_copies(&mut e, Some(1), &[CopyInput::id(1), bad.clone(), bad]);
        let text = format!("{e:?}");
        assert!(text.contains("primary"), "{text}");
        assert!(text.contains("listed twice"), "{text}");
        assert!(text.contains("offset_minutes"), "{text}");
        assert!(text.contains("keep_daily"), "{text}");
        assert!(e.0.iter().all(|f| f.field == "copies"));
    }

    #[test]
    fn a_copy_without_retention_follows_the_policy() {
        let policy = Retention {
            keep_daily: Some(7),
            ..Default::default()
        };
        let inherit = PolicyCopy {
            repository: RepositoryId(2),
            retention: Retention::default(),
            offset_minutes: 0,
        };
        let own = PolicyCopy {
            retention: Retention {
                keep_monthly: Some(12),
                ..Default::default()
            },
            ..inherit
        };
        assert_eq!(inherit.effective_retention(&policy), policy);
        assert_eq!(own.effective_retention(&policy).keep_monthly, Some(12));
        assert_eq!(own.effective_retention(&policy).keep_daily, None);
    }
}

//! Repository trust: the identity recorded at preparation (borg's repository id and encryption
//! mode), the tamper mark set when archives vanish behind the server's back, and the words job
//! explanations start with so that alerts can recognise them.

use crate::ids::{RepositoryId, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Start of the explanation of a job refused because the repository is not the one prepared.
pub const IDENTITY_FAILED: &str = "repository identity check failed";
/// Start of the explanation of the prune job that found archives missing.
pub const TAMPER_DETECTED: &str = "repository tampered";
/// Start of the explanation of a prune skipped while its repository is marked tampered.
pub const TAMPER_PAUSED: &str = "prune and compact paused: repository marked tampered";
/// Start of the explanation of a prune skipped because of an unacknowledged anomaly.
pub const ANOMALY_PAUSED: &str = "prune and compact paused by an anomaly";

/// What `borg` says a repository is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepositoryIdentity {
    /// `repository.id` (hex); empty when not recorded yet.
    pub borg_id: String,
    /// `encryption.mode` (`repokey`, `repokey-blake2`, `none`, …).
    pub encryption_mode: String,
}

impl RepositoryIdentity {
    pub fn is_recorded(&self) -> bool {
        !self.borg_id.is_empty()
    }

    /// Whether the mode stores data in clear (`none`) or only authenticates it.
    pub fn is_unencrypted(&self) -> bool {
        self.encryption_mode == "none" || self.encryption_mode.starts_with("authenticated")
    }
}

/// Whether archives vanished from a repository without a prune by this server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum TamperState {
    #[default]
    Clean,
    /// Archives vanished: prune and compact stop until an administrator clears it.
    Tampered,
    /// Cleared after recovery: the next prune accepts the repository's archive list as it is.
    Cleared,
}

impl TamperState {
    pub fn as_str(self) -> &'static str {
        match self {
            TamperState::Clean => "",
            TamperState::Tampered => "tampered",
            TamperState::Cleared => "cleared",
        }
    }

    pub fn parse(s: &str) -> TamperState {
        match s {
            "tampered" => TamperState::Tampered,
            "cleared" => TamperState::Cleared,
            _ => TamperState::Clean,
        }
    }
}

/// The trust record of one repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepositorySecurity {
    pub repository: RepositoryId,
    pub identity: RepositoryIdentity,
    pub tamper: TamperState,
    /// Names of the archives found missing.
    pub tampered_archives: Vec<String>,
    pub tampered_at: Option<DateTime<Utc>>,
    pub tamper_cleared_at: Option<DateTime<Utc>>,
    pub tamper_cleared_by: Option<UserId>,
    /// The repository's last transaction (`index.N`) seen with every known archive present.
    pub last_good_transaction: Option<i64>,
    pub last_good_at: Option<DateTime<Utc>>,
}

/// The transaction number of a repository from the names of its top-level files: borg writes
/// `index.N` at each commit, N being the transaction (the last segment file of it).
pub fn transaction_from_listing(names: &str) -> Option<i64> {
    names
        .lines()
        .filter_map(|l| l.trim().strip_prefix("index."))
        .filter_map(|n| n.parse::<i64>().ok())
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_is_the_highest_index() {
        assert_eq!(
            transaction_from_listing("README\nconfig\ndata\nhints.12\nindex.12\nintegrity.12\n"),
            Some(12)
        );
        assert_eq!(
            transaction_from_listing("index.3\nindex.10\nindex.x\n"),
            Some(10)
        );
        assert_eq!(transaction_from_listing("README\nconfig\n"), None);
    }

    #[test]
    fn states_round_trip() {
        for s in [
            TamperState::Clean,
            TamperState::Tampered,
            TamperState::Cleared,
        ] {
            assert_eq!(TamperState::parse(s.as_str()), s);
        }
    }
}

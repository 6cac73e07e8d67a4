//! Roles and grants: who may see and do what. A user has one [`Role`] and, unless a superuser,
//! a list of [`Grant`]s naming clients or policies (with a restore flag for file contents).
//! [`Visibility`] derives from the grants which clients, policies, repositories, schedules,
//! series and jobs a user reaches; it is pure (the caller supplies the policies).

use crate::entities::Policy;
use crate::ids::{ClientId, PolicyId, RepositoryId, ScheduleId};
use crate::validate::ValidationErrors;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// What a user may do at most; grants narrow it to clients or policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything, on every object.
    Superuser,
    /// Launch, cancel and relaunch backups, checks and drills; restore (with a restore grant).
    Operator,
    /// Read inventory, jobs, statistics and catalog metadata; no file contents.
    #[default]
    Viewer,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Superuser, Role::Operator, Role::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Superuser => "superuser",
            Role::Operator => "operator",
            Role::Viewer => "viewer",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s.trim().to_ascii_lowercase())
            .ok_or_else(|| format!("unknown role {s:?}: expected superuser, operator or viewer"))
    }
}

/// What a grant covers: every series of a client, or every client of a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GrantScope {
    Client(ClientId),
    Policy(PolicyId),
}

/// Access to a client or a policy; `restore` adds file contents (download, restore).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Grant {
    pub scope: GrantScope,
    pub restore: bool,
}

/// Checks a set of grants: no scope twice. Errors are reported on `field`.
pub fn check_grants(errs: &mut ValidationErrors, field: &str, grants: &[Grant]) {
    let mut seen = BTreeSet::new();
    for g in grants {
        if !seen.insert(g.scope) {
            let what = match g.scope {
                GrantScope::Client(c) => format!("client {c}"),
                GrantScope::Policy(p) => format!("policy {p}"),
            };
            errs.add(field, format!("{what} is granted twice"));
        }
    }
}

/// Whether a client hostname names the server's own host (restoring there is superuser only).
pub fn is_server_host(hostname: &str) -> bool {
    let h = hostname.trim().trim_end_matches('.').to_ascii_lowercase();
    matches!(
        h.as_str(),
        "localhost" | "localhost.localdomain" | "127.0.0.1" | "::1" | "[::1]"
    )
}

/// What a non-superuser reaches, derived from their grants and the policies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Visibility {
    /// Clients granted directly.
    pub granted_clients: BTreeSet<ClientId>,
    /// Policies granted directly.
    pub granted_policies: BTreeSet<PolicyId>,
    /// Clients granted directly with the restore flag.
    pub restore_clients: BTreeSet<ClientId>,
    /// Policies granted directly with the restore flag.
    pub restore_policies: BTreeSet<PolicyId>,
    /// Every client reached: granted, or backed up by a granted policy.
    pub clients: BTreeSet<ClientId>,
    /// Every client reached by a grant with the restore flag.
    pub restore_targets: BTreeSet<ClientId>,
    /// Every policy reached: granted, or backing up a granted client.
    pub policies: BTreeSet<PolicyId>,
    /// Policies reached whole: granted, or every client of which is granted.
    pub whole_policies: BTreeSet<PolicyId>,
    /// Repositories of the policies reached.
    pub repositories: BTreeSet<RepositoryId>,
    /// Schedules of the policies reached.
    pub schedules: BTreeSet<ScheduleId>,
}

impl Visibility {
    /// Derives what `grants` reach, given every policy.
    pub fn new(grants: &[Grant], policies: &[Policy]) -> Visibility {
        let mut v = Visibility::default();
        for g in grants {
            match g.scope {
                GrantScope::Client(c) => {
                    v.granted_clients.insert(c);
                    v.clients.insert(c);
                    if g.restore {
                        v.restore_clients.insert(c);
                        v.restore_targets.insert(c);
                    }
                }
                GrantScope::Policy(p) => {
                    v.granted_policies.insert(p);
                    if g.restore {
                        v.restore_policies.insert(p);
                    }
                }
            }
        }
        for p in policies {
            let granted = v.granted_policies.contains(&p.id);
            let via_client = p.clients.iter().any(|c| v.granted_clients.contains(c));
            if granted {
                v.clients.extend(p.clients.iter().copied());
                if v.restore_policies.contains(&p.id) {
                    v.restore_targets.extend(p.clients.iter().copied());
                }
            }
            if granted || via_client {
                v.policies.insert(p.id);
                v.repositories.insert(p.repository);
                v.repositories.extend(p.copies.iter().map(|c| c.repository));
                v.schedules.insert(p.schedule);
            }
            let all_clients =
                !p.clients.is_empty() && p.clients.iter().all(|c| v.granted_clients.contains(c));
            if granted || all_clients {
                v.whole_policies.insert(p.id);
            }
        }
        v
    }

    /// Whether the series (client, policy) is reached: its client or its policy is granted.
    pub fn series(&self, client: ClientId, policy: PolicyId) -> bool {
        self.granted_clients.contains(&client) || self.granted_policies.contains(&policy)
    }

    /// Whether file contents of the series may be read (a grant with the restore flag).
    pub fn restore_series(&self, client: ClientId, policy: PolicyId) -> bool {
        self.restore_clients.contains(&client) || self.restore_policies.contains(&policy)
    }

    /// Whether a job is reached: by its series, else (no policy) by its client, else (neither)
    /// by its repository.
    pub fn job(
        &self,
        client: Option<ClientId>,
        policy: Option<PolicyId>,
        repository: Option<RepositoryId>,
    ) -> bool {
        match (client, policy) {
            (Some(c), Some(p)) => self.series(c, p),
            (None, Some(p)) => self.granted_policies.contains(&p),
            (Some(c), None) => self.clients.contains(&c),
            (None, None) => repository.is_some_and(|r| self.repositories.contains(&r)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entities::{Audit, Retention};
    use crate::policy_type::PolicyType;

    fn policy(id: i64, clients: &[i64], repo: i64) -> Policy {
        Policy {
            id: PolicyId(id),
            name: format!("p{id}"),
            policy_type: PolicyType::Folders,
            extra_vars: String::new(),
            clients: clients.iter().map(|c| ClientId(*c)).collect(),
            repository: RepositoryId(repo),
            copies: Vec::new(),
            schedule: ScheduleId(1),
            retention: Retention::default(),
            rpo_hours: None,
            vmprovider: String::new(),
            next_run: None,
            mode_pull: false,
            enabled: true,
            prehook: String::new(),
            posthook: String::new(),
            audit: Audit {
                created: chrono::Utc::now(),
                modified: chrono::Utc::now(),
                created_by: None,
                modified_by: None,
                uuid: String::new(),
            },
        }
    }

    #[test]
    fn grants_reach_series_and_inventory() {
        let policies = [
            policy(1, &[1, 2], 10),
            policy(2, &[3], 20),
            policy(3, &[1], 30),
        ];
        let v = Visibility::new(
            &[
                Grant {
                    scope: GrantScope::Client(ClientId(1)),
                    restore: true,
                },
                Grant {
                    scope: GrantScope::Policy(PolicyId(2)),
                    restore: false,
                },
            ],
            &policies,
        );
        assert!(v.series(ClientId(1), PolicyId(1)));
        assert!(!v.series(ClientId(2), PolicyId(1)));
        assert!(v.series(ClientId(3), PolicyId(2)));
        assert!(v.restore_series(ClientId(1), PolicyId(3)));
        assert!(!v.restore_series(ClientId(3), PolicyId(2)));
        assert_eq!(v.clients, [1, 3].map(ClientId).into());
        assert_eq!(v.policies, [1, 2, 3].map(PolicyId).into());
        assert_eq!(v.whole_policies, [2, 3].map(PolicyId).into());
        assert_eq!(v.repositories, [10, 20, 30].map(RepositoryId).into());
        assert!(v.job(None, None, Some(RepositoryId(20))));
        assert!(!v.job(None, None, Some(RepositoryId(99))));
        assert!(v.job(Some(ClientId(3)), None, None));
        assert!(!v.job(Some(ClientId(2)), None, None));
    }

    #[test]
    fn roles_and_hosts_parse() {
        assert_eq!("Operator".parse::<Role>(), Ok(Role::Operator));
        assert!("root".parse::<Role>().is_err());
        assert!(is_server_host("localhost"));
        assert!(is_server_host("127.0.0.1"));
        assert!(is_server_host("::1"));
        assert!(!is_server_host("web1"));
        let mut e = ValidationErrors::new();
        let g = Grant {
            scope: GrantScope::Client(ClientId(1)),
            restore: false,
        };
        check_grants(&mut e, "grants", &[g, g]);
        assert_eq!(e.0.len(), 1);
    }
}

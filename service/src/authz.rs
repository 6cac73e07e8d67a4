//! The one authorization point: every service call states its [`Action`] on a [`Target`] and
//! asks [`authorize`]. Roles set what a user may do at most; grants set where.
//!
//! | action | superuser | operator | viewer |
//! |---|---|---|---|
//! | `Authenticated` (me, own settings, cron preview) | yes | yes | yes |
//! | `View` (inventory, jobs, statistics, catalog metadata) | all | granted | granted |
//! | `Operate` (launch, cancel, relaunch backups, checks, drills) | all | granted | no |
//! | `ReadContents` (download, restore from) | all | restore grant | no |
//! | `RestoreOnto` (restore to a client) | all | restore grant, never the server | no |
//! | `Administer` (everything else) | yes | no | no |
//!
//! Targets outside a user's grants are reported as not found, so that grants do not reveal
//! what exists; a reachable target with too little role or grant is forbidden.

use crate::{Caller, Result, ServiceError};
use model::{ClientId, JobType, PolicyId, RepositoryId, Role, ScheduleId, Visibility};

/// What a caller wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Something any logged-in user may do for themselves.
    Authenticated,
    /// Read inventory, jobs, statistics or catalog metadata.
    View,
    /// Launch, cancel or relaunch backups, checks, catalog jobs and restore drills.
    Operate,
    /// Read file contents of a series: download, or restore from it.
    ReadContents,
    /// Write restored files onto a client.
    RestoreOnto,
    /// Everything else: inventory changes, users, keys, settings, prune, preparation.
    Administer,
}

/// What an action is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    /// Nothing in particular (lists filter themselves; administration).
    Global,
    Client(ClientId),
    /// A policy; to operate on it the grants must cover every client of it.
    Policy(PolicyId),
    Repository(RepositoryId),
    Schedule(ScheduleId),
    /// The archives of one policy on one client.
    Series {
        client: ClientId,
        policy: PolicyId,
    },
    Job {
        client: Option<ClientId>,
        policy: Option<PolicyId>,
        repository: Option<RepositoryId>,
    },
    /// A client to restore onto, with its hostname (the server's own host is superuser only).
    Host {
        client: ClientId,
        hostname: &'a str,
    },
}

impl Target<'_> {
    /// The target of a job.
    pub fn job(j: &model::Job) -> Target<'static> {
        Target::Job {
            client: j.client,
            policy: j.policy,
            repository: j.repository,
        }
    }

    fn reached(&self, v: &Visibility) -> bool {
        match *self {
            Target::Global => true,
            Target::Client(c) | Target::Host { client: c, .. } => v.clients.contains(&c),
            Target::Policy(p) => v.policies.contains(&p),
            Target::Repository(r) => v.repositories.contains(&r),
            Target::Schedule(s) => v.schedules.contains(&s),
            Target::Series { client, policy } => v.series(client, policy),
            Target::Job {
                client,
                policy,
                repository,
            } => v.job(client, policy, repository),
        }
    }

    fn name(&self) -> String {
        match self {
            Target::Global => "object".into(),
            Target::Client(c) | Target::Host { client: c, .. } => format!("client {c}"),
            Target::Policy(p) => format!("policy {p}"),
            Target::Repository(r) => format!("repository {r}"),
            Target::Schedule(s) => format!("schedule {s}"),
            Target::Series { client, policy } => {
                format!("series of policy {policy} on client {client}")
            }
            Target::Job { .. } => "job".into(),
        }
    }
}

/// Allows or refuses `action` on `target` for `caller`. Every service call passes here.
pub fn authorize(caller: &Caller, action: Action, target: Target<'_>) -> Result<()> {
    let user = match caller {
        Caller::Anonymous => return Err(ServiceError::Unauthenticated),
        Caller::System => return Ok(()),
        Caller::User(u) if u.role == Role::Superuser => return Ok(()),
        Caller::User(u) => u,
    };
    let v = &user.visibility;
    let forbidden = |why: &str| Err(ServiceError::Forbidden(why.to_string()));
    match action {
        Action::Authenticated => return Ok(()),
        Action::Administer => return forbidden("this operation needs a superuser"),
        _ => {}
    }
    if !target.reached(v) {
        return Err(ServiceError::NotFound(format!(
            "{} not found",
            target.name()
        )));
    }
    if action == Action::View {
        return Ok(());
    }
    if user.role != Role::Operator {
        return forbidden("this operation needs an operator or a superuser: viewers only read");
    }
    match (action, target) {
        // The role allows this kind of action; the call checks its objects next.
        (_, Target::Global) => Ok(()),
        (Action::Operate, Target::Policy(p)) if !v.whole_policies.contains(&p) => forbidden(
            &format!("your grants do not cover every client of policy {p}: ask for a grant on the policy"),
        ),
        (Action::Operate, _) => Ok(()),
        (Action::ReadContents, Target::Series { client, policy }) => {
            if v.restore_series(client, policy) {
                Ok(())
            } else {
                forbidden("file contents need a grant with restore on the archive's client or policy")
            }
        }
        (Action::RestoreOnto, Target::Host { client, hostname }) => {
            if model::is_server_host(hostname) {
                forbidden("restoring onto the server's own host needs a superuser")
            } else if v.restore_targets.contains(&client) {
                Ok(())
            } else {
                forbidden("restoring onto this client needs a grant with restore on it")
            }
        }
        _ => forbidden("this operation needs a superuser"),
    }
}

/// The action launching (hence cancelling or relaunching) a job of this type needs. Restores
/// have their own rule (source and target); see `restore.rs`.
pub fn launch_action(t: JobType) -> Action {
    match t {
        JobType::Job | JobType::Catalog | JobType::Check | JobType::RestoreTest => Action::Operate,
        JobType::Restore => Action::ReadContents,
        JobType::PrepareClient | JobType::PrepareRepository | JobType::Prune => Action::Administer,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caller::UserCaller;
    use model::{Grant, GrantScope, TokenId, UserId};
    use std::sync::Arc;

    fn user(role: Role, grants: &[Grant]) -> Caller {
        let mut v = Visibility::new(grants, &[]);
        // One policy (1) backing up clients 1 and 2 in repository 1.
        if grants
            .iter()
            .any(|g| g.scope == GrantScope::Client(ClientId(1)))
        {
            v.policies.insert(PolicyId(1));
            v.repositories.insert(RepositoryId(1));
        }
        Caller::User(Arc::new(UserCaller {
            id: UserId(9),
            email: "u@x".into(),
            token: TokenId(1),
            role,
            grants: grants.to_vec(),
            visibility: Arc::new(v),
        }))
    }

    fn client(c: i64, restore: bool) -> Grant {
        Grant {
            scope: GrantScope::Client(ClientId(c)),
            restore,
        }
    }

    fn kind(r: Result<()>) -> &'static str {
        match r {
            Ok(()) => "ok",
            Err(ServiceError::NotFound(_)) => "not found",
            Err(ServiceError::Forbidden(_)) => "forbidden",
            Err(ServiceError::Unauthenticated) => "unauthenticated",
            Err(_) => "other",
        }
    }

    #[test]
    fn the_role_matrix() {
        let series = Target::Series {
            client: ClientId(1),
            policy: PolicyId(1),
        };
        let other = Target::Series {
            client: ClientId(2),
            policy: PolicyId(1),
        };
        let host = |h| Target::Host {
            client: ClientId(1),
            hostname: h,
        };
        let viewer = user(Role::Viewer, &[client(1, true)]);
        let operator = user(Role::Operator, &[client(1, false)]);
        let restorer = user(Role::Operator, &[client(1, true)]);
        let cases: &[(&Caller, Action, Target, &str)] = &[
            (
                &Caller::Anonymous,
                Action::View,
                Target::Global,
                "unauthenticated",
            ),
            (&Caller::System, Action::Administer, Target::Global, "ok"),
            (&viewer, Action::View, series, "ok"),
            (&viewer, Action::View, other, "not found"),
            (&viewer, Action::Operate, series, "forbidden"),
            (&viewer, Action::ReadContents, series, "forbidden"),
            (&operator, Action::Operate, series, "ok"),
            (&operator, Action::Operate, other, "not found"),
            (
                &operator,
                Action::Operate,
                Target::Policy(PolicyId(1)),
                "forbidden",
            ),
            (&operator, Action::ReadContents, series, "forbidden"),
            (&restorer, Action::ReadContents, series, "ok"),
            (&restorer, Action::RestoreOnto, host("web1"), "ok"),
            (
                &restorer,
                Action::RestoreOnto,
                host("localhost"),
                "forbidden",
            ),
            (&restorer, Action::Administer, Target::Global, "forbidden"),
            (
                &restorer,
                Action::View,
                Target::Repository(RepositoryId(1)),
                "ok",
            ),
        ];
        for (c, a, t, want) in cases {
            assert_eq!(kind(authorize(c, *a, *t)), *want, "{a:?} on {t:?} as {c:?}");
        }
    }
}

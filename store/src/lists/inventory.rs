//! Paged lists of users, API tokens, clients, repositories, schedules and policies.

use super::{asc, desc, flag, Page, PageRequest, Select, Sort};
use crate::access::id_in;
use crate::db::Value;
use crate::inventory::{
    client_row, repo_row, schedule_row, AUDIT_COLS, CLIENT_COLS, REPO_COLS, SCHEDULE_COLS,
};
use crate::policies::{policy_row, POLICY_COLS};
use crate::users::{user_row, TokenInfo, USER_COLS};
use crate::{parse_opt_ts, parse_ts, Result, Store};
use model::*;
use std::sync::Arc;

/// Orderings of users.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum UserOrder {
    #[default]
    EmailAsc,
    EmailDesc,
    CreatedAsc,
    CreatedDesc,
}

/// Which users to list.
#[derive(Debug, Clone, Default)]
pub struct UserListOptions {
    /// Substring of the email, first or last name.
    pub search: Option<String>,
    pub is_superuser: Option<bool>,
    pub is_active: Option<bool>,
    pub order: UserOrder,
    pub page: PageRequest,
}

/// Orderings of API tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ApiTokenOrder {
    #[default]
    CreatedAsc,
    CreatedDesc,
    NameAsc,
    NameDesc,
}

/// Which of a user's unrevoked API tokens to list.
#[derive(Debug, Clone)]
pub struct ApiTokenListOptions {
    pub user: UserId,
    /// Substring of the token's name.
    pub search: Option<String>,
    pub order: ApiTokenOrder,
    pub page: PageRequest,
}

/// Orderings of clients.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ClientOrder {
    #[default]
    HostnameAsc,
    HostnameDesc,
    CreatedAsc,
    CreatedDesc,
}

/// Which clients to list.
#[derive(Debug, Clone, Default)]
pub struct ClientListOptions {
    /// Substring of the hostname, IP or hypervisor name.
    pub search: Option<String>,
    pub enabled: Option<bool>,
    pub ready: Option<bool>,
    /// Only what a non-superuser reaches (`None`: everything).
    pub scope: Option<Arc<Visibility>>,
    pub order: ClientOrder,
    pub page: PageRequest,
}

/// Orderings of repositories.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RepositoryOrder {
    #[default]
    NameAsc,
    NameDesc,
    CreatedAsc,
    CreatedDesc,
    SizeDesc,
}

/// Which repositories to list.
#[derive(Debug, Clone, Default)]
pub struct RepositoryListOptions {
    /// Substring of the name or path.
    pub search: Option<String>,
    pub enabled: Option<bool>,
    pub ready: Option<bool>,
    /// Only what a non-superuser reaches (`None`: everything).
    pub scope: Option<Arc<Visibility>>,
    pub order: RepositoryOrder,
    pub page: PageRequest,
}

/// Orderings of schedules.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ScheduleOrder {
    #[default]
    NameAsc,
    NameDesc,
    CreatedAsc,
    CreatedDesc,
}

/// Which schedules to list.
#[derive(Debug, Clone, Default)]
pub struct ScheduleListOptions {
    /// Substring of the name or crontab.
    pub search: Option<String>,
    pub enabled: Option<bool>,
    /// Only what a non-superuser reaches (`None`: everything).
    pub scope: Option<Arc<Visibility>>,
    pub order: ScheduleOrder,
    pub page: PageRequest,
}

/// Orderings of policies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PolicyOrder {
    #[default]
    NameAsc,
    NameDesc,
    CreatedAsc,
    CreatedDesc,
    /// Next scheduled run first; policies without one last.
    NextRunAsc,
}

/// Which policies to list.
#[derive(Debug, Clone, Default)]
pub struct PolicyListOptions {
    /// Substring of the name.
    pub search: Option<String>,
    pub policy_type: Option<PolicyType>,
    pub enabled: Option<bool>,
    /// Policies backing up this client.
    pub client: Option<ClientId>,
    pub repository: Option<RepositoryId>,
    pub schedule: Option<ScheduleId>,
    /// Only what a non-superuser reaches (`None`: everything).
    pub scope: Option<Arc<Visibility>>,
    pub order: PolicyOrder,
    pub page: PageRequest,
}

// Rows are created with increasing ids, so "created" orders by id: the primary key.
const BY_ID_ASC: Sort = asc("id");
const BY_ID_DESC: Sort = desc("id");

fn id(v: i64) -> Value {
    Value::Integer(v)
}

impl Store {
    pub fn list_users(&self, o: &UserListOptions) -> Result<Page<User>> {
        let mut q = Select::new("users", "id", USER_COLS.to_string());
        q.search(&["email", "first_name", "last_name"], o.search.as_deref())
            .eq("is_superuser", flag(o.is_superuser))
            .eq("is_active", flag(o.is_active));
        let sort = match o.order {
            UserOrder::EmailAsc => asc("lower(email)"),
            UserOrder::EmailDesc => desc("lower(email)"),
            UserOrder::CreatedAsc => BY_ID_ASC,
            UserOrder::CreatedDesc => BY_ID_DESC,
        };
        self.page(&q, sort, &o.page, user_row)
    }

    pub fn list_api_tokens(&self, o: &ApiTokenListOptions) -> Result<Page<TokenInfo>> {
        let mut q = Select::new(
            "tokens",
            "id",
            "id, name, kind, created, last_used, expires".into(),
        );
        q.filter(
            "user_id = ? AND revoked = 0 AND kind = 'api'",
            [id(o.user.0)],
        )
        .search(&["name"], o.search.as_deref());
        let sort = match o.order {
            ApiTokenOrder::CreatedAsc => BY_ID_ASC,
            ApiTokenOrder::CreatedDesc => BY_ID_DESC,
            ApiTokenOrder::NameAsc => asc("lower(name)"),
            ApiTokenOrder::NameDesc => desc("lower(name)"),
        };
        self.page(&q, sort, &o.page, |r| {
            Ok(TokenInfo {
                id: TokenId(r.get(0)?),
                name: r.get(1)?,
                kind: r.get(2)?,
                created: parse_ts(&r.get::<_, String>(3)?),
                last_used: parse_opt_ts(r.get(4)?),
                expires: parse_opt_ts(r.get(5)?),
            })
        })
    }

    pub fn list_clients(&self, o: &ClientListOptions) -> Result<Page<Client>> {
        let mut q = Select::new("clients", "id", format!("{CLIENT_COLS}, {AUDIT_COLS}"));
        q.search(&["hostname", "ip", "hypervisor_name"], o.search.as_deref())
            .eq("enabled", flag(o.enabled))
            .eq("ready", flag(o.ready));
        if let Some(v) = &o.scope {
            q.filter(&id_in("id", v.clients.iter().map(|c| c.0)), []);
        }
        let sort = match o.order {
            ClientOrder::HostnameAsc => asc("lower(hostname)"),
            ClientOrder::HostnameDesc => desc("lower(hostname)"),
            ClientOrder::CreatedAsc => BY_ID_ASC,
            ClientOrder::CreatedDesc => BY_ID_DESC,
        };
        self.page(&q, sort, &o.page, client_row)
    }

    pub fn list_repositories(&self, o: &RepositoryListOptions) -> Result<Page<Repository>> {
        let mut q = Select::new("repositories", "id", format!("{REPO_COLS}, {AUDIT_COLS}"));
        q.search(&["name", "path"], o.search.as_deref())
            .eq("enabled", flag(o.enabled))
            .eq("ready", flag(o.ready));
        if let Some(v) = &o.scope {
            q.filter(&id_in("id", v.repositories.iter().map(|r| r.0)), []);
        }
        let sort = match o.order {
            RepositoryOrder::NameAsc => asc("lower(name)"),
            RepositoryOrder::NameDesc => desc("lower(name)"),
            RepositoryOrder::CreatedAsc => BY_ID_ASC,
            RepositoryOrder::CreatedDesc => BY_ID_DESC,
            RepositoryOrder::SizeDesc => desc("deduplicated_size"),
        };
        self.page(&q, sort, &o.page, repo_row)
    }

    pub fn list_schedules(&self, o: &ScheduleListOptions) -> Result<Page<Schedule>> {
        let mut q = Select::new("schedules", "id", format!("{SCHEDULE_COLS}, {AUDIT_COLS}"));
        q.search(&["name", "crontab"], o.search.as_deref())
            .eq("enabled", flag(o.enabled));
        if let Some(v) = &o.scope {
            q.filter(&id_in("id", v.schedules.iter().map(|s| s.0)), []);
        }
        let sort = match o.order {
            ScheduleOrder::NameAsc => asc("lower(name)"),
            ScheduleOrder::NameDesc => desc("lower(name)"),
            ScheduleOrder::CreatedAsc => BY_ID_ASC,
            ScheduleOrder::CreatedDesc => BY_ID_DESC,
        };
        self.page(&q, sort, &o.page, schedule_row)
    }

    pub fn list_policies(&self, o: &PolicyListOptions) -> Result<Page<Policy>> {
        let mut q = Select::new("policies", "id", format!("{POLICY_COLS}, {AUDIT_COLS}"));
        q.search(&["name"], o.search.as_deref())
            .eq("policy_type", o.policy_type.map(|t| t.as_str().to_string()))
            .eq("enabled", flag(o.enabled))
            .eq("repository_id", o.repository.map(|r| r.0))
            .eq("schedule_id", o.schedule.map(|s| s.0));
        if let Some(c) = o.client {
            q.filter(
                "EXISTS (SELECT 1 FROM policy_clients pc WHERE pc.policy_id = policies.id AND pc.client_id = ?)",
                [id(c.0)],
            );
        }
        if let Some(v) = &o.scope {
            q.filter(&id_in("id", v.policies.iter().map(|p| p.0)), []);
        }
        let sort = match o.order {
            PolicyOrder::NameAsc => asc("lower(name)"),
            PolicyOrder::NameDesc => desc("lower(name)"),
            PolicyOrder::CreatedAsc => BY_ID_ASC,
            PolicyOrder::CreatedDesc => BY_ID_DESC,
            PolicyOrder::NextRunAsc => asc("COALESCE(next_run, '9999')"),
        };
        let mut page = self.page(&q, sort, &o.page, policy_row)?;
        for p in &mut page.items {
            p.clients = self.policy_clients(p.id)?;
            p.copies = self.policy_copies(p.id)?;
        }
        Ok(page)
    }
}

//! Users, their role and grants (superusers manage them), the caller's own account and
//! notification preferences.

use crate::{authorize, Action, Caller, Result, Service, ServiceError, Target};
use model::{Grant, GrantScope, Role, User, UserId, ValidationErrors};
use store::{NewUser, NotifyPrefs, Page, UserListOptions};

/// A new user. Without a password the account cannot log in until one is set (the original's
/// REST payload has none): a random one is stored.
#[derive(Debug, Clone, Default)]
pub struct UserSpec {
    pub email: String,
    pub password: Option<String>,
    pub first_name: String,
    pub last_name: String,
    pub is_superuser: Option<bool>,
    pub role: Option<Role>,
    pub grants: Vec<Grant>,
}

/// Changes to a user; `None` keeps a field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserChange {
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub is_superuser: Option<bool>,
    pub role: Option<Role>,
    pub grants: Option<Vec<Grant>>,
    pub password: Option<String>,
}

/// A user's role and grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserAccess {
    pub role: Role,
    pub grants: Vec<Grant>,
}

/// The role asked for by `role` and/or `is_superuser`, which must agree.
fn wanted_role(role: Option<Role>, is_superuser: Option<bool>) -> Result<Option<Role>> {
    match (role, is_superuser) {
        (Some(r), Some(s)) if (r == Role::Superuser) != s => Err(ServiceError::field(
            "role",
            format!("role {r} disagrees with is_superuser {s}: send one of them"),
        )),
        (Some(r), _) => Ok(Some(r)),
        (None, Some(true)) => Ok(Some(Role::Superuser)),
        (None, _) => Ok(None),
    }
}

/// Every client and policy the grants name must exist (checked before anything is written).
fn check_grants_exist(store: &store::Store, grants: &[Grant]) -> Result<()> {
    let mut errs = ValidationErrors::new();
    model::access::check_grants(&mut errs, "grants", grants);
    for g in grants {
        let missing = match g.scope {
            GrantScope::Client(c) => store.client(c).err().map(|_| format!("client {c}")),
            GrantScope::Policy(p) => store.policy(p).err().map(|_| format!("policy {p}")),
        };
        if let Some(what) = missing {
            errs.add("grants", format!("{what} does not exist"));
        }
    }
    Ok(errs.into_result()?)
}

fn random_password() -> String {
    use rand::distributions::{Alphanumeric, DistString};
    Alphanumeric.sample_string(&mut rand::rngs::OsRng, 40)
}

impl Service {
    /// The caller's own account.
    pub async fn me(&self, caller: &Caller) -> Result<User> {
        authorize(caller, Action::Authenticated, Target::Global)?;
        let id = caller.user_id().ok_or(ServiceError::Unauthenticated)?;
        self.run(move |i| Ok(i.store.user(id)?)).await
    }

    /// A user: yourself, or anyone as a superuser.
    pub async fn user(&self, caller: &Caller, id: UserId) -> Result<User> {
        self.own_or_admin(caller, id)?;
        self.run(move |i| Ok(i.store.user(id)?)).await
    }

    /// A user's role and grants: your own, or anyone's as a superuser.
    pub async fn user_access(&self, caller: &Caller, id: UserId) -> Result<UserAccess> {
        self.own_or_admin(caller, id)?;
        self.run(move |i| {
            Ok(UserAccess {
                role: i.store.user(id)?.role,
                grants: i.store.user_grants(id)?,
            })
        })
        .await
    }

    fn own_or_admin(&self, caller: &Caller, id: UserId) -> Result<()> {
        if caller.user_id() == Some(id) {
            authorize(caller, Action::Authenticated, Target::Global)
        } else {
            authorize(caller, Action::Administer, Target::Global)
        }
    }

    /// A page of users (superuser).
    pub async fn list_users(&self, caller: &Caller, o: UserListOptions) -> Result<Page<User>> {
        authorize(caller, Action::Administer, Target::Global)?;
        self.run(move |i| Ok(i.store.list_users(&o)?)).await
    }

    /// Every user by id (superuser).
    pub async fn users(&self, caller: &Caller) -> Result<Vec<User>> {
        authorize(caller, Action::Administer, Target::Global)?;
        self.run(|i| Ok(i.store.users()?)).await
    }

    /// Creates a user with a role (viewer unless said) and grants (superuser).
    pub async fn create_user(&self, caller: &Caller, spec: UserSpec) -> Result<User> {
        authorize(caller, Action::Administer, Target::Global)?;
        let role = wanted_role(spec.role, spec.is_superuser)?.unwrap_or(Role::Viewer);
        let by = caller.user_id();
        self.run(move |i| {
            check_grants_exist(&i.store, &spec.grants)?;
            let u = i.store.create_user(&NewUser {
                email: spec.email.trim().to_string(),
                password: spec.password.unwrap_or_else(random_password),
                first_name: spec.first_name,
                last_name: spec.last_name,
                is_superuser: role == Role::Superuser,
                role: Some(role),
            })?;
            i.store.set_user_grants(u.id, &spec.grants)?;
            tracing::info!(user = %u.id, role = %role, grants = spec.grants.len(), by = ?by, "user created");
            Ok(u)
        })
        .await
    }

    /// Changes a user's profile, role, grants or password (superuser). Nobody removes their own
    /// superuser role: another superuser must.
    pub async fn update_user(&self, caller: &Caller, id: UserId, c: UserChange) -> Result<User> {
        authorize(caller, Action::Administer, Target::Global)?;
        let role = wanted_role(c.role, c.is_superuser)?;
        let demoting = role.is_some_and(|r| r != Role::Superuser) || c.is_superuser == Some(false);
        if caller.user_id() == Some(id) && demoting {
            let field = if c.role.is_some() {
                "role"
            } else {
                "is_superuser"
            };
            return Err(ServiceError::field(
                field,
                "you cannot remove your own superuser role: ask another superuser",
            ));
        }
        if caller.user_id() == Some(id) && c.password.is_some() {
            return Err(ServiceError::field(
                "password",
                "change your own password with setPassword (current_password on REST): it needs the current one",
            ));
        }
        let by = caller.user_id();
        self.run(move |i| {
            if let Some(g) = &c.grants {
                check_grants_exist(&i.store, g)?;
            }
            let email = c.email.map(|e| e.trim().to_string());
            i.store.update_user(
                id,
                email.as_deref(),
                c.first_name.as_deref(),
                c.last_name.as_deref(),
                c.is_superuser,
            )?;
            if let Some(r) = role {
                i.store.set_user_role(id, r)?;
            }
            if let Some(g) = &c.grants {
                i.store.set_user_grants(id, g)?;
            }
            if let Some(pw) = &c.password {
                // Someone else's password: every session and API token of theirs ends.
                i.store.set_password_keeping(id, pw, None)?;
            }
            tracing::info!(user = %id, role = ?role, grants = ?c.grants.as_ref().map(Vec::len), by = ?by, "user changed");
            Ok(i.store.user(id)?)
        })
        .await
    }

    /// Deletes a user (superuser; not yourself).
    pub async fn delete_user(&self, caller: &Caller, id: UserId) -> Result<()> {
        authorize(caller, Action::Administer, Target::Global)?;
        if caller.user_id() == Some(id) {
            return Err(ServiceError::Conflict("you cannot delete yourself".into()));
        }
        self.run(move |i| Ok(i.store.delete_user(id)?)).await
    }

    /// Notification preferences of the caller, or of another user (superuser).
    pub async fn notify_prefs(&self, caller: &Caller, user: Option<UserId>) -> Result<NotifyPrefs> {
        let id = self.prefs_owner(caller, user)?;
        self.run(move |i| Ok(i.store.notify_prefs(id)?)).await
    }

    /// Changes notification preferences of the caller, or of another user (superuser).
    pub async fn set_notify_prefs(
        &self,
        caller: &Caller,
        user: Option<UserId>,
        change: impl FnOnce(&mut NotifyPrefs) + Send + 'static,
    ) -> Result<NotifyPrefs> {
        let id = self.prefs_owner(caller, user)?;
        self.run(move |i| {
            let mut p = i.store.notify_prefs(id)?;
            change(&mut p);
            Ok(i.store.set_notify_prefs(id, p)?)
        })
        .await
    }

    fn prefs_owner(&self, caller: &Caller, user: Option<UserId>) -> Result<UserId> {
        match user {
            Some(id) => {
                self.own_or_admin(caller, id)?;
                Ok(id)
            }
            None => {
                authorize(caller, Action::Authenticated, Target::Global)?;
                caller.user_id().ok_or_else(|| {
                    ServiceError::field("user_id", "the system has no preferences: name a user")
                })
            }
        }
    }
}

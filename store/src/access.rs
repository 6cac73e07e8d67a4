//! Roles and grants of users (`users.role`, `user_grants`), and the SQL terms that restrict a
//! list to what a non-superuser's [`Visibility`] reaches. Ids are integers formatted into the
//! SQL text, never user text.

use crate::db::params;
use crate::{Result, Store, StoreError};
use model::{ClientId, Grant, GrantScope, PolicyId, Role, UserId, ValidationErrors, Visibility};

/// The role stored in `users.role`; an unknown value reads as the least privileged role.
pub(crate) fn role_column(s: &str) -> Role {
    s.parse().unwrap_or(Role::Viewer)
}

/// `column IN (1, 2, 3)`; an empty set matches nothing.
pub(crate) fn id_in(column: &str, ids: impl IntoIterator<Item = i64>) -> String {
    let list: Vec<String> = ids.into_iter().map(|i| i.to_string()).collect();
    if list.is_empty() {
        "1 = 0".to_string()
    } else {
        format!("{column} IN ({})", list.join(", "))
    }
}

/// Rows of a series (client and policy columns) the visibility reaches.
pub(crate) fn series_sql(v: &Visibility, client: &str, policy: &str) -> String {
    format!(
        "({} OR {})",
        id_in(client, v.granted_clients.iter().map(|c| c.0)),
        id_in(policy, v.granted_policies.iter().map(|p| p.0))
    )
}

/// Jobs the visibility reaches (the rule of [`Visibility::job`]).
pub(crate) fn job_sql(v: &Visibility) -> String {
    format!(
        "(({series}) OR (client_id IS NULL AND {pol}) OR (policy_id IS NULL AND {cli}) \
         OR (policy_id IS NULL AND client_id IS NULL AND {repo}))",
        series = format_args!(
            "client_id IS NOT NULL AND policy_id IS NOT NULL AND {}",
            series_sql(v, "client_id", "policy_id")
        ),
        pol = id_in("policy_id", v.granted_policies.iter().map(|p| p.0)),
        cli = id_in("client_id", v.clients.iter().map(|c| c.0)),
        repo = id_in("repository_id", v.repositories.iter().map(|r| r.0)),
    )
}

impl Store {
    /// The grants of a user, clients first.
    pub fn user_grants(&self, user: UserId) -> Result<Vec<Grant>> {
        let conn = self.read();
        let mut st = conn.prepare(
            "SELECT client_id, policy_id, restore FROM user_grants WHERE user_id = ?1
             ORDER BY client_id IS NULL, client_id, policy_id",
        )?;
        let rows = st
            .query_map([user.0], |r| {
                let client: Option<i64> = r.get(0)?;
                let policy: Option<i64> = r.get(1)?;
                Ok((client, policy, r.get::<_, bool>(2)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows
            .into_iter()
            .filter_map(|(c, p, restore)| {
                let scope = match (c, p) {
                    (Some(c), _) => GrantScope::Client(ClientId(c)),
                    (None, Some(p)) => GrantScope::Policy(PolicyId(p)),
                    (None, None) => return None,
                };
                Some(Grant { scope, restore })
            })
            .collect())
    }

    /// The role of a user.
    pub fn user_role(&self, user: UserId) -> Result<Role> {
        Ok(self.user(user)?.role)
    }

    /// Sets a user's role (and `is_superuser` to match).
    pub fn set_user_role(&self, user: UserId, role: Role) -> Result<()> {
        let n = self.conn().execute(
            "UPDATE users SET role = ?2, is_superuser = ?3, modified = ?4 WHERE id = ?1",
            params![user.0, role.as_str(), role == Role::Superuser, crate::now()],
        )?;
        if n == 0 {
            return Err(StoreError::not_found("user", user));
        }
        Ok(())
    }

    /// Replaces a user's grants; a client or policy that does not exist is a validation error
    /// on `grants`.
    pub fn set_user_grants(&self, user: UserId, grants: &[Grant]) -> Result<()> {
        let mut errs = ValidationErrors::new();
        model::access::check_grants(&mut errs, "grants", grants);
        errs.into_result()?;
        self.user(user)?;
        let conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute("DELETE FROM user_grants WHERE user_id = ?1", [user.0])?;
        for g in grants {
            let (table, id, client, policy) = match g.scope {
                GrantScope::Client(c) => ("clients", c.0, Some(c.0), None),
                GrantScope::Policy(p) => ("policies", p.0, None, Some(p.0)),
            };
            let exists: bool = tx.query_row(
                &format!("SELECT EXISTS (SELECT 1 FROM {table} WHERE id = ?1)"),
                [id],
                |r| r.get(0),
            )?;
            if !exists {
                let kind = if client.is_some() { "client" } else { "policy" };
                return Err(ValidationErrors::single(
                    "grants",
                    format!("{kind} {id} does not exist"),
                )
                .into());
            }
            tx.execute(
                "INSERT INTO user_grants (user_id, client_id, policy_id, restore) VALUES (?1, ?2, ?3, ?4)",
                params![user.0, client, policy, g.restore],
            )?;
        }
        tx.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NewUser;

    #[test]
    fn roles_and_grants_round_trip() {
        let d = tempfile::tempdir().unwrap();
        let s = crate::testing::open(d.path());
        let u = s
            .create_user(&NewUser {
                email: "v@b.c".into(),
                password: "long enough".into(),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(u.role, Role::Viewer);
        let c = s
            .create_client(
                &model::ClientInput {
                    hostname: Some("web1".into()),
                    ..Default::default()
                },
                None,
            )
            .unwrap();
        let g = Grant {
            scope: GrantScope::Client(c.id),
            restore: true,
        };
        s.set_user_grants(u.id, &[g]).unwrap();
        assert_eq!(s.user_grants(u.id).unwrap(), vec![g]);
        let missing = Grant {
            scope: GrantScope::Policy(PolicyId(99)),
            restore: false,
        };
        assert!(matches!(
            s.set_user_grants(u.id, &[missing]),
            Err(StoreError::Validation(_))
        ));
        assert_eq!(
            s.user_grants(u.id).unwrap(),
            vec![g],
            "a failed set keeps the old grants"
        );
        s.set_user_role(u.id, Role::Operator).unwrap();
        assert_eq!(s.user(u.id).unwrap().role, Role::Operator);
        s.update_user(u.id, None, None, None, Some(true)).unwrap();
        assert_eq!(s.user(u.id).unwrap().role, Role::Superuser);
        s.update_user(u.id, None, None, None, Some(false)).unwrap();
        assert_eq!(s.user(u.id).unwrap().role, Role::Viewer);
        s.delete_client(c.id).unwrap();
        assert!(s.user_grants(u.id).unwrap().is_empty());
    }
}

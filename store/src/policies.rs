//! Policies: the relation of a schedule, a repository, a type and clients, with retention,
//! hooks and the `enabled` cascade.

use crate::db::{params, OptionalExtension, Row};
use crate::inventory::{audit, AUDIT_COLS};
use crate::{new_uuid, now, parse_opt_ts, ts, Result, Store, StoreError};
use chrono::{DateTime, Utc};
use model::*;

pub(crate) const POLICY_COLS: &str = "id, name, policy_type, extra_vars, repository_id, schedule_id, keep_hourly, keep_daily,
    keep_weekly, keep_monthly, keep_yearly, vmprovider, next_run, mode_pull, enabled, prehook, posthook, rpo_hours";

fn keep(r: &Row, i: usize) -> rusqlite::Result<Option<u32>> {
    Ok(r.get::<_, Option<i64>>(i)?
        .map(|v| v.clamp(0, u32::MAX as i64) as u32))
}

/// The five `keep_*` columns starting at column `first`.
fn retention(r: &Row, first: usize) -> rusqlite::Result<Retention> {
    Ok(Retention {
        keep_hourly: keep(r, first)?,
        keep_daily: keep(r, first + 1)?,
        keep_weekly: keep(r, first + 2)?,
        keep_monthly: keep(r, first + 3)?,
        keep_yearly: keep(r, first + 4)?,
    })
}

pub(crate) fn policy_row(r: &Row) -> rusqlite::Result<Policy> {
    let ptype: String = r.get(2)?;
    Ok(Policy {
        id: PolicyId(r.get(0)?),
        name: r.get(1)?,
        policy_type: ptype.parse().unwrap_or(PolicyType::Folders),
        extra_vars: r.get(3)?,
        clients: Vec::new(),
        copies: Vec::new(),
        repository: RepositoryId(r.get(4)?),
        schedule: ScheduleId(r.get(5)?),
        retention: retention(r, 6)?,
        vmprovider: r.get(11)?,
        next_run: parse_opt_ts(r.get(12)?),
        mode_pull: r.get(13)?,
        enabled: r.get(14)?,
        prehook: r.get(15)?,
        posthook: r.get(16)?,
        rpo_hours: keep(r, 17)?,
        audit: audit(r, 18)?,
    })
}

/// Replaces the copy repositories of a policy. A copy given without settings keeps the ones it
/// had (`current`), or none for a new copy.
fn set_copies(
    tx: &crate::db::Conn,
    id: PolicyId,
    copies: &[CopyInput],
    current: &[PolicyCopy],
) -> Result<()> {
    tx.execute("DELETE FROM policy_copies WHERE policy_id = ?1", [id.0])?;
    for (position, c) in copies.iter().enumerate() {
        let settings = c.settings.unwrap_or_else(|| {
            current
                .iter()
                .find(|p| p.repository.0 == c.repository)
                .map(CopySettings::from)
                .unwrap_or_default()
        });
        tx.execute(
            "INSERT INTO policy_copies (policy_id, repository_id, position, keep_hourly, keep_daily,
               keep_weekly, keep_monthly, keep_yearly, offset_minutes)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                id.0,
                c.repository,
                position as i64,
                settings.keep_hourly,
                settings.keep_daily,
                settings.keep_weekly,
                settings.keep_monthly,
                settings.keep_yearly,
                settings.offset_minutes.unwrap_or(0)
            ],
        )?;
    }
    Ok(())
}

impl Store {
    fn check_policy_refs(&self, input: &PolicyInput) -> Result<()> {
        let mut e = ValidationErrors::new();
        if let Some(r) = input.repository {
            if self.repository(RepositoryId(r)).is_err() {
                e.add("repository", format!("repository {r} does not exist"));
            }
        }
        if let Some(s) = input.schedule {
            if self.schedule(ScheduleId(s)).is_err() {
                e.add("schedule", format!("schedule {s} does not exist"));
            }
        }
        for c in input.clients.iter().flatten() {
            if self.client(ClientId(*c)).is_err() {
                e.add("clients", format!("client {c} does not exist"));
            }
        }
        for c in input.copies.iter().flatten() {
            let r = c.repository;
            if self.repository(RepositoryId(r)).is_err() {
                e.add("copies", format!("repository {r} does not exist"));
            }
        }
        Ok(e.into_result()?)
    }

    fn next_run_for(&self, schedule: ScheduleId) -> Result<Option<String>> {
        let s = self.schedule(schedule)?;
        Ok(s.cron().and_then(|c| c.next_after(Utc::now())).map(ts))
    }

    pub fn create_policy(&self, input: &PolicyInput, by: Option<UserId>) -> Result<Policy> {
        input.validate(None)?;
        self.check_policy_refs(input)?;
        let schedule = ScheduleId(input.schedule.unwrap_or_default());
        let next = self.next_run_for(schedule)?;
        // Database passwords are sealed; the column keeps the masked text.
        let vars = self.seal_extra_vars(input.extra_vars.as_deref().unwrap_or_default())?;
        let conn = self.conn();
        let tx = conn.transaction()?;
        let n = now();
        let k = |v: Option<Option<i64>>| v.flatten();
        let new_id = tx.insert(
            "INSERT INTO policies (uuid, name, policy_type, extra_vars, repository_id, schedule_id, keep_hourly, keep_daily,
               keep_weekly, keep_monthly, keep_yearly, vmprovider, next_run, mode_pull, enabled, prehook, posthook,
               created, modified, created_by, modified_by, extra_vars_sealed, rpo_hours)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?18, ?19, ?19, ?20, ?21)",
            params![
                new_uuid(),
                input.name.as_deref().unwrap_or_default().trim(),
                input.policy_type,
                vars.masked,
                input.repository,
                schedule.0,
                k(input.keep_hourly),
                k(input.keep_daily),
                k(input.keep_weekly),
                k(input.keep_monthly),
                k(input.keep_yearly),
                input.vmprovider.clone().unwrap_or_default(),
                next,
                input.mode_pull.unwrap_or(false),
                input.enabled.unwrap_or(true),
                input.prehook.clone().unwrap_or_default(),
                input.posthook.clone().unwrap_or_default(),
                n,
                by.map(|u| u.0),
                vars.sealed,
                k(input.rpo_hours)
            ],
        )?;
        let id = new_id;
        for c in input.clients.iter().flatten() {
            tx.execute(
                "INSERT OR IGNORE INTO policy_clients (policy_id, client_id) VALUES (?1, ?2)",
                params![id, c],
            )?;
        }
        if let Some(copies) = &input.copies {
            set_copies(&tx, PolicyId(id), copies, &[])?;
        }
        tx.commit()?;
        drop(conn);
        self.policy(PolicyId(id))
    }

    pub fn policy(&self, id: PolicyId) -> Result<Policy> {
        let mut p = self
            .read()
            .query_row(
                &format!("SELECT {POLICY_COLS}, {AUDIT_COLS} FROM policies WHERE id = ?1"),
                [id.0],
                policy_row,
            )
            .optional()?
            .ok_or_else(|| StoreError::not_found("policy", id))?;
        p.clients = self.policy_clients(id)?;
        p.copies = self.policy_copies(id)?;
        Ok(p)
    }

    /// The copy repositories of a policy with their settings, in order.
    pub(crate) fn policy_copies(&self, id: PolicyId) -> Result<Vec<PolicyCopy>> {
        let conn = self.read();
        let mut st = conn.prepare(
            "SELECT repository_id, keep_hourly, keep_daily, keep_weekly, keep_monthly, keep_yearly,
               offset_minutes
             FROM policy_copies WHERE policy_id = ?1 ORDER BY position",
        )?;
        let rows = st
            .query_map([id.0], |r| {
                Ok(PolicyCopy {
                    repository: RepositoryId(r.get(0)?),
                    retention: retention(r, 1)?,
                    offset_minutes: keep(r, 6)?.unwrap_or(0),
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    pub(crate) fn policy_clients(&self, id: PolicyId) -> Result<Vec<ClientId>> {
        let conn = self.read();
        let mut st = conn.prepare(
            "SELECT client_id FROM policy_clients WHERE policy_id = ?1 ORDER BY client_id",
        )?;
        let rows = st
            .query_map([id.0], |r| Ok(ClientId(r.get(0)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    pub fn policies(&self) -> Result<Vec<Policy>> {
        let mut list = {
            let conn = self.read();
            let mut st = conn.prepare(&format!(
                "SELECT {POLICY_COLS}, {AUDIT_COLS} FROM policies ORDER BY id"
            ))?;

            st.query_map([], policy_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?
        };
        for p in &mut list {
            p.clients = self.policy_clients(p.id)?;
            p.copies = self.policy_copies(p.id)?;
        }
        Ok(list)
    }

    pub fn update_policy(
        &self,
        id: PolicyId,
        input: &PolicyInput,
        by: Option<UserId>,
    ) -> Result<Policy> {
        let current = self.policy(id)?;
        // A masked secret sent back (e.g. a database password read through the API) keeps the
        // stored value.
        let unmasked;
        let input = match &input.extra_vars {
            Some(v) => {
                let stored = self.policy_extra_vars(id)?;
                unmasked = PolicyInput {
                    extra_vars: Some(model::policy_type::unredact_extra_vars(v, stored.expose())),
                    ..input.clone()
                };
                &unmasked
            }
            None => input,
        };
        input.validate(Some(&current))?;
        self.check_policy_refs(input)?;
        let vars = input
            .extra_vars
            .as_deref()
            .map(|v| self.seal_extra_vars(v))
            .transpose()?;
        let conn = self.conn();
        let tx = conn.transaction()?;
        // keep_* are Option<Option<_>>: outer None = unchanged, inner None = cleared.
        let keep_sql = |col: &str, v: Option<Option<i64>>| -> (String, Option<i64>, bool) {
            (col.to_string(), v.flatten(), v.is_some())
        };
        tx.execute(
            "UPDATE policies SET name = COALESCE(?2, name), policy_type = COALESCE(?3, policy_type),
               extra_vars = COALESCE(?4, extra_vars), repository_id = COALESCE(?5, repository_id),
               schedule_id = COALESCE(?6, schedule_id), vmprovider = COALESCE(?7, vmprovider),
               mode_pull = COALESCE(?8, mode_pull), enabled = COALESCE(?9, enabled),
               prehook = COALESCE(?10, prehook), posthook = COALESCE(?11, posthook), modified = ?12, modified_by = ?13
             WHERE id = ?1",
            params![
                id.0,
                input.name.as_deref().map(str::trim),
                input.policy_type,
                vars.as_ref().map(|v| &v.masked),
                input.repository,
                input.schedule,
                input.vmprovider,
                input.mode_pull,
                input.enabled,
                input.prehook,
                input.posthook,
                now(),
                by.map(|u| u.0)
            ],
        )?;
        if let Some(v) = &vars {
            tx.execute(
                "UPDATE policies SET extra_vars_sealed = ?2 WHERE id = ?1",
                params![id.0, v.sealed],
            )?;
        }
        for (col, value, set) in [
            keep_sql("keep_hourly", input.keep_hourly),
            keep_sql("keep_daily", input.keep_daily),
            keep_sql("keep_weekly", input.keep_weekly),
            keep_sql("keep_monthly", input.keep_monthly),
            keep_sql("keep_yearly", input.keep_yearly),
            keep_sql("rpo_hours", input.rpo_hours),
        ] {
            if set {
                tx.execute(
                    &format!("UPDATE policies SET {col} = ?2 WHERE id = ?1"),
                    params![id.0, value],
                )?;
            }
        }
        if let Some(copies) = &input.copies {
            set_copies(&tx, id, copies, &current.copies)?;
        }
        if let Some(clients) = &input.clients {
            tx.execute("DELETE FROM policy_clients WHERE policy_id = ?1", [id.0])?;
            for c in clients {
                tx.execute(
                    "INSERT OR IGNORE INTO policy_clients (policy_id, client_id) VALUES (?1, ?2)",
                    params![id.0, c],
                )?;
            }
        }
        tx.commit()?;
        drop(conn);
        self.refresh_next_runs()?;
        self.policy(id)
    }

    pub fn delete_policy(&self, id: PolicyId) -> Result<()> {
        if self
            .conn()
            .execute("DELETE FROM policies WHERE id = ?1", [id.0])?
            == 0
        {
            return Err(StoreError::not_found("policy", id));
        }
        Ok(())
    }

    pub(crate) fn policy_names_where(&self, column: &str, id: i64) -> Result<Vec<String>> {
        let conn = self.read();
        let mut st = conn.prepare(&format!(
            "SELECT name FROM policies WHERE {column} = ?1 ORDER BY id"
        ))?;
        let rows = st
            .query_map([id], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<String>>>()?;
        Ok(rows)
    }

    /// Names of the policies that keep a copy in repository `id`.
    pub(crate) fn policy_names_copying_to(&self, id: RepositoryId) -> Result<Vec<String>> {
        let conn = self.read();
        let mut st = conn.prepare(
            "SELECT p.name FROM policies p JOIN policy_copies c ON c.policy_id = p.id
             WHERE c.repository_id = ?1 ORDER BY p.id",
        )?;
        let rows = st
            .query_map([id.0], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<String>>>()?;
        Ok(rows)
    }

    /// Why a policy cannot run now (the `enabled` cascade); empty when it can.
    pub fn policy_blockers(&self, p: &Policy) -> Result<Vec<String>> {
        let mut why = Vec::new();
        if !p.enabled {
            why.push(format!("policy {:?} is disabled", p.name));
        }
        let s = self.schedule(p.schedule)?;
        if !s.enabled {
            why.push(format!("schedule {:?} is disabled", s.name));
        }
        let r = self.repository(p.repository)?;
        if !r.enabled {
            why.push(format!("repository {:?} is disabled", r.name));
        }
        let clients = p
            .clients
            .iter()
            .map(|c| self.client(*c))
            .collect::<Result<Vec<_>>>()?;
        if clients.is_empty() {
            why.push("policy has no clients".to_string());
        } else if clients.iter().all(|c| !c.enabled) {
            why.push("every client of the policy is disabled".to_string());
        }
        Ok(why)
    }

    /// Recomputes `next_run` of every policy from its schedule (after schedule changes and
    /// after a schedule fired).
    pub fn refresh_next_runs(&self) -> Result<()> {
        for p in self.policies()? {
            self.set_next_run(p.id, self.next_run_for(p.schedule)?)?;
        }
        Ok(())
    }

    fn set_next_run(&self, id: PolicyId, next: Option<String>) -> Result<()> {
        self.conn().execute(
            "UPDATE policies SET next_run = ?2 WHERE id = ?1",
            params![id.0, next],
        )?;
        Ok(())
    }

    /// Policies whose `next_run` is due at `now`; advances their `next_run` past `now` so that
    /// each firing is taken once: the advance is a compare-and-set on the `next_run` read, so
    /// of several nodes sharing the database exactly one takes each firing.
    pub fn take_due_policies(&self, now: DateTime<Utc>) -> Result<Vec<Policy>> {
        let due: Vec<(i64, String)> = {
            let conn = self.conn();
            conn.query_map(
                "SELECT id, next_run FROM policies WHERE next_run IS NOT NULL AND next_run <= ?1",
                [ts(now)],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?
        };
        let mut out = Vec::new();
        for (id, was) in due {
            let p = self.policy(PolicyId(id))?;
            let next = self
                .schedule(p.schedule)?
                .cron()
                .and_then(|c| c.next_after(now))
                .map(ts);
            let taken = self.conn().execute(
                "UPDATE policies SET next_run = ?2 WHERE id = ?1 AND next_run = ?3",
                params![p.id.0, next, was],
            )?;
            if taken == 1 {
                out.push(p);
            }
        }
        Ok(out)
    }
}

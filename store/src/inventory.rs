//! Clients, repositories and schedules: create, read, partial update, delete.

use crate::db::{params, OptionalExtension, Row};
use crate::{new_uuid, now, parse_ts, unique_conflict, Result, Store, StoreError};
use model::*;

pub(crate) fn audit(r: &Row, first: usize) -> rusqlite::Result<Audit> {
    Ok(Audit {
        created: parse_ts(&r.get::<_, String>(first)?),
        modified: parse_ts(&r.get::<_, String>(first + 1)?),
        created_by: r.get::<_, Option<i64>>(first + 2)?.map(UserId),
        modified_by: r.get::<_, Option<i64>>(first + 3)?.map(UserId),
        uuid: r.get(first + 4)?,
    })
}

pub(crate) const AUDIT_COLS: &str = "created, modified, created_by, modified_by, uuid";

pub(crate) const CLIENT_COLS: &str =
    "id, hostname, port, ip, version, ready, hypervisor_ready, hypervisor_name, enabled, os";

pub(crate) fn client_row(r: &Row) -> rusqlite::Result<Client> {
    Ok(Client {
        id: ClientId(r.get(0)?),
        hostname: r.get(1)?,
        port: r.get::<_, i64>(2)?.clamp(1, 65535) as u16,
        ip: r.get(3)?,
        version: r.get(4)?,
        ready: r.get(5)?,
        hypervisor_ready: r.get(6)?,
        hypervisor_name: r.get(7)?,
        enabled: r.get(8)?,
        os: r.get(9)?,
        audit: audit(r, 10)?,
    })
}

pub(crate) const REPO_COLS: &str =
    "id, name, path, repository_key IS NOT NULL, original_size, compressed_size, deduplicated_size, ready, enabled, check_cron";

pub(crate) fn repo_row(r: &Row) -> rusqlite::Result<Repository> {
    Ok(Repository {
        id: RepositoryId(r.get(0)?),
        name: r.get(1)?,
        path: r.get(2)?,
        has_key: r.get(3)?,
        original_size: r.get(4)?,
        compressed_size: r.get(5)?,
        deduplicated_size: r.get(6)?,
        ready: r.get(7)?,
        enabled: r.get(8)?,
        check_cron: r.get(9)?,
        audit: audit(r, 10)?,
    })
}

pub(crate) const SCHEDULE_COLS: &str = "id, name, crontab, enabled";

pub(crate) fn schedule_row(r: &Row) -> rusqlite::Result<Schedule> {
    Ok(Schedule {
        id: ScheduleId(r.get(0)?),
        name: r.get(1)?,
        crontab: r.get(2)?,
        enabled: r.get(3)?,
        audit: audit(r, 4)?,
    })
}

impl Store {
    // ---- clients ----

    pub fn create_client(&self, input: &ClientInput, by: Option<UserId>) -> Result<Client> {
        input.validate(true)?;
        let hostname = input.hostname.clone().unwrap_or_default();
        let conn = self.conn();
        let n = now();
        let new_id = conn.insert(
            "INSERT INTO clients (uuid, hostname, port, ip, version, ready, hypervisor_ready, hypervisor_name, enabled,
                                  created, modified, created_by, modified_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, ?11, ?11)",
            params![
                new_uuid(),
                hostname,
                input.port.unwrap_or(22),
                input.ip.clone().unwrap_or_default(),
                input.version.clone().unwrap_or_default(),
                input.ready.unwrap_or(false),
                input.hypervisor_ready.unwrap_or(false),
                input.hypervisor_name.clone().unwrap_or_default(),
                input.enabled.unwrap_or(true),
                n,
                by.map(|u| u.0),
            ],
        )
        .map_err(|e| unique_conflict(e, "hostname", &hostname))?;
        let id = ClientId(new_id);
        drop(conn);
        self.client(id)
    }

    pub fn client(&self, id: ClientId) -> Result<Client> {
        self.read()
            .query_row(
                &format!("SELECT {CLIENT_COLS}, {AUDIT_COLS} FROM clients WHERE id = ?1"),
                [id.0],
                client_row,
            )
            .optional()?
            .ok_or_else(|| StoreError::not_found("client", id))
    }

    pub fn clients(&self) -> Result<Vec<Client>> {
        let conn = self.read();
        let mut st = conn.prepare(&format!(
            "SELECT {CLIENT_COLS}, {AUDIT_COLS} FROM clients ORDER BY id"
        ))?;
        let rows = st
            .query_map([], client_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    pub fn update_client(
        &self,
        id: ClientId,
        input: &ClientInput,
        by: Option<UserId>,
    ) -> Result<Client> {
        input.validate(false)?;
        self.client(id)?;
        self.conn()
            .execute(
                "UPDATE clients SET hostname = COALESCE(?2, hostname), port = COALESCE(?3, port), ip = COALESCE(?4, ip),
                   version = COALESCE(?5, version), ready = COALESCE(?6, ready),
                   hypervisor_ready = COALESCE(?7, hypervisor_ready), hypervisor_name = COALESCE(?8, hypervisor_name),
                   enabled = COALESCE(?9, enabled), modified = ?10, modified_by = ?11
                 WHERE id = ?1",
                params![
                    id.0,
                    input.hostname,
                    input.port,
                    input.ip,
                    input.version,
                    input.ready,
                    input.hypervisor_ready,
                    input.hypervisor_name,
                    input.enabled,
                    now(),
                    by.map(|u| u.0)
                ],
            )
            .map_err(|e| unique_conflict(e, "hostname", input.hostname.as_deref().unwrap_or_default()))?;
        self.client(id)
    }

    /// Records what preparation found on a client and marks it ready.
    pub fn record_client_facts(&self, id: ClientId, facts: &ClientFacts) -> Result<Client> {
        let n = self.conn().execute(
            "UPDATE clients SET ip = ?2, version = ?3, os = ?4, ready = 1, modified = ?5 WHERE id = ?1",
            params![id.0, facts.ip, facts.version, facts.os, now()],
        )?;
        if n == 0 {
            return Err(StoreError::not_found("client", id));
        }
        self.client(id)
    }

    pub fn delete_client(&self, id: ClientId) -> Result<()> {
        if self
            .conn()
            .execute("DELETE FROM clients WHERE id = ?1", [id.0])?
            == 0
        {
            return Err(StoreError::not_found("client", id));
        }
        Ok(())
    }

    // ---- repositories ----

    pub fn create_repository(
        &self,
        input: &RepositoryInput,
        by: Option<UserId>,
    ) -> Result<Repository> {
        input.validate(true)?;
        let sealed = match &input.repository_key {
            Some(k) if !k.is_empty() && k != MASK => Some(self.key().seal(k)?),
            _ => None,
        };
        let path = input.path.clone().unwrap_or_default();
        let conn = self.conn();
        let n = now();
        let new_id = conn.insert(
            "INSERT INTO repositories (uuid, name, path, repository_key, ready, enabled, created, modified, created_by, modified_by, check_cron)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8, ?8, ?9)",
            params![
                new_uuid(),
                input.name.as_deref().unwrap_or_default().trim(),
                path,
                sealed,
                input.ready.unwrap_or(false),
                input.enabled.unwrap_or(true),
                n,
                by.map(|u| u.0),
                input.check_cron.as_deref().unwrap_or_default().trim()
            ],
        )
        .map_err(|e| unique_conflict(e, "path", &path))?;
        let id = RepositoryId(new_id);
        drop(conn);
        self.repository(id)
    }

    pub fn repository(&self, id: RepositoryId) -> Result<Repository> {
        self.read()
            .query_row(
                &format!("SELECT {REPO_COLS}, {AUDIT_COLS} FROM repositories WHERE id = ?1"),
                [id.0],
                repo_row,
            )
            .optional()?
            .ok_or_else(|| StoreError::not_found("repository", id))
    }

    pub fn repositories(&self) -> Result<Vec<Repository>> {
        let conn = self.read();
        let mut st = conn.prepare(&format!(
            "SELECT {REPO_COLS}, {AUDIT_COLS} FROM repositories ORDER BY id"
        ))?;
        let rows = st
            .query_map([], repo_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Updates a repository. A `repository_key` equal to the mask or empty leaves the stored
    /// passphrase unchanged.
    pub fn update_repository(
        &self,
        id: RepositoryId,
        input: &RepositoryInput,
        by: Option<UserId>,
    ) -> Result<Repository> {
        input.validate(false)?;
        self.repository(id)?;
        let sealed = match &input.repository_key {
            Some(k) if !k.is_empty() && k != MASK => Some(self.key().seal(k)?),
            _ => None,
        };
        self.conn()
            .execute(
                "UPDATE repositories SET name = COALESCE(?2, name), path = COALESCE(?3, path),
                   repository_key = COALESCE(?4, repository_key), ready = COALESCE(?5, ready),
                   enabled = COALESCE(?6, enabled), modified = ?7, modified_by = ?8,
                   check_cron = COALESCE(?9, check_cron)
                 WHERE id = ?1",
                params![
                    id.0,
                    input.name.as_deref().map(str::trim),
                    input.path,
                    sealed,
                    input.ready,
                    input.enabled,
                    now(),
                    by.map(|u| u.0),
                    input.check_cron.as_deref().map(str::trim)
                ],
            )
            .map_err(|e| unique_conflict(e, "path", input.path.as_deref().unwrap_or_default()))?;
        self.repository(id)
    }

    /// The decrypted borg passphrase of a repository, for the executor only.
    pub fn repository_passphrase(&self, id: RepositoryId) -> Result<Option<Secret>> {
        let sealed: Option<Vec<u8>> = self
            .read()
            .query_row(
                "SELECT repository_key FROM repositories WHERE id = ?1",
                [id.0],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| StoreError::not_found("repository", id))?;
        sealed.map(|s| self.key().open(&s)).transpose()
    }

    pub fn set_repository_sizes(
        &self,
        id: RepositoryId,
        original: i64,
        compressed: i64,
        dedup: i64,
    ) -> Result<()> {
        self.conn().execute(
            "UPDATE repositories SET original_size = ?2, compressed_size = ?3, deduplicated_size = ?4 WHERE id = ?1",
            params![id.0, original, compressed, dedup],
        )?;
        Ok(())
    }

    pub fn delete_repository(&self, id: RepositoryId) -> Result<()> {
        let mut users: Vec<String> = self.policy_names_where("repository_id", id.0)?;
        users.extend(self.policy_names_copying_to(id)?);
        if !users.is_empty() {
            return Err(StoreError::Conflict(format!(
                "repository {id} is used by policies {}: change or delete them first",
                users.join(", ")
            )));
        }
        if self
            .conn()
            .execute("DELETE FROM repositories WHERE id = ?1", [id.0])?
            == 0
        {
            return Err(StoreError::not_found("repository", id));
        }
        Ok(())
    }

    // ---- schedules ----

    pub fn create_schedule(&self, input: &ScheduleInput, by: Option<UserId>) -> Result<Schedule> {
        input.validate(true)?;
        let cron = CronExpr::parse(input.crontab.as_deref().unwrap_or_default())
            .map_err(|e| ValidationErrors::single("crontab", e.0))?;
        let conn = self.conn();
        let n = now();
        let new_id = conn.insert(
            "INSERT INTO schedules (uuid, name, crontab, enabled, created, modified, created_by, modified_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?6)",
            params![new_uuid(), input.name.as_deref().unwrap_or_default().trim(), cron.as_str(), input.enabled.unwrap_or(true), n, by.map(|u| u.0)],
        )?;
        let id = ScheduleId(new_id);
        drop(conn);
        self.schedule(id)
    }

    pub fn schedule(&self, id: ScheduleId) -> Result<Schedule> {
        self.read()
            .query_row(
                &format!("SELECT {SCHEDULE_COLS}, {AUDIT_COLS} FROM schedules WHERE id = ?1"),
                [id.0],
                schedule_row,
            )
            .optional()?
            .ok_or_else(|| StoreError::not_found("schedule", id))
    }

    pub fn schedules(&self) -> Result<Vec<Schedule>> {
        let conn = self.read();
        let mut st = conn.prepare(&format!(
            "SELECT {SCHEDULE_COLS}, {AUDIT_COLS} FROM schedules ORDER BY id"
        ))?;
        let rows = st
            .query_map([], schedule_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    pub fn update_schedule(
        &self,
        id: ScheduleId,
        input: &ScheduleInput,
        by: Option<UserId>,
    ) -> Result<Schedule> {
        input.validate(false)?;
        self.schedule(id)?;
        let crontab = input
            .crontab
            .as_deref()
            .map(|c| CronExpr::parse(c).map(|c| c.as_str().to_string()))
            .transpose()
            .map_err(|e| ValidationErrors::single("crontab", e.0))?;
        self.conn().execute(
            "UPDATE schedules SET name = COALESCE(?2, name), crontab = COALESCE(?3, crontab),
               enabled = COALESCE(?4, enabled), modified = ?5, modified_by = ?6 WHERE id = ?1",
            params![
                id.0,
                input.name.as_deref().map(str::trim),
                crontab,
                input.enabled,
                now(),
                by.map(|u| u.0)
            ],
        )?;
        self.refresh_next_runs()?;
        self.schedule(id)
    }

    pub fn delete_schedule(&self, id: ScheduleId) -> Result<()> {
        let users = self.policy_names_where("schedule_id", id.0)?;
        if !users.is_empty() {
            return Err(StoreError::Conflict(format!(
                "schedule {id} is used by policies {}: change or delete them first",
                users.join(", ")
            )));
        }
        if self
            .conn()
            .execute("DELETE FROM schedules WHERE id = ?1", [id.0])?
            == 0
        {
            return Err(StoreError::not_found("schedule", id));
        }
        Ok(())
    }
}

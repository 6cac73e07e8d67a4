//! VM module providers an administrator adds (the original's `module_name`, `module_type`,
//! `get_client`, `get_script`); Proxmox is built into the executor and cannot be stored.

use crate::db::{params, OptionalExtension, Row};
use crate::{now, parse_ts, unique_conflict, Result, Store, StoreError};
use chrono::{DateTime, Utc};
use model::{UserId, ValidationErrors};

/// Names of the providers built into the executor: reserved.
pub const BUILT_IN_VM_PROVIDERS: &[&str] = &["proxmox"];

/// A stored VM module provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmProviderRecord {
    pub id: i64,
    /// What `policy.vmprovider` names (letters, digits, `-`, `_`; case-insensitive).
    pub name: String,
    /// The name shown to users.
    pub module_name: String,
    /// Always `vm` for a provider usable by vm policies.
    pub module_type: String,
    /// The hypervisor that runs the backup: a hostname, `{hypervisor_name}` or `{hostname}`.
    pub client: String,
    /// Bash script run on the hypervisor with the VM's name as `$1`; stdout is the image.
    pub script: String,
    /// The image's file name in the archive (`{hostname}` replaced); empty: `HOSTNAME.img`.
    pub image: String,
    pub created: DateTime<Utc>,
    pub modified: DateTime<Utc>,
}

/// Fields of a provider to create (all but `image` required) or change (`None`: unchanged).
#[derive(Debug, Clone, Default)]
pub struct VmProviderInput {
    pub name: Option<String>,
    pub module_name: Option<String>,
    pub module_type: Option<String>,
    pub client: Option<String>,
    pub script: Option<String>,
    pub image: Option<String>,
}

impl VmProviderInput {
    fn validate(&self, create: bool) -> Result<(), ValidationErrors> {
        let mut e = ValidationErrors::new();
        match self.name.as_deref().map(str::trim) {
            None if create => e.add("name", "is required"),
            Some(n) if !valid_name(n) => e.add(
                "name",
                "must be 1 to 64 letters, digits, '-' or '_' (policies name it in vmprovider)",
            ),
            Some(n) if BUILT_IN_VM_PROVIDERS.contains(&n.to_lowercase().as_str()) => {
                e.add("name", format!("{n:?} is built in"))
            }
            _ => {}
        }
        match self.module_name.as_deref().map(str::trim) {
            None if create => e.add("moduleName", "is required"),
            Some("") => e.add("moduleName", "must not be empty"),
            Some(n) if n.len() > 128 => e.add("moduleName", "must be at most 128 bytes"),
            _ => {}
        }
        if let Some(t) = self.module_type.as_deref().map(str::trim) {
            if t != "vm" {
                e.add("moduleType", "must be \"vm\" for a VM module provider");
            }
        }
        if self.client.as_deref().is_some_and(|c| c.trim().is_empty()) {
            e.add(
                "client",
                "must name the hypervisor (a hostname or {hypervisor_name})",
            );
        }
        match self.script.as_deref() {
            None if create => e.add("script", "is required"),
            Some(s) if s.trim().is_empty() => e.add("script", "must not be empty"),
            Some(s) if s.len() > 65536 => e.add("script", "must be at most 64 KiB"),
            _ => {}
        }
        e.into_result()
    }
}

/// Whether `name` can name a provider.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

pub(crate) const VM_PROVIDER_COLS: &str =
    "id, name, module_name, module_type, client, script, image, created, modified";

pub(crate) fn vm_provider_row(r: &Row) -> rusqlite::Result<VmProviderRecord> {
    Ok(VmProviderRecord {
        id: r.get(0)?,
        name: r.get(1)?,
        module_name: r.get(2)?,
        module_type: r.get(3)?,
        client: r.get(4)?,
        script: r.get(5)?,
        image: r.get(6)?,
        created: parse_ts(&r.get::<_, String>(7)?),
        modified: parse_ts(&r.get::<_, String>(8)?),
    })
}

impl Store {
    pub fn create_vm_provider(
        &self,
        input: &VmProviderInput,
        by: Option<UserId>,
    ) -> Result<VmProviderRecord> {
        input.validate(true)?;
        let name = input
            .name
            .as_deref()
            .unwrap_or_default()
            .trim()
            .to_lowercase();
        let conn = self.conn();
        let n = now();
        conn.execute(
            "INSERT INTO vm_providers (name, module_name, module_type, client, script, image, created, modified,
               created_by, modified_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8, ?8)",
            params![
                name,
                input.module_name.as_deref().unwrap_or_default().trim(),
                input.module_type.as_deref().map_or("vm", str::trim),
                input.client.as_deref().map_or("{hypervisor_name}", str::trim),
                input.script.as_deref().unwrap_or_default(),
                input.image.as_deref().unwrap_or_default().trim(),
                n,
                by.map(|u| u.0)
            ],
        )
        .map_err(|e| unique_conflict(e, "name", &name))?;
        drop(conn);
        self.vm_provider(&name)?
            .ok_or_else(|| StoreError::not_found("vm provider", &name))
    }

    /// The stored provider named `name` (case-insensitive).
    pub fn vm_provider(&self, name: &str) -> Result<Option<VmProviderRecord>> {
        Ok(self
            .read()
            .query_row(
                &format!("SELECT {VM_PROVIDER_COLS} FROM vm_providers WHERE name = ?1"),
                [name.trim()],
                vm_provider_row,
            )
            .optional()?)
    }

    /// Every stored provider, by name.
    pub fn vm_providers(&self) -> Result<Vec<VmProviderRecord>> {
        let conn = self.read();
        let mut st = conn.prepare(&format!(
            "SELECT {VM_PROVIDER_COLS} FROM vm_providers ORDER BY name"
        ))?;
        let rows = st
            .query_map([], vm_provider_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    pub fn update_vm_provider(
        &self,
        name: &str,
        input: &VmProviderInput,
        by: Option<UserId>,
    ) -> Result<VmProviderRecord> {
        input.validate(false)?;
        let current = self
            .vm_provider(name)?
            .ok_or_else(|| StoreError::not_found("vm provider", name))?;
        let new_name = input.name.as_deref().map(|n| n.trim().to_lowercase());
        if new_name.as_deref().is_some_and(|n| n != current.name) {
            let users = self.policies_using_vm_provider(&current.name)?;
            if !users.is_empty() {
                return Err(StoreError::Validation(ValidationErrors::single(
                    "name",
                    format!(
                        "policies {} name this provider: change them first",
                        users.join(", ")
                    ),
                )));
            }
        }
        self.conn()
            .execute(
                "UPDATE vm_providers SET name = COALESCE(?2, name), module_name = COALESCE(?3, module_name),
                   module_type = COALESCE(?4, module_type), client = COALESCE(?5, client),
                   script = COALESCE(?6, script), image = COALESCE(?7, image), modified = ?8, modified_by = ?9
                 WHERE id = ?1",
                params![
                    current.id,
                    new_name,
                    input.module_name.as_deref().map(str::trim),
                    input.module_type.as_deref().map(str::trim),
                    input.client.as_deref().map(str::trim),
                    input.script,
                    input.image.as_deref().map(str::trim),
                    now(),
                    by.map(|u| u.0)
                ],
            )
            .map_err(|e| unique_conflict(e, "name", new_name.as_deref().unwrap_or_default()))?;
        let name = new_name.unwrap_or(current.name);
        self.vm_provider(&name)?
            .ok_or_else(|| StoreError::not_found("vm provider", &name))
    }

    /// Deletes a provider no policy names.
    pub fn delete_vm_provider(&self, name: &str) -> Result<()> {
        let users = self.policies_using_vm_provider(name)?;
        if !users.is_empty() {
            return Err(StoreError::Conflict(format!(
                "vm provider {name} is used by policies {}: change or delete them first",
                users.join(", ")
            )));
        }
        if self
            .conn()
            .execute("DELETE FROM vm_providers WHERE name = ?1", [name.trim()])?
            == 0
        {
            return Err(StoreError::not_found("vm provider", name));
        }
        Ok(())
    }

    fn policies_using_vm_provider(&self, name: &str) -> Result<Vec<String>> {
        let conn = self.read();
        let mut st = conn.prepare(
            "SELECT name FROM policies WHERE lower(trim(vmprovider)) = lower(trim(?1)) ORDER BY id",
        )?;
        let rows = st
            .query_map([name], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<String>>>()?;
        Ok(rows)
    }
}

//! Administration: the server's SSH key, pinned host keys, VM module providers (scripts shown
//! to superusers only).

use crate::{authorize, Action, Caller, Result, Service, ServiceError, Target};
use chrono::{DateTime, Utc};
use store::{HostKey, VmProviderInput, VmProviderRecord};

/// A VM module provider as the caller may see it (`script` is `None` for non-superusers).
#[derive(Debug, Clone)]
pub struct VmProvider {
    pub name: String,
    pub module_name: String,
    pub module_type: String,
    pub client: String,
    pub script: Option<String>,
    pub image: String,
    pub built_in: bool,
    pub created: Option<DateTime<Utc>>,
    pub modified: Option<DateTime<Utc>>,
    /// Stored id (0 for a built-in provider).
    pub id: i64,
}

impl VmProvider {
    fn stored(r: VmProviderRecord, show_script: bool) -> Self {
        VmProvider {
            name: r.name,
            module_name: r.module_name,
            module_type: r.module_type,
            client: r.client,
            script: show_script.then_some(r.script),
            image: r.image,
            built_in: false,
            created: Some(r.created),
            modified: Some(r.modified),
            id: r.id,
        }
    }
}

fn built_in(show_script: bool) -> Vec<VmProvider> {
    store::BUILT_IN_VM_PROVIDERS
        .iter()
        .filter_map(|n| executor::vm::provider(n, None).ok().map(|p| (n, p)))
        .map(|(n, p)| VmProvider {
            name: n.to_string(),
            module_name: p.module_name(),
            module_type: p.module_type(),
            client: "{hypervisor_name}".into(),
            script: show_script.then(|| p.get_script()),
            image: String::new(),
            built_in: true,
            created: None,
            modified: None,
            id: 0,
        })
        .collect()
}

fn refuse_built_in(name: &str) -> Result<()> {
    if store::BUILT_IN_VM_PROVIDERS.contains(&name.trim().to_lowercase().as_str()) {
        return Err(ServiceError::field("name", format!("{name:?} is built in")));
    }
    Ok(())
}

impl Service {
    /// The server's public SSH key, if generated or imported (any user: it is public).
    pub async fn ssh_public_key(&self, caller: &Caller) -> Result<Option<String>> {
        authorize(caller, Action::Authenticated, Target::Global)?;
        self.run(|i| Ok(executor::ssh::server_public_key(&i.store)?))
            .await
    }

    /// Generates a new server key pair (superuser); refused when one exists unless `replace`.
    pub async fn generate_ssh_key(&self, caller: &Caller, replace: bool) -> Result<String> {
        authorize(caller, Action::Administer, Target::Global)?;
        self.run(move |i| {
            if !replace && executor::ssh::server_public_key(&i.store)?.is_some() {
                return Err(ServiceError::Conflict(
                    "the server already has an SSH key: send {\"force\": true} to replace it"
                        .into(),
                ));
            }
            Ok(executor::ssh::generate_server_key(
                &i.store,
                "cyborgbackup",
            )?)
        })
        .await
    }

    /// Imports an OpenSSH private key as the server's (superuser).
    pub async fn import_ssh_key(
        &self,
        caller: &Caller,
        private_key: String,
        passphrase: Option<String>,
    ) -> Result<String> {
        authorize(caller, Action::Administer, Target::Global)?;
        if private_key.len() > 64 * 1024 {
            return Err(ServiceError::field("privateKey", "must be at most 64 KiB"));
        }
        let pass = passphrase.filter(|p| !p.is_empty()).map(model::Secret::new);
        self.run(move |i| {
            Ok(executor::ssh::import_server_key(
                &i.store,
                &private_key,
                pass.as_ref(),
            )?)
        })
        .await
    }

    /// Pinned host keys (superuser: they name every host).
    pub async fn host_keys(&self, caller: &Caller) -> Result<Vec<HostKey>> {
        authorize(caller, Action::Administer, Target::Global)?;
        self.run(|i| Ok(i.store.host_keys()?)).await
    }

    /// Accepts the changed key a host presented (superuser).
    pub async fn accept_host_key(
        &self,
        caller: &Caller,
        host: String,
        port: i32,
    ) -> Result<HostKey> {
        authorize(caller, Action::Administer, Target::Global)?;
        let port = u16::try_from(port)
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| ServiceError::field("port", "must be between 1 and 65535"))?;
        let by = match caller {
            Caller::User(u) => u.email.clone(),
            _ => "system".into(),
        };
        self.run(move |i| Ok(i.store.accept_host_key(&host, port, &by)?))
            .await
    }

    /// Every VM module provider, built-in ones first.
    pub async fn vm_providers(&self, caller: &Caller) -> Result<Vec<VmProvider>> {
        authorize(caller, Action::View, Target::Global)?;
        let show = caller.is_superuser();
        let stored = self.run(|i| Ok(i.store.vm_providers()?)).await?;
        let mut all = built_in(show);
        all.extend(stored.into_iter().map(|r| VmProvider::stored(r, show)));
        Ok(all)
    }

    /// One VM module provider by name.
    pub async fn vm_provider(&self, caller: &Caller, name: &str) -> Result<VmProvider> {
        authorize(caller, Action::View, Target::Global)?;
        let show = caller.is_superuser();
        let wanted = name.trim().to_lowercase();
        if let Some(p) = built_in(show).into_iter().find(|p| p.name == wanted) {
            return Ok(p);
        }
        let name = name.to_string();
        self.run(move |i| {
            i.store
                .vm_provider(&wanted)?
                .map(|r| VmProvider::stored(r, show))
                .ok_or_else(|| ServiceError::NotFound(format!("vm provider {name} not found")))
        })
        .await
    }

    /// Adds a VM module provider (superuser).
    pub async fn create_vm_provider(
        &self,
        caller: &Caller,
        input: VmProviderInput,
    ) -> Result<VmProvider> {
        authorize(caller, Action::Administer, Target::Global)?;
        let by = caller.user_id();
        let r = self
            .run(move |i| Ok(i.store.create_vm_provider(&input, by)?))
            .await?;
        tracing::info!(provider = %r.name, by = ?by, "vm provider created");
        Ok(VmProvider::stored(r, true))
    }

    /// Changes a VM module provider (superuser; not a built-in one).
    pub async fn update_vm_provider(
        &self,
        caller: &Caller,
        name: String,
        input: VmProviderInput,
    ) -> Result<VmProvider> {
        authorize(caller, Action::Administer, Target::Global)?;
        refuse_built_in(&name)?;
        let by = caller.user_id();
        let r = self
            .run(move |i| Ok(i.store.update_vm_provider(&name, &input, by)?))
            .await?;
        tracing::info!(provider = %r.name, by = ?by, "vm provider updated");
        Ok(VmProvider::stored(r, true))
    }

    /// Deletes a VM module provider no policy uses (superuser).
    pub async fn delete_vm_provider(&self, caller: &Caller, name: String) -> Result<()> {
        authorize(caller, Action::Administer, Target::Global)?;
        refuse_built_in(&name)?;
        let by = caller.user_id();
        self.run(move |i| {
            i.store.delete_vm_provider(&name)?;
            tracing::info!(provider = %name, by = ?by, "vm provider deleted");
            Ok(())
        })
        .await
    }
}

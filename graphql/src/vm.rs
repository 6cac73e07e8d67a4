//! VM module providers (the vm policy type's `vmprovider`): the built-in Proxmox provider and
//! the ones an administrator adds, readable by every user and managed by superusers.

use crate::connection::{connection, page_request, Connection};
use crate::errors::{ApiError, ApiResult};
use crate::{admin, services, user};
use async_graphql::{Context, Enum, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use store::{Cursor, Page, SortKey, VmProviderRecord};

/// A VM module provider: a vm policy's backup runs `script` on the hypervisor `client` names,
/// with the VM's name as `$1`, and stores its stdout as `image` in the archive.
#[derive(SimpleObject, Clone)]
pub struct VmProvider {
    /// What a policy's `vmprovider` names.
    pub name: String,
    /// The name shown to users.
    pub module_name: String,
    /// `vm`.
    pub module_type: String,
    /// The hypervisor: a hostname, `{hypervisor_name}` (the client's) or `{hostname}`.
    pub client: String,
    pub script: String,
    /// The image's file name in the archive; empty: `HOSTNAME.img`.
    pub image: String,
    /// Built into the server (cannot be changed or deleted).
    pub built_in: bool,
    pub created: Option<DateTime<Utc>>,
    pub modified: Option<DateTime<Utc>>,
    #[graphql(skip)]
    id: i64,
}

impl From<VmProviderRecord> for VmProvider {
    fn from(r: VmProviderRecord) -> Self {
        VmProvider {
            name: r.name,
            module_name: r.module_name,
            module_type: r.module_type,
            client: r.client,
            script: r.script,
            image: r.image,
            built_in: false,
            created: Some(r.created),
            modified: Some(r.modified),
            id: r.id,
        }
    }
}

fn built_in() -> Vec<VmProvider> {
    store::BUILT_IN_VM_PROVIDERS
        .iter()
        .filter_map(|n| executor::vm::provider(n, None).ok().map(|p| (n, p)))
        .map(|(n, p)| VmProvider {
            name: n.to_string(),
            module_name: p.module_name(),
            module_type: p.module_type(),
            client: "{hypervisor_name}".into(),
            script: p.get_script(),
            image: String::new(),
            built_in: true,
            created: None,
            modified: None,
            id: 0,
        })
        .collect()
}

/// Fields of a VM module provider; all but `image`, `client` and `moduleType` are required to
/// create one, and unset fields are unchanged by an update.
#[derive(InputObject, Default)]
pub struct VmProviderInput {
    pub name: Option<String>,
    pub module_name: Option<String>,
    pub module_type: Option<String>,
    pub client: Option<String>,
    pub script: Option<String>,
    pub image: Option<String>,
}

impl From<VmProviderInput> for store::VmProviderInput {
    fn from(i: VmProviderInput) -> Self {
        store::VmProviderInput {
            name: i.name,
            module_name: i.module_name,
            module_type: i.module_type,
            client: i.client,
            script: i.script,
            image: i.image,
        }
    }
}

/// Orderings of VM module providers (default `NAME_ASC`).
#[derive(Enum, Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum VmProviderOrder {
    #[default]
    NameAsc,
    NameDesc,
}

#[derive(Default)]
pub struct VmQuery;

#[Object]
impl VmQuery {
    /// VM module providers, the built-in ones included. `search`: substring of the name or
    /// module name.
    #[graphql(complexity = "crate::cost::list(first.unwrap_or(50), child_complexity)")]
    async fn vm_providers(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50)] first: Option<i32>,
        after: Option<String>,
        search: Option<String>,
        order_by: Option<VmProviderOrder>,
    ) -> ApiResult<Connection<VmProvider>> {
        user(ctx)?;
        let order = order_by.unwrap_or_default();
        let req = page_request(first, after.as_deref(), &order)?;
        let needle = search.map(|s| s.trim().to_lowercase());
        let mut all: Vec<VmProvider> = built_in();
        all.extend(
            services(ctx)
                .store
                .vm_providers()?
                .into_iter()
                .map(VmProvider::from),
        );
        all.retain(|p| {
            needle.as_deref().is_none_or(|n| {
                p.name.to_lowercase().contains(n) || p.module_name.to_lowercase().contains(n)
            })
        });
        // Few providers: paged in memory on (name, id) like the store pages its tables.
        let key = |p: &VmProvider| (p.name.to_lowercase(), p.id);
        all.sort_by_key(key);
        if order == VmProviderOrder::NameDesc {
            all.reverse();
        }
        let total_count = all.len() as i64;
        if let Some(c) = &req.after {
            let SortKey::Text(k) = &c.key else {
                return Err(ApiError::field("after", "not a cursor of this list").into());
            };
            let at = (k.clone(), c.id);
            all.retain(|p| match order {
                VmProviderOrder::NameAsc => key(p) > at,
                VmProviderOrder::NameDesc => key(p) < at,
            });
        }
        let has_next_page = all.len() as i64 > req.first;
        all.truncate(req.first as usize);
        let end_cursor = all.last().map(|p| Cursor {
            key: SortKey::Text(p.name.to_lowercase()),
            id: p.id,
        });
        let page = Page {
            items: all,
            end_cursor,
            has_next_page,
            total_count,
        };
        Ok(connection(page, &req, &order, |p| p))
    }

    /// One VM module provider by name.
    async fn vm_provider(&self, ctx: &Context<'_>, name: String) -> ApiResult<VmProvider> {
        user(ctx)?;
        let wanted = name.trim().to_lowercase();
        if let Some(p) = built_in().into_iter().find(|p| p.name == wanted) {
            return Ok(p);
        }
        services(ctx)
            .store
            .vm_provider(&wanted)?
            .map(VmProvider::from)
            .ok_or_else(|| ApiError::NotFound(format!("vm provider {name} not found")).into())
    }
}

#[derive(Default)]
pub struct VmMutation;

#[Object]
impl VmMutation {
    /// Adds a VM module provider (superuser); `VALIDATION` on a bad or taken `name`.
    async fn create_vm_provider(
        &self,
        ctx: &Context<'_>,
        input: VmProviderInput,
    ) -> ApiResult<VmProvider> {
        let u = admin(ctx)?;
        let r = services(ctx)
            .store
            .create_vm_provider(&input.into(), Some(u.id))?;
        tracing::info!(provider = %r.name, by = %u.email, "vm provider created");
        Ok(r.into())
    }

    /// Changes a VM module provider (superuser); renaming one that policies name is refused.
    async fn update_vm_provider(
        &self,
        ctx: &Context<'_>,
        name: String,
        input: VmProviderInput,
    ) -> ApiResult<VmProvider> {
        let u = admin(ctx)?;
        refuse_built_in(&name)?;
        let r = services(ctx)
            .store
            .update_vm_provider(&name, &input.into(), Some(u.id))?;
        tracing::info!(provider = %r.name, by = %u.email, "vm provider updated");
        Ok(r.into())
    }

    /// Deletes a VM module provider no policy uses (superuser; `CONFLICT` otherwise).
    async fn delete_vm_provider(&self, ctx: &Context<'_>, name: String) -> ApiResult<bool> {
        let u = admin(ctx)?;
        refuse_built_in(&name)?;
        services(ctx).store.delete_vm_provider(&name)?;
        tracing::info!(provider = %name, by = %u.email, "vm provider deleted");
        Ok(true)
    }
}

fn refuse_built_in(name: &str) -> Result<(), ApiError> {
    if store::BUILT_IN_VM_PROVIDERS.contains(&name.trim().to_lowercase().as_str()) {
        return Err(ApiError::field("name", format!("{name:?} is built in")));
    }
    Ok(())
}

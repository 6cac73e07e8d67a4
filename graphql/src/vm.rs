//! VM module providers (the vm policy type's `vmprovider`): the built-in Proxmox provider and
//! the ones an administrator adds, readable by every user (scripts by superusers only) and
//! managed by superusers.

use crate::connection::{connection, page_request, Connection};
use crate::errors::{ApiError, ApiResult};
use crate::{caller, svc};
use async_graphql::{Context, Enum, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use service::types::{Cursor, Page, SortKey};

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
    /// The script; null unless you are a superuser.
    pub script: Option<String>,
    /// The image's file name in the archive; empty: `HOSTNAME.img`.
    pub image: String,
    /// Built into the server (cannot be changed or deleted).
    pub built_in: bool,
    pub created: Option<DateTime<Utc>>,
    pub modified: Option<DateTime<Utc>>,
    #[graphql(skip)]
    id: i64,
}

impl From<service::VmProvider> for VmProvider {
    fn from(p: service::VmProvider) -> Self {
        VmProvider {
            name: p.name,
            module_name: p.module_name,
            module_type: p.module_type,
            client: p.client,
            script: p.script,
            image: p.image,
            built_in: p.built_in,
            created: p.created,
            modified: p.modified,
            id: p.id,
        }
    }
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

impl From<VmProviderInput> for service::types::VmProviderInput {
    fn from(i: VmProviderInput) -> Self {
        service::types::VmProviderInput {
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
        let c = caller(ctx).await?;
        let order = order_by.unwrap_or_default();
        let req = page_request(first, after.as_deref(), &order)?;
        let needle = search.map(|s| s.trim().to_lowercase());
        let mut all: Vec<VmProvider> = svc(ctx)
            .vm_providers(&c)
            .await?
            .into_iter()
            .map(VmProvider::from)
            .collect();
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
        let c = caller(ctx).await?;
        Ok(svc(ctx).vm_provider(&c, &name).await?.into())
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
        let c = caller(ctx).await?;
        Ok(svc(ctx).create_vm_provider(&c, input.into()).await?.into())
    }

    /// Changes a VM module provider (superuser); renaming one that policies name is refused.
    async fn update_vm_provider(
        &self,
        ctx: &Context<'_>,
        name: String,
        input: VmProviderInput,
    ) -> ApiResult<VmProvider> {
        let c = caller(ctx).await?;
        Ok(svc(ctx)
            .update_vm_provider(&c, name, input.into())
            .await?
            .into())
    }

    /// Deletes a VM module provider no policy uses (superuser; `CONFLICT` otherwise).
    async fn delete_vm_provider(&self, ctx: &Context<'_>, name: String) -> ApiResult<bool> {
        let c = caller(ctx).await?;
        svc(ctx).delete_vm_provider(&c, name).await?;
        Ok(true)
    }
}

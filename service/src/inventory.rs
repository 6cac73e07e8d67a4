//! Clients, repositories, schedules and policies: reads (limited to what the caller's grants
//! reach, hooks and commands hidden from non-superusers) and changes (superusers).

use crate::{authorize, Action, Caller, Result, Service, ServiceError, Target};
use chrono::{DateTime, Utc};
use model::*;
use store::{
    ClientListOptions, Page, PolicyListOptions, RepositoryListOptions, ScheduleListOptions,
};

/// A policy as `caller` may see it: hooks and piped commands are shown to superusers only.
pub(crate) fn present_policy(caller: &Caller, mut p: Policy) -> Policy {
    if !caller.is_superuser() {
        for hook in [&mut p.prehook, &mut p.posthook] {
            if !hook.is_empty() {
                *hook = MASK.to_string();
            }
        }
        p.extra_vars = policy_type::hide_extra_vars_commands(&p.extra_vars);
    }
    p
}

macro_rules! crud {
    ($get:ident, $create:ident, $update:ident, $delete:ident, $id:ty, $input:ty, $out:ty, $target:ident) => {
        /// One object, if the caller's grants reach it.
        pub async fn $get(&self, caller: &Caller, id: $id) -> Result<$out> {
            authorize(caller, Action::View, Target::$target(id))?;
            self.run(move |i| Ok(i.store.$get(id)?)).await
        }

        /// Creates an object (superuser).
        pub async fn $create(&self, caller: &Caller, input: $input) -> Result<$out> {
            authorize(caller, Action::Administer, Target::Global)?;
            let by = caller.user_id();
            self.run(move |i| Ok(i.store.$create(&input, by)?)).await
        }

        /// Changes an object (superuser).
        pub async fn $update(&self, caller: &Caller, id: $id, input: $input) -> Result<$out> {
            authorize(caller, Action::Administer, Target::Global)?;
            let by = caller.user_id();
            self.run(move |i| Ok(i.store.$update(id, &input, by)?))
                .await
        }

        /// Deletes an object (superuser).
        pub async fn $delete(&self, caller: &Caller, id: $id) -> Result<()> {
            authorize(caller, Action::Administer, Target::Global)?;
            self.run(move |i| Ok(i.store.$delete(id)?)).await
        }
    };
}

impl Service {
    crud!(
        client,
        create_client,
        update_client,
        delete_client,
        ClientId,
        ClientInput,
        Client,
        Client
    );
    crud!(
        repository,
        create_repository,
        update_repository,
        delete_repository,
        RepositoryId,
        RepositoryInput,
        Repository,
        Repository
    );
    crud!(
        schedule,
        create_schedule,
        update_schedule,
        delete_schedule,
        ScheduleId,
        ScheduleInput,
        Schedule,
        Schedule
    );

    /// One policy, if the caller's grants reach it.
    pub async fn policy(&self, caller: &Caller, id: PolicyId) -> Result<Policy> {
        authorize(caller, Action::View, Target::Policy(id))?;
        let p = self.run(move |i| Ok(i.store.policy(id)?)).await?;
        Ok(present_policy(caller, p))
    }

    /// Creates a policy (superuser).
    pub async fn create_policy(&self, caller: &Caller, input: PolicyInput) -> Result<Policy> {
        authorize(caller, Action::Administer, Target::Global)?;
        let by = caller.user_id();
        self.run(move |i| Ok(i.store.create_policy(&input, by)?))
            .await
    }

    /// Changes a policy (superuser).
    pub async fn update_policy(
        &self,
        caller: &Caller,
        id: PolicyId,
        input: PolicyInput,
    ) -> Result<Policy> {
        authorize(caller, Action::Administer, Target::Global)?;
        let by = caller.user_id();
        self.run(move |i| Ok(i.store.update_policy(id, &input, by)?))
            .await
    }

    /// Deletes a policy (superuser).
    pub async fn delete_policy(&self, caller: &Caller, id: PolicyId) -> Result<()> {
        authorize(caller, Action::Administer, Target::Global)?;
        self.run(move |i| Ok(i.store.delete_policy(id)?)).await
    }

    /// A page of the clients the caller reaches.
    pub async fn list_clients(
        &self,
        caller: &Caller,
        mut o: ClientListOptions,
    ) -> Result<Page<Client>> {
        authorize(caller, Action::View, Target::Global)?;
        o.scope = caller.scope();
        self.run(move |i| Ok(i.store.list_clients(&o)?)).await
    }

    /// A page of the repositories the caller reaches.
    pub async fn list_repositories(
        &self,
        caller: &Caller,
        mut o: RepositoryListOptions,
    ) -> Result<Page<Repository>> {
        authorize(caller, Action::View, Target::Global)?;
        o.scope = caller.scope();
        self.run(move |i| Ok(i.store.list_repositories(&o)?)).await
    }

    /// A page of the schedules the caller reaches.
    pub async fn list_schedules(
        &self,
        caller: &Caller,
        mut o: ScheduleListOptions,
    ) -> Result<Page<Schedule>> {
        authorize(caller, Action::View, Target::Global)?;
        o.scope = caller.scope();
        self.run(move |i| Ok(i.store.list_schedules(&o)?)).await
    }

    /// A page of the policies the caller reaches.
    pub async fn list_policies(
        &self,
        caller: &Caller,
        mut o: PolicyListOptions,
    ) -> Result<Page<Policy>> {
        authorize(caller, Action::View, Target::Global)?;
        o.scope = caller.scope();
        let page = self.run(move |i| Ok(i.store.list_policies(&o)?)).await?;
        Ok(page.map(|p| present_policy(caller, p)))
    }

    /// Every client the caller reaches, by id.
    pub async fn clients(&self, caller: &Caller) -> Result<Vec<Client>> {
        authorize(caller, Action::View, Target::Global)?;
        let scope = caller.scope();
        let all = self.run(|i| Ok(i.store.clients()?)).await?;
        Ok(all
            .into_iter()
            .filter(|c| scope.as_ref().is_none_or(|v| v.clients.contains(&c.id)))
            .collect())
    }

    /// Every repository the caller reaches, by id.
    pub async fn repositories(&self, caller: &Caller) -> Result<Vec<Repository>> {
        authorize(caller, Action::View, Target::Global)?;
        let scope = caller.scope();
        let all = self.run(|i| Ok(i.store.repositories()?)).await?;
        Ok(all
            .into_iter()
            .filter(|r| {
                scope
                    .as_ref()
                    .is_none_or(|v| v.repositories.contains(&r.id))
            })
            .collect())
    }

    /// Every schedule the caller reaches, by id.
    pub async fn schedules(&self, caller: &Caller) -> Result<Vec<Schedule>> {
        authorize(caller, Action::View, Target::Global)?;
        let scope = caller.scope();
        let all = self.run(|i| Ok(i.store.schedules()?)).await?;
        Ok(all
            .into_iter()
            .filter(|s| scope.as_ref().is_none_or(|v| v.schedules.contains(&s.id)))
            .collect())
    }

    /// Every policy the caller reaches, by id.
    pub async fn policies(&self, caller: &Caller) -> Result<Vec<Policy>> {
        authorize(caller, Action::View, Target::Global)?;
        let scope = caller.scope();
        let all = self.run(|i| Ok(i.store.policies()?)).await?;
        Ok(all
            .into_iter()
            .filter(|p| scope.as_ref().is_none_or(|v| v.policies.contains(&p.id)))
            .map(|p| present_policy(caller, p))
            .collect())
    }

    /// The clients of a policy that the caller reaches.
    pub async fn policy_clients(&self, caller: &Caller, id: PolicyId) -> Result<Vec<Client>> {
        authorize(caller, Action::View, Target::Policy(id))?;
        let scope = caller.scope();
        self.run(move |i| {
            let p = i.store.policy(id)?;
            p.clients
                .iter()
                .filter(|c| scope.as_ref().is_none_or(|v| v.clients.contains(c)))
                .map(|c| Ok(i.store.client(*c)?))
                .collect()
        })
        .await
    }

    /// Why a policy cannot run now (empty when it can).
    pub async fn policy_blockers(&self, caller: &Caller, id: PolicyId) -> Result<Vec<String>> {
        authorize(caller, Action::View, Target::Policy(id))?;
        self.run(move |i| {
            let p = i.store.policy(id)?;
            Ok(i.store.policy_blockers(&p)?)
        })
        .await
    }

    /// Every run time of a policy in a month (UTC).
    pub async fn policy_calendar(
        &self,
        caller: &Caller,
        id: PolicyId,
        year: i32,
        month: u32,
    ) -> Result<Vec<DateTime<Utc>>> {
        authorize(caller, Action::View, Target::Policy(id))?;
        if !(1..=12).contains(&month) {
            return Err(ServiceError::field("month", "must be between 1 and 12"));
        }
        let s = self
            .run(move |i| {
                let p = i.store.policy(id)?;
                Ok(i.store.schedule(p.schedule)?)
            })
            .await?;
        // A run every minute is at most 44640 a month.
        Ok(s.cron()
            .map(|c| c.calendar(year, month, 50_000))
            .unwrap_or_default())
    }

    /// The next run times of a cron expression, or a validation error on `crontab`.
    pub fn cron_preview(
        &self,
        caller: &Caller,
        crontab: &str,
        count: usize,
    ) -> Result<Vec<DateTime<Utc>>> {
        authorize(caller, Action::Authenticated, Target::Global)?;
        let c = CronExpr::parse(crontab).map_err(|e| ServiceError::field("crontab", e.0))?;
        Ok(c.upcoming(Utc::now(), count.min(100)))
    }
}

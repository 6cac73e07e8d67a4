//! Who may receive which mail: superusers hear about everything; other users only about jobs
//! of the series their grants reach, and never get instance-wide mail (reports, launch
//! summaries across clients) that would name clients, policies or repositories outside them.

use crate::ReportError;
use model::access::Visibility;
use model::Job;
use store::{NotifyPref, Store};

/// The users who asked for `pref`, superusers only: for mail about the whole instance.
pub(crate) fn superusers(store: &Store, pref: NotifyPref) -> Result<Vec<String>, ReportError> {
    Ok(store
        .notify_recipients(pref)?
        .into_iter()
        .filter(|r| r.superuser)
        .map(|r| r.email)
        .collect())
}

/// The users who asked for `pref` and whose role or grants reach `job`.
pub(crate) fn for_job(
    store: &Store,
    pref: NotifyPref,
    job: &Job,
) -> Result<Vec<String>, ReportError> {
    let all = store.notify_recipients(pref)?;
    if all.iter().all(|r| r.superuser) {
        return Ok(all.into_iter().map(|r| r.email).collect());
    }
    let policies = store.policies()?;
    let mut out = Vec::new();
    for r in all {
        let reached = r.superuser || {
            let grants = store.user_grants(r.id)?;
            Visibility::new(&grants, &policies).job(job.client, job.policy, job.repository)
        };
        if reached {
            out.push(r.email);
        }
    }
    Ok(out)
}

/// The users who asked for `pref` and whose role or grants reach the series (`client`, `policy`).
pub(crate) fn for_series(
    store: &Store,
    pref: NotifyPref,
    client: model::ClientId,
    policy: model::PolicyId,
) -> Result<Vec<String>, ReportError> {
    let all = store.notify_recipients(pref)?;
    if all.iter().all(|r| r.superuser) {
        return Ok(all.into_iter().map(|r| r.email).collect());
    }
    let policies = store.policies()?;
    let mut out = Vec::new();
    for r in all {
        let reached = r.superuser || {
            let grants = store.user_grants(r.id)?;
            Visibility::new(&grants, &policies).series(client, policy)
        };
        if reached {
            out.push(r.email);
        }
    }
    Ok(out)
}

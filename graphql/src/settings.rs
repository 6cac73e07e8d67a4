//! Instance settings over GraphQL, from the typed registry (`model::settings`): each setting
//! with its label, help, kind, default and group for the settings form; values of secrets are
//! masked; changes are checked by the registry and stored all or none.

use crate::errors::ApiResult;
use crate::{caller, svc};
use async_graphql::{Context, Enum, InputObject, Object, SimpleObject};
use model::settings::{Kind, View};

/// The type of a setting's value, for the form control that edits it.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum SettingKind {
    Bool,
    Int,
    Text,
    UserName,
    Host,
    Choice,
    Mailbox,
    Url,
    Cron,
    Secret,
    Pem,
    HeaderName,
}

impl From<Kind> for SettingKind {
    fn from(k: Kind) -> Self {
        match k {
            Kind::Bool => SettingKind::Bool,
            Kind::Int { .. } => SettingKind::Int,
            Kind::Text { .. } => SettingKind::Text,
            Kind::UserName => SettingKind::UserName,
            Kind::Host => SettingKind::Host,
            Kind::Choice(_) => SettingKind::Choice,
            Kind::Mailbox => SettingKind::Mailbox,
            Kind::Url => SettingKind::Url,
            Kind::Cron => SettingKind::Cron,
            Kind::Secret => SettingKind::Secret,
            Kind::Pem => SettingKind::Pem,
            Kind::HeaderName => SettingKind::HeaderName,
        }
    }
}

/// One instance setting and its value (a mask for a secret that is set).
#[derive(SimpleObject)]
pub struct Setting {
    pub key: String,
    /// The stored value; empty when unset (then `default` applies); `$encrypted$` for a set
    /// secret.
    pub value: String,
    pub is_secret: bool,
    /// Whether a value is stored.
    pub is_set: bool,
    pub label: String,
    /// One line of help.
    pub help: String,
    /// Same as `help` (earlier versions' field).
    pub description: String,
    /// The form section: general, backups, checks, mail, webhooks, reports, metrics.
    pub group: String,
    pub group_label: String,
    pub kind: SettingKind,
    /// The value in effect when none is stored.
    pub default: String,
    /// The accepted words of a `CHOICE` setting.
    pub choices: Option<Vec<String>>,
    /// Bounds of an `INT` setting.
    pub min: Option<i64>,
    pub max: Option<i64>,
    /// Who may read it: `superuser` or `any_user` (only superusers change settings).
    pub read_access: String,
}

impl From<View> for Setting {
    fn from(v: View) -> Self {
        let d = v.def;
        let (min, max) = match d.kind {
            Kind::Int { min, max } => (Some(min), Some(max)),
            _ => (None, None),
        };
        Setting {
            key: d.key.into(),
            value: v.value,
            is_secret: d.is_secret(),
            is_set: v.is_set,
            label: d.label.into(),
            help: d.help.into(),
            description: d.help.into(),
            group: d.group.as_str().into(),
            group_label: d.group.label().into(),
            kind: d.kind.into(),
            default: d.default.into(),
            choices: match d.kind {
                Kind::Choice(words) => Some(words.iter().map(|w| w.to_string()).collect()),
                _ => None,
            },
            min,
            max,
            read_access: d.read.as_str().into(),
        }
    }
}

/// A mail, webhook, report or metrics setting (earlier versions' shape).
#[derive(SimpleObject)]
pub struct NotificationSetting {
    pub key: String,
    pub value: String,
    pub is_secret: bool,
}

/// One change of `updateSettings`.
#[derive(InputObject)]
pub struct SettingValueInput {
    pub key: String,
    /// The new value; empty resets to the default (clears a secret); `$encrypted$` keeps a
    /// secret as it is.
    pub value: String,
}

#[derive(Default)]
pub struct SettingsQuery;

#[Object]
impl SettingsQuery {
    /// Instance settings the caller may read (superusers: all), in form order, optionally of
    /// one group; values of secrets are masked.
    async fn settings(&self, ctx: &Context<'_>, group: Option<String>) -> ApiResult<Vec<Setting>> {
        let c = caller(ctx).await?;
        Ok(svc(ctx)
            .settings(&c, group)
            .await?
            .into_iter()
            .map(Setting::from)
            .collect())
    }

    /// Mail, webhook, report and metrics settings (superuser; secrets masked).
    #[graphql(deprecation = "use settings, which describes every setting")]
    async fn notification_settings(
        &self,
        ctx: &Context<'_>,
    ) -> ApiResult<Vec<NotificationSetting>> {
        let c = caller(ctx).await?;
        Ok(svc(ctx)
            .notification_settings(&c)
            .await?
            .into_iter()
            .map(|v| NotificationSetting {
                key: v.def.key.into(),
                is_secret: v.def.is_secret(),
                value: v.value,
            })
            .collect())
    }
}

#[derive(Default)]
pub struct SettingsMutation;

#[Object]
impl SettingsMutation {
    /// Changes one setting (superuser). An empty value resets it to its default; a secret is
    /// stored sealed and read back masked. An unknown key is refused on `key`, a bad value on
    /// `value`, and nothing is stored.
    async fn update_setting(
        &self,
        ctx: &Context<'_>,
        key: String,
        value: String,
    ) -> ApiResult<Setting> {
        let c = caller(ctx).await?;
        Ok(svc(ctx).update_setting(&c, &key, &value).await?.into())
    }

    /// Changes several settings at once, all or none (superuser). Every refused change is a
    /// field error named by its key (also an unknown key); returns the changed settings.
    async fn update_settings(
        &self,
        ctx: &Context<'_>,
        input: Vec<SettingValueInput>,
    ) -> ApiResult<Vec<Setting>> {
        let c = caller(ctx).await?;
        Ok(svc(ctx)
            .update_settings(&c, input.into_iter().map(|i| (i.key, i.value)).collect())
            .await?
            .into_iter()
            .map(Setting::from)
            .collect())
    }

    /// Sets one setting (superuser); the same as `updateSetting`.
    #[graphql(deprecation = "use updateSetting")]
    async fn set_notification_setting(
        &self,
        ctx: &Context<'_>,
        key: String,
        value: String,
    ) -> ApiResult<NotificationSetting> {
        let c = caller(ctx).await?;
        let v = svc(ctx).update_setting(&c, &key, &value).await?;
        Ok(NotificationSetting {
            key: v.def.key.into(),
            is_secret: v.def.is_secret(),
            value: v.value,
        })
    }
}

//! The declarations: one per setting, in the order of the settings form. Keys are the ones
//! earlier versions stored (and the original's `url`), so stored values keep working.

use super::kinds::{Kind, MailSecurity, MetricsAuth};
use super::{Access, Def, Group, SecretSetting, Setting};
use crate::CronExpr;

const fn def(
    key: &'static str,
    group: Group,
    kind: Kind,
    default: &'static str,
    label: &'static str,
    help: &'static str,
) -> Def {
    Def {
        key,
        label,
        help,
        group,
        kind,
        default,
        read: Access::Superuser,
    }
}

const LINE: Kind = Kind::Text { max_len: 255 };

/// The address browsers use to reach the server; mails and webhooks link to jobs with it.
pub static URL: Setting<String> = Setting::new(Def {
    read: Access::AnyUser,
    ..def(
        "url",
        Group::General,
        Kind::Url,
        "",
        "Server URL",
        "The address browsers use to reach this server (e.g. https://backup.example.com); mails and webhooks link to jobs with it",
    )
});

pub static BACKUP_USER: Setting<String> = Setting::new(def(
    "backup_user",
    Group::Backups,
    Kind::UserName,
    "root",
    "Backup user",
    "The user the server logs in as on clients; a user other than root runs borg through sudo",
));

pub static INSTALL_BORG: Setting<bool> = Setting::new(def(
    "install_borg",
    Group::Backups,
    Kind::Bool,
    "true",
    "Install borg when missing",
    "Client preparation installs borgbackup from the distribution's packages when a client lacks it",
));

pub static INTEGRITY_CHECK: Setting<bool> = Setting::new(def(
    "integrity_check",
    Group::Checks,
    Kind::Bool,
    "false",
    "Scheduled integrity checks",
    "Run borg check of every ready repository on the integrity check schedule",
));

pub static IC_CRON: Setting<CronExpr> = Setting::new(def(
    "ic_cron",
    Group::Checks,
    Kind::Cron,
    "0 4 * * 0",
    "Integrity check schedule",
    "When scheduled integrity checks run (cron, UTC)",
));

pub static AUTO_RESTORE_TEST: Setting<bool> = Setting::new(def(
    "auto_restore_test",
    Group::Checks,
    Kind::Bool,
    "false",
    "Scheduled restore drills",
    "Run a restore drill of every catalogued series on the restore drill schedule",
));

pub static RESTORE_TEST_CRON: Setting<CronExpr> = Setting::new(def(
    "restore_test_cron",
    Group::Checks,
    Kind::Cron,
    "0 4 * * 0",
    "Restore drill schedule",
    "When scheduled restore drills run (cron, UTC); a policy may set its own in extra_vars.restore_test_cron",
));

pub static MAIL_HOST: Setting<String> = Setting::new(def(
    "mail.host",
    Group::Mail,
    Kind::Host,
    "",
    "SMTP server",
    "Host name or address of the mail server; no mail is sent while it is empty",
));

pub static MAIL_PORT: Setting<u16> = Setting::new(def(
    "mail.port",
    Group::Mail,
    Kind::Int { min: 0, max: 65535 },
    "0",
    "SMTP port",
    "Port of the mail server; 0 uses the standard port of the connection security (25, 587 or 465)",
));

pub static MAIL_SECURITY: Setting<MailSecurity> = Setting::new(def(
    "mail.security",
    Group::Mail,
    Kind::Choice(MailSecurity::WORDS),
    "none",
    "Connection security",
    "none (a trusted local relay only), starttls (upgrade required) or tls (TLS from the first byte)",
));

pub static MAIL_USERNAME: Setting<String> = Setting::new(def(
    "mail.username",
    Group::Mail,
    LINE,
    "",
    "SMTP user name",
    "User name for SMTP authentication; empty to send without authenticating",
));

pub static MAIL_PASSWORD: SecretSetting = SecretSetting::new(def(
    "mail.password",
    Group::Mail,
    Kind::Secret,
    "",
    "SMTP password",
    "Password for SMTP authentication, stored encrypted and never shown again",
));

pub static MAIL_FROM: Setting<String> = Setting::new(def(
    "mail.from",
    Group::Mail,
    Kind::Mailbox,
    "",
    "Sender",
    "From address of every mail, e.g. CyBorgBackup <backup@example.com>; no mail is sent while it is empty",
));

pub static MAIL_CA: Setting<String> = Setting::new(def(
    "mail.ca_certificate",
    Group::Mail,
    Kind::Pem,
    "",
    "Trusted CA certificates",
    "PEM certificates trusted for the mail server besides the public roots (a private CA)",
));

pub static MAIL_TIMEOUT: Setting<u64> = Setting::new(def(
    "mail.timeout_seconds",
    Group::Mail,
    Kind::Int { min: 1, max: 600 },
    "30",
    "SMTP timeout",
    "Seconds to wait for the mail server before a delivery attempt fails",
));

pub static MAIL_RETRY: Setting<u64> = Setting::new(def(
    "mail.retry_seconds",
    Group::Mail,
    Kind::Int {
        min: 1,
        max: 86_400,
    },
    "60",
    "Retry delay",
    "Seconds before a failed mail is sent again; the delay doubles on each further attempt",
));

pub static WEBHOOK_URL: Setting<String> = Setting::new(def(
    "webhook.url",
    Group::Webhooks,
    Kind::Url,
    "",
    "Webhook URL",
    "Where a JSON event is posted when a job finishes or an alert is raised; no webhook while it is empty",
));

pub static WEBHOOK_SECRET: SecretSetting = SecretSetting::new(def(
    "webhook.secret",
    Group::Webhooks,
    Kind::Secret,
    "",
    "Webhook secret",
    "Sent in the secret header of every webhook request, stored encrypted and never shown again",
));

pub static WEBHOOK_SECRET_HEADER: Setting<String> = Setting::new(def(
    "webhook.secret_header",
    Group::Webhooks,
    Kind::HeaderName,
    "X-CyBorgBackup-Secret",
    "Secret header",
    "Name of the HTTP header that carries the webhook secret",
));

pub static REPORT_DAILY_CRON: Setting<CronExpr> = Setting::new(def(
    "report.daily_cron",
    Group::Reports,
    Kind::Cron,
    "0 7 * * *",
    "Daily report schedule",
    "When the daily report is mailed to the users who asked for it (cron, UTC)",
));

pub static REPORT_WEEKLY_CRON: Setting<CronExpr> = Setting::new(def(
    "report.weekly_cron",
    Group::Reports,
    Kind::Cron,
    "0 7 * * 1",
    "Weekly report schedule",
    "When the weekly report is mailed to the users who asked for it (cron, UTC)",
));

pub static REPORT_MONTHLY_CRON: Setting<CronExpr> = Setting::new(def(
    "report.monthly_cron",
    Group::Reports,
    Kind::Cron,
    "0 7 1 * *",
    "Monthly report schedule",
    "When the monthly report is mailed to the users who asked for it (cron, UTC)",
));

pub static METRICS_AUTH: Setting<MetricsAuth> = Setting::new(def(
    "metrics.auth",
    Group::Metrics,
    Kind::Choice(MetricsAuth::WORDS),
    "token",
    "Metrics access",
    "Who may read /metrics: token (any user's session or API token), admin (superusers only) or none (anyone)",
));

/// Every setting, in form order.
pub(super) static ALL: &[&Def] = &[
    &URL.def,
    &BACKUP_USER.def,
    &INSTALL_BORG.def,
    &INTEGRITY_CHECK.def,
    &IC_CRON.def,
    &AUTO_RESTORE_TEST.def,
    &RESTORE_TEST_CRON.def,
    &MAIL_HOST.def,
    &MAIL_PORT.def,
    &MAIL_SECURITY.def,
    &MAIL_USERNAME.def,
    &MAIL_PASSWORD.def,
    &MAIL_FROM.def,
    &MAIL_CA.def,
    &MAIL_TIMEOUT.def,
    &MAIL_RETRY.def,
    &WEBHOOK_URL.def,
    &WEBHOOK_SECRET.def,
    &WEBHOOK_SECRET_HEADER.def,
    &REPORT_DAILY_CRON.def,
    &REPORT_WEEKLY_CRON.def,
    &REPORT_MONTHLY_CRON.def,
    &METRICS_AUTH.def,
];

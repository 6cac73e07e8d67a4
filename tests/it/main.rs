//! The integration tests, in one binary (one link, and tests of different areas run side by
//! side): each module is one area, run alone with `cargo test --test it -- <module>::`. They
//! drive the real `cyborgbackup` binary, real borg, sshd hosts on loopback, an SMTP sink,
//! Chromium and database servers (see `support/`).

mod catalog_support;
#[path = "restore/fixture.rs"]
#[allow(dead_code)]
mod fixture;
#[path = "roles/setup.rs"]
mod setup;
mod support;

mod abuse_login;
mod anomalies;
mod api_contract;
mod backup_end_to_end;
mod catalog_api;
mod catalog_lifecycle;
mod cluster;
mod deploy_images;
mod forecast_free_space;
mod graphql_lists;
mod graphql_roles;
mod job_output_batches;
mod job_progress;
mod jobs_lifecycle;
mod live_events;
mod mail_tls;
mod migrate_postgres;
mod notifications;
mod policy_copies;
mod policy_types;
mod policy_types_db;
mod policy_types_files;
mod policy_types_vm;
mod prepare_install;
mod prune_retention;
mod remote_failures;
mod remote_pull;
mod remote_push;
mod remote_variants;
mod repository_identity;
mod repository_tamper;
mod rest_role_matrix;
mod rest_v1;
mod rest_v1_access;
mod restore;
mod restore_drills;
mod role_matrix;
mod roles_grants;
mod secrets_at_rest;
mod server_admin;
mod session_revocation;
mod settings_registry;
mod ssh_credentials;
mod ssh_trust;
mod tidy;
mod ui_admin;
mod ui_browser;
mod ui_console;
mod ui_copies;
mod ui_live;

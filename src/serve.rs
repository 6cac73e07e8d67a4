//! `cyborgbackup serve`: opens the store and the catalog, starts the executor, and serves HTTP.

use crate::config::Config;
use anyhow::{Context, Result};
use executor::{Executor, ExecutorOptions};
use std::sync::Arc;
use std::time::Duration;
use store::{NewUser, Store};

pub struct ServeOptions {
    pub demo: bool,
}

/// The first administrator, created when the database has no user.
pub const ADMIN_EMAIL: &str = "admin@cyborg.local";

fn ensure_admin(store: &Store) -> Result<Option<String>> {
    if store.user_count()? > 0 {
        return Ok(None);
    }
    let (password, generated) = match std::env::var("CYBORG_ADMIN_PASSWORD") {
        Ok(p) if !p.is_empty() => (p, false),
        _ => (random_password(), true),
    };
    store
        .create_user(&NewUser {
            email: ADMIN_EMAIL.into(),
            password: password.clone(),
            is_superuser: true,
            ..Default::default()
        })
        .context("creating the first administrator (CYBORG_ADMIN_PASSWORD)")?;
    if generated {
        // Shown once on the terminal, never in the log (which may be shipped elsewhere).
        eprintln!(
            "created the first administrator {ADMIN_EMAIL} with the password {password}\n\
             (shown once: change it after logging in)"
        );
        tracing::warn!(
            email = ADMIN_EMAIL,
            "created the first administrator with a generated password, printed on the terminal"
        );
    } else {
        tracing::info!(
            email = ADMIN_EMAIL,
            "created the first administrator with CYBORG_ADMIN_PASSWORD"
        );
    }
    Ok(Some(password))
}

/// A random 20-character password from the OS generator.
pub fn random_password() -> String {
    use rand::distributions::{Alphanumeric, DistString};
    Alphanumeric.sample_string(&mut rand::rngs::OsRng, 20)
}

pub async fn run(cfg: Config, opts: ServeOptions) -> Result<()> {
    let store =
        Store::open_with(&cfg.store_options()).with_context(|| match &cfg.database_url {
            Some(pg) => format!("opening the database {}", pg.redacted()),
            None => format!("opening the database in {}", cfg.data_dir.display()),
        })?;
    let admin_password = ensure_admin(&store)?;
    let catalog_dir = cfg.data_dir.join("catalog");
    let catalog =
        tokio::task::spawn_blocking(move || indexer::Catalog::open(&catalog_dir)).await??;
    if catalog.needs_rebuild() {
        tracing::warn!("the catalog index was reset (schema change or damage): archives will be listed again as they are backed up");
    }
    let borg_base = cfg.data_dir.join("borg");
    std::fs::create_dir_all(&borg_base)?;
    // Bound before the executor starts: the node's heartbeat carries its address.
    let tls = match &cfg.tls {
        Some(files) => Some((crate::tls::load(files).await?, files.clone())),
        None => None,
    };
    let listener = std::net::TcpListener::bind(cfg.listen)
        .with_context(|| format!("listen: cannot bind {}", cfg.listen))?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let url = format!("{}://{addr}", if tls.is_some() { "https" } else { "http" });
    let executor = Executor::new(
        store.clone(),
        Arc::new(catalog.clone()),
        ExecutorOptions {
            local_borg_base_dir: borg_base,
            max_concurrent_jobs: cfg.max_concurrent_jobs,
            scheduler_tick: Duration::from_secs(cfg.scheduler_tick_seconds),
            node_name: cfg.node_name.clone(),
            node_address: url.clone(),
            catalog_role: cfg
                .catalog_node
                .as_ref()
                .is_none_or(|n| *n == cfg.node_name),
            job_lease: Duration::from_secs(cfg.job_lease_seconds),
        },
    );
    executor.start()?;
    let ingested: std::collections::HashSet<_> = catalog.archive_ids().into_iter().collect();
    let resumed = executor.resume_catalogs(&ingested)?;
    if resumed > 0 {
        tracing::info!(
            archives = resumed,
            "queued catalog jobs for archives whose catalog is not complete"
        );
    }
    let service = service::Service::new(store.clone(), executor.clone(), catalog.clone());
    let schema = graphql::schema(graphql::Services {
        store: store.clone(),
        executor: executor.clone(),
        catalog,
        service: service.clone(),
    });
    let app = web::router(web::AppState {
        schema,
        service,
        allowed_origins: cfg.cors_allowed_origins.clone(),
    });
    // Behind a reverse proxy, the login limiter believes the trusted proxies' headers.
    let app = app.layer(axum::Extension(Arc::new(cfg.trusted_proxies.clone())));
    crate::tls::reload_on_sighup(tls.clone())?;
    crate::admin::schedule::start(&cfg.self_backup, &cfg.data_dir, store.clone())?;
    // Tests and scripts read this line to find the port.
    println!("CyBorgBackup listening on {url}");
    tracing::info!(%url, data_dir = %cfg.data_dir.display(), node = %cfg.node_name, "server started");
    if opts.demo {
        crate::demo::setup(
            &store,
            &executor,
            &cfg.data_dir,
            &url,
            admin_password.as_deref(),
        )?;
    }
    start_reporter(&store, &executor);
    match tls {
        Some((config, _)) => crate::tls::serve(listener, config, app, shutdown()).await?,
        None => {
            // The peer address feeds the login rate limiter.
            let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
            axum::serve(tokio::net::TcpListener::from_std(listener)?, app)
                .with_graceful_shutdown(shutdown())
                .await?
        }
    }
    executor.shutdown(Duration::from_secs(30)).await;
    tracing::info!("server stopped");
    Ok(())
}

/// Starts mail, webhook and scheduled-report delivery, woken by finished jobs.
fn start_reporter(store: &Store, executor: &Executor) {
    use tokio::sync::broadcast::error::RecvError;
    let reporter = report::Reporter::new(store.clone());
    reporter.start();
    let mut events = executor.subscribe();
    tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(executor::JobEvent::Status { status, .. }) => {
                    reporter.job_event(status.is_finished())
                }
                Ok(_) => {}
                Err(RecvError::Lagged(_)) => reporter.job_event(true),
                Err(RecvError::Closed) => break,
            }
        }
    });
}

async fn shutdown() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = ctrl_c => {}
        _ = async { if let Some(t) = term.as_mut() { t.recv().await; } else { std::future::pending::<()>().await } } => {}
    }
}

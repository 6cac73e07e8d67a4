//! The `cyborgbackup` binary: command line, configuration, and the composition root that wires
//! store, executor, catalog, GraphQL and web together.

mod admin;
mod catalog_cmd;
mod config;
mod datadir;
mod demo;
mod healthcheck;
mod migrate_pg;
mod serve;
mod tls;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use config::{Config, Overrides};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "cyborgbackup",
    version,
    about = "Central backup orchestrator for BorgBackup with a searchable file catalog"
)]
struct Cli {
    /// TOML configuration file (also CYBORG_CONFIG).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Data directory: database, master key, catalog (also CYBORG_DATA_DIR).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// PostgreSQL instead of the SQLite file: postgres://user:password@host:port/db (also
    /// CYBORG_DATABASE_URL). Every node of a cluster names the same database and holds the
    /// same master key in its data directory.
    #[arg(long, global = true)]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the server.
    Serve {
        /// Address to listen on, e.g. 127.0.0.1:8000 (port 0 picks a free port).
        #[arg(long)]
        listen: Option<String>,
        /// Creates a demo client, repository, schedule and policy on first start and backs up
        /// at once.
        #[arg(long)]
        demo: bool,
        /// This node's name in a cluster (also CYBORG_NODE_NAME); the host name by default.
        #[arg(long)]
        node_name: Option<String>,
    },
    /// Manages users.
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// Applies database migrations and exits.
    Migrate,
    /// Copies this server's SQLite database into an empty PostgreSQL database (secrets stay
    /// sealed with the same master key); then run with --database-url.
    MigrateToPostgres {
        /// The target: postgres://user:password@host:port/db.
        #[arg(long)]
        to: String,
    },
    /// Manages the file catalog.
    Catalog {
        #[command(subcommand)]
        action: catalog_cmd::CatalogAction,
    },
    /// Backs the server itself up, or restores it (disaster recovery).
    Admin {
        #[command(subcommand)]
        action: admin::AdminAction,
    },
    /// Exits 0 when the local server answers `GET /readyz` with 200 (container health checks).
    Healthcheck {
        /// URL to probe instead of the configured listener's `/readyz`.
        #[arg(long)]
        url: Option<String>,
    },
}

#[derive(Subcommand)]
enum UserAction {
    /// Creates a user; the password is read from CYBORG_PASSWORD or the first line of stdin.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        superuser: bool,
    },
    /// Sets a user's password (CYBORG_PASSWORD or the first line of stdin).
    SetPassword {
        #[arg(long)]
        email: String,
    },
    /// Lists users.
    List,
}

fn read_password() -> Result<String> {
    if let Ok(p) = std::env::var("CYBORG_PASSWORD") {
        return Ok(p);
    }
    eprintln!("password (one line on stdin):");
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("reading the password from stdin")?;
    let p = line.trim_end_matches(['\n', '\r']).to_string();
    if p.is_empty() {
        bail!("password: none given (set CYBORG_PASSWORD or pipe it on stdin)");
    }
    Ok(p)
}

fn init_tracing(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .init();
}

fn main() -> Result<()> {
    datadir::private_umask();
    datadir::release_large_allocations();
    let cli = Cli::parse();
    let (listen, node_name) = match &cli.command {
        Command::Serve {
            listen, node_name, ..
        } => (listen.clone(), node_name.clone()),
        _ => (None, None),
    };
    let cfg = Config::load(&Overrides {
        config_file: cli.config.clone(),
        listen,
        data_dir: cli.data_dir.clone(),
        database_url: cli.database_url.clone(),
        node_name,
    })?;
    init_tracing(&cfg.log);
    datadir::prepare(&cfg.data_dir)?;
    match cli.command {
        Command::Serve { demo, .. } => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            rt.block_on(serve::run(cfg, serve::ServeOptions { demo }))
        }
        Command::Catalog { action } => catalog_cmd::run(&cfg.store_options(), action),
        Command::Admin { action } => {
            if let Some(pg) = &cfg.database_url {
                bail!(
                    "admin: the self-backup copies the SQLite database of the data directory; \
                     this server runs on PostgreSQL ({}): back that up with pg_dump",
                    pg.redacted()
                );
            }
            admin::run(&cfg.data_dir, &cfg.self_backup, action)
        }
        Command::Healthcheck { url } => healthcheck::run(&cfg, url),
        Command::Migrate => {
            let s = store::Store::open_with(&cfg.store_options())?;
            let at = match &cfg.database_url {
                Some(pg) => pg.redacted(),
                None => s.path().display().to_string(),
            };
            println!("database {at} at schema version {}", s.schema_version()?);
            Ok(())
        }
        Command::MigrateToPostgres { to } => migrate_pg::run(&cfg, &to),
        Command::User { action } => {
            let s = store::Store::open_with(&cfg.store_options())?;
            match action {
                UserAction::Create { email, superuser } => {
                    let password = read_password()?;
                    let u = s.create_user(&store::NewUser {
                        email,
                        password,
                        is_superuser: superuser,
                        ..Default::default()
                    })?;
                    println!("created user {} ({})", u.email, u.id);
                }
                UserAction::SetPassword { email } => {
                    let u = s
                        .user_by_email(&email)?
                        .with_context(|| format!("email: no user {email:?}"))?;
                    s.set_password(u.id, &read_password()?)?;
                    println!(
                        "password of {} changed; their sessions and API tokens were ended",
                        u.email
                    );
                }
                UserAction::List => {
                    for u in s.users()? {
                        println!(
                            "{}\t{}\t{}",
                            u.id,
                            u.email,
                            if u.is_superuser { "superuser" } else { "user" }
                        );
                    }
                }
            }
            Ok(())
        }
    }
}

//! Server configuration: defaults, then an optional TOML file, then `CYBORG_*` environment
//! variables, then command-line flags; validated once, with errors naming the key.

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Config {
    /// Address the HTTP server binds (`listen`, `CYBORG_LISTEN`, `--listen`).
    pub listen: SocketAddr,
    /// Database, master key, catalog index (`data_dir`, `CYBORG_DATA_DIR`, `--data-dir`).
    pub data_dir: PathBuf,
    /// Most jobs running at once (`max_concurrent_jobs`, `CYBORG_MAX_CONCURRENT_JOBS`).
    pub max_concurrent_jobs: usize,
    /// Scheduler period in seconds (`scheduler_tick_seconds`, `CYBORG_SCHEDULER_TICK_SECONDS`).
    pub scheduler_tick_seconds: u64,
    /// Log filter (`log`, `CYBORG_LOG`), e.g. `info` or `cyborgbackup=debug`.
    pub log: String,
    /// Origins whose web pages may call the APIs, e.g. `https://ui.example.com`, or `*`
    /// (`cors_allowed_origins`, `CYBORG_CORS_ALLOWED_ORIGINS` comma-separated); none by default.
    pub cors_allowed_origins: Vec<String>,
    /// PEM certificate chain and private key: HTTPS instead of HTTP when both are set
    /// (`tls_certificate`/`tls_key`, `CYBORG_TLS_CERTIFICATE`/`CYBORG_TLS_KEY`); re-read on SIGHUP.
    pub tls: Option<TlsFiles>,
    /// Reverse proxies whose `X-Forwarded-For` names the client (`trusted_proxies`,
    /// `CYBORG_TRUSTED_PROXIES` comma-separated): addresses or networks; none by default.
    pub trusted_proxies: web::TrustedProxies,
    /// Where and when the server backs itself up (`[self_backup]`, `CYBORG_SELF_BACKUP_*`).
    pub self_backup: crate::admin::SelfBackupConfig,
    /// PostgreSQL instead of the SQLite file in the data directory (`database_url`,
    /// `CYBORG_DATABASE_URL`, `--database-url`): `postgres://user:password@host:port/db`.
    pub database_url: Option<store::PgConfig>,
    /// This server's name among the nodes sharing one database (`node_name`,
    /// `CYBORG_NODE_NAME`, `serve --node-name`); the host name by default.
    pub node_name: String,
    /// The node holding the file catalog (`catalog_node`, `CYBORG_CATALOG_NODE`): only it
    /// ingests catalogs and runs restore tests. Unset: every node does (one node).
    pub catalog_node: Option<String>,
    /// Seconds a running job's lease lasts (`job_lease_seconds`, `CYBORG_JOB_LEASE_SECONDS`):
    /// a job whose node stops renewing it is ended by another node after this long.
    pub job_lease_seconds: u64,
}

/// Certificate chain and key files of the HTTPS listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub certificate: PathBuf,
    pub key: PathBuf,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8000".parse().expect("valid default address"),
            data_dir: PathBuf::from("/var/lib/cyborgbackup"),
            max_concurrent_jobs: 4,
            scheduler_tick_seconds: 5,
            log: "info".into(),
            cors_allowed_origins: Vec::new(),
            tls: None,
            trusted_proxies: Default::default(),
            self_backup: Default::default(),
            database_url: None,
            node_name: default_node_name(),
            catalog_node: None,
            job_lease_seconds: 30,
        }
    }
}

/// The machine's host name, as a node name.
fn default_node_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| check_node_name("", h).is_ok())
        .unwrap_or_else(|| "node1".into())
}

/// 1 to 63 letters, digits, `.`, `_` or `-`.
fn check_node_name(key: &str, v: &str) -> Result<String> {
    if v.is_empty() || v.len() > 63 {
        bail!("{key}: {v:?} must be 1 to 63 characters long");
    }
    if let Some(c) = v
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        bail!("{key}: {v:?} may hold letters, digits, '.', '_' and '-' only, not {c:?}");
    }
    Ok(v.to_string())
}

fn parse_database_url(key: &str, v: &str) -> Result<Option<store::PgConfig>> {
    if v.trim().is_empty() {
        return Ok(None);
    }
    store::PgConfig::parse(v.trim())
        .map(Some)
        .map_err(|e| anyhow::anyhow!("{key}: {e}"))
}

/// The TOML file: every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    data_dir: Option<PathBuf>,
    max_concurrent_jobs: Option<i64>,
    scheduler_tick_seconds: Option<i64>,
    log: Option<String>,
    cors_allowed_origins: Option<Vec<String>>,
    tls_certificate: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    trusted_proxies: Option<Vec<String>>,
    self_backup: Option<crate::admin::SelfBackupFile>,
    database_url: Option<String>,
    node_name: Option<String>,
    catalog_node: Option<String>,
    job_lease_seconds: Option<i64>,
}

/// The TLS and proxy keys before validation.
#[derive(Debug, Default)]
struct Pending {
    tls_certificate: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    trusted_proxies: Vec<String>,
}

/// Values given on the command line.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub config_file: Option<PathBuf>,
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub node_name: Option<String>,
}

fn parse_listen(key: &str, v: &str) -> Result<SocketAddr> {
    v.parse()
        .with_context(|| format!("{key}: {v:?} is not an address like 127.0.0.1:8000"))
}

fn parse_count(key: &str, v: i64, min: i64, max: i64) -> Result<i64> {
    if v < min || v > max {
        bail!("{key}: {v} is out of range ({min}..={max})");
    }
    Ok(v)
}

/// `*`, or `http(s)://host[:port]` without a path.
fn is_origin(o: &str) -> bool {
    if o == "*" {
        return true;
    }
    let Some((scheme, host)) = o.split_once("://") else {
        return false;
    };
    let host = host.trim_end_matches('/');
    matches!(scheme, "http" | "https")
        && !host.is_empty()
        && !host.contains(|c: char| c == '/' || c == ',' || c.is_whitespace() || c.is_control())
}

fn env_list(v: &str) -> Vec<String> {
    v.split(',')
        .map(|o| o.trim().to_string())
        .filter(|o| !o.is_empty())
        .collect()
}

fn env_int(key: &str) -> Result<Option<i64>> {
    match std::env::var(key) {
        Ok(v) => {
            Ok(Some(v.trim().parse().with_context(|| {
                format!("{key}: {v:?} is not a whole number")
            })?))
        }
        Err(_) => Ok(None),
    }
}

impl Config {
    /// Loads the configuration in order: defaults, file, environment, flags.
    pub fn load(o: &Overrides) -> Result<Config> {
        let mut c = Config::default();
        let mut p = Pending::default();
        let file = o
            .config_file
            .clone()
            .or_else(|| std::env::var_os("CYBORG_CONFIG").map(PathBuf::from));
        if let Some(path) = file {
            c.apply_file(&path, &mut p)?;
        }
        if let Ok(v) = std::env::var("CYBORG_LISTEN") {
            c.listen = parse_listen("CYBORG_LISTEN", &v)?;
        }
        if let Some(v) = std::env::var_os("CYBORG_DATA_DIR") {
            c.data_dir = PathBuf::from(v);
        }
        if let Some(v) = env_int("CYBORG_MAX_CONCURRENT_JOBS")? {
            c.max_concurrent_jobs = parse_count("CYBORG_MAX_CONCURRENT_JOBS", v, 1, 256)? as usize;
        }
        if let Some(v) = env_int("CYBORG_SCHEDULER_TICK_SECONDS")? {
            c.scheduler_tick_seconds =
                parse_count("CYBORG_SCHEDULER_TICK_SECONDS", v, 1, 60)? as u64;
        }
        if let Ok(v) = std::env::var("CYBORG_LOG") {
            c.log = v;
        }
        if let Ok(v) = std::env::var("CYBORG_CORS_ALLOWED_ORIGINS") {
            c.cors_allowed_origins = env_list(&v);
        }
        if let Some(v) = std::env::var_os("CYBORG_TLS_CERTIFICATE").filter(|v| !v.is_empty()) {
            p.tls_certificate = Some(PathBuf::from(v));
        }
        if let Some(v) = std::env::var_os("CYBORG_TLS_KEY").filter(|v| !v.is_empty()) {
            p.tls_key = Some(PathBuf::from(v));
        }
        if let Ok(v) = std::env::var("CYBORG_TRUSTED_PROXIES") {
            p.trusted_proxies = env_list(&v);
        }
        c.self_backup.apply_env();
        if let Ok(v) = std::env::var("CYBORG_DATABASE_URL") {
            c.database_url = parse_database_url("CYBORG_DATABASE_URL", &v)?;
        }
        if let Ok(v) = std::env::var("CYBORG_NODE_NAME") {
            c.node_name = check_node_name("CYBORG_NODE_NAME", &v)?;
        }
        if let Ok(v) = std::env::var("CYBORG_CATALOG_NODE") {
            c.catalog_node = Some(check_node_name("CYBORG_CATALOG_NODE", &v)?);
        }
        if let Some(v) = env_int("CYBORG_JOB_LEASE_SECONDS")? {
            c.job_lease_seconds = parse_count("CYBORG_JOB_LEASE_SECONDS", v, 3, 3600)? as u64;
        }
        if let Some(v) = &o.database_url {
            c.database_url = parse_database_url("--database-url", v)?;
        }
        if let Some(v) = &o.node_name {
            c.node_name = check_node_name("--node-name", v)?;
        }
        if let Some(v) = &o.listen {
            c.listen = parse_listen("--listen", v)?;
        }
        if let Some(v) = &o.data_dir {
            c.data_dir = v.clone();
        }
        c.tls = match (p.tls_certificate, p.tls_key) {
            (Some(certificate), Some(key)) => Some(TlsFiles { certificate, key }),
            (None, None) => None,
            (Some(_), None) => bail!("tls_key: required with tls_certificate"),
            (None, Some(_)) => bail!("tls_certificate: required with tls_key"),
        };
        c.trusted_proxies = web::TrustedProxies::parse(&p.trusted_proxies)
            .map_err(|e| anyhow::anyhow!("trusted_proxies: {e}"))?;
        c.validate()?;
        Ok(c)
    }

    fn apply_file(&mut self, path: &Path, p: &mut Pending) -> Result<()> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        let f: FileConfig =
            toml::from_str(&text).with_context(|| format!("config file {}", path.display()))?;
        if let Some(v) = f.listen {
            self.listen = parse_listen("listen", &v)?;
        }
        if let Some(v) = f.data_dir {
            self.data_dir = v;
        }
        if let Some(v) = f.max_concurrent_jobs {
            self.max_concurrent_jobs = parse_count("max_concurrent_jobs", v, 1, 256)? as usize;
        }
        if let Some(v) = f.scheduler_tick_seconds {
            self.scheduler_tick_seconds = parse_count("scheduler_tick_seconds", v, 1, 60)? as u64;
        }
        if let Some(v) = f.log {
            self.log = v;
        }
        if let Some(v) = f.cors_allowed_origins {
            self.cors_allowed_origins = v;
        }
        p.tls_certificate = f.tls_certificate.or(p.tls_certificate.take());
        p.tls_key = f.tls_key.or(p.tls_key.take());
        if let Some(v) = f.trusted_proxies {
            p.trusted_proxies = v;
        }
        if let Some(v) = f.self_backup {
            self.self_backup.apply_file(v);
        }
        if let Some(v) = f.database_url {
            self.database_url = parse_database_url("database_url", &v)?;
        }
        if let Some(v) = f.node_name {
            self.node_name = check_node_name("node_name", &v)?;
        }
        if let Some(v) = f.catalog_node {
            self.catalog_node = Some(check_node_name("catalog_node", &v)?);
        }
        if let Some(v) = f.job_lease_seconds {
            self.job_lease_seconds = parse_count("job_lease_seconds", v, 3, 3600)? as u64;
        }
        Ok(())
    }

    /// Where the store is: the data directory, and PostgreSQL when configured.
    pub fn store_options(&self) -> store::StoreOptions {
        store::StoreOptions {
            data_dir: self.data_dir.clone(),
            postgres: self.database_url.clone(),
        }
    }

    fn validate(&self) -> Result<()> {
        if self.data_dir.as_os_str().is_empty() {
            bail!("data_dir: must not be empty");
        }
        if !self.data_dir.is_absolute() {
            bail!(
                "data_dir: {} must be an absolute path",
                self.data_dir.display()
            );
        }
        if let Some(o) = self.cors_allowed_origins.iter().find(|o| !is_origin(o)) {
            bail!("cors_allowed_origins: {o:?} is not an origin like https://ui.example.com or *");
        }
        tracing_subscriber::EnvFilter::try_new(&self.log)
            .with_context(|| format!("log: {:?} is not a valid log filter", self.log))?;
        if let Some(t) = &self.tls {
            for (key, f) in [("tls_certificate", &t.certificate), ("tls_key", &t.key)] {
                if !f.is_absolute() {
                    bail!("{key}: {} must be an absolute path", f.display());
                }
            }
        }
        self.self_backup.validate()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_keys_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "listen = \"nonsense\"\n").unwrap();
        let e = Config::load(&Overrides {
            config_file: Some(p.clone()),
            ..Default::default()
        })
        .unwrap_err();
        assert!(format!("{e:#}").contains("listen"), "{e:#}");
        std::fs::write(&p, "max_concurrent_jobs = 0\n").unwrap();
        let e = Config::load(&Overrides {
            config_file: Some(p.clone()),
            ..Default::default()
        })
        .unwrap_err();
        assert!(format!("{e:#}").contains("max_concurrent_jobs"), "{e:#}");
        std::fs::write(&p, "colour = \"blue\"\n").unwrap();
        let e = Config::load(&Overrides {
            config_file: Some(p.clone()),
            ..Default::default()
        })
        .unwrap_err();
        assert!(format!("{e:#}").contains("colour"), "{e:#}");
        std::fs::write(&p, "listen = \"127.0.0.1:9999\"\ndata_dir = \"/tmp/x\"\n").unwrap();
        let c = Config::load(&Overrides {
            config_file: Some(p),
            listen: Some("127.0.0.1:0".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(c.listen.port(), 0);
        assert_eq!(c.data_dir, PathBuf::from("/tmp/x"));
    }

    #[test]
    fn tls_proxies_and_self_backup_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        let load = |text: &str| {
            std::fs::write(&p, text).unwrap();
            Config::load(&Overrides {
                config_file: Some(p.clone()),
                ..Default::default()
            })
        };
        let e = load("tls_certificate = \"/etc/c.pem\"\n").unwrap_err();
        assert!(format!("{e:#}").contains("tls_key"), "{e:#}");
        let e = load("tls_certificate = \"c.pem\"\ntls_key = \"k.pem\"\n").unwrap_err();
        assert!(format!("{e:#}").contains("absolute"), "{e:#}");
        let c = load("tls_certificate = \"/c.pem\"\ntls_key = \"/k.pem\"\n").unwrap();
        assert_eq!(c.tls.unwrap().key, PathBuf::from("/k.pem"));
        let e = load("trusted_proxies = [\"10.0.0.0/8\", \"proxy\"]\n").unwrap_err();
        assert!(format!("{e:#}").contains("trusted_proxies"), "{e:#}");
        let e = load("[self_backup]\ncron = \"30 4 * * *\"\n").unwrap_err();
        assert!(format!("{e:#}").contains("self_backup.repository"), "{e:#}");
        let e = load("[self_backup]\nrepository = \"/b\"\ncron = \"every day\"\n").unwrap_err();
        assert!(format!("{e:#}").contains("self_backup.cron"), "{e:#}");
        let c = load("[self_backup]\nrepository = \"/b\"\ncron = \"30 4 * * *\"\nkeep_daily = 3\n")
            .unwrap();
        assert_eq!(c.self_backup.keep.daily, 3);
        assert_eq!(c.self_backup.keep.weekly, 4);
        let e = load("database_url = \"mysql://x\"\n").unwrap_err();
        assert!(format!("{e:#}").contains("database_url"), "{e:#}");
        let e = load("node_name = \"a b\"\n").unwrap_err();
        assert!(format!("{e:#}").contains("node_name"), "{e:#}");
        let c = load("database_url = \"postgres://u:secret@127.0.0.1/db\"\nnode_name = \"n-2\"\n")
            .unwrap();
        assert_eq!(c.node_name, "n-2");
        let pg = c.database_url.expect("postgres");
        assert!(!format!("{pg:?}").contains("secret"));
        assert_eq!(pg.redacted(), "postgres://u@127.0.0.1/db");
    }

    #[test]
    fn the_packaged_configuration_file_loads() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("cyborgbackup.toml");
        std::fs::write(&p, include_str!("../packaging/deb/cyborgbackup.toml")).unwrap();
        let c = Config::load(&Overrides {
            config_file: Some(p),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/var/lib/cyborgbackup"));
        assert_eq!(c.listen.to_string(), "127.0.0.1:8000");
    }
}

//! `cyborgbackup healthcheck`: asks the server on this machine for `GET /readyz` and exits 0
//! when it is ready, 1 otherwise. The Docker image's `HEALTHCHECK` runs it, so that the image
//! needs no HTTP client; it reads the same configuration as `serve` (address, TLS).

use crate::config::Config;
use anyhow::{bail, Context, Result};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

/// `http(s)://<loopback or listen address>:<port>/readyz` of the configured listener.
fn local_url(cfg: &Config) -> String {
    let ip = match cfg.listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let scheme = if cfg.tls.is_some() { "https" } else { "http" };
    format!(
        "{scheme}://{}/readyz",
        SocketAddr::new(ip, cfg.listen.port())
    )
}

pub fn run(cfg: &Config, url: Option<String>) -> Result<()> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    // The local probe checks that this machine's own server is ready, not who it is: its
    // certificate names the public host, not the loopback address asked here.
    let local = url.is_none();
    let url = url.unwrap_or_else(|| local_url(cfg));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .danger_accept_invalid_certs(local)
            .build()?;
        let resp = client
            .get(&url)
            .send()
            .await
            .with_context(|| format!("{url}: no answer"))?;
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        if !status.is_success() {
            bail!("{url}: {status}: {body}");
        }
        println!("{body}");
        Ok(())
    })
}

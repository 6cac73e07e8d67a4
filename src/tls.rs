//! The HTTPS listener: rustls (through axum-server) with the certificate chain and key named by
//! `tls_certificate` and `tls_key`, re-read on SIGHUP. A reload that fails (a half-written
//! file, a key that does not match) keeps serving the previous certificate and says why.

use crate::config::TlsFiles;
use anyhow::{Context, Result};
use axum_server::tls_rustls::RustlsConfig;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::signal::unix::{signal, SignalKind};

/// Loads the certificate and key; errors name the configuration key.
pub async fn load(files: &TlsFiles) -> Result<RustlsConfig> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    RustlsConfig::from_pem_file(&files.certificate, &files.key)
        .await
        .with_context(|| {
            format!(
                "tls_certificate/tls_key: cannot load {} and {}",
                files.certificate.display(),
                files.key.display()
            )
        })
}

/// Reloads the TLS files (when serving HTTPS) every time the process receives SIGHUP.
/// Installed before the server announces itself, so that an early SIGHUP never kills it.
pub fn reload_on_sighup(tls: Option<(RustlsConfig, TlsFiles)>) -> Result<()> {
    let mut hup = signal(SignalKind::hangup()).context("installing the SIGHUP handler")?;
    tokio::spawn(async move {
        while hup.recv().await.is_some() {
            let Some((config, files)) = &tls else {
                tracing::info!("SIGHUP: no TLS certificate to reload (plain HTTP)");
                continue;
            };
            match config
                .reload_from_pem_file(&files.certificate, &files.key)
                .await
            {
                Ok(()) => tracing::info!(
                    certificate = %files.certificate.display(),
                    "SIGHUP: TLS certificate reloaded"
                ),
                Err(e) => tracing::error!(
                    certificate = %files.certificate.display(),
                    key = %files.key.display(),
                    error = %e,
                    "SIGHUP: TLS certificate not reloaded; still serving the previous one"
                ),
            }
        }
    });
    Ok(())
}

/// Serves `app` over HTTPS on an already bound listener until `shutdown` completes.
pub async fn serve(
    listener: std::net::TcpListener,
    config: RustlsConfig,
    app: axum::Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let handle = axum_server::Handle::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        stopper.graceful_shutdown(Some(Duration::from_secs(10)));
    });
    axum_server::from_tcp_rustls(listener, config)?
        .handle(handle)
        .serve(app.into_make_service_with_connect_info::<SocketAddr>())
        .await
        .context("serving HTTPS")
}

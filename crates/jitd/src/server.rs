//! Running the API: bind, serve HTTPS until SIGTERM/SIGINT, then drain connections.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum_server::tls_rustls::RustlsConfig;

use crate::state::AppState;

/// How long in-flight requests get to finish after a shutdown signal.
const DRAIN: Duration = Duration::from_secs(10);

/// Serve the API on `listener` with `tls` until `shutdown` resolves.
pub async fn run(
    listener: std::net::TcpListener,
    tls: Arc<rustls::ServerConfig>,
    state: Arc<AppState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    serve(listener, tls, crate::api::app(state), shutdown).await
}

/// Serve `app` (the API, possibly wrapped in more layers, as the test support does) on `listener`
/// with `tls` until `shutdown` resolves, then drain connections.
pub async fn serve(
    listener: std::net::TcpListener,
    tls: Arc<rustls::ServerConfig>,
    app: axum::Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let address = listener.local_addr()?;
    let handle = axum_server::Handle::<SocketAddr>::new();
    let drain = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutdown signal received; draining connections");
        drain.graceful_shutdown(Some(DRAIN));
    });
    let server = axum_server::from_tcp_rustls(listener, RustlsConfig::from_config(tls))
        .context("cannot use the listening socket")?
        .handle(handle);
    tracing::info!(%address, "jitd listening on https://{address}");
    server
        .serve(app.into_make_service_with_connect_info::<SocketAddr>())
        .await
        .context("server failed")?;
    tracing::info!("jitd stopped");
    Ok(())
}

/// A future that resolves on SIGTERM or SIGINT. The handlers are installed when this is
/// called (before the socket is bound), so a signal that arrives right after start-up is
/// not lost to the default action.
pub fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {},
            _ = int.recv() => {},
        }
    })
}

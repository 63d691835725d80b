//! TLS for clients that insist on an https token endpoint (MSAL-based SDKs such as azure-identity): the same
//! router served through axum-server's rustls acceptor, with the ring provider the appliance uses.

use axum::Router;
use axum_server::tls_rustls::RustlsConfig;

use super::server::TlsFiles;

/// Serve `app` over TLS on `listener` until `stop` fires.
pub async fn serve_tls(
    app: Router,
    listener: tokio::net::TcpListener,
    files: &TlsFiles,
    stop: tokio::sync::oneshot::Receiver<()>,
) -> Result<tokio::task::JoinHandle<()>, String> {
    // Installing fails harmlessly when a provider is already installed (the appliance installs ring too).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = RustlsConfig::from_pem_file(&files.cert, &files.key)
        .await
        .map_err(|e| format!("cannot load {} and {}: {e}", files.cert.display(), files.key.display()))?;
    let listener = listener.into_std().map_err(|e| e.to_string())?;
    let handle = axum_server::Handle::new();
    let server = axum_server::from_tcp_rustls(listener, config).map_err(|e| e.to_string())?.handle(handle.clone());
    tokio::spawn(async move {
        let _ = stop.await;
        handle.graceful_shutdown(None);
    });
    Ok(tokio::spawn(async move {
        let _ = server.serve(app.into_make_service()).await;
    }))
}

//! TLS for clients that insist on an https token endpoint (MSAL-based SDKs).

use std::sync::atomic::AtomicBool;

use super::server::TlsFiles;

/// Serve `app` over TLS with the given certificate and key.
pub fn serve_tls(
    _app: axum::Router,
    _listener: tokio::net::TcpListener,
    files: &TlsFiles,
    _stop: tokio::sync::oneshot::Receiver<()>,
) -> Result<tokio::task::JoinHandle<()>, String> {
    let _ = AtomicBool::new(false);
    Err(format!("TLS is not built into this emulator yet ({})", files.cert.display()))
}

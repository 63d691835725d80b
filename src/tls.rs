//! HTTPS with rustls, and certificate reload without restart: a `notify` watcher on the certificate's folder
//! reloads the pair whenever either file changes (certbot and friends replace files by rename, so the folder is
//! watched, not the file). A pair that fails to load (half written) keeps the previous one serving; the next
//! change event tries again.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum_server::tls_rustls::RustlsConfig;
use notify::{RecursiveMode, Watcher};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::TlsConfig;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("TLS certificate {path}: {message}")]
    Load { path: PathBuf, message: String },
    #[error("cannot watch {path} for certificate renewals: {source}")]
    Watch { path: PathBuf, source: notify::Error },
}

fn server_config(tls: &TlsConfig) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let load = |path: &Path, message: String| TlsError::Load { path: path.to_owned(), message };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&tls.cert)
        .map_err(|e| load(&tls.cert, e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| load(&tls.cert, e.to_string()))?;
    if certs.is_empty() {
        return Err(load(&tls.cert, "no certificate in the file".into()));
    }
    let key = PrivateKeyDer::from_pem_file(&tls.key).map_err(|e| load(&tls.key, e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| load(&tls.cert, e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| load(&tls.cert, e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A TLS configuration that follows its files. Dropping it stops the watcher.
pub struct ReloadingTls {
    pub config: RustlsConfig,
    _watcher: notify::RecommendedWatcher,
}

impl ReloadingTls {
    pub fn start(tls: &TlsConfig) -> Result<Self, TlsError> {
        let config = RustlsConfig::from_config(server_config(tls)?);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let watched: Vec<PathBuf> = [&tls.cert, &tls.key].iter().map(|p| p.to_path_buf()).collect();
        let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            // Only changes of content count: reading the files (ours included) raises access events too, and
            // reacting to those would reload in a loop.
            let touches_ours = |event: &notify::Event| {
                let changed = matches!(
                    event.kind,
                    notify::EventKind::Create(_) | notify::EventKind::Modify(_) | notify::EventKind::Remove(_)
                );
                changed && event.paths.iter().any(|p| watched.iter().any(|w| p.file_name() == w.file_name()))
            };
            if event.as_ref().is_ok_and(touches_ours) {
                let _ = tx.send(());
            }
        })
        .map_err(|source| TlsError::Watch { path: tls.cert.clone(), source })?;
        let mut folders: Vec<&Path> = [&tls.cert, &tls.key].iter().filter_map(|p| p.parent()).collect();
        folders.dedup();
        for folder in folders {
            let folder = if folder.as_os_str().is_empty() { Path::new(".") } else { folder };
            watcher
                .watch(folder, RecursiveMode::NonRecursive)
                .map_err(|source| TlsError::Watch { path: folder.to_owned(), source })?;
        }
        let reloading = config.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            while rx.recv().await.is_some() {
                while rx.try_recv().is_ok() {}
                match server_config(&tls) {
                    Ok(fresh) => {
                        reloading.reload_from_config(fresh);
                        metrics::counter!("scaidrive_tls_reloads_total", "result" => "ok").increment(1);
                        tracing::info!(cert = %tls.cert.display(), "TLS certificate reloaded");
                    }
                    Err(error) => {
                        metrics::counter!("scaidrive_tls_reloads_total", "result" => "error").increment(1);
                        tracing::warn!(%error, "TLS certificate change not applied; still serving the previous one");
                    }
                }
            }
        });
        Ok(Self { config, _watcher: watcher })
    }
}

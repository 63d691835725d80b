//! HTTPS, and a renewed certificate taken up without a restart.

use std::path::Path;
use std::time::Duration;

use scaidrive_connectors::config::TlsConfig;

use crate::common::{TestAppliance, wait_until};

fn write_pair(dir: &Path, cert: &str, key: &str) -> rcgen::CertifiedKey {
    let pair = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    // Replace by rename, as certificate tools do, so the server never reads a half-written file.
    for (name, text) in [(key, pair.key_pair.serialize_pem()), (cert, pair.cert.pem())] {
        let partial = dir.join(format!("{name}.new"));
        std::fs::write(&partial, text).unwrap();
        std::fs::rename(&partial, dir.join(name)).unwrap();
    }
    pair
}

fn client_trusting(pair: &rcgen::CertifiedKey, addr: std::net::SocketAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(pair.cert.pem().as_bytes()).unwrap())
        .tls_built_in_root_certs(false)
        .resolve("localhost", addr)
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

#[tokio::test]
async fn renewed_certificate_is_served_without_a_restart() {
    let certs = tempfile::tempdir().unwrap();
    let first = write_pair(certs.path(), "cert.pem", "key.pem");
    let tls = TlsConfig { cert: certs.path().join("cert.pem"), key: certs.path().join("key.pem") };
    let app = TestAppliance::start_with(|config| config.tls = Some(tls)).await;
    assert!(app.base_url.starts_with("https://"));
    let addr: std::net::SocketAddr = app.base_url.trim_start_matches("https://").parse().unwrap();
    let url = format!("https://localhost:{}/healthz", addr.port());

    let old_client = client_trusting(&first, addr);
    assert!(old_client.get(&url).send().await.unwrap().status().is_success());

    let second = write_pair(certs.path(), "cert.pem", "key.pem");
    let new_client = client_trusting(&second, addr);
    wait_until("the renewed certificate to be served", || {
        let request = new_client.get(&url).send();
        async move { request.await.ok().filter(|r| r.status().is_success()) }
    })
    .await;
    // New connections now get the new certificate, so a client trusting only the old one is refused.
    let fresh_old_client = client_trusting(&first, addr);
    assert!(fresh_old_client.get(&url).send().await.is_err());
}

#[tokio::test]
async fn a_broken_renewal_keeps_the_old_certificate_serving() {
    let certs = tempfile::tempdir().unwrap();
    let first = write_pair(certs.path(), "cert.pem", "key.pem");
    let tls = TlsConfig { cert: certs.path().join("cert.pem"), key: certs.path().join("key.pem") };
    let app = TestAppliance::start_with(|config| config.tls = Some(tls)).await;
    let addr: std::net::SocketAddr = app.base_url.trim_start_matches("https://").parse().unwrap();
    let url = format!("https://localhost:{}/healthz", addr.port());
    let client = client_trusting(&first, addr);
    let failed_reloads = || async {
        let text = client.get(url.replace("/healthz", "/metrics")).send().await.unwrap().text().await.unwrap();
        text.lines()
            .find(|l| l.starts_with("scaidrive_tls_reloads_total{result=\"error\"}"))
            .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let before = failed_reloads().await;
    std::fs::write(certs.path().join("cert.pem"), "not a certificate").unwrap();
    wait_until("the broken certificate to be tried", || async { (failed_reloads().await > before).then_some(()) })
        .await;
    let fresh = client_trusting(&first, addr);
    assert!(fresh.get(&url).send().await.unwrap().status().is_success(), "the previous certificate still serves");
}

//! Client assertions (certificate credentials): checked by thumbprint, then by signature against the
//! registered certificate; and the token endpoint and Graph served over TLS.

use base64::Engine;
use reqwest::StatusCode;
use scaidrive_connectors::graph_emulator::GraphEmulator;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::harness::{CLIENT, Fixture, SECRET, TENANT, client_credentials_form, json_of, seed, send, send_json};

#[tokio::test]
async fn certificate_assertions_are_checked() {
    let f = Fixture::start().await;
    let b64 = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let aud = f.emulator.token_url(TENANT);
    let claims = json!({"aud": aud, "iss": CLIENT, "sub": CLIENT, "jti": "j1", "nbf": now, "exp": now + 600});
    let good = format!("{}.{}.c2ln", b64(json!({"alg": "RS256", "typ": "JWT", "x5t": "thumb1"})), b64(claims.clone()));
    let bad = format!("{}.{}.c2ln", b64(json!({"alg": "RS256", "typ": "JWT", "x5t": "other"})), b64(claims));
    for (assertion, status) in [(good, StatusCode::OK), (bad, StatusCode::UNAUTHORIZED)] {
        assert_eq!(f.assertion_request(&assertion).await.status(), status);
    }
}

/// A throwaway RSA key made for this test with `openssl genpkey -algorithm RSA`; it protects nothing.
const TEST_RSA_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDR4JX8EmC/Pp3h
AKVvZMesADEpyLNkPLIVdpxGRCNmgefN6RLekbEYSL7+yc8qAOJg0D54LURWR0Bh
2CDIITz1nlcUI/1VIuupRsEgZa8EyfsTdrI2nBljZ2iyjU4GDKa9bStnI4/U/jgC
sjGDiP4ZwVN+XltJbtEu5jS52ProcLkY9lb1iEc4PmIpJASc5P4bYMZmQbzPwPs3
2jYUUJ//C6icA0OKHkX3W181P9qEAc6oTYf3iqciQpYAI8XZyhe0Sw+t4HtKGULS
GyFYSOfCpEcg/c9EJGgKNXtPQQf0jTML0tYvJB7eV6gxKWUY9JMAB5R8Jp0deVS2
cwBLJjqNAgMBAAECggEAD8B+KUrc0YW61jwU7pEfDlj+V589XZDTodpC3OA40vT9
h54OYT+IjeTJ1vghEQs7cl42zhDBsAMNgTp2LWcXOu0NJpET7queCdiqXorbMa4S
JtISCpi5LBWDDWGfIUOaUR3MM+O+pBMHc6ZZooBp59dzc4jT66VCVHWJMAipvj+y
xgy6sMuxrGqyQg8s0i+NF5dYtuxZ57+QWR8E6WOhUvBHXj/UMzpFdRisXsZcqhL3
HdCf5ZiDCOglY2QlcTdzxZ7hcxjoFNhFpx+0v0fU/O2lnVvlK88hgn00bf6Yz6Us
PBGgs5UTVQtUYfhrWv3SGe3J8AS6aT3z3pA9xnOtsQKBgQDxaXg3v8S5PcRGzAVq
bCL7NeXOPNbUu0WTHEgSNBgHOJL298NwV0C5GVlzp43USl1Afuys62maeF5zNqKp
dFC7ivuRg5IsnENkwwsnhb0cQVpU5+xQDEajz1g6W5Hg1DX5w2fpjpg4cTJpvfYH
eeV7PSCKkSUjdXVE2cLZBR2kcQKBgQDej0oJosDw32GE6YeIYpKBTuBMrtwGHkSs
8QsbEmdtRkOyBHi9WXwfv0fbu/pe/hUsIcRh0kWhfh/RJsS9cjEVAtPoFFmeNHJD
1vblgyVrhOYlb4VMEplL+NVE2E6G6rwEP6sLKsP73OsWLVBCmekHj+dEUsa+yaGp
51NglDIV3QKBgDNJZ9vYJs//2kn8IA5q6MebvLWi4TUSkAZf1MPhQ1WNZFOJcYDV
WI+6XfGfIBeAsOz5ygg2fxntBovNiKMdbeVZ8nYIkK5fiEXI1f7Qf8uX6rvtBZw/
72Xvr9u+BnDQRKNKKzJIM/iRu9cRH0qZT/JtmxM1IMG2u3IkHSwD1TdRAoGAJPfc
LnmQXvJb+n3n+2mUOFJnw5UQCxwgADIRzC9kaqxPNlSz0Y/5pDRbtU4mKn09+xSo
0C7jTg3rLwynhWhgasMLe/NVZ4gCqu4cGMeOAawTpog9tgMo34u3sTXU5Wg8TuBc
gwBZiY6KpiZkvItgP9dRbPHq/Wn0poo8OUCkiSkCgYEAukrru7OzBNNtmcJuziV+
WIRtLgk/MPLlgaS7fs8HWFjTcN7tQCxxq0fq1uUWewqMHyq/mFN4zCmxVVi6W8f1
/HJPCnDlpW1Js7k5HUl8rAvHdBPTKYtxthbFTWJUR+40gYIgJxflvFuvmhKGkVG0
eHHK9Q1xflnbtuB2RWAFo6g=
-----END PRIVATE KEY-----\n";

#[tokio::test]
async fn certificate_assertions_must_be_signed_by_the_registered_certificate() {
    use rustls::pki_types::PrivateKeyDer;
    use rustls::pki_types::pem::PemObject;

    let key_pair = rcgen::KeyPair::from_pem(TEST_RSA_KEY).expect("RSA key");
    let params = rcgen::CertificateParams::new(vec!["scaidrive-connector".to_string()]).expect("params");
    let cert = params.self_signed(&key_pair).expect("self-signed certificate");
    let mut seed = seed();
    seed.apps[0].certificates = serde_json::from_value(json!([{"pem": cert.pem()}])).expect("cert seed");
    let f = Fixture::start_with(seed).await;

    let key_der = PrivateKeyDer::from_pem_slice(TEST_RSA_KEY.as_bytes()).expect("pkcs8");
    let signer = ring::signature::RsaKeyPair::from_pkcs8(key_der.secret_der()).expect("ring key");
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let thumb = b64(Sha256::digest(cert.der()).as_slice());
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = json!({"aud": f.emulator.token_url(TENANT), "iss": CLIENT, "sub": CLIENT, "jti": "j2", "nbf": now, "exp": now + 600});
    let sign = |alg: &str, padding: &'static dyn ring::signature::RsaEncoding| {
        let head = json!({"alg": alg, "typ": "JWT", "x5t#S256": thumb});
        let input = format!("{}.{}", b64(head.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
        let mut signature = vec![0u8; signer.public().modulus_len()];
        signer.sign(padding, &ring::rand::SystemRandom::new(), input.as_bytes(), &mut signature).expect("sign");
        format!("{input}.{}", b64(&signature))
    };
    let rs256 = sign("RS256", &ring::signature::RSA_PKCS1_SHA256);
    let ps256 = sign("PS256", &ring::signature::RSA_PSS_SHA256);
    let mut tampered = rs256.clone();
    tampered.replace_range(tampered.len() - 6.., "AAAAAA");
    for (assertion, status) in [(rs256, StatusCode::OK), (ps256, StatusCode::OK), (tampered, StatusCode::UNAUTHORIZED)]
    {
        let response = f.assertion_request(&assertion).await;
        assert_eq!(response.status(), status);
        if status == StatusCode::UNAUTHORIZED {
            assert_eq!(json_of(response).await["error_codes"], json!([700027]));
        }
    }
}

#[tokio::test]
async fn the_token_endpoint_and_graph_are_served_over_tls_when_asked() {
    let dir = std::env::temp_dir().join(format!("graph-emulator-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).expect("certificate");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, certified.cert.pem()).expect("write cert");
    std::fs::write(&key, certified.key_pair.serialize_pem()).expect("write key");
    let clock = std::sync::Arc::new(scaidrive_connectors::clock::SystemClock);
    let tls = scaidrive_connectors::graph_emulator::TlsFiles { cert, key };
    let emulator = GraphEmulator::start_with(seed(), "127.0.0.1:0", clock, Some(tls)).await.expect("TLS emulator");
    assert!(emulator.base_url.starts_with("https://"));
    let root = reqwest::Certificate::from_pem(certified.cert.pem().as_bytes()).expect("root");
    let http = reqwest::Client::builder().add_root_certificate(root).build().expect("client");
    let discovery =
        send_json(http.get(format!("{}/{TENANT}/v2.0/.well-known/openid-configuration", emulator.base_url))).await;
    assert_eq!(discovery["token_endpoint"], emulator.token_url(TENANT));
    let token = send(http.post(emulator.token_url(TENANT)).form(&client_credentials_form(CLIENT, SECRET))).await;
    assert_eq!(token.status(), StatusCode::OK);
    let _ = std::fs::remove_dir_all(&dir);
}

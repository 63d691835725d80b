//! The operational surface: health, readiness, metrics, and an OpenAPI document that covers every route.

use reqwest::Method;

use crate::common::{TestAppliance, expect_json};

#[tokio::test]
async fn health_and_readiness_answer_without_a_token() {
    let app = TestAppliance::start().await;
    let health = expect_json(app.client.get(app.url("/healthz")).send().await.unwrap(), 200).await;
    assert_eq!(health["status"], "ok");
    let ready = expect_json(app.client.get(app.url("/readyz")).send().await.unwrap(), 200).await;
    assert_eq!(ready["status"], "ready");
}

#[tokio::test]
async fn metrics_count_the_requests_served() {
    let app = TestAppliance::start().await;
    for _ in 0..3 {
        app.admin(Method::GET, "/api/v1/me").send().await.unwrap();
    }
    let text = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    let line = text
        .lines()
        .find(|l| {
            l.starts_with("scaidrive_http_requests_total{")
                && l.contains("route=\"/api/v1/me\"")
                && l.contains("status=\"200\"")
        })
        .unwrap_or_else(|| panic!("no counter for /api/v1/me in:\n{text}"));
    let count: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(count >= 3.0, "{line}");
    assert!(text.contains("scaidrive_up 1"), "{text}");
}

/// Every operation in the document is routed: without a token, secured ones answer 401 (not 404/405), and the
/// open ones answer 200. The router is built from the same registrations as the document, so together this
/// shows the two list the same routes.
#[tokio::test]
async fn openapi_document_lists_every_route_and_each_is_served() {
    let app = TestAppliance::start().await;
    let doc = expect_json(app.client.get(app.url("/api/v1/openapi.json")).send().await.unwrap(), 200).await;
    let paths = doc["paths"].as_object().unwrap();
    let mut operations = 0;
    for (path, item) in paths {
        let concrete = path.replace("{id}", &scaidrive_connectors::ids::UserId::new().to_string());
        for (method, operation) in item.as_object().unwrap() {
            let method: Method = method.to_uppercase().parse().unwrap();
            let secured = operation.get("security").is_some();
            let status = app.client.request(method.clone(), app.url(&concrete)).send().await.unwrap().status();
            let expected = if secured { 401 } else { 200 };
            assert_eq!(status.as_u16(), expected, "{method} {path}");
            operations += 1;
        }
    }
    for expected in [
        "/api/v1/users",
        "/api/v1/users/{id}",
        "/api/v1/groups",
        "/api/v1/tokens",
        "/api/v1/me",
        "/api/v1/audit-events",
        "/metrics",
        "/healthz",
        "/readyz",
        "/api/v1/openapi.json",
        "/api/v1/scim/token",
        "/scim/v2/Users",
        "/scim/v2/Users/{id}",
        "/scim/v2/Users/.search",
        "/scim/v2/Groups",
        "/scim/v2/Groups/{id}",
        "/scim/v2/Groups/.search",
        "/scim/v2/.search",
        "/scim/v2/ServiceProviderConfig",
        "/scim/v2/Schemas",
        "/scim/v2/Schemas/{id}",
        "/scim/v2/ResourceTypes",
        "/scim/v2/ResourceTypes/{id}",
        "/scim/v2/Bulk",
    ] {
        assert!(paths.contains_key(expected), "{expected} missing from the document");
    }
    assert!(operations >= 15, "only {operations} operations documented");
}

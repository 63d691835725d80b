//! The Prometheus exporter. The `metrics` facade has one global recorder per process, so it is installed once
//! and every appliance in the process (several, in tests) renders from the same handle; per-connector series
//! carry the connector id as a label.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

pub fn handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // Fails only if another recorder was installed first (a library user's choice); then our series
            // simply go to theirs and `/metrics` shows what we recorded before, which is nothing.
            let _ = metrics::set_global_recorder(recorder);
            describe();
            handle
        })
        .clone()
}

fn describe() {
    metrics::describe_counter!("scaidrive_http_requests_total", "HTTP requests answered, by route and status");
    metrics::describe_histogram!("scaidrive_http_request_duration_seconds", "HTTP request latency, by route");
    metrics::describe_gauge!("scaidrive_up", "1 while the appliance is serving");
    metrics::describe_counter!(
        "scaidrive_tls_reloads_total",
        "Certificate reload attempts after a file change, by result"
    );
}

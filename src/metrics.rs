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
    metrics::describe_counter!(
        "scaidrive_drive_commits_total",
        "Store write transactions that linked uploaded or synced files (several files each under concurrency)"
    );
    metrics::describe_counter!("scaidrive_drive_files_committed_total", "Files linked by those transactions");
    metrics::describe_counter!("scaidrive_connector_runs_total", "Connector runs that ended, by connector and status");
    metrics::describe_counter!("scaidrive_connector_files_synced_total", "Files synced by a connector's runs");
    metrics::describe_counter!("scaidrive_connector_bytes_transferred_total", "Content bytes a connector moved");
    metrics::describe_counter!("scaidrive_connector_file_errors_total", "Per-file errors of a connector's runs");
    metrics::describe_gauge!(
        "scaidrive_connector_last_success_timestamp_seconds",
        "When a connector's last successful run ended (Unix time)"
    );
    metrics::describe_gauge!(
        "scaidrive_connector_last_success_duration_seconds",
        "How long a connector's last successful run took"
    );
}

/// Counts a connector's job that just ended (called once per job, where its end is recorded).
pub fn job_ended(job: &crate::connectors::jobs::Job) {
    use crate::connectors::jobs::JobStatus;
    let connector = job.connector_id.to_string();
    let status = serde_json::to_value(job.status).ok().and_then(|v| v.as_str().map(str::to_owned));
    let status = status.unwrap_or_default();
    metrics::counter!("scaidrive_connector_runs_total", "connector" => connector.clone(), "status" => status)
        .increment(1);
    let labels = [("connector", connector)];
    metrics::counter!("scaidrive_connector_files_synced_total", &labels).increment(job.files_synced);
    metrics::counter!("scaidrive_connector_bytes_transferred_total", &labels).increment(job.bytes_transferred);
    metrics::counter!("scaidrive_connector_file_errors_total", &labels).increment(job.error_count);
    if let (JobStatus::Completed | JobStatus::CompletedWithErrors, Some(end)) = (job.status, job.finished_at) {
        metrics::gauge!("scaidrive_connector_last_success_timestamp_seconds", &labels).set(end.unix_timestamp() as f64);
        let took = end - job.started_at.unwrap_or(job.created_at);
        metrics::gauge!("scaidrive_connector_last_success_duration_seconds", &labels).set(took.as_seconds_f64());
    }
}

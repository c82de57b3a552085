//! Prometheus metrics: one process-wide recorder, rendered at `/metrics`.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// The process-wide recorder (installed on first use; tests build many routers).
pub fn handle() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full("relais_write_batch_size".into()),
                        &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0],
                    )
                })
                .expect("valid buckets")
                .build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (an embedding program); then ours only renders.
            let _ = metrics::set_global_recorder(recorder);
            describe();
            handle
        })
        .clone()
}

/// The page `/metrics` serves: the process's own figures (resident memory, CPU seconds,
/// open and allowed file descriptors, threads) read at each scrape, then every family.
pub async fn render_with_backlogs(handle: &PrometheusHandle, db: &store::Db) -> String {
    match app::reports::backlogs(db).await {
        Ok(b) => {
            metrics::gauge!("relais_customer_events_unresolved").set(b.events_unresolved as f64);
            metrics::gauge!("relais_customer_events_set_aside").set(b.events_set_aside as f64);
            metrics::gauge!("relais_holds_overdue").set(b.holds_overdue as f64);
            metrics::gauge!("relais_hold_sweep_lag_seconds").set(b.hold_sweep_lag_s as f64);
            if let Some(n) = b.outbox_unpublished {
                metrics::gauge!("relais_outbox_unpublished").set(n as f64);
            }
        }
        // The page still serves what it has: a scrape must not fail with the database.
        Err(e) => tracing::warn!(error = %e, "backlogs not read for /metrics"),
    }
    render(handle)
}

pub fn render(handle: &PrometheusHandle) -> String {
    static PROCESS: OnceLock<metrics_process::Collector> = OnceLock::new();
    PROCESS
        .get_or_init(|| {
            let collector = metrics_process::Collector::default();
            collector.describe();
            collector
        })
        .collect();
    handle.render()
}

/// What kind of family a metric is.
#[derive(Clone, Copy)]
enum Family {
    Counter,
    Gauge,
    Histogram,
}

/// Every family Relais records: its name, kind, unit and `# HELP` text.
const FAMILIES: &[(&str, Family, metrics::Unit, &str)] = {
    use Family::*;
    use metrics::Unit::{Count, Seconds};
    &[
        (
            "relais_http_requests_total",
            Counter,
            Count,
            "HTTP requests answered, by method, route template and status.",
        ),
        (
            "relais_http_request_duration_seconds",
            Histogram,
            Seconds,
            "Time to answer an HTTP request, by method and route template.",
        ),
        (
            "relais_write_batch_seconds",
            Histogram,
            Seconds,
            "Time the writer took for one batch of commands, commit included.",
        ),
        (
            "relais_write_batch_size",
            Histogram,
            Count,
            "Commands grouped into one writer transaction.",
        ),
        (
            "relais_write_commit_seconds",
            Histogram,
            Seconds,
            "Time of the COMMIT (the fsync) of one writer batch.",
        ),
        (
            "relais_orders_placed_total",
            Counter,
            Count,
            "Orders placed, by fulfilment mode.",
        ),
        (
            "relais_order_transitions_total",
            Counter,
            Count,
            "Order state changes, by transition.",
        ),
        (
            "relais_payments_declined_total",
            Counter,
            Count,
            "Checkouts refused because the payment provider declined.",
        ),
        (
            "relais_customer_events_stored_total",
            Counter,
            Count,
            "Behavioural events accepted.",
        ),
        (
            "relais_customer_events_rejected_total",
            Counter,
            Count,
            "Behavioural events refused, each with its error in the response.",
        ),
        (
            "relais_customer_events_set_aside_total",
            Counter,
            Count,
            "Behavioural events the resolver could not link and set aside.",
        ),
        (
            "relais_customer_event_keys_total",
            Counter,
            Count,
            "Behavioural events keyed under their profile behind the log.",
        ),
        (
            "relais_customer_merges_total",
            Counter,
            Count,
            "Customer profiles merged into another.",
        ),
        (
            "relais_nats_published_total",
            Counter,
            Count,
            "Messages published to NATS JetStream (events and ATP changes).",
        ),
        (
            "relais_webhook_attempts_total",
            Counter,
            Count,
            "Webhook delivery attempts by outcome: delivered, gone (410), refused, no_answer.",
        ),
        (
            "relais_live_subscribers",
            Gauge,
            Count,
            "Open live availability streams on this node.",
        ),
        (
            "relais_customer_events_unresolved",
            Gauge,
            Count,
            "Behavioural events stored but not yet linked to profiles (SQLite resolves them behind the log).",
        ),
        (
            "relais_customer_events_set_aside",
            Gauge,
            Count,
            "Behavioural events set aside, waiting to be mended and retried.",
        ),
        (
            "relais_holds_overdue",
            Gauge,
            Count,
            "Pending holds past their deadline, not yet expired by the sweeper.",
        ),
        (
            "relais_hold_sweep_lag_seconds",
            Gauge,
            Seconds,
            "How long the oldest overdue hold has waited for the sweeper.",
        ),
        (
            "relais_outbox_unpublished",
            Gauge,
            Count,
            "Outbox events not yet published to NATS JetStream (present once a publisher has run).",
        ),
        (
            "relais_nats_publish_lag_seconds",
            Gauge,
            Seconds,
            "From an event's commit to its publication to NATS JetStream, for the last batch published.",
        ),
        (
            "relais_outbox_purged_total",
            Counter,
            Count,
            "Outbox events deleted past their retention, once every reader had read them.",
        ),
        (
            "relais_notifications_total",
            Counter,
            Count,
            "Notification firings handled, by rule and outcome (sent, skipped, cancelled, postponed, failed).",
        ),
    ]
};

/// The `# HELP` line of every family Relais records.
fn describe() {
    for &(name, family, unit, help) in FAMILIES {
        match family {
            Family::Counter => metrics::describe_counter!(name, unit, help),
            Family::Gauge => metrics::describe_gauge!(name, unit, help),
            Family::Histogram => metrics::describe_histogram!(name, unit, help),
        }
    }
}

/// Counts requests and records their latency by route template (never by raw path, which
/// would make one series per product id).
pub async fn track(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("relais_http_requests_total", &labels).increment(1);
    metrics::histogram!("relais_http_request_duration_seconds", &labels[..2])
        .record(started.elapsed().as_secs_f64());
    response
}

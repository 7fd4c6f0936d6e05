//! Prometheus metrics, one registry per app (no globals, so tests can run two apps). Label
//! values are bounded: route templates, configured event types (anything else is
//! `unknown`), fixed operation and outcome names.

use std::collections::HashSet;
use std::time::Instant;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

/// Label for event types the schema does not define.
pub const UNKNOWN: &str = "unknown";

/// Store operations, as the `operation` label names them.
pub const STORE_OPERATIONS: [&str; 10] = [
    "publish",
    "get",
    "delete",
    "purge",
    "last_sequence",
    "last_sequence_at",
    "read",
    "subscribe",
    "stream_info",
    "purge_managed",
];

pub struct Metrics {
    registry: Registry,
    event_types: HashSet<String>,
    pub http_requests: IntCounterVec,
    pub http_duration: HistogramVec,
    pub http_in_flight: IntGauge,
    pub notifications: IntCounterVec,
    pub store_operations: IntCounterVec,
    pub store_duration: HistogramVec,
    pub sse_open: IntGaugeVec,
    pub sse_frames: IntCounterVec,
    pub sse_cut_off: IntCounterVec,
    pub replay_delivered: IntCounterVec,
    pub nats_connected: IntGauge,
    pub nats_reconnects: IntCounter,
}

fn counter(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let metric = IntCounterVec::new(Opts::new(name, help), labels)
        .unwrap_or_else(|error| panic!("metric {name}: {error}"));
    registry
        .register(Box::new(metric.clone()))
        .unwrap_or_else(|error| panic!("register {name}: {error}"));
    metric
}

fn histogram(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
    buckets: Vec<f64>,
) -> HistogramVec {
    let metric = HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets), labels)
        .unwrap_or_else(|error| panic!("metric {name}: {error}"));
    registry
        .register(Box::new(metric.clone()))
        .unwrap_or_else(|error| panic!("register {name}: {error}"));
    metric
}

impl Metrics {
    /// Registers every family and pre-creates the series of the configured event types.
    // Metric names and labels are constants: a failure here is a programming error, caught
    // by the first test that builds an app.
    #[allow(clippy::expect_used)]
    pub fn new(event_types: &[String]) -> Self {
        let registry = Registry::new();
        let latency = vec![
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
        ];
        let http_in_flight = IntGauge::new(
            "tidings_http_requests_in_flight",
            "HTTP requests being handled",
        )
        .expect("valid gauge");
        registry
            .register(Box::new(http_in_flight.clone()))
            .expect("unique gauge");
        let nats_connected = IntGauge::new(
            "tidings_nats_connected",
            "1 while the NATS connection is up (memory store: 1)",
        )
        .expect("valid gauge");
        registry
            .register(Box::new(nats_connected.clone()))
            .expect("unique gauge");
        let nats_reconnects = IntCounter::new(
            "tidings_nats_reconnects_total",
            "NATS reconnections after a loss",
        )
        .expect("valid counter");
        registry
            .register(Box::new(nats_reconnects.clone()))
            .expect("unique counter");
        let build_info = IntGaugeVec::new(
            Opts::new("tidings_build_info", "Build information (always 1)"),
            &["version"],
        )
        .expect("valid gauge");
        registry
            .register(Box::new(build_info.clone()))
            .expect("unique gauge");
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        let sse_open = IntGaugeVec::new(
            Opts::new("tidings_sse_connections_open", "Open SSE streams"),
            &["route", "event_type"],
        )
        .expect("valid gauge");
        registry
            .register(Box::new(sse_open.clone()))
            .expect("unique gauge");
        let metrics = Self {
            http_requests: counter(
                &registry,
                "tidings_http_requests_total",
                "HTTP requests answered",
                &["route", "method", "status"],
            ),
            http_duration: histogram(
                &registry,
                "tidings_http_request_duration_seconds",
                "Time to answer (SSE: to open the stream)",
                &["route", "method"],
                latency.clone(),
            ),
            http_in_flight,
            notifications: counter(
                &registry,
                "tidings_notifications_total",
                "Notify requests by outcome (stored, duplicate, rejected, failed)",
                &["event_type", "outcome"],
            ),
            store_operations: counter(
                &registry,
                "tidings_store_operations_total",
                "Store operations by outcome (ok, error)",
                &["operation", "outcome"],
            ),
            store_duration: histogram(
                &registry,
                "tidings_store_operation_duration_seconds",
                "Store operation latency",
                &["operation"],
                latency,
            ),
            sse_open,
            sse_frames: counter(
                &registry,
                "tidings_sse_frames_sent_total",
                "Notification frames sent",
                &["route", "event_type"],
            ),
            sse_cut_off: counter(
                &registry,
                "tidings_sse_watchers_cut_off_total",
                "Watchers disconnected for falling behind",
                &["event_type"],
            ),
            replay_delivered: counter(
                &registry,
                "tidings_replay_notifications_delivered_total",
                "Notifications delivered from history",
                &["event_type"],
            ),
            nats_connected,
            nats_reconnects,
            event_types: event_types.iter().cloned().collect(),
            registry,
        };
        for event_type in event_types {
            metrics
                .sse_cut_off
                .with_label_values(&[event_type.as_str()]);
            metrics
                .replay_delivered
                .with_label_values(&[event_type.as_str()]);
        }
        for event_type in event_types.iter().map(String::as_str).chain([UNKNOWN]) {
            for outcome in ["stored", "duplicate", "rejected", "failed"] {
                metrics
                    .notifications
                    .with_label_values(&[event_type, outcome]);
            }
        }
        for operation in STORE_OPERATIONS {
            for outcome in ["ok", "error"] {
                metrics
                    .store_operations
                    .with_label_values(&[operation, outcome]);
            }
        }
        metrics
    }

    /// The label for an event type name from a request: configured, or `unknown`.
    pub fn event_type_label<'a>(&self, name: &'a str) -> &'a str {
        if self.event_types.contains(name) {
            name
        } else {
            UNKNOWN
        }
    }

    /// Counts and times one store operation.
    pub fn observe_store(&self, operation: &'static str, started: Instant, ok: bool) {
        let outcome = if ok { "ok" } else { "error" };
        self.store_operations
            .with_label_values(&[operation, outcome])
            .inc();
        self.store_duration
            .with_label_values(&[operation])
            .observe(started.elapsed().as_secs_f64());
    }

    /// The Prometheus text format of every family.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        if let Err(error) = TextEncoder::new().encode(&self.registry.gather(), &mut buffer) {
            tracing::warn!(%error, "cannot encode metrics");
        }
        String::from_utf8_lossy(&buffer).into_owned()
    }
}

/// Decrements an open-stream gauge when the stream ends, however it ends.
pub struct OpenStreamGuard {
    gauge: IntGauge,
}

impl OpenStreamGuard {
    pub fn new(gauge: IntGauge) -> Self {
        gauge.inc();
        Self { gauge }
    }
}

impl Drop for OpenStreamGuard {
    fn drop(&mut self) {
        self.gauge.dec();
    }
}

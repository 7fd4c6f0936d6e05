//! Prometheus metrics, one registry per app (no globals, so tests can run two apps). Label
//! values are bounded: route templates, configured event types (anything else is
//! `unknown`), fixed operation and outcome names.

use std::collections::HashSet;
use std::time::Instant;

use prometheus::core::Collector;
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

/// Latency buckets, in seconds, of the HTTP and store duration histograms.
const LATENCY_BUCKETS: [f64; 13] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// A metric family as exported: its name, help text and label names.
struct Family {
    name: &'static str,
    help: &'static str,
    labels: &'static [&'static str],
}

const HTTP_REQUESTS: Family = Family {
    name: "tidings_http_requests_total",
    help: "HTTP requests answered",
    labels: &["route", "method", "status"],
};
const HTTP_DURATION: Family = Family {
    name: "tidings_http_request_duration_seconds",
    help: "Time to answer (SSE: to open the stream)",
    labels: &["route", "method"],
};
const HTTP_IN_FLIGHT: Family = Family {
    name: "tidings_http_requests_in_flight",
    help: "HTTP requests being handled",
    labels: &[],
};
const NOTIFICATIONS: Family = Family {
    name: "tidings_notifications_total",
    help: "Notify requests by outcome (stored, duplicate, rejected, failed)",
    labels: &["event_type", "outcome"],
};
const STORE_OPERATIONS_TOTAL: Family = Family {
    name: "tidings_store_operations_total",
    help: "Store operations by outcome (ok, error)",
    labels: &["operation", "outcome"],
};
const STORE_DURATION: Family = Family {
    name: "tidings_store_operation_duration_seconds",
    help: "Store operation latency",
    labels: &["operation"],
};
const SSE_OPEN: Family = Family {
    name: "tidings_sse_connections_open",
    help: "Open SSE streams",
    labels: &["route", "event_type"],
};
const SSE_FRAMES: Family = Family {
    name: "tidings_sse_frames_sent_total",
    help: "Notification frames sent",
    labels: &["route", "event_type"],
};
const SSE_CUT_OFF: Family = Family {
    name: "tidings_sse_watchers_cut_off_total",
    help: "Watchers disconnected for falling behind",
    labels: &["event_type"],
};
const REPLAY_DELIVERED: Family = Family {
    name: "tidings_replay_notifications_delivered_total",
    help: "Notifications delivered from history",
    labels: &["event_type"],
};
const NATS_CONNECTED: Family = Family {
    name: "tidings_nats_connected",
    help: "1 while the NATS connection is up (memory store: 1)",
    labels: &[],
};
const NATS_RECONNECTS: Family = Family {
    name: "tidings_nats_reconnects_total",
    help: "NATS reconnections after a loss",
    labels: &[],
};
const DELIVERY_ATTEMPTS: Family = Family {
    name: "tidings_delivery_attempts_total",
    help: "Webhook attempts by trigger and outcome (success, or the error class; failed: an answer that is not 2xx)",
    labels: &["trigger", "outcome"],
};
const DELIVERY_ATTEMPT_DURATION: Family = Family {
    name: "tidings_delivery_attempt_duration_seconds",
    help: "Webhook attempt duration, request to the end of the (capped) answer",
    labels: &["trigger"],
};
const DELIVERY_BLOCKED: Family = Family {
    name: "tidings_delivery_addresses_blocked_total",
    help: "Destination addresses refused by the address guard (registration, attempt)",
    labels: &["stage"],
};
const DELIVERY_LATENCY: Family = Family {
    name: "tidings_delivery_end_to_end_seconds",
    help: "Notification stored to the first successful attempt of its delivery",
    labels: &[],
};
const DELIVERY_BACKLOG: Family = Family {
    name: "tidings_delivery_backlog",
    help: "Deliveries queued and not yet terminal, all destinations (sampled)",
    labels: &[],
};
const DELIVERY_DESTINATIONS: Family = Family {
    name: "tidings_delivery_destinations",
    help: "Registered destinations by state",
    labels: &["state"],
};
const DELIVERY_ROUTED: Family = Family {
    name: "tidings_delivery_deliveries_total",
    help: "Deliveries by how they ended (routed: created by routing)",
    labels: &["status"],
};
const BUILD_INFO: Family = Family {
    name: "tidings_build_info",
    help: "Build information (always 1)",
    labels: &["version"],
};

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
    pub delivery_attempts: IntCounterVec,
    pub delivery_attempt_duration: HistogramVec,
    pub delivery_blocked: IntCounterVec,
    pub delivery_latency: prometheus::Histogram,
    pub delivery_backlog: IntGauge,
    pub delivery_destinations: IntGaugeVec,
    pub delivery_deliveries: IntCounterVec,
}

/// `trigger` label values of the delivery families.
pub const DELIVERY_TRIGGERS: [&str; 4] = ["scheduled", "manual", "replay", "test"];
/// `outcome` label values of `tidings_delivery_attempts_total`.
pub const DELIVERY_OUTCOMES: [&str; 9] = [
    "success",
    "failed",
    "timeout",
    "connect",
    "dns",
    "tls",
    "redirect",
    "blocked_address",
    "gone",
];

/// Registers a family built from `family`.
// Names, help texts and labels are constants: a failure here is a programming error,
// caught by the first test that builds an app.
fn register<M: Collector + Clone + 'static>(
    registry: &Registry,
    family: &Family,
    metric: prometheus::Result<M>,
) -> M {
    let name = family.name;
    let metric = metric.unwrap_or_else(|error| panic!("metric {name}: {error}"));
    registry
        .register(Box::new(metric.clone()))
        .unwrap_or_else(|error| panic!("register {name}: {error}"));
    metric
}

fn counter_vec(registry: &Registry, family: &Family) -> IntCounterVec {
    let opts = Opts::new(family.name, family.help);
    register(registry, family, IntCounterVec::new(opts, family.labels))
}

fn histogram_vec(registry: &Registry, family: &Family) -> HistogramVec {
    let opts = HistogramOpts::new(family.name, family.help).buckets(LATENCY_BUCKETS.to_vec());
    register(registry, family, HistogramVec::new(opts, family.labels))
}

fn gauge_vec(registry: &Registry, family: &Family) -> IntGaugeVec {
    let opts = Opts::new(family.name, family.help);
    register(registry, family, IntGaugeVec::new(opts, family.labels))
}

fn gauge(registry: &Registry, family: &Family) -> IntGauge {
    register(registry, family, IntGauge::new(family.name, family.help))
}

fn counter(registry: &Registry, family: &Family) -> IntCounter {
    register(registry, family, IntCounter::new(family.name, family.help))
}

/// `tidings_build_info{version}`, set to 1 once.
fn register_build_info(registry: &Registry) {
    gauge_vec(registry, &BUILD_INFO)
        .with_label_values(&[env!("CARGO_PKG_VERSION")])
        .set(1);
}

impl Metrics {
    /// Registers every family and pre-creates the series of the configured event types.
    pub fn new(event_types: &[String]) -> Self {
        let registry = Registry::new();
        register_build_info(&registry);
        let metrics = Self {
            http_requests: counter_vec(&registry, &HTTP_REQUESTS),
            http_duration: histogram_vec(&registry, &HTTP_DURATION),
            http_in_flight: gauge(&registry, &HTTP_IN_FLIGHT),
            notifications: counter_vec(&registry, &NOTIFICATIONS),
            store_operations: counter_vec(&registry, &STORE_OPERATIONS_TOTAL),
            store_duration: histogram_vec(&registry, &STORE_DURATION),
            sse_open: gauge_vec(&registry, &SSE_OPEN),
            sse_frames: counter_vec(&registry, &SSE_FRAMES),
            sse_cut_off: counter_vec(&registry, &SSE_CUT_OFF),
            replay_delivered: counter_vec(&registry, &REPLAY_DELIVERED),
            nats_connected: gauge(&registry, &NATS_CONNECTED),
            nats_reconnects: counter(&registry, &NATS_RECONNECTS),
            delivery_attempts: counter_vec(&registry, &DELIVERY_ATTEMPTS),
            delivery_attempt_duration: histogram_vec(&registry, &DELIVERY_ATTEMPT_DURATION),
            delivery_blocked: counter_vec(&registry, &DELIVERY_BLOCKED),
            delivery_latency: register(
                &registry,
                &DELIVERY_LATENCY,
                prometheus::Histogram::with_opts(
                    HistogramOpts::new(DELIVERY_LATENCY.name, DELIVERY_LATENCY.help)
                        .buckets(LATENCY_BUCKETS.to_vec()),
                ),
            ),
            delivery_backlog: gauge(&registry, &DELIVERY_BACKLOG),
            delivery_destinations: gauge_vec(&registry, &DELIVERY_DESTINATIONS),
            delivery_deliveries: counter_vec(&registry, &DELIVERY_ROUTED),
            event_types: event_types.iter().cloned().collect(),
            registry,
        };
        metrics.create_event_type_series(event_types);
        metrics.create_store_series();
        metrics.create_delivery_series();
        metrics
    }

    /// The series of each delivery trigger, outcome and guard stage.
    fn create_delivery_series(&self) {
        for trigger in DELIVERY_TRIGGERS {
            for outcome in DELIVERY_OUTCOMES {
                self.delivery_attempts
                    .with_label_values(&[trigger, outcome]);
            }
        }
        for stage in ["registration", "attempt"] {
            self.delivery_blocked.with_label_values(&[stage]);
        }
        for state in ["enabled", "disabled"] {
            self.delivery_destinations.with_label_values(&[state]);
        }
        for status in ["routed", "succeeded", "failed", "cancelled"] {
            self.delivery_deliveries.with_label_values(&[status]);
        }
    }

    /// The series of each configured event type (and of `unknown` notify requests).
    fn create_event_type_series(&self, event_types: &[String]) {
        for event_type in event_types {
            self.sse_cut_off.with_label_values(&[event_type.as_str()]);
            self.replay_delivered
                .with_label_values(&[event_type.as_str()]);
        }
        for event_type in event_types.iter().map(String::as_str).chain([UNKNOWN]) {
            for outcome in ["stored", "duplicate", "rejected", "failed"] {
                self.notifications.with_label_values(&[event_type, outcome]);
            }
        }
    }

    /// The series of each store operation and outcome.
    fn create_store_series(&self) {
        for operation in STORE_OPERATIONS {
            for outcome in ["ok", "error"] {
                self.store_operations
                    .with_label_values(&[operation, outcome]);
            }
        }
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

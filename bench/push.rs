//! Push delivery scenarios (DELIVERY.md §3-§5): destinations registered on the gateway, all
//! pointing at a receiver inside this process (an HTTP server on a loopback ephemeral port,
//! one path per destination), which verifies every Standard Webhooks signature with the
//! secret returned at creation and records when each `webhook-id` first arrived on each
//! destination. Every loop is bounded in count and time.
//!
//! - `push`: D matching destinations (and R registered ones that never match) while N
//!   notifications are published at M per second: end-to-end latency (notify request sent →
//!   webhook request received), deliveries/s, missing, duplicates, invalid signatures.
//! - `push-down`: the same, but the receiver answers 503 for the first T seconds of
//!   publishing: nothing may be missing, and the backlog must drain soon after it returns.
//! - `push-memory`: the gateway's resident memory before and after registering K destinations.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use futures::StreamExt;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::{Options, latency_summary, rss_kib};

/// How far a `webhook-timestamp` may be from the receiver's clock (what the Standard
/// Webhooks libraries accept).
const TIMESTAMP_TOLERANCE_SECONDS: i64 = 300;
/// Concurrent requests when registering or deleting destinations.
const ADMIN_CONCURRENCY: usize = 16;
/// How long deleting a scenario's destinations may take, past its own time limit.
const CLEANUP: Duration = Duration::from_secs(120);

/// What arrived on one destination.
#[derive(Default)]
struct Arrivals {
    /// First arrival (answered 2xx) of each `webhook-id`.
    first: HashMap<String, Instant>,
    duplicates: u64,
}

/// The in-process receiver's shared state.
struct Receiver {
    /// Signing key (the decoded `whsec_` bytes) per destination index, once created.
    keys: RwLock<Vec<Option<Vec<u8>>>>,
    arrivals: Vec<Mutex<Arrivals>>,
    /// While set, every request is answered 503 (and not recorded as received).
    down: AtomicBool,
    answered_unavailable: AtomicU64,
    invalid_signatures: AtomicU64,
    /// Structured bodies whose CloudEvent `id` is not the `webhook-id`.
    id_mismatches: AtomicU64,
    /// Requests to a path that names no destination of this run.
    unknown_path: AtomicU64,
    requests: AtomicU64,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Receiver {
    fn new(destinations: usize) -> Self {
        Self {
            keys: RwLock::new(vec![None; destinations]),
            arrivals: (0..destinations)
                .map(|_| Mutex::new(Arrivals::default()))
                .collect(),
            down: AtomicBool::new(false),
            answered_unavailable: AtomicU64::new(0),
            invalid_signatures: AtomicU64::new(0),
            id_mismatches: AtomicU64::new(0),
            unknown_path: AtomicU64::new(0),
            requests: AtomicU64::new(0),
        }
    }

    fn key(&self, index: usize) -> Option<Vec<u8>> {
        let keys = self
            .keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        keys.get(index).cloned().flatten()
    }

    fn set_key(&self, index: usize, key: Vec<u8>) {
        let mut keys = self
            .keys
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(slot) = keys.get_mut(index) {
            *slot = Some(key);
        }
    }

    /// How many of `ids` arrived, summed over the destinations.
    fn received(&self, ids: &HashSet<String>) -> usize {
        self.arrivals
            .iter()
            .map(|arrivals| {
                lock(arrivals)
                    .first
                    .keys()
                    .filter(|id| ids.contains(*id))
                    .count()
            })
            .sum()
    }

    /// Whether every destination has at least one of `ids`.
    fn all_have_one_of(&self, ids: &HashSet<String>) -> bool {
        self.arrivals
            .iter()
            .all(|arrivals| lock(arrivals).first.keys().any(|id| ids.contains(id)))
    }
}

/// Standard Webhooks: `v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>`, one entry
/// per key in force, space-separated; any entry that verifies will do.
fn signature_valid(key: &[u8], id: &str, timestamp: &str, body: &[u8], header: &str) -> bool {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return false;
    };
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    let expected = STANDARD.encode(mac.finalize().into_bytes());
    header
        .split(' ')
        .filter_map(|entry| entry.strip_prefix("v1,"))
        .any(|signature| signature == expected)
}

fn timestamp_fresh(timestamp: &str) -> bool {
    let now = crate::now_micros() as i64 / 1_000_000;
    timestamp
        .parse::<i64>()
        .is_ok_and(|sent| (now - sent).abs() <= TIMESTAMP_TOLERANCE_SECONDS)
}

async fn receive(
    State(receiver): State<Arc<Receiver>>,
    Path(index): Path<usize>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let arrived = Instant::now();
    receiver.requests.fetch_add(1, Ordering::Relaxed);
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    let (Some(arrivals), Some(key)) = (receiver.arrivals.get(index), receiver.key(index)) else {
        receiver.unknown_path.fetch_add(1, Ordering::Relaxed);
        return StatusCode::NOT_FOUND;
    };
    let (Some(id), Some(timestamp), Some(signature)) = (
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
    ) else {
        receiver.invalid_signatures.fetch_add(1, Ordering::Relaxed);
        return StatusCode::BAD_REQUEST;
    };
    if !signature_valid(&key, id, timestamp, &body, signature) || !timestamp_fresh(timestamp) {
        receiver.invalid_signatures.fetch_add(1, Ordering::Relaxed);
        return StatusCode::UNAUTHORIZED;
    }
    if header("content-type") == Some("application/cloudevents+json") {
        #[derive(serde::Deserialize)]
        struct Event<'a> {
            id: &'a str,
        }
        if serde_json::from_slice::<Event<'_>>(&body).map_or(true, |event| event.id != id) {
            receiver.id_mismatches.fetch_add(1, Ordering::Relaxed);
        }
    }
    if receiver.down.load(Ordering::SeqCst) {
        receiver
            .answered_unavailable
            .fetch_add(1, Ordering::Relaxed);
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let mut arrivals = lock(arrivals);
    if arrivals.first.contains_key(id) {
        arrivals.duplicates += 1;
    } else {
        arrivals.first.insert(id.to_owned(), arrived);
    }
    StatusCode::OK
}

/// Starts the receiver on a loopback ephemeral port; it stops when the token is dropped.
async fn start_receiver(
    receiver: Arc<Receiver>,
) -> Result<(String, tokio::sync::oneshot::Sender<()>), String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("receiver: {e}"))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let app = Router::new()
        .route("/d/{index}", post(receive))
        .with_state(receiver);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await;
    });
    Ok((format!("http://{address}"), stop))
}

/// What the matching and the never-matching destinations subscribe to.
fn subscription(options: &Options, tag: &str, matching: bool) -> Value {
    let identifier = match (matching, options.push_extra_kind.as_str()) {
        (true, _) => json!({"class": "od", "stream": tag}),
        // Same first key as the notifications: the index has to check these filters.
        (false, "later-key") => json!({"class": "od", "stream": format!("{tag}x")}),
        // Another first key: the index never looks at these.
        (false, _) => json!({"class": "rd", "stream": tag}),
    };
    json!([{"event_type": options.event_type, "identifier": identifier}])
}

fn notification(options: &Options, tag: &str, index: usize, warmup: bool) -> Value {
    json!({"event_type": options.event_type,
        "identifier": {"class": "od", "expver": "1", "domain": "g", "date": "2025-07-06", "time": "12",
                       "stream": tag, "step": index % 100_000},
        "payload": {"index": index, "warmup": warmup}})
}

/// Registers one destination; its id and its signing key.
async fn create_destination(
    client: &reqwest::Client,
    options: &Options,
    body: Value,
) -> Result<(String, Vec<u8>), String> {
    let response = client
        .post(format!("{}/api/v1/destinations", options.url))
        .json(&body)
        .send()
        .await
        .map_err(|e| format!("create destination: {e}"))?;
    let status = response.status();
    let answer: Value = response.json().await.map_err(|e| e.to_string())?;
    if status != reqwest::StatusCode::CREATED {
        return Err(format!("create destination: {status} {answer}"));
    }
    let id = answer["id"].as_str().ok_or("no destination id")?.to_owned();
    let secret = answer["secret"].as_str().ok_or("no secret")?;
    let key = STANDARD
        .decode(
            secret
                .strip_prefix("whsec_")
                .ok_or("secret without whsec_")?,
        )
        .map_err(|e| format!("secret: {e}"))?;
    Ok((id, key))
}

/// Registers `count` destinations made by `body(n)`, `ADMIN_CONCURRENCY` at a time, until
/// `deadline`: (n, id, key) in any order.
async fn create_many(
    client: &reqwest::Client,
    options: &Options,
    count: usize,
    body: impl Fn(usize) -> Value,
    deadline: Instant,
) -> Result<Vec<(usize, String, Vec<u8>)>, String> {
    let bodies: Vec<(usize, Value)> = (0..count).map(|n| (n, body(n))).collect();
    let mut created = Vec::with_capacity(count);
    let mut results = futures::stream::iter(bodies)
        .map(|(n, body)| async move {
            if Instant::now() > deadline {
                return Err("time limit reached while registering destinations".to_owned());
            }
            create_destination(client, options, body)
                .await
                .map(|(id, key)| (n, id, key))
        })
        .buffer_unordered(ADMIN_CONCURRENCY);
    let mut failure = None;
    while let Some(result) = results.next().await {
        match result {
            Ok(done) => created.push(done),
            Err(error) => failure = Some(error),
        }
    }
    match failure {
        // Whatever was made is returned through the error path's caller cleaning up.
        Some(error) if created.len() < count => {
            let ids = created.iter().map(|(_, id, _)| id.clone());
            delete_many(client, options, ids, Instant::now() + CLEANUP).await;
            Err(error)
        }
        _ => Ok(created),
    }
}

/// Deletes destinations by id, `ADMIN_CONCURRENCY` at a time (each bounded by the client's
/// timeout), until `deadline`: how many answered what (`200`, `timeout`, `error`, `skipped`).
async fn delete_many(
    client: &reqwest::Client,
    options: &Options,
    ids: impl Iterator<Item = String>,
    deadline: Instant,
) -> BTreeMap<String, usize> {
    let outcomes: Vec<String> = futures::stream::iter(ids)
        .map(|id| async move {
            if Instant::now() > deadline {
                return "skipped".to_owned();
            }
            match client
                .delete(format!("{}/api/v1/destinations/{id}", options.url))
                .send()
                .await
            {
                Ok(response) => response.status().as_u16().to_string(),
                Err(error) if error.is_timeout() => "timeout".to_owned(),
                Err(_) => "error".to_owned(),
            }
        })
        .buffer_unordered(ADMIN_CONCURRENCY)
        .collect()
        .await;
    let mut counts = BTreeMap::new();
    for outcome in outcomes {
        *counts.entry(outcome).or_default() += 1;
    }
    counts
}

/// Waits (bounded) until every destination of `ids` has its lane open: the shared lane's
/// durable consumer (`shared`) on the delivery work queue, for unordered destinations, or
/// an ordered one's own (`o-<id>`). How long it took, or `None` when the bench
/// cannot tell (no `--nats`) or it did not get there in time.
async fn wait_for_lanes(
    options: &Options,
    ids: &[String],
    deadline: Instant,
) -> (Option<f64>, Option<usize>) {
    let started = Instant::now();
    let Some(url) = options.nats.as_ref() else {
        return (None, None);
    };
    let Ok(client) = async_nats::connect(url).await else {
        return (None, None);
    };
    let jetstream = async_nats::jetstream::new(client);
    let Ok(stream) = jetstream.get_stream(&options.queue_stream).await else {
        return (None, None);
    };
    let mut open_count = None;
    while Instant::now() < deadline {
        let open: HashSet<String> = stream
            .consumer_names()
            .filter_map(|name| futures::future::ready(name.ok()))
            .collect()
            .await;
        let count = ids
            .iter()
            .filter(|id| open.contains("shared") || open.contains(&format!("o-{id}")))
            .count();
        open_count = Some(count);
        if count == ids.len() {
            return (Some(started.elapsed().as_secs_f64() * 1000.0), open_count);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    (None, open_count)
}

/// CPU seconds (user + system) a process has used so far, from `/proc/<pid>/stat`.
pub(crate) fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the `(comm)`, which may hold spaces: state is field 3, utime 14, stime 15.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / clock_ticks())
}

/// Clock ticks per second (`getconf CLK_TCK`; 100 on Linux when it cannot be asked).
fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|output| String::from_utf8(output.stdout).ok())
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// One published notification: when its request was sent, its id if stored.
struct Published {
    sent: Instant,
    id: Option<String>,
}

async fn publish_one(client: reqwest::Client, url: String, body: Value) -> Published {
    let sent = Instant::now();
    let id = match client.post(&url).json(&body).send().await {
        Ok(response) if response.status() == reqwest::StatusCode::OK => response
            .json::<Value>()
            .await
            .ok()
            .and_then(|answer| answer["id"].as_str().map(str::to_owned)),
        _ => None,
    };
    Published { sent, id }
}

/// `push` (`down` = None) and `push-down` (`down` = the seconds the receiver answers 503).
pub(crate) async fn push(
    options: &Options,
    client: &reqwest::Client,
    run: &str,
    down: Option<Duration>,
    deadline: Instant,
) -> Result<Value, String> {
    let scenario = if down.is_some() { "push-down" } else { "push" };
    let matching = options.push_destinations.max(1);
    let extra = options.push_extra;
    let tag = format!("p{run}{}", if down.is_some() { "d" } else { "" });
    let receiver = Arc::new(Receiver::new(matching));
    let (base, stop) = start_receiver(receiver.clone()).await?;
    // Register: the matching destinations, then the extra ones that never match.
    let started = Instant::now();
    let schedule: Vec<String> = options.push_schedule.clone();
    let settings = |url: String, matches: bool| {
        json!({"url": url, "name": format!("bench {scenario} {tag}"),
               "subscriptions": subscription(options, &tag, matches),
               "ordering": options.push_ordering, "format": options.push_format,
               "timeout": "5s", "retry": {"schedule": schedule},
               "headers": {"X-Bench": tag}})
    };
    let created = create_many(
        client,
        options,
        matching,
        |n| settings(format!("{base}/d/{n}"), true),
        deadline,
    )
    .await?;
    let mut matching_ids = vec![String::new(); matching];
    for (n, id, key) in created {
        receiver.set_key(n, key);
        matching_ids[n] = id;
    }
    let mut ids: Vec<String> = matching_ids.clone();
    let extras = match create_many(
        client,
        options,
        extra,
        // Never called: no notification matches them.
        |n| settings(format!("{base}/extra/{n}"), false),
        deadline,
    )
    .await
    {
        Ok(extras) => extras,
        Err(error) => {
            delete_many(client, options, ids.into_iter(), Instant::now() + CLEANUP).await;
            let _ = stop.send(());
            return Err(error);
        }
    };
    ids.extend(extras.into_iter().map(|(_, id, _)| id));
    let registration_ms = started.elapsed().as_secs_f64() * 1000.0;

    let outcome = measure(
        options,
        client,
        &tag,
        &receiver,
        &matching_ids,
        down,
        deadline,
        &ids,
    )
    .await;
    let deleted = delete_many(client, options, ids.into_iter(), Instant::now() + CLEANUP).await;
    let _ = stop.send(());
    let mut result = outcome?;
    if let Value::Object(map) = &mut result {
        map.insert("scenario".to_owned(), json!(scenario));
        map.insert("destinations".to_owned(), json!(matching));
        map.insert("extra_destinations".to_owned(), json!(extra));
        if extra > 0 {
            map.insert("extra_kind".to_owned(), json!(options.push_extra_kind));
        }
        map.insert("ordering".to_owned(), json!(options.push_ordering));
        map.insert("format".to_owned(), json!(options.push_format));
        map.insert("schedule".to_owned(), json!(options.push_schedule));
        map.insert("registration_ms".to_owned(), json!(registration_ms));
        map.insert("deleted_after".to_owned(), json!(deleted));
    }
    Ok(result)
}

#[allow(clippy::too_many_arguments)]
async fn measure(
    options: &Options,
    client: &reqwest::Client,
    tag: &str,
    receiver: &Arc<Receiver>,
    destination_ids: &[String],
    down: Option<Duration>,
    deadline: Instant,
    registered: &[String],
) -> Result<Value, String> {
    let url = format!("{}/api/v1/notification", options.url);
    // Every lane open (when the bench can see the work queue), then a warm-up notification
    // every 500 ms until each destination has received one: routing and sending are live.
    let (lanes_ms, lanes_open) = wait_for_lanes(options, registered, deadline).await;
    let warmup_started = Instant::now();
    let warmup_deadline = (warmup_started + Duration::from_secs(30)).min(deadline);
    let mut warmup_ids = HashSet::new();
    let mut warmup_index = 100_000 - 1;
    let warmup_ms = loop {
        let published = publish_one(
            client.clone(),
            url.clone(),
            notification(options, tag, warmup_index, true),
        )
        .await;
        warmup_index -= 1;
        if let Some(id) = published.id {
            warmup_ids.insert(id);
        }
        let waited = Instant::now() + Duration::from_millis(500);
        while Instant::now() < waited {
            if receiver.all_have_one_of(&warmup_ids) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if receiver.all_have_one_of(&warmup_ids) {
            break warmup_started.elapsed().as_secs_f64() * 1000.0;
        }
        if Instant::now() > warmup_deadline {
            return Err(format!(
                "warm-up: not every destination received a notification within 30 s ({} warm-ups sent, {} requests received, {} invalid)",
                warmup_ids.len(),
                receiver.requests.load(Ordering::Relaxed),
                receiver.invalid_signatures.load(Ordering::Relaxed),
            ));
        }
    };
    // Let warm-up stragglers land before measuring.
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Publish N at M per second (bounded by count and time).
    let total = options.push_notifications;
    let publish_deadline = deadline.min(
        Instant::now()
            + Duration::from_secs_f64(total as f64 / options.push_rate.max(1) as f64 * 2.0 + 10.0),
    );
    let recovered = Arc::new(Mutex::new(None::<Instant>));
    if let Some(down) = down {
        receiver.down.store(true, Ordering::SeqCst);
        let (receiver, recovered) = (receiver.clone(), recovered.clone());
        tokio::spawn(async move {
            tokio::time::sleep(down).await;
            receiver.down.store(false, Ordering::SeqCst);
            *lock(&recovered) = Some(Instant::now());
        });
    }
    let cpu_before = (
        options.pid.and_then(cpu_seconds),
        options.nats_pid.and_then(cpu_seconds),
    );
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(
        1.0 / options.push_rate.max(1) as f64,
    ));
    let publishing = Instant::now();
    let mut publishers = Vec::with_capacity(total);
    for index in 0..total {
        if Instant::now() > publish_deadline {
            break;
        }
        ticker.tick().await;
        publishers.push(tokio::spawn(publish_one(
            client.clone(),
            url.clone(),
            notification(options, tag, index, false),
        )));
    }
    let mut sent = HashMap::with_capacity(total);
    let mut publish_errors = 0;
    let mut first_sent = None;
    let mut last_sent = publishing;
    for publisher in publishers {
        match publisher.await {
            Ok(Published {
                sent: at,
                id: Some(id),
            }) => {
                first_sent = Some(first_sent.map_or(at, |first: Instant| first.min(at)));
                last_sent = last_sent.max(at);
                sent.insert(id, at);
            }
            _ => publish_errors += 1,
        }
    }
    let publish_seconds = last_sent.duration_since(publishing).as_secs_f64();
    let published = sent.len();
    let expected = published * receiver.arrivals.len();

    // Drain: until everything arrived or the drain bound after the last notify (and after
    // the receiver came back) passed.
    let expected_ids: HashSet<String> = sent.keys().cloned().collect();
    let drain: Duration = options.push_drain.into();
    let drain_from = match down {
        Some(down) => last_sent.max(publishing + down),
        None => last_sent,
    };
    let drain_deadline = deadline.min(drain_from + drain);
    while Instant::now() < drain_deadline && receiver.received(&expected_ids) < expected {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    receiver.down.store(false, Ordering::SeqCst);
    let used = |before: Option<f64>, pid: Option<u32>| Some(pid.and_then(cpu_seconds)? - before?);
    let gateway_cpu = used(cpu_before.0, options.pid);
    let nats_cpu = used(cpu_before.1, options.nats_pid);
    // Stragglers that would show as duplicates.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut latencies = Vec::with_capacity(expected);
    let mut delivered = 0usize;
    let mut duplicates = 0u64;
    let mut unexpected = 0usize;
    let mut last_arrival = None::<Instant>;
    let mut missing_sample = Vec::new();
    for (index, arrivals) in receiver.arrivals.iter().enumerate() {
        let arrivals = lock(arrivals);
        duplicates += arrivals.duplicates;
        for (id, arrived) in &arrivals.first {
            match sent.get(id) {
                Some(at) => {
                    delivered += 1;
                    latencies.push(arrived.saturating_duration_since(*at).as_secs_f64() * 1000.0);
                    last_arrival = Some(last_arrival.map_or(*arrived, |last| last.max(*arrived)));
                }
                None if warmup_ids.contains(id) => {}
                None => unexpected += 1,
            }
        }
        if missing_sample.len() < 5 {
            for id in sent
                .keys()
                .filter(|id| !arrivals.first.contains_key(*id))
                .take(5)
            {
                missing_sample.push((index, id.clone()));
            }
        }
    }
    let delivering_seconds = match (first_sent, last_arrival) {
        (Some(first), Some(last)) => last.duration_since(first).as_secs_f64(),
        _ => 0.0,
    };
    let mut result = json!({
        "notifications": published,
        "rate_per_second": options.push_rate,
        "published_per_second": if publish_seconds > 0.0 { published as f64 / publish_seconds } else { 0.0 },
        "publish_errors": publish_errors,
        "expected_deliveries": expected,
        "delivered": delivered,
        "missing": expected.saturating_sub(delivered),
        "duplicates": duplicates,
        "invalid_signatures": receiver.invalid_signatures.load(Ordering::Relaxed),
        "id_mismatches": receiver.id_mismatches.load(Ordering::Relaxed),
        "unexpected": unexpected,
        "unknown_path": receiver.unknown_path.load(Ordering::Relaxed),
        "deliveries_per_second": if delivering_seconds > 0.0 { delivered as f64 / delivering_seconds } else { 0.0 },
        "drain_after_last_notify_ms": last_arrival.map(|last| last.saturating_duration_since(last_sent).as_secs_f64() * 1000.0),
        "lanes_open_ms": lanes_ms,
        "lanes_open": lanes_open,
        "warmup_ms": warmup_ms,
        "gateway_cpu_seconds": gateway_cpu,
        "nats_cpu_seconds": nats_cpu,
        "gateway_cpu_ms_per_delivery": gateway_cpu.map(|cpu| cpu * 1000.0 / delivered.max(1) as f64),
        "nats_cpu_ms_per_delivery": nats_cpu.map(|cpu| cpu * 1000.0 / delivered.max(1) as f64),
    });
    if let Value::Object(map) = &mut result {
        if let Value::Object(summary) = latency_summary(latencies) {
            map.extend(summary);
        }
        if expected > delivered {
            // What the gateway says about a few of the missing deliveries.
            let mut sample = Vec::new();
            for (index, id) in missing_sample {
                let destination = destination_ids.get(index).cloned().unwrap_or_default();
                let record = client
                    .get(format!(
                        "{}/api/v1/deliveries/{destination}:{id}",
                        options.url
                    ))
                    .send()
                    .await;
                let record = match record {
                    Ok(response) => response.json::<Value>().await.unwrap_or(Value::Null),
                    Err(error) => json!(error.to_string()),
                };
                sample.push(json!({"destination": destination, "id": id,
                    "status": record["status"], "attempts": record["attempts"],
                    "last_response_status_code": record["last_response_status_code"],
                    "next_attempt_at": record["next_attempt_at"]}));
            }
            map.insert("missing_sample".to_owned(), json!(sample));
        }
        if let Some(down) = down {
            let recovered = *lock(&recovered);
            map.insert("down_seconds".to_owned(), json!(down.as_secs_f64()));
            map.insert(
                "answered_503".to_owned(),
                json!(receiver.answered_unavailable.load(Ordering::Relaxed)),
            );
            map.insert(
                "drained_after_recovery_ms".to_owned(),
                json!(match (recovered, last_arrival) {
                    (Some(recovered), Some(last)) =>
                        Some(last.saturating_duration_since(recovered).as_secs_f64() * 1000.0),
                    _ => None,
                }),
            );
        }
    }
    Ok(result)
}

/// `push-memory`: the gateway's RSS before and after registering K destinations (that match
/// nothing), with every lane open.
pub(crate) async fn memory(
    options: &Options,
    client: &reqwest::Client,
    run: &str,
    deadline: Instant,
) -> Result<Value, String> {
    let pid = options.pid.ok_or("the push-memory scenario needs --pid")?;
    let count = options.push_memory_destinations;
    let tag = format!("m{run}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = rss_kib(pid).ok_or("cannot read the gateway's memory")?;
    let nats_before = options.nats_pid.and_then(rss_kib);
    let started = Instant::now();
    let created = create_many(
        client,
        options,
        count,
        |n| {
            json!({"url": format!("http://127.0.0.1:9/m/{n}"), "name": format!("bench memory {tag}"),
                   "subscriptions": [{"event_type": options.event_type, "identifier": {"class": "rd", "stream": tag}}]})
        },
        deadline,
    )
    .await?;
    let registration_seconds = started.elapsed().as_secs_f64();
    let ids: Vec<String> = created.into_iter().map(|(_, id, _)| id).collect();
    let (lanes_ms, lanes_open) = wait_for_lanes(options, &ids, deadline).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = rss_kib(pid).ok_or("cannot read the gateway's memory")?;
    let nats_after = options.nats_pid.and_then(rss_kib);
    let deleting = Instant::now();
    let deleted = delete_many(
        client,
        options,
        ids.iter().cloned(),
        deadline.max(Instant::now() + CLEANUP),
    )
    .await;
    let delete_seconds = deleting.elapsed().as_secs_f64();
    let deleted_ok = deleted.get("200").copied().unwrap_or(0);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after_delete = rss_kib(pid);
    Ok(json!({
        "scenario": "push-memory",
        "destinations": ids.len(),
        "registered_per_second": ids.len() as f64 / registration_seconds,
        "lanes_open_ms": lanes_ms,
        "lanes_open": lanes_open,
        "rss_before_kib": before,
        "rss_with_destinations_kib": after,
        "kib_per_destination": after.saturating_sub(before) as f64 / ids.len().max(1) as f64,
        "nats_rss_before_kib": nats_before,
        "nats_rss_with_destinations_kib": nats_after,
        "nats_kib_per_destination": match (nats_before, nats_after) {
            (Some(before), Some(after)) => Some(after.saturating_sub(before) as f64 / ids.len().max(1) as f64),
            _ => None,
        },
        "delete_statuses": deleted,
        "deleted_per_second": deleted_ok as f64 / delete_seconds,
        "rss_after_delete_kib": after_delete,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifies_the_standard_webhooks_example() {
        // The example of the Standard Webhooks specification's reference libraries.
        let key = STANDARD
            .decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .unwrap_or_default();
        let body = br#"{"test": 2432232314}"#;
        let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
        let timestamp = "1614265330";
        let good = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
        assert!(signature_valid(&key, id, timestamp, body, good));
        assert!(signature_valid(
            &key,
            id,
            timestamp,
            body,
            &format!("v1,bad {good}")
        ));
        assert!(!signature_valid(&key, id, "1614265331", body, good));
        assert!(!signature_valid(&key, id, timestamp, body, "v1,bad"));
    }
}

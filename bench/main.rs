//! `tidings-bench`: load scenarios against any aviso-compatible gateway, measured in the
//! same run as raw JetStream on the same nats-server (the physical limit of each path).
//! One JSON line per scenario on stdout. Every loop is bounded in count and time, and only
//! loopback addresses are accepted.

use std::collections::BTreeMap;
use std::future::IntoFuture;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::Mutex;

mod history;
mod many_streams;
mod push;

#[derive(Debug, Parser)]
#[command(
    name = "tidings-bench",
    about = "Benchmark an aviso-compatible gateway against raw JetStream"
)]
struct Options {
    /// Gateway base URL (loopback only).
    #[arg(long, default_value = "http://127.0.0.1:8000")]
    url: String,
    /// NATS URL for the raw JetStream baseline (loopback only); omit to skip the baseline.
    #[arg(long)]
    nats: Option<String>,
    /// Comma-separated scenarios: baseline, http-floor, notify, replay, watch, idle, push, push-down,
    /// push-memory, history, watch-streams.
    #[arg(
        long,
        default_value = "baseline,notify,replay,watch,idle",
        value_delimiter = ','
    )]
    scenarios: Vec<String>,
    /// Notifications for notify and replay.
    #[arg(long, default_value_t = 20_000)]
    notifications: usize,
    /// Concurrent notify connections.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Watchers for the watch scenario.
    #[arg(long, default_value_t = 200)]
    watchers: usize,
    /// Notifications per second published during the watch scenario.
    #[arg(long, default_value_t = 200)]
    rate: u64,
    /// Notifications published during the watch scenario.
    #[arg(long, default_value_t = 2_000)]
    watch_notifications: usize,
    /// Idle watchers for the memory scenario.
    #[arg(long, default_value_t = 1_000)]
    idle: usize,
    /// Gateway process id, to read its resident memory (idle scenario).
    #[arg(long)]
    pid: Option<u32>,
    /// Upper bound on any one scenario.
    #[arg(long, default_value = "120s")]
    time_limit: humantime::Duration,
    /// Event type used (needs the bundled `mars` schema).
    #[arg(long, default_value = "mars")]
    event_type: String,
    /// nats-server process id, to read its resident memory (push-memory scenario).
    #[arg(long)]
    nats_pid: Option<u32>,
    /// Matching destinations of the push scenarios (all on the in-process receiver).
    #[arg(long, default_value_t = 10)]
    push_destinations: usize,
    /// Extra registered destinations that match no notification of the push scenarios.
    #[arg(long, default_value_t = 0)]
    push_extra: usize,
    /// How the extra destinations miss: `first-key` (another `class`: the index never looks
    /// at them) or `later-key` (same `class`, another `stream`: their filters are checked).
    #[arg(long, default_value = "first-key")]
    push_extra_kind: String,
    /// Notifications published by a push scenario.
    #[arg(long, default_value_t = 2_000)]
    push_notifications: usize,
    /// Notifications per second published by a push scenario.
    #[arg(long, default_value_t = 200)]
    push_rate: u64,
    /// How long after the last notify (and after the receiver is back) deliveries may
    /// still arrive before they count as missing.
    #[arg(long, default_value = "30s")]
    push_drain: humantime::Duration,
    /// push-down: how long the receiver answers 503 from the first notification on.
    #[arg(long, default_value = "30s")]
    push_down: humantime::Duration,
    /// The destinations' retry schedule (comma-separated delays).
    #[arg(long, default_value = "1s,2s,5s,10s", value_delimiter = ',')]
    push_schedule: Vec<String>,
    /// The destinations' `ordering`: unordered or ordered.
    #[arg(long, default_value = "unordered")]
    push_ordering: String,
    /// The destinations' `format`: structured or binary.
    #[arg(long, default_value = "structured")]
    push_format: String,
    /// Destinations registered by push-memory.
    #[arg(long, default_value_t = 10_000)]
    push_memory_destinations: usize,
    /// Streams of the watch-streams scenario (event types `<streams-prefix>000`…).
    #[arg(long, default_value_t = 100)]
    stream_count: usize,
    /// Event-type prefix of the watch-streams scenario (see `bench/run.sh`, PART=streams).
    #[arg(long, default_value = "bench_s")]
    streams_prefix: String,
    /// Stream sizes the history scenario fills to and measures at, in turn.
    #[arg(long, default_value = "10000,100000,1000000", value_delimiter = ',')]
    history_sizes: Vec<usize>,
    /// The gateway's delivery work-queue stream (one consumer per open lane), watched to
    /// know when every destination's lane is open (needs --nats).
    #[arg(long, default_value = "TIDINGS_DELIVERIES")]
    queue_stream: String,
}

fn loopback(url: &str) -> bool {
    [
        "http://127.0.0.1",
        "http://localhost",
        "http://[::1]",
        "nats://127.0.0.1",
        "nats://localhost",
        "nats://[::1]",
    ]
    .iter()
    .any(|prefix| url.starts_with(prefix))
}

fn percentile(sorted: &[f64], fraction: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn latency_summary(mut millis: Vec<f64>) -> Value {
    millis.sort_by(f64::total_cmp);
    json!({
        "p50_ms": percentile(&millis, 0.50),
        "p90_ms": percentile(&millis, 0.90),
        "p99_ms": percentile(&millis, 0.99),
        "max_ms": millis.last().copied().unwrap_or(0.0),
    })
}

/// A payload of the size the gateway scenarios send, for the raw baseline.
fn sample_payload(sequence: usize) -> Vec<u8> {
    json!({"bench": "raw", "sequence": sequence, "note": "x".repeat(64)})
        .to_string()
        .into_bytes()
}

fn identifier(run: &str, index: usize) -> Value {
    // `stream` carries the run tag and `step` the index: every notification has its own subject.
    json!({"class": "od", "expver": "1", "domain": "g", "date": "2025-07-06", "time": "12",
           "stream": format!("b{run}{}", index / 100_000), "step": index % 100_000})
}

async fn baseline(options: &Options, deadline: Instant) -> Result<Value, String> {
    let Some(url) = &options.nats else {
        return Err("no --nats given".to_owned());
    };
    let client = async_nats::connect(url).await.map_err(|e| e.to_string())?;
    let jetstream = async_nats::jetstream::new(client);
    let _ = jetstream.delete_stream("BENCH_RAW").await;
    let stream = jetstream
        .create_stream(async_nats::jetstream::stream::Config {
            name: "BENCH_RAW".to_owned(),
            subjects: vec!["bench_raw.>".to_owned()],
            ..Default::default()
        })
        .await
        .map_err(|e| e.to_string())?;
    let count = options.notifications;
    let started = Instant::now();
    let mut pending = futures::stream::FuturesOrdered::new();
    let mut published = 0;
    for sequence in 0..count {
        if Instant::now() > deadline {
            break;
        }
        let ack = jetstream
            .publish(
                format!("bench_raw.{}", sequence % 1000),
                sample_payload(sequence).into(),
            )
            .await
            .map_err(|e| e.to_string())?;
        pending.push_back(ack.into_future());
        // Pipelined: at most 256 acks outstanding.
        if pending.len() >= 256
            && let Some(ack) = pending.next().await
        {
            ack.map_err(|e| e.to_string())?;
            published += 1;
        }
    }
    while let Some(ack) = pending.next().await {
        ack.map_err(|e| e.to_string())?;
        published += 1;
    }
    let publish_seconds = started.elapsed().as_secs_f64();
    let consumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::OrderedConfig::default())
        .await
        .map_err(|e| e.to_string())?;
    let mut messages = consumer.messages().await.map_err(|e| e.to_string())?;
    let started = Instant::now();
    let mut read = 0;
    while read < published && Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(5), messages.next()).await {
            Ok(Some(Ok(_))) => read += 1,
            _ => break,
        }
    }
    let read_seconds = started.elapsed().as_secs_f64();
    let _ = jetstream.delete_stream("BENCH_RAW").await;
    Ok(json!({
        "scenario": "baseline",
        "published": published,
        "publish_per_second": published as f64 / publish_seconds,
        "read": read,
        "read_per_second": read as f64 / read_seconds,
    }))
}

/// What a closed-loop load measured: one latency and one status per request.
struct Load {
    latencies: Vec<f64>,
    statuses: BTreeMap<String, usize>,
    seconds: f64,
}

/// `count` requests from `options.concurrency` connections, each sending its next request as
/// soon as the last is answered; `call(index)` sends request `index` and names its outcome.
async fn closed_loop<F, Fut>(
    options: &Options,
    count: usize,
    deadline: Instant,
    call: F,
) -> Result<Load, String>
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = String> + Send,
{
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(count)));
    let statuses = Arc::new(Mutex::new(BTreeMap::<String, usize>::new()));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..options.concurrency {
        let (next, latencies, statuses, call) = (
            next.clone(),
            latencies.clone(),
            statuses.clone(),
            call.clone(),
        );
        workers.push(tokio::spawn(async move {
            loop {
                let index = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if index >= count || Instant::now() > deadline {
                    return;
                }
                let sent = Instant::now();
                let status = call(index).await;
                let took = sent.elapsed().as_secs_f64() * 1000.0;
                latencies.lock().await.push(took);
                *statuses.lock().await.entry(status).or_default() += 1;
            }
        }));
    }
    for worker in workers {
        worker.await.map_err(|e| e.to_string())?;
    }
    let seconds = started.elapsed().as_secs_f64();
    let latencies = latencies.lock().await.clone();
    let statuses = statuses.lock().await.clone();
    Ok(Load {
        latencies,
        statuses,
        seconds,
    })
}

/// How a request ended, as the load scenarios count it.
fn outcome_name(outcome: &Result<reqwest::Response, reqwest::Error>) -> String {
    match outcome {
        Ok(response) => response.status().as_u16().to_string(),
        Err(error) if error.is_timeout() => "timeout".to_owned(),
        Err(_) => "error".to_owned(),
    }
}

/// A load's JSON line: rate, statuses, CPU per request and latency percentiles.
fn load_report(
    options: &Options,
    scenario: &str,
    cpu_before: (Option<f64>, Option<f64>),
    load: Load,
) -> Value {
    let ok = load.statuses.get("200").copied().unwrap_or(0);
    let mut result = json!({
        "scenario": scenario,
        "requests": load.latencies.len(),
        "concurrency": options.concurrency,
        "ok": ok,
        "requests_per_second": load.latencies.len() as f64 / load.seconds,
        "statuses": load.statuses,
    });
    cpu_per(
        options,
        cpu_before,
        load.latencies.len(),
        "request",
        &mut result,
    );
    if let (Value::Object(map), Value::Object(summary)) =
        (&mut result, latency_summary(load.latencies))
    {
        map.extend(summary);
    }
    result
}

async fn notify(
    options: &Options,
    client: &reqwest::Client,
    run: &str,
    deadline: Instant,
) -> Result<(Value, Option<u64>), String> {
    let first_id = Arc::new(Mutex::new(None::<u64>));
    let url = format!("{}/api/v1/notification", options.url);
    let (client, run, event_type, first) = (
        client.clone(),
        run.to_owned(),
        options.event_type.clone(),
        first_id.clone(),
    );
    let call = move |index: usize| {
        let body = json!({"event_type": event_type, "identifier": identifier(&run, index), "payload": {"index": index}});
        let request = client.post(&url).json(&body).send();
        let first = first.clone();
        async move {
            let outcome = request.await;
            let status = outcome_name(&outcome);
            if let Ok(response) = outcome
                && response.status() == 200
                && let Ok(answer) = response.json::<Value>().await
                && let Some(id) = answer["id"]
                    .as_str()
                    .and_then(|id| id.rsplit('@').next()?.parse::<u64>().ok())
            {
                let mut first = first.lock().await;
                *first = Some(first.map_or(id, |current: u64| current.min(id)));
            }
            status
        }
    };
    let cpu_before = cpu_now(options);
    let load = closed_loop(options, options.notifications, deadline, call).await?;
    let result = load_report(options, "notify", cpu_before, load);
    // aviso answers a notify without its id: the replay then starts at the stream's first
    // sequence (its filter still selects only this run's notifications).
    let stored_any = result["ok"].as_u64().unwrap_or(0) > 0;
    let first = first_id.lock().await.or(stored_any.then_some(1));
    Ok((result, first))
}

/// The cheapest exchange the gateway serves (`GET /health`), with the notify scenario's
/// client and concurrency: what HTTP alone costs on this machine, the ceiling any notify rate
/// sits under.
async fn http_floor(
    options: &Options,
    client: &reqwest::Client,
    deadline: Instant,
) -> Result<Value, String> {
    let url = format!("{}/health", options.url);
    let client = client.clone();
    let call = move |_| {
        let request = client.get(&url).send();
        async move {
            let outcome = request.await;
            let status = outcome_name(&outcome);
            if let Ok(response) = outcome {
                let _ = response.bytes().await;
            }
            status
        }
    };
    let cpu_before = cpu_now(options);
    let load = closed_loop(options, options.notifications, deadline, call).await?;
    Ok(load_report(options, "http-floor", cpu_before, load))
}

/// Appends `chunk` to `buffer` and hands every complete SSE frame in it (up to and with its
/// blank line) to `each`, in place; what is left is moved to the front once. Readers must
/// not cost more than the gateway they measure: they share its cores.
pub(crate) fn each_frame(buffer: &mut Vec<u8>, chunk: &[u8], mut each: impl FnMut(&[u8])) {
    buffer.extend_from_slice(chunk);
    let mut start = 0;
    while let Some(end) = buffer[start..].windows(2).position(|w| w == b"\n\n") {
        each(&buffer[start..start + end + 2]);
        start += end + 2;
    }
    buffer.drain(..start);
}

/// The event id a notification frame carries: its `id:` line, or (aviso sends none) the
/// `id` of the CloudEvent in a `replay` or `live-notification` frame, the last `"id":"` of
/// the data (the CloudEvent's keys are sorted, so `id` follows `data`). `None` for control
/// frames.
pub(crate) fn frame_event_id(text: &str) -> Option<&str> {
    if let Some(id) = text.lines().find_map(|line| line.strip_prefix("id: ")) {
        return Some(id);
    }
    if !(text.starts_with("event: replay\n") || text.starts_with("event: live-notification\n")) {
        return None;
    }
    let data = text.lines().find_map(|line| line.strip_prefix("data: "))?;
    let key = "\"id\":\"";
    let start = data.rfind(key)? + key.len();
    let length = data[start..].find('"')?;
    Some(&data[start..start + length])
}

/// CPU seconds the gateway and nats-server have used so far (when their pids are given).
fn cpu_now(options: &Options) -> (Option<f64>, Option<f64>) {
    (
        options.pid.and_then(push::cpu_seconds),
        options.nats_pid.and_then(push::cpu_seconds),
    )
}

/// Adds `gateway_cpu_us_per_<unit>` and `nats_cpu_us_per_<unit>` since `before` to `result`:
/// on a shared machine what a request costs moves less than how many fit in a second.
fn cpu_per(
    options: &Options,
    before: (Option<f64>, Option<f64>),
    count: usize,
    unit: &str,
    result: &mut Value,
) {
    let (gateway, nats) = cpu_now(options);
    let per =
        |now: Option<f64>, then: Option<f64>| Some((now? - then?) * 1e6 / count.max(1) as f64);
    if let Value::Object(map) = result {
        map.insert(
            format!("gateway_cpu_us_per_{unit}"),
            json!(per(gateway, before.0)),
        );
        map.insert(
            format!("nats_cpu_us_per_{unit}"),
            json!(per(nats, before.1)),
        );
    }
}

/// Opens a replay of the bench's event type from sequence `from`: its body as a stream.
async fn open_replay(
    options: &Options,
    client: &reqwest::Client,
    identifier: Value,
    from: u64,
) -> Result<impl futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin + use<>, String> {
    let body = json!({"event_type": options.event_type, "identifier": identifier, "from_id": from.to_string()});
    let response = client
        .post(format!("{}/api/v1/replay", options.url))
        .json(&body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    Ok(response.bytes_stream())
}

async fn replay(
    options: &Options,
    client: &reqwest::Client,
    run: &str,
    from: u64,
    expected: usize,
    deadline: Instant,
) -> Result<Value, String> {
    let identifier = json!({"class": "od", "stream": format!("b{run}0")});
    let cpu_before = cpu_now(options);
    let started = Instant::now();
    let mut stream = open_replay(options, client, identifier, from).await?;
    let mut buffer = Vec::new();
    let mut first_ms = None;
    let mut count = 0usize;
    let mut previous = 0u64;
    let mut increasing = true;
    let mut closed = false;
    while !closed && Instant::now() < deadline {
        let Ok(Some(Ok(chunk))) =
            tokio::time::timeout(Duration::from_secs(30), stream.next()).await
        else {
            break;
        };
        each_frame(&mut buffer, &chunk, |frame| {
            let text = String::from_utf8_lossy(frame);
            if let Some(id) = frame_event_id(&text) {
                first_ms.get_or_insert(started.elapsed().as_secs_f64() * 1000.0);
                let sequence: u64 = id
                    .rsplit('@')
                    .next()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                increasing &= sequence > previous;
                previous = sequence;
                count += 1;
            }
            if text.starts_with("event: connection-closing") {
                closed = true;
            }
        });
    }
    let seconds = started.elapsed().as_secs_f64();
    let mut result = json!({
        "scenario": "replay",
        "expected": expected,
        "delivered": count,
        "count_matches": count == expected,
        "ids_strictly_increase": increasing,
        "notifications_per_second": count as f64 / seconds,
        "first_notification_ms": first_ms,
        "seconds": seconds,
    });
    cpu_per(options, cpu_before, count, "notification", &mut result);
    Ok(result)
}

fn now_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_micros() as u64)
}

async fn watch(
    options: &Options,
    client: &reqwest::Client,
    run: &str,
    deadline: Instant,
) -> Result<Value, String> {
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let counts = Arc::new(Mutex::new(Vec::new()));
    let total = options.watch_notifications;
    let mut readers = Vec::new();
    let watch_tag = format!("w{run}");
    for _ in 0..options.watchers {
        let body = json!({"event_type": options.event_type, "identifier": {"class": "od", "stream": watch_tag}});
        let response = client
            .post(format!("{}/api/v1/watch", options.url))
            .json(&body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let (latencies, counts) = (latencies.clone(), counts.clone());
        readers.push(tokio::spawn(async move {
            let mut stream = response.bytes_stream();
            let mut buffer = Vec::new();
            let mut seen = std::collections::HashSet::new();
            let mut duplicates = 0;
            let mut mine = Vec::new();
            while seen.len() < total && Instant::now() < deadline {
                let Ok(Some(Ok(chunk))) =
                    tokio::time::timeout(Duration::from_secs(15), stream.next()).await
                else {
                    break;
                };
                each_frame(&mut buffer, &chunk, |frame| {
                    let text = String::from_utf8_lossy(frame);
                    let Some(data) = text.lines().find_map(|line| line.strip_prefix("data: "))
                    else {
                        return;
                    };
                    if frame_event_id(&text).is_none() {
                        return;
                    }
                    let Ok(event) = serde_json::from_str::<Value>(data) else {
                        return;
                    };
                    let sent = event["data"]["payload"]["sent_us"].as_u64().unwrap_or(0);
                    let index = event["data"]["payload"]["index"]
                        .as_u64()
                        .unwrap_or(u64::MAX);
                    if !seen.insert(index) {
                        duplicates += 1;
                    }
                    mine.push(now_micros().saturating_sub(sent) as f64 / 1000.0);
                });
            }
            latencies.lock().await.extend(mine);
            counts.lock().await.push((seen.len(), duplicates));
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let interval = Duration::from_secs_f64(1.0 / options.rate.max(1) as f64);
    let mut ticker = tokio::time::interval(interval);
    let url = format!("{}/api/v1/notification", options.url);
    let mut publishers = Vec::new();
    for index in 0..total {
        if Instant::now() > deadline {
            break;
        }
        ticker.tick().await;
        let body = json!({"event_type": options.event_type,
            "identifier": {"class": "od", "expver": "1", "domain": "g", "date": "2025-07-06", "time": "12", "stream": watch_tag, "step": index % 100_000},
            "payload": {"index": index, "sent_us": now_micros()}});
        let client = client.clone();
        let url = url.clone();
        publishers.push(tokio::spawn(async move {
            client
                .post(&url)
                .json(&body)
                .send()
                .await
                .map(|r| r.status().as_u16())
        }));
    }
    let mut publish_errors = 0;
    for publisher in publishers {
        if !matches!(publisher.await, Ok(Ok(200))) {
            publish_errors += 1;
        }
    }
    for reader in readers {
        let _ = reader.await;
    }
    let counts = counts.lock().await.clone();
    let expected = total * options.watchers;
    let delivered: usize = counts.iter().map(|(seen, _)| seen).sum();
    let duplicates: usize = counts.iter().map(|(_, duplicates)| duplicates).sum();
    let mut result = json!({
        "scenario": "watch",
        "watchers": options.watchers,
        "notifications": total,
        "rate_per_second": options.rate,
        "expected_deliveries": expected,
        "delivered": delivered,
        "missing": expected.saturating_sub(delivered),
        "duplicates": duplicates,
        "publish_errors": publish_errors,
    });
    let latencies = latencies.lock().await.clone();
    if let (Value::Object(map), Value::Object(summary)) = (&mut result, latency_summary(latencies))
    {
        map.extend(summary);
    }
    Ok(result)
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
}

async fn idle(options: &Options, deadline: Instant) -> Result<Value, String> {
    let pid = options.pid.ok_or("the idle scenario needs --pid")?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = rss_kib(pid).ok_or("cannot read the gateway's memory")?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .map_err(|e| e.to_string())?;
    let mut open = Vec::new();
    for _ in 0..options.idle {
        if Instant::now() > deadline {
            break;
        }
        let response = client
            .post(format!("{}/api/v1/watch", options.url))
            .json(&json!({"event_type": options.event_type, "identifier": {"class": "od"}}))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let mut stream = response.bytes_stream();
        let _ = tokio::time::timeout(Duration::from_secs(5), stream.next()).await;
        open.push(stream);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = rss_kib(pid).ok_or("cannot read the gateway's memory")?;
    let count = open.len();
    drop(open);
    Ok(json!({
        "scenario": "idle",
        "watchers": count,
        "rss_idle_kib": before,
        "rss_with_watchers_kib": after,
        "kib_per_watcher": (after.saturating_sub(before)) as f64 / count.max(1) as f64,
    }))
}

fn emit(result: Result<Value, String>, scenario: &str) {
    match result {
        Ok(value) => println!("{value}"),
        Err(error) => println!("{}", json!({"scenario": scenario, "error": error})),
    }
}

#[tokio::main]
async fn main() {
    let options = Options::parse();
    if !loopback(&options.url) || options.nats.as_deref().is_some_and(|url| !loopback(url)) {
        eprintln!("tidings-bench: only loopback URLs are allowed");
        std::process::exit(2);
    }
    let limit: Duration = options.time_limit.into();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(options.concurrency.max(options.watchers) + 8)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap_or_else(|error| panic!("HTTP client: {error}"));
    let run = format!("{:x}", now_micros() % 0xffff_ffff);
    let wants = |name: &str| options.scenarios.iter().any(|scenario| scenario == name);
    if wants("baseline") {
        emit(baseline(&options, Instant::now() + limit).await, "baseline");
    }
    if wants("http-floor") {
        emit(
            http_floor(&options, &client, Instant::now() + limit).await,
            "http-floor",
        );
    }
    let mut first = None;
    let mut stored = 0;
    if wants("notify") || wants("replay") {
        match notify(&options, &client, &run, Instant::now() + limit).await {
            Ok((value, first_id)) => {
                stored = value["ok"].as_u64().unwrap_or(0) as usize;
                first = first_id;
                if wants("notify") {
                    println!("{value}");
                }
            }
            Err(error) => emit(Err(error), "notify"),
        }
    }
    if wants("replay") {
        match first {
            Some(from) => emit(
                replay(
                    &options,
                    &client,
                    &run,
                    from,
                    stored,
                    Instant::now() + limit,
                )
                .await,
                "replay",
            ),
            None => emit(
                Err("no notification was stored to replay".to_owned()),
                "replay",
            ),
        }
    }
    if wants("watch") {
        emit(
            watch(&options, &client, &run, Instant::now() + limit).await,
            "watch",
        );
    }
    if wants("idle") {
        emit(idle(&options, Instant::now() + limit).await, "idle");
    }
    if wants("push") {
        emit(
            push::push(&options, &client, &run, None, Instant::now() + limit).await,
            "push",
        );
    }
    if wants("push-down") {
        emit(
            push::push(
                &options,
                &client,
                &run,
                Some(options.push_down.into()),
                Instant::now() + limit,
            )
            .await,
            "push-down",
        );
    }
    if wants("watch-streams") {
        emit(
            many_streams::watch_streams(&options, &client, Instant::now() + limit).await,
            "watch-streams",
        );
    }
    if wants("history")
        && let Err(error) = history::history(&options, &client, &run, Instant::now() + limit).await
    {
        emit(Err(error), "history");
    }
    if wants("push-memory") {
        emit(
            push::memory(&options, &client, &run, Instant::now() + limit).await,
            "push-memory",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::frame_event_id;

    #[test]
    fn event_ids_come_from_the_id_line_or_the_cloudevent() {
        let tidings = "event: replay\nid: mars@7\ndata: {\"id\":\"mars@7\"}\n\n";
        assert_eq!(frame_event_id(tidings), Some("mars@7"));
        let aviso = "event: live-notification\ndata: {\"data\":{\"payload\":{\"index\":3}},\"dataschema\":\"x\",\"id\":\"mars@9\",\"source\":\"x\"}\n\n";
        assert_eq!(frame_event_id(aviso), Some("mars@9"));
        let control = "event: live-notification\ndata: {\"request_id\":\"r\",\"type\":\"connection_established\"}\n\n";
        assert_eq!(frame_event_id(control), None);
        let closing = "event: connection-closing\ndata: {\"reason\":\"end_of_stream\"}\n\n";
        assert_eq!(frame_event_id(closing), None);
    }
}

//! Cluster behaviour on a real 3-node NATS cluster with two Tidings instances and R3
//! streams, started by `deploy/local-cluster` (the same script operators use), plus the
//! SIGTERM behaviour of a single instance. Bounded in time; loopback only.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

#[path = "support/port.rs"]
mod port;

#[path = "support/receiver.rs"]
mod receiver;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{Value, json};

const SECOND: Duration = Duration::from_secs(1);

struct Cluster {
    dir: tempfile::TempDir,
    tidings: Vec<String>,
    nats_urls: Vec<String>,
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("deploy/local-cluster")
}

fn run_script(args: &[&str]) -> String {
    let output = Command::new("bash")
        .arg(script())
        .args(args)
        .env("TIDINGS_BIN", env!("CARGO_BIN_EXE_tidings"))
        .env("TIDINGS__STORE__JETSTREAM__REQUEST_TIMEOUT", "2s")
        .env("TIDINGS__SSE__HEARTBEAT", "1s")
        // Push delivery to the receivers these tests start on 127.0.0.1.
        .env("TIDINGS__DELIVERY__ALLOW_PRIVATE_NETWORKS", "true")
        .env("TIDINGS__DELIVERY__TAKEOVER_AFTER", "3s")
        .stdin(Stdio::null())
        .output()
        .expect("bash runs deploy/local-cluster");
    assert!(
        output.status.success(),
        "local-cluster {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

impl Cluster {
    fn up() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let output = run_script(&["up", dir.path().to_str().unwrap()]);
        let value = |key: &str| {
            output
                .lines()
                .find_map(|line| line.strip_prefix(&format!("{key}=")))
                .unwrap_or_else(|| panic!("no {key} in:\n{output}"))
                .to_owned()
        };
        Self {
            tidings: value("TIDINGS_URLS")
                .split(',')
                .map(str::to_owned)
                .collect(),
            nats_urls: value("NATS_URLS").split(',').map(str::to_owned).collect(),
            dir,
        }
    }

    fn path(&self) -> &str {
        self.dir.path().to_str().unwrap()
    }

    fn nats_pid(&self, index: usize) -> Option<i32> {
        std::fs::read_to_string(self.dir.path().join(format!("nats-{index}.pid")))
            .ok()
            .and_then(|pid| pid.trim().parse().ok())
    }

    /// SIGKILL for NATS node `index` (1..3).
    /// SIGTERM for NATS node `index` (1..3): a clean stop that flushes its store.
    fn stop_nats(&self, index: usize) {
        let pid = self.nats_pid(index).expect("a pid file");
        Command::new("kill").arg(pid.to_string()).status().unwrap();
        let deadline = Instant::now() + 15 * SECOND;
        while Command::new("kill")
            .args(["-0", &pid.to_string()])
            .status()
            .is_ok_and(|s| s.success())
        {
            assert!(Instant::now() < deadline, "NATS node {index} did not stop");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn kill_nats(&self, index: usize) {
        let pid = self.nats_pid(index).expect("a pid file");
        Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status()
            .unwrap();
    }

    fn restart_nats(&self, index: usize) {
        run_script(&["restart-nats", self.path(), &index.to_string()]);
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(script())
            .args(["down", self.path()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn mars(step: u64) -> Value {
    json!({"event_type":"mars","identifier":{"class":"od","expver":"1","domain":"g","date":"2025-07-06","time":"12","stream":"enfo","step":step}})
}

/// Stores `mars(step)` through `base`, retrying while the cluster answers 503: `/ready` says
/// the instances are connected and their streams exist, but an R3 stream made a moment ago
/// may still be electing its leader (CI saw the first notify after `up` answered 503). The
/// idempotency key makes a retry of a notify that was stored after all store nothing new.
async fn notify_stored(client: &reqwest::Client, base: &str, step: u64) -> u64 {
    let deadline = Instant::now() + 30 * SECOND;
    loop {
        let response = client
            .post(format!("{base}/api/v1/notification"))
            .header("idempotency-key", format!("cluster-setup-{step}"))
            .json(&mars(step))
            .send()
            .await
            .unwrap();
        match response.status().as_u16() {
            200 => {
                let body: Value = response.json().await.unwrap();
                return body["id"]
                    .as_str()
                    .and_then(|id| id.strip_prefix("mars@"))
                    .and_then(|sequence| sequence.parse().ok())
                    .expect("an id mars@<sequence>");
            }
            503 if Instant::now() < deadline => tokio::time::sleep(SECOND / 4).await,
            status => panic!("notify of step {step} through {base}: {status}"),
        }
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(20 * SECOND)
        .build()
        .unwrap()
}

async fn replay_ids(client: &reqwest::Client, base: &str) -> BTreeSet<u64> {
    replay(client, base).await.0
}

/// The ids a full replay of mars from `base` delivers, and its frames other than
/// notifications (what a failure report needs: why a replay ended early).
async fn replay(client: &reqwest::Client, base: &str) -> (BTreeSet<u64>, String) {
    let response = client
        .post(format!("{base}/api/v1/replay"))
        .json(&json!({"event_type":"mars","identifier":{"class":"od"},"from_id":"1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    let ids = text
        .lines()
        .filter_map(|line| line.strip_prefix("id: mars@"))
        .map(|id| id.parse().unwrap())
        .collect();
    let others = text
        .split("\n\n")
        .filter(|frame| !frame.contains("id: mars@"))
        .collect::<Vec<_>>()
        .join("\n\n");
    (ids, others)
}

/// Reads `id:` lines from an SSE response until it ends or `count` ids arrived.
async fn collect_ids(
    response: reqwest::Response,
    count: usize,
    timeout: Duration,
) -> (Vec<u64>, String) {
    let mut body = response.bytes_stream();
    let mut text = String::new();
    let mut ids = Vec::new();
    let deadline = Instant::now() + timeout;
    while ids.len() < count && Instant::now() < deadline {
        match tokio::time::timeout(
            deadline.saturating_duration_since(Instant::now()),
            body.next(),
        )
        .await
        {
            Ok(Some(Ok(chunk))) => {
                text.push_str(&String::from_utf8_lossy(&chunk));
                ids = text
                    .lines()
                    .filter_map(|line| line.strip_prefix("id: mars@"))
                    .map(|id| id.parse().unwrap())
                    .collect();
            }
            _ => break,
        }
    }
    (ids, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_watcher_on_one_instance_sees_what_another_instance_stores() {
    let cluster = Cluster::up();
    let client = client();
    let watch = client
        .post(format!("{}/api/v1/watch", cluster.tidings[0]))
        .json(&json!({"event_type":"mars","identifier":{"class":"od"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(watch.status(), 200);
    let reader = tokio::spawn(collect_ids(watch, 3, 20 * SECOND));
    tokio::time::sleep(SECOND).await;
    for step in 1..=3 {
        notify_stored(&client, &cluster.tidings[1], step).await;
    }
    let (ids, text) = reader.await.unwrap();
    assert_eq!(ids, [1, 2, 3], "{text}");
}

async fn stream_leader(nats_url: &str) -> String {
    let client = async_nats::connect(nats_url).await.unwrap();
    let jetstream = async_nats::jetstream::new(client);
    let mut stream = jetstream.get_stream("MARS").await.unwrap();
    let info = stream.info().await.unwrap();
    info.cluster
        .as_ref()
        .and_then(|cluster| cluster.leader.clone())
        .expect("a leader")
}

/// Push delivery through the loss of a NATS node: every notification acknowledged before,
/// during and after the kill reaches the receiver (at least once).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deliveries_survive_the_loss_of_a_nats_node() {
    let cluster = Cluster::up();
    let client = client();
    let receiver = receiver::Receiver::start().await;
    let created = client
        .post(format!("{}/api/v1/destinations", cluster.tidings[0]))
        .json(&json!({
            "url": receiver.url("/cluster"),
            "subscriptions": [{"event_type": "mars", "identifier": {"class": "od"}}],
            "retry": {"schedule": ["500ms", "1s", "2s", "4s", "8s"]},
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    tokio::time::sleep(SECOND).await;
    let mut acknowledged = BTreeSet::new();
    let started = Instant::now();
    let mut killed = false;
    let mut step = 0;
    while started.elapsed() < 6 * SECOND {
        step += 1;
        if !killed && started.elapsed() > 2 * SECOND {
            let leader = stream_leader(&cluster.nats_urls[0]).await;
            cluster.kill_nats(leader.trim_start_matches('n').parse().unwrap());
            killed = true;
        }
        let base = &cluster.tidings[step % 2];
        if let Ok(response) = client
            .post(format!("{base}/api/v1/notification"))
            .json(&mars(step as u64))
            .send()
            .await
            && response.status() == 200
        {
            let body: Value = response.json().await.unwrap();
            acknowledged.insert(body["id"].as_str().unwrap().to_owned());
        }
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    assert!(
        acknowledged.len() > 20,
        "only {} stored",
        acknowledged.len()
    );
    let deadline = Instant::now() + 45 * SECOND;
    loop {
        let seen: BTreeSet<String> = receiver
            .received_on("/cluster")
            .iter()
            .map(receiver::Received::webhook_id)
            .collect();
        let missing: Vec<&String> = acknowledged.difference(&seen).collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} acknowledged notifications never delivered: {missing:?}",
            missing.len(),
            acknowledged.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Read-your-writes across instances: nats-server puts each read's consumer on a random
/// peer of the R3 stream, and a follower may not yet hold what the leader just acknowledged.
/// Each round stores a notification through one instance and replays at once through the
/// other: by sequence from the previous round's (both arrive), with a filter only the
/// previous one matches (it alone arrives, and the replay ends although the consumer's
/// server says nothing more is pending before the stream's end), and with a filter nothing
/// matches; and bounded by a time after the previous one was stored (only it arrives) and
/// by a time to come (both arrive).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_notification_is_replayable_through_another_instance_as_soon_as_it_is_acknowledged() {
    let cluster = Cluster::up();
    let client = client();
    let mut previous = notify_stored(&client, &cluster.tidings[0], 0).await;
    let rounds = 40;
    let mut wrong = Vec::new();
    for round in 1..=rounds {
        let (writer, reader) = if round % 2 == 0 {
            (&cluster.tidings[0], &cluster.tidings[1])
        } else {
            (&cluster.tidings[1], &cluster.tidings[0])
        };
        let between = chrono::Utc::now().to_rfc3339();
        let id = notify_stored(&client, writer, round).await;
        let until = |to_date: &str| json!({"event_type":"mars","identifier":{"class":"od"},"from_id":previous.to_string(),"to_date":to_date});
        let to_come = (chrono::Utc::now() + chrono::TimeDelta::hours(1)).to_rfc3339();
        let by_step = |step: u64| json!({"event_type":"mars","identifier":{"class":"od","step":step},"from_id":"1"});
        for (body, expected) in [
            (
                json!({"event_type":"mars","identifier":{"class":"od"},"from_id":previous.to_string()}),
                vec![previous, id],
            ),
            (by_step(round - 1), vec![previous]),
            (by_step(99_999), vec![]),
            (until(&between), vec![previous]),
            (until(&to_come), vec![previous, id]),
        ] {
            let response = client
                .post(format!("{reader}/api/v1/replay"))
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            let text = response.text().await.unwrap();
            let ids: Vec<u64> = text
                .lines()
                .filter_map(|line| line.strip_prefix("id: mars@"))
                .map(|id| id.parse().unwrap())
                .collect();
            if ids != expected || !text.contains("replay_completed") {
                wrong.push(format!(
                    "round {round}, {body}: expected {expected:?}, got:\n{text}"
                ));
            }
        }
        previous = id;
    }
    assert!(
        wrong.is_empty(),
        "{} of {} replays went wrong:\n{}",
        wrong.len(),
        5 * rounds,
        wrong.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_the_stream_leader_under_load_loses_nothing_acknowledged() {
    let cluster = Cluster::up();
    let client = client();
    // Create the stream and learn its leader.
    notify_stored(&client, &cluster.tidings[0], 0).await;
    let leader = stream_leader(&cluster.nats_urls[0]).await;
    let leader_index: usize = leader
        .trim_start_matches('n')
        .parse()
        .expect("nodes are named n1..n3");
    let acknowledged = Arc::new(Mutex::new(BTreeSet::new()));
    let failures = Arc::new(Mutex::new(Vec::new()));
    let slowest = Arc::new(Mutex::new(Duration::ZERO));
    let load_for = 8 * SECOND;
    let started = Instant::now();
    let mut workers = Vec::new();
    for (worker, base) in cluster.tidings.iter().cycle().take(4).enumerate() {
        let (client, base) = (client.clone(), base.clone());
        let (acknowledged, failures, slowest) =
            (acknowledged.clone(), failures.clone(), slowest.clone());
        workers.push(tokio::spawn(async move {
            // Distinct identifiers per worker (step is 0..=100000 in the schema).
            let mut step = 20_000 * worker as u64;
            while started.elapsed() < load_for {
                step += 1;
                let sent = Instant::now();
                let outcome = client
                    .post(format!("{base}/api/v1/notification"))
                    .json(&mars(step))
                    .send()
                    .await;
                let took = sent.elapsed();
                {
                    let mut slowest = slowest.lock().unwrap();
                    *slowest = (*slowest).max(took);
                }
                match outcome {
                    Ok(response) if response.status() == 200 => {
                        let body: Value = response.json().await.unwrap();
                        let id = body["id"]
                            .as_str()
                            .unwrap()
                            .trim_start_matches("mars@")
                            .parse::<u64>()
                            .unwrap();
                        acknowledged.lock().unwrap().insert(id);
                    }
                    Ok(response) => failures.lock().unwrap().push(response.status().as_u16()),
                    Err(error) => panic!("a notify hung or broke: {error}"),
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }));
    }
    tokio::time::sleep(2 * SECOND).await;
    cluster.kill_nats(leader_index);
    for worker in workers {
        worker.await.unwrap();
    }
    let failures = failures.lock().unwrap().clone();
    assert!(
        failures.iter().all(|status| *status == 503),
        "only 503 while electing: {failures:?}"
    );
    assert!(
        *slowest.lock().unwrap() < 15 * SECOND,
        "requests failed fast rather than hang"
    );
    // Service resumed by itself: both instances accept notifications again (steps no
    // worker used: with one notification kept per identifier, a reused step replaces).
    for (index, base) in cluster.tidings.iter().enumerate() {
        let id = notify_stored(&client, base, 99_000 + index as u64).await;
        acknowledged.lock().unwrap().insert(id);
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() > 20,
        "the load produced {} notifications",
        acknowledged.len()
    );
    let (replayed, frames) = replay(&client, &cluster.tidings[1]).await;
    let lost: Vec<_> = acknowledged.difference(&replayed).collect();
    if !lost.is_empty() {
        let mut report = format!("\nthe replay's other frames:\n{frames}");
        for id in &lost {
            for base in &cluster.tidings {
                let response = client
                    .get(format!("{base}/api/v1/notification/mars@{id}"))
                    .send()
                    .await
                    .unwrap();
                report.push_str(&format!(
                    "\n{base} mars@{id}: {} {}",
                    response.status(),
                    response.text().await.unwrap()
                ));
            }
        }
        let again = replay_ids(&client, &cluster.tidings[0]).await;
        let nats = async_nats::connect(&cluster.nats_urls[leader_index % 3])
            .await
            .unwrap();
        let mut stream = async_nats::jetstream::new(nats)
            .get_stream("MARS")
            .await
            .unwrap();
        let info = stream.info().await.unwrap();
        report.push_str(&format!(
            "\nreplicas={} state={:?} cluster={:?}",
            info.config.num_replicas, info.state, info.cluster
        ));
        panic!(
            "acknowledged but not replayable: {lost:?} (acknowledged {}, replayed {}, replayed again via A {}){report}",
            acknowledged.len(),
            replayed.len(),
            again.len()
        );
    }
    // The killed node comes back and catches up.
    cluster.restart_nats(leader_index);
    let deadline = Instant::now() + 40 * SECOND;
    let nats = async_nats::connect(&cluster.nats_urls[leader_index - 1])
        .await
        .unwrap();
    let jetstream = async_nats::jetstream::new(nats);
    loop {
        let caught_up = match jetstream.get_stream("MARS").await {
            Ok(mut stream) => stream.info().await.ok().and_then(|info| {
                info.cluster.as_ref().map(|cluster| {
                    cluster.leader.as_deref() == Some(leader.as_str())
                        || cluster
                            .replicas
                            .iter()
                            .any(|peer| peer.name == leader && peer.current)
                })
            }),
            Err(_) => None,
        };
        if caught_up == Some(true) {
            break;
        }
        assert!(Instant::now() < deadline, "{leader} did not catch up");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn ready(client: &reqwest::Client, base: &str) -> u16 {
    match client.get(format!("{base}/ready")).send().await {
        Ok(response) => response.status().as_u16(),
        Err(_) => 0,
    }
}

async fn wait_ready(client: &reqwest::Client, base: &str, status: u16, within: Duration) {
    let deadline = Instant::now() + within;
    while ready(client, base).await != status {
        assert!(
            Instant::now() < deadline,
            "{base}/ready never became {status}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_nats_outage_flips_readiness_and_watchers_resume_without_loss() {
    let cluster = Cluster::up();
    let client = client();
    for step in 1..=3 {
        notify_stored(&client, &cluster.tidings[0], step).await;
    }
    let watch = client
        .post(format!("{}/api/v1/watch", cluster.tidings[1]))
        .json(&json!({"event_type":"mars","identifier":{"class":"od"},"from_id":"1"}))
        .send()
        .await
        .unwrap();
    let (seen, _) = collect_ids(watch, 3, 20 * SECOND).await;
    assert_eq!(seen, [1, 2, 3]);
    for index in 1..=3 {
        // Every replica down at once: stopped cleanly. A simultaneous SIGKILL of all three can
        // lose writes NATS had not yet synced to disk (its default `sync_interval`), which is
        // NATS's durability model, not something a gateway can add; the single-node SIGKILL
        // test covers crashes.
        cluster.stop_nats(index);
    }
    for base in &cluster.tidings {
        wait_ready(&client, base, 503, 30 * SECOND).await;
    }
    let refused = client
        .post(format!("{}/api/v1/notification", cluster.tidings[0]))
        .json(&mars(9))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 503);
    // A lone node waits for its routes: the three must come back together.
    std::thread::scope(|scope| {
        for index in 1..=3 {
            let cluster = &cluster;
            scope.spawn(move || cluster.restart_nats(index));
        }
    });
    for base in &cluster.tidings {
        wait_ready(&client, base, 200, 60 * SECOND).await;
    }
    let deadline = Instant::now() + 30 * SECOND;
    let mut published = Vec::new();
    while published.len() < 2 {
        let response = client
            .post(format!("{}/api/v1/notification", cluster.tidings[0]))
            .json(&mars(10 + published.len() as u64))
            .send()
            .await
            .unwrap();
        if response.status() == 200 {
            let body: Value = response.json().await.unwrap();
            published.push(
                body["id"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches("mars@")
                    .parse::<u64>()
                    .unwrap(),
            );
        } else {
            assert!(Instant::now() < deadline, "notify did not recover");
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
    // A watcher cut off by the outage resumes with Last-Event-ID: exactly what it missed.
    let resumed = client
        .post(format!("{}/api/v1/watch", cluster.tidings[1]))
        .header("last-event-id", "mars@3")
        .json(&json!({"event_type":"mars","identifier":{"class":"od"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resumed.status(), 200);
    let (ids, text) = collect_ids(resumed, published.len(), 20 * SECOND).await;
    assert_eq!(ids, published, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_closes_open_watchers_and_exits_within_the_deadline() {
    let port = crate::port::free_loopback_port();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_tidings"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TIDINGS__LISTEN", format!("127.0.0.1:{port}"))
        .env("TIDINGS__SHUTDOWN_TIMEOUT", "3s")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = client();
    let deadline = Instant::now() + 20 * SECOND;
    while client.get(format!("{base}/health")).send().await.is_err() {
        assert!(Instant::now() < deadline, "tidings did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut watchers = Vec::new();
    for _ in 0..5 {
        let response = client
            .post(format!("{base}/api/v1/watch"))
            .json(&json!({"event_type":"mars","identifier":{"class":"od"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        watchers.push(tokio::spawn(async move {
            let mut body = response.bytes_stream();
            let mut text = String::new();
            while let Ok(Some(Ok(chunk))) = tokio::time::timeout(10 * SECOND, body.next()).await {
                text.push_str(&String::from_utf8_lossy(&chunk));
            }
            text
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let signalled = Instant::now();
    Command::new("kill")
        .args(["-TERM", &child.id().unwrap().to_string()])
        .status()
        .unwrap();
    let status = tokio::time::timeout(8 * SECOND, child.wait())
        .await
        .expect("exited within the deadline")
        .unwrap();
    assert!(status.success(), "{status}");
    assert!(
        signalled.elapsed() < 5 * SECOND,
        "took {:?}",
        signalled.elapsed()
    );
    for watcher in watchers {
        let text = watcher.await.unwrap();
        assert!(text.contains("event: connection-closing"), "{text}");
        assert!(text.contains("\"reason\":\"server_shutdown\""), "{text}");
    }
}

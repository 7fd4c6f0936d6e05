//! Push delivery (`delivery.*`, DELIVERY.md §7).

use std::time::Duration;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeliverySettings {
    /// Route and send deliveries on this instance. Off, the destination routes still answer
    /// and deliveries wait in the queue for an instance that sends them.
    pub enabled: bool,
    /// Let destinations point at loopback, private, link-local, CGNAT and unique-local
    /// addresses (a receiver on the same network). Metadata addresses stay refused.
    pub allow_private_networks: bool,
    /// A destination's request timeout when it sets none.
    #[serde(with = "humantime_serde")]
    pub default_timeout: Duration,
    /// The delays between attempts when a destination sets none.
    #[serde(with = "duration_list")]
    pub default_schedule: Vec<Duration>,
    /// JetStream KV bucket of the destinations.
    pub destinations_bucket: String,
    /// Requests in flight per instance, over all destinations.
    pub max_in_flight: usize,
    /// Requests in flight per unordered destination, over all instances (an ordered one
    /// has one).
    pub max_in_flight_per_destination: usize,
    /// How long terminal deliveries and their attempts are kept.
    #[serde(with = "humantime_serde")]
    pub history_retention: Duration,
    /// Bytes of each response body kept in its attempt record.
    pub max_response_body: usize,
    /// How long an instance may hold a delivery without a sign of life before another
    /// instance takes it over (a killed instance's deliveries come back after this).
    #[serde(with = "humantime_serde")]
    pub takeover_after: Duration,
    /// Most bytes the live outcome stream (`TIDINGS_OUTCOMES`) keeps; the oldest events go
    /// first (and any older than `history_retention`).
    pub outcomes_max_bytes: u64,
    /// JetStream work-queue stream of delivery tasks.
    pub queue_stream: String,
    /// JetStream KV bucket of delivery records.
    pub records_bucket: String,
    /// JetStream KV bucket of attempt records.
    pub attempts_bucket: String,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        let schedule = [5, 300, 1800, 7200, 18_000, 36_000, 36_000];
        Self {
            allow_private_networks: false,
            default_timeout: Duration::from_secs(15),
            default_schedule: schedule.into_iter().map(Duration::from_secs).collect(),
            destinations_bucket: "TIDINGS_DESTINATIONS".to_owned(),
            enabled: true,
            max_in_flight: 256,
            max_in_flight_per_destination: 32,
            history_retention: Duration::from_secs(30 * 24 * 3600),
            max_response_body: 16 * 1024,
            outcomes_max_bytes: 256 * 1024 * 1024,
            takeover_after: Duration::from_secs(30),
            queue_stream: "TIDINGS_DELIVERIES".to_owned(),
            records_bucket: "TIDINGS_DELIVERY_RECORDS".to_owned(),
            attempts_bucket: "TIDINGS_DELIVERY_ATTEMPTS".to_owned(),
        }
    }
}

/// A list of durations as `["5s", "5m", ...]`: the retry schedule here and in every stored
/// destination, written the way the API shows durations.
pub mod duration_list {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(delays: &[Duration], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(
            delays
                .iter()
                .map(|delay| humantime::format_duration(*delay).to_string()),
        )
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<Duration>, D::Error> {
        Vec::<String>::deserialize(deserializer)?
            .iter()
            .map(|text| humantime::parse_duration(text).map_err(serde::de::Error::custom))
            .collect()
    }
}

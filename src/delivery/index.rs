//! Which destinations a stored notification goes to. Subscriptions are compiled once (the
//! same filters watch uses) and indexed by stream and by the value of their first key, so
//! routing one notification decodes its subject once and checks only the subscriptions
//! that can match: the cost grows with the matching destinations, not the registered ones.

use std::collections::{HashMap, HashSet};

use super::destination::{Destination, DestinationId, State};
use crate::domain::{Polygon, StreamKey};
use crate::ops::stream::select;
use crate::schema::{Catalog, IdentifierFilter, Operation};
use crate::subject::{Subject, TokenPattern};

/// One compiled subscription.
#[derive(Debug, Clone)]
struct Entry {
    destination: DestinationId,
    enabled: bool,
    ordered: bool,
    event_type: String,
    filter: IdentifierFilter,
}

/// The subscriptions of one stream: by the first key's fixed value, and those that take any.
#[derive(Debug, Default)]
struct StreamIndex {
    positions: usize,
    by_first: HashMap<String, Vec<Entry>>,
    any_first: Vec<Entry>,
}

/// A notification's destination: one per destination, however many of its subscriptions
/// match (a destination gets one delivery per notification).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub destination: DestinationId,
    /// The event type as subscribed (the delivery id names it).
    pub event_type: String,
    /// Disabled destinations still get their deliveries; they wait.
    pub enabled: bool,
    /// One request at a time, in sequence order.
    pub ordered: bool,
}

/// The index (see the module documentation).
#[derive(Debug, Default)]
pub struct SubscriptionIndex {
    streams: HashMap<StreamKey, StreamIndex>,
    /// Subscriptions the current schema no longer accepts (an event type removed, a key
    /// renamed): skipped, and counted so operators can see them.
    pub stale: usize,
}

impl SubscriptionIndex {
    pub fn build(destinations: &[Destination], catalog: &Catalog) -> Self {
        let mut index = Self::default();
        for destination in destinations {
            for subscription in &destination.settings.subscriptions {
                let Some(schema) = catalog.event_type(&subscription.event_type) else {
                    index.stale += 1;
                    continue;
                };
                let Ok(selection) = select(schema, &subscription.identifier, Operation::Watch)
                else {
                    index.stale += 1;
                    continue;
                };
                let first = match selection.filter.subject.token(0) {
                    Some(TokenPattern::Exact(value)) => Some(value.clone()),
                    _ => None,
                };
                let entry = Entry {
                    destination: destination.id.clone(),
                    enabled: destination.state == State::Enabled,
                    ordered: destination.settings.ordering == super::destination::Ordering::Ordered,
                    event_type: schema.event_type.to_string(),
                    filter: selection.filter,
                };
                let stream = index.streams.entry(schema.stream.clone()).or_default();
                stream.positions = schema.key_order.len();
                match first {
                    Some(value) => stream.by_first.entry(value).or_default().push(entry),
                    None => stream.any_first.push(entry),
                }
            }
        }
        index
    }

    /// The destinations a notification of `stream` stored under `subject` goes to, in
    /// registration order. The subject is decoded once; `polygon` is read at most once,
    /// and only if a spatial subscription among the candidates needs it.
    pub fn routes(
        &self,
        stream: &StreamKey,
        subject: &Subject,
        polygon: impl Fn() -> Option<Polygon>,
    ) -> Vec<Route> {
        let Some(index) = self.streams.get(stream) else {
            return Vec::new();
        };
        let Ok(values) = subject.decode_values(index.positions) else {
            return Vec::new();
        };
        let exact = values
            .first()
            .and_then(|first| index.by_first.get(first.as_str()))
            .map_or(&[][..], Vec::as_slice);
        let shape = std::cell::OnceCell::new();
        let mut routed = HashSet::new();
        let mut routes: Vec<Route> = Vec::new();
        for entry in exact.iter().chain(&index.any_first) {
            if routed.contains(&entry.destination) {
                continue;
            }
            let polygon = match entry.filter.spatial {
                Some(_) => shape.get_or_init(&polygon).as_ref(),
                None => None,
            };
            if entry.filter.matches(&values, polygon) {
                routed.insert(&entry.destination);
                routes.push(Route {
                    destination: entry.destination.clone(),
                    event_type: entry.event_type.clone(),
                    enabled: entry.enabled,
                    ordered: entry.ordered,
                });
            }
        }
        routes.sort_by(|a, b| a.destination.cmp(&b.destination));
        routes
    }

    /// How many subscriptions are indexed.
    pub fn len(&self) -> usize {
        self.streams
            .values()
            .map(|stream| {
                stream.any_first.len() + stream.by_first.values().map(Vec::len).sum::<usize>()
            })
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::delivery::validate::{Defaults, settings};
    use crate::settings::DeliverySettings;

    fn destination(
        catalog: &Catalog,
        seconds: i64,
        subscriptions: serde_json::Value,
    ) -> Destination {
        let now = chrono::DateTime::from_timestamp(1_700_000_000 + seconds, 0).unwrap();
        let body = json!({"url": "https://hooks.example.org/", "subscriptions": subscriptions});
        Destination {
            id: DestinationId::generate(now).unwrap(),
            settings: settings(
                &body,
                None,
                catalog,
                &Defaults::from(&DeliverySettings::default()),
            )
            .unwrap(),
            state: State::Enabled,
            disabled_reason: None,
            owner: None,
            created_at: now,
            updated_at: now,
            keys: Vec::new(),
        }
    }

    fn mars_subject(class: &str, step: &str) -> Subject {
        Subject::build(
            "mars",
            [class, "0001", "g", "20250706", "1200", "enfo", step],
        )
        .unwrap()
    }

    #[test]
    fn routes_each_matching_destination_once() {
        let catalog = Catalog::load(&[]).unwrap();
        let od = destination(
            &catalog,
            0,
            json!([{"event_type": "mars", "identifier": {"class": "od"}}]),
        );
        let steps = destination(
            &catalog,
            1,
            json!([{"event_type": "mars", "identifier": {"class": "od", "step": {"gte": 3}}}, {"event_type": "mars", "identifier": {"class": "rd"}}]),
        );
        let twice = destination(
            &catalog,
            2,
            json!([{"event_type": "mars", "identifier": {"class": "od"}}, {"event_type": "mars", "identifier": {"class": "od", "step": "1"}}]),
        );
        let index = SubscriptionIndex::build(&[od.clone(), steps.clone(), twice.clone()], &catalog);
        assert_eq!(index.len(), 5);
        let mars = catalog.event_type("mars").unwrap().stream.clone();
        let ids = |subject: &Subject| -> Vec<DestinationId> {
            index
                .routes(&mars, subject, || None)
                .into_iter()
                .map(|route| route.destination)
                .collect()
        };
        assert_eq!(
            ids(&mars_subject("od", "1")),
            vec![od.id.clone(), twice.id.clone()]
        );
        assert_eq!(
            ids(&mars_subject("od", "4")),
            vec![od.id.clone(), steps.id.clone(), twice.id.clone()]
        );
        assert_eq!(ids(&mars_subject("rd", "1")), vec![steps.id.clone()]);
        assert!(ids(&mars_subject("xx", "1")).is_empty());
        let diss = catalog.event_type("dissemination").unwrap().stream.clone();
        assert!(
            index
                .routes(&diss, &mars_subject("od", "1"), || None)
                .is_empty()
        );
    }

    #[test]
    fn subscriptions_the_schema_no_longer_takes_are_skipped_and_counted() {
        let catalog = Catalog::load(&[]).unwrap();
        let mut gone = destination(
            &catalog,
            0,
            json!([{"event_type": "mars", "identifier": {"class": "od"}}]),
        );
        gone.settings.subscriptions[0].event_type = "removed".to_owned();
        let index = SubscriptionIndex::build(&[gone], &catalog);
        assert!(index.is_empty());
        assert_eq!(index.stale, 1);
    }

    #[test]
    fn hundreds_of_other_destinations_are_not_checked() {
        let catalog = Catalog::load(&[]).unwrap();
        // Every other two-letter class: 675 destinations that can never match class od.
        let letters = b"abcdefghijklmnopqrstuvwxyz";
        let classes = letters
            .iter()
            .flat_map(|a| {
                letters
                    .iter()
                    .map(move |b| format!("{}{}", *a as char, *b as char))
            })
            .filter(|class| class != "od");
        let mut destinations: Vec<Destination> = classes
            .enumerate()
            .map(|(n, class)| {
                let subscription = json!([{"event_type": "mars", "identifier": {"class": class}}]);
                destination(&catalog, n as i64, subscription)
            })
            .collect();
        destinations.push(destination(
            &catalog,
            5000,
            json!([{"event_type": "mars", "identifier": {"class": "od"}}]),
        ));
        let index = SubscriptionIndex::build(&destinations, &catalog);
        let mars = catalog.event_type("mars").unwrap().stream.clone();
        let stream = &index.streams[&mars];
        assert_eq!(
            stream.by_first.get("od").map(Vec::len),
            Some(1),
            "one candidate for class od"
        );
        assert_eq!(
            index.routes(&mars, &mars_subject("od", "1"), || None).len(),
            1
        );
    }
}

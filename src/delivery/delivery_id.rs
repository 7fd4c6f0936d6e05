//! A delivery's id: `<destination_id>:<event_type>@<sequence>` (DELIVERY.md §1), the
//! destination and the notification id as its CloudEvent carries it. Made here only.

use std::fmt;
use std::str::FromStr;

use super::destination::DestinationId;
use crate::domain::{EventId, NotificationRef, Sequence};

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeliveryId {
    pub destination: DestinationId,
    /// The event type as subscribed.
    pub event_type: String,
    pub sequence: Sequence,
}

/// Why a delivery id was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryIdError {
    #[error("a delivery id is <destination_id>:<event_type>@<sequence>")]
    Format,
    #[error("'{0}' is not a destination id")]
    Destination(String),
    #[error(transparent)]
    Notification(#[from] crate::domain::IdError),
}

impl DeliveryId {
    /// The notification id: the CloudEvent id, also the `webhook-id` of every attempt.
    pub fn notification_id(&self) -> String {
        EventId::new(&self.event_type, self.sequence).to_string()
    }
}

impl fmt::Display for DeliveryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}",
            self.destination,
            EventId::new(&self.event_type, self.sequence)
        )
    }
}

impl FromStr for DeliveryId {
    type Err = DeliveryIdError;

    fn from_str(raw: &str) -> Result<Self, DeliveryIdError> {
        let (destination, notification) = raw.split_once(':').ok_or(DeliveryIdError::Format)?;
        let destination = DestinationId::parse(destination)
            .ok_or_else(|| DeliveryIdError::Destination(destination.to_owned()))?;
        let notification: NotificationRef = notification.parse()?;
        Ok(Self {
            destination,
            event_type: notification.name,
            sequence: notification.sequence,
        })
    }
}

impl serde::Serialize for DeliveryId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for DeliveryId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        raw.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_names_its_notification() {
        let destination = DestinationId::generate(chrono::Utc::now()).unwrap();
        let id = DeliveryId {
            destination: destination.clone(),
            event_type: "mars".to_owned(),
            sequence: Sequence::new(42).unwrap(),
        };
        let text = id.to_string();
        assert_eq!(text, format!("{destination}:mars@42"));
        assert_eq!(text.parse::<DeliveryId>(), Ok(id.clone()));
        assert_eq!(id.notification_id(), "mars@42");
    }

    #[test]
    fn refuses_what_is_not_one() {
        let destination = DestinationId::generate(chrono::Utc::now()).unwrap();
        for raw in ["", "mars@1", "dst_x:mars@1"] {
            assert!(raw.parse::<DeliveryId>().is_err(), "{raw}");
        }
        assert_eq!(
            format!("{destination}:mars@0").parse::<DeliveryId>(),
            Err(DeliveryIdError::Notification(crate::domain::IdError::Zero))
        );
    }
}

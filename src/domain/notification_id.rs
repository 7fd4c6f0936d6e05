//! Notification ids: `<name>@<sequence>` as clients send them, and the resolved form.

use std::fmt;

use super::{Sequence, StreamKey};

/// Why a `<name>@<sequence>` string was refused; messages are aviso's, word for word.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("notification_id must be in '<stream>@<sequence>' format")]
    Format,
    #[error("notification_id sequence must be a positive integer")]
    NotAnInteger,
    #[error("notification_id sequence must be greater than zero")]
    Zero,
}

/// A parsed but unresolved id: `name` may be an event type or a stream key, in any case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationRef {
    pub name: String,
    pub sequence: Sequence,
}

impl std::str::FromStr for NotificationRef {
    type Err = IdError;

    /// Trims, splits at the first `@`; the sequence accepts a leading `+` and zeros like aviso.
    fn from_str(raw: &str) -> Result<Self, IdError> {
        let (name, sequence) = raw.trim().split_once('@').ok_or(IdError::Format)?;
        if name.is_empty() || sequence.is_empty() {
            return Err(IdError::Format);
        }
        let number: u64 = sequence.parse().map_err(|_| IdError::NotAnInteger)?;
        let sequence = Sequence::new(number).ok_or(IdError::Zero)?;
        Ok(Self {
            name: name.to_owned(),
            sequence,
        })
    }
}

/// A notification located in a stream: the admin delete key after alias resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationId {
    pub stream: StreamKey,
    pub sequence: Sequence,
}

impl fmt::Display for NotificationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.stream, self.sequence)
    }
}

/// The id a client sees for a notification: `<name>@<sequence>`, where the name is the
/// event type (CloudEvent ids, SSE `id:` lines, notify answers) or `audit`. Every id string
/// the gateway hands out is made here, so its shape cannot drift between routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventId<'a> {
    pub name: &'a str,
    pub sequence: Sequence,
}

impl<'a> EventId<'a> {
    pub fn new(name: &'a str, sequence: Sequence) -> Self {
        Self { name, sequence }
    }
}

impl fmt::Display for EventId<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.name, self.sequence)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> Result<NotificationRef, IdError> {
        raw.parse()
    }

    #[test]
    fn accepts_name_and_positive_sequence() {
        let id = parse("diss@7").unwrap();
        assert_eq!(id.name, "diss");
        assert_eq!(id.sequence.get(), 7);
        assert_eq!(parse("dissemination@7").unwrap().name, "dissemination");
        assert_eq!(parse("DISS@7").unwrap().name, "DISS");
    }

    #[test]
    fn rejects_missing_parts_with_format_message() {
        for raw in ["mars", "@5", "mars@", "", " "] {
            assert_eq!(parse(raw), Err(IdError::Format), "{raw:?}");
        }
        assert_eq!(
            IdError::Format.to_string(),
            "notification_id must be in '<stream>@<sequence>' format"
        );
    }

    #[test]
    fn rejects_sequence_zero() {
        assert_eq!(parse("mars@0"), Err(IdError::Zero));
        assert_eq!(
            IdError::Zero.to_string(),
            "notification_id sequence must be greater than zero"
        );
    }

    #[test]
    fn rejects_non_integer_sequences() {
        for raw in [
            "mars@abc",
            "mars@-1",
            "mars@1.5",
            "mars@99999999999999999999",
        ] {
            assert_eq!(parse(raw), Err(IdError::NotAnInteger), "{raw:?}");
        }
        assert_eq!(
            IdError::NotAnInteger.to_string(),
            "notification_id sequence must be a positive integer"
        );
    }

    #[test]
    fn accepts_plus_sign_and_leading_zeros_like_aviso() {
        assert_eq!(parse("mars@+1").unwrap().sequence.get(), 1);
        assert_eq!(parse("mars@01").unwrap().sequence.get(), 1);
        assert_eq!(parse(" mars@3 ").unwrap().sequence.get(), 3);
    }

    #[test]
    fn an_event_id_reads_back_as_the_reference_it_names() {
        let sequence = Sequence::new(42).unwrap();
        let rendered = EventId::new("mars", sequence).to_string();
        assert_eq!(rendered, "mars@42");
        let parsed = parse(&rendered).unwrap();
        assert_eq!((parsed.name.as_str(), parsed.sequence), ("mars", sequence));
    }

    #[test]
    fn splits_at_the_first_at_sign() {
        assert_eq!(parse("a@b@1"), Err(IdError::NotAnInteger));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_ids_never_panic(raw in "\\PC{0,40}") {
            let _ = raw.parse::<NotificationRef>();
        }
    }
}

//! Pure domain types shared by every layer: no framework, no I/O.
//! Each type validates once on construction and renders one way.

mod event_type;
mod history;
mod identifier;
mod internal_names;
mod notification_id;
mod roles;
mod sequence;
mod stream_key;

pub use event_type::EventType;
pub use history::{End, Start};
pub use identifier::{CanonicalIdentifier, Polygon};
pub use internal_names::{AUDIT_BASE, OUTCOMES_BASE, RETRACTION_SUBJECT};
pub use notification_id::{EventId, IdError, NotificationId, NotificationRef};
pub use roles::RoleMap;
pub use sequence::Sequence;
pub use stream_key::StreamKey;

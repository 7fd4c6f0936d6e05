//! Push delivery (`../shared/DELIVERY.md`): destinations registered by operators
//! (`destination`, `validate`, `registry`), which of them a notification goes to (`index`),
//! delivery ids, the address guard every outbound request passes (`address`), Standard
//! Webhooks signing (`signature`) and one attempt with its record (`attempt`). Routing,
//! scheduled retries on JetStream and delivery records are not built yet.

pub mod address;
pub mod attempt;
pub mod delivery_id;
pub mod destination;
pub mod directory;
pub mod index;
pub mod lease;
pub mod record;
pub mod records;
pub mod registry;
pub mod router;
pub mod service;
pub mod signature;
pub mod task;
pub mod validate;
pub mod worker;

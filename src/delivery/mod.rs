//! Push delivery (`../shared/DELIVERY.md`): destinations registered by operators
//! (`destination`, `validate`, `registry`), which of them a notification goes to (`index`),
//! delivery ids, the address guard every outbound request passes (`address`), Standard
//! Webhooks signing (`signature`), one attempt with its record (`attempt`); routing each
//! stored notification into delivery tasks (`router`, `task`, one routing instance per
//! stream through `lease`), the workers that send them (`worker`), their records
//! (`record`, `records`), the live outcome events (`outcome`), and the service the API and
//! the app hold (`service`) over the followed copy of the destinations (`directory`).

pub mod address;
pub mod attempt;
pub mod delivery_id;
pub mod destination;
pub mod directory;
pub mod index;
pub mod lease;
pub mod outcome;
pub mod record;
pub mod records;
pub mod registry;
pub mod router;
pub mod service;
pub mod signature;
pub mod task;
pub mod validate;
pub mod worker;

//! Push delivery (`../shared/DELIVERY.md`): destinations registered by operators, the
//! address guard every outbound request passes, and Standard Webhooks signing.

pub mod address;
pub mod attempt;
pub mod destination;
pub mod registry;
pub mod signature;
pub mod validate;

//! The one typed settings tree. Layers, later wins: built-in defaults, a YAML file
//! (`--config PATH` or `TIDINGS_CONFIG`), then `TIDINGS__SECTION__KEY` environment variables.
//! Unknown keys anywhere are errors; secrets are `SecretString` and never printed.

mod access;
mod delivery;
mod load;
mod root;
mod serving;
mod storage;
#[cfg(test)]
mod tests;
mod validate;

pub use access::{AdminSettings, AuthMode, AuthSettings, MIN_JWT_SECRET_BYTES, MetricsSettings};
pub use delivery::{DeliverySettings, duration_list};
pub use root::{Settings, SettingsError};
pub use serving::{CloudEventSettings, HttpSettings, ReplaySettings, SseSettings};
pub use storage::{
    AuditSettings, DEFAULT_NATS_PORT, JetstreamSettings, MIN_AUDIT_BYTES, MemorySettings,
    SchemaSettings, StoreKind, StoreSettings,
};

//! Log setup: JSON lines by default, compact text on a terminal; `RUST_LOG` overrides the
//! level. The service name and version are logged once at start-up, not on every line.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber; a second call (tests) is a no-op.
pub fn init() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,async_nats=warn,tower_http=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let result = if std::io::stderr().is_terminal() {
        builder.compact().with_writer(std::io::stderr).try_init()
    } else {
        builder
            .json()
            .flatten_event(true)
            .with_writer(std::io::stderr)
            .try_init()
    };
    if result.is_ok() {
        tracing::info!(
            service = "tidings",
            version = env!("CARGO_PKG_VERSION"),
            "starting"
        );
    }
}

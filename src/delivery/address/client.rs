//! The HTTP client deliveries go out with, and its resolver that drops refused addresses.

use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::{AddressError, AddressPolicy};

/// `User-Agent` of every delivery request (DELIVERY.md §4).
pub const USER_AGENT: &str = concat!("Tidings/", env!("CARGO_PKG_VERSION"));
/// Idle connections are closed after this, before most servers' own keep-alive cut.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// A `reqwest` resolver that resolves through [`AddressPolicy::resolve`], so a connection is
/// only ever made to an allowed address found at connection time (DNS rebinding between the
/// check and the request cannot bypass it). reqwest calls it only for names: IP literals in
/// the URL skip resolvers, hence [`AddressPolicy::check_url`] before each request.
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver {
    policy: AddressPolicy,
}

impl GuardedResolver {
    /// A resolver that applies `policy` to every answer.
    pub fn new(policy: AddressPolicy) -> Self {
        Self { policy }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(resolve_guarded(self.policy, name))
    }
}

async fn resolve_guarded(
    policy: AddressPolicy,
    name: Name,
) -> Result<Addrs, Box<dyn std::error::Error + Send + Sync>> {
    // Port 0: reqwest replaces it with the URL's port or the scheme's default.
    let allowed = policy.resolve(name.as_str(), 0).await?;
    Ok(Box::new(allowed.into_iter()))
}

/// The HTTP client deliveries go out with: [`GuardedResolver`] for every name, no redirects
/// (a 3xx is the attempt's outcome, and following one would reach an unchecked host), no
/// proxy (a proxy would connect on our behalf to an address we never saw, and the
/// `HTTP_PROXY` variables would otherwise apply), `timeout` for the whole request, at most
/// `idle_per_host` idle connections per receiver host and `User-Agent: Tidings/<version>`.
///
/// `idle_per_host` should be the most requests that can be open at once
/// (`delivery.max_in_flight`): a smaller pool closes connections a burst to one host just
/// opened, and every later attempt pays a new TCP (and TLS) handshake; the bench measured
/// that as the largest single cost per delivery with a pool of 8. No host can hold more,
/// and idle ones close after 30 s.
///
/// Callers must still run [`AddressPolicy::check_url`] on each URL before each request: the
/// resolver never sees IP literals.
pub fn client(
    policy: AddressPolicy,
    timeout: Duration,
    idle_per_host: usize,
) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .dns_resolver(Arc::new(GuardedResolver::new(policy)))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(timeout)
        .pool_max_idle_per_host(idle_per_host)
        .pool_idle_timeout(IDLE_TIMEOUT)
        .user_agent(USER_AGENT)
        .build()
}

/// The guard's refusal inside a failed request, if that is why it failed: tells an attempt's
/// `blocked_address` (or `dns`) error from a plain connection failure.
pub fn address_error(error: &reqwest::Error) -> Option<&AddressError> {
    let mut cause = std::error::Error::source(error);
    while let Some(inner) = cause {
        if let Some(found) = inner.downcast_ref::<AddressError>() {
            return Some(found);
        }
        cause = inner.source();
    }
    None
}

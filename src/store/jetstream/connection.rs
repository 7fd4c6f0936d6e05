//! The NATS connection: credentials, TLS, retry forever with backoff, connection metrics,
//! and the subscription that forwards retractions from every instance.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::StreamExt;
use secrecy::ExposeSecret;
use tokio::sync::broadcast;

use crate::metrics::Metrics;
use crate::settings::JetstreamSettings;
use crate::store::error::{Cause, Failure, Operation, Outage, StoreError};
use crate::store::retraction::{RETRACTION_SUBJECT, Retraction};

fn reconnect_delay(attempt: usize) -> Duration {
    let exponent = u32::try_from(attempt.min(6)).unwrap_or(6);
    Duration::from_millis(100 * 2u64.pow(exponent)).min(Duration::from_secs(5))
}

/// Connects (in the background if NATS is not up yet: the client retries forever).
pub(super) async fn connect(
    settings: &JetstreamSettings,
    metrics: Arc<Metrics>,
) -> Result<async_nats::Client, StoreError> {
    let first_connection = Arc::new(AtomicBool::new(true));
    let mut options = async_nats::ConnectOptions::new()
        .name("tidings")
        .retry_on_initial_connect()
        .max_reconnects(None)
        .reconnect_delay_callback(reconnect_delay)
        .connection_timeout(settings.request_timeout)
        .request_timeout(Some(settings.request_timeout))
        .event_callback(move |event| {
            let metrics = metrics.clone();
            let first = first_connection.clone();
            async move {
                match event {
                    async_nats::Event::Connected => {
                        // The first connection is not a reconnection.
                        if first.swap(false, Ordering::SeqCst) {
                            tracing::info!("connected to NATS");
                        } else {
                            metrics.nats_reconnects.inc();
                            tracing::info!("reconnected to NATS");
                        }
                        metrics.nats_connected.set(1);
                    }
                    async_nats::Event::Disconnected => {
                        metrics.nats_connected.set(0);
                        tracing::warn!("disconnected from NATS; reconnecting");
                    }
                    other => tracing::debug!(event = %other, "nats event"),
                }
            }
        });
    if let Some(token) = &settings.token {
        options = options.token(token.expose_secret().to_owned());
    }
    if let (Some(user), Some(password)) = (&settings.user, &settings.password) {
        options = options.user_and_password(user.clone(), password.expose_secret().to_owned());
    }
    if let Some(seed) = &settings.nkey_seed {
        options = options.nkey(seed.expose_secret().to_owned());
    }
    if let Some(path) = &settings.credentials_file {
        options = options.credentials_file(path).await.map_err(|error| {
            StoreError::Backend(Failure::Credentials {
                path: path.clone(),
                source: Cause::new(error),
            })
        })?;
    }
    if let Some(ca) = &settings.tls_ca_file {
        options = options.add_root_certificates(ca.clone());
    }
    if let (Some(cert), Some(key)) = (&settings.tls_cert_file, &settings.tls_key_file) {
        options = options.add_client_certificate(cert.clone(), key.clone());
    }
    if settings.tls_required {
        options = options.require_tls(true);
    }
    let client = options.connect(settings.urls()).await.map_err(|error| {
        StoreError::Unavailable(Outage::Request {
            operation: Operation::Connect,
            source: Cause::new(error),
        })
    })?;
    Ok(client)
}

/// Forwards retractions published by any instance to this process's listeners.
pub(super) async fn spawn_retraction_listener(
    client: async_nats::Client,
    sender: broadcast::Sender<Retraction>,
) {
    let mut subscription = match client.subscribe(RETRACTION_SUBJECT).await {
        Ok(subscription) => subscription,
        Err(error) => {
            tracing::warn!(%error, "cannot listen for retractions");
            return;
        }
    };
    tokio::spawn(async move {
        while let Some(message) = subscription.next().await {
            match serde_json::from_slice::<Retraction>(&message.payload) {
                Ok(retraction) => {
                    let _ = sender.send(retraction);
                }
                Err(error) => tracing::debug!(%error, "ignoring a malformed retraction"),
            }
        }
    });
}

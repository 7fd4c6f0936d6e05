//! How key-value bucket errors classify (see [`NatsError`]): a timeout, or a failed request
//! or publish underneath, is an outage; a bad key or a revision mismatch is not.

use std::error::Error;

use async_nats::jetstream::{self, context, kv};

use super::convert::NatsError;

/// Whether a request or publish somewhere under `error` failed for want of NATS.
fn outage_underneath(error: &(dyn Error + 'static)) -> bool {
    let mut cause = error.source();
    while let Some(current) = cause {
        if let Some(request) = current.downcast_ref::<context::RequestError>() {
            return request.is_outage();
        }
        if let Some(publish) = current.downcast_ref::<context::PublishError>() {
            return publish.is_outage();
        }
        cause = current.source();
    }
    false
}

impl NatsError for kv::EntryError {
    fn is_outage(&self) -> bool {
        match self.kind() {
            kv::EntryErrorKind::TimedOut => true,
            kv::EntryErrorKind::Other => outage_underneath(self),
            kv::EntryErrorKind::InvalidKey => false,
        }
    }
}

impl NatsError for kv::CreateError {
    fn is_outage(&self) -> bool {
        match self.kind() {
            kv::CreateErrorKind::Publish
            | kv::CreateErrorKind::Ack
            | kv::CreateErrorKind::Other => outage_underneath(self),
            kv::CreateErrorKind::AlreadyExists | kv::CreateErrorKind::InvalidKey => false,
        }
    }
}

impl NatsError for kv::PutError {
    fn is_outage(&self) -> bool {
        match self.kind() {
            kv::PutErrorKind::Publish | kv::PutErrorKind::Ack => outage_underneath(self),
            kv::PutErrorKind::InvalidKey => false,
        }
    }
}

impl NatsError for kv::UpdateError {
    fn is_outage(&self) -> bool {
        match self.kind() {
            kv::UpdateErrorKind::TimedOut => true,
            kv::UpdateErrorKind::Other => outage_underneath(self),
            kv::UpdateErrorKind::InvalidKey | kv::UpdateErrorKind::WrongLastRevision => false,
        }
    }
}

impl NatsError for kv::WatchError {
    fn is_outage(&self) -> bool {
        match self.kind() {
            kv::WatchErrorKind::TimedOut => true,
            kv::WatchErrorKind::ConsumerCreate | kv::WatchErrorKind::Other => {
                outage_underneath(self)
            }
            kv::WatchErrorKind::InvalidKey => false,
        }
    }
}

impl NatsError for kv::WatcherError {
    fn is_outage(&self) -> bool {
        outage_underneath(self)
    }
}

impl NatsError for context::CreateKeyValueError {
    fn is_outage(&self) -> bool {
        match self.kind() {
            context::CreateKeyValueErrorKind::TimedOut => true,
            context::CreateKeyValueErrorKind::JetStream
            | context::CreateKeyValueErrorKind::BucketCreate => outage_underneath(self),
            _ => false,
        }
    }
}

impl NatsError for context::KeyValueError {
    fn is_outage(&self) -> bool {
        match self.kind() {
            context::KeyValueErrorKind::GetBucket | context::KeyValueErrorKind::JetStream => {
                outage_underneath(self)
            }
            context::KeyValueErrorKind::InvalidStoreName => false,
        }
    }
}

/// Opens bucket `name` (creating it with `options` when absent): one revision kept per key.
/// An existing bucket's age limit follows `options` (a changed retention setting applies to
/// the records already there).
pub(crate) async fn open_bucket(
    context: &jetstream::Context,
    name: &str,
    options: crate::store::BucketOptions,
) -> Result<kv::Store, crate::store::StoreError> {
    use crate::store::error::Operation;
    if let Ok(store) = context.get_key_value(name).await {
        let wanted = options.max_age.unwrap_or_default();
        let mut stream = store.stream.clone();
        if let Ok(info) = stream.info().await
            && info.config.max_age != wanted
        {
            let mut config = info.config.clone();
            config.max_age = wanted;
            match context.update_stream(config).await {
                Ok(_) => tracing::info!(bucket = name, ?wanted, "bucket age limit updated"),
                Err(error) => tracing::warn!(bucket = name, %error, "bucket age limit not updated"),
            }
        }
        return Ok(store);
    }
    let config = kv::Config {
        bucket: name.to_owned(),
        description: options.description.to_owned(),
        history: 1,
        num_replicas: options.replicas.max(1),
        max_age: options.max_age.unwrap_or_default(),
        ..Default::default()
    };
    context
        .create_key_value(config)
        .await
        .map_err(|error| super::convert::request_error(Operation::Documents, error))
}

//! Live subscriptions: one ordered consumer per stream per process (a hub), shared by every
//! subscriber of that stream through [`FanOut`]; the hub stops when its last subscriber
//! leaves.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::{self, consumer};
use futures::StreamExt;

use super::convert;
use crate::store::error::{Operation, Outage, StoreError};
use crate::store::fanout::FanOut;
use crate::store::types::SharedMessage;

/// Hubs by stream name.
pub(crate) type Hubs = Arc<Mutex<HashMap<String, Arc<Mutex<FanOut>>>>>;

/// How often an idle hub checks whether its subscribers are gone.
const PRUNE_EVERY: Duration = Duration::from_secs(2);
/// Consecutive consumer errors after which a hub gives up and ends its subscriptions.
const MAX_CONSECUTIVE_ERRORS: u32 = 10;

/// Removes the hub if it has no subscribers left; lock order is hubs, then fan-out.
fn retire_if_idle(hubs: &Hubs, name: &str, fanout: &Arc<Mutex<FanOut>>) -> bool {
    let Ok(mut map) = hubs.lock() else {
        return true;
    };
    let Ok(mut locked) = fanout.lock() else {
        return true;
    };
    locked.prune();
    if !locked.is_empty() {
        return false;
    }
    if map
        .get(name)
        .is_some_and(|current| Arc::ptr_eq(current, fanout))
    {
        map.remove(name);
    }
    true
}

fn fail(hubs: &Hubs, name: &str, fanout: &Arc<Mutex<FanOut>>, error: StoreError) {
    tracing::warn!(stream = %name, %error, "live consumer ended");
    if let Ok(mut map) = hubs.lock()
        && map
            .get(name)
            .is_some_and(|current| Arc::ptr_eq(current, fanout))
    {
        map.remove(name);
    }
    if let Ok(mut locked) = fanout.lock() {
        locked.fail_all(&error);
    }
}

/// Runs one stream's hub: delivers every message after `after` to the fan-out.
pub(crate) async fn run_hub(
    context: jetstream::Context,
    name: String,
    after: u64,
    fanout: Arc<Mutex<FanOut>>,
    hubs: Hubs,
) {
    let config = consumer::pull::OrderedConfig {
        deliver_policy: consumer::DeliverPolicy::ByStartSequence {
            start_sequence: after + 1,
        },
        ..Default::default()
    };
    let consumer = match context.create_consumer_on_stream(config, &name).await {
        Ok(consumer) => consumer,
        Err(error) => {
            let error = convert::request_error(Operation::OpenLiveConsumer, error);
            return fail(&hubs, &name, &fanout, error);
        }
    };
    let mut messages = match consumer.messages().await {
        Ok(messages) => messages,
        Err(error) => {
            let error = convert::request_error(Operation::OpenLiveConsumer, error);
            return fail(&hubs, &name, &fanout, error);
        }
    };
    let mut prune = tokio::time::interval(PRUNE_EVERY);
    let mut consecutive_errors = 0;
    // The last sequence dispatched: async-nats (0.51) recreates an ordered consumer that lost
    // its server-side state before delivering anything from the stream's first message, not
    // from `after + 1`, and watchers must not be sent history again as if it were new.
    let mut dispatched_up_to = after;
    loop {
        tokio::select! {
            next = messages.next() => match next {
                Some(Ok(message)) => {
                    consecutive_errors = 0;
                    let stored = match convert::from_consumer(&message) {
                        Ok((stored, _)) if stored.sequence.get() <= dispatched_up_to => continue,
                        Ok((stored, _)) => SharedMessage::new(stored),
                        Err(error) => return fail(&hubs, &name, &fanout, error),
                    };
                    dispatched_up_to = stored.sequence.get();
                    let idle = match fanout.lock() {
                        Ok(mut locked) => {
                            locked.dispatch(&stored);
                            locked.is_empty()
                        }
                        Err(_) => true,
                    };
                    if idle && retire_if_idle(&hubs, &name, &fanout) {
                        return;
                    }
                }
                Some(Err(error)) => {
                    consecutive_errors += 1;
                    tracing::debug!(stream = %name, %error, "live consumer error");
                    if consecutive_errors >= MAX_CONSECUTIVE_ERRORS {
                        return fail(&hubs, &name, &fanout, convert::request_error(Operation::LiveConsumer, error));
                    }
                }
                None => {
                    return fail(&hubs, &name, &fanout, StoreError::Unavailable(Outage::LiveConsumerClosed));
                }
            },
            _ = prune.tick() => {
                if retire_if_idle(&hubs, &name, &fanout) {
                    return;
                }
            }
        }
    }
}

//! The Store conformance suite: every case runs unchanged against the memory engine and
//! against JetStream on a real `nats-server`; JetStream-only checks follow.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

#[path = "../support/mod.rs"]
mod support;

mod backends;
mod conformance;
mod delivery_conformance;
mod jetstream_only;

/// Runs each conformance case against both engines.
macro_rules! both_engines {
    ($($case:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $case() {
                    let backend = crate::backends::Backend::memory().await;
                    crate::conformance::$case(&backend).await;
                }
            )*
        }
        mod jetstream {
            $(
                #[tokio::test]
                async fn $case() {
                    let backend = crate::backends::Backend::jetstream().await;
                    crate::conformance::$case(&backend).await;
                }
            )*
        }
    };
}

both_engines!(
    reads_are_ordered_and_stop_at_the_boundary,
    reads_start_by_sequence_and_by_time,
    reads_end_by_sequence_time_or_limit,
    subject_filters_with_wildcards_select_messages,
    filtered_reads_agree_whatever_their_span,
    latest_per_subject_unless_duplicates_are_allowed,
    deleted_messages_are_skipped_and_missing_ones_not_found,
    purge_keeps_the_stream_usable_and_sequences_counting,
    filtered_purge_removes_only_matches_and_dry_runs_nothing,
    purge_managed_empties_every_managed_stream,
    idempotency_keys_store_once,
    an_idempotency_key_reused_for_another_request_stores_nothing,
    subscribe_hands_over_without_gap_or_duplicate,
    many_subscribers_each_get_every_message,
    an_overflowing_subscriber_is_cut_off_with_its_last_sequence,
    stream_info_reports_counts_and_policy,
);

/// Runs each delivery-primitive case against both engines.
macro_rules! delivery_cases {
    ($($case:ident),* $(,)?) => {
        mod delivery_memory {
            $(
                #[tokio::test]
                async fn $case() {
                    let backend = crate::backends::Backend::memory().await;
                    crate::delivery_conformance::$case(&backend).await;
                }
            )*
        }
        mod delivery_jetstream {
            $(
                #[tokio::test]
                async fn $case() {
                    let backend = crate::backends::Backend::jetstream().await;
                    crate::delivery_conformance::$case(&backend).await;
                }
            )*
        }
    };
}

delivery_cases!(
    a_lane_of_one_keeps_order_through_retries,
    a_wide_lane_hands_out_later_tasks_while_one_waits,
    repeated_task_ids_are_queued_once,
    an_abandoned_task_comes_back,
    a_feed_gives_every_message_in_order,
    documents_write_conditionally_list_by_prefix_and_watch,
    tasks_move_between_lanes_and_go_by_key,
);

//! HTTP API suite: the real app on a random port, every case against both stores.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

#[path = "../support/mod.rs"]
mod support;

#[path = "../support/port.rs"]
mod port;

mod admin;
mod auth;
mod deliveries;
mod destinations;
mod hardening;
mod helpers;
mod hostile;
mod metrics;
mod notify;
mod openapi;
mod operations;
mod resume;
mod schema;
mod shortcuts;
mod stream;

/// Runs each case (an `async fn(StoreKind)`) against the memory store and JetStream.
macro_rules! both_stores {
    ($tests:ident => $module:ident: $($case:ident),* $(,)?) => {
        mod $tests {
            mod memory {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $case() {
                        crate::$module::$case(tidings::settings::StoreKind::Memory).await;
                    }
                )*
            }
            mod jetstream {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $case() {
                        crate::$module::$case(tidings::settings::StoreKind::Jetstream).await;
                    }
                )*
            }
        }
    };
}

both_stores!(notify_cases => notify:
    accepts_a_notification_and_returns_its_id,
    every_request_error_class_is_a_json_400,
    framework_errors_are_json_too,
    idempotency_keys_answer_the_original_id,
    an_idempotency_key_reused_for_another_request_is_a_422,
    polygons_travel_in_headers_and_come_back,
);

both_stores!(stream_cases => stream:
    replay_frames_come_in_aviso_order,
    replay_honours_start_and_end_cursors,
    replay_applies_constraints_and_spatial_filters,
    replay_limit_is_request_wide,
    a_long_replay_arrives_whole_and_in_order,
    replay_validation_errors_are_json,
    live_watch_opens_with_connection_established,
    watch_with_history_hands_over_without_gap_or_duplicate,
    watch_sends_heartbeats_and_closes_at_max_duration,
    shutdown_closes_open_streams,
    event_ids_use_the_requested_event_type,
    replay_from_before_1677_starts_at_the_beginning,
);

both_stores!(admin_cases => admin:
    delete_accepts_alias_and_canonical_ids,
    delete_errors_use_the_admin_envelope,
    wipe_stream_purges_only_the_named_stream,
    wipe_stream_body_errors_are_400s,
    wipe_all_purges_managed_streams_and_writes_continue,
);

both_stores!(schema_cases => schema:
    schema_endpoints_list_sorted_event_types,
    schema_endpoints_show_the_payload_block_as_configured,
    health_and_ready_answer,
);

both_stores!(resume_cases => resume:
    a_watch_resumed_with_last_event_id_loses_and_repeats_nothing,
    a_replay_cut_in_the_middle_resumes_exactly,
    an_old_last_event_id_after_a_purge_says_notifications_may_be_missing,
    bad_last_event_ids_are_400s,
    get_forms_serve_the_same_streams_with_cors,
    configured_origins_are_the_only_ones_allowed,
    streams_over_the_cap_get_503,
    a_watcher_that_hangs_up_frees_its_slot_before_any_heartbeat,
    two_thousand_watchers_each_get_every_notification,
);

both_stores!(operations_cases => operations:
    bulk_delete_reports_each_id,
    dry_runs_predict_exactly_what_the_real_call_removes,
    purge_by_identifier_removes_only_matches,
    every_destructive_request_is_audited,
    the_audit_trail_filters_by_operation_outcome_and_dry_run,
    the_stream_overview_lists_managed_streams,
    watchers_hear_about_deletions_and_wipes,
    browsing_visits_every_notification_once_both_ways,
    browsing_filters_by_time_and_checks_its_parameters,
);

both_stores!(auth_cases => auth:
    the_per_stream_table_holds_on_every_route,
    admin_routes_need_an_admin_role,
    broken_tokens_are_refused,
    direct_mode_asks_the_auth_service_once_per_credential,
    admin_routes_answer_only_loopback_while_auth_is_off,
    oversized_requests_get_json_errors,
    jwks_keys_can_come_from_a_url,
    an_unknown_kid_refresh_holds_up_neither_valid_tokens_nor_the_idp,
    every_route_of_the_table_refuses_anonymous_and_wrong_role_callers,
);

both_stores!(metrics_cases => metrics:
    metrics_describe_the_traffic_with_bounded_labels,
    metrics_can_have_their_own_listener,
);

both_stores!(openapi_cases => openapi:
    the_document_lists_every_served_route,
);

both_stores!(hardening_cases => hardening:
    a_watcher_that_never_reads_is_cut_off_by_its_byte_budget,
    a_watcher_that_never_reads_does_not_outlive_max_duration,
    partial_headers_and_missing_bodies_do_not_hold_connections,
    http1_and_http2_are_told_apart_by_their_first_bytes,
    foreign_pages_cannot_drive_admin_routes,
    ipv4_clients_of_a_dual_stack_listener_count_as_loopback,
    stream_routes_answer_503_during_an_outage,
    replay_started_ends_at_the_last_sequence_before_to_date,
);

both_stores!(operations_hardening_cases => operations:
    every_real_wipe_is_announced_with_its_count,
    a_purge_cut_by_the_request_timeout_runs_to_its_end_audited_and_announced,
    a_huge_refused_wipe_leaves_a_bounded_audit_record,
);

both_stores!(admin_strict_cases => admin:
    misspelled_dry_runs_are_refused_and_remove_nothing,
    bodyless_routes_accept_no_body_or_an_empty_one,
);

both_stores!(destination_cases => destinations:
    a_destination_lives_from_creation_to_deletion,
    invalid_destinations_are_400s_naming_the_field,
    private_and_metadata_addresses_are_refused,
    destinations_page_newest_first_and_filter,
    every_destination_change_is_audited_without_secrets,
    a_test_send_answers_with_its_attempt_even_when_the_receiver_fails,
);

both_stores!(delivery_cases => deliveries:
    matching_notifications_are_delivered_signed_and_recorded,
    binary_mode_sends_the_data_with_ce_headers,
    failures_follow_the_schedule_until_it_is_spent,
    a_receiver_that_recovers_gets_the_delivery_and_retry_after_is_honoured,
    gone_fails_the_delivery_and_disables_the_destination_until_enabled,
    ordered_destinations_get_one_request_at_a_time_in_sequence_order,
    unordered_failures_do_not_hold_later_notifications_back,
    deleted_notifications_and_destinations_end_cancelled,
    delivery_lists_filter_order_and_page,
    the_failed_view_keeps_an_entry_until_an_operator_removes_it,
    terminal_histories_are_deleted_id_by_id_and_dry_runs_predict_it,
    subscriptions_are_deleted_by_condition,
    manual_retries_resend_refuse_disabled_and_report_per_item,
    a_manual_retry_never_runs_beside_the_scheduled_attempt,
    a_replay_resends_exactly_the_history_asked_for,
    live_outcomes_stream_and_resume_after_last_event_id,
    a_retry_on_an_ordered_destination_brings_the_waiting_attempt_forward,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_with_delivery_off_sends_nothing_itself() {
    deliveries::an_instance_with_delivery_off_sends_nothing_itself().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manual_retry_on_another_instance_waits_for_the_scheduled_attempt() {
    deliveries::a_manual_retry_on_another_instance_never_runs_beside_the_scheduled_attempt().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_are_shared_by_instances_on_one_nats() {
    deliveries::instances_share_the_deliveries().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destinations_are_shared_by_instances_on_one_nats() {
    destinations::instances_share_destinations().await;
}

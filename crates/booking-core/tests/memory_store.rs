//! The store behavioural suite against the in-memory store: the whole run as other stores call it,
//! and each check on its own so that a failure names it.

use booking_core::memory::MemoryStore;
use booking_core::testing;

#[tokio::test]
async fn memory_store_passes_the_whole_suite() {
    testing::run_all(|| async { MemoryStore::new() }).await;
}

macro_rules! checks {
    ($($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                testing::$name(&MemoryStore::new()).await;
            }
        )*
    };
}

checks!(
    tenants_round_trip,
    holds_overlap_and_adjacent,
    expired_holds_do_not_block,
    call_holds_are_released,
    taken_slot_changes_nothing,
    concurrent_holds_one_wins,
    confirm_queues_once,
    confirm_stores_its_link_only_when_it_confirms,
    confirm_expired_refused,
    confirm_needs_live_challenge,
    concurrent_confirms_one_wins,
    release_hold_only_live,
    cancel_frees_slot_and_withdraws,
    reschedule_is_atomic,
    booking_queries,
    expire_holds_housekeeping,
    challenges_supersede,
    failed_checks_count,
    concurrent_sends_respect_limits,
    opted_out_numbers_get_no_code,
    codes_prove_changes_once,
    send_counts_windows,
    dedupe_per_tenant,
    claim_lease_and_stale_token,
    claim_skips_future_and_paused,
    claim_takes_one_instant_in_queue_order,
    concurrent_claims_disjoint,
    delivery_outcomes,
    release_claims_gives_back,
    status_moves_forward_only,
    calls_and_finish_once,
    opt_out_round_trip,
    tool_call_log,
    sent_codes_are_not_kept,
    tenant_isolation,
    texting_numbers_belong_to_one_tenant,
    inbound_counts_hold_under_concurrency,
    early_status_applied_when_sid_recorded,
    alert_and_texting_number_race,
    test_texts_hold_under_concurrency,
    attendance_marks,
    concurrent_attendance_marks,
    providers_round_trip,
    providers_hold_the_same_time_side_by_side,
    one_provider_race_has_one_winner,
    provider_limits_hold_under_races,
    waitlist_joins_and_limits,
    concurrent_joins_hold_the_limits,
    freed_times_are_due_once_at_a_time,
    claims_fill_once,
    concurrent_offers_one_text,
);

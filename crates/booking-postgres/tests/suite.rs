//! booking-core's behavioural store suite, run against PostgreSQL: one suite, two
//! implementations. Each check gets a fresh database.

use booking_core::testing;
use booking_postgres::testing::TestDb;

macro_rules! suite {
    ($($check:ident),+ $(,)?) => {
        $(
            #[tokio::test]
            async fn $check() {
                let db = TestDb::new().await;
                testing::$check(&db.store()).await;
            }
        )+
    };
}

suite!(
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
    weekly_report_counts_by_clinic_week,
    waitlist_joins_and_limits,
    concurrent_joins_hold_the_limits,
    freed_times_are_due_once_at_a_time,
    claims_fill_once,
    concurrent_offers_one_text,
);

/// The suite's own driver, which also covers checks added to it after the list above: a fresh
/// database for every check (claims are global, so checks must not see each other's messages).
#[tokio::test]
async fn run_all_with_a_database_per_check() {
    let dbs = std::sync::Mutex::new(Vec::new());
    testing::run_all(|| async {
        let db = TestDb::new().await;
        let store = db.store();
        // Kept until the end: dropping a TestDb drops its database.
        dbs.lock().unwrap().push(db);
        store
    })
    .await;
}

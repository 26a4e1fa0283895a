//! Providers: their configuration round trip, several providers at one time, one provider's
//! races, and their booking limits under concurrency.

use crate::booking::CallHolds;
use jiff::SignedDuration;
use jiff::civil::Weekday;

use crate::booking::{Booking, Interval, NewHold};
use crate::ids::CalendarId;
use crate::ports::{Store, StoreError, StoreResult};
use crate::provider::{
    BookingCap, Provider, ProviderName, ProviderServices, ProviderStatus, local_dates,
};
use crate::tenant::{DateOverride, DayHours, OpenRange, ServiceName, Tenant, WeeklyHours};
use crate::testing::{
    base_time, booking_id, create_tenant, futures_join_all, hold, random_call_id, random_phone,
    random_tenant_id, sms_account, span, tenant_config,
};

/// A provider with a fresh id, every service, the clinic's hours and no limits.
pub fn provider(name: &str) -> Provider {
    Provider {
        id: CalendarId::from_uuid(uuid::Uuid::new_v4()),
        name: ProviderName::parse(name).expect("valid provider name"),
        services: ProviderServices::Every,
        weekly_hours: None,
        date_overrides: Vec::new(),
        max_per_day: None,
        max_per_week: None,
        status: ProviderStatus::Active,
    }
}

/// A clinic (see [`tenant_config`]) with these providers.
pub async fn create_tenant_with_providers<S: Store + ?Sized>(
    store: &S,
    name: &str,
    providers: Vec<Provider>,
) -> Tenant {
    let mut config = tenant_config(name);
    config.providers = providers;
    store
        .create_tenant(random_tenant_id(), &config, Some(&sms_account()))
        .await
        .expect("create_tenant with providers")
}

/// [`hold`] on a provider's calendar, with their limits at its start.
pub fn hold_with(tenant: &Tenant, p: &Provider, slot: Interval, now: jiff::Timestamp) -> NewHold {
    let mut h = hold(tenant, slot, &random_phone(), None, now);
    h.calendar = p.id;
    h.limits = p.limits_at(&tenant.config, slot.start);
    h
}

/// The same request on each of `providers`, in that order (one booking id: only one is kept).
fn on_each(
    tenant: &Tenant,
    providers: &[Provider],
    slot: Interval,
    now: jiff::Timestamp,
) -> Vec<NewHold> {
    let id = booking_id();
    let phone = random_phone();
    providers
        .iter()
        .map(|p| {
            let mut h = hold_with(tenant, p, slot, now);
            h.id = id;
            h.caller_phone = phone.clone();
            h
        })
        .collect()
}

fn winners(results: &[StoreResult<Booking>]) -> Vec<CalendarId> {
    results
        .iter()
        .filter_map(|r| r.as_ref().ok().map(|b| b.calendar))
        .collect()
}

pub async fn providers_round_trip<S: Store + ?Sized>(store: &S) {
    // A clinic that configured none is one provider on its default calendar.
    let plain = create_tenant(store, "Plain Clinic").await;
    let ps = plain.providers();
    check!(
        "providers_round_trip",
        ps.len() == 1
            && ps[0].id == CalendarId::default_for(plain.id)
            && ps[0].name.as_str() == "Plain Clinic"
            && ps[0].services == ProviderServices::Every
            && ps[0].is_active(),
        "a clinic without providers: {ps:?}"
    );

    let mut lee = provider("Dr. Lee");
    lee.services = ProviderServices::Only(vec![
        ServiceName::parse("Teeth Whitening").expect("valid"),
        ServiceName::parse("Checkup").expect("valid"),
    ]);
    lee.max_per_day = Some(BookingCap::new("limit", 6).expect("valid"));
    lee.max_per_week = Some(BookingCap::new("limit", 20).expect("valid"));
    let mut maria = provider("Hygienist Maria");
    let mut week = WeeklyHours::default();
    week.set(
        Weekday::Tuesday,
        DayHours::new(vec![
            OpenRange::parse("08:00", "12:00").expect("valid"),
            OpenRange::parse("13:00", "24:00").expect("valid"),
        ])
        .expect("valid"),
    );
    maria.weekly_hours = Some(week);
    maria.date_overrides = vec![DateOverride {
        date: jiff::civil::date(2030, 3, 8),
        hours: DayHours::closed(),
        note: Some("course".into()),
    }];
    let mut gone = provider("Sam");
    gone.status = ProviderStatus::Retired;
    let t = create_tenant_with_providers(
        store,
        "Team Clinic",
        vec![lee.clone(), maria.clone(), gone.clone()],
    )
    .await;
    let read = store
        .tenant(t.id)
        .await
        .expect("tenant")
        .expect("tenant exists");
    check!(
        "providers_round_trip",
        read.config.providers == vec![lee.clone(), maria.clone(), gone.clone()],
        "providers read back: {:?}",
        read.config.providers
    );
    check!(
        "providers_round_trip",
        read.providers() == read.config.providers,
        "configured providers are the clinic's providers"
    );

    // A new order, one renamed, one dropped: stored as given.
    let mut config = read.config.clone();
    let mut renamed = maria.clone();
    renamed.name = ProviderName::parse("Maria Garcia").expect("valid");
    config.providers = vec![renamed.clone(), lee.clone()];
    let updated = store
        .update_tenant(t.id, &config, crate::ports::SmsAccountChange::Keep)
        .await
        .expect("update_tenant");
    let again = store.tenant(t.id).await.expect("tenant").expect("exists");
    check!(
        "providers_round_trip",
        updated.config.providers == vec![renamed.clone(), lee.clone()]
            && again.config.providers == updated.config.providers,
        "providers after an update: {:?}",
        again.config.providers
    );
    // Another clinic's providers are its own.
    let other = store
        .tenant(plain.id)
        .await
        .expect("tenant")
        .expect("exists");
    check!(
        "providers_round_trip",
        other.config.providers.is_empty(),
        "another clinic's providers leaked: {:?}",
        other.config.providers
    );
}

pub async fn providers_hold_the_same_time_side_by_side<S: Store + ?Sized>(store: &S) {
    let team = vec![provider("Anna"), provider("Ben"), provider("Cleo")];
    let t = create_tenant_with_providers(store, "Three Chairs", team.clone()).await;
    let now = base_time();
    let ten = span(60, 60);
    // Three callers want 10:00 with anyone, all preferring the same order.
    let results = futures_join_all((0..3).map(|_| {
        let holds = on_each(&t, &team, ten, now);
        async move {
            store
                .insert_first_free_hold(&holds, now, CallHolds::Keep)
                .await
        }
    }))
    .await;
    let mut won = winners(&results);
    won.sort();
    won.dedup();
    check!(
        "providers_hold_the_same_time_side_by_side",
        won.len() == 3 && results.iter().all(Result::is_ok),
        "three callers, three free providers: {results:?}"
    );
    // The fourth finds everyone taken.
    let fourth = store
        .insert_first_free_hold(&on_each(&t, &team, ten, now), now, CallHolds::Keep)
        .await;
    check!(
        "providers_hold_the_same_time_side_by_side",
        matches!(fourth, Err(StoreError::SlotTaken)),
        "a fourth caller at a time all three hold: {fourth:?}"
    );
    // What availability reads: one occupied time per provider, and only the providers asked.
    let window = span(0, 240);
    let busy = store
        .occupied(t.id, &[team[0].id, team[2].id], window, now)
        .await
        .expect("occupied");
    check!(
        "providers_hold_the_same_time_side_by_side",
        busy.len() == 2
            && busy
                .iter()
                .all(|o| o.blocked == ten && o.starts_at == ten.start)
            && busy.iter().any(|o| o.calendar == team[0].id)
            && busy.iter().any(|o| o.calendar == team[2].id),
        "occupied times of two providers: {busy:?}"
    );
    // A preference is honoured: the hold goes on the provider asked for or nowhere.
    let eleven = span(120, 60);
    let r = store
        .insert_first_free_hold(&on_each(&t, &team[2..], eleven, now), now, CallHolds::Keep)
        .await;
    check!(
        "providers_hold_the_same_time_side_by_side",
        r.as_ref().is_ok_and(|b| b.calendar == team[2].id),
        "a hold asked of Cleo: {r:?}"
    );
    let r = store
        .insert_first_free_hold(&on_each(&t, &team[2..], eleven, now), now, CallHolds::Keep)
        .await;
    check!(
        "providers_hold_the_same_time_side_by_side",
        matches!(r, Err(StoreError::SlotTaken)),
        "Cleo twice at 11:00 while Anna and Ben are free: {r:?}"
    );
    // Another clinic's providers are not in the way, nor can its holds be placed here.
    let other = create_tenant_with_providers(store, "Other Chairs", vec![provider("Anna")]).await;
    let mine = other.providers();
    let r = store
        .insert_first_free_hold(&on_each(&other, &mine, ten, now), now, CallHolds::Keep)
        .await;
    check!(
        "providers_hold_the_same_time_side_by_side",
        r.is_ok(),
        "another clinic at the same time: {r:?}"
    );
}

pub async fn one_provider_race_has_one_winner<S: Store + ?Sized>(store: &S) {
    let team = vec![provider("Dr. Lee"), provider("Maria")];
    let t = create_tenant_with_providers(store, "Busy Doctor", team.clone()).await;
    let now = base_time();
    let results = futures_join_all((0..200i64).map(|i| {
        // Times that all overlap one another (at most 40 minutes apart, an hour long), all
        // with Dr. Lee.
        let h = hold_with(&t, &team[0], span(60 + (i % 5) * 10, 60), now);
        async move { store.insert_hold(&h, now, CallHolds::Keep).await }
    }))
    .await;
    let won = results.iter().filter(|r| r.is_ok()).count();
    let taken = results
        .iter()
        .filter(|r| matches!(r, Err(StoreError::SlotTaken)))
        .count();
    check!(
        "one_provider_race_has_one_winner",
        won == 1 && taken == 199,
        "200 racing holds on one provider: {won} won, {taken} taken, others: {:?}",
        results
            .iter()
            .filter(|r| !matches!(r, Ok(_) | Err(StoreError::SlotTaken)))
            .collect::<Vec<_>>()
    );
}

pub async fn provider_limits_hold_under_races<S: Store + ?Sized>(store: &S) {
    let mut lee = provider("Dr. Lee");
    lee.max_per_day = Some(BookingCap::new("limit", 2).expect("valid"));
    lee.max_per_week = Some(BookingCap::new("limit", 3).expect("valid"));
    let maria = provider("Maria");
    let t = create_tenant_with_providers(store, "Limited", vec![lee.clone(), maria.clone()]).await;
    let now = base_time();
    // Twenty callers take twenty different free times of one day with Dr. Lee at once.
    let day = |d: i64, i: i64| span(d * 24 * 60 + i * 20, 20);
    let results = futures_join_all((0..20).map(|i| {
        let h = hold_with(&t, &lee, day(0, i), now);
        async move { store.insert_hold(&h, now, CallHolds::Keep).await }
    }))
    .await;
    let won = results.iter().filter(|r| r.is_ok()).count();
    let limited = results
        .iter()
        .filter(|r| matches!(r, Err(StoreError::LimitReached)))
        .count();
    check!(
        "provider_limits_hold_under_races",
        won == 2 && limited == 18,
        "twenty racing holds with a daily limit of 2: {won} won, {limited} limited"
    );
    // Maria has no limit; the next day Dr. Lee takes one more, then the week is full.
    let r = store
        .insert_hold(&hold_with(&t, &maria, day(0, 3), now), now, CallHolds::Keep)
        .await;
    check!(
        "provider_limits_hold_under_races",
        r.is_ok(),
        "Maria is not limited by Dr. Lee's day: {r:?}"
    );
    let results = futures_join_all((0..10).map(|i| {
        let h = hold_with(&t, &lee, day(1, i), now);
        async move { store.insert_hold(&h, now, CallHolds::Keep).await }
    }))
    .await;
    let won = results.iter().filter(|r| r.is_ok()).count();
    check!(
        "provider_limits_hold_under_races",
        won == 1,
        "ten racing holds with one left in the week: {won} won: {results:?}"
    );
    // Without a preference, a limited provider is passed over for the next.
    let r = store
        .insert_first_free_hold(
            &[
                hold_with(&t, &lee, day(2, 0), now),
                hold_with(&t, &maria, day(2, 0), now),
            ],
            now,
            CallHolds::Keep,
        )
        .await;
    check!(
        "provider_limits_hold_under_races",
        r.as_ref().is_ok_and(|b| b.calendar == maria.id),
        "a full week passes the caller to Maria: {r:?}"
    );
    let r = store
        .insert_first_free_hold(&[hold_with(&t, &lee, day(2, 3), now)], now, CallHolds::Keep)
        .await;
    check!(
        "provider_limits_hold_under_races",
        matches!(r, Err(StoreError::LimitReached)),
        "Dr. Lee's full week: {r:?}"
    );

    // Holds that expired or that the call gives up do not count.
    let mut solo = provider("Solo");
    solo.max_per_day = Some(BookingCap::new("limit", 1).expect("valid"));
    let t2 = create_tenant_with_providers(store, "Solo Clinic", vec![solo.clone()]).await;
    let call = random_call_id();
    let mut first = hold_with(&t2, &solo, day(0, 0), now);
    first.call_id = Some(call.clone());
    store
        .insert_hold(&first, now, CallHolds::Keep)
        .await
        .expect("first hold");
    let mut moved = hold_with(&t2, &solo, day(0, 5), now);
    moved.call_id = Some(call.clone());
    let r = store.insert_hold(&moved, now, CallHolds::Release).await;
    check!(
        "provider_limits_hold_under_races",
        r.is_ok(),
        "a call moving its own hold within a full day: {r:?}"
    );
    let later = now + crate::booking::HOLD_TTL + SignedDuration::from_secs(1);
    let r = store
        .insert_hold(
            &hold_with(&t2, &solo, day(0, 9), later),
            later,
            CallHolds::Keep,
        )
        .await;
    check!(
        "provider_limits_hold_under_races",
        r.is_ok(),
        "an expired hold still counted against the day: {r:?}"
    );
    // The window is the clinic's local day.
    let window = local_dates(
        &t2.config,
        t2.config.zone.tz().to_datetime(day(0, 0).start).date(),
        t2.config.zone.tz().to_datetime(day(0, 0).start).date(),
    );
    check!(
        "provider_limits_hold_under_races",
        window.end - window.start == SignedDuration::from_hours(24)
            && window.contains(day(0, 0).start),
        "the day's window: {window:?}"
    );
}

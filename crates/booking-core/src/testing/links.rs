//! Patients' links: stored by hash, live until they expire or are revoked, counted per key; and
//! the last message to a number, which replies to reminders are about.

use jiff::SignedDuration;

use crate::accounts::TokenHash;
use crate::ids::BookingId;
use crate::link_token::LinkToken;
use crate::outbox::{DedupeKey, MessageKind, REMINDER_PREFIX};
use crate::patient_link::{ActionKey, NewPatientLink, PatientLink};
use crate::ports::{Store, StoreError};
use crate::testing::{SeededRandom, base_time, create_tenant, message, random_phone};

/// A link opens its clinic's appointment until it expires or is revoked; a second link with the
/// same hash is refused; revoking one booking's links leaves another's alone.
pub async fn patient_links_live_until_expiry_or_revocation<S: Store + ?Sized>(store: &S) {
    const NAME: &str = "patient_links_live_until_expiry_or_revocation";
    let t = create_tenant(store, "Link Clinic").await;
    let u = create_tenant(store, "Other Link Clinic").await;
    let now = base_time();
    let random = SeededRandom::new(uuid::Uuid::new_v4().as_u128() as u64);
    let (a, b) = (
        BookingId::from_uuid(uuid::Uuid::new_v4()),
        BookingId::from_uuid(uuid::Uuid::new_v4()),
    );
    let (ta, tb) = (LinkToken::generate(&random), LinkToken::generate(&random));
    let expires = now + SignedDuration::from_hours(48);
    let link = |tenant, booking, token: &LinkToken| NewPatientLink {
        tenant,
        booking,
        hash: token.hash(),
        created_at: now,
        expires_at: expires,
    };
    store
        .insert_link(&link(t.id, a, &ta))
        .await
        .expect("insert");
    store
        .insert_link(&link(u.id, b, &tb))
        .await
        .expect("insert");
    let again = store.insert_link(&link(u.id, b, &ta)).await;
    check!(
        NAME,
        matches!(again, Err(StoreError::Duplicate(_))),
        "same hash twice: {again:?}"
    );
    let found = store.link_by_hash(&ta.hash(), now).await.expect("lookup");
    check!(
        NAME,
        found
            == Some(PatientLink {
                tenant: t.id,
                booking: a,
                expires_at: expires
            }),
        "the first clinic's link: {found:?}"
    );
    let theirs = store.link_by_hash(&tb.hash(), now).await.expect("lookup");
    check!(
        NAME,
        theirs.as_ref().map(|l| (l.tenant, l.booking)) == Some((u.id, b)),
        "the other clinic's: {theirs:?}"
    );
    let guessed = store
        .link_by_hash(&TokenHash([7; 32]), now)
        .await
        .expect("lookup");
    check!(NAME, guessed.is_none(), "a guessed hash: {guessed:?}");
    let expired = store
        .link_by_hash(&ta.hash(), expires)
        .await
        .expect("lookup");
    check!(NAME, expired.is_none(), "at its expiry: {expired:?}");
    // Revoking with the wrong clinic changes nothing.
    store.revoke_links(u.id, a, now).await.expect("revoke");
    let still = store.link_by_hash(&ta.hash(), now).await.expect("lookup");
    check!(NAME, still.is_some(), "revoked by another clinic");
    store.revoke_links(t.id, a, now).await.expect("revoke");
    let revoked = store.link_by_hash(&ta.hash(), now).await.expect("lookup");
    check!(NAME, revoked.is_none(), "revoked: {revoked:?}");
    let other = store.link_by_hash(&tb.hash(), now).await.expect("lookup");
    check!(NAME, other.is_some(), "another booking's link was revoked");
}

/// Twenty concurrent counts under one key each see a distinct count 1..=20; another key counts
/// apart; once the window is over, counting starts again.
pub async fn link_actions_count_exactly_under_concurrency<S: Store + ?Sized>(store: &S) {
    const NAME: &str = "link_actions_count_exactly_under_concurrency";
    let now = base_time();
    let window = SignedDuration::from_hours(1);
    let key = ActionKey::address(&format!(
        "198.51.100.{}",
        uuid::Uuid::new_v4().as_u128() % 250
    ));
    let counts =
        futures_util::future::join_all((0..20).map(|_| store.count_link_action(&key, window, now)))
            .await;
    let mut counts: Vec<u32> = counts.into_iter().map(|c| c.expect("count")).collect();
    counts.sort_unstable();
    check!(
        NAME,
        counts == (1..=20).collect::<Vec<_>>(),
        "counts: {counts:?}"
    );
    let mut bytes = [0u8; 32];
    bytes[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    let other = ActionKey::link(&TokenHash(bytes));
    let first = store
        .count_link_action(&other, window, now)
        .await
        .expect("count");
    check!(NAME, first == 1, "another key: {first}");
    let later = store
        .count_link_action(&key, window, now + window)
        .await
        .expect("count");
    check!(NAME, later == 1, "a window later: {later}");
}

/// The newest message of a kind and key prefix to a number, since a time; none of another
/// clinic's, number's or kind's.
pub async fn last_message_to_a_number<S: Store + ?Sized>(store: &S) {
    const NAME: &str = "last_message_to_a_number";
    let t = create_tenant(store, "Reminder Clinic").await;
    let u = create_tenant(store, "Other Reminder Clinic").await;
    let (to, other) = (random_phone(), random_phone());
    let now = base_time();
    let (a, b) = (
        BookingId::from_uuid(uuid::Uuid::new_v4()),
        BookingId::from_uuid(uuid::Uuid::new_v4()),
    );
    let mut older = message(
        t.id,
        MessageKind::Reminder,
        DedupeKey::reminder(a),
        &to,
        now,
    );
    older.booking = Some(a);
    let mut newer = message(
        t.id,
        MessageKind::Reminder,
        DedupeKey::reminder(b),
        &to,
        now + SignedDuration::from_mins(5),
    );
    newer.booking = Some(b);
    let theirs = message(
        u.id,
        MessageKind::Reminder,
        DedupeKey::reminder(b),
        &to,
        now + SignedDuration::from_mins(9),
    );
    let confirmation = message(
        t.id,
        MessageKind::Confirmation,
        DedupeKey::confirmation(b),
        &to,
        now + SignedDuration::from_mins(9),
    );
    store
        .enqueue(&[older, newer, theirs, confirmation])
        .await
        .expect("enqueue");
    let found = store
        .last_message_to(t.id, &to, MessageKind::Reminder, REMINDER_PREFIX, now)
        .await
        .expect("query");
    check!(
        NAME,
        found.as_ref().and_then(|m| m.booking) == Some(b),
        "the newer reminder: {found:?}"
    );
    let none = store
        .last_message_to(t.id, &other, MessageKind::Reminder, REMINDER_PREFIX, now)
        .await
        .expect("query");
    check!(NAME, none.is_none(), "another number: {none:?}");
    let too_old = store
        .last_message_to(
            t.id,
            &to,
            MessageKind::Reminder,
            REMINDER_PREFIX,
            now + SignedDuration::from_mins(6),
        )
        .await
        .expect("query");
    check!(NAME, too_old.is_none(), "since later: {too_old:?}");
    let prefix = store
        .last_message_to(t.id, &to, MessageKind::Reminder, "cancel-ask:", now)
        .await
        .expect("query");
    check!(NAME, prefix.is_none(), "another key prefix: {prefix:?}");
}

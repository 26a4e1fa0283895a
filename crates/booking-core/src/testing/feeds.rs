//! Calendar feeds: a secret per (tenant, scope), replaced by a new one, revoked, looked up only by
//! its hash; concurrent replacements leave exactly one.

use jiff::SignedDuration;

use super::{base_time, create_tenant, futures_join_all, random_tenant_id};
use crate::accounts::TokenHash;
use crate::feeds::{CalendarFeedStore, FeedScope};
use crate::ports::{Store, StoreError};

/// A store with every port, the feeds' included.
pub trait FeedTestStore: Store + CalendarFeedStore {}
impl<T: Store + CalendarFeedStore> FeedTestStore for T {}

/// The feed checks, each on a fresh store from `make`.
pub async fn run_feed_checks<S, F, Fut>(make: F)
where
    S: FeedTestStore,
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = S>,
{
    feeds_replaced_revoked_and_found_by_hash(&make().await).await;
    feed_replacements_at_once_leave_one(&make().await).await;
}

fn hash(n: u8) -> TokenHash {
    TokenHash([n; 32])
}

pub async fn feeds_replaced_revoked_and_found_by_hash<S: FeedTestStore + ?Sized>(store: &S) {
    const N: &str = "feeds_replaced_revoked_and_found_by_hash";
    let now = base_time();
    let t = create_tenant(store, "Feed Clinic").await;
    let other = create_tenant(store, "Other Feed Clinic").await;
    let provider = FeedScope::Provider(t.calendar());

    store
        .replace_feed(t.id, FeedScope::Clinic, &hash(1), now)
        .await
        .expect("clinic feed");
    store
        .replace_feed(t.id, provider, &hash(2), now)
        .await
        .expect("provider feed");
    let found = store.feed_by_hash(&hash(1)).await.expect("lookup");
    assert_eq!(
        found.map(|f| (f.tenant, f.scope)),
        Some((t.id, FeedScope::Clinic)),
        "[{N}]"
    );
    let found = store.feed_by_hash(&hash(2)).await.expect("lookup");
    assert_eq!(
        found.map(|f| (f.tenant, f.scope, f.created_at)),
        Some((t.id, provider, now)),
        "[{N}]"
    );
    assert_eq!(
        store.feed_by_hash(&hash(9)).await.expect("lookup"),
        None,
        "[{N}] an unknown secret finds nothing"
    );
    assert_eq!(store.feeds(t.id).await.expect("list").len(), 2, "[{N}]");
    assert!(
        store.feeds(other.id).await.expect("list").is_empty(),
        "[{N}] another clinic sees none of them"
    );

    // A new secret replaces the old one: the old hash finds nothing.
    let later = now + SignedDuration::from_mins(5);
    store
        .replace_feed(t.id, provider, &hash(3), later)
        .await
        .expect("replace");
    assert_eq!(
        store.feed_by_hash(&hash(2)).await.expect("lookup"),
        None,
        "[{N}]"
    );
    let found = store.feed_by_hash(&hash(3)).await.expect("lookup");
    assert_eq!(found.map(|f| f.created_at), Some(later), "[{N}]");
    assert_eq!(store.feeds(t.id).await.expect("list").len(), 2, "[{N}]");

    // Another clinic revoking the same scope touches nothing of this one.
    assert!(
        !store.revoke_feed(other.id, provider).await.expect("revoke"),
        "[{N}]"
    );
    assert!(
        store
            .feed_by_hash(&hash(3))
            .await
            .expect("lookup")
            .is_some(),
        "[{N}]"
    );
    assert!(
        store.revoke_feed(t.id, provider).await.expect("revoke"),
        "[{N}]"
    );
    assert!(
        !store.revoke_feed(t.id, provider).await.expect("revoke"),
        "[{N}] once"
    );
    assert_eq!(
        store.feed_by_hash(&hash(3)).await.expect("lookup"),
        None,
        "[{N}]"
    );
    assert!(
        store
            .feed_by_hash(&hash(1))
            .await
            .expect("lookup")
            .is_some(),
        "[{N}] the clinic's feed stays"
    );
    assert_eq!(
        store
            .replace_feed(random_tenant_id(), FeedScope::Clinic, &hash(4), now)
            .await,
        Err(StoreError::NotFound),
        "[{N}] no such tenant"
    );
}

pub async fn feed_replacements_at_once_leave_one<S: FeedTestStore + ?Sized>(store: &S) {
    const N: &str = "feed_replacements_at_once_leave_one";
    let now = base_time();
    let t = create_tenant(store, "Busy Feed Clinic").await;
    let hashes: Vec<TokenHash> = (10..30u8).map(hash).collect();
    let results = futures_join_all(
        hashes
            .iter()
            .map(|h| store.replace_feed(t.id, FeedScope::Clinic, h, now)),
    )
    .await;
    for r in &results {
        assert_eq!(r, &Ok(()), "[{N}]");
    }
    assert_eq!(store.feeds(t.id).await.expect("list").len(), 1, "[{N}]");
    let mut live = 0;
    for n in 10..30u8 {
        if store
            .feed_by_hash(&hash(n))
            .await
            .expect("lookup")
            .is_some()
        {
            live += 1;
        }
    }
    assert_eq!(live, 1, "[{N}] exactly one secret works");
}

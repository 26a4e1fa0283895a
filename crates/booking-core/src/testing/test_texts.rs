//! The dashboard's test texts, counted per clinic.

use jiff::SignedDuration;

use crate::ports::{Store, StoreError};
use crate::test_texts::{TEST_TEXT_LIMIT, TestTextsUsedUp};
use crate::testing::{base_time, create_tenant, random_tenant_id};

/// Of twenty concurrent takes, exactly the limit's five are admitted; the refusals say when the
/// oldest leaves the window; another clinic counts apart; a window later, five more go.
pub async fn test_texts_hold_under_concurrency<S: Store + ?Sized>(store: &S) {
    const NAME: &str = "test_texts_hold_under_concurrency";
    let t = create_tenant(store, "Test Text Clinic").await;
    let u = create_tenant(store, "Other Test Text Clinic").await;
    let now = base_time();
    let takes = futures_util::future::join_all(
        (0..20).map(|_| store.take_test_text(t.id, TEST_TEXT_LIMIT, now)),
    )
    .await;
    let takes: Vec<_> = takes.into_iter().map(|r| r.expect("take")).collect();
    let admitted = takes.iter().filter(|r| r.is_ok()).count();
    check!(NAME, admitted == 5, "admitted {admitted} of 20: {takes:?}");
    check!(
        NAME,
        takes.iter().filter_map(|r| r.err()).all(|e| e
            == TestTextsUsedUp {
                retry_after: TEST_TEXT_LIMIT.window
            }),
        "refusals: {takes:?}"
    );
    let theirs = store
        .take_test_text(u.id, TEST_TEXT_LIMIT, now)
        .await
        .expect("take");
    check!(NAME, theirs.is_ok(), "another clinic's first: {theirs:?}");
    let inside = store
        .take_test_text(
            t.id,
            TEST_TEXT_LIMIT,
            now + TEST_TEXT_LIMIT.window - SignedDuration::from_secs(1),
        )
        .await
        .expect("take");
    check!(
        NAME,
        inside
            == Err(TestTextsUsedUp {
                retry_after: SignedDuration::from_secs(1)
            }),
        "a second before the window ends: {inside:?}"
    );
    let later = now + TEST_TEXT_LIMIT.window;
    let again = futures_util::future::join_all(
        (0..8).map(|_| store.take_test_text(t.id, TEST_TEXT_LIMIT, later)),
    )
    .await;
    let admitted = again.iter().filter(|r| matches!(r, Ok(Ok(())))).count();
    check!(
        NAME,
        admitted == 5,
        "a window later, admitted {admitted} of 8"
    );
    let unknown = store
        .take_test_text(random_tenant_id(), TEST_TEXT_LIMIT, now)
        .await;
    check!(
        NAME,
        unknown == Err(StoreError::NotFound),
        "an unknown clinic: {unknown:?}"
    );
}

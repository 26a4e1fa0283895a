//! The caching store: the store contract suite through it, and what it keeps and drops.

use std::sync::Arc;

use api::cached_tenants::{CachedTenants, TTL};
use api::state::SystemClock;
use booking_core::memory::MemoryStore;
use booking_core::ports::{SmsAccountChange, Store, TenantStore};
use booking_core::tenant::{ClinicName, SmsHealth};
use booking_core::testing::{self, ManualClock, base_time, create_tenant};
use jiff::SignedDuration;

#[tokio::test]
async fn the_store_suite_passes_through_the_cache() {
    testing::run_all(|| async {
        CachedTenants::new(Arc::new(MemoryStore::new()), Arc::new(SystemClock))
    })
    .await;
}

fn cached_over(inner: &Arc<MemoryStore>, clock: &Arc<ManualClock>) -> CachedTenants {
    let inner: Arc<dyn Store> = inner.clone();
    CachedTenants::new(inner, clock.clone())
}

#[tokio::test]
async fn a_lookup_is_kept_until_the_ttl_and_no_longer() {
    let inner = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(base_time()));
    let cached = cached_over(&inner, &clock);
    let tenant = create_tenant(inner.as_ref(), "Smile Dental").await;
    let called = tenant.config.called_numbers[0].number.clone();
    let seen = cached.tenant_by_called_number(&called).await.unwrap();
    assert_eq!(
        seen.map(|t| t.config.name.to_string()),
        Some("Smile Dental".to_owned())
    );

    // Renamed behind the cache's back (as another instance would): kept for the TTL.
    let mut config = tenant.config.clone();
    config.name = ClinicName::parse("Bright Smiles").unwrap();
    inner
        .update_tenant(tenant.id, &config, SmsAccountChange::Keep)
        .await
        .unwrap();
    clock.advance(TTL - SignedDuration::from_secs(1));
    let seen = cached.tenant_by_called_number(&called).await.unwrap();
    assert_eq!(
        seen.map(|t| t.config.name.to_string()),
        Some("Smile Dental".to_owned())
    );
    clock.advance(SignedDuration::from_secs(1));
    let seen = cached.tenant_by_called_number(&called).await.unwrap();
    assert_eq!(
        seen.map(|t| t.config.name.to_string()),
        Some("Bright Smiles".to_owned())
    );
}

#[tokio::test]
async fn its_own_changes_are_seen_at_once() {
    let inner = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(base_time()));
    let cached = cached_over(&inner, &clock);
    let tenant = create_tenant(&cached, "Smile Dental").await;
    let called = tenant.config.called_numbers[0].number.clone();
    let seen = cached
        .tenant_by_called_number(&called)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen.sms_health, tenant.sms_health);

    // What the outbox worker does on a 20003.
    let attention = SmsHealth::NeedsAttention {
        code: 20003,
        message: "Authenticate".into(),
    };
    cached.set_sms_health(tenant.id, &attention).await.unwrap();
    let seen = cached
        .tenant_by_called_number(&called)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen.sms_health, attention);

    let mut config = tenant.config.clone();
    config.name = ClinicName::parse("Bright Smiles").unwrap();
    cached
        .update_tenant(tenant.id, &config, SmsAccountChange::Keep)
        .await
        .unwrap();
    let seen = cached
        .tenant_by_called_number(&called)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen.config.name.to_string(), "Bright Smiles");
}

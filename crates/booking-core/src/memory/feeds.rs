//! The calendar feeds' secrets ([`CalendarFeedStore`]) in memory.

use async_trait::async_trait;
use jiff::Timestamp;

use crate::accounts::TokenHash;
use crate::feeds::{CalendarFeedStore, Feed, FeedScope};
use crate::ids::TenantId;
use crate::memory::MemoryStore;
use crate::ports::StoreResult;

#[async_trait]
impl CalendarFeedStore for MemoryStore {
    async fn replace_feed(
        &self,
        tenant: TenantId,
        scope: FeedScope,
        hash: &TokenHash,
        now: Timestamp,
    ) -> StoreResult<()> {
        let mut st = self.lock();
        st.tenant_exists(tenant)?;
        st.feeds
            .retain(|(f, _)| !(f.tenant == tenant && f.scope == scope));
        st.feeds.push((
            Feed {
                tenant,
                scope,
                created_at: now,
            },
            *hash,
        ));
        Ok(())
    }

    async fn revoke_feed(&self, tenant: TenantId, scope: FeedScope) -> StoreResult<bool> {
        let mut st = self.lock();
        let before = st.feeds.len();
        st.feeds
            .retain(|(f, _)| !(f.tenant == tenant && f.scope == scope));
        Ok(st.feeds.len() != before)
    }

    async fn feed_by_hash(&self, hash: &TokenHash) -> StoreResult<Option<Feed>> {
        Ok(self
            .lock()
            .feeds
            .iter()
            .find(|(_, h)| h == hash)
            .map(|(f, _)| *f))
    }

    async fn feeds(&self, tenant: TenantId) -> StoreResult<Vec<Feed>> {
        let mut out: Vec<Feed> = self
            .lock()
            .feeds
            .iter()
            .filter(|(f, _)| f.tenant == tenant)
            .map(|(f, _)| *f)
            .collect();
        out.sort_by_key(|f| f.scope);
        Ok(out)
    }
}

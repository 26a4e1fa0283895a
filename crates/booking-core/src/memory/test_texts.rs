use async_trait::async_trait;
use jiff::Timestamp;

use super::MemoryStore;
use crate::ids::TenantId;
use crate::otp::RateWindow;
use crate::ports::{StoreResult, TestTextStore};
use crate::test_texts::{TestTextsUsedUp, admit_test_text};

#[async_trait]
impl TestTextStore for MemoryStore {
    async fn take_test_text(
        &self,
        tenant: TenantId,
        limit: RateWindow,
        now: Timestamp,
    ) -> StoreResult<Result<(), TestTextsUsedUp>> {
        let mut s = self.lock();
        s.tenant_exists(tenant)?;
        let sent = s.test_texts.entry(tenant).or_default();
        // Those that left the window are of no use; one in the future (the clock stepped back)
        // stays.
        sent.retain(|at| now.duration_since(*at) < limit.window);
        if let Err(used_up) = admit_test_text(sent, limit, now) {
            return Ok(Err(used_up));
        }
        sent.push(now);
        Ok(Ok(()))
    }
}

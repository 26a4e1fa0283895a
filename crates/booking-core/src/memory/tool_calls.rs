//! The replay log of tool calls: [`ToolCallLog`] in memory.

use async_trait::async_trait;
use jiff::Timestamp;

use crate::ids::TenantId;
use crate::memory::{MemoryStore, ToolCallRow};
use crate::ports::{StoreError, StoreResult, ToolCallClaim, ToolCallKey, ToolCallLog};

#[async_trait]
impl ToolCallLog for MemoryStore {
    async fn begin_tool_call(
        &self,
        tenant: TenantId,
        key: &ToolCallKey,
        now: Timestamp,
    ) -> StoreResult<ToolCallClaim> {
        let mut s = self.lock();
        let key = (tenant, key.clone());
        Ok(match s.tool_calls.get(&key) {
            Some(ToolCallRow::Done(r)) => ToolCallClaim::Done(r.clone()),
            Some(ToolCallRow::InProgress(at))
                if now.duration_since(*at) < crate::ports::TOOL_CALL_ABANDONED_AFTER =>
            {
                ToolCallClaim::InProgress
            }
            // Never claimed, or claimed by a request that died: run it.
            _ => {
                s.tool_calls.insert(key, ToolCallRow::InProgress(now));
                ToolCallClaim::New
            }
        })
    }

    async fn finish_tool_call(
        &self,
        tenant: TenantId,
        key: &ToolCallKey,
        result: &str,
        _now: Timestamp,
    ) -> StoreResult<()> {
        let mut s = self.lock();
        match s.tool_calls.get_mut(&(tenant, key.clone())) {
            Some(row @ ToolCallRow::InProgress(_)) => {
                *row = ToolCallRow::Done(result.to_owned());
                Ok(())
            }
            // Already finished: the first answer stays.
            Some(ToolCallRow::Done(_)) => Ok(()),
            None => Err(StoreError::NotFound),
        }
    }

    async fn abandon_tool_call(&self, tenant: TenantId, key: &ToolCallKey) -> StoreResult<()> {
        let mut s = self.lock();
        let key = (tenant, key.clone());
        if matches!(s.tool_calls.get(&key), Some(ToolCallRow::InProgress(_))) {
            s.tool_calls.remove(&key);
        }
        Ok(())
    }
}

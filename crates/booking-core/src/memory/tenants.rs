//! The clinics: [`TenantStore`] in memory.

use async_trait::async_trait;

use crate::ids::{AssistantId, TenantId, VoiceLineId};
use crate::memory::MemoryStore;
use crate::phone::PhoneNumber;
use crate::ports::{SmsAccountChange, StoreError, StoreResult, TenantStore};
use crate::tenant::{SmsAccount, SmsHealth, SmsSender, Tenant, TenantConfig};

#[async_trait]
impl TenantStore for MemoryStore {
    async fn create_tenant(
        &self,
        id: TenantId,
        config: &TenantConfig,
        sms: Option<&SmsAccount>,
    ) -> StoreResult<Tenant> {
        let mut s = self.lock();
        if s.tenants.contains_key(&id) {
            return Err(StoreError::Duplicate("tenant id".into()));
        }
        if let Some(what) = s.number_taken(config, id) {
            return Err(StoreError::Duplicate(what));
        }
        if let Some(what) = s.sms_taken(config, sms, id) {
            return Err(StoreError::Duplicate(what));
        }
        let tenant = Tenant {
            id,
            config: config.clone(),
            sms_health: if sms.is_some() {
                SmsHealth::Ok
            } else {
                SmsHealth::NotConfigured
            },
        };
        s.tenants.insert(id, tenant.clone());
        if let Some(a) = sms {
            s.sms.insert(id, a.clone());
        }
        Ok(tenant)
    }

    async fn update_tenant(
        &self,
        id: TenantId,
        config: &TenantConfig,
        sms: SmsAccountChange,
    ) -> StoreResult<Tenant> {
        let mut s = self.lock();
        s.tenant_exists(id)?;
        if let Some(what) = s.number_taken(config, id) {
            return Err(StoreError::Duplicate(what));
        }
        let kept = match &sms {
            SmsAccountChange::Keep => s.sms.get(&id).cloned(),
            SmsAccountChange::Set(a) => Some(a.clone()),
            SmsAccountChange::Clear => None,
        };
        if let Some(what) = s.sms_taken(config, kept.as_ref(), id) {
            return Err(StoreError::Duplicate(what));
        }
        let health = match &sms {
            SmsAccountChange::Keep => None,
            SmsAccountChange::Set(a) => {
                s.sms.insert(id, a.clone());
                Some(SmsHealth::Ok)
            }
            SmsAccountChange::Clear => {
                s.sms.remove(&id);
                Some(SmsHealth::NotConfigured)
            }
        };
        let t = s.tenants.get_mut(&id).expect("checked above");
        t.config = config.clone();
        if let Some(h) = health {
            t.sms_health = h;
        }
        Ok(t.clone())
    }

    async fn tenant(&self, id: TenantId) -> StoreResult<Option<Tenant>> {
        Ok(self.lock().tenants.get(&id).cloned())
    }

    async fn list_tenants(&self) -> StoreResult<Vec<Tenant>> {
        Ok(self.lock().tenants.values().cloned().collect())
    }

    async fn tenant_by_called_number(&self, number: &PhoneNumber) -> StoreResult<Option<Tenant>> {
        Ok(self
            .lock()
            .tenants
            .values()
            .find(|t| t.config.called_numbers.iter().any(|c| &c.number == number))
            .cloned())
    }

    async fn tenant_by_voice_line_id(&self, id: &VoiceLineId) -> StoreResult<Option<Tenant>> {
        Ok(self
            .lock()
            .tenants
            .values()
            .find(|t| {
                t.config
                    .called_numbers
                    .iter()
                    .any(|c| c.vapi_phone_number_id.as_ref() == Some(id))
            })
            .cloned())
    }

    async fn tenant_by_assistant_id(&self, id: &AssistantId) -> StoreResult<Option<Tenant>> {
        Ok(self
            .lock()
            .tenants
            .values()
            .find(|t| t.config.vapi_assistant_ids.contains(id))
            .cloned())
    }

    async fn tenant_by_sms_number(&self, number: &PhoneNumber) -> StoreResult<Option<Tenant>> {
        let s = self.lock();
        let id = s
            .sms
            .iter()
            .find(|(_, a)| a.inbound_numbers().contains(&number))
            .map(|(id, _)| *id);
        Ok(id.and_then(|id| s.tenants.get(&id).cloned()))
    }

    async fn tenant_by_messaging_service(&self, sid: &str) -> StoreResult<Option<Tenant>> {
        let s = self.lock();
        let id = s
            .sms
            .iter()
            .find(|(_, a)| {
                matches!(&a.sender, SmsSender::MessagingService { sid: mine, .. } if mine == sid)
            })
            .map(|(id, _)| *id);
        Ok(id.and_then(|id| s.tenants.get(&id).cloned()))
    }

    async fn is_clinic_texting_number(&self, number: &PhoneNumber) -> StoreResult<bool> {
        Ok(self
            .lock()
            .sms
            .values()
            .any(|a| a.inbound_numbers().contains(&number)))
    }

    async fn sms_account(&self, id: TenantId) -> StoreResult<Option<SmsAccount>> {
        Ok(self.lock().sms.get(&id).cloned())
    }

    async fn tenants_by_account_sid(&self, account_sid: &str) -> StoreResult<Vec<TenantId>> {
        let s = self.lock();
        let mut ids: Vec<TenantId> = s
            .sms
            .iter()
            .filter(|(_, a)| a.account_sid == account_sid)
            .map(|(id, _)| *id)
            .collect();
        ids.sort();
        Ok(ids)
    }

    async fn set_sms_health(&self, id: TenantId, health: &SmsHealth) -> StoreResult<()> {
        let mut s = self.lock();
        let t = s.tenants.get_mut(&id).ok_or(StoreError::NotFound)?;
        t.sms_health = health.clone();
        Ok(())
    }
}

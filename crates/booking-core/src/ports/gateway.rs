//! The port texts leave through: a clinic's own SMS account.

use async_trait::async_trait;
use jiff::Timestamp;

use crate::outbox::MessageStatus;
use crate::phone::PhoneNumber;
use crate::tenant::SmsAccount;

/// A text to send now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmsRequest {
    pub to: PhoneNumber,
    pub body: String,
}

/// A message found at the gateway by reconciliation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SentSms {
    pub sid: crate::ids::MessageSid,
    pub status: MessageStatus,
}

/// Every way a send can end, as far as retrying goes (DESIGN.md §4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SendOutcome {
    Accepted {
        sid: crate::ids::MessageSid,
        status: MessageStatus,
    },
    /// Nothing was sent (429, connection refused, DNS): safe to retry.
    RetrySafe {
        code: Option<u32>,
        message: String,
        retry_after: Option<jiff::SignedDuration>,
    },
    /// It may have been sent (5xx, timeout after the request went out): reconcile first.
    Ambiguous { message: String },
    /// Never retry. 20003 means the tenant's credentials are wrong.
    Permanent { code: Option<u32>, message: String },
}

/// Sends texts through a tenant's own account.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait SmsGateway: Send + Sync {
    async fn send(&self, account: &SmsAccount, request: &SmsRequest) -> SendOutcome;
    /// Looks for a message already sent to `to` from the account's sender since `since` with this
    /// exact body. `Err` is a message about why the gateway could not be asked.
    async fn find_sent(
        &self,
        account: &SmsAccount,
        to: &PhoneNumber,
        since: Timestamp,
        body: &str,
    ) -> Result<Option<SentSms>, String>;
}

//! The SMS gateway the worker uses: Twilio, except for the one account that a local stand-in
//! serves (`cargo xtask dev`), so that the stand-in can never receive a real tenant's texts.

use async_trait::async_trait;
use booking_core::PhoneNumber;
use booking_core::ports::{SendOutcome, SentSms, SmsGateway, SmsRequest};
use booking_core::tenant::SmsAccount;
use booking_twilio::TwilioClient;
use jiff::Timestamp;

pub struct RoutedGateway {
    pub twilio: TwilioClient,
    /// The stand-in and the account sid it serves.
    pub standin: Option<(TwilioClient, String)>,
}

impl RoutedGateway {
    fn pick(&self, account: &SmsAccount) -> &TwilioClient {
        match &self.standin {
            Some((client, sid)) if *sid == account.account_sid => client,
            _ => &self.twilio,
        }
    }
}

#[async_trait]
impl SmsGateway for RoutedGateway {
    async fn send(&self, account: &SmsAccount, request: &SmsRequest) -> SendOutcome {
        self.pick(account).send_sms(account, request).await
    }

    async fn find_sent(
        &self,
        account: &SmsAccount,
        to: &PhoneNumber,
        since: Timestamp,
        body: &str,
    ) -> Result<Option<SentSms>, String> {
        self.pick(account)
            .find_sent_sms(account, to, since, body)
            .await
    }
}

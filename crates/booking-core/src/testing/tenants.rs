//! Clinics: their settings, numbers and texting accounts.

use crate::ids::AssistantId;
use crate::ports::{SmsAccountChange, Store, StoreError};
use crate::tenant::{ClinicName, KeywordReplies, SmsHealth, SmsSender};
use crate::testing::{
    create_tenant, join2, random_phone, random_tenant_id, sms_account, tenant_config,
};

pub async fn tenants_round_trip<S: Store + ?Sized>(store: &S) {
    let config = tenant_config("Smile Dental");
    let account = sms_account();
    let id = random_tenant_id();
    let t = store
        .create_tenant(id, &config, Some(&account))
        .await
        .expect("create_tenant");
    check!(
        "tenants_round_trip",
        t.id == id && t.config == config,
        "created tenant differs"
    );
    check!(
        "tenants_round_trip",
        t.sms_health == SmsHealth::Ok,
        "health with an account: {:?}",
        t.sms_health
    );
    let got = store.tenant(id).await.expect("tenant");
    check!(
        "tenants_round_trip",
        got.as_ref() == Some(&t),
        "tenant() differs"
    );
    let number = &config.called_numbers[0].number;
    let by_number = store
        .tenant_by_called_number(number)
        .await
        .expect("by number");
    check!(
        "tenants_round_trip",
        by_number.map(|t| t.id) == Some(id),
        "tenant_by_called_number"
    );
    let vapi = config.called_numbers[0]
        .vapi_phone_number_id
        .clone()
        .expect("vapi id");
    let by_vapi = store
        .tenant_by_voice_line_id(&vapi)
        .await
        .expect("by vapi id");
    check!(
        "tenants_round_trip",
        by_vapi.map(|t| t.id) == Some(id),
        "tenant_by_voice_line_id"
    );
    let assistant = config.vapi_assistant_ids[0].clone();
    let by_assistant = store
        .tenant_by_assistant_id(&assistant)
        .await
        .expect("by assistant id");
    check!(
        "tenants_round_trip",
        by_assistant.map(|t| t.id) == Some(id),
        "tenant_by_assistant_id"
    );
    check!(
        "tenants_round_trip",
        store
            .tenant_by_assistant_id(&AssistantId::parse("asst-nobody").expect("valid"))
            .await
            .expect("by assistant id")
            .is_none(),
        "an unknown assistant id found a tenant"
    );
    let SmsSender::From(from) = &account.sender else {
        unreachable!()
    };
    let by_sms = store
        .tenant_by_sms_number(from)
        .await
        .expect("by sms number");
    check!(
        "tenants_round_trip",
        by_sms.map(|t| t.id) == Some(id),
        "tenant_by_sms_number"
    );
    check!(
        "tenants_round_trip",
        store.sms_account(id).await.expect("sms_account").as_ref() == Some(&account),
        "sms_account does not round-trip"
    );
    // The countries codes may go to round-trip, and empty again means the clinic's own.
    let mut abroad = config.clone();
    abroad.otp_allowed_countries = vec![
        crate::country::Country::parse("US").expect("US"),
        crate::country::Country::parse("CA").expect("CA"),
    ];
    let updated = store
        .update_tenant(id, &abroad, SmsAccountChange::Keep)
        .await
        .expect("update_tenant");
    let read = store.tenant(id).await.expect("tenant").expect("exists");
    check!(
        "tenants_round_trip",
        updated.config == abroad && read.config == abroad,
        "otp_allowed_countries does not round-trip: {:?}",
        read.config.otp_allowed_countries
    );
    let back = store
        .update_tenant(id, &config, SmsAccountChange::Keep)
        .await
        .expect("update_tenant");
    check!(
        "tenants_round_trip",
        back.config == config,
        "otp_allowed_countries not cleared"
    );
    check!(
        "tenants_round_trip",
        store
            .tenants_by_account_sid(&account.account_sid)
            .await
            .expect("by sid")
            == vec![id],
        "tenants_by_account_sid"
    );
    check!(
        "tenants_round_trip",
        store
            .tenant_by_called_number(&random_phone())
            .await
            .expect("by number")
            .is_none(),
        "an unknown number found a tenant"
    );
    check!(
        "tenants_round_trip",
        store
            .list_tenants()
            .await
            .expect("list")
            .iter()
            .any(|t| t.id == id),
        "list_tenants misses the tenant"
    );

    // Another tenant cannot take the same called number.
    let mut clash = tenant_config("Other Clinic");
    clash.called_numbers = config.called_numbers.clone();
    let r = store.create_tenant(random_tenant_id(), &clash, None).await;
    check!(
        "tenants_round_trip",
        matches!(r, Err(StoreError::Duplicate(_))),
        "duplicate number: {r:?}"
    );
    // ... nor the same Vapi phone-number id on a number of its own ...
    let mut clash = tenant_config("Other Clinic");
    clash.called_numbers[0].vapi_phone_number_id =
        config.called_numbers[0].vapi_phone_number_id.clone();
    let r = store.create_tenant(random_tenant_id(), &clash, None).await;
    check!(
        "tenants_round_trip",
        matches!(&r, Err(StoreError::Duplicate(w)) if w.contains("phone number id")),
        "duplicate Vapi phone number id: {r:?}"
    );
    // ... nor the same Vapi assistant, on create or on update.
    let mut clash = tenant_config("Other Clinic");
    clash.vapi_assistant_ids = config.vapi_assistant_ids.clone();
    let r = store.create_tenant(random_tenant_id(), &clash, None).await;
    check!(
        "tenants_round_trip",
        matches!(&r, Err(StoreError::Duplicate(w)) if w.contains("assistant")),
        "duplicate assistant id: {r:?}"
    );
    let other = tenant_config("Other Clinic");
    let other_id = random_tenant_id();
    store
        .create_tenant(other_id, &other, None)
        .await
        .expect("create other");
    let mut clash = other.clone();
    clash.vapi_assistant_ids.push(assistant.clone());
    let r = store
        .update_tenant(other_id, &clash, SmsAccountChange::Keep)
        .await;
    check!(
        "tenants_round_trip",
        matches!(&r, Err(StoreError::Duplicate(w)) if w.contains("assistant")),
        "assistant id claimed on update: {r:?}"
    );
    check!(
        "tenants_round_trip",
        store
            .tenant_by_assistant_id(&assistant)
            .await
            .expect("by assistant id")
            .map(|t| t.id)
            == Some(id),
        "a refused claim moved the assistant id"
    );

    // Refused credentials, then new ones: the health is cleared.
    let paused = SmsHealth::NeedsAttention {
        code: 20003,
        message: "Authenticate".into(),
    };
    store
        .set_sms_health(id, &paused)
        .await
        .expect("set_sms_health");
    let kept = store
        .update_tenant(id, &config, SmsAccountChange::Keep)
        .await
        .expect("update keep");
    check!(
        "tenants_round_trip",
        kept.sms_health == paused,
        "Keep changed the health: {:?}",
        kept.sms_health
    );
    let mut renamed = config.clone();
    renamed.name = ClinicName::parse("Smile Dental & Co").expect("valid");
    let new_account = sms_account();
    let updated = store
        .update_tenant(id, &renamed, SmsAccountChange::Set(new_account.clone()))
        .await
        .expect("update set");
    check!(
        "tenants_round_trip",
        updated.config.name == renamed.name,
        "config not replaced"
    );
    check!(
        "tenants_round_trip",
        updated.sms_health == SmsHealth::Ok,
        "new credentials kept the health: {:?}",
        updated.sms_health
    );
    check!(
        "tenants_round_trip",
        store.sms_account(id).await.expect("sms_account") == Some(new_account),
        "new credentials not stored"
    );
    store
        .update_tenant(id, &renamed, SmsAccountChange::Clear)
        .await
        .expect("update clear");
    check!(
        "tenants_round_trip",
        store.sms_account(id).await.expect("sms_account").is_none(),
        "Clear kept the credentials"
    );
    let missing = store
        .update_tenant(
            random_tenant_id(),
            &tenant_config("Nobody"),
            SmsAccountChange::Keep,
        )
        .await;
    check!(
        "tenants_round_trip",
        missing == Err(StoreError::NotFound),
        "update of a missing tenant: {missing:?}"
    );
}

/// A sender number, a Messaging Service and its numbers belong to one tenant: a second claim is
/// `Duplicate` and changes nothing; an alert number is never a texting number; inbound texts
/// route by any of them.
pub async fn texting_numbers_belong_to_one_tenant<S: Store + ?Sized>(store: &S) {
    const NAME: &str = "texting_numbers_belong_to_one_tenant";
    let a = create_tenant(store, "Owner Clinic").await;
    let a_account = store
        .sms_account(a.id)
        .await
        .expect("account")
        .expect("set");
    let SmsSender::From(a_number) = a_account.sender.clone() else {
        unreachable!()
    };
    let service_sid = format!("MG{}", uuid::Uuid::new_v4().simple());
    let service_number = random_phone();

    // B claims A's sender number: refused, B not created.
    let b_id = random_tenant_id();
    let mut copy = sms_account();
    copy.sender = SmsSender::From(a_number.clone());
    let r = store
        .create_tenant(b_id, &tenant_config("Copycat"), Some(&copy))
        .await;
    check!(
        NAME,
        matches!(r, Err(StoreError::Duplicate(_))),
        "create with A's sender: {r:?}"
    );
    check!(
        NAME,
        store.tenant(b_id).await.expect("read").is_none(),
        "B was saved"
    );

    // B sends through a Messaging Service with its own number.
    let mut service = sms_account();
    service.sender = SmsSender::MessagingService {
        sid: service_sid.clone(),
        numbers: vec![service_number.clone()],
    };
    service.keyword_replies = KeywordReplies::Clinic;
    let b = store
        .create_tenant(b_id, &tenant_config("Service Clinic"), Some(&service))
        .await
        .expect("B with a Messaging Service");
    let stored = store
        .sms_account(b.id)
        .await
        .expect("account")
        .expect("set");
    check!(NAME, stored == service, "round trip: {stored:?}");
    for (what, found) in [
        (
            "service number",
            store.tenant_by_sms_number(&service_number).await,
        ),
        (
            "service sid",
            store.tenant_by_messaging_service(&service_sid).await,
        ),
    ] {
        let found = found.expect("lookup").map(|t| t.id);
        check!(NAME, found == Some(b.id), "by {what}: {found:?}");
    }
    check!(
        NAME,
        store
            .tenant_by_sms_number(&a_number)
            .await
            .expect("lookup")
            .map(|t| t.id)
            == Some(a.id),
        "A's number routes to A"
    );
    for (n, want) in [
        (&a_number, true),
        (&service_number, true),
        (&random_phone(), false),
    ] {
        let got = store.is_clinic_texting_number(n).await.expect("lookup");
        check!(NAME, got == want, "is_clinic_texting_number({n}) = {got}");
    }

    // C claims B's service, or A's number as a service number: refused.
    let c = create_tenant(store, "Third Clinic").await;
    let c_before = store.sms_account(c.id).await.expect("account");
    for sender in [
        SmsSender::MessagingService {
            sid: service_sid.clone(),
            numbers: Vec::new(),
        },
        SmsSender::MessagingService {
            sid: format!("MG{}", uuid::Uuid::new_v4().simple()),
            numbers: vec![a_number.clone()],
        },
        SmsSender::From(service_number.clone()),
    ] {
        let mut claim = sms_account();
        claim.sender = sender.clone();
        let r = store
            .update_tenant(c.id, &c.config, SmsAccountChange::Set(claim))
            .await;
        check!(
            NAME,
            matches!(r, Err(StoreError::Duplicate(_))),
            "C claims {sender:?}: {r:?}"
        );
    }
    check!(
        NAME,
        store.sms_account(c.id).await.expect("account") == c_before,
        "a refused claim changed C's account"
    );

    // An alert number that a clinic texts from (its own or another's): refused.
    for n in [&a_number, &service_number] {
        let mut config = a.config.clone();
        config.alert_numbers = vec![n.clone()];
        let r = store
            .update_tenant(a.id, &config, SmsAccountChange::Keep)
            .await;
        check!(
            NAME,
            matches!(r, Err(StoreError::Duplicate(_))),
            "alert {n}: {r:?}"
        );
    }
    check!(
        NAME,
        store.tenant(a.id).await.expect("read").expect("A").config == a.config,
        "a refused alert number was saved"
    );
    // And a texting number that is a clinic's alert number.
    let mut claim = sms_account();
    claim.sender = SmsSender::From(a.config.alert_numbers[0].clone());
    let r = store
        .update_tenant(c.id, &c.config, SmsAccountChange::Set(claim))
        .await;
    check!(
        NAME,
        matches!(r, Err(StoreError::Duplicate(_))),
        "sender = A's alert number: {r:?}"
    );

    // B gives its service up: its numbers are free again.
    store
        .update_tenant(b.id, &b.config, SmsAccountChange::Clear)
        .await
        .expect("clear");
    check!(
        NAME,
        !store
            .is_clinic_texting_number(&service_number)
            .await
            .expect("lookup"),
        "a cleared account still holds its numbers"
    );
}

/// One clinic adds X as an alert number while another claims X as its texting number, at the same
/// time: never both.
pub async fn alert_and_texting_number_race<S: Store + ?Sized>(store: &S) {
    const NAME: &str = "alert_and_texting_number_race";
    let a = create_tenant(store, "Alerting Clinic").await;
    let b = create_tenant(store, "Texting Clinic").await;
    for _ in 0..10 {
        let x = random_phone();
        let mut config = a.config.clone();
        config.alert_numbers = vec![x.clone()];
        let mut claim = sms_account();
        claim.sender = SmsSender::From(x.clone());
        let (alert, texting) = join2(
            store.update_tenant(a.id, &config, SmsAccountChange::Keep),
            store.update_tenant(b.id, &b.config, SmsAccountChange::Set(claim)),
        )
        .await;
        check!(
            NAME,
            !(alert.is_ok() && texting.is_ok()),
            "{x} became both an alert number and a texting number"
        );
        for r in [alert.map(|_| ()), texting.map(|_| ())] {
            check!(
                NAME,
                r.is_ok() || matches!(r, Err(StoreError::Duplicate(_))),
                "{r:?}"
            );
        }
    }
}

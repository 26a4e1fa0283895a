use super::*;

#[tokio::test]
async fn refused_credentials_pause_the_tenant_without_spinning() {
    let h = harness().await;
    let first = h.queue(MessageKind::Confirmation, &random_phone()).await;
    let second = h.queue(MessageKind::Reminder, &random_phone()).await;
    let mut gw = MockSmsGateway::new();
    gw.expect_send()
        .times(1)
        .returning(|_, _| SendOutcome::Permanent {
            code: Some(20003),
            message: "Authenticate".into(),
        });
    let d = h.dispatcher(gw, config());
    let report = d.step().await.unwrap();
    assert_eq!((report.claimed, report.deferred), (2, 2), "{report:?}");
    let t = h.store.tenant(h.tenant.id).await.unwrap().unwrap();
    assert_eq!(
        t.sms_health,
        SmsHealth::NeedsAttention {
            code: 20003,
            message: "Authenticate".into()
        }
    );
    for id in [first, second] {
        let m = h.get(id).await;
        assert_eq!(m.status, MessageStatus::Pending);
        assert!(m.error_message.unwrap().contains("20003"));
    }
    // Nothing of that tenant is claimed until the credentials change.
    h.clock.advance(SignedDuration::from_hours(1));
    assert!(d.step().await.unwrap().is_idle());
}

#[tokio::test]
async fn other_permanent_errors_fail_with_twilios_code() {
    let h = harness().await;
    let id = h.queue(MessageKind::Confirmation, &random_phone()).await;
    let mut gw = MockSmsGateway::new();
    gw.expect_send()
        .times(1)
        .returning(|_, _| SendOutcome::Permanent {
            code: Some(21211),
            message: "Invalid 'To' Phone Number".into(),
        });
    let d = h.dispatcher(gw, config());
    assert_eq!(d.step().await.unwrap().failed, 1);
    let m = h.get(id).await;
    assert_eq!(
        (m.status, m.error_code),
        (MessageStatus::Failed, Some(21211))
    );
    assert_eq!(
        m.error_message.as_deref(),
        Some("Invalid 'To' Phone Number")
    );
    h.clock.advance(SignedDuration::from_hours(24));
    assert!(d.step().await.unwrap().is_idle());
}

#[tokio::test]
async fn opted_out_callers_get_nothing_but_the_clinic_still_gets_alerts() {
    let h = harness().await;
    let caller = random_phone();
    h.store
        .set_opted_out(h.tenant.id, &caller, true, base_time())
        .await
        .unwrap();
    let to_caller = h.queue(MessageKind::Reminder, &caller).await;
    let alert = h.queue(MessageKind::HotLead, &caller).await;
    let mut gw = MockSmsGateway::new();
    gw.expect_send()
        .withf(|_, r| r.body == "hot_lead text")
        .times(1)
        .returning(|_, _| accepted("SMalert"));
    let report = h.dispatcher(gw, config()).step().await.unwrap();
    assert_eq!((report.suppressed, report.sent), (1, 1), "{report:?}");
    let m = h.get(to_caller).await;
    assert_eq!(m.status, MessageStatus::Suppressed);
    assert!(m.error_message.unwrap().contains("opted out"));
    assert_eq!(h.get(alert).await.status, MessageStatus::Queued);
}

#[tokio::test]
async fn without_an_account_messages_wait_then_fail_and_say_why() {
    let store = Arc::new(MemoryStore::new());
    let tenant = store
        .create_tenant(
            crate::testing::random_tenant_id(),
            &crate::testing::tenant_config("No SMS"),
            None,
        )
        .await
        .unwrap();
    let h = Harness {
        store,
        clock: Arc::new(ManualClock::new(base_time())),
        tenant,
    };
    let id = h.queue(MessageKind::Confirmation, &random_phone()).await;
    let mut gw = MockSmsGateway::new();
    gw.expect_send().never();
    let d = h.dispatcher(gw, config());
    assert_eq!(d.step().await.unwrap().deferred, 1);
    let m = h.get(id).await;
    assert_eq!(m.status, MessageStatus::Pending);
    assert_eq!(m.due_at, base_time() + config().no_account_retry);
    assert!(m.error_message.unwrap().contains("no SMS account"));
    h.clock
        .advance(config().give_up_after + SignedDuration::from_mins(1));
    assert_eq!(d.step().await.unwrap().failed, 1);
    let m = h.get(id).await;
    assert_eq!(m.status, MessageStatus::Failed);
    assert!(m.error_message.unwrap().contains("no SMS account"));
}

#[tokio::test]
async fn a_stale_code_is_not_sent() {
    let h = harness().await;
    let id = h.queue(MessageKind::Otp, &random_phone()).await;
    h.clock.advance(SignedDuration::from_mins(11));
    let mut gw = MockSmsGateway::new();
    gw.expect_send().never();
    assert_eq!(h.dispatcher(gw, config()).step().await.unwrap().failed, 1);
    assert_eq!(h.get(id).await.status, MessageStatus::Failed);
}

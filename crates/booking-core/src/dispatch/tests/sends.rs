use super::*;

#[tokio::test]
async fn sends_a_due_message_once_to_its_recipient() {
    let h = harness().await;
    let to = random_phone();
    let id = h.queue(MessageKind::Confirmation, &to).await;
    let mut gw = MockSmsGateway::new();
    let expected = to.clone();
    let account = h.store.sms_account(h.tenant.id).await.unwrap().unwrap();
    gw.expect_send()
        .withf(move |a, r| *a == account && r.to == expected && r.body == "confirmation text")
        .times(1)
        .returning(|_, _| accepted("SM0001"));
    gw.expect_find_sent().never();
    let d = h.dispatcher(gw, config());
    let report = d.step().await.unwrap();
    assert_eq!((report.claimed, report.sent), (1, 1), "{report:?}");
    let m = h.get(id).await;
    assert_eq!(m.status, MessageStatus::Queued);
    assert_eq!(m.twilio_sid.unwrap().as_str(), "SM0001");
    assert_eq!(m.attempts, 1);
    h.clock.advance(SignedDuration::from_hours(1));
    let report = d.step().await.unwrap();
    assert!(report.is_idle(), "{report:?}");
}

#[tokio::test]
async fn a_lost_claim_is_reconciled_and_not_sent_again() {
    let h = harness().await;
    let id = h.queue(MessageKind::Confirmation, &random_phone()).await;
    // Another worker claimed it, (maybe) sent it, and died.
    let now = h.clock.now();
    h.store
        .claim_due(now, 10, now + SignedDuration::from_secs(60), "dead")
        .await
        .unwrap();
    h.clock.advance(SignedDuration::from_secs(61));
    let mut gw = MockSmsGateway::new();
    gw.expect_find_sent()
        .withf(move |_, _, since, body| *since <= now && body == "confirmation text")
        .times(1)
        .returning(|_, _, _, _| {
            Ok(Some(SentSms {
                sid: MessageSid::parse("SMfound").unwrap(),
                status: MessageStatus::Sent,
            }))
        });
    gw.expect_send().never();
    let report = h.dispatcher(gw, config()).step().await.unwrap();
    assert_eq!(report.reconciled, 1, "{report:?}");
    let m = h.get(id).await;
    assert_eq!(
        (m.status, m.twilio_sid.unwrap().as_str()),
        (MessageStatus::Sent, "SMfound")
    );
}

#[tokio::test]
async fn a_lost_claim_not_found_at_the_gateway_is_sent() {
    let h = harness().await;
    let id = h.queue(MessageKind::Confirmation, &random_phone()).await;
    let now = h.clock.now();
    h.store
        .claim_due(now, 10, now + SignedDuration::from_secs(60), "dead")
        .await
        .unwrap();
    h.clock.advance(SignedDuration::from_secs(61));
    let mut gw = MockSmsGateway::new();
    let mut seq = mockall::Sequence::new();
    gw.expect_find_sent()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _, _| Ok(None));
    gw.expect_send()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| accepted("SMnew"));
    let report = h.dispatcher(gw, config()).step().await.unwrap();
    assert_eq!(report.sent, 1, "{report:?}");
    assert_eq!(h.get(id).await.twilio_sid.unwrap().as_str(), "SMnew");
}

#[tokio::test]
async fn an_ambiguous_send_is_reconciled_before_any_resend() {
    let h = harness().await;
    let id = h.queue(MessageKind::Confirmation, &random_phone()).await;
    let mut gw = MockSmsGateway::new();
    gw.expect_send()
        .times(1)
        .returning(|_, _| SendOutcome::Ambiguous {
            message: "502 Bad Gateway".into(),
        });
    gw.expect_find_sent().times(1).returning(|_, _, _, _| {
        Ok(Some(SentSms {
            sid: MessageSid::parse("SMwas").unwrap(),
            status: MessageStatus::Queued,
        }))
    });
    let d = h.dispatcher(gw, config());
    let report = d.step().await.unwrap();
    assert_eq!(report.ambiguous, 1, "{report:?}");
    let m = h.get(id).await;
    assert_eq!(m.status, MessageStatus::Ambiguous);
    assert_eq!(m.error_message.as_deref(), Some("502 Bad Gateway"));
    assert!(
        d.step().await.unwrap().is_idle(),
        "rechecked before its time"
    );
    h.clock.advance(config().ambiguous_recheck);
    let report = d.step().await.unwrap();
    assert_eq!(report.reconciled, 1, "{report:?}");
    assert_eq!(h.get(id).await.twilio_sid.unwrap().as_str(), "SMwas");
}

#[tokio::test]
async fn ambiguous_sends_back_off_like_retries() {
    let h = harness().await;
    let id = h.queue(MessageKind::Confirmation, &random_phone()).await;
    let mut gw = MockSmsGateway::new();
    gw.expect_send().returning(|_, _| SendOutcome::Ambiguous {
        message: "500 Internal Server Error".into(),
    });
    gw.expect_find_sent().returning(|_, _, _, _| Ok(None));
    let cfg = DispatchConfig {
        backoff_base: SignedDuration::from_mins(2),
        ambiguous_recheck: SignedDuration::from_secs(10),
        ..config()
    };
    let d = h.dispatcher(gw, cfg);
    // Backoff after n attempts: half to all of 2 min × 2^(n−1).
    for (attempt, at_least) in [(1, 60), (2, 120), (3, 240)] {
        let now = h.clock.now();
        let report = d.step().await.unwrap();
        assert_eq!(report.ambiguous, 1, "attempt {attempt}: {report:?}");
        let m = h.get(id).await;
        assert_eq!(m.attempts, attempt);
        let wait = m.due_at - now;
        assert!(
            wait >= SignedDuration::from_secs(at_least),
            "attempt {attempt}: rechecked after {wait:?}"
        );
        h.clock.advance(wait);
    }
}

#[tokio::test]
async fn a_failed_lookup_never_resends() {
    let h = harness().await;
    let id = h.queue(MessageKind::Confirmation, &random_phone()).await;
    let now = h.clock.now();
    h.store
        .claim_due(now, 10, now + SignedDuration::from_secs(60), "dead")
        .await
        .unwrap();
    h.clock.advance(SignedDuration::from_secs(61));
    let mut gw = MockSmsGateway::new();
    gw.expect_find_sent()
        .times(1)
        .returning(|_, _, _, _| Err("timeout".into()));
    gw.expect_send().never();
    let report = h.dispatcher(gw, config()).step().await.unwrap();
    assert_eq!(report.ambiguous, 1, "{report:?}");
    let m = h.get(id).await;
    assert_eq!(m.status, MessageStatus::Ambiguous);
    assert!(m.error_message.unwrap().contains("timeout"));
}

#[tokio::test]
async fn retry_safe_failures_back_off_then_fail() {
    let h = harness().await;
    let id = h.queue(MessageKind::Confirmation, &random_phone()).await;
    let mut gw = MockSmsGateway::new();
    gw.expect_send()
        .times(3)
        .returning(|_, _| SendOutcome::RetrySafe {
            code: Some(20429),
            message: "Too Many Requests".into(),
            retry_after: None,
        });
    gw.expect_find_sent().never();
    let cfg = DispatchConfig {
        max_attempts: 3,
        ..config()
    };
    let d = h.dispatcher(gw, cfg.clone());
    for attempt in 1..=2u32 {
        let before = h.clock.now();
        let report = d.step().await.unwrap();
        assert_eq!(report.retried, 1, "{report:?}");
        let m = h.get(id).await;
        assert_eq!(
            (m.status, m.attempts, m.error_code),
            (MessageStatus::Pending, attempt, Some(20429))
        );
        let full = cfg.backoff_base * (1 << (attempt - 1));
        let wait = m.due_at - before;
        assert!(
            wait >= full / 2 && wait <= full,
            "attempt {attempt}: waited {wait:?} of {full:?}"
        );
        assert!(
            d.step().await.unwrap().is_idle(),
            "retried before its backoff"
        );
        h.clock.set(m.due_at);
    }
    let report = d.step().await.unwrap();
    assert_eq!(report.failed, 1, "{report:?}");
    let m = h.get(id).await;
    assert_eq!(
        (m.status, m.error_code),
        (MessageStatus::Failed, Some(20429))
    );
    assert!(
        m.error_message
            .unwrap()
            .contains("gave up after 3 attempts")
    );
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let h = harness().await;
    let id = h.queue(MessageKind::Confirmation, &random_phone()).await;
    let mut gw = MockSmsGateway::new();
    gw.expect_send()
        .times(1)
        .returning(|_, _| SendOutcome::RetrySafe {
            code: Some(429),
            message: "slow down".into(),
            retry_after: Some(SignedDuration::from_mins(10)),
        });
    h.dispatcher(gw, config()).step().await.unwrap();
    assert_eq!(
        h.get(id).await.due_at,
        base_time() + SignedDuration::from_mins(10)
    );
}

#[test]
fn backoff_doubles_with_jitter_up_to_the_cap() {
    let store = Arc::new(MemoryStore::new());
    let d = Dispatcher::new(
        store,
        Arc::new(MockSmsGateway::new()),
        Arc::new(ManualClock::new(base_time())),
        Arc::new(SeededRandom::new(3)),
        config(),
    );
    let cfg = config();
    let mut seen_below_full = false;
    for attempts in 1..=20u32 {
        let full = (cfg.backoff_base * (1i32 << (attempts - 1).min(20))).min(cfg.backoff_cap);
        for _ in 0..20 {
            let b = d.backoff(attempts);
            assert!(
                b >= full / 2 && b <= full,
                "{attempts}: {b:?} not within [{:?}, {full:?}]",
                full / 2
            );
            seen_below_full |= b < full;
        }
    }
    assert!(seen_below_full, "no jitter");
    assert!(d.backoff(40) <= cfg.backoff_cap);
}

#[tokio::test]
async fn a_step_says_whether_it_left_due_messages_behind() {
    let h = harness().await;
    for _ in 0..3 {
        h.queue(MessageKind::Confirmation, &random_phone()).await;
    }
    let mut gw = MockSmsGateway::new();
    let mut n = 0;
    gw.expect_send().times(3).returning(move |_, _| {
        n += 1;
        accepted(&format!("SM{n:04}"))
    });
    let d = h.dispatcher(
        gw,
        DispatchConfig {
            batch: 2,
            ..config()
        },
    );
    let first = d.step().await.unwrap();
    assert_eq!(first.claimed, 2, "{first:?}");
    assert!(!first.drained(), "a full batch may have left some behind");
    let second = d.step().await.unwrap();
    assert_eq!(second.claimed, 1, "{second:?}");
    assert!(
        second.drained(),
        "fewer than a batch: everything due was taken"
    );
    assert!(d.step().await.unwrap().is_idle());
}

use super::*;

#[tokio::test]
async fn the_rate_limit_spaces_a_senders_messages() {
    let h = harness().await;
    let ids = [
        h.queue(MessageKind::Confirmation, &random_phone()).await,
        h.queue(MessageKind::Confirmation, &random_phone()).await,
        h.queue(MessageKind::Confirmation, &random_phone()).await,
    ];
    let mut gw = MockSmsGateway::new();
    gw.expect_send()
        .with(always(), always())
        .times(2)
        .returning(|_, _| accepted("SMrate"));
    let d = h.dispatcher(
        gw,
        DispatchConfig {
            per_sender_per_second: 1.0,
            per_sender_burst: 1,
            ..config()
        },
    );
    let report = d.step().await.unwrap();
    assert_eq!((report.sent, report.rate_limited), (1, 2), "{report:?}");
    let waiting: Vec<_> = {
        let mut v = Vec::new();
        for id in ids {
            v.push(h.get(id).await);
        }
        v.into_iter()
            .filter(|m| m.status == MessageStatus::Pending)
            .collect()
    };
    assert_eq!(waiting.len(), 2);
    assert!(
        waiting
            .iter()
            .all(|m| m.due_at > base_time()
                && m.due_at <= base_time() + SignedDuration::from_secs(1))
    );
    assert!(waiting.iter().all(|m| m.attempts == 0));
    h.clock.advance(SignedDuration::from_secs(1));
    let report = d.step().await.unwrap();
    assert_eq!((report.sent, report.rate_limited), (1, 1), "{report:?}");
}

#[test]
fn token_bucket_refills_with_the_clock() {
    let t0: Timestamp = base_time();
    let mut l = RateLimiter::new(2.0, 2);
    assert!(l.try_take("a", t0).is_ok());
    assert!(l.try_take("a", t0).is_ok());
    let wait = l.try_take("a", t0).unwrap_err();
    assert_eq!(wait, SignedDuration::from_millis(500));
    assert!(
        l.try_take("b", t0).is_ok(),
        "senders have their own buckets"
    );
    assert!(
        l.try_take("a", t0 + SignedDuration::from_millis(500))
            .is_ok()
    );
    assert!(
        l.try_take("a", t0 + SignedDuration::from_millis(500))
            .is_err()
    );
    let mut off = RateLimiter::new(0.0, 1);
    for _ in 0..100 {
        assert!(off.try_take("a", t0).is_ok());
    }
}

/// A gateway that counts the sends in flight at once and keeps the order it got them in.
#[derive(Default)]
struct Recording {
    in_flight: std::sync::atomic::AtomicUsize,
    most_at_once: std::sync::atomic::AtomicUsize,
    sent: Mutex<Vec<(String, String)>>,
}

#[async_trait::async_trait]
impl SmsGateway for Recording {
    async fn send(&self, _: &SmsAccount, request: &SmsRequest) -> SendOutcome {
        use std::sync::atomic::Ordering::SeqCst;
        let now = self.in_flight.fetch_add(1, SeqCst) + 1;
        self.most_at_once.fetch_max(now, SeqCst);
        // Give the other lanes their turn while this send is "on the wire".
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        let n = {
            let mut sent = lock(&self.sent);
            sent.push((request.to.as_str().to_owned(), request.body.clone()));
            sent.len()
        };
        self.in_flight.fetch_sub(1, SeqCst);
        accepted(&format!("SM{n:032}"))
    }

    async fn find_sent(
        &self,
        _: &SmsAccount,
        _: &PhoneNumber,
        _: Timestamp,
        _: &str,
    ) -> Result<Option<SentSms>, String> {
        Ok(None)
    }
}

impl Harness {
    fn dispatcher_with(&self, gateway: Arc<Recording>, config: DispatchConfig) -> Dispatcher {
        Dispatcher::new(
            self.store.clone(),
            gateway,
            self.clock.clone(),
            Arc::new(SeededRandom::new(1)),
            config,
        )
    }

    async fn queue_body(&self, to: &PhoneNumber, body: &str) {
        let mut m = message(
            self.tenant.id,
            MessageKind::Confirmation,
            DedupeKey::test(MessageId::from_random_bytes(rand_bytes())),
            to,
            self.clock.now(),
        );
        m.body = body.into();
        self.store.enqueue(std::slice::from_ref(&m)).await.unwrap();
    }
}

#[tokio::test]
async fn different_recipients_are_sent_at_once_each_recipients_texts_in_order() {
    let h = harness().await;
    let people: Vec<PhoneNumber> = (0..6).map(|_| random_phone()).collect();
    for round in 0..3 {
        for (i, to) in people.iter().enumerate() {
            h.queue_body(to, &format!("person {i} text {round}")).await;
        }
        h.clock.advance(SignedDuration::from_secs(1));
    }
    let gateway = Arc::new(Recording::default());
    let d = h.dispatcher_with(
        gateway.clone(),
        DispatchConfig {
            concurrency: 4,
            ..config()
        },
    );
    let report = d.step().await.unwrap();
    assert_eq!((report.claimed, report.sent), (18, 18), "{report:?}");
    assert_eq!(
        gateway
            .most_at_once
            .load(std::sync::atomic::Ordering::SeqCst),
        4,
        "four recipients at a time"
    );
    let sent = lock(&gateway.sent).clone();
    assert_eq!(sent.len(), 18);
    for (i, to) in people.iter().enumerate() {
        let theirs: Vec<&str> = sent
            .iter()
            .filter(|(n, _)| n == to.as_str())
            .map(|(_, b)| b.as_str())
            .collect();
        let expected: Vec<String> = (0..3).map(|r| format!("person {i} text {r}")).collect();
        assert_eq!(
            theirs, expected,
            "each recipient's texts in the order queued"
        );
    }
    assert!(d.step().await.unwrap().is_idle());
}

#[tokio::test]
async fn one_recipients_texts_are_never_sent_at_once() {
    let h = harness().await;
    let to = random_phone();
    for i in 0..5 {
        h.queue_body(&to, &format!("text {i}")).await;
        h.clock.advance(SignedDuration::from_secs(1));
    }
    let gateway = Arc::new(Recording::default());
    let d = h.dispatcher_with(gateway.clone(), config());
    let report = d.step().await.unwrap();
    assert_eq!(report.sent, 5, "{report:?}");
    assert_eq!(
        gateway
            .most_at_once
            .load(std::sync::atomic::Ordering::SeqCst),
        1
    );
    let bodies: Vec<String> = lock(&gateway.sent).iter().map(|(_, b)| b.clone()).collect();
    assert_eq!(bodies, ["text 0", "text 1", "text 2", "text 3", "text 4"]);
}

#[tokio::test]
async fn release_gives_back_the_workers_claims() {
    let h = harness().await;
    h.queue(MessageKind::Confirmation, &random_phone()).await;
    let now = h.clock.now();
    h.store
        .claim_due(now, 10, now + SignedDuration::from_mins(5), "test-worker")
        .await
        .unwrap();
    let d = h.dispatcher(MockSmsGateway::new(), config());
    assert_eq!(d.release().await.unwrap(), 1);
    let mut gw = MockSmsGateway::new();
    gw.expect_send()
        .times(1)
        .returning(|_, _| accepted("SMback"));
    assert_eq!(h.dispatcher(gw, config()).step().await.unwrap().sent, 1);
}

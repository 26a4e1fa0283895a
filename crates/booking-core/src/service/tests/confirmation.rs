//! `send_confirmation_sms`.

use super::*;

#[tokio::test]
async fn confirmation_sms_reports_and_never_queues() {
    let h = harness().await;
    let c = h.caller();
    let id = h.book(&c, &tue(10, 0)).await;
    let before = h.messages().await.len();
    for _ in 0..5 {
        let out = h.service.send_confirmation_sms(&c.ctx, id).await.unwrap();
        assert_eq!(
            out,
            ConfirmationSmsOutcome::Status {
                appointment_id: id,
                sms_status: MessageStatus::Pending
            }
        );
    }
    assert_eq!(h.messages().await.len(), before);
    // Delivered, as Twilio reports it.
    let now = base_time();
    let claims = h
        .store
        .claim_due(now, 10, now + SignedDuration::from_secs(60), "w")
        .await
        .unwrap();
    let conf = claims
        .iter()
        .find(|c| c.message.dedupe_key == DedupeKey::confirmation(id))
        .unwrap();
    let sid = MessageSid::parse("SMconf").unwrap();
    h.store
        .record_delivery(
            conf,
            &DeliveryUpdate::Accepted {
                sid,
                status: MessageStatus::Queued,
            },
            now,
        )
        .await
        .unwrap();
    h.store
        .apply_status(h.tenant.id, "SMconf", MessageStatus::Delivered, None, now)
        .await
        .unwrap();
    let out = h.service.send_confirmation_sms(&c.ctx, id).await.unwrap();
    assert!(matches!(
        out,
        ConfirmationSmsOutcome::Status {
            sms_status: MessageStatus::Delivered,
            ..
        }
    ));
}

#[tokio::test]
async fn confirmation_sms_refuses_holds_strangers_and_nonsense() {
    let h = harness().await;
    let c = h.caller();
    let hold = h.reserve(&c, &tue(10, 0)).await;
    let out = h.service.send_confirmation_sms(&c.ctx, hold).await.unwrap();
    assert!(
        matches!(
            &out,
            ConfirmationSmsOutcome::Refused(ConfirmationSmsRefusal::OnlyHeld)
        ),
        "{out:?}"
    );
    let booked = h.book(&h.caller(), &tue(14, 0)).await;
    for id in [booked, BookingId::from_random_bytes([3; 16])] {
        let out = h.service.send_confirmation_sms(&c.ctx, id).await.unwrap();
        assert!(!out.ok(), "{id}: {out:?}");
    }
}

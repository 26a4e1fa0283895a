//! One clinic never reaches another's data.

use super::*;

#[tokio::test]
async fn another_clinics_caller_gets_nothing_from_our_ids() {
    let h = harness().await;
    let c = h.caller();
    let hold = h.reserve(&c, &tue(10, 0)).await;
    let booked = h.book(&h.calls_again(&c), &tue(14, 0)).await;
    let other = h
        .store
        .create_tenant(
            crate::testing::random_tenant_id(),
            &tenant_config("Other"),
            Some(&crate::testing::sms_account()),
        )
        .await
        .unwrap();
    // The same caller and call id, but the call reached the other clinic.
    let ctx = CallContext {
        tenant: other,
        call_id: c.ctx.call_id.clone(),
        caller: Some(c.phone.clone()),
    };
    assert!(!h.service.send_otp(&ctx, hold, None).await.unwrap().ok());
    assert!(
        !h.service
            .verify_otp(&ctx, hold, &attempt("123456"))
            .await
            .unwrap()
            .ok()
    );
    assert!(
        !h.service
            .send_confirmation_sms(&ctx, booked)
            .await
            .unwrap()
            .ok()
    );
    let out = h.cancel_by_phone(&ctx, Some(booked)).await;
    assert_eq!(
        out,
        CancelOutcome::NotFound {
            appointments: vec![]
        }
    );
    let out = h.reschedule_by_phone(&ctx, None, &tue(15, 0)).await;
    assert_eq!(
        out,
        RescheduleOutcome::NotFound {
            appointments: vec![]
        }
    );
    assert_eq!(h.status(booked).await, BookingStatus::Confirmed);
}

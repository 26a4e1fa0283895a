//! `send_otp` and `verify_otp`.

use super::*;

#[tokio::test]
async fn send_otp_texts_the_caller_id() {
    let h = harness().await;
    let c = h.caller();
    let hold = h.reserve(&c, &tue(10, 0)).await;
    let out = h.service.send_otp(&c.ctx, hold, None).await.unwrap();
    let SendOtpOutcome::Sent { sent_to, .. } = &out else {
        panic!("{out:?}")
    };
    assert_eq!(sent_to, &c.phone);
    let otps: Vec<_> = h
        .messages()
        .await
        .into_iter()
        .filter(|m| m.kind == MessageKind::Otp)
        .collect();
    assert_eq!(otps.len(), 1);
    assert_eq!(otps[0].to, c.phone);
    assert_eq!(otps[0].booking, Some(hold));
    assert_eq!(otps[0].due_at, base_time());
    assert!(otps[0].body.contains("Smile Dental"), "{}", otps[0].body);
    h.last_code(&c.phone).await;
}

#[tokio::test]
async fn send_otp_to_another_mobile() {
    let h = harness().await;
    let c = h.caller();
    let hold = h.reserve(&c, &tue(10, 0)).await;
    let other = random_phone();
    let out = h
        .service
        .send_otp(&c.ctx, hold, Some(other.clone()))
        .await
        .unwrap();
    assert!(
        matches!(&out, SendOtpOutcome::Sent { sent_to, .. } if *sent_to == other),
        "{out:?}"
    );
    // The confirmation goes to the number that proved itself.
    let code = h.last_code(&other).await;
    let v = h
        .service
        .verify_otp(&c.ctx, hold, &attempt(&code))
        .await
        .unwrap();
    assert!(v.ok(), "{v:?}");
    assert_eq!(
        h.by_key(&DedupeKey::confirmation(hold)).await.unwrap().to,
        other
    );
    assert_eq!(
        h.by_key(&DedupeKey::reminder(hold)).await.unwrap().to,
        other
    );
}

#[tokio::test]
async fn send_otp_refuses_bad_input_without_texting() {
    let h = harness().await;
    let c = h.caller();
    let hold = h.reserve(&c, &tue(10, 0)).await;
    let svc = &h.service;
    let made_up = BookingId::from_random_bytes([3; 16]);
    let out = svc.send_otp(&c.ctx, made_up, None).await.unwrap();
    assert!(matches!(out, SendOtpOutcome::Refused { .. }), "{out:?}");
    // Another caller on another call cannot use this hold.
    let out = svc.send_otp(&h.caller().ctx, hold, None).await.unwrap();
    assert!(matches!(out, SendOtpOutcome::Refused { .. }), "{out:?}");
    assert!(h.messages().await.is_empty());
}

#[tokio::test]
async fn send_otp_refuses_an_opted_out_number_and_a_clinic_that_cannot_text() {
    let h = harness().await;
    let c = h.caller();
    let hold = h.reserve(&c, &tue(10, 0)).await;
    h.store
        .set_opted_out(h.tenant.id, &c.phone, true, base_time())
        .await
        .unwrap();
    let out = h.service.send_otp(&c.ctx, hold, None).await.unwrap();
    assert!(
        matches!(
            &out,
            SendOtpOutcome::Refused(SendOtpRefusal::NotTexted(NotTexted::OptedOut))
        ),
        "{out:?}"
    );

    let mut ctx = h.caller().ctx;
    let hold = h
        .reserve(
            &Caller {
                ctx: ctx.clone(),
                phone: ctx.caller.clone().unwrap(),
            },
            &tue(14, 0),
        )
        .await;
    ctx.tenant.sms_health = SmsHealth::NeedsAttention {
        code: 20003,
        message: "Authenticate".into(),
    };
    let out = h.service.send_otp(&ctx, hold, None).await.unwrap();
    assert!(
        matches!(
            &out,
            SendOtpOutcome::Refused(SendOtpRefusal::NotTexted(NotTexted::ClinicCannotText))
        ),
        "{out:?}"
    );
    assert!(h.messages().await.is_empty());
}

#[tokio::test]
async fn send_otp_texts_only_the_countries_the_clinic_allows() {
    let h = harness().await;
    let c = h.caller();
    let hold = h.reserve(&c, &tue(10, 0)).await;
    // The clinic's numbers are American: by default codes go to the United States only.
    for abroad in [
        "+442079460958",
        "+14165550123",
        "+88216123456",
        "+18765550123",
    ] {
        let out = h
            .service
            .send_otp(&c.ctx, hold, Some(phone(abroad)))
            .await
            .unwrap();
        assert!(
            matches!(&out, SendOtpOutcome::Refused(SendOtpRefusal::NotTexted(NotTexted::CountryNotAllowed { countries })) if countries.iter().any(|c| c == "US")),
            "{abroad}: {out:?}"
        );
    }
    assert!(h.messages().await.is_empty());
    let mut ctx = c.ctx.clone();
    ctx.tenant.config.otp_allowed_countries = vec![
        crate::country::Country::parse("GB").unwrap(),
        crate::country::Country::parse("CA").unwrap(),
    ];
    for allowed in ["+442079460958", "+14165550123"] {
        let out = h
            .service
            .send_otp(&ctx, hold, Some(phone(allowed)))
            .await
            .unwrap();
        assert!(out.ok(), "{allowed}: {out:?}");
    }
    // Now the United States is not among them.
    let out = h.service.send_otp(&ctx, hold, None).await.unwrap();
    assert!(!out.ok(), "{out:?}");
    // A clinic with no number: the country of its time zone.
    ctx.tenant.config.otp_allowed_countries.clear();
    ctx.tenant.config.called_numbers.clear();
    ctx.tenant.config.zone = crate::tenant::ClinicZone::parse("Europe/London").unwrap();
    let codes = ctx.tenant.config.code_countries();
    assert_eq!(codes.iter().map(|c| c.as_str()).collect::<Vec<_>>(), ["GB"]);
}

#[tokio::test]
async fn send_otp_limits_per_number() {
    let h = harness().await;
    let c = h.caller();
    let hold = h.reserve(&c, &tue(10, 0)).await;
    for _ in 0..5 {
        let out = h.service.send_otp(&c.ctx, hold, None).await.unwrap();
        assert!(out.ok(), "{out:?}");
    }
    let out = h.service.send_otp(&c.ctx, hold, None).await.unwrap();
    assert_eq!(
        out,
        SendOtpOutcome::Limited {
            limit: SendLimit::PerNumber
        }
    );
    assert!(!out.ok());
    // Once the window has passed the number may be texted again, from another call (with a new
    // hold: the first one ran out).
    h.clock.advance(SignedDuration::from_mins(11));
    let again = h.calls_again(&c);
    let hold = h.reserve(&again, &tue(10, 0)).await;
    let out = h.service.send_otp(&again.ctx, hold, None).await.unwrap();
    assert!(out.ok(), "{out:?}");
}

#[tokio::test]
async fn send_otp_limits_per_call() {
    let h = harness_with(ServiceConfig {
        otp: OtpPolicy {
            per_number: RateWindow {
                max: 100,
                window: SignedDuration::from_mins(10),
            },
            ..OtpPolicy::default()
        },
        ..ServiceConfig::default()
    })
    .await;
    let c = h.caller();
    let hold = h.reserve(&c, &tue(10, 0)).await;
    for _ in 0..5 {
        assert!(h.service.send_otp(&c.ctx, hold, None).await.unwrap().ok());
    }
    let out = h.service.send_otp(&c.ctx, hold, None).await.unwrap();
    assert_eq!(
        out,
        SendOtpOutcome::Limited {
            limit: SendLimit::PerCall
        }
    );
}

#[tokio::test]
async fn send_otp_limits_distinct_numbers_per_call() {
    let h = harness().await;
    let c = h.caller();
    let hold = h.reserve(&c, &tue(10, 0)).await;
    let (n1, n2, n3) = (random_phone(), random_phone(), random_phone());
    for n in [&n1, &n2, &n3] {
        let out = h
            .service
            .send_otp(&c.ctx, hold, Some(n.clone()))
            .await
            .unwrap();
        assert!(out.ok(), "{out:?}");
    }
    let out = h
        .service
        .send_otp(&c.ctx, hold, Some(random_phone()))
        .await
        .unwrap();
    assert_eq!(
        out,
        SendOtpOutcome::Limited {
            limit: SendLimit::NumbersPerCall
        }
    );
    // A resend to the last number, or to the caller ID, is still allowed.
    assert!(
        h.service
            .send_otp(&c.ctx, hold, Some(n3.clone()))
            .await
            .unwrap()
            .ok()
    );
    assert!(h.service.send_otp(&c.ctx, hold, None).await.unwrap().ok());
}

#[tokio::test]
async fn send_otp_limits_per_tenant() {
    let h = harness_with(ServiceConfig {
        otp: OtpPolicy {
            per_tenant: RateWindow {
                max: 2,
                window: SignedDuration::from_hours(1),
            },
            ..OtpPolicy::default()
        },
        ..ServiceConfig::default()
    })
    .await;
    for (i, start) in [tue(9, 0), tue(11, 0), tue(13, 0)].iter().enumerate() {
        let c = h.caller();
        let hold = h.reserve(&c, start).await;
        let out = h.service.send_otp(&c.ctx, hold, None).await.unwrap();
        if i < 2 {
            assert!(out.ok(), "{out:?}");
        } else {
            assert_eq!(
                out,
                SendOtpOutcome::Limited {
                    limit: SendLimit::PerTenant
                }
            );
        }
    }
}

// --- verify_otp -----------------------------------------------------------------------------

#[tokio::test]
async fn verify_confirms_and_queues_the_confirmation_and_reminder_together() {
    let h = harness().await;
    let c = h.caller();
    // Wednesday: the reminder is a plain 24 hours before.
    let start = "2030-03-06T10:00:00-05:00";
    let hold = h.reserve(&c, start).await;
    h.service.send_otp(&c.ctx, hold, None).await.unwrap();
    let code = h.last_code(&c.phone).await;
    h.clock.advance(SignedDuration::from_mins(2));
    let out = h
        .service
        .verify_otp(&c.ctx, hold, &attempt(&code))
        .await
        .unwrap();
    let VerifyOutcome::Confirmed {
        appointment_id,
        status,
        ..
    } = &out
    else {
        panic!("{out:?}")
    };
    assert_eq!(*appointment_id, hold);
    assert_eq!(*status, BookingStatus::Confirmed);
    assert_eq!(h.status(hold).await, BookingStatus::Confirmed);
    let conf = h.by_key(&DedupeKey::confirmation(hold)).await.unwrap();
    assert_eq!(conf.kind, MessageKind::Confirmation);
    assert_eq!(conf.due_at, base_time() + SignedDuration::from_mins(2));
    assert_eq!(conf.to, c.phone);
    assert!(conf.body.contains("Smile Dental"));
    let rem = h.by_key(&DedupeKey::reminder(hold)).await.unwrap();
    assert_eq!(rem.kind, MessageKind::Reminder);
    assert_eq!(rem.due_at, ts(start) - SignedDuration::from_hours(24));
    assert_eq!(
        h.messages().await.len(),
        3,
        "the code, the confirmation and the reminder"
    );
}

#[tokio::test]
async fn verify_again_answers_the_same_and_queues_nothing() {
    let h = harness().await;
    let c = h.caller();
    let id = h.book(&c, &tue(10, 0)).await;
    let before = h.messages().await.len();
    for code in ["000000", "123456"] {
        let out = h
            .service
            .verify_otp(&c.ctx, id, &attempt(code))
            .await
            .unwrap();
        assert!(
            matches!(out, VerifyOutcome::Confirmed { appointment_id, .. } if appointment_id == id),
            "{out:?}"
        );
    }
    assert_eq!(h.messages().await.len(), before);
    assert_eq!(h.count_key(&DedupeKey::confirmation(id)).await, 1);
    assert_eq!(h.count_key(&DedupeKey::reminder(id)).await, 1);
}

#[tokio::test]
async fn concurrent_verifies_confirm_once() {
    let h = harness().await;
    let c = h.caller();
    let hold = h.reserve(&c, &tue(10, 0)).await;
    h.service.send_otp(&c.ctx, hold, None).await.unwrap();
    let code = h.last_code(&c.phone).await;
    let (a, b) = join2(
        h.service.verify_otp(&c.ctx, hold, &attempt(&code)),
        h.service.verify_otp(&c.ctx, hold, &attempt(&code)),
    )
    .await;
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(a.ok() && b.ok(), "{a:?} / {b:?}");
    assert_eq!(a, b);
    let id = hold;
    assert_eq!(h.count_key(&DedupeKey::confirmation(id)).await, 1);
    assert_eq!(h.count_key(&DedupeKey::reminder(id)).await, 1);
}

#[tokio::test]
async fn wrong_codes_count_down_then_the_code_is_dead() {
    let h = harness().await;
    let c = h.caller();
    let hold = h.reserve(&c, &tue(10, 0)).await;
    h.service.send_otp(&c.ctx, hold, None).await.unwrap();
    let right = h.last_code(&c.phone).await;
    let wrong = if right == "111111" {
        "222222"
    } else {
        "111111"
    };
    // Not a code at all: no try is used.
    let out = h
        .service
        .verify_otp(&c.ctx, hold, &attempt("1234"))
        .await
        .unwrap();
    assert!(
        matches!(
            &out,
            VerifyOutcome::Refused(VerifyRefusal::WrongLength { digits: 6 })
        ),
        "{out:?}"
    );
    for left in (0..5).rev() {
        let out = h
            .service
            .verify_otp(&c.ctx, hold, &attempt(wrong))
            .await
            .unwrap();
        assert_eq!(
            out,
            VerifyOutcome::WrongCode {
                attempts_left: left
            }
        );
    }
    let out = h
        .service
        .verify_otp(&c.ctx, hold, &attempt(&right))
        .await
        .unwrap();
    assert_eq!(out, VerifyOutcome::TooManyAttempts);
    // A new code works.
    h.service.send_otp(&c.ctx, hold, None).await.unwrap();
    let fresh = h.last_code(&c.phone).await;
    let out = h
        .service
        .verify_otp(&c.ctx, hold, &attempt(&fresh))
        .await
        .unwrap();
    assert!(out.ok(), "{out:?}");
}

#[tokio::test]
async fn a_new_code_replaces_the_old_one() {
    let h = harness().await;
    let c = h.caller();
    let hold = h.reserve(&c, &tue(10, 0)).await;
    h.service.send_otp(&c.ctx, hold, None).await.unwrap();
    let old = h.last_code(&c.phone).await;
    h.clock.advance(SignedDuration::from_secs(30));
    h.service.send_otp(&c.ctx, hold, None).await.unwrap();
    let new = h.last_code(&c.phone).await;
    if old != new {
        let out = h
            .service
            .verify_otp(&c.ctx, hold, &attempt(&old))
            .await
            .unwrap();
        assert!(matches!(out, VerifyOutcome::WrongCode { .. }), "{out:?}");
    }
    let out = h
        .service
        .verify_otp(&c.ctx, hold, &attempt(&new))
        .await
        .unwrap();
    assert!(out.ok(), "{out:?}");
}

#[tokio::test]
async fn expired_codes_and_holds() {
    let h = harness_with(ServiceConfig {
        otp: OtpPolicy {
            validity: SignedDuration::from_mins(3),
            ..OtpPolicy::default()
        },
        ..ServiceConfig::default()
    })
    .await;
    let c = h.caller();
    let hold = h.reserve(&c, &tue(10, 0)).await;
    let out = h
        .service
        .verify_otp(&c.ctx, hold, &attempt("123456"))
        .await
        .unwrap();
    assert_eq!(out, VerifyOutcome::NoCode);
    h.service.send_otp(&c.ctx, hold, None).await.unwrap();
    let code = h.last_code(&c.phone).await;
    h.clock.advance(SignedDuration::from_mins(3));
    let out = h
        .service
        .verify_otp(&c.ctx, hold, &attempt(&code))
        .await
        .unwrap();
    assert_eq!(out, VerifyOutcome::CodeExpired);
    h.service.send_otp(&c.ctx, hold, None).await.unwrap();
    let code = h.last_code(&c.phone).await;
    // The hold runs out (10 minutes after it was made) before this code does.
    h.clock.advance(SignedDuration::from_mins(7));
    let out = h
        .service
        .verify_otp(&c.ctx, hold, &attempt(&code))
        .await
        .unwrap();
    assert!(
        matches!(&out, VerifyOutcome::Refused(VerifyRefusal::HoldExpired)),
        "{out:?}"
    );
    let out = h.service.send_otp(&c.ctx, hold, None).await.unwrap();
    assert!(matches!(out, SendOtpOutcome::Refused { .. }), "{out:?}");
    assert_eq!(h.count_key(&DedupeKey::confirmation(hold)).await, 0);
}

#[test]
fn reminder_due_rule() {
    let now = base_time();
    let h = SignedDuration::from_hours;
    let m = SignedDuration::from_mins;
    let due = |start: Timestamp| reminder_due(now, start, h(24), h(1));
    // Far enough: 24 hours before.
    assert_eq!(due(now + h(48)), now + h(24));
    assert_eq!(due(now + h(25)), now + h(1));
    // Within a day: an hour after the confirmation.
    assert_eq!(due(now + h(24)), now + h(1));
    assert_eq!(due(now + h(3)), now + h(1));
    // Sooner than two hours: half-way there.
    assert_eq!(due(now + m(90)), now + m(45));
    assert_eq!(due(now + m(30)), now + m(15));
    for mins in [1, 10, 59, 61, 119, 121, 600, 1439, 1441, 1500, 5000] {
        let start = now + m(mins);
        let d = due(start);
        assert!(d > now && d < start, "{mins} min: {d}");
    }
}

#[tokio::test]
async fn a_booking_for_soon_gets_its_reminder_before_it() {
    let h = harness().await;
    let c = h.caller();
    // Today 12:00, three hours ahead.
    let id = h.book(&c, "2030-03-04T12:00:00-05:00").await;
    let rem = h.by_key(&DedupeKey::reminder(id)).await.unwrap();
    assert_eq!(rem.due_at, base_time() + SignedDuration::from_hours(1));
}

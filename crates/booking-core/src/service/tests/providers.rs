//! Providers in the calls: a preference, anyone free, who does what, the texts naming them.

use crate::provider::{ProviderServices, ProviderStatus};
use crate::tenant::ServiceName;
use crate::testing::{futures_join_all, provider};

use jiff::civil::date;

use super::*;

/// The harness's clinic with Dr. Lee (every service), Hygienist Maria (checkups only) and a
/// retired Sam.
async fn team() -> Harness {
    let h = harness().await;
    let mut config = h.tenant.config.clone();
    let mut maria = provider("Hygienist Maria");
    maria.services = ProviderServices::Only(vec![ServiceName::parse("Checkup").unwrap()]);
    let mut sam = provider("Sam");
    sam.status = ProviderStatus::Retired;
    config.providers = vec![provider("Dr. Lee"), maria, sam];
    let tenant = h
        .store
        .update_tenant(h.tenant.id, &config, crate::ports::SmsAccountChange::Keep)
        .await
        .unwrap();
    Harness { tenant, ..h }
}

fn reserve_with(start: &str, service: &str, who: Option<&str>) -> ReserveSlot {
    ReserveSlot {
        provider: who.map(str::to_owned),
        ..slot(&at(start), service, "Ada Lovelace", None)
    }
}

fn held_with(out: &ReserveOutcome) -> String {
    match out {
        ReserveOutcome::Held { provider, .. } => provider.to_string(),
        other => panic!("not held: {other:?}"),
    }
}

#[tokio::test]
async fn a_caller_asking_for_dr_lee_gets_dr_lee_and_the_texts_say_so() {
    let h = team().await;
    let c = h.caller();
    // Dr. Lee comes first in the clinic's order; asked for, Maria is booked all the same.
    let out = h
        .service
        .reserve_slot(&c.ctx, reserve_with(&tue(10, 0), "Checkup", Some("maria")))
        .await
        .unwrap();
    assert_eq!(held_with(&out), "Hygienist Maria");
    let c2 = h.caller();
    let out = h
        .service
        .reserve_slot(
            &c2.ctx,
            reserve_with(&tue(10, 0), "Checkup", Some("Doctor Lee")),
        )
        .await
        .unwrap();
    assert_eq!(held_with(&out), "Dr. Lee");
    let ReserveOutcome::Held { hold_id, .. } = out else {
        unreachable!()
    };
    // Confirmed: the confirmation and the reminder name Dr. Lee.
    h.service.send_otp(&c2.ctx, hold_id, None).await.unwrap();
    let code = h.last_code(&c2.phone).await;
    let v = h
        .service
        .verify_otp(&c2.ctx, hold_id, &attempt(&code))
        .await
        .unwrap();
    assert!(v.ok(), "{v:?}");
    for key in [
        DedupeKey::confirmation(hold_id),
        DedupeKey::reminder(hold_id),
    ] {
        let m = h.by_key(&key).await.expect("queued");
        assert!(m.body.contains("with Dr. Lee"), "{}", m.body);
    }
    // A third caller asking for Dr. Lee at 10:00 is told it was taken, though no one else does
    // checkups then either.
    let out = h
        .service
        .reserve_slot(
            &h.caller().ctx,
            reserve_with(&tue(10, 0), "Checkup", Some("Lee")),
        )
        .await
        .unwrap();
    assert!(matches!(out, ReserveOutcome::Taken { .. }), "{out:?}");
}

#[tokio::test]
async fn without_a_preference_the_next_free_provider_is_booked() {
    let h = team().await;
    let first = h
        .service
        .reserve_slot(&h.caller().ctx, reserve_with(&tue(11, 0), "Checkup", None))
        .await
        .unwrap();
    let second = h
        .service
        .reserve_slot(&h.caller().ctx, reserve_with(&tue(11, 0), "Checkup", None))
        .await
        .unwrap();
    let mut who = [held_with(&first), held_with(&second)];
    who.sort();
    assert_eq!(who, ["Dr. Lee", "Hygienist Maria"]);
    // Both busy at 11:00: the third caller is offered other times.
    let third = h
        .service
        .reserve_slot(&h.caller().ctx, reserve_with(&tue(11, 0), "Checkup", None))
        .await
        .unwrap();
    let ReserveOutcome::Taken { alternatives } = &third else {
        panic!("{third:?}")
    };
    assert!(!alternatives.is_empty());
    // And availability lists 11:00 no more, 11:30 with both.
    let out = h
        .service
        .check_availability(
            &h.caller().ctx,
            "Checkup",
            Some(date(2030, 3, 5)),
            None,
            None,
        )
        .await
        .unwrap();
    let AvailabilityOutcome::Available { slots, .. } = &out else {
        panic!("{out:?}")
    };
    assert!(
        slots.iter().all(|s| s.start != ts(&tue(11, 0))),
        "{slots:?}"
    );
}

#[tokio::test]
async fn three_callers_at_once_on_two_checkup_providers() {
    let h = team().await;
    let callers: Vec<Caller> = (0..3).map(|_| h.caller()).collect();
    let results = futures_join_all(callers.iter().map(|c| {
        h.service
            .reserve_slot(&c.ctx, reserve_with(&tue(14, 0), "Checkup", None))
    }))
    .await;
    let held = results
        .iter()
        .filter(|r| matches!(r, Ok(ReserveOutcome::Held { .. })))
        .count();
    let taken: Vec<_> = results
        .iter()
        .filter_map(|r| match r {
            Ok(ReserveOutcome::Taken { alternatives }) => Some(alternatives),
            _ => None,
        })
        .collect();
    assert_eq!(held, 2, "{results:?}");
    assert_eq!(taken.len(), 1, "{results:?}");
    assert!(!taken[0].is_empty(), "the one refused gets alternatives");
}

#[tokio::test]
async fn a_provider_who_does_not_do_the_service_is_never_offered_nor_booked() {
    let h = team().await;
    let out = h
        .service
        .check_availability(&h.caller().ctx, "Teeth Whitening", None, None, None)
        .await
        .unwrap();
    let AvailabilityOutcome::Available { slots, .. } = &out else {
        panic!("{out:?}")
    };
    assert!(!slots.is_empty());
    for s in slots {
        let names: Vec<&str> = s.providers.iter().map(|p| p.as_str()).collect();
        assert_eq!(names, ["Dr. Lee"], "{s:?}");
    }
    let out = h
        .service
        .check_availability(
            &h.caller().ctx,
            "Teeth Whitening",
            None,
            None,
            Some("Maria"),
        )
        .await
        .unwrap();
    assert!(
        matches!(
            &out,
            AvailabilityOutcome::Refused(AvailabilityRefusal::Provider(
                ProviderProblem::DoesNotPerform { .. }
            ))
        ),
        "{out:?}"
    );
    let out = h
        .service
        .reserve_slot(
            &h.caller().ctx,
            reserve_with(&tue(9, 0), "Teeth Whitening", Some("Hygienist Maria")),
        )
        .await
        .unwrap();
    assert!(
        matches!(
            out,
            ReserveOutcome::Refused(ReserveRefusal::Provider(
                ProviderProblem::DoesNotPerform { .. }
            ))
        ),
        "{out:?}"
    );
    // Dr. Lee busy at 9:00: a whitening without a preference is taken, never given to Maria.
    let lee = h
        .service
        .reserve_slot(
            &h.caller().ctx,
            reserve_with(&tue(9, 0), "Teeth Whitening", None),
        )
        .await
        .unwrap();
    assert_eq!(held_with(&lee), "Dr. Lee");
    let again = h
        .service
        .reserve_slot(
            &h.caller().ctx,
            reserve_with(&tue(9, 0), "Teeth Whitening", None),
        )
        .await
        .unwrap();
    assert!(matches!(again, ReserveOutcome::Taken { .. }), "{again:?}");
    // The retired provider and a stranger are unknown.
    for who in ["Sam", "Dr. Who"] {
        let out = h
            .service
            .reserve_slot(
                &h.caller().ctx,
                reserve_with(&tue(15, 0), "Checkup", Some(who)),
            )
            .await
            .unwrap();
        assert!(
            matches!(
                out,
                ReserveOutcome::Refused(ReserveRefusal::Provider(ProviderProblem::Unknown { .. }))
            ),
            "{who}: {out:?}"
        );
    }
}

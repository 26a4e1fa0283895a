use super::*;

#[test]
fn gsm_tables() {
    assert_eq!(BASIC_TABLE.chars().count(), 127);
    for c in BASIC_TABLE.chars() {
        assert_eq!(gsm_septets(c), Some(1), "{c:?}");
    }
    for c in EXTENSION_TABLE.chars() {
        assert_eq!(gsm_septets(c), Some(2), "{c:?}");
    }
    // Everything else is not GSM-7: check the whole of Latin-1 and a few others.
    for c in (0u32..0x2000)
        .filter_map(char::from_u32)
        .chain(['’', '“', '—', '…', '😀', '中', 'ë'])
    {
        if !BASIC_TABLE.contains(c) && !EXTENSION_TABLE.contains(c) {
            assert_eq!(gsm_septets(c), None, "{c:?}");
        }
    }
}

#[test]
fn gsm_7_segments() {
    let a = |n| "a".repeat(n);
    assert_eq!(segments(""), seg(Encoding::Gsm7, 1));
    assert_eq!(segments(&a(160)), seg(Encoding::Gsm7, 1));
    assert_eq!(segments(&a(161)), seg(Encoding::Gsm7, 2));
    assert_eq!(segments(&a(306)), seg(Encoding::Gsm7, 2));
    assert_eq!(segments(&a(307)), seg(Encoding::Gsm7, 3));
    assert_eq!(segments(&a(1600)), seg(Encoding::Gsm7, 11));
    // Extension characters count twice.
    assert_eq!(segments(&"{".repeat(80)), seg(Encoding::Gsm7, 1));
    assert_eq!(segments(&"€".repeat(81)), seg(Encoding::Gsm7, 2));
    assert_eq!(segments(&format!("{}[", a(158))), seg(Encoding::Gsm7, 1));
    assert_eq!(segments(&format!("{}[", a(159))), seg(Encoding::Gsm7, 2));
    // 306 septets, but the escape cannot straddle the first part's end.
    assert_eq!(
        segments(&format!("{}€{}", a(152), a(152))),
        seg(Encoding::Gsm7, 3)
    );
    assert_eq!(
        segments(&format!("{}€{}", a(151), a(153))),
        seg(Encoding::Gsm7, 2)
    );
    // Accents of the basic set keep GSM-7.
    assert_eq!(
        segments("Café Müller, Señor Ñoño, £5 @ 10"),
        seg(Encoding::Gsm7, 1)
    );
}

#[test]
fn one_character_outside_gsm_makes_the_whole_text_ucs_2() {
    let a = |n| "a".repeat(n);
    assert_eq!(segments(&format!("{}’", a(69))), seg(Encoding::Ucs2, 1));
    assert_eq!(segments(&format!("{}’", a(70))), seg(Encoding::Ucs2, 2));
    assert_eq!(segments(&format!("{}’", a(133))), seg(Encoding::Ucs2, 2));
    assert_eq!(segments(&format!("{}’", a(134))), seg(Encoding::Ucs2, 3));
    assert_eq!(segments(&format!("{}`", a(100))), seg(Encoding::Ucs2, 2));
    assert_eq!(segments("Zoë"), seg(Encoding::Ucs2, 1));
    // An emoji is two UTF-16 code units, and is never split between parts.
    assert_eq!(segments(&"😀".repeat(35)), seg(Encoding::Ucs2, 1));
    assert_eq!(segments(&"😀".repeat(36)), seg(Encoding::Ucs2, 2));
    assert_eq!(
        segments(&format!("{}😀{}", a(66), a(66))),
        seg(Encoding::Ucs2, 3)
    );
    assert_eq!(
        segments(&format!("{}😀{}", a(65), a(67))),
        seg(Encoding::Ucs2, 2)
    );
}

#[test]
fn every_text_fits_two_gsm_segments_with_40_character_names() {
    let (c, s) = (clinic(CLINIC_40), service(SERVICE_40));
    assert_eq!(CLINIC_40.chars().count(), 40);
    assert_eq!(SERVICE_40.chars().count(), 40);
    for (name, to_caller, text) in all_texts(&c, &s) {
        let seg = segments(&text);
        assert_eq!(seg.encoding, Encoding::Gsm7, "{name}: {text}");
        assert!(
            seg.count <= 2,
            "{name} costs {} segments: {text}",
            seg.count
        );
        // 40 characters are never shortened.
        assert!(text.contains(CLINIC_40), "{name}: {text}");
        assert!(!text.contains('\n'), "{name}: {text}");
        if to_caller && name != "opt-out" {
            assert!(text.contains("Reply STOP to opt out."), "{name}: {text}");
        }
    }
}

#[test]
fn texts_with_the_longest_names_still_fit() {
    let long_clinic =
        "The Very Long Named Center for Advanced Cosmetic and Family Dentistry of Oakland";
    let long_service =
        "Full Mouth Reconstruction Consultation with Digital Smile Design Preview Session";
    let (c, s) = (clinic(&long_clinic[..80]), service(&long_service[..80]));
    for (name, _, text) in all_texts(&c, &s) {
        assert!(text.chars().count() <= MAX_BODY_CHARS, "{name}");
        assert!(fits(&text), "{name} does not fit: {text}");
        // Shortened, but never below the floor.
        assert!(
            text.contains(&long_clinic[..CLINIC_FLOOR]),
            "{name}: {text}"
        );
    }
    let conf = confirmation_text(
        &c,
        &zone("America/New_York"),
        &s,
        None,
        ts("2026-11-26T17:30:00Z"),
        None,
    );
    assert!(conf.contains(&long_service[..SERVICE_FLOOR]), "{conf}");
    assert!(conf.contains("Thu, Nov 26 at 12:30 PM EST"), "{conf}");
    // With the longest names everywhere, the provider keeps at least their floor.
    let p = super::long_provider();
    let conf = confirmation_text(
        &c,
        &zone("America/New_York"),
        &s,
        Some(&p),
        ts("2026-11-26T17:30:00Z"),
        None,
    );
    assert!(fits(&conf), "{conf}");
    assert!(
        conf.contains(&format!(" with {}", &p.as_str()[..PROVIDER_FLOOR])),
        "{conf}"
    );
    // The patient's link too: the names shrink, the link is whole, two GSM-7 segments.
    let z = zone("America/New_York");
    let (t1, t2) = (ts("2026-11-26T17:30:00Z"), ts("2026-12-30T15:00:00Z"));
    for (name, text) in [
        (
            "confirmation",
            confirmation_text(&c, &z, &s, Some(&p), t1, Some(super::LINK)),
        ),
        (
            "reminder",
            reminder_text(&c, &z, &s, Some(&p), t1, Some(super::LINK)),
        ),
        (
            "rescheduled",
            rescheduled_text(&c, &z, &s, Some(&p), t1, t2, Some(super::LINK)),
        ),
    ] {
        assert_eq!(segments(&text), seg(Encoding::Gsm7, 2), "{name}: {text}");
        assert!(text.contains(super::LINK), "{name}: {text}");
        assert!(
            text.contains(&long_clinic[..CLINIC_FLOOR]),
            "{name}: {text}"
        );
        assert!(
            text.contains(&long_service[..SERVICE_FLOOR]),
            "{name}: {text}"
        );
        assert!(text.ends_with("Reply STOP to opt out."), "{name}: {text}");
    }
}

#[test]
fn typographic_characters_in_names_do_not_force_ucs_2() {
    let c = clinic("Dr. O’Brien’s “Smile” Studio — Downtown");
    let text = otp_text(&c, "4821");
    assert!(
        text.starts_with("Dr. O'Brien's \"Smile\" Studio - Downtown: "),
        "{text}"
    );
    assert_eq!(segments(&text).encoding, Encoding::Gsm7);
    // A name GSM-7 cannot carry is kept as it is: the text is UCS-2 and may cost a third
    // segment, since names are not shortened below their floor.
    let c = clinic("Zoë's Dental");
    let text = confirmation_text(
        &c,
        &zone("Europe/London"),
        &service("Check-up"),
        None,
        ts("2026-06-15T09:00:00Z"),
        None,
    );
    assert!(text.contains("Zoë's Dental"));
    assert_eq!(segments(&text), seg(Encoding::Ucs2, 3));
    assert!(fits(&opt_out_reply(&c)));
}

proptest! {
    #[test]
    fn any_gsm_names_fit_two_segments(
        c in "[A-Za-z0-9][A-Za-z0-9 &'.,()-]{0,79}",
        s in "[A-Za-z0-9][A-Za-z0-9 &'.,()/+-]{0,79}",
    ) {
        let (c, s) = (clinic(&c), service(&s));
        for (name, to_caller, text) in all_texts(&c, &s) {
            prop_assert!(fits(&text), "{} does not fit: {}", name, text);
            prop_assert_eq!(segments(&text).encoding, Encoding::Gsm7);
            let head: String = plain(c.as_str()).chars().take(CLINIC_FLOOR).collect();
            prop_assert!(text.contains(head.trim_end()), "{}: {}", name, text);
            if to_caller && name != "opt-out" {
                prop_assert!(text.ends_with(OPT_OUT_LINE));
            }
        }
    }

    #[test]
    fn any_names_stay_under_the_body_cap(c in "\\PC{1,80}", s in "\\PC{1,80}", body in "\\PC{0,2000}") {
        let (Ok(c), Ok(s)) = (ClinicName::parse(&c), ServiceName::parse(&s)) else {
            return Ok(());
        };
        for (name, _, text) in all_texts(&c, &s) {
            prop_assert!(text.chars().count() <= MAX_BODY_CHARS, "{}", name);
        }
        let text = inbound_forward_text(&c, &phone("+19254207621"), &body);
        prop_assert!(text.chars().count() <= MAX_BODY_CHARS);
    }

    #[test]
    fn plain_ascii_segments(n in 0usize..2000) {
        let expected = if n <= 160 { 1 } else { n.div_ceil(153) as u32 };
        prop_assert_eq!(segments(&"x".repeat(n)), seg(Encoding::Gsm7, expected));
    }

    #[test]
    fn bmp_ucs_2_segments(n in 1usize..800) {
        let expected = if n <= 70 { 1 } else { n.div_ceil(67) as u32 };
        prop_assert_eq!(segments(&"中".repeat(n)), seg(Encoding::Ucs2, expected));
    }
}

use super::dev::uuid_like;
use super::show::{find_code, spoken_part};

#[test]
fn codes_are_found_in_texts() {
    assert_eq!(
        find_code("Smile Dental: your code is 482913. It expires in 10 minutes."),
        Some("482913".into())
    );
    assert_eq!(find_code("Reply STOP to opt out"), None);
    assert_eq!(find_code("See you on Nov 26, 2026 at 2:00 PM"), None);
    assert_eq!(
        find_code("1234 is not it; your Smile Dental code: 0042 (valid 10 min)"),
        Some("0042".into())
    );
}

#[test]
fn instructions_to_the_model_are_not_spoken() {
    assert_eq!(
        spoken_part(
            "Free times: 9:00 AM or 11:00 AM. To hold one, call reserve_slot with its start."
        ),
        "Free times: 9:00 AM or 11:00 AM."
    );
    assert_eq!(
        spoken_part(
            "I texted a code to the number ending in 9738. Ask the caller to read it out, then call verify_otp with it."
        ),
        "I texted a code to the number ending in 9738."
    );
    assert_eq!(spoken_part("Call send_otp now."), "Call send_otp now.");
}

#[test]
fn call_ids_look_like_uuids() {
    let id = uuid_like().unwrap();
    assert_eq!(id.len(), 36);
    assert_eq!(id.matches('-').count(), 4);
}

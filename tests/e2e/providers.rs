//! Providers over real HTTP: a clinic of several people created through the operator API, a whole
//! call that asks for one of them, and a call without a preference when the first is full.

use booking_e2e::{TestApp, code_in};
use serde_json::{Value, json};

fn names(slot: &Value) -> Vec<&str> {
    slot["providers"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_call_with_dr_lee() {
    let app = TestApp::spawn().await;
    let clinic = app
        .create_clinic_with("Team Dental", 1, |body| {
            body["providers"] = json!([
                {"name": "Hygienist Maria", "services": ["Checkup"]},
                {"name": "Dr. Lee", "services": ["Teeth Whitening", "Checkup"], "max_per_day": null}
            ]);
        })
        .await;
    // The operator reads them back with ids.
    let (status, got) = app
        .admin(
            reqwest::Method::GET,
            &format!("/admin/tenants/{}", clinic.id),
            None,
        )
        .await;
    assert_eq!(status, 200, "{got}");
    let providers = got["providers"].as_array().expect("providers");
    assert_eq!(providers.len(), 2, "{got}");
    assert!(providers.iter().all(|p| p["id"].is_string()), "{got}");
    assert_eq!(providers[1]["name"], json!("Dr. Lee"));

    let caller = "+14155550188";
    let call = app.call(&clinic, caller);
    let (status, assistant) = call.assistant_request().await;
    assert_eq!(status, 200);
    let prompt = assistant.to_string();
    assert!(
        prompt.contains("Dr. Lee"),
        "the protocol names who works here"
    );

    let avail = call
        .tool(
            "check_availability",
            json!({"service": "Teeth Whitening", "provider": "Dr Lee"}),
        )
        .await;
    assert_eq!(avail["ok"], json!(true), "{avail}");
    let slot = &avail["slots"][0];
    assert_eq!(names(slot), ["Dr. Lee"], "{avail}");
    let start = slot["start"].as_str().expect("start").to_owned();
    let held = call
        .tool(
            "reserve_slot",
            json!({"start": start, "service": "Teeth Whitening", "caller_name": "Jane Doe",
                   "provider": "with doctor lee"}),
        )
        .await;
    assert_eq!(held["ok"], json!(true), "{held}");
    assert_eq!(held["provider"], json!("Dr. Lee"), "{held}");
    let hold = held["hold_id"].as_str().expect("hold id").to_owned();

    // Maria does not do whitening: she is never offered for it, and asking for her says so.
    let maria = call
        .tool(
            "check_availability",
            json!({"service": "Teeth Whitening", "provider": "Maria"}),
        )
        .await;
    assert_eq!(maria["ok"], json!(false), "{maria}");
    assert!(
        maria["message"].as_str().unwrap_or("").contains("Dr. Lee"),
        "{maria}"
    );

    let sent = call.tool("send_otp", json!({"hold_id": hold})).await;
    assert_eq!(sent["ok"], json!(true), "{sent}");
    let texts = app.texts_to(caller, 1).await;
    let code = code_in(&texts[0].body);
    let verified = call
        .tool("verify_otp", json!({"hold_id": hold, "code": code}))
        .await;
    assert_eq!(verified["ok"], json!(true), "{verified}");
    let texts = app.texts_to(caller, 2).await;
    let confirmation = &texts[1].body;
    assert!(confirmation.contains("with Dr. Lee"), "{confirmation}");
    assert!(confirmation.contains("Team Dental"), "{confirmation}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_preference_when_the_first_provider_is_fully_booked() {
    let app = TestApp::spawn().await;
    let clinic = app
        .create_clinic_with("Two Chairs", 1, |body| {
            body["providers"] = json!([
                {"name": "Anna", "max_per_day": 1},
                {"name": "Ben"}
            ]);
        })
        .await;

    // The first caller takes anyone: Anna, first in the clinic's order.
    let first = app.call(&clinic, "+14155550111");
    let avail = first
        .tool("check_availability", json!({"service": "Checkup"}))
        .await;
    assert_eq!(avail["ok"], json!(true), "{avail}");
    assert_eq!(names(&avail["slots"][0]), ["Anna", "Ben"], "{avail}");
    let start = avail["slots"][0]["start"]
        .as_str()
        .expect("start")
        .to_owned();
    let held = first
        .tool(
            "reserve_slot",
            json!({"start": start, "service": "Checkup", "caller_name": "First Caller"}),
        )
        .await;
    assert_eq!(held["provider"], json!("Anna"), "{held}");

    // Anna's day is full: the next caller sees only Ben that day, and the same time goes to Ben.
    let second = app.call(&clinic, "+14155550122");
    let day = &start[..10];
    let avail = second
        .tool(
            "check_availability",
            json!({"service": "Checkup", "date": day}),
        )
        .await;
    assert_eq!(avail["ok"], json!(true), "{avail}");
    for slot in avail["slots"].as_array().expect("slots") {
        if slot["start"].as_str().is_some_and(|s| s.starts_with(day)) {
            assert_eq!(names(slot), ["Ben"], "{avail}");
        }
    }
    let held = second
        .tool(
            "reserve_slot",
            json!({"start": start, "service": "Checkup", "caller_name": "Second Caller"}),
        )
        .await;
    assert_eq!(held["ok"], json!(true), "{held}");
    assert_eq!(held["provider"], json!("Ben"), "{held}");

    // A third caller at that time: everyone is taken, with alternatives.
    let third = app.call(&clinic, "+14155550133");
    let taken = third
        .tool(
            "reserve_slot",
            json!({"start": start, "service": "Checkup", "caller_name": "Third Caller"}),
        )
        .await;
    assert_eq!(taken["ok"], json!(false), "{taken}");
    assert!(
        taken["alternatives"]
            .as_array()
            .is_some_and(|a| !a.is_empty()),
        "{taken}"
    );
    app.stop().await;
}

//! The operator API: tenants created, read and changed over HTTP; secrets never come back; bad
//! input gets a 4xx that names the field.

use booking_e2e::{ADMIN_TOKEN, TestApp};
use reqwest::Method;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_round_trip_without_their_secrets() {
    let app = TestApp::spawn().await;
    let clinic = app.create_clinic("Smile Dental", 1).await;

    let (status, got) = app
        .admin(Method::GET, &format!("/admin/tenants/{}", clinic.id), None)
        .await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["name"], "Smile Dental");
    assert_eq!(got["twilio"]["account_sid"], json!(clinic.account_sid));
    let text = got.to_string();
    assert!(
        !text.contains(&clinic.auth_token),
        "the auth token never comes back"
    );

    let (status, patched) = app
        .admin(
            Method::PATCH,
            &format!("/admin/tenants/{}", clinic.id),
            Some(json!({"hot_lead_threshold": 55, "system_prompt": "Be brief."})),
        )
        .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["hot_lead_threshold"], 55);
    assert_eq!(
        patched["services"].as_array().unwrap().len(),
        2,
        "untouched fields stay"
    );

    let (status, list) = app.admin(Method::GET, "/admin/tenants", None).await;
    assert_eq!(status, 200);
    assert_eq!(list["tenants"].as_array().unwrap().len(), 1);

    // The credentials are encrypted at rest: no plaintext token anywhere in the table.
    let plain = app
        .db
        .execute(&format!(
            "SELECT 1 FROM tenant_sms_credentials WHERE encode(ciphertext, 'escape') LIKE '%{}%'",
            clinic.auth_token
        ))
        .await;
    assert_eq!(plain, 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_clear_4xx() {
    let app = TestApp::spawn().await;
    // No token, wrong token.
    let resp = app
        .http
        .get(app.url("/admin/tenants"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    let resp = app
        .http
        .get(app.url("/admin/tenants"))
        .bearer_auth(format!("{ADMIN_TOKEN}x"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);

    // Invalid fields are all named.
    let (status, err) = app
        .admin(
            Method::POST,
            "/admin/tenants",
            Some(json!({"name": "X", "timezone": "Mars/Base", "alert_numbers": ["555"]})),
        )
        .await;
    assert_eq!(status, 400, "{err}");
    let fields: Vec<&str> = err["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"timezone") && fields.contains(&"alert_numbers[0]"),
        "{fields:?}"
    );

    // Malformed JSON, unknown fields, unknown ids.
    let resp = app
        .http
        .post(app.url("/admin/tenants"))
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let (status, _) = app
        .admin(
            Method::POST,
            "/admin/tenants",
            Some(json!({"name": "X", "timezone": "UTC", "secret": 1})),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = app
        .admin(Method::GET, "/admin/tenants/not-a-uuid", None)
        .await;
    assert_eq!(status, 404);
    let (status, _) = app
        .admin(
            Method::GET,
            &format!("/admin/tenants/{}", uuid::Uuid::new_v4()),
            None,
        )
        .await;
    assert_eq!(status, 404);

    // A called number another clinic has is a conflict, not a 500.
    let clinic = app.create_clinic("Smile Dental", 1).await;
    let (status, err) = app
        .admin(
            Method::POST,
            "/admin/tenants",
            Some(json!({"name": "Copycat", "timezone": "UTC",
                        "phone_numbers": [{"number": clinic.called}]})),
        )
        .await;
    assert_eq!(status, 409, "{err}");

    // Health, readiness, metrics.
    for path in ["/healthz", "/readyz", "/metrics"] {
        let resp = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 200, "{path}");
    }
    app.stop().await;
}

/// Every route of the published list (which a unit test holds equal to the OpenAPI document)
/// is really served: none answers 404 or 405.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_route_is_served() {
    let app = TestApp::spawn().await;
    let clinic = app.create_clinic("Smile Dental", 1).await;
    for (method, path) in api::http::ROUTES {
        if path.contains("{file}") {
            // A calendar feed answers 404 to any secret that is not live, by design; the feed's
            // own 404 (a body and no-store), not the router's empty one, shows the route is there.
            let path = path.replace("{file}", "AAAAAAAAAAAAAAAAAAAAAA.ics");
            let resp = app.http.get(app.url(&path)).send().await.unwrap();
            assert_eq!(resp.status().as_u16(), 404, "GET {path}");
            let no_store = resp.headers().get("cache-control").cloned();
            assert_eq!(resp.text().await.unwrap(), "Not found", "GET {path}");
            assert_eq!(no_store.unwrap(), "no-store", "GET {path}");
            let unrouted = app.http.get(app.url("/feedz/x.ics")).send().await.unwrap();
            assert_eq!(unrouted.status().as_u16(), 404);
            assert_eq!(
                unrouted.text().await.unwrap(),
                "",
                "the router's own 404 is empty"
            );
            continue;
        }
        let path = path
            .replace("{id}", &clinic.id)
            .replace("{name}", "check_availability");
        let method: Method = method.parse().unwrap();
        let resp = app
            .http
            .request(method.clone(), app.url(&path))
            .bearer_auth(ADMIN_TOKEN)
            .header("X-Vapi-Secret", booking_e2e::VAPI_SECRET)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        assert!(
            status != 404 && status != 405,
            "{method} {path} answered {status}"
        );
    }
    let resp = app.http.get(app.url("/openapi.json")).send().await.unwrap();
    let doc: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    app.stop().await;
}

/// `/metrics` reports the database's figures that the alerts in docs/operations.md use.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_report_the_outbox_and_bookings() {
    let app = TestApp::spawn().await;
    let clinic = app.create_clinic("Smile Dental", 1).await;
    let metric = |text: &str, name: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')))
            .unwrap_or_else(|| panic!("{name} missing"))
            .parse()
            .unwrap()
    };
    let scrape = || async {
        app.http
            .get(app.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let before = scrape().await;
    assert_eq!(metric(&before, "bookings_confirmed_last_12h"), 0.0);

    // Twilio down: the confirmation waits, and the oldest due text ages.
    app.twilio.fail_all(fake_twilio::Fault::Status429 {
        twilio_code: true,
        retry_after: None,
    });
    let call = app.call(&clinic, "+14155550123");
    let (_, held) = booking_e2e::hold_first_slot(&call, "Checkup", "Jane").await;
    call.tool("send_otp", json!({"hold_id": held["hold_id"]}))
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let during = scrape().await;
    assert!(metric(&during, "outbox_pending") >= 1.0, "{during}");
    assert!(
        metric(&during, "outbox_oldest_pending_seconds") >= 1.0,
        "{during}"
    );

    app.twilio.recover();
    app.stop().await;
    let app2 = TestApp::spawn().await;
    let clinic2 = app2.create_clinic("Smile Dental", 1).await;
    booking_e2e::book(&app2.call(&clinic2, "+14155550123"), "Checkup").await;
    app2.outbox_settled().await;
    let after = app2
        .http
        .get(app2.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        metric(&after, "bookings_confirmed_last_12h"),
        1.0,
        "{after}"
    );
    assert_eq!(metric(&after, "outbox_pending"), 0.0, "{after}");
    assert_eq!(metric(&after, "outbox_failed_total"), 0.0, "{after}");
    app2.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_texting_number_or_messaging_service_belongs_to_one_clinic() {
    let app = TestApp::spawn().await;
    let victim = app.create_clinic("Victim Dental", 1).await;
    let other = app.create_clinic("Other Dental", 2).await;
    let path = format!("/admin/tenants/{}", other.id);
    let twilio = |from: serde_json::Value, ms: serde_json::Value, numbers: serde_json::Value| {
        json!({"twilio": {
            "account_sid": other.account_sid, "auth_token": other.auth_token,
            "from": from, "messaging_service_sid": ms, "messaging_service_numbers": numbers
        }})
    };

    // The victim's sender number, claimed as a sender.
    let (status, body) = app
        .admin(
            Method::PATCH,
            &path,
            Some(twilio(json!(victim.from), json!(null), json!(null))),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(body.to_string().contains("texting number"), "{body}");
    // ... or as a Messaging Service number.
    let (status, body) = app
        .admin(
            Method::PATCH,
            &path,
            Some(twilio(
                json!(null),
                json!("MG0123456789abcdef0123456789abcdef"),
                json!([victim.from]),
            )),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    // ... or at creation.
    let mut dup = test_support::clinic_body(&test_support::ClinicNumbers {
        name: "Copycat",
        called: "+19254209999",
        phone_number_id: "4a5a04dc-dcbe-45b1-8f64-fd32a253d199",
        alert_numbers: &[],
        account_sid: "AC0000000000000000000000000000abcd",
        auth_token: "auth-token-copycat",
        from: &victim.from,
    });
    dup["alert_numbers"] = json!([]);
    let (status, body) = app.admin(Method::POST, "/admin/tenants", Some(dup)).await;
    assert_eq!(status, 409, "{body}");
    // Nothing was saved: the other clinic still sends from its own number.
    let (_, got) = app.admin(Method::GET, &path, None).await;
    assert_eq!(got["twilio"]["from"], json!(other.from));

    // A Messaging Service is one clinic's too.
    let (status, body) = app
        .admin(
            Method::PATCH,
            &path,
            Some(twilio(
                json!(null),
                json!("MG0123456789abcdef0123456789abcdef"),
                json!(["+15557770001"]),
            )),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let third = app.create_clinic("Third Dental", 3).await;
    let (status, body) = app
        .admin(
            Method::PATCH,
            &format!("/admin/tenants/{}", third.id),
            Some(json!({"twilio": {
                "account_sid": third.account_sid, "auth_token": third.auth_token,
                "messaging_service_sid": "MG0123456789abcdef0123456789abcdef"
            }})),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(body.to_string().contains("Messaging Service"), "{body}");

    // Inbound texts to the victim's number still reach the victim.
    let inbound = app.url("/twilio/inbound");
    let stop = app
        .twilio
        .send_inbound(
            &inbound,
            &victim.account_sid,
            "+14155550123",
            &victim.from,
            "STOP",
        )
        .await
        .expect("posted");
    assert_eq!(stop.status, 200);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_number_cannot_be_a_texting_number() {
    let app = TestApp::spawn().await;
    let a = app.create_clinic("Clinic A", 1).await;
    let b = app.create_clinic("Clinic B", 2).await;
    for number in [&a.from, &b.from] {
        let (status, body) = app
            .admin(
                Method::PATCH,
                &format!("/admin/tenants/{}", a.id),
                Some(json!({"alert_numbers": [number]})),
            )
            .await;
        assert_eq!(status, 409, "{body}");
        assert!(body.to_string().contains("alert number"), "{body}");
    }
    // And a texting number cannot be another clinic's alert number.
    let (status, body) = app
        .admin(
            Method::PATCH,
            &format!("/admin/tenants/{}", b.id),
            Some(json!({"twilio": {
                "account_sid": b.account_sid, "auth_token": b.auth_token,
                "from": a.alert_numbers[0]
            }})),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    app.stop().await;
}

//! Hostile input against the real api over HTTP: generated and mutated bodies on every route,
//! oversized, deeply nested and invalid bodies, malformed phone numbers and dates, webhooks
//! without valid credentials (shared secret and HMAC), OTP guessing, SMS pumping, and a call to
//! one clinic reaching for another clinic's rows. Every request gets a 200 carrying an answer or
//! an error, or a 4xx that says what is wrong; never a 5xx, never a dropped connection.

use booking_e2e::{
    ADMIN_TOKEN, Call, Clinic, TestApp, VAPI_SECRET, book, code_in, fixture, result_of,
};
use reqwest::Method;
use serde_json::{Value, json};

const CALLER: &str = "+14155550123";

type Headers = Vec<(&'static str, String)>;

/// A small deterministic generator (the seed is fixed: a failure replays).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const PHONES: &[&str] = &[
    "+1 (415) 555-0123",
    "415-555-0123",
    "4155550123",
    "+",
    "++14155550123",
    "+1415555012345678901",
    "+0000000000",
    "+1",
    "tel:+14155550123",
    "+1415555O123",
    "+١٤١٥٥٥٥٠١٢٣",
    "+14155550123\n",
    "+14155550123; DROP TABLE bookings",
    "0014155550123",
    " ",
];

const DATES: &[&str] = &[
    "2026-03-08T02:30",
    "2027-03-14T02:30",
    "1999-01-01T10:00:00Z",
    "9999-12-31T23:59:59Z",
    "-000001-01-01T00:00:00Z",
    "2026-02-30",
    "2026-13-01",
    "24:00",
    "25:61",
    "tomorrow at 2",
    "2026-11-26T14:00:00+25:00",
    "",
];

fn hostile_value(rng: &mut Rng) -> Value {
    match rng.below(9) {
        0 => json!(rng.pick(PHONES)),
        1 => json!(rng.pick(DATES)),
        2 => json!(rng.next()),
        3 => json!(-(rng.next() as i64).abs()),
        4 => json!("é😀\u{202e}\u{2028}\0".repeat(1 + rng.below(5000))),
        5 => Value::Null,
        6 => json!([rng.pick(PHONES), {"nested": rng.pick(DATES)}]),
        7 => json!({"$ne": null, "tenant_id": uuid::Uuid::new_v4().to_string()}),
        _ => json!(rng.below(1_000_000).to_string()),
    }
}

/// Byte edits as a mutation fuzzer makes them.
fn mutate(rng: &mut Rng, mut body: Vec<u8>) -> Vec<u8> {
    const TOKENS: &[&[u8]] = &[
        b"{",
        b"}",
        b"[",
        b"]",
        b"\"",
        b"\\",
        b",",
        b":",
        b"null",
        b"1e999",
        b"\xff\xfe",
        b"\xc3\x28",
        b"\0",
        b"\n",
        b"%",
        b"&",
        b"=",
    ];
    for _ in 0..1 + rng.below(6) {
        if body.is_empty() {
            body.push(b'{');
        }
        let p = rng.below(body.len());
        match rng.below(5) {
            0 => body[p] = rng.next() as u8,
            1 => {
                let t = rng.pick(TOKENS);
                body.splice(p..p, t.iter().copied());
            }
            2 => {
                let end = (p + 1 + rng.below(40)).min(body.len());
                body.drain(p..end);
            }
            3 => body.truncate(p),
            _ => {
                let end = (p + 1 + rng.below(100)).min(body.len());
                let chunk = body[p..end].to_vec();
                body.splice(p..p, chunk);
            }
        }
    }
    body
}

/// The fixtures, pointed at `clinic`'s number so that they reach its tools.
fn fixtures_for(clinic: &Clinic) -> Vec<Value> {
    [
        "assistant-request",
        "end-of-call-report",
        "status-update",
        "tool-calls-string-args",
        "tool-calls-object-args",
        "tool-calls-flattened-parallel",
    ]
    .iter()
    .map(|name| {
        let mut v = fixture(name);
        let m = &mut v["message"];
        if m["call"].is_object() {
            m["call"]["phoneNumberId"] = json!(clinic.phone_number_id);
        }
        m["phoneNumber"] = json!({"id": clinic.phone_number_id, "number": clinic.called});
        v
    })
    .collect()
}

/// Plants a hostile value at a random place inside `v`.
fn plant(rng: &mut Rng, v: &mut Value) {
    fn pointers(v: &Value, here: String, out: &mut Vec<String>) {
        out.push(here.clone());
        match v {
            Value::Object(m) => {
                for (k, child) in m {
                    let k = k.replace('~', "~0").replace('/', "~1");
                    pointers(child, format!("{here}/{k}"), out);
                }
            }
            Value::Array(a) => {
                for (i, child) in a.iter().enumerate() {
                    pointers(child, format!("{here}/{i}"), out);
                }
            }
            _ => {}
        }
    }
    let mut paths = Vec::new();
    pointers(v, String::new(), &mut paths);
    let path = rng.pick(&paths).clone();
    let value = hostile_value(rng);
    if let Some(slot) = v.pointer_mut(&path) {
        *slot = value;
    }
}

async fn post_raw(
    app: &TestApp,
    path: &str,
    body: Vec<u8>,
    headers: &[(&str, String)],
) -> (u16, String) {
    let mut req = app.http.post(app.url(path)).body(body);
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let resp = req
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {path}: no answer: {e}"));
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap_or_default())
}

/// What every answer must be: a 4xx, or a 200 whose body is an answer (JSON, and for tool calls
/// one result or error string per call, each on one line).
fn check_answer(path: &str, status: u16, body: &str) {
    assert!(
        status == 200 || (400..500).contains(&status),
        "{path} answered {status}: {body}"
    );
    if status == 200 && path.starts_with("/vapi/") {
        let v: Value =
            serde_json::from_str(body).unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {body}"));
        if let Some(results) = v["results"].as_array() {
            for r in results {
                let line = r["result"].as_str().or(r["error"].as_str());
                let line = line.unwrap_or_else(|| panic!("{path}: {r}"));
                assert!(!line.contains(['\n', '\r']), "{path}: {line:?}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_bodies_over_http_get_a_200_or_a_4xx() {
    let app = TestApp::spawn().await;
    let clinic = app.create_clinic("Smile Dental", 1).await;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let vapi = fixtures_for(&clinic);
    let secret = [
        ("X-Vapi-Secret", VAPI_SECRET.to_owned()),
        ("Content-Type", "application/json".to_owned()),
    ];
    let admin = [
        ("Authorization", format!("Bearer {ADMIN_TOKEN}")),
        ("Content-Type", "application/json".to_owned()),
    ];
    let tools = [
        "check_availability",
        "reserve_slot",
        "send_otp",
        "verify_otp",
        "send_confirmation_sms",
        "cancel_appointment",
        "reschedule_appointment",
        "capture_lead",
        "launch_rocket",
    ];
    let arg_names = [
        "service",
        "date",
        "after",
        "start",
        "caller_name",
        "hold_id",
        "phone",
        "code",
        "appointment_id",
        "new_start",
        "notes",
        "tenant_id",
    ];
    let tenant = json!({
        "name": "Fuzz Clinic", "timezone": "America/New_York",
        "phone_numbers": [{"number": "+19254209999"}],
        "alert_numbers": ["+15550009999"],
        "twilio": {"account_sid": format!("AC{}", "1".repeat(32)), "auth_token": "token-0123456789", "from": "+15550008888"},
        "services": [{"name": "Checkup", "duration_minutes": 30}],
        "weekly_hours": {"mon": [["09:00", "17:00"]]},
    });
    let twilio_form = vec![
        (
            "MessageSid",
            "SM0123456789abcdef0123456789abcdef".to_owned(),
        ),
        ("AccountSid", clinic.account_sid.clone()),
        ("MessageStatus", "delivered".to_owned()),
        ("From", CALLER.to_owned()),
        ("To", clinic.from.clone()),
        ("Body", "HELP".to_owned()),
    ];
    let mut count = 0;
    for round in 0..100 {
        // Vapi: a fixture with planted values, then the same with its bytes damaged.
        let mut v = rng.pick(&vapi).clone();
        plant(&mut rng, &mut v);
        let planted = v.to_string().into_bytes();
        for body in [planted.clone(), mutate(&mut rng, planted)] {
            let (status, text) = post_raw(&app, "/vapi/webhook", body, &secret).await;
            check_answer("/vapi/webhook", status, &text);
            count += 1;
        }
        // A tool call with hostile arguments, at the webhook and at the tool's own URL.
        let name = *rng.pick(&tools);
        let mut args = serde_json::Map::new();
        for _ in 0..rng.below(5) {
            args.insert(rng.pick(&arg_names).to_string(), hostile_value(&mut rng));
        }
        let args = Value::Object(args);
        let arguments = if round % 2 == 0 {
            json!(args.to_string())
        } else {
            args
        };
        let call = app.call(&clinic, CALLER);
        let body = json!({"message": {"type": "tool-calls",
            "call": {"id": call.id, "phoneNumberId": clinic.phone_number_id, "customer": {"number": CALLER}},
            "phoneNumber": {"number": clinic.called},
            "toolCallList": [{"id": format!("tc_{round}"), "type": "function",
                              "function": {"name": name, "arguments": arguments}}]}});
        for path in ["/vapi/webhook".to_owned(), format!("/vapi/tools/{name}")] {
            let (status, text) =
                post_raw(&app, &path, body.to_string().into_bytes(), &secret).await;
            assert_eq!(status, 200, "{path}: tool calls are answered 200: {text}");
            check_answer(&path, status, &text);
            count += 1;
        }
        // The operator API with planted values and damaged bytes.
        let mut t = tenant.clone();
        plant(&mut rng, &mut t);
        let bytes = mutate(&mut rng, t.to_string().into_bytes());
        let (status, text) = post_raw(&app, "/admin/tenants", bytes, &admin).await;
        check_answer("/admin/tenants", status, &text);
        let req = app
            .http
            .patch(app.url(&format!("/admin/tenants/{}", clinic.id)))
            .bearer_auth(ADMIN_TOKEN)
            .header("Content-Type", "application/json")
            .body(mutate(&mut rng, t.to_string().into_bytes()));
        let resp = req.send().await.expect("PATCH answered");
        let status = resp.status().as_u16();
        check_answer(
            "PATCH /admin/tenants/{id}",
            status,
            &resp.text().await.unwrap(),
        );
        count += 2;
        // Twilio's webhooks: damaged forms, signed with the clinic's token so that they get past
        // the signature check, and unsigned.
        let mut form = twilio_form.clone();
        let i = rng.below(form.len());
        form[i].1 = match hostile_value(&mut rng) {
            Value::String(s) => s,
            other => other.to_string(),
        };
        let mut ser = reqwest::Url::parse("http://x/").unwrap();
        ser.query_pairs_mut()
            .extend_pairs(form.iter().map(|(k, v)| (*k, v.as_str())));
        let mut body = ser.query().unwrap_or("").as_bytes().to_vec();
        if round % 3 == 0 {
            body = mutate(&mut rng, body);
        }
        for path in ["/twilio/status", "/twilio/inbound"] {
            let params: Vec<(String, String)> = url_pairs(&body);
            let sig = fake_twilio::twilio_signature(
                &clinic.auth_token,
                &format!("{}{path}", app.base),
                &params,
            );
            let form_type = (
                "Content-Type",
                "application/x-www-form-urlencoded".to_owned(),
            );
            let (status, text) = post_raw(
                &app,
                path,
                body.clone(),
                &[form_type.clone(), ("X-Twilio-Signature", sig)],
            )
            .await;
            let shown: String = String::from_utf8_lossy(&body).chars().take(300).collect();
            check_answer(&format!("{path} ({shown})"), status, &text);
            let (status, text) = post_raw(&app, path, body.clone(), &[form_type]).await;
            assert!(
                (400..500).contains(&status),
                "{path} unsigned: {status} {text}"
            );
            count += 2;
        }
    }
    eprintln!("{count} generated requests, each answered 200 or 4xx");
    app.stop().await;
}

/// The form fields of a body, decoded the way the api decodes them.
fn url_pairs(body: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(body);
    let url = reqwest::Url::parse(&format!("http://x/?{text}")).unwrap();
    url.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_deep_and_invalid_bodies_are_refused_cleanly() {
    let app = TestApp::spawn().await;
    let clinic = app.create_clinic("Smile Dental", 1).await;
    let secret = [("X-Vapi-Secret", VAPI_SECRET.to_owned())];
    let admin = [
        ("Authorization", format!("Bearer {ADMIN_TOKEN}")),
        ("Content-Type", "application/json".to_owned()),
    ];

    // Over the limits: 4 MiB on the Vapi routes, 256 KiB elsewhere.
    let big = |n: usize| {
        format!(
            "{{\"message\":{{\"type\":\"status-update\",\"pad\":\"{}\"}}}}",
            "x".repeat(n)
        )
        .into_bytes()
    };
    for path in ["/vapi/webhook", "/vapi/tools/check_availability"] {
        let (status, body) = post_raw(&app, path, big(4 * 1024 * 1024 + 1), &secret).await;
        assert_eq!(status, 413, "{path}: {body}");
        // Just under the limit is read (and this one is a status update: 200).
        let (status, body) = post_raw(&app, path, big(3 * 1024 * 1024), &secret).await;
        assert!(status == 200 || status == 400, "{path}: {status} {body}");
    }
    let (status, body) = post_raw(&app, "/admin/tenants", big(256 * 1024 + 1), &admin).await;
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("error"), "{body}");
    for path in ["/twilio/status", "/twilio/inbound"] {
        let (status, body) = post_raw(
            &app,
            path,
            format!("Body={}", "x".repeat(256 * 1024 + 1)).into_bytes(),
            &[(
                "Content-Type",
                "application/x-www-form-urlencoded".to_owned(),
            )],
        )
        .await;
        assert_eq!(status, 413, "{path}: {body}");
    }
    // Without a Content-Length (chunked): refused the same way.
    let status = post_chunked(
        &app,
        "/vapi/webhook",
        &[("X-Vapi-Secret", VAPI_SECRET)],
        5 * 1024 * 1024,
    )
    .await;
    assert_eq!(status, 413);
    let status = post_chunked(
        &app,
        "/admin/tenants",
        &[
            ("Authorization", &format!("Bearer {ADMIN_TOKEN}")),
            ("Content-Type", "application/json"),
        ],
        1024 * 1024,
    )
    .await;
    assert_eq!(status, 413);

    // Deeply nested JSON, invalid UTF-8, not JSON at all, an empty body: 400 with a reason.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes();
    let deep_object = format!(
        "{{\"message\":{}1{}}}",
        "{\"a\":".repeat(50_000),
        "}".repeat(50_000)
    )
    .into_bytes();
    let mut invalid_utf8 = br#"{"message":{"type":"tool-calls","toolCallList":[{"id":"x","function":{"name":"check_availability","arguments":{"service":""#.to_vec();
    invalid_utf8.extend_from_slice(b"\xff\xfe\xc3\x28");
    invalid_utf8.extend_from_slice(br#""}}}]}}"#);
    for body in [
        deep.clone(),
        deep_object.clone(),
        invalid_utf8.clone(),
        b"not json".to_vec(),
        Vec::new(),
    ] {
        let (status, text) = post_raw(&app, "/vapi/webhook", body, &secret).await;
        assert_eq!(status, 400, "{text}");
        assert!(text.contains("error"), "{text}");
        let (status, text) = post_raw(&app, "/admin/tenants", deep.clone(), &admin).await;
        assert_eq!(status, 400, "{text}");
    }
    let (status, text) = post_raw(&app, "/admin/tenants", invalid_utf8, &admin).await;
    assert_eq!(status, 400, "{text}");

    // Huge strings inside a valid call: answered, with the name cut to a sane length.
    let call = app.call(&clinic, CALLER);
    let avail = call
        .tool("check_availability", json!({"service": "Checkup"}))
        .await;
    let start = avail["slots"][0]["start"].as_str().unwrap().to_owned();
    let held = call
        .tool(
            "reserve_slot",
            json!({"start": start, "service": "Checkup", "caller_name": "Jane ".repeat(200_000)}),
        )
        .await;
    assert_eq!(held["ok"], json!(true), "{}", &held.to_string()[..200]);
    let stored = app
        .db
        .execute("SELECT 1 FROM bookings WHERE length(caller_name) <= 100")
        .await;
    assert_eq!(stored, 1, "the name was stored cut");
    let r = call
        .tool(
            "check_availability",
            json!({"service": "x".repeat(1_000_000)}),
        )
        .await;
    assert_eq!(r["ok"], json!(false));
    assert!(
        r.to_string().len() < 10_000,
        "the refusal does not echo a megabyte back"
    );
    let (status, body) = app
        .admin(
            Method::PATCH,
            &format!("/admin/tenants/{}", clinic.id),
            Some(json!({"name": "n".repeat(200_000)})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("name"), "names the field: {body}");

    // NUL characters (which PostgreSQL cannot store in text) anywhere a caller, the model or
    // Vapi can put them: answered, never a 500.
    let nul = "Ja\u{0}ne";
    let call = app.call(&clinic, "+14155550124");
    for (name, args) in [
        (
            "reserve_slot",
            json!({"start": start, "service": "Checkup", "caller_name": nul}),
        ),
        ("check_availability", json!({"service": nul})),
        (
            "capture_lead",
            json!({"caller_name": nul, "notes": nul, "service_interest": nul}),
        ),
        ("send_otp", json!({"hold_id": nul, "phone": nul})),
    ] {
        let results = call
            .tool_calls(&[(call.next_tool_call_id(), name, args)])
            .await;
        assert!(results[0]["result"].is_string() || results[0]["error"].is_string());
    }
    // A tool call id no store can keep is skipped, not failed.
    let body = json!({"message": {"type": "tool-calls",
        "call": {"id": call.id, "phoneNumberId": clinic.phone_number_id},
        "phoneNumber": {"number": clinic.called},
        "toolCallList": [{"id": "id-\u{0}", "type": "function",
            "function": {"name": "check_availability", "arguments": {"service": "Checkup"}}}]}});
    let (status, reply) = app.vapi(&body).await;
    assert_eq!(status, 200, "{reply}");
    let mut report = fixture("end-of-call-report");
    let m = &mut report["message"];
    m["call"]["id"] = json!(call.id);
    m["call"]["phoneNumberId"] = json!(clinic.phone_number_id);
    m["phoneNumber"] = json!({"id": clinic.phone_number_id, "number": clinic.called});
    m["endedReason"] = json!(nul);
    m["analysis"]["summary"] = json!(nul);
    m["summary"] = json!(nul);
    m["analysis"]["structuredData"] =
        json!({"caller_name": nul, "service_interest": nul, "notes": nul});
    m["artifact"]["transcript"] = json!(nul);
    let (status, reply) = app.vapi(&report).await;
    assert!(status == 200 || status == 400, "{status} {reply}");
    let mut update = fixture("status-update");
    update["message"]["call"]["id"] = json!(format!("call-\u{0}"));
    update["message"]["status"] = json!(nul);
    let (status, reply) = app.vapi(&update).await;
    assert!(status == 200 || status == 400, "{status} {reply}");
    let mut ar = fixture("assistant-request");
    ar["message"]["call"]["phoneNumberId"] = json!(nul);
    ar["message"]["phoneNumber"]["number"] = json!(nul);
    let (status, reply) = app.vapi(&ar).await;
    assert_eq!(status, 200, "{reply}");
    let (status, body) = app
        .admin(
            Method::POST,
            "/admin/tenants",
            Some(json!({"name": nul, "timezone": "America/New_York", "system_prompt": nul})),
        )
        .await;
    assert!(status == 201 || status == 400, "{status} {body}");
    let form = [
        (
            "MessageSid",
            "SM0123456789abcdef0123456789abcdef".to_owned(),
        ),
        ("AccountSid", clinic.account_sid.clone()),
        ("From", "+14155550124".to_owned()),
        ("To", clinic.from.clone()),
        ("Body", nul.to_owned()),
    ];
    let url = format!("{}/twilio/inbound", app.base);
    let sig = fake_twilio::twilio_signature(&clinic.auth_token, &url, &form);
    let resp = app
        .http
        .post(&url)
        .header("X-Twilio-Signature", sig)
        .form(&form)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    assert!(
        status == 200 || status == 400,
        "inbound text with a NUL: {status}"
    );
    // Before any signature is checked: an account sid with a NUL is bad input (400), not an
    // error of ours.
    for path in ["/twilio/status", "/twilio/inbound"] {
        let resp = app
            .http
            .post(app.url(path))
            .form(&[
                ("MessageSid", "SM0123456789abcdef0123456789abcdef"),
                ("AccountSid", "AC\u{0}"),
                ("MessageStatus", "delivered"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 400, "{path}");
    }
    // The owners' sign-in takes an email before anything is checked.
    let login = booking_e2e::no_redirects();
    let form = login.get(app.url("/app/login")).send().await.unwrap();
    let cookie = booking_e2e::set_cookies(&form)
        .into_iter()
        .next()
        .expect("a CSRF cookie")
        .0;
    let token = booking_e2e::csrf_in(&form.text().await.unwrap()).expect("a CSRF field");
    let long = "x".repeat(300_000);
    for email in ["a\u{0}@b.example", long.as_str()] {
        let resp = login
            .post(app.url("/app/login"))
            .header("Cookie", &cookie)
            .header("Origin", &app.base)
            .form(&[("email", email), ("password", nul), ("csrf", &token)])
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        assert!(
            (200..500).contains(&status),
            "sign-in with a hostile email: {status}"
        );
    }
    app.stop().await;
}

/// POSTs `n` bytes with `Transfer-Encoding: chunked` (no Content-Length) over a raw socket, and
/// returns the status line's code. The body is written while the answer is read: a server that
/// answers early and closes is fine, one that closes without answering is not.
async fn post_chunked(app: &TestApp, path: &str, headers: &[(&str, &str)], n: usize) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = app.base.trim_start_matches("http://").to_owned();
    let stream = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let (mut rd, mut wr) = stream.into_split();
    let mut head =
        format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\nTransfer-Encoding: chunked\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let writer = tokio::spawn(async move {
        wr.write_all(head.as_bytes()).await?;
        let mut left = n;
        let mut first = true;
        while left > 0 {
            let size = left.min(64 * 1024);
            left -= size;
            let mut chunk = vec![b'x'; size];
            if first {
                first = false;
                chunk[..12].copy_from_slice(b"{\"message\":\"");
            }
            wr.write_all(format!("{size:x}\r\n").as_bytes()).await?;
            wr.write_all(&chunk).await?;
            wr.write_all(b"\r\n").await?;
        }
        wr.write_all(b"0\r\n\r\n").await?;
        Ok::<_, std::io::Error>(())
    });
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        let got = tokio::time::timeout(std::time::Duration::from_secs(30), rd.read(&mut buf))
            .await
            .expect("an answer within 30 s")
            .expect("read");
        assert!(got > 0, "the connection closed without an answer");
        answer.extend_from_slice(&buf[..got]);
    }
    let _ = writer.await;
    let line = String::from_utf8_lossy(&answer);
    line.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {line}"))
}

/// A refusal the model can act on: `ok: false` and a sentence.
fn refused(r: &Value) -> &str {
    assert_eq!(r["ok"], json!(false), "{r}");
    let m = r["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no message: {r}"));
    assert!(m.len() > 10, "{r}");
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_numbers_and_dates_get_clear_refusals() {
    let app = TestApp::spawn().await;
    let clinic = app
        .create_clinic_with("Smile Dental", 1, |b| {
            b["booking_horizon_days"] = json!(365)
        })
        .await;
    let call = app.call(&clinic, CALLER);
    let (_, held) = booking_e2e::hold_first_slot(&call, "Checkup", "Jane").await;
    let hold = held["hold_id"].as_str().unwrap().to_owned();

    // Phone numbers in every malformed shape: refused with the reason, nothing texted.
    for phone in PHONES {
        let r = call
            .tool("send_otp", json!({"hold_id": hold, "phone": phone}))
            .await;
        // Read as the caller's own number: no number, typed separators, the 00 prefix.
        let own = ["", "+1 (415) 555-0123", "0014155550123", CALLER];
        if own.contains(&phone.trim()) {
            assert_eq!(r["ok"], json!(true), "{phone:?}: {r}");
            continue;
        }
        assert_eq!(r["ok"], json!(false), "{phone:?}: {r}");
        let m = refused(&r);
        assert!(m.to_lowercase().contains("number"), "{phone:?}: {m}");
    }
    for phone in ["+1 (415) 555-0123", "4155550123", "+", "+1415555O123"] {
        let r = call
            .tool(
                "capture_lead",
                json!({"caller_name": "Jo", "notes": "call me", "phone": phone}),
            )
            .await;
        assert!(r["ok"].is_boolean(), "{phone:?}: {r}");
    }
    app.outbox_settled().await;
    let texted: Vec<String> = app.twilio.messages().iter().map(|m| m.to.clone()).collect();
    assert!(
        texted.iter().all(|to| to == CALLER),
        "only the caller's own number got a text: {texted:?}"
    );

    // Dates in the past, far ahead, inside the spring-forward gap, impossible: refused, saying why.
    for (start, why) in [
        ("2026-03-08T02:30", "clocks change"),
        ("2027-03-14T02:30", "clocks change"),
        ("2027-03-14T02:30:00", "clocks change"),
        ("1999-01-01T10:00:00Z", "passed"),
        ("2020-06-01T10:00", "passed"),
        ("9999-12-31T10:00:00Z", "ahead"),
        ("2400-01-01T10:00", "ahead"),
        ("2026-02-30T10:00", ""),
        ("25:61", ""),
        ("tomorrow at 2", ""),
    ] {
        let r = call
            .tool(
                "reserve_slot",
                json!({"start": start, "service": "Checkup", "caller_name": "Jane"}),
            )
            .await;
        assert_eq!(r["ok"], json!(false), "{start}: {r}");
        let m = refused(&r);
        assert!(
            m.contains(why) || (why == "ahead" && m.contains("exactly as check_availability")),
            "{start}: {m}"
        );
        let r = call
            .tool(
                "reschedule_appointment",
                json!({"appointment_id": uuid::Uuid::new_v4().to_string(), "new_start": start}),
            )
            .await;
        refused(&r);
    }
    for (date, after) in [
        ("1999-01-01", None),
        ("9999-12-31", None),
        ("2026-02-30", None),
        ("2026-13-01", None),
        ("yesterday", None),
        ("2027-03-14", Some("02:30")),
        ("2027-03-14", Some("25:00")),
    ] {
        let mut args = json!({"service": "Checkup", "date": date});
        if let Some(a) = after {
            args["after"] = json!(a);
        }
        let r = call.tool("check_availability", args).await;
        match r["ok"].as_bool() {
            // A day in the DST change still has slots after 02:30 (which is read as 03:00).
            Some(true) => {
                assert_eq!(date, "2027-03-14", "{r}");
                assert!(!r["slots"].as_array().unwrap().is_empty(), "{r}");
            }
            _ => {
                refused(&r);
            }
        }
    }

    // The operator API names each bad field.
    let (status, err) = app
        .admin(
            Method::PATCH,
            &format!("/admin/tenants/{}", clinic.id),
            Some(json!({
                "alert_numbers": ["+1 (415) 555-0123", "555", "+", "+1415555012345678901"],
                "phone_numbers": [{"number": "tel:+14155550123"}],
                "twilio": {"account_sid": "AC123", "auth_token": "x", "from": "4155550123"},
                "timezone": "America/Nowhere",
                "weekly_hours": {"mon": [["25:00", "26:00"]], "xyz": [["09:00", "17:00"]]},
            })),
        )
        .await;
    assert_eq!(status, 400, "{err}");
    let fields: Vec<String> = err["details"]
        .as_array()
        .unwrap_or_else(|| panic!("details: {err}"))
        .iter()
        .map(|d| d["field"].as_str().unwrap_or_default().to_owned())
        .collect();
    for f in [
        "alert_numbers[1]",
        "alert_numbers[2]",
        "alert_numbers[3]",
        "phone_numbers[0].number",
        "twilio.from",
        "twilio.account_sid",
        "timezone",
    ] {
        assert!(
            fields.iter().any(|g| g.starts_with(f)),
            "{f} not named in {fields:?}"
        );
    }
    // Nothing was changed by the refused request.
    let (_, t) = app
        .admin(Method::GET, &format!("/admin/tenants/{}", clinic.id), None)
        .await;
    assert_eq!(t["alert_numbers"], json!(clinic.alert_numbers));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_without_the_secret_are_refused() {
    let app = TestApp::spawn().await;
    let clinic = app.create_clinic("Smile Dental", 1).await;
    let call = app.call(&clinic, CALLER);
    let body = json!({"message": {"type": "tool-calls",
        "call": {"id": call.id, "phoneNumberId": clinic.phone_number_id},
        "phoneNumber": {"number": clinic.called},
        "toolCallList": [{"id": "t1", "type": "function",
            "function": {"name": "check_availability", "arguments": {"service": "Checkup"}}}]}})
    .to_string();
    let wrong = [
        vec![],
        vec![("X-Vapi-Secret", "wrong".to_owned())],
        vec![("X-Vapi-Secret", format!("{VAPI_SECRET}x"))],
        vec![(
            "X-Vapi-Secret",
            VAPI_SECRET[..VAPI_SECRET.len() - 1].to_owned(),
        )],
        vec![("X-Vapi-Secret", String::new())],
        vec![("Authorization", format!("Bearer {VAPI_SECRET}x"))],
        vec![("Authorization", format!("Basic {VAPI_SECRET}"))],
        vec![("Authorization", VAPI_SECRET.to_owned())],
        vec![("X-Vapi-Signature", VAPI_SECRET.to_owned())],
    ];
    for headers in &wrong {
        for path in ["/vapi/webhook", "/vapi/tools/check_availability"] {
            let (status, text) = post_raw(&app, path, body.clone().into_bytes(), headers).await;
            assert_eq!(status, 401, "{path} with {headers:?}: {text}");
            assert!(!text.contains("slots"), "{text}");
        }
    }
    // The right secret, either way, is let in.
    for headers in [
        vec![("X-Vapi-Secret", VAPI_SECRET.to_owned())],
        vec![("Authorization", format!("Bearer {VAPI_SECRET}"))],
    ] {
        let (status, text) =
            post_raw(&app, "/vapi/webhook", body.clone().into_bytes(), &headers).await;
        assert_eq!(status, 200, "{text}");
    }
    // Twilio's webhooks with a signature made with another token, or over another URL.
    let form = [
        ("MessageSid", "SM0123456789abcdef0123456789abcdef"),
        ("AccountSid", clinic.account_sid.as_str()),
        ("From", CALLER),
        ("To", clinic.from.as_str()),
        ("Body", "STOP"),
    ];
    for (token, url) in [
        ("not-the-token-0123", format!("{}/twilio/inbound", app.base)),
        (
            clinic.auth_token.as_str(),
            "https://elsewhere.example/twilio/inbound".to_owned(),
        ),
        (
            clinic.auth_token.as_str(),
            format!("{}/twilio/status", app.base),
        ),
    ] {
        let sig = fake_twilio::twilio_signature(token, &url, &form);
        let resp = app
            .http
            .post(app.url("/twilio/inbound"))
            .header("X-Twilio-Signature", sig)
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 401);
    }
    let opted_out = app
        .db
        .execute("SELECT 1 FROM contacts WHERE opted_out_at IS NOT NULL")
        .await;
    assert_eq!(opted_out, 0, "a forged STOP changed nothing");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hmac_webhooks_outside_the_window_are_refused() {
    let app = TestApp::spawn_with(|env| {
        env.insert("VAPI_AUTH".into(), "hmac".into());
        // An HMAC signature cannot travel as a fixed header: Vapi signs with its credential.
        env.insert("VAPI_CREDENTIAL_ID".into(), "cred-hmac-1".into());
    })
    .await;
    let clinic = app.create_clinic("Smile Dental", 1).await;
    let body = json!({"message": {"type": "tool-calls",
        "call": {"id": "c1", "phoneNumberId": clinic.phone_number_id},
        "phoneNumber": {"number": clinic.called},
        "toolCallList": [{"id": "t1", "type": "function",
            "function": {"name": "check_availability", "arguments": {"service": "Checkup"}}}]}})
    .to_string();
    let now = jiff::Timestamp::now().as_second();
    let sign =
        |ts: &str, body: &str| api::auth::hmac_hex(VAPI_SECRET.as_bytes(), ts, body.as_bytes());
    let send = |headers: Vec<(&'static str, String)>, body: String| {
        let app = &app;
        async move { post_raw(app, "/vapi/webhook", body.into_bytes(), &headers).await }
    };
    // Signed now: accepted (seconds or milliseconds, with or without the sha256= prefix).
    for ts in [now.to_string(), (now * 1000).to_string()] {
        let sig = sign(&ts, &body);
        for sig in [sig.clone(), format!("sha256={sig}")] {
            let (status, text) = send(
                vec![("x-signature", sig), ("x-timestamp", ts.clone())],
                body.clone(),
            )
            .await;
            assert_eq!(status, 200, "{text}");
        }
    }
    let ts = now.to_string();
    let good = sign(&ts, &body);
    let mut tampered = good.clone().into_bytes();
    tampered[10] = if tampered[10] == b'a' { b'b' } else { b'a' };
    let tampered = String::from_utf8(tampered).unwrap();
    let other_body = body.replace("Checkup", "Teeth Whitening");
    let cases: Vec<(&str, Headers, String)> = vec![
        ("no headers", vec![], body.clone()),
        (
            "no timestamp",
            vec![("x-signature", good.clone())],
            body.clone(),
        ),
        (
            "no signature",
            vec![("x-timestamp", ts.clone())],
            body.clone(),
        ),
        (
            "shared secret instead",
            vec![("X-Vapi-Secret", VAPI_SECRET.to_owned())],
            body.clone(),
        ),
        (
            "tampered signature",
            vec![("x-signature", tampered), ("x-timestamp", ts.clone())],
            body.clone(),
        ),
        (
            "another body",
            vec![("x-signature", good.clone()), ("x-timestamp", ts.clone())],
            other_body,
        ),
        (
            "another timestamp",
            vec![
                ("x-signature", good.clone()),
                ("x-timestamp", (now - 1).to_string()),
            ],
            body.clone(),
        ),
        (
            "garbage timestamp",
            vec![
                ("x-signature", good.clone()),
                ("x-timestamp", "soon".into()),
            ],
            body.clone(),
        ),
    ];
    for (what, headers, b) in cases {
        let (status, text) = send(headers, b).await;
        assert_eq!(status, 401, "{what}: {text}");
    }
    // Correctly signed, but outside the 5-minute replay window, either side. A minute of margin:
    // the server reads its clock later than this test did (the exact edge is a unit test in
    // crates/api/src/auth.rs, with the clock given).
    for ts in [now - 360, now + 360, now - 86_400, 0] {
        let ts = ts.to_string();
        let (status, text) = send(
            vec![
                ("x-signature", sign(&ts, &body)),
                ("x-timestamp", ts.clone()),
            ],
            body.clone(),
        )
        .await;
        assert_eq!(status, 401, "timestamp {ts}: {text}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guessing_codes_stops_at_five_checks_per_code_and_five_codes() {
    let app = TestApp::spawn().await;
    let clinic = app.create_clinic("Smile Dental", 1).await;
    let call = app.call(&clinic, CALLER);
    let (_, held) = booking_e2e::hold_first_slot(&call, "Checkup", "Mallory").await;
    let hold = held["hold_id"].as_str().unwrap().to_owned();

    let mut codes_sent = 0;
    let mut checks = 0;
    let mut last_code = String::new();
    for round in 0..8 {
        let sent = call.tool("send_otp", json!({"hold_id": hold})).await;
        if sent["ok"] != json!(true) {
            refused(&sent);
            assert!(round >= 5, "refused a code after only {round}: {sent}");
            continue;
        }
        codes_sent += 1;
        last_code = code_in(&app.texts_to(CALLER, codes_sent).await[codes_sent - 1].body);
        for guess in 0..8 {
            let wrong = format!("{:06}", (guess * 111_111 + round) % 1_000_000);
            if wrong == last_code {
                continue;
            }
            let r = call
                .tool("verify_otp", json!({"hold_id": hold, "code": wrong}))
                .await;
            assert_eq!(r["ok"], json!(false), "{r}");
            if r.get("attempts_left").is_some() {
                checks += 1;
            }
        }
        // After five wrong guesses even the right code is refused.
        let r = call
            .tool("verify_otp", json!({"hold_id": hold, "code": last_code}))
            .await;
        refused(&r);
    }
    assert_eq!(codes_sent, 5, "five codes per number in ten minutes");
    assert!(checks <= 25, "{checks} guesses were checked");
    assert_eq!(
        app.twilio.messages_to(CALLER).len(),
        5,
        "no more codes were texted"
    );
    // A new call from the same number gets no fresh allowance either.
    let again = app.call(&clinic, CALLER);
    let r = again.tool("send_otp", json!({"hold_id": hold})).await;
    refused(&r);
    let r = again
        .tool("verify_otp", json!({"hold_id": hold, "code": last_code}))
        .await;
    refused(&r);
    let confirmed = app
        .db
        .execute("SELECT 1 FROM bookings WHERE status = 'confirmed'")
        .await;
    assert_eq!(confirmed, 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_call_cannot_text_fifty_numbers() {
    let app = TestApp::spawn().await;
    let clinic = app.create_clinic("Smile Dental", 1).await;
    let call = app.call(&clinic, CALLER);
    // Ten holds, five numbers each: fifty numbers asked for from one call.
    let mut asked = 0;
    let mut sent_ok = 0;
    for h in 0..10 {
        let day = jiff::Timestamp::now()
            .in_tz("America/New_York")
            .unwrap()
            .date()
            .checked_add(jiff::Span::new().days(1 + h))
            .unwrap();
        let avail = call
            .tool(
                "check_availability",
                json!({"service": "Checkup", "date": day.to_string()}),
            )
            .await;
        let start = avail["slots"][0]["start"].as_str().unwrap().to_owned();
        let held = call
            .tool(
                "reserve_slot",
                json!({"start": start, "service": "Checkup", "caller_name": "Pump"}),
            )
            .await;
        let hold = held["hold_id"].as_str().unwrap().to_owned();
        for n in 0..5 {
            let number = format!("+1447700{:04}", h * 5 + n);
            let r = call
                .tool("send_otp", json!({"hold_id": hold, "phone": number}))
                .await;
            asked += 1;
            if r["ok"] == json!(true) {
                sent_ok += 1;
            } else {
                refused(&r);
            }
        }
    }
    app.outbox_settled().await;
    let texts = app.twilio.messages();
    let mut numbers: Vec<&str> = texts.iter().map(|m| m.to.as_str()).collect();
    numbers.sort();
    numbers.dedup();
    eprintln!(
        "{asked} numbers asked for, {} texts sent to {} numbers",
        texts.len(),
        numbers.len()
    );
    assert_eq!(asked, 50);
    assert_eq!(texts.len(), sent_ok);
    assert!(
        numbers.len() <= 3,
        "one call reached {} numbers",
        numbers.len()
    );
    assert!(texts.len() <= 5, "one call sent {} codes", texts.len());
    app.stop().await;
}

/// Tenant B's rows: a hold, a confirmed appointment, a finished call, its texts.
struct Other {
    hold: String,
    appointment: String,
    start: String,
    call_id: String,
}

async fn clinic_b_rows(app: &TestApp, b: &Clinic) -> Other {
    let call = app.call(b, CALLER);
    let (appointment, start) = book(&call, "Checkup").await;
    let (status, _) = call
        .end_of_call(
            json!({"caller_name": "Bea", "service_interest": "Checkup"}),
            60,
        )
        .await;
    assert_eq!(status, 200);
    let avail = call
        .tool("check_availability", json!({"service": "Checkup"}))
        .await;
    let hold_start = avail["slots"][0]["start"].as_str().unwrap().to_owned();
    let held = call
        .tool(
            "reserve_slot",
            json!({"start": hold_start, "service": "Checkup", "caller_name": "Bea"}),
        )
        .await;
    Other {
        hold: held["hold_id"].as_str().unwrap().to_owned(),
        appointment,
        start,
        call_id: call.id.clone(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_to_clinic_a_reaches_nothing_of_clinic_b() {
    let app = TestApp::spawn().await;
    let a = app.create_clinic("Clinic A", 1).await;
    let b = app.create_clinic("Clinic B", 2).await;
    // The same caller has rows at B; the call goes to A.
    let other = clinic_b_rows(&app, &b).await;
    app.outbox_settled().await;
    let texts_before = app.twilio.messages().len();
    let b_code = code_in(&app.twilio.messages_to(CALLER)[0].body);

    let call: Call<'_> = app.call(&a, CALLER);
    let later = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(50);
    let attempts = [
        ("send_otp", json!({"hold_id": other.hold})),
        (
            "send_otp",
            json!({"hold_id": other.hold, "phone": "+14155550999"}),
        ),
        ("verify_otp", json!({"hold_id": other.hold, "code": b_code})),
        (
            "verify_otp",
            json!({"hold_id": other.appointment, "code": b_code}),
        ),
        (
            "send_confirmation_sms",
            json!({"appointment_id": other.appointment}),
        ),
        (
            "cancel_appointment",
            json!({"appointment_id": other.appointment}),
        ),
        ("cancel_appointment", json!({"appointment_id": other.hold})),
        (
            "reschedule_appointment",
            json!({"appointment_id": other.appointment, "new_start": later.to_string()}),
        ),
        ("cancel_appointment", json!({"tenant_id": b.id})),
        (
            "reschedule_appointment",
            json!({"new_start": later.to_string(), "tenant_id": b.id}),
        ),
    ];
    for (name, args) in &attempts {
        for path in ["/vapi/webhook".to_owned(), format!("/vapi/tools/{name}")] {
            let body = json!({"message": {"type": "tool-calls",
                "call": {"id": call.id, "phoneNumberId": a.phone_number_id, "customer": {"number": CALLER}},
                "phoneNumber": {"number": a.called},
                "customer": {"number": CALLER},
                "toolCallList": [{"id": call.next_tool_call_id(), "type": "function",
                    "function": {"name": name, "arguments": args.to_string()}}]}});
            let (status, reply) = app.vapi_at(&path, &body).await;
            assert_eq!(status, 200, "{reply}");
            let r = result_of(&reply["results"][0]);
            assert_eq!(r["ok"], json!(false), "{name} {args} via {path}: {r}");
            let text = r.to_string();
            assert!(
                !text.contains(&other.appointment) && !text.contains(&other.hold),
                "{name} echoed B's ids: {text}"
            );
        }
    }
    // Capturing a lead and ending the call under B's call id land at A (or nowhere), not at B.
    let body = json!({"message": {"type": "tool-calls",
        "call": {"id": other.call_id, "phoneNumberId": a.phone_number_id, "customer": {"number": CALLER}},
        "phoneNumber": {"number": a.called},
        "toolCallList": [{"id": "spoof-1", "type": "function",
            "function": {"name": "capture_lead", "arguments": {"caller_name": "Eve", "notes": "overwrite"}}}]}});
    let (status, _) = app.vapi(&body).await;
    assert_eq!(status, 200);
    let mut report = fixture("end-of-call-report");
    let m = &mut report["message"];
    m["call"]["id"] = json!(other.call_id);
    m["call"]["phoneNumberId"] = json!(a.phone_number_id);
    m["phoneNumber"] = json!({"id": a.phone_number_id, "number": a.called});
    m["analysis"]["structuredData"] = json!({"caller_name": "Eve"});
    let (status, _) = app.vapi(&report).await;
    assert_eq!(status, 200);

    // B's rows are as they were.
    let rows = |sql: String| {
        let app = &app;
        async move { app.db.execute(&sql).await }
    };
    assert_eq!(
        rows(format!("SELECT 1 FROM bookings WHERE id = '{}' AND tenant_id = '{}' AND status = 'confirmed' AND starts_at = '{}'", other.appointment, b.id, other.start)).await,
        1,
        "B's appointment is untouched"
    );
    assert_eq!(
        rows(format!(
            "SELECT 1 FROM bookings WHERE id = '{}' AND status = 'held'",
            other.hold
        ))
        .await,
        1,
        "B's hold is untouched"
    );
    assert_eq!(
        rows(format!("SELECT 1 FROM calls WHERE tenant_id = '{}' AND call_id = '{}' AND lead_caller_name = 'Bea' AND (lead_notes IS NULL OR lead_notes <> 'overwrite')", b.id, other.call_id)).await,
        1,
        "B's call is untouched"
    );
    assert_eq!(
        rows(format!(
            "SELECT 1 FROM outbound_messages WHERE tenant_id = '{}'",
            a.id
        ))
        .await,
        0,
        "nothing was queued at A on B's behalf"
    );
    app.outbox_settled().await;
    assert_eq!(
        app.twilio.messages().len(),
        texts_before,
        "nothing more was texted"
    );
    app.stop().await;
}

// --- OTP limits under concurrency, phone changes, countries, the clinic's budget -------------

/// Runs the futures at once and waits for all of them.
async fn all_at_once<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    booking_core::testing::futures_join_all(futures).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_guesses_at_once_get_five_checks() {
    let app = TestApp::spawn().await;
    let clinic = app.create_clinic("Smile Dental", 1).await;
    let call = app.call(&clinic, CALLER);
    let (_, held) = booking_e2e::hold_first_slot(&call, "Checkup", "Mallory").await;
    let hold = held["hold_id"].as_str().unwrap().to_owned();
    let sent = call.tool("send_otp", json!({"hold_id": hold})).await;
    assert_eq!(sent["ok"], json!(true), "{sent}");
    let code = code_in(&app.texts_to(CALLER, 1).await[0].body);
    let wrong: Vec<String> = (1..=20u32)
        .map(|i| format!("{:06}", (code.parse::<u32>().unwrap() + i * 7) % 1_000_000))
        .collect();
    let answers = all_at_once(
        wrong
            .iter()
            .map(|w| call.tool("verify_otp", json!({"hold_id": hold, "code": w})))
            .collect(),
    )
    .await;
    let checked = answers
        .iter()
        .filter(|r| r.get("attempts_left").is_some())
        .count();
    for r in &answers {
        refused(r);
    }
    assert!(
        checked <= 5,
        "{checked} of 20 concurrent guesses were checked"
    );
    let counted = app
        .db
        .execute("SELECT 1 FROM otp_challenges WHERE failed_checks > 5")
        .await;
    assert_eq!(counted, 0, "a code was checked more than five times");
    // The right code after five wrong ones is refused.
    let r = call
        .tool("verify_otp", json!({"hold_id": hold, "code": code}))
        .await;
    refused(&r);
    assert_eq!(
        app.db
            .execute("SELECT 1 FROM bookings WHERE status = 'confirmed'")
            .await,
        0
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_sends_at_once_text_one_number_five_codes() {
    let app = TestApp::spawn().await;
    let clinic = app.create_clinic("Smile Dental", 1).await;
    let victim = "+19255550177";
    // Twenty calls from twenty numbers, each holding a time, all asking for a code to one number.
    let mut calls = Vec::new();
    let mut holds = Vec::new();
    for i in 0..20 {
        let call = app.call(&clinic, &format!("+1415555{:04}", 2000 + i));
        let (_, held) = booking_e2e::hold_first_slot(&call, "Checkup", "Pump").await;
        holds.push(held["hold_id"].as_str().expect("held").to_owned());
        calls.push(call);
    }
    let answers = all_at_once(
        calls
            .iter()
            .zip(&holds)
            .map(|(call, hold)| call.tool("send_otp", json!({"hold_id": hold, "phone": victim})))
            .collect(),
    )
    .await;
    let ok = answers.iter().filter(|r| r["ok"] == json!(true)).count();
    app.outbox_settled().await;
    let texted = app.twilio.messages_to(victim).len();
    assert_eq!(ok, 5, "sends answered ok: {answers:?}");
    assert_eq!(texted, 5, "codes texted to one number");
    app.stop().await;
}

/// The caller ID of a booked patient, spoofed: without the code texted to the patient's phone,
/// nothing changes, and every wrong code counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spoofed_caller_id_cannot_cancel_or_move_an_appointment() {
    let app = TestApp::spawn().await;
    let clinic = app.create_clinic("Smile Dental", 1).await;
    let patient = app.call(&clinic, CALLER);
    let (appointment, start) = book(&patient, "Checkup").await;
    app.outbox_settled().await;
    let texts_before = app.twilio.messages_to(CALLER).len();

    let spoofed = app.call(&clinic, CALLER);
    let r = spoofed.tool("cancel_appointment", json!({})).await;
    assert_eq!(r["ok"], json!(false), "{r}");
    assert_eq!(r["needs_code"], json!(true), "{r}");
    assert_eq!(r["appointment_id"], json!(appointment), "{r}");
    assert!(
        r["message"].as_str().unwrap().contains("code"),
        "a sentence the model can say: {r}"
    );
    let texts = app.texts_to(CALLER, texts_before + 1).await;
    assert_eq!(
        texts.len(),
        texts_before + 1,
        "the code went to the patient"
    );
    let real_code = code_in(&texts.last().unwrap().body);
    let avail = spoofed
        .tool("check_availability", json!({"service": "Checkup"}))
        .await;
    let later = avail["slots"][0]["start"].as_str().unwrap().to_owned();
    let moved = spoofed
        .tool(
            "reschedule_appointment",
            json!({"appointment_id": appointment, "new_start": later}),
        )
        .await;
    assert_eq!(moved["ok"], json!(false), "{moved}");
    assert_eq!(moved["needs_code"], json!(true), "{moved}");
    // Guesses: each wrong one counts, the fifth ends the code, and then even the real code fails.
    let mut left = Vec::new();
    for i in 1..=5u32 {
        let guess = format!("{:06}", (real_code.parse::<u32>().unwrap() + i) % 1_000_000);
        let tool = if i % 2 == 0 {
            "reschedule_appointment"
        } else {
            "cancel_appointment"
        };
        let r = spoofed
            .tool(
                tool,
                json!({"appointment_id": appointment, "new_start": later, "code": guess}),
            )
            .await;
        assert_eq!(r["ok"], json!(false), "{r}");
        left.push(r["attempts_left"].clone());
    }
    // The reschedule above texted a new code (replacing the first); the guesses ran against it.
    assert_eq!(left, [json!(4), json!(3), json!(2), json!(1), json!(0)]);
    let texts = app.texts_to(CALLER, texts_before + 2).await;
    assert_eq!(
        texts.len(),
        texts_before + 2,
        "two codes, both to the patient"
    );
    let newest = code_in(&texts.last().unwrap().body);
    let r = spoofed
        .tool(
            "cancel_appointment",
            json!({"appointment_id": appointment, "code": newest}),
        )
        .await;
    assert_eq!(
        r["ok"],
        json!(false),
        "the right code after five wrong ones: {r}"
    );
    let still = app
        .db
        .execute(&format!(
            "SELECT 1 FROM bookings WHERE id = '{appointment}' AND status = 'confirmed' AND starts_at = '{start}'"
        ))
        .await;
    assert_eq!(still, 1, "the appointment is untouched");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_patient_cancels_and_moves_with_the_code_and_another_clinics_id_gets_nothing() {
    let app = TestApp::spawn().await;
    let a = app.create_clinic("Clinic A", 1).await;
    let b = app.create_clinic("Clinic B", 2).await;
    let (first, _) = book(&app.call(&a, CALLER), "Checkup").await;
    let (second, _) = book(&app.call(&a, CALLER), "Checkup").await;
    let (at_b, b_start) = book(&app.call(&b, CALLER), "Checkup").await;
    app.outbox_settled().await;

    // Another clinic's appointment id, even with a code that clinic texted: nothing.
    let call = app.call(&a, CALLER);
    let before = app.twilio.messages().len();
    let b_code = code_in(
        &app.twilio
            .messages_to(CALLER)
            .iter()
            .rev()
            .find(|m| m.body.contains("your code is"))
            .expect("B's code")
            .body,
    );
    for args in [
        json!({"appointment_id": at_b}),
        json!({"appointment_id": at_b, "code": b_code}),
    ] {
        let r = call.tool("cancel_appointment", args.clone()).await;
        assert_eq!(r["ok"], json!(false), "{r}");
        assert!(r.get("needs_code").is_none(), "{r}");
        let mut moved = args.clone();
        moved["new_start"] =
            json!((jiff::Timestamp::now() + jiff::SignedDuration::from_hours(70)).to_string());
        let r = call.tool("reschedule_appointment", moved).await;
        assert_eq!(r["ok"], json!(false), "{r}");
        assert!(!r.to_string().contains(&at_b), "{r}");
    }
    app.outbox_settled().await;
    assert_eq!(app.twilio.messages().len(), before, "nothing was texted");
    assert_eq!(
        app.db
            .execute(&format!(
                "SELECT 1 FROM bookings WHERE id = '{at_b}' AND status = 'confirmed' AND starts_at = '{b_start}'"
            ))
            .await,
        1
    );

    // The patient: a code, then the change.
    let n = app.twilio.messages_to(CALLER).len();
    let r = call
        .tool("cancel_appointment", json!({"appointment_id": first}))
        .await;
    assert_eq!(r["needs_code"], json!(true), "{r}");
    let code = code_in(&app.texts_to(CALLER, n + 1).await.last().unwrap().body);
    let r = call
        .tool(
            "cancel_appointment",
            json!({"appointment_id": first, "code": code}),
        )
        .await;
    assert_eq!(r["ok"], json!(true), "{r}");
    assert_eq!(r["status"], json!("cancelled"), "{r}");

    let avail = call
        .tool("check_availability", json!({"service": "Checkup"}))
        .await;
    let new_start = avail["slots"][0]["start"].as_str().unwrap().to_owned();
    let args = json!({"appointment_id": second, "new_start": new_start});
    let r = call.tool("reschedule_appointment", args.clone()).await;
    assert_eq!(r["needs_code"], json!(true), "{r}");
    let n = app.twilio.messages_to(CALLER).len();
    let code = code_in(&app.texts_to(CALLER, n + 1).await.last().unwrap().body);
    let mut with_code = args.clone();
    with_code["code"] = json!(code);
    let r = call.tool("reschedule_appointment", with_code.clone()).await;
    assert_eq!(r["ok"], json!(true), "{r}");
    let moved_to = r["appointment_id"].as_str().unwrap().to_owned();
    // The code was used up: the same code moves nothing again.
    with_code["appointment_id"] = json!(moved_to);
    let r = call.tool("reschedule_appointment", with_code).await;
    assert_eq!(r["ok"], json!(false), "{r}");
    assert_eq!(
        app.db
            .execute("SELECT 1 FROM bookings WHERE status = 'confirmed'")
            .await,
        2,
        "B's appointment and the moved one"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_go_only_to_the_countries_a_clinic_allows() {
    let app = TestApp::spawn().await;
    let clinic = app.create_clinic("Smile Dental", 1).await;
    let call = app.call(&clinic, CALLER);
    let (_, held) = booking_e2e::hold_first_slot(&call, "Checkup", "Pump").await;
    let hold = held["hold_id"].as_str().unwrap().to_owned();
    let canada = "+14165550123";
    // The clinic's own country (its numbers are American) only, by default: premium
    // international ranges, other countries and Canada are refused.
    for number in ["+88216123456", "+442079460958", "+37120000000", canada] {
        let r = call
            .tool("send_otp", json!({"hold_id": hold, "phone": number}))
            .await;
        let said = refused(&r);
        assert!(said.contains("US"), "{said}");
    }
    let (status, view) = app
        .admin(Method::GET, &format!("/admin/tenants/{}", clinic.id), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(view["otp_allowed_countries"], json!([]));
    assert_eq!(view["otp_countries_in_effect"], json!(["US"]));
    // The operator allows Canada too.
    let (status, body) = app
        .admin(
            Method::PATCH,
            &format!("/admin/tenants/{}", clinic.id),
            Some(json!({"otp_allowed_countries": ["US", "ZZ", "+1"]})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.to_string().contains("otp_allowed_countries[1]"),
        "{body}"
    );
    let (status, view) = app
        .admin(
            Method::PATCH,
            &format!("/admin/tenants/{}", clinic.id),
            Some(json!({"otp_allowed_countries": ["us", "CA"]})),
        )
        .await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["otp_allowed_countries"], json!(["US", "CA"]));
    let r = call
        .tool("send_otp", json!({"hold_id": hold, "phone": canada}))
        .await;
    assert_eq!(r["ok"], json!(true), "{r}");
    let r = call
        .tool(
            "send_otp",
            json!({"hold_id": hold, "phone": "+88216123456"}),
        )
        .await;
    refused(&r);
    app.outbox_settled().await;
    let texted: Vec<String> = app.twilio.messages().iter().map(|m| m.to.clone()).collect();
    assert_eq!(texted, [canada], "only the allowed number was texted");
    app.stop().await;
}

/// Forty hostile calls, each asking for as many codes as it can, at once: the clinic's budget
/// is under pressure, but a patient calling from a new number still gets a code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_hostile_calls_leave_codes_for_new_callers() {
    let app = TestApp::spawn().await;
    let clinic = app.create_clinic("Smile Dental", 1).await;
    let mut calls = Vec::new();
    let mut holds = Vec::new();
    for i in 0..40 {
        let call = app.call(&clinic, &format!("+1415555{:04}", 3000 + i));
        let (_, held) = booking_e2e::hold_first_slot(&call, "Checkup", "Pump").await;
        holds.push(held["hold_id"].as_str().expect("held").to_owned());
        calls.push(call);
    }
    let flood = calls
        .iter()
        .zip(&holds)
        .map(|(call, hold)| async move {
            let mut ok = 0;
            for _ in 0..5 {
                let r = call.tool("send_otp", json!({"hold_id": hold})).await;
                if r["ok"] == json!(true) {
                    ok += 1;
                }
            }
            ok
        })
        .collect();
    let sent: u32 = all_at_once(flood).await.into_iter().sum();
    eprintln!("the flood got {sent} codes");
    assert!(sent < 200, "the flood used the whole budget: {sent}");

    let patient = app.call(&clinic, "+19255550188");
    let (_, held) = booking_e2e::hold_first_slot(&patient, "Checkup", "Jane Doe").await;
    let r = patient
        .tool("send_otp", json!({"hold_id": held["hold_id"]}))
        .await;
    assert_eq!(r["ok"], json!(true), "a new caller is refused: {r}");
    app.stop().await;
}

/// A `tool-calls` message naming `ids` (phone-number id, called number, assistant id; any may be
/// absent) with one call.
fn tool_call_naming(
    call_id: &str,
    phone_number_id: Option<&str>,
    called: Option<&str>,
    assistant_id: Option<&str>,
    name: &str,
    args: Value,
) -> Value {
    let mut call = json!({"id": call_id, "customer": {"number": CALLER}});
    let mut m = json!({"type": "tool-calls", "customer": {"number": CALLER},
        "toolCallList": [{"id": format!("t-{}", uuid::Uuid::new_v4()), "type": "function",
            "function": {"name": name, "arguments": args.to_string()}}]});
    if let Some(id) = phone_number_id {
        call["phoneNumberId"] = json!(id);
    }
    if let Some(a) = assistant_id {
        call["assistantId"] = json!(a);
    }
    if let Some(n) = called {
        m["phoneNumber"] = json!({"number": n});
    }
    m["call"] = call;
    json!({"message": m})
}

/// Issue 16 item 3: an owner who registers another clinic's Vapi phone-number id on a number of
/// their own must not answer that clinic's calls. When a call names both a phone-number id and a
/// called number, they must belong to the same clinic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_number_id_registered_by_another_clinic_cannot_take_the_call() {
    let app = TestApp::spawn().await;
    // A never registered its number's Vapi id; B registers it on B's own number.
    let a = app
        .create_clinic_with("Clinic A", 1, |b| {
            b["phone_numbers"] = json!([{"number": b["phone_numbers"][0]["number"]}]);
        })
        .await;
    let b = app.create_clinic("Clinic B", 2).await;
    let stolen = "5f0c8a1e-7d2b-4c3a-9e8f-a-number-of-a";
    let (status, body) = app
        .admin(
            Method::PATCH,
            &format!("/admin/tenants/{}", b.id),
            Some(json!({"phone_numbers": [{"number": b.called, "vapi_phone_number_id": stolen}]})),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    // A call to A's number, with A's Vapi id: refused, not answered as B.
    let call_id = uuid::Uuid::new_v4().to_string();
    let mut ar = fixture("assistant-request");
    ar["message"]["call"]["id"] = json!(call_id);
    ar["message"]["call"]["phoneNumberId"] = json!(stolen);
    ar["message"]["phoneNumber"] = json!({"number": a.called});
    let (status, reply) = app.vapi(&ar).await;
    assert_eq!(status, 200);
    assert!(reply.get("assistant").is_none(), "answered: {reply}");
    assert!(reply["error"].is_string(), "{reply}");
    let (status, reply) = app
        .vapi(&tool_call_naming(
            &call_id,
            Some(stolen),
            Some(&a.called),
            None,
            "check_availability",
            json!({"service": "Checkup"}),
        ))
        .await;
    assert_eq!(status, 200);
    let error = reply["results"][0]["error"].as_str().unwrap_or_default();
    assert!(error.contains("not set up for bookings"), "{reply}");

    // The id with B's own number still works for B; A's number alone still works for A.
    let (_, reply) = app
        .vapi(&tool_call_naming(
            &call_id,
            Some(stolen),
            Some(&b.called),
            None,
            "check_availability",
            json!({"service": "Checkup"}),
        ))
        .await;
    assert_eq!(
        result_of(&reply["results"][0])["ok"],
        json!(true),
        "{reply}"
    );
    let (_, reply) = app
        .vapi(&tool_call_naming(
            &call_id,
            None,
            Some(&a.called),
            None,
            "check_availability",
            json!({"service": "Checkup"}),
        ))
        .await;
    assert_eq!(
        result_of(&reply["results"][0])["ok"],
        json!(true),
        "{reply}"
    );

    // An id a clinic has registered cannot be claimed by another, with a clear message.
    let (status, body) = app
        .admin(
            Method::PATCH,
            &format!("/admin/tenants/{}", a.id),
            Some(json!({"phone_numbers": [{"number": a.called, "vapi_phone_number_id": stolen}]})),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(body.to_string().contains("Vapi phone number id"), "{body}");
    app.stop().await;
}

/// A test call from Vapi's dashboard or web widget has no phone number: the clinic is found by
/// the saved assistant's id (`call.assistantId`), which belongs to one clinic only; another
/// clinic's assistant id, wherever it is put, reaches nothing of that clinic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assistant_ids_route_web_calls_and_belong_to_one_clinic() {
    let app = TestApp::spawn().await;
    let a = app
        .create_clinic_with("Clinic A", 1, |b| {
            b["vapi_assistant_ids"] = json!(["asst-a-1", "asst-a-2", "asst-a-1"]);
        })
        .await;
    let b = app
        .create_clinic_with("Clinic B", 2, |b| {
            b["vapi_assistant_ids"] = json!(["asst-b-1"]);
        })
        .await;
    let (status, view) = app
        .admin(Method::GET, &format!("/admin/tenants/{}", a.id), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(view["vapi_assistant_ids"], json!(["asst-a-1", "asst-a-2"]));

    // A second claim of an assistant id is refused with a clear message, on create and update.
    let (status, body) = app
        .admin(
            Method::PATCH,
            &format!("/admin/tenants/{}", b.id),
            Some(json!({"vapi_assistant_ids": ["asst-b-1", "asst-a-2"]})),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(body.to_string().contains("Vapi assistant id"), "{body}");
    let (status, body) = app
        .admin(
            Method::PATCH,
            &format!("/admin/tenants/{}", b.id),
            Some(json!({"vapi_assistant_ids": ["has a space"]})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("vapi_assistant_ids[0]"), "{body}");

    // A web call (no number) running A's assistant books at A.
    let web = uuid::Uuid::new_v4().to_string();
    let (_, reply) = app
        .vapi(&tool_call_naming(
            &web,
            None,
            None,
            Some("asst-a-2"),
            "check_availability",
            json!({"service": "Checkup"}),
        ))
        .await;
    let slots = result_of(&reply["results"][0]);
    assert_eq!(slots["ok"], json!(true), "{reply}");
    // An assistant nobody registered: not set up.
    let (_, reply) = app
        .vapi(&tool_call_naming(
            &web,
            None,
            None,
            Some("asst-unknown"),
            "check_availability",
            json!({"service": "Checkup"}),
        ))
        .await;
    assert!(
        reply["results"][0]["error"]
            .as_str()
            .unwrap_or_default()
            .contains("not set up for bookings"),
        "{reply}"
    );
    // A's number with B's assistant: the two name different clinics, refused.
    let (_, reply) = app
        .vapi(&tool_call_naming(
            &web,
            Some(&a.phone_number_id),
            Some(&a.called),
            Some("asst-b-1"),
            "check_availability",
            json!({"service": "Checkup"}),
        ))
        .await;
    assert!(reply["results"][0]["error"].is_string(), "{reply}");

    // B's rows, reached for from A's web call with B's assistant id in every other field.
    let other = clinic_b_rows(&app, &b).await;
    app.outbox_settled().await;
    let b_code = code_in(&app.twilio.messages_to(CALLER)[0].body);
    let texts_before = app.twilio.messages().len();
    let attempts = [
        (
            "send_otp",
            json!({"hold_id": other.hold, "assistant_id": "asst-b-1"}),
        ),
        (
            "verify_otp",
            json!({"hold_id": other.hold, "code": b_code, "assistantId": "asst-b-1"}),
        ),
        (
            "send_confirmation_sms",
            json!({"appointment_id": other.appointment, "assistant_id": "asst-b-1"}),
        ),
        (
            "cancel_appointment",
            json!({"appointment_id": other.appointment, "tenant_id": b.id}),
        ),
        ("cancel_appointment", json!({"assistant_id": "asst-b-1"})),
    ];
    for (name, args) in attempts {
        let mut body = tool_call_naming(&web, None, None, Some("asst-a-1"), name, args.clone());
        body["message"]["assistant"] = json!({"id": "asst-b-1", "name": "Clinic B"});
        body["message"]["assistantId"] = json!("asst-b-1");
        body["message"]["call"]["assistant"] = json!({"id": "asst-b-1"});
        let (status, reply) = app.vapi(&body).await;
        assert_eq!(status, 200, "{reply}");
        let r = result_of(&reply["results"][0]);
        assert_eq!(r["ok"], json!(false), "{name} {args}: {r}");
        let text = r.to_string();
        assert!(
            !text.contains(&other.appointment) && !text.contains(&other.hold),
            "{name} echoed B's ids: {text}"
        );
    }
    app.outbox_settled().await;
    assert_eq!(app.twilio.messages().len(), texts_before, "nothing texted");
    assert_eq!(
        app.db
            .execute(&format!(
                "SELECT 1 FROM bookings WHERE id = '{}' AND status = 'confirmed'",
                other.appointment
            ))
            .await,
        1,
        "B's appointment is untouched"
    );
    app.stop().await;
}

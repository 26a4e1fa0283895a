//! The owner's dashboard in a real browser: Debian's headless chromium driven through chromedriver
//! (WebDriver over HTTP, from Rust with fantoccini), on a phone-sized window. Signs in, walks the
//! first-time set-up, changes the hours, sends a test SMS to the fake Twilio, watches a hot lead
//! appear live after an end-of-call report, is refused another clinic's pages, and signs out.
//! Links a provider's calendar on a private Radicale the same way.
//!
//! Needs `apt-get install chromium chromium-driver` (/usr/bin/chromium, /usr/bin/chromedriver).
//! Without them this test fails and says so; it never downloads a browser.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use booking_e2e::{Clinic, OWNER_PASSWORD, TestApp, book, zone_where_it_is_midday};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// chromedriver on a free port, and the browser profile directory; both cleaned up on drop.
struct Driver {
    child: tokio::process::Child,
    profile: PathBuf,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

fn require(path: &str) {
    assert!(
        Path::new(path).exists(),
        "{path} is missing: the browser tests need Debian's chromium and chromedriver. \
         Run `apt-get install chromium chromium-driver`."
    );
}

async fn start_driver() -> Driver {
    require(CHROMIUM);
    require(CHROMEDRIVER);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = tokio::process::Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("chromedriver starts");
    let profile = std::env::temp_dir().join(format!(
        "dashboard-browser-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&profile).expect("profile dir");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "chromedriver did not listen on port {port}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Driver {
        child,
        profile,
        url: format!("http://127.0.0.1:{port}"),
    }
}

async fn browser(driver: &Driver) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), json!("chrome"));
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": CHROMIUM,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=412,915",
                format!("--user-data-dir={}", driver.profile.display()),
            ]
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a chromium session through chromedriver")
}

async fn path_of(c: &Client) -> String {
    let url = c.current_url().await.expect("url");
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    }
}

/// Waits up to `secs` for `check` on the page text of `css` to hold.
async fn wait_text(c: &Client, css: &str, secs: u64, check: impl Fn(&str) -> bool) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Ok(e) = c.find(Locator::Css(css)).await
            && let Ok(text) = e.text().await
            && check(&text)
        {
            return text;
        }
        if tokio::time::Instant::now() > deadline {
            let source = c.source().await.unwrap_or_default();
            panic!("{css} never matched within {secs} s; page: {source}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn fill(c: &Client, css: &str, value: &str) {
    let e = c
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"));
    e.clear().await.expect("clear");
    e.send_keys(value).await.expect("type");
}

async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("click {css}: {e}"));
}

async fn wait_path(c: &Client, want: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let p = path_of(c).await;
        if p == want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "expected to be at {want}, still at {p}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_uses_the_dashboard_in_a_real_browser() {
    let driver = start_driver().await;
    let app = TestApp::spawn().await;
    let clinic = app.create_clinic("Smile Dental", 21).await;
    let other = app.create_clinic("Other Clinic", 22).await;
    let (status, _) = app
        .create_owner(&clinic, "ann@smile.example", OWNER_PASSWORD)
        .await;
    assert_eq!(status, 201);
    // The other clinic has an appointment and a call the owner must never reach.
    let theirs = app.call(&other, "+15558880001");
    let (their_appointment, _) = book(&theirs, "Checkup").await;
    let their_call = theirs.id.clone();
    drop(theirs);

    let c = browser(&driver).await;
    let app = Arc::new(app);
    // The steps run in their own task so that a failure still closes the browser below.
    let steps = tokio::spawn(walk(
        c.clone(),
        app.clone(),
        clinic.clone(),
        their_appointment,
        their_call,
    ));
    let outcome = steps.await;
    let _ = c.close().await;
    if let Ok(app) = Arc::try_unwrap(app) {
        app.stop().await;
    }
    drop(driver);
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn walk(
    c: Client,
    app: Arc<TestApp>,
    clinic: Clinic,
    their_appointment: String,
    their_call: String,
) {
    let clinic_id = &clinic.id;

    // Signing in. The first sign-in opens the walk-through.
    c.goto(&app.url("/app")).await.expect("goto");
    wait_path(&c, "/app/login").await;
    fill(&c, "input[name=email]", "ann@smile.example").await;
    fill(&c, "input[name=password]", OWNER_PASSWORD).await;
    click(&c, "form button[type=submit]").await;
    wait_path(&c, "/app/setup/1").await;
    wait_text(&c, "h1", 5, |t| t.contains("Twilio account")).await;

    // The last step plays a pretend call and shows the texts it would send.
    c.goto(&app.url("/app/setup/5")).await.expect("goto");
    let texts = wait_text(&c, "#simulated-texts", 5, |t| t.contains("confirmed for")).await;
    assert!(texts.contains("Smile Dental"), "{texts}");
    assert!(texts.contains("hot lead"), "{texts}");
    click(&c, "main form button[type=submit]").await;
    wait_path(&c, "/app").await;

    // Changing the hours.
    c.goto(&app.url("/app/settings")).await.expect("goto");
    fill(
        &c,
        "#form-hours input[name=hours_mon]",
        "08:00-12:00, 13:00-18:00",
    )
    .await;
    fill(&c, "#form-hours input[name=hours_sun]", "").await;
    click(&c, "#form-hours button[type=submit]").await;
    wait_path(&c, "/app/settings?saved=1").await;
    let (_, tenant) = app
        .admin(
            reqwest::Method::GET,
            &format!("/admin/tenants/{clinic_id}"),
            None,
        )
        .await;
    assert_eq!(
        tenant["weekly_hours"]["mon"],
        json!([["08:00", "12:00"], ["13:00", "18:00"]])
    );
    assert!(
        tenant["weekly_hours"].get("sun").is_none(),
        "{}",
        tenant["weekly_hours"]
    );
    let mon = c
        .find(Locator::Css("#form-hours input[name=hours_mon]"))
        .await
        .expect("hours field")
        .prop("value")
        .await
        .expect("value");
    assert_eq!(mon.as_deref(), Some("08:00-12:00, 13:00-18:00"));

    // The test SMS goes straight to (the fake) Twilio and its answer shows in place (htmx).
    fill(&c, "#form-test-sms input[name=to]", "+15553334444").await;
    click(&c, "#form-test-sms button[type=submit]").await;
    let answer = wait_text(&c, "#test-sms-result", 15, |t| !t.is_empty()).await;
    assert!(answer.contains("Twilio accepted"), "{answer}");
    let sent = app.twilio.messages_to("+15553334444");
    assert_eq!(sent.len(), 1, "one test text");
    assert!(sent[0].body.contains("test text"), "{}", sent[0].body);
    assert!(
        answer.contains(&sent[0].sid),
        "the sid Twilio gave: {answer}"
    );
    assert_eq!(path_of(&c).await, "/app/settings?saved=1", "no page load");

    // A hot lead appears live: the report arrives while the page is open.
    c.goto(&app.url("/app/leads")).await.expect("goto");
    wait_text(&c, "#live-status", 10, |t| t.starts_with("Live")).await;
    c.execute("window.stillTheSamePage = 42; return 1;", vec![])
        .await
        .expect("script");
    let call = app.call(&clinic, "+15556667777");
    book(&call, "Teeth Whitening").await;
    let (status, _) = call
        .end_of_call(
            json!({"caller_name": "Jane <i>Doe</i>", "service_interest": "Teeth Whitening", "wants_callback": true}),
            240,
        )
        .await;
    assert_eq!(status, 200);
    let card_css = format!("#live-leads li[data-call=\"{}\"]", call.id);
    let card = wait_text(&c, &card_css, 20, |t| !t.is_empty()).await;
    assert!(card.contains("Jane <i>Doe</i>"), "shown as text: {card}");
    assert!(card.contains("+75"), "the score breakdown: {card}");
    let tel = c
        .find(Locator::Css(&format!("{card_css} a.tel")))
        .await
        .expect("a tap-to-call link")
        .attr("href")
        .await
        .expect("href");
    assert_eq!(tel.as_deref(), Some("tel:+15556667777"));
    let same = c
        .execute("return window.stillTheSamePage;", vec![])
        .await
        .expect("script");
    assert_eq!(same, json!(42), "the page was not reloaded");

    // Another clinic's pages are not found.
    for path in [
        format!("/app/appointments/{their_appointment}"),
        format!("/app/calls/{their_call}"),
    ] {
        c.goto(&app.url(&path)).await.expect("goto");
        let title = c.title().await.expect("title");
        assert_eq!(title, "Not found", "{path}");
        let body = c.source().await.expect("source");
        assert!(
            !body.contains("+15558880001"),
            "{path} leaks the other clinic's caller"
        );
    }

    // Signing out ends the session.
    c.goto(&app.url("/app")).await.expect("goto");
    click(&c, "form.logout button").await;
    wait_path(&c, "/app/login").await;
    c.goto(&app.url("/app/settings")).await.expect("goto");
    wait_path(&c, "/app/login").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn providers_in_settings_and_the_day_view_on_a_phone() {
    let driver = start_driver().await;
    let app = TestApp::spawn().await;
    let clinic = app
        .create_clinic_with("Smile Dental", 23, |body| {
            // The first free slot, booked below, is on today's page.
            body["timezone"] = json!(zone_where_it_is_midday());
            body["providers"] = json!([
                {"name": "Dr. Lee"},
                {"name": "Hygienist Maria", "services": ["Checkup"]},
            ]);
        })
        .await;
    let (status, _) = app
        .create_owner(&clinic, "ann@smile.example", OWNER_PASSWORD)
        .await;
    assert_eq!(status, 201);
    let call = app.call(&clinic, "+15558880023");
    let (appointment, _) = book(&call, "Checkup").await;
    drop(call);

    let c = browser(&driver).await;
    let app = Arc::new(app);
    let steps = tokio::spawn(providers_walk(c.clone(), app.clone(), clinic, appointment));
    let outcome = steps.await;
    let _ = c.close().await;
    if let Ok(app) = Arc::try_unwrap(app) {
        app.stop().await;
    }
    drop(driver);
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn providers_walk(c: Client, app: Arc<TestApp>, clinic: Clinic, appointment: String) {
    c.goto(&app.url("/app")).await.expect("goto");
    wait_path(&c, "/app/login").await;
    fill(&c, "input[name=email]", "ann@smile.example").await;
    fill(&c, "input[name=password]", OWNER_PASSWORD).await;
    click(&c, "form button[type=submit]").await;
    wait_path(&c, "/app/setup/1").await;

    // Add a third provider through the form, with their own Monday hours and a daily limit.
    c.goto(&app.url("/app/settings")).await.expect("goto");
    click(&c, "#providers > details > summary").await;
    fill(&c, "#provider-new input[name=name]", "Laser Room").await;
    click(&c, "#provider-new input[name=services_from][value=list]").await;
    click(
        &c,
        "#provider-new input[name=service][value='Teeth Whitening']",
    )
    .await;
    click(&c, "#provider-new input[name=hours_from][value=own]").await;
    fill(&c, "#provider-new input[name=hours_mon]", "10:00-14:00").await;
    fill(&c, "#provider-new input[name=max_per_day]", "4").await;
    click(&c, "#provider-new button[type=submit]").await;
    wait_path(&c, "/app/settings?saved=1").await;
    let (_, tenant) = app
        .admin(
            reqwest::Method::GET,
            &format!("/admin/tenants/{}", clinic.id),
            None,
        )
        .await;
    let laser = &tenant["providers"][2];
    assert_eq!(laser["name"], json!("Laser Room"), "{tenant}");
    assert_eq!(laser["services"], json!(["Teeth Whitening"]));
    assert_eq!(laser["weekly_hours"]["mon"], json!([["10:00", "14:00"]]));
    assert_eq!(laser["max_per_day"], json!(4));
    // The saved provider's form shows what was saved.
    let id = laser["id"].as_str().unwrap();
    let value = |css: String| {
        let c = c.clone();
        async move {
            c.find(Locator::Css(&css))
                .await
                .unwrap_or_else(|e| panic!("{css}: {e}"))
                .prop("value")
                .await
                .expect("value")
                .unwrap_or_default()
        }
    };
    assert_eq!(
        value(format!("#provider-{id} input[name=name]")).await,
        "Laser Room"
    );
    assert_eq!(
        value(format!("#provider-{id} input[name=hours_mon]")).await,
        "10:00-14:00"
    );
    assert_eq!(
        value(format!("#provider-{id} input[name=max_per_day]")).await,
        "4"
    );

    // Today on a phone: three columns, the appointment in one of them, the picture scrolling
    // sideways inside its box rather than widening the page.
    c.goto(&app.url("/app")).await.expect("goto");
    wait_text(&c, "h1", 5, |t| t.starts_with("Today")).await;
    let columns = c
        .find_all(Locator::Css("svg.dayview g.column"))
        .await
        .expect("columns");
    assert_eq!(columns.len(), 3);
    let booked = c
        .find(Locator::Css(&format!(
            "svg.dayview a[href='/app/appointments/{appointment}']"
        )))
        .await
        .expect("the appointment in the picture");
    let rect = booked
        .find(Locator::Css("rect"))
        .await
        .expect("its box")
        .rectangle()
        .await
        .expect("geometry");
    assert!(rect.2 > 0.0 && rect.3 > 0.0, "{rect:?}");
    let widths = c
        .execute(
            "const d = document.querySelector('div.dayview'); \
             return [d.scrollWidth, d.clientWidth, document.documentElement.scrollWidth, window.innerWidth];",
            vec![],
        )
        .await
        .expect("widths");
    let w: Vec<f64> = widths
        .as_array()
        .expect("array")
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert!(
        w[0] > w[1],
        "the picture scrolls sideways in its box: {w:?}"
    );
    assert!(w[2] <= w[3], "the page itself does not: {w:?}");
}

/// Runs `steps` with a browser on `app`, then closes the browser and stops the api whatever
/// happened, and passes on a failure of the steps.
async fn with_browser<F, Fut>(app: TestApp, steps: F)
where
    F: FnOnce(Client, Arc<TestApp>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let driver = start_driver().await;
    let c = browser(&driver).await;
    let app = Arc::new(app);
    let outcome = tokio::spawn(steps(c.clone(), app.clone())).await;
    let _ = c.close().await;
    if let Ok(app) = Arc::try_unwrap(app) {
        app.stop().await;
    }
    drop(driver);
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn sign_in_as(c: &Client, app: &TestApp, email: &str) {
    c.goto(&app.url("/app/login")).await.expect("goto");
    fill(c, "input[name=email]", email).await;
    fill(c, "input[name=password]", OWNER_PASSWORD).await;
    click(c, "form button[type=submit]").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while path_of(c).await.starts_with("/app/login") {
        assert!(
            tokio::time::Instant::now() < deadline,
            "still on the sign-in page"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Opens `path` and audits it.
async fn audit_page(c: &Client, app: &TestApp, path: &str) {
    c.goto(&app.url(path)).await.expect("goto");
    wait_text(c, "h1", 10, |t| !t.is_empty()).await;
    booking_e2e::axe::audit(c).await;
}

/// A clinic with two providers, an owner, a booked and scored call and its texts: every screen
/// has something on it.
async fn clinic_with_a_week_of_work(app: &TestApp, n: u32) -> (Clinic, String, String) {
    let clinic = app
        .create_clinic_with("Smile Dental", n, |body| {
            body["providers"] = json!([
                {"name": "Dr. Lee"},
                {"name": "Hygienist Maria", "services": ["Checkup"]},
            ]);
        })
        .await;
    let (status, _) = app
        .create_owner(&clinic, "ann@smile.example", OWNER_PASSWORD)
        .await;
    assert_eq!(status, 201);
    let call = app.call(&clinic, "+15558880031");
    let (appointment, _) = book(&call, "Checkup").await;
    let (status, _) = call
        .end_of_call(
            json!({"caller_name": "Jane Doe", "service_interest": "Teeth Whitening", "wants_callback": true}),
            240,
        )
        .await;
    assert_eq!(status, 200);
    let call_id = call.id.clone();
    drop(call);
    app.call(&clinic, "+15558880032")
        .end_of_call(json!({}), 20)
        .await;
    app.outbox_settled().await;
    (clinic, appointment, call_id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dashboard_page_passes_the_accessibility_audit() {
    let app = TestApp::spawn().await;
    let (clinic, appointment, call) = clinic_with_a_week_of_work(&app, 31).await;
    with_browser(app, move |c, app| async move {
        // Signed out: the sign-in form, and the same with an error on it.
        c.goto(&app.url("/app/login")).await.expect("goto");
        booking_e2e::axe::audit(&c).await;
        fill(&c, "input[name=email]", "ann@smile.example").await;
        fill(&c, "input[name=password]", "not the password").await;
        click(&c, "form button[type=submit]").await;
        wait_text(&c, "main", 10, |t| t.contains("do not match")).await;
        booking_e2e::axe::audit(&c).await;

        sign_in_as(&c, &app, "ann@smile.example").await;
        for step in 1..=5 {
            audit_page(&c, &app, &format!("/app/setup/{step}")).await;
        }
        let (_, tenant) = app
            .admin(
                reqwest::Method::GET,
                &format!("/admin/tenants/{}", clinic.id),
                None,
            )
            .await;
        let provider = tenant["providers"][0]["id"]
            .as_str()
            .expect("a provider id");
        for path in [
            "/app".to_owned(),
            "/app/leads".to_owned(),
            "/app/appointments".to_owned(),
            format!("/app/appointments?provider={provider}"),
            format!("/app/appointments/{appointment}"),
            "/app/messages".to_owned(),
            "/app/calls".to_owned(),
            format!("/app/calls/{call}"),
            "/app/settings".to_owned(),
            "/app/settings?saved=1".to_owned(),
            "/app/reports".to_owned(),
            "/app/waitlist".to_owned(),
            format!("/app/providers/{provider}/calendar"),
            "/app/no-such-page".to_owned(),
        ] {
            audit_page(&c, &app, &path).await;
        }
        // A settings form sent back with its problems listed.
        c.goto(&app.url("/app/settings")).await.expect("goto");
        fill(&c, "#form-hours input[name=hours_mon]", "25:00-26:00").await;
        click(&c, "#form-hours button[type=submit]").await;
        wait_text(&c, "div.notice.error", 10, |t| t.contains("Not saved")).await;
        booking_e2e::axe::audit(&c).await;
    })
    .await;
}

/// Where the test run keeps what it shows a person (the screenshots), under the target dir.
fn kept_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let dir = target.join("browser-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reports_page_on_a_phone_and_a_desktop() {
    let app = TestApp::spawn().await;
    let (_clinic, _, _) = clinic_with_a_week_of_work(&app, 33).await;
    with_browser(app, move |c, app| async move {
        sign_in_as(&c, &app, "ann@smile.example").await;
        c.goto(&app.url("/app")).await.expect("goto");
        click(&c, "nav a[href='/app/reports']").await;
        wait_path(&c, "/app/reports").await;
        wait_text(&c, "h1", 5, |t| t == "Reports").await;

        // This week's numbers, newest row first, and a chart per figure.
        let row = "table.report tbody tr:first-child";
        let cell = |figure: &'static str| {
            let c = c.clone();
            async move {
                c.find(Locator::Css(&format!("{row} td[data-figure={figure}]")))
                    .await
                    .unwrap_or_else(|e| panic!("{figure}: {e}"))
                    .text()
                    .await
                    .expect("text")
            }
        };
        assert_eq!(cell("calls").await, "2");
        assert_eq!(cell("booked").await, "1");
        assert_eq!(cell("conversion").await, "50%");
        assert_eq!(cell("hot-leads").await, "1");
        let charts = c
            .find_all(Locator::Css("li.chart svg.bars"))
            .await
            .expect("charts");
        assert_eq!(charts.len(), 8);
        let calls_now = wait_text(&c, "#chart-calls .now", 5, |t| !t.is_empty()).await;
        assert_eq!(calls_now, "2");
        let bar = c
            .find(Locator::Css("#chart-calls .bar.current rect"))
            .await
            .expect("this week's bar")
            .rectangle()
            .await
            .expect("geometry");
        assert!(bar.2 > 0.0 && bar.3 > 0.0, "a bar that shows: {bar:?}");

        // On a phone: the charts fit the screen; the table scrolls sideways inside its box,
        // which the keyboard reaches.
        let widths = c
            .execute(
                "const d = document.querySelector('div.table-scroll'); \
                 const s = document.querySelector('#chart-calls svg').getBoundingClientRect(); \
                 return [d.scrollWidth, d.clientWidth, document.documentElement.scrollWidth, \
                         window.innerWidth, s.right];",
                vec![],
            )
            .await
            .expect("widths");
        let w: Vec<f64> = widths
            .as_array()
            .expect("array")
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert!(w[2] <= w[3], "the page does not scroll sideways: {w:?}");
        assert!(w[4] <= w[3], "the chart fits the screen: {w:?}");
        let focusable = c
            .find(Locator::Css("div.table-scroll"))
            .await
            .expect("table box")
            .attr("tabindex")
            .await
            .expect("tabindex");
        assert_eq!(focusable.as_deref(), Some("0"));
        booking_e2e::axe::audit(&c).await;
        let dir = kept_dir();
        let phone = c.screenshot().await.expect("screenshot");
        std::fs::write(dir.join("reports-phone.png"), phone).expect("keep screenshot");

        // On a desktop: two charts side by side.
        c.set_window_size(1280, 900).await.expect("resize");
        c.goto(&app.url("/app/reports")).await.expect("goto");
        wait_text(&c, "h1", 5, |t| t == "Reports").await;
        let first = c
            .find(Locator::Css("#chart-calls"))
            .await
            .expect("chart")
            .rectangle()
            .await
            .expect("geometry");
        let second = c
            .find(Locator::Css("#chart-booked"))
            .await
            .expect("chart")
            .rectangle()
            .await
            .expect("geometry");
        assert_eq!(first.1, second.1, "side by side: {first:?} {second:?}");
        booking_e2e::axe::audit(&c).await;
        let desktop = c.screenshot().await.expect("screenshot");
        std::fs::write(dir.join("reports-desktop.png"), desktop).expect("keep screenshot");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn linking_a_calendar_on_a_phone() {
    let server = local_caldav::Radicale::start(&[local_caldav::User {
        name: "frontdesk",
        password: "app-password-7",
        calendars: &[("work", "Front desk"), ("personal", "Dr. Lee personal")],
    }])
    .expect("a private Radicale starts (apt-get install radicale)");
    let driver = start_driver().await;
    let app = TestApp::spawn().await;
    let clinic = app.create_clinic("Smile Dental", 24).await;
    let (status, _) = app
        .create_owner(&clinic, "ann@smile.example", OWNER_PASSWORD)
        .await;
    assert_eq!(status, 201);

    let c = browser(&driver).await;
    let app = Arc::new(app);
    let steps = tokio::spawn(calendar_walk(c.clone(), app.clone(), clinic, server.url()));
    let outcome = steps.await;
    let _ = c.close().await;
    if let Ok(app) = Arc::try_unwrap(app) {
        app.stop().await;
    }
    drop(driver);
    drop(server);
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn calendar_walk(c: Client, app: Arc<TestApp>, clinic: Clinic, server: String) {
    let (_, tenant) = app
        .admin(
            reqwest::Method::GET,
            &format!("/admin/tenants/{}", clinic.id),
            None,
        )
        .await;
    let provider = tenant["providers"][0]["id"].as_str().unwrap().to_owned();
    c.goto(&app.url("/app")).await.expect("goto");
    wait_path(&c, "/app/login").await;
    fill(&c, "input[name=email]", "ann@smile.example").await;
    fill(&c, "input[name=password]", OWNER_PASSWORD).await;
    click(&c, "form button[type=submit]").await;
    wait_path(&c, "/app/setup/1").await;

    c.goto(&app.url("/app/settings")).await.expect("goto");
    wait_text(&c, "#calendars li.calendar", 5, |t| {
        t.contains("No calendar linked.")
    })
    .await;
    click(
        &c,
        &format!("#calendars a[href='/app/providers/{provider}/calendar']"),
    )
    .await;
    wait_path(&c, &format!("/app/providers/{provider}/calendar")).await;
    booking_e2e::axe::audit(&c).await;

    // A wrong password first: the form says so and keeps the address.
    fill(&c, "#calendar-find input[name=server]", &server).await;
    fill(&c, "#calendar-find input[name=username]", "frontdesk").await;
    fill(&c, "#calendar-find input[name=password]", "wrong").await;
    click(&c, "#calendar-find button[type=submit]").await;
    wait_text(&c, ".notice.error", 15, |t| t.contains("refused")).await;
    fill(&c, "#calendar-find input[name=password]", "app-password-7").await;
    click(&c, "#calendar-find button[type=submit]").await;
    wait_text(&c, "h1", 15, |t| t.starts_with("Pick the calendar")).await;
    booking_e2e::axe::audit(&c).await;
    let personal = format!("{server}frontdesk/personal/");
    click(&c, &format!("#calendar-pick input[value='{personal}']")).await;
    click(&c, "#calendar-pick button[type=submit]").await;
    wait_path(&c, "/app/settings?saved=1").await;
    let text = wait_text(&c, "#calendars li.calendar", 5, |t| t.contains("Linked to")).await;
    assert!(text.contains(&personal), "{text}");
    // The first sync runs in the background: reload until the health says it worked.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let text = loop {
        let text = wait_text(&c, "#calendars li.calendar", 5, |_| true).await;
        if text.contains("Healthy") || tokio::time::Instant::now() > deadline {
            break text;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        c.refresh().await.expect("reload");
    };
    assert!(text.contains("Healthy"), "{text}");
    assert!(text.contains("Unlink"), "{text}");
    booking_e2e::axe::audit(&c).await;
    let widths = c
        .execute(
            "return [document.documentElement.scrollWidth, window.innerWidth];",
            vec![],
        )
        .await
        .expect("widths");
    let w: Vec<f64> = widths
        .as_array()
        .expect("array")
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert!(w[0] <= w[1], "the page fits the phone's width: {w:?}");
}

/// Saves a screenshot of the page under `target/tmp/` (kept after the run) and returns its path.
async fn keep_screenshot(c: &Client, name: &str) -> PathBuf {
    let png = c.screenshot().await.expect("a screenshot");
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    let path = dir.join(name);
    std::fs::write(&path, png).expect("write the screenshot");
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patient_moves_then_cancels_from_the_link_on_a_phone() {
    let driver = start_driver().await;
    let app = TestApp::spawn().await;
    let clinic = app
        .create_clinic_with("Smile Dental", 24, |body| {
            body["link_notice_minutes"] = json!(0);
            body["providers"] = json!([{"name": "Dr. Lee"}, {"name": "Hygienist Maria"}]);
        })
        .await;
    let caller = "+15558880024";
    let call = app.call(&clinic, caller);
    book(&call, "Checkup").await;
    drop(call);
    let texts = app.texts_to(caller, 2).await;
    let confirmation = texts
        .iter()
        .find(|t| t.body.contains("is confirmed for"))
        .expect("the confirmation")
        .body
        .clone();
    let at = confirmation.find("/a/").expect("a link");
    let link = confirmation[at..at + 25].to_owned();

    let c = browser(&driver).await;
    let app = Arc::new(app);
    let steps = tokio::spawn(patient_walk(
        c.clone(),
        app.clone(),
        caller.to_owned(),
        link,
    ));
    let outcome = steps.await;
    let _ = c.close().await;
    if let Ok(app) = Arc::try_unwrap(app) {
        app.stop().await;
    }
    drop(driver);
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn patient_walk(c: Client, app: Arc<TestApp>, caller: String, link: String) {
    // A small phone: 360 px wide.
    c.set_window_size(360, 740).await.expect("window size");
    c.goto(&app.url(&link)).await.expect("goto");
    wait_text(&c, "h1", 5, |t| t == "Your appointment").await;
    let widths = c
        .execute(
            "return [document.documentElement.scrollWidth, window.innerWidth];",
            vec![],
        )
        .await
        .expect("widths");
    let w: Vec<f64> = widths
        .as_array()
        .expect("array")
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert!(w[0] <= w[1], "nothing wider than the phone: {w:?}");
    booking_e2e::axe::audit(&c).await;
    let shot = keep_screenshot(&c, "patient-link-360.png").await;
    assert!(shot.exists());

    // Move: anyone, the first free time on the list.
    click(&c, &format!("a[href='{link}/move']")).await;
    wait_text(&c, "h1", 5, |t| t == "Choose another time").await;
    click(&c, &format!("a[href='{link}/move?with=any']")).await;
    wait_text(&c, "legend", 5, |t| t == "Free times").await;
    click(&c, "input[name=slot]").await;
    booking_e2e::axe::audit(&c).await;
    keep_screenshot(&c, "patient-link-move-360.png").await;
    click(&c, "form button[type=submit]").await;
    wait_text(&c, "p.notice", 10, |t| t.contains("has moved")).await;
    let moved_to = path_of(&c).await;
    assert!(
        moved_to.ends_with("?done=moved") && !moved_to.starts_with(&link),
        "{moved_to}"
    );
    let texts = app.texts_to(&caller, 3).await;
    let new_link = moved_to.trim_end_matches("?done=moved");
    assert!(
        texts
            .iter()
            .any(|t| t.body.contains("has moved to") && t.body.contains(new_link)),
        "the moved text carries the new link"
    );

    // Cancel, with its confirm step.
    click(&c, &format!("a[href='{new_link}/cancel']")).await;
    wait_text(&c, "h1", 5, |t| t == "Cancel this appointment?").await;
    click(&c, "form button.danger").await;
    wait_text(&c, "h1", 10, |t| t == "Appointment cancelled").await;
    booking_e2e::axe::audit(&c).await;
    keep_screenshot(&c, "patient-link-cancelled-360.png").await;
    let texts = app.texts_to(&caller, 4).await;
    assert!(texts.iter().any(|t| t.body.contains("is cancelled")));

    // The old link opens nothing now.
    c.goto(&app.url(&link)).await.expect("goto");
    wait_text(&c, "h1", 5, |t| t == "This link does not work").await;
}

/// Where the browser tests keep their screenshots: `target/screenshots/` of the workspace.
fn screenshot_path(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("target")
        .join("screenshots");
    std::fs::create_dir_all(&dir).expect("the screenshot directory");
    dir.join(name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waitlisted_patient_claims_a_freed_time_on_a_phone() {
    let driver = start_driver().await;
    let app = TestApp::spawn_with(|env| {
        env.insert("WAITLIST_POLL_MS".into(), "50".into());
    })
    .await;
    let clinic = app.create_clinic("Smile Dental", 24).await;
    let (status, _) = app
        .create_owner(&clinic, "ann@smile.example", OWNER_PASSWORD)
        .await;
    assert_eq!(status, 201);
    let owner = app.sign_in("ann@smile.example", OWNER_PASSWORD).await;
    let patient = "+15558880024";
    let tomorrow = jiff::Timestamp::now()
        .in_tz("America/New_York")
        .expect("zone")
        .date()
        .tomorrow()
        .expect("a date")
        .to_string();

    // Someone books tomorrow's first whitening; the patient, finding nothing that suits, joins
    // the waitlist; the owner cancels the appointment.
    let booker = app.call(&clinic, "+15558880025");
    let avail = booker
        .tool(
            "check_availability",
            json!({"service": "Teeth Whitening", "date": tomorrow}),
        )
        .await;
    let start = avail["slots"][0]["start"]
        .as_str()
        .expect("a slot")
        .to_owned();
    let held = booker
        .tool(
            "reserve_slot",
            json!({"start": start, "service": "Teeth Whitening", "caller_name": "Bo Booker"}),
        )
        .await;
    let hold = held["hold_id"].as_str().expect("hold").to_owned();
    booker.tool("send_otp", json!({"hold_id": hold})).await;
    let code = booking_e2e::code_in(&app.texts_to(&booker.caller, 1).await[0].body);
    let verified = booker
        .tool("verify_otp", json!({"hold_id": hold, "code": code}))
        .await;
    let appointment = verified["appointment_id"]
        .as_str()
        .expect("booked")
        .to_owned();
    drop(booker);
    let joined = app
        .call(&clinic, patient)
        .tool(
            "join_waitlist",
            json!({"service": "Teeth Whitening", "caller_name": "Pat Patient",
                   "from_date": tomorrow, "to_date": tomorrow}),
        )
        .await;
    assert_eq!(joined["ok"], json!(true), "{joined}");
    let (status, _) = owner
        .post(&format!("/app/appointments/{appointment}/cancel"), &[])
        .await;
    assert_eq!(status, 200);
    let offer = app.texts_to(patient, 1).await;
    let body = &offer.first().expect("the offer text").body;
    let at = body.find("/w/").expect("a link");
    let link = body[at..at + 25].to_owned();

    let c = browser(&driver).await;
    let app = Arc::new(app);
    let steps = tokio::spawn(claim_walk(c.clone(), app.clone(), link));
    let outcome = steps.await;
    let _ = c.close().await;
    if let Ok(app) = Arc::try_unwrap(app) {
        app.stop().await;
    }
    drop(driver);
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn claim_walk(c: Client, app: Arc<TestApp>, link: String) {
    c.goto(&app.url(&link)).await.expect("goto");
    wait_text(&c, "h1", 5, |t| t.contains("A time opened up")).await;
    let text = wait_text(&c, "main", 5, |t| t.contains("Teeth Whitening")).await;
    assert!(text.contains("Smile Dental"), "{text}");
    // Readable on a phone: nothing wider than the window.
    let widths = c
        .execute(
            "return [document.documentElement.scrollWidth, window.innerWidth];",
            vec![],
        )
        .await
        .expect("widths");
    let w: Vec<f64> = widths
        .as_array()
        .expect("array")
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert!(w[0] <= w[1], "the offer fits the phone: {w:?}");
    booking_e2e::axe::audit(&c).await;
    let png = c.screenshot().await.expect("a screenshot");
    std::fs::write(screenshot_path("waitlist-offer.png"), png).expect("kept");

    click(&c, "main form button[type=submit]").await;
    wait_text(&c, "h1", 10, |t| t.contains("You're booked")).await;
    booking_e2e::axe::audit(&c).await;
    let png = c.screenshot().await.expect("a screenshot");
    std::fs::write(screenshot_path("waitlist-claimed.png"), png).expect("kept");
    assert_eq!(
        app.db
            .execute("SELECT 1 FROM bookings WHERE status = 'confirmed'")
            .await,
        1,
        "the claim booked the freed time"
    );
    assert_eq!(
        app.db
            .execute("SELECT 1 FROM waitlist_entries WHERE status = 'filled'")
            .await,
        1
    );
}

//! The dashboard's calendar screens over HTTP against a real CalDAV server (a private Radicale):
//! finding and linking a provider's calendar, refusals in words, unlinking, another clinic's
//! provider ids answering 404, a conflict shown and nothing cancelled, and the read-only feeds
//! (our appointments as VEVENTs, a replaced or revoked URL answering 404, guesses answering 404).

use std::time::{Duration, Instant};

use booking_e2e::{OWNER_PASSWORD, OwnerSession, TestApp, book, no_redirects};
use local_caldav::{Radicale, User};

const USER: &str = "frontdesk";
const PASSWORD: &str = "app-password-7";

fn radicale() -> Radicale {
    Radicale::start(&[
        User {
            name: USER,
            password: PASSWORD,
            calendars: &[("work", "Front desk"), ("personal", "Dr. Lee personal")],
        },
        User {
            name: "other-clinic",
            password: "their-password",
            calendars: &[("work", "Other clinic")],
        },
    ])
    .expect("a private Radicale starts (apt-get install radicale)")
}

/// The first provider's id of a clinic.
async fn provider_id(app: &TestApp, clinic: &booking_e2e::Clinic) -> String {
    let (_, t) = app
        .admin(
            reqwest::Method::GET,
            &format!("/admin/tenants/{}", clinic.id),
            None,
        )
        .await;
    t["providers"][0]["id"]
        .as_str()
        .expect("a provider")
        .to_owned()
}

/// The value of the hidden field `name` in a page.
fn hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')?;
    Some(html[start..start + end].replace("&amp;", "&"))
}

async fn links_in_db(app: &TestApp) -> usize {
    app.db.execute("SELECT 1 FROM calendar_links").await
}

/// Finds the calendars and links `calendar` (a path under the user), as the owner's browser does.
async fn link(owner: &OwnerSession, provider: &str, server: &Radicale, calendar: &str) -> String {
    let (status, page) = owner
        .post(
            &format!("/app/providers/{provider}/calendar"),
            &[
                ("server", &server.url()),
                ("username", USER),
                ("password", PASSWORD),
                ("token", ""),
            ],
        )
        .await;
    assert_eq!(status, 200, "{page}");
    let found = hidden(&page, "found").expect("the list found travels sealed");
    let url = format!("{}{USER}/{calendar}/", server.url());
    let (status, body) = owner
        .post(
            &format!("/app/providers/{provider}/calendar/link"),
            &[("found", &found), ("calendar", &url)],
        )
        .await;
    assert_eq!(status, 303, "{body}");
    url
}

/// Reads `path` until `wanted` is on it (the background sync has run), for up to 60 s.
async fn page_once(owner: &OwnerSession, path: &str, wanted: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, page) = owner.get(path).await;
        assert_eq!(status, 200, "{page}");
        if page.contains(wanted) || Instant::now() > deadline {
            return page;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_finds_links_and_unlinks_a_providers_calendar() {
    let server = radicale();
    let app = TestApp::spawn().await;
    let clinic = app.create_clinic("Smile Dental", 71).await;
    app.create_owner(&clinic, "ann@smile.example", OWNER_PASSWORD)
        .await;
    let owner = app.sign_in("ann@smile.example", OWNER_PASSWORD).await;
    let provider = provider_id(&app, &clinic).await;

    let (status, settings) = owner.get("/app/settings").await;
    assert_eq!(status, 200);
    assert!(settings.contains("id=\"calendars\""), "{settings}");
    assert!(settings.contains("No calendar linked."), "{settings}");
    assert!(
        settings.contains(&format!("href=\"/app/providers/{provider}/calendar\"")),
        "{settings}"
    );
    let (status, form) = owner
        .get(&format!("/app/providers/{provider}/calendar"))
        .await;
    assert_eq!(status, 200);
    assert!(form.contains("id=\"calendar-find\""), "{form}");

    // Discovery lists the user's calendars (and not another user's), by name.
    let (status, page) = owner
        .post(
            &format!("/app/providers/{provider}/calendar"),
            &[
                ("server", &server.url()),
                ("username", USER),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Front desk"), "{page}");
    assert!(page.contains("Dr. Lee personal"), "{page}");
    assert!(
        page.contains(&format!("{}{USER}/work/", server.url())),
        "{page}"
    );
    assert!(!page.contains("Other clinic"), "{page}");
    assert!(!page.contains(PASSWORD), "the password is not shown again");
    let found = hidden(&page, "found").expect("sealed list");
    assert!(!found.contains(PASSWORD));

    // A calendar that was not in the list is refused, and nothing is linked.
    let (status, body) = owner
        .post(
            &format!("/app/providers/{provider}/calendar/link"),
            &[
                ("found", &found),
                ("calendar", &format!("{}other-clinic/work/", server.url())),
            ],
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("Pick one of the calendars found"), "{body}");
    // A changed list is refused.
    let mut changed = found.clone();
    changed.insert(5, 'x');
    let (status, body) = owner
        .post(
            &format!("/app/providers/{provider}/calendar/link"),
            &[
                ("found", &changed),
                ("calendar", &format!("{}{USER}/work/", server.url())),
            ],
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("too old or not for this provider"), "{body}");
    assert_eq!(links_in_db(&app).await, 0);

    // Picking one links it; the sync runs and the health says so.
    let work = link(&owner, &provider, &server, "work").await;
    assert_eq!(links_in_db(&app).await, 1);
    let settings = page_once(&owner, "/app/settings", "<strong>Healthy.</strong>").await;
    assert!(
        settings.contains(&format!("Linked to <code>{work}</code>")),
        "{settings}"
    );
    assert!(settings.contains("<strong>Healthy.</strong>"), "{settings}");
    assert!(
        !settings.contains("Last successful sync: <span class=\"last-sync\">not yet"),
        "{settings}"
    );
    assert!(!settings.contains(PASSWORD), "never shown again");

    // Unlink: gone from the page and the database.
    let (status, _) = owner
        .post(&format!("/app/providers/{provider}/calendar/unlink"), &[])
        .await;
    assert_eq!(status, 303);
    assert_eq!(links_in_db(&app).await, 0);
    let (_, settings) = owner.get("/app/settings").await;
    assert!(settings.contains("No calendar linked."), "{settings}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_or_a_bad_address_is_a_form_error_and_nothing_is_saved() {
    let server = radicale();
    let app = TestApp::spawn().await;
    let clinic = app.create_clinic("Smile Dental", 72).await;
    app.create_owner(&clinic, "ann@smile.example", OWNER_PASSWORD)
        .await;
    let owner = app.sign_in("ann@smile.example", OWNER_PASSWORD).await;
    let provider = provider_id(&app, &clinic).await;
    let path = format!("/app/providers/{provider}/calendar");
    let url = server.url();
    let url = url.as_str();
    let cases: [(&[(&str, &str)], &str); 5] = [
        (
            &[
                ("server", url),
                ("username", USER),
                ("password", "not-the-password"),
            ],
            "refused that username and password",
        ),
        (
            &[
                ("server", "http://caldav.example.com/"),
                ("username", USER),
                ("password", PASSWORD),
            ],
            "must use https://",
        ),
        (
            &[("server", url), ("username", USER), ("password", "")],
            "need both a username and a password",
        ),
        (
            &[
                ("server", url),
                ("username", USER),
                ("password", PASSWORD),
                ("token", "also-a-token"),
            ],
            "not both",
        ),
        (
            &[
                ("server", "http://127.0.0.1:1/"),
                ("username", USER),
                ("password", PASSWORD),
            ],
            "could not reach a calendar server",
        ),
    ];
    for (fields, words) in cases {
        let (status, page) = owner.post(&path, fields).await;
        assert_eq!(status, 400, "{fields:?}: {page}");
        assert!(page.contains(words), "{fields:?}: {page}");
        assert!(page.contains("Not linked:"), "{page}");
        assert!(
            !page.contains("not-the-password"),
            "the typed password is not sent back"
        );
        assert!(
            page.contains("name=\"username\" value=\"frontdesk\""),
            "kept: {page}"
        );
    }
    assert_eq!(links_in_db(&app).await, 0, "nothing saved");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_clinics_provider_ids_answer_404() {
    let server = radicale();
    let app = TestApp::spawn().await;
    let ours = app.create_clinic("Smile Dental", 73).await;
    let theirs = app.create_clinic("Other Clinic", 74).await;
    app.create_owner(&ours, "ann@smile.example", OWNER_PASSWORD)
        .await;
    app.create_owner(&theirs, "bob@other.example", OWNER_PASSWORD)
        .await;
    let ann = app.sign_in("ann@smile.example", OWNER_PASSWORD).await;
    let bob = app.sign_in("bob@other.example", OWNER_PASSWORD).await;
    let our_provider = provider_id(&app, &ours).await;
    let their_provider = provider_id(&app, &theirs).await;
    link(&bob, &their_provider, &server, "work").await;

    // Ann's own discovery, then every calendar route with Bob's provider id.
    let (_, page) = ann
        .post(
            &format!("/app/providers/{our_provider}/calendar"),
            &[
                ("server", &server.url()),
                ("username", USER),
                ("password", PASSWORD),
            ],
        )
        .await;
    let found = hidden(&page, "found").expect("sealed list");
    let (status, _) = ann
        .get(&format!("/app/providers/{their_provider}/calendar"))
        .await;
    assert_eq!(status, 404);
    for (path, fields) in [
        (
            format!("/app/providers/{their_provider}/calendar"),
            vec![
                ("server", server.url()),
                ("username", USER.to_owned()),
                ("password", PASSWORD.to_owned()),
            ],
        ),
        (
            format!("/app/providers/{their_provider}/calendar/link"),
            vec![
                ("found", found.clone()),
                ("calendar", format!("{}{USER}/work/", server.url())),
            ],
        ),
        (
            format!("/app/providers/{their_provider}/calendar/unlink"),
            vec![],
        ),
        (
            "/app/feeds".to_owned(),
            vec![("scope", their_provider.clone())],
        ),
        (
            "/app/feeds/revoke".to_owned(),
            vec![("scope", their_provider.clone())],
        ),
        (
            "/app/providers/not-an-id/calendar/unlink".to_owned(),
            vec![],
        ),
    ] {
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, body) = ann.post(&path, &fields).await;
        assert_eq!(status, 404, "{path}: {body}");
    }
    // Bob's link is still there, and Ann's sealed list does not work for Bob's provider either.
    assert_eq!(links_in_db(&app).await, 1);
    let (status, _) = bob
        .post(
            &format!("/app/providers/{their_provider}/calendar/link"),
            &[
                ("found", &found),
                ("calendar", &format!("{}{USER}/work/", server.url())),
            ],
        )
        .await;
    assert_eq!(status, 400, "a list found for another provider is refused");
    app.stop().await;
}

/// The `id="feed-url"` value of the page that made a feed, as a path on the api.
fn feed_path(page: &str, base: &str) -> String {
    let marker = "id=\"feed-url\" value=\"";
    let start = page.find(marker).expect("the feed URL is shown") + marker.len();
    let end = page[start..].find('"').expect("quoted");
    let url = &page[start..start + end];
    assert!(url.starts_with(base), "{url}");
    url[base.len()..].to_owned()
}

async fn fetch(app: &TestApp, path: &str) -> (u16, String, String) {
    let resp = no_redirects()
        .get(app.url(path))
        .send()
        .await
        .expect("feed");
    let status = resp.status().as_u16();
    let kind = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    (status, kind, resp.text().await.expect("body"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_shows_our_appointments_and_a_replaced_revoked_or_guessed_one_is_404() {
    let app = TestApp::spawn().await;
    let clinic = app.create_clinic("Smile Dental", 75).await;
    let other = app.create_clinic("Other Clinic", 76).await;
    app.create_owner(&clinic, "ann@smile.example", OWNER_PASSWORD)
        .await;
    app.create_owner(&other, "bob@other.example", OWNER_PASSWORD)
        .await;
    let owner = app.sign_in("ann@smile.example", OWNER_PASSWORD).await;
    let bob = app.sign_in("bob@other.example", OWNER_PASSWORD).await;
    let provider = provider_id(&app, &clinic).await;
    let call = app.call(&clinic, "+15557770001");
    let (appointment, _) = book(&call, "Teeth Whitening").await;

    let (status, page) = owner.post("/app/feeds", &[("scope", "clinic")]).await;
    assert_eq!(status, 200, "{page}");
    let clinic_feed = feed_path(&page, &app.base);
    assert!(clinic_feed.starts_with("/feeds/") && clinic_feed.ends_with(".ics"));
    let (status, page) = owner.post("/app/feeds", &[("scope", &provider)]).await;
    assert_eq!(status, 200, "{page}");
    let provider_feed = feed_path(&page, &app.base);
    let (_, settings) = owner.get("/app/settings").await;
    assert!(settings.contains("is live"), "{settings}");
    assert!(
        !settings.contains(&clinic_feed[7..29]),
        "the secret is shown only once"
    );

    for path in [&clinic_feed, &provider_feed] {
        let (status, kind, body) = fetch(&app, path).await;
        assert_eq!(status, 200, "{body}");
        assert!(kind.starts_with("text/calendar"), "{kind}");
        assert!(body.starts_with("BEGIN:VCALENDAR"), "{body}");
        assert_eq!(body.matches("BEGIN:VEVENT").count(), 1, "{body}");
        assert!(
            body.contains(&format!(
                "UID:appointment-{appointment}@receptionist.invalid"
            )),
            "{body}"
        );
        assert!(body.contains("Teeth Whitening"), "{body}");
        assert!(body.contains("Jane Doe"), "{body}");
    }
    // Another clinic's feed holds none of ours.
    let (_, page) = bob.post("/app/feeds", &[("scope", "clinic")]).await;
    let (status, _, body) = fetch(&app, &feed_path(&page, &app.base)).await;
    assert_eq!(status, 200);
    assert!(!body.contains("BEGIN:VEVENT"), "{body}");

    // A new URL replaces the old one.
    let (_, page) = owner.post("/app/feeds", &[("scope", "clinic")]).await;
    let replaced = feed_path(&page, &app.base);
    assert_ne!(replaced, clinic_feed);
    let (status, _, body) = fetch(&app, &clinic_feed).await;
    assert_eq!((status, body.as_str()), (404, "Not found"));
    assert_eq!(fetch(&app, &replaced).await.0, 200);

    // Revoked: 404, and the provider's feed is untouched.
    let (status, _) = owner
        .post("/app/feeds/revoke", &[("scope", "clinic")])
        .await;
    assert_eq!(status, 303);
    let (status, _, body) = fetch(&app, &replaced).await;
    assert_eq!((status, body.as_str()), (404, "Not found"));
    assert_eq!(fetch(&app, &provider_feed).await.0, 200);

    // Guessed and malformed secrets: the same bare 404.
    for path in [
        "/feeds/AAAAAAAAAAAAAAAAAAAAAA.ics",
        "/feeds/AAAAAAAAAAAAAAAAAAAAAA",
        "/feeds/not-a-secret.ics",
        "/feeds/%2e%2e%2fetc%2fpasswd",
        "/feeds/AAAAAAAAAAAAAAAAAAAAAB.ics",
    ] {
        let (status, _, body) = fetch(&app, path).await;
        assert_eq!((status, body.as_str()), (404, "Not found"), "{path}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_guessed_feed_secrets_is_turned_away() {
    let app = TestApp::spawn().await;
    let guess = |i: usize| format!("/feeds/{:0>21}A.ics", format!("guess{i}"));
    // One address's misses: 404 up to the limit, then 429 without a lookup.
    let mut statuses = Vec::new();
    for i in 0..35 {
        statuses.push(fetch(&app, &guess(i)).await.0);
    }
    assert!(statuses[..30].iter().all(|s| *s == 404), "{statuses:?}");
    assert!(statuses[30..].iter().all(|s| *s == 429), "{statuses:?}");
    let answers = futures_util::future::join_all((100..120).map(|i| {
        let path = guess(i);
        let app = &app;
        async move { fetch(app, &path).await.0 }
    }))
    .await;
    assert!(answers.iter().all(|s| *s == 429), "{answers:?}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_over_a_booking_is_shown_as_a_conflict_and_nothing_is_cancelled() {
    let server = radicale();
    let app = TestApp::spawn().await;
    let clinic = app.create_clinic("Smile Dental", 77).await;
    app.create_owner(&clinic, "ann@smile.example", OWNER_PASSWORD)
        .await;
    let owner = app.sign_in("ann@smile.example", OWNER_PASSWORD).await;
    let provider = provider_id(&app, &clinic).await;
    let call = app.call(&clinic, "+15557770002");
    let (appointment, start) = book(&call, "Teeth Whitening").await;

    // The front desk types an event over it into the calendar, which is then linked.
    let start: jiff::Timestamp = start.parse().expect("RFC 3339 start");
    let stamp = |t: jiff::Timestamp| t.strftime("%Y%m%dT%H%M%SZ").to_string();
    let event = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Front desk//EN\r\nBEGIN:VEVENT\r\n\
         UID:walk-in-1@frontdesk\r\nDTSTAMP:{s}\r\nDTSTART:{s}\r\nDTEND:{e}\r\n\
         SUMMARY:Walk-in\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        s = stamp(start),
        e = stamp(start + jiff::SignedDuration::from_mins(30)),
    );
    let put = test_support::client()
        .put(format!("{}{USER}/work/walk-in-1.ics", server.url()))
        .basic_auth(USER, Some(PASSWORD))
        .header("Content-Type", "text/calendar; charset=utf-8")
        .body(event)
        .send()
        .await
        .expect("PUT to the calendar server");
    assert!(put.status().is_success(), "{}", put.status());
    link(&owner, &provider, &server, "work").await;

    let path = format!("/app/appointments/{appointment}");
    let page = page_once(&owner, &path, "class=\"conflict\"").await;
    assert!(page.contains("class=\"conflict\""), "{page}");
    assert!(page.contains("Nothing was changed or cancelled"), "{page}");
    assert!(page.contains("confirmed"), "{page}");
    let confirmed = app
        .db
        .execute(&format!(
            "SELECT 1 FROM bookings WHERE id = '{appointment}' AND status = 'confirmed'"
        ))
        .await;
    assert_eq!(confirmed, 1, "nothing is cancelled");
    app.stop().await;
}

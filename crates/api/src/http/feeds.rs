//! `GET /feeds/{secret}.ics`: a provider's or the clinic's appointments as an iCalendar feed, for
//! calendar apps that subscribe to a URL. The secret in the URL is the only key: 128 random bits
//! ([`LinkToken`]), of which the store keeps only the hash; the owner makes and revokes it in the
//! dashboard's Settings. Anything that is not a live secret answers the same bare 404: a
//! malformed one without touching the database, a well-formed one after one index lookup. An
//! address with many misses is answered 429 for a while ([`crate::limits::FeedMisses`]).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use booking_core::booking::Interval;
use booking_core::feeds::{Feed, FeedScope};
use booking_core::link_token::LinkToken;
use booking_core::outside_calendar::OurEvent;
use jiff::SignedDuration;

use crate::state::AppState;

/// How far back and ahead a feed reaches.
const PAST_DAYS: i64 = 31;
const AHEAD_DAYS: i64 = 400;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/feeds/{file}", web::get().to(feed));
}

fn not_found() -> HttpResponse {
    HttpResponse::NotFound()
        .content_type("text/plain; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body("Not found")
}

async fn feed(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> HttpResponse {
    let address = crate::dashboard::client_address(&req, state.config.trusted_proxy_hops);
    if !state.feed_misses.allows(address.as_str()) {
        return HttpResponse::TooManyRequests()
            .insert_header((header::RETRY_AFTER, "600"))
            .content_type("text/plain; charset=utf-8")
            .body("Too many requests");
    }
    let raw = path.as_str();
    let raw = raw.strip_suffix(".ics").unwrap_or(raw);
    let Some(token) = LinkToken::from_presented(raw) else {
        state.feed_misses.miss(address.as_str());
        return not_found();
    };
    let found = match state.feeds.feed_by_hash(&token.hash()).await {
        Ok(found) => found,
        Err(e) => {
            tracing::warn!(error = %e, "calendar feed lookup failed");
            return HttpResponse::ServiceUnavailable().finish();
        }
    };
    let Some(feed) = found else {
        state.feed_misses.miss(address.as_str());
        return not_found();
    };
    match render(&state, &feed).await {
        Ok(Some(text)) => HttpResponse::Ok()
            .content_type("text/calendar; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "private, no-cache"))
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .insert_header((header::REFERRER_POLICY, "no-referrer"))
            .insert_header(("X-Robots-Tag", "noindex"))
            .body(text),
        Ok(None) => not_found(),
        Err(e) => {
            tracing::warn!(error = %e, "calendar feed unavailable");
            HttpResponse::ServiceUnavailable().finish()
        }
    }
}

/// The feed's text; `None` when its clinic is gone.
async fn render(
    state: &AppState,
    feed: &Feed,
) -> Result<Option<String>, booking_core::ports::StoreError> {
    let Some(tenant) = state.store.tenant(feed.tenant).await? else {
        return Ok(None);
    };
    let now = state.clock.now();
    let window = Interval {
        start: now - SignedDuration::from_hours(24 * PAST_DAYS),
        end: now + SignedDuration::from_hours(24 * AHEAD_DAYS),
    };
    let bookings = state.store.list_bookings(tenant.id, window).await?;
    let mut events: Vec<OurEvent> = bookings
        .iter()
        .filter(|b| feed.scope.shows(b))
        .map(OurEvent::for_booking)
        .collect();
    events.sort_by_key(|e| e.slot.start);
    let clinic = tenant.config.name.as_str();
    let name = match feed.scope {
        FeedScope::Clinic => format!("{clinic}: appointments"),
        FeedScope::Provider(p) => match tenant.provider(p) {
            Some(p) => format!("{clinic}: {}", p.name.as_str()),
            None => format!("{clinic}: appointments"),
        },
    };
    Ok(Some(booking_caldav::render::feed(&name, &events)))
}

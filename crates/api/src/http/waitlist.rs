//! The waitlist's offer links, `/w/{token}`: a small page for a phone showing the freed time
//! with a Claim button (a plain form: no script needed), and the claim itself. Whatever is wrong
//! with a link (expired, already passed on, guessed, malformed) gets the same polite 404 and
//! changes nothing.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::middleware::DefaultHeaders;
use actix_web::{HttpResponse, web};
use booking_core::link_token::LinkToken;
use booking_core::messages::local_time;
use booking_core::service::{ClaimOutcome, OfferPage};

use crate::dashboard::{CSP, esc};
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/w")
            .wrap(
                DefaultHeaders::new()
                    .add((header::CONTENT_SECURITY_POLICY, CSP))
                    .add((header::X_FRAME_OPTIONS, "DENY"))
                    .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                    .add((header::REFERRER_POLICY, "no-referrer"))
                    .add((header::CACHE_CONTROL, "no-store")),
            )
            .route("/{token}", web::get().to(show))
            .route("/{token}", web::post().to(claim)),
    );
}

fn respond(status: StatusCode, title: &str, body: &str) -> HttpResponse {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\">\
         <title>{title}</title><link rel=\"stylesheet\" href=\"/app/static/app.css\">\
         </head><body class=\"patient\"><main>{body}</main></body></html>",
        title = esc(title),
    );
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(html)
}

fn gone() -> HttpResponse {
    respond(
        StatusCode::NOT_FOUND,
        "Link not valid",
        "<h1>This link is no longer valid</h1>\
         <p>Offers from the waitlist last a short while, then pass to the next person. If you are \
         on the waitlist you stay on it, and we will text you if another time frees up.</p>",
    )
}

fn unavailable() -> HttpResponse {
    respond(
        StatusCode::SERVICE_UNAVAILABLE,
        "Try again",
        "<h1>Please try again in a moment</h1><p>We could not reach the booking system just now. \
         Nothing has changed.</p>",
    )
}

/// "Teeth Whitening with Dr. Lee on Thu Mar 5, 9:00 AM EST at Smile Dental"
fn what(p: &OfferPage) -> String {
    let cfg = &p.tenant.config;
    let with = p
        .provider
        .as_ref()
        .map(|n| format!(" with {}", esc(n.as_str())))
        .unwrap_or_default();
    format!(
        "<strong>{service}</strong>{with} on <strong>{when}</strong> at {clinic}",
        service = esc(p.offer.slot.service.as_str()),
        when = esc(&local_time(&cfg.zone, p.offer.slot.slot.start)),
        clinic = esc(cfg.name.as_str()),
    )
}

fn booked(p: &OfferPage) -> HttpResponse {
    respond(
        StatusCode::OK,
        "Booked",
        &format!(
            "<h1>You're booked</h1><p>{}.</p><p>A confirmation text is on its way. To change or \
             cancel, call the clinic.</p>",
            what(p)
        ),
    )
}

fn token_of(path: &str) -> Option<LinkToken> {
    LinkToken::from_presented(path)
}

/// `GET /w/{token}`: the offer and its Claim button.
async fn show(state: web::Data<AppState>, path: web::Path<String>) -> HttpResponse {
    let Some(token) = token_of(&path) else {
        return gone();
    };
    let page = match state.service.waitlist_offer(&token).await {
        Ok(Some(p)) => p,
        Ok(None) => return gone(),
        Err(e) => {
            tracing::warn!(error = %e, "reading a waitlist offer failed");
            return unavailable();
        }
    };
    if page.offer.claimed.is_some() {
        return booked(&page);
    }
    let until = local_time(&page.tenant.config.zone, page.offer.expires_at);
    respond(
        StatusCode::OK,
        "A time opened up",
        &format!(
            "<h1>A time opened up</h1><p>{what}.</p>\
             <p>You are on the waitlist for it. The first to claim it gets it; this offer lasts \
             until {until}.</p>\
             <form method=\"post\" action=\"/w/{token}\">\
             <button type=\"submit\">Claim this time</button></form>",
            what = what(&page),
            until = esc(&until),
            token = esc(token.expose()),
        ),
    )
}

/// `POST /w/{token}`: claims the offer through the same exclusive hold as a call.
async fn claim(state: web::Data<AppState>, path: web::Path<String>) -> HttpResponse {
    let Some(token) = token_of(&path) else {
        return gone();
    };
    match state.service.claim_waitlist_offer(&token).await {
        Ok(ClaimOutcome::Claimed { page, .. }) => {
            state.wake_worker();
            booked(&page)
        }
        Ok(ClaimOutcome::AlreadyClaimed { page }) => booked(&page),
        Ok(ClaimOutcome::Taken { page }) => respond(
            StatusCode::CONFLICT,
            "Just taken",
            &format!(
                "<h1>Sorry, that time was just taken</h1><p>{}.</p><p>You are still on the \
                 waitlist: we will text you if another time frees up.</p>",
                what(&page)
            ),
        ),
        Ok(ClaimOutcome::Gone) => gone(),
        Err(e) => {
            tracing::warn!(error = %e, "claiming a waitlist offer failed");
            unavailable()
        }
    }
}

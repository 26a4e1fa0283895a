//! [`CalDav`]: the [`OutsideCalendar`] port over CalDAV, with `libdav` for the protocol and
//! hyper (rustls, ring) underneath.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use booking_core::booking::Interval;
use booking_core::outside_calendar::{
    CalendarChanges, CalendarCredentials, CalendarLink, CalendarProblem, CalendarUrl, ChangeScope,
    FoundCalendar, OurEvent, OurEventUid, OutsideCalendar, OutsideResource, SyncPoint,
};
use http::header::{AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use http::{HeaderValue, Method, Request, StatusCode, Uri};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::{Client, ResponseFuture};
use hyper_util::rt::TokioExecutor;
use libdav::caldav::{FindCalendarHomeSet, FindCalendars, GetCalendarResources};
use libdav::dav::{
    GetProperty, ListResources, RequestError, SyncCollection, WebDavClient, WebDavError,
};
use libdav::names;

use crate::ical;
use crate::render;

type Http = Client<HttpsConnector<HttpConnector>, String>;
type HttpError = hyper_util::client::legacy::Error;

/// Whether to ask servers for sync tokens (RFC 6578).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncTokens {
    /// Use `sync-collection` when the server supports it, ETag comparison when it does not.
    WhenOffered,
    /// Always compare ETags (for servers whose sync tokens are unreliable; and tests).
    Never,
}

/// Timeouts and sync behaviour.
#[derive(Clone, Debug)]
pub struct CalDavConfig {
    /// Opening a connection.
    pub connect_timeout: Duration,
    /// One request, from sending to the end of the answer.
    pub request_timeout: Duration,
    pub sync_tokens: SyncTokens,
}

impl Default for CalDavConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(20),
            sync_tokens: SyncTokens::WhenOffered,
        }
    }
}

/// Resources fetched per `calendar-multiget`.
const MULTIGET_BATCH: usize = 50;

/// The clinic's calendar server over CalDAV. Cheap to clone (a shared connection pool).
#[derive(Clone)]
pub struct CalDav {
    http: Http,
    config: Arc<CalDavConfig>,
}

impl CalDav {
    pub fn new(config: CalDavConfig) -> Self {
        let mut connector = HttpConnector::new();
        connector.enforce_http(false);
        connector.set_connect_timeout(Some(config.connect_timeout));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls_config())
            .https_or_http()
            .enable_http1()
            .wrap_connector(connector);
        let http = Client::builder(TokioExecutor::new()).build(https);
        Self {
            http,
            config: Arc::new(config),
        }
    }

    fn client(
        &self,
        base: &str,
        credentials: &CalendarCredentials,
    ) -> Result<WebDavClient<Authorized>, CalendarProblem> {
        let uri: Uri = base.parse().map_err(|_| CalendarProblem::NotFound)?;
        let mut auth = match credentials {
            CalendarCredentials::Password { username, password } => {
                let pair = format!("{username}:{}", password.expose());
                HeaderValue::from_str(&format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(pair)
                ))
            }
            CalendarCredentials::Token(token) => {
                HeaderValue::from_str(&format!("Bearer {}", token.expose()))
            }
        }
        .map_err(|_| CalendarProblem::Refused { status: 401 })?;
        // Never printed by http's Debug (libdav traces request headers).
        auth.set_sensitive(true);
        Ok(WebDavClient::new(
            uri,
            Authorized {
                inner: self.http.clone(),
                auth,
            },
        ))
    }

    /// Runs one request with the request timeout.
    async fn timed<T>(
        &self,
        what: &str,
        work: impl Future<Output = Result<T, WebDavError<HttpError>>>,
    ) -> Result<T, CalendarProblem> {
        match tokio::time::timeout(self.config.request_timeout, work).await {
            Err(_) => Err(CalendarProblem::Unreachable {
                detail: format!(
                    "{what}: no answer within {} s",
                    self.config.request_timeout.as_secs()
                ),
            }),
            Ok(result) => result.map_err(|e| problem(what, e)),
        }
    }

    async fn raw(
        &self,
        client: &WebDavClient<Authorized>,
        what: &str,
        request: Request<String>,
    ) -> Result<StatusCode, CalendarProblem> {
        match tokio::time::timeout(self.config.request_timeout, client.request_raw(request)).await {
            Err(_) => Err(CalendarProblem::Unreachable {
                detail: format!(
                    "{what}: no answer within {} s",
                    self.config.request_timeout.as_secs()
                ),
            }),
            Ok(Err(e)) => Err(problem(what, WebDavError::Request(e))),
            Ok(Ok((head, _))) => Ok(head.status),
        }
    }

    /// The context path of the server's CalDAV service: the well-known URL's redirect (RFC 6764
    /// section 5), else DNS SRV/TXT records (section 3; not for loopback addresses), else the
    /// address as given.
    async fn context(
        &self,
        server: &CalendarUrl,
        credentials: &CalendarCredentials,
    ) -> Result<String, CalendarProblem> {
        let client = self.client(server.as_str(), credentials)?;
        let uri = client.base_url().clone();
        let scheme = uri.scheme_str().unwrap_or("https");
        let service = if scheme == "http" {
            libdav::sd::DiscoverableService::CalDav
        } else {
            libdav::sd::DiscoverableService::CalDavs
        };
        let host = uri.host().unwrap_or_default().to_owned();
        let port = uri
            .port_u16()
            .unwrap_or(if scheme == "http" { 80 } else { 443 });
        if server.path() == "/" {
            let found = tokio::time::timeout(
                self.config.request_timeout,
                client.find_context_path(service, &host, port),
            )
            .await;
            match found {
                Err(_) => {
                    return Err(CalendarProblem::Unreachable {
                        detail: "finding the CalDAV service: no answer in time".into(),
                    });
                }
                Ok(Ok(Some(url))) => return Ok(url.to_string()),
                Ok(Ok(None)) => {}
                Ok(Err(libdav::dav::ResolveContextPathError::Request(e))) => {
                    return Err(problem(
                        "finding the CalDAV service",
                        WebDavError::Request(e),
                    ));
                }
                // Only a 401 says the credentials are wrong: servers answer a plain GET of their
                // DAV root in many ways (403 among them), and the address as given is tried next.
                Ok(Err(libdav::dav::ResolveContextPathError::BadStatusCode(s)))
                    if s == StatusCode::UNAUTHORIZED =>
                {
                    return Err(CalendarProblem::Refused { status: s.as_u16() });
                }
                Ok(Err(e)) => tracing::debug!(error = %e, "no CalDAV well-known redirect"),
            }
            if !server.is_loopback()
                && let Ok(Ok(libdav::sd::ContextUrl::Found(url))) = tokio::time::timeout(
                    self.config.request_timeout,
                    libdav::sd::find_context_url(&client, service),
                )
                .await
            {
                return Ok(url.to_string());
            }
        }
        Ok(server.as_str().to_owned())
    }

    async fn fetch(
        &self,
        client: &WebDavClient<Authorized>,
        collection: &str,
        hrefs: &[String],
        link: &CalendarLink,
        horizon: Interval,
    ) -> Result<(Vec<OutsideResource>, Vec<String>), CalendarProblem> {
        let mut changed = Vec::new();
        let mut gone = Vec::new();
        for batch in hrefs.chunks(MULTIGET_BATCH) {
            let fetched = self
                .timed(
                    "reading events",
                    client.request(GetCalendarResources::new(collection).with_hrefs(batch)),
                )
                .await?;
            for resource in fetched.resources {
                match resource.content {
                    Ok(content) => {
                        let busy = match ical::busy_time(&content.data, link.zone.tz(), horizon) {
                            Ok(busy) => busy,
                            Err(reason) => {
                                // One event we cannot read must not hold up the calendar: it
                                // blocks nothing, and is read again when it changes.
                                tracing::warn!(
                                    tenant = %link.tenant,
                                    calendar = %link.calendar,
                                    href = %resource.href,
                                    %reason,
                                    "skipping an event that is not readable iCalendar"
                                );
                                Vec::new()
                            }
                        };
                        changed.push(OutsideResource {
                            href: resource.href,
                            etag: content.etag,
                            busy,
                        });
                    }
                    Err(StatusCode::NOT_FOUND) => gone.push(resource.href),
                    Err(status) => {
                        return Err(status_problem("reading events", status));
                    }
                }
            }
        }
        Ok((changed, gone))
    }

    /// Changes by ETag comparison: list the collection, fetch what is new or different.
    async fn changes_by_etag(
        &self,
        client: &WebDavClient<Authorized>,
        collection: &str,
        link: &CalendarLink,
        since: &SyncPoint,
        horizon: Interval,
    ) -> Result<CalendarChanges, CalendarProblem> {
        let listed = self
            .timed(
                "listing events",
                client.request(ListResources::new(collection)),
            )
            .await?;
        let listed: Vec<(String, Option<String>)> = listed
            .resources
            .into_iter()
            .filter(|r| !r.resource_type.is_collection)
            .map(|r| (r.href, r.etag))
            .collect();
        let present: BTreeSet<&str> = listed.iter().map(|(h, _)| h.as_str()).collect();
        let to_fetch: Vec<String> = listed
            .iter()
            .filter(|(href, etag)| match (since.known.get(href), etag) {
                (Some(known), Some(etag)) => known != etag,
                _ => true,
            })
            .map(|(href, _)| href.clone())
            .collect();
        let mut removed: Vec<String> = since
            .known
            .keys()
            .filter(|h| !present.contains(h.as_str()))
            .cloned()
            .collect();
        let (changed, gone) = self
            .fetch(client, collection, &to_fetch, link, horizon)
            .await?;
        removed.extend(gone);
        Ok(CalendarChanges {
            scope: if since.known.is_empty() {
                ChangeScope::Everything
            } else {
                ChangeScope::SinceLastSync
            },
            changed,
            removed,
            token: None,
            expanded_until: horizon.end,
        })
    }

    fn event_href(link: &CalendarLink, uid: &OurEventUid) -> String {
        let path = link.url.path();
        let dir = if path.ends_with('/') {
            path.to_owned()
        } else {
            format!("{path}/")
        };
        format!("{dir}{}", uid.file_name())
    }
}

impl Default for CalDav {
    fn default() -> Self {
        Self::new(CalDavConfig::default())
    }
}

#[async_trait]
impl OutsideCalendar for CalDav {
    async fn find_calendars(
        &self,
        server: &CalendarUrl,
        credentials: &CalendarCredentials,
    ) -> Result<Vec<FoundCalendar>, CalendarProblem> {
        // The well-known redirect first; some servers send a plain GET of the place it points
        // to on to a web page, so the address as given is the fallback.
        let context = self.context(server, credentials).await?;
        let mut candidates = vec![context];
        if candidates[0] != server.as_str() {
            candidates.push(server.as_str().to_owned());
        }
        let mut found = None;
        let mut last_problem = None;
        for candidate in &candidates {
            let client = self.client(candidate, credentials)?;
            match tokio::time::timeout(
                self.config.request_timeout,
                client.find_current_user_principal(),
            )
            .await
            {
                Err(_) => {
                    return Err(CalendarProblem::Unreachable {
                        detail: "finding the account: no answer in time".into(),
                    });
                }
                Ok(Ok(Some(p))) => {
                    found = Some((client, Some(p)));
                    break;
                }
                Ok(Ok(None)) => last_problem = None,
                Ok(Err(libdav::dav::FindCurrentUserPrincipalError::RequestError(e))) => {
                    let p = problem("finding the account", e);
                    if matches!(p, CalendarProblem::Refused { status: 401 })
                        || matches!(p, CalendarProblem::Unreachable { .. })
                    {
                        return Err(p);
                    }
                    last_problem = Some(p);
                }
                Ok(Err(e)) => {
                    last_problem = Some(CalendarProblem::BadData {
                        detail: format!("finding the account: {e}"),
                    });
                }
            }
        }
        let (client, principal) = match (found, last_problem) {
            (Some(found), _) => found,
            (None, Some(p)) => return Err(p),
            (None, None) => (self.client(server.as_str(), credentials)?, None),
        };
        let homes: Vec<Uri> = match &principal {
            Some(p) => {
                let found = self
                    .timed(
                        "finding the calendars' home",
                        client.request(FindCalendarHomeSet::new(p.path())),
                    )
                    .await?;
                found.home_sets
            }
            None => Vec::new(),
        };
        let homes: Vec<String> = if homes.is_empty() {
            vec![client.base_url().path().to_owned()]
        } else {
            homes.iter().map(|h| h.path().to_owned()).collect()
        };
        let base = client.base_url().clone();
        let origin = format!(
            "{}://{}",
            base.scheme_str().unwrap_or("https"),
            base.authority().map_or("", |a| a.as_str())
        );
        let mut out = Vec::new();
        for home in homes {
            let calendars = self
                .timed(
                    "listing the calendars",
                    client.request(FindCalendars::new(&home)),
                )
                .await?;
            for c in calendars.calendars {
                let name = self
                    .timed(
                        "reading a calendar's name",
                        client.request(GetProperty::new(&c.href, &names::DISPLAY_NAME)),
                    )
                    .await
                    .ok()
                    .and_then(|r| r.value);
                let url = if c.href.starts_with("http://") || c.href.starts_with("https://") {
                    c.href.clone()
                } else {
                    format!("{origin}{}", c.href)
                };
                match CalendarUrl::parse(&url) {
                    Ok(url) => out.push(FoundCalendar { url, name }),
                    Err(e) => tracing::debug!(error = %e, "skipping a calendar we may not use"),
                }
            }
        }
        if out.is_empty() && principal.is_none() {
            return Err(CalendarProblem::NotFound);
        }
        Ok(out)
    }

    async fn changes(
        &self,
        link: &CalendarLink,
        since: &SyncPoint,
        horizon: Interval,
    ) -> Result<CalendarChanges, CalendarProblem> {
        let client = self.client(link.url.as_str(), &link.credentials)?;
        let collection = link.url.path().to_owned();
        if self.config.sync_tokens == SyncTokens::Never {
            return self
                .changes_by_etag(&client, &collection, link, since, horizon)
                .await;
        }
        let mut token = since.token.as_deref();
        let listed = loop {
            let mut request = SyncCollection::new(&collection);
            if let Some(t) = token {
                request = request.with_sync_token(t);
            }
            match tokio::time::timeout(self.config.request_timeout, client.request(request)).await {
                Err(_) => {
                    return Err(CalendarProblem::Unreachable {
                        detail: format!(
                            "syncing: no answer within {} s",
                            self.config.request_timeout.as_secs()
                        ),
                    });
                }
                Ok(Ok(listed)) => break listed,
                // The server forgot our token: start over from nothing.
                Ok(Err(WebDavError::PreconditionFailed(_))) if token.is_some() => token = None,
                // No sync-collection here (or not for this collection): compare ETags.
                Ok(Err(WebDavError::BadStatusCode(s)))
                    if matches!(s.as_u16(), 400 | 403 | 405 | 415 | 501) =>
                {
                    let since = if token.is_some() {
                        since.clone()
                    } else {
                        SyncPoint::start()
                    };
                    let mut by_etag = self
                        .changes_by_etag(&client, &collection, link, &since, horizon)
                        .await?;
                    if since.token.is_some() {
                        // Tokens no longer work: what was known by token is compared by ETag.
                        by_etag.scope = ChangeScope::SinceLastSync;
                    }
                    return Ok(by_etag);
                }
                Ok(Err(e)) => return Err(problem("syncing", e)),
            }
        };
        let from_start = token.is_none();
        let hrefs: Vec<String> = listed
            .changed
            .into_iter()
            .filter(|r| !r.resource_type.is_collection && r.href != collection)
            .map(|r| r.href)
            .collect();
        let (changed, gone) = self
            .fetch(&client, &collection, &hrefs, link, horizon)
            .await?;
        let mut removed = if from_start {
            Vec::new()
        } else {
            listed.deleted
        };
        removed.extend(gone);
        Ok(CalendarChanges {
            scope: if from_start {
                ChangeScope::Everything
            } else {
                ChangeScope::SinceLastSync
            },
            changed,
            removed,
            token: Some(listed.new_sync_token),
            expanded_until: horizon.end,
        })
    }

    async fn write_event(
        &self,
        link: &CalendarLink,
        event: &OurEvent,
    ) -> Result<(), CalendarProblem> {
        let client = self.client(link.url.as_str(), &link.credentials)?;
        let href = Self::event_href(link, &event.uid);
        let uri = libdav::dav::make_relative_url(client.base_url().clone(), &href)
            .map_err(|_| CalendarProblem::NotFound)?;
        let request = Request::builder()
            .method(Method::PUT)
            .uri(uri)
            .header(CONTENT_TYPE, "text/calendar; charset=utf-8")
            .body(render::event_resource(event))
            .map_err(|e| CalendarProblem::BadData {
                detail: e.to_string(),
            })?;
        let status = self.raw(&client, "writing an appointment", request).await?;
        if status.is_success() {
            Ok(())
        } else {
            Err(status_problem("writing an appointment", status))
        }
    }

    async fn remove_event(
        &self,
        link: &CalendarLink,
        uid: &OurEventUid,
    ) -> Result<(), CalendarProblem> {
        let client = self.client(link.url.as_str(), &link.credentials)?;
        let href = Self::event_href(link, uid);
        let uri = libdav::dav::make_relative_url(client.base_url().clone(), &href)
            .map_err(|_| CalendarProblem::NotFound)?;
        let request = Request::builder()
            .method(Method::DELETE)
            .uri(uri)
            .body(String::new())
            .map_err(|e| CalendarProblem::BadData {
                detail: e.to_string(),
            })?;
        let status = self
            .raw(&client, "removing an appointment", request)
            .await?;
        if status.is_success() || status == StatusCode::NOT_FOUND || status == StatusCode::GONE {
            Ok(())
        } else {
            Err(status_problem("removing an appointment", status))
        }
    }
}

/// An HTTP status the server answered with, as a problem.
fn status_problem(what: &str, status: StatusCode) -> CalendarProblem {
    match status.as_u16() {
        401 | 403 => CalendarProblem::Refused {
            status: status.as_u16(),
        },
        404 | 409 | 410 => CalendarProblem::NotFound,
        408 | 429 | 500..=599 => CalendarProblem::Unreachable {
            detail: format!("{what}: the server answered {status}"),
        },
        _ => CalendarProblem::BadData {
            detail: format!("{what}: the server answered {status}"),
        },
    }
}

/// A libdav failure, as a problem. Messages carry no credentials (hyper's errors hold no
/// headers).
fn problem(what: &str, e: WebDavError<HttpError>) -> CalendarProblem {
    match e {
        WebDavError::Request(RequestError::Client(e)) => CalendarProblem::Unreachable {
            detail: format!("{what}: {}", describe(&e)),
        },
        WebDavError::Request(RequestError::Http(e)) => CalendarProblem::Unreachable {
            detail: format!("{what}: the answer broke off: {e}"),
        },
        WebDavError::BadStatusCode(s) => status_problem(what, s),
        WebDavError::Xml(e) => CalendarProblem::BadData {
            detail: format!("{what}: not WebDAV XML: {e}"),
        },
        WebDavError::InvalidResponse(e) => CalendarProblem::BadData {
            detail: format!("{what}: {e}"),
        },
        WebDavError::InvalidInput(e) => CalendarProblem::BadData {
            detail: format!("{what}: {e}"),
        },
        WebDavError::PreconditionFailed(p) => CalendarProblem::BadData {
            detail: format!("{what}: precondition failed: {p}"),
        },
    }
}

fn describe(e: &HttpError) -> String {
    let mut out = if e.is_connect() {
        "could not connect".to_owned()
    } else {
        e.to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// rustls with the ring provider, certificates checked against the system's CA store (as for
/// Twilio). Without a usable store, https fails per request (shown as unreachable) while plain
/// http to a loopback address still works.
fn tls_config() -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = match rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
    {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "TLS protocol versions unavailable");
            return empty_tls();
        }
    };
    use rustls_platform_verifier::BuilderVerifierExt as _;
    // ALPN (http/1.1) is set by the connector.
    match builder.with_platform_verifier() {
        Ok(b) => b.with_no_client_auth(),
        Err(e) => {
            tracing::warn!(error = %e, "no system CA store: https calendar servers will fail");
            empty_tls()
        }
    }
}

fn empty_tls() -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth()
}

/// The HTTP client with the link's `Authorization` header on every request.
#[derive(Clone)]
pub struct Authorized {
    inner: Http,
    auth: HeaderValue,
}

impl tower_service::Service<Request<String>> for Authorized {
    type Response = http::Response<hyper::body::Incoming>;
    type Error = HttpError;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        tower_service::Service::<Request<String>>::poll_ready(&mut self.inner, cx)
    }

    fn call(&mut self, mut request: Request<String>) -> Self::Future {
        request
            .headers_mut()
            .insert(AUTHORIZATION, self.auth.clone());
        request.headers_mut().insert(
            USER_AGENT,
            HeaderValue::from_static("receptionist-calendar-sync"),
        );
        tower_service::Service::call(&mut self.inner, request)
    }
}

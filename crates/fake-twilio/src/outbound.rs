//! Requests the fake makes to the application: status callbacks and inbound SMS, signed like
//! Twilio's. Plain HTTP only (everything runs on loopback); see `FakeTwilioBuilder::route_webhooks`
//! for `https://` URLs behind a local proxy address.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::header::{CONTENT_TYPE, HeaderValue, USER_AGENT};
use hyper::{Method, Request, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use jiff::Timestamp;

use crate::model::{CallbackRecord, DeliveryOrder, FakeError, WebhookReply};
use crate::signature::twilio_signature;
use crate::state::{API_VERSION, Shared, new_sid};

pub(crate) type HttpClient = Client<HttpConnector, Full<Bytes>>;

pub(crate) fn new_client() -> HttpClient {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector.set_connect_timeout(Some(Duration::from_secs(5)));
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .build(connector)
}

/// A signed form POST ready to go.
pub(crate) struct SignedPost {
    /// The URL signed (what the application sees as its own URL).
    pub url: String,
    pub params: Vec<(String, String)>,
    pub signature: String,
}

impl SignedPost {
    pub fn new(auth_token: &str, url: &str, params: Vec<(String, String)>) -> Self {
        let signature = twilio_signature(auth_token, url, &params);
        SignedPost {
            url: url.to_owned(),
            params,
            signature,
        }
    }
}

/// Posts the form with `X-Twilio-Signature` and reads the whole answer.
pub(crate) async fn post_signed(
    shared: &Shared,
    post: &SignedPost,
) -> Result<WebhookReply, FakeError> {
    let target = shared.target_url(&post.url);
    let uri: Uri = target
        .parse()
        .map_err(|e| FakeError::Http(format!("bad webhook URL {target}: {e}")))?;
    if uri.scheme_str() != Some("http") {
        return Err(FakeError::Http(format!(
            "cannot post to {target}: the fake's client speaks plain http only (route https URLs to a local address with route_webhooks)"
        )));
    }
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(post.params.iter())
        .finish();
    let signature = HeaderValue::from_str(&post.signature)
        .map_err(|e| FakeError::Http(format!("bad signature header: {e}")))?;
    let request = Request::builder()
        .method(Method::POST)
        .uri(uri)
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(USER_AGENT, "TwilioProxy/1.1")
        .header("X-Twilio-Signature", signature)
        .header("I-Twilio-Idempotency-Token", new_sid(""))
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| FakeError::Http(format!("cannot build the request to {target}: {e}")))?;

    let exchange = async {
        let response =
            shared.client.request(request).await.map_err(|e| {
                FakeError::Http(format!("POST {target} failed: {}", error_chain(&e)))
            })?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| FakeError::Http(format!("reading the answer of {target} failed: {e}")))?
            .to_bytes();
        Ok(WebhookReply {
            url: post.url.clone(),
            status,
            content_type,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        })
    };
    match tokio::time::timeout(shared.callback_timeout, exchange).await {
        Ok(result) => result,
        Err(_) => Err(FakeError::Http(format!(
            "POST {target}: no answer within {:?}",
            shared.callback_timeout
        ))),
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// A status callback for a recorded message. With `update`, the message's stored status,
/// error code and dates change first (they change even when there is no callback URL, which
/// is then reported as an error).
pub(crate) fn prepare_callback(
    shared: &Shared,
    sid: &str,
    status: &str,
    error_code: Option<u32>,
    update: bool,
) -> Result<(String, SignedPost), FakeError> {
    let mut state = shared.lock();
    let Some(message) = state.message_mut(sid) else {
        return Err(FakeError::UnknownMessage(sid.to_owned()));
    };
    if update {
        let now = Timestamp::now();
        message.status = status.to_owned();
        message.error_code = error_code;
        message.date_updated = now;
        if message.date_sent.is_none()
            && matches!(status, "sent" | "delivered" | "undelivered" | "read")
        {
            message.date_sent = Some(now);
        }
    }
    let message = message.clone();
    let Some(url) = message.status_callback.clone() else {
        drop(state);
        shared.changed();
        return Err(FakeError::NoStatusCallback(sid.to_owned()));
    };
    let token = state.token_for(&message.account_sid);
    drop(state);
    shared.changed();
    let token = token.ok_or_else(|| FakeError::NoAuthToken(message.account_sid.clone()))?;

    let mut params: Vec<(String, String)> = vec![
        ("SmsSid".into(), message.sid.clone()),
        ("SmsStatus".into(), status.to_owned()),
        ("MessageStatus".into(), status.to_owned()),
        ("To".into(), message.to.clone()),
        ("MessageSid".into(), message.sid.clone()),
        ("AccountSid".into(), message.account_sid.clone()),
    ];
    if let Some(from) = &message.from {
        params.push(("From".into(), from.clone()));
    }
    if let Some(service) = &message.messaging_service_sid {
        params.push(("MessagingServiceSid".into(), service.clone()));
    }
    params.push(("ApiVersion".into(), API_VERSION.to_owned()));
    if let Some(code) = error_code {
        params.push(("ErrorCode".into(), code.to_string()));
    }
    Ok((message.sid, SignedPost::new(&token, &url, params)))
}

/// Posts a prepared status callback and records how it went.
pub(crate) async fn send_callback(
    shared: &Shared,
    sid: String,
    post: SignedPost,
) -> Result<WebhookReply, FakeError> {
    let result = post_signed(shared, &post).await;
    let status = post
        .params
        .iter()
        .find(|(k, _)| k == "MessageStatus")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let error_code = post
        .params
        .iter()
        .find(|(k, _)| k == "ErrorCode")
        .and_then(|(_, v)| v.parse().ok());
    let record = CallbackRecord {
        sid,
        url: post.url.clone(),
        status,
        error_code,
        response_status: result.as_ref().ok().map(|r| r.status),
        error: result.as_ref().err().map(ToString::to_string),
        at: Timestamp::now(),
    };
    shared.lock().callbacks.push(record);
    shared.changed();
    result
}

/// `sent` and `delivered` for one message, `delay` apart from acceptance and each other.
pub(crate) async fn auto_deliver(
    shared: Arc<Shared>,
    sid: String,
    order: DeliveryOrder,
    delay: Duration,
) {
    let steps: [(&str, bool); 2] = match order {
        DeliveryOrder::InOrder => [("sent", true), ("delivered", true)],
        // Twilio's true state is `delivered`: the late `sent` does not move it back.
        DeliveryOrder::DeliveredFirst => [("delivered", true), ("sent", false)],
    };
    for (status, update) in steps {
        tokio::time::sleep(delay).await;
        if let Ok((sid, post)) = prepare_callback(&shared, &sid, status, None, update) {
            let _ = send_callback(&shared, sid, post).await;
        }
    }
}

/// The form Twilio posts to an application's inbound-SMS webhook.
pub(crate) fn inbound_params(
    account_sid: &str,
    from: &str,
    to: &str,
    body: &str,
) -> Vec<(String, String)> {
    let sid = new_sid("SM");
    let segments = crate::validate::num_segments(body).to_string();
    [
        ("ToCountry", "US"),
        ("ToState", ""),
        ("SmsMessageSid", &sid),
        ("NumMedia", "0"),
        ("ToCity", ""),
        ("FromZip", ""),
        ("SmsSid", &sid),
        ("FromState", ""),
        ("SmsStatus", "received"),
        ("FromCity", ""),
        ("Body", body),
        ("FromCountry", "US"),
        ("To", to),
        ("ToZip", ""),
        ("NumSegments", &segments),
        ("MessageSid", &sid),
        ("AccountSid", account_sid),
        ("From", from),
        ("ApiVersion", API_VERSION),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

//! What the fake knows, and the Twilio API logic over it (no I/O here except console/JSONL).

use std::collections::{HashMap, HashSet, VecDeque};
use std::fs::File;
use std::io::Write as _;
use std::sync::atomic::AtomicU64;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use base64::Engine as _;
use jiff::Timestamp;
use serde_json::{Value, json};

use crate::contract;
use crate::model::{CallbackRecord, Credential, DeliveryOrder, Fault, SentMessage};
use crate::outbound::HttpClient;
use crate::validate;

pub(crate) const API_VERSION: &str = "2010-04-01";

/// Options that can change while the server runs.
#[derive(Clone, Debug)]
pub(crate) struct Options {
    pub console: bool,
    pub auto_deliver: bool,
    pub order: DeliveryOrder,
    pub auto_delay: Duration,
}

#[derive(Default)]
pub(crate) struct State {
    /// account sid → auth token
    pub accounts: HashMap<String, String>,
    /// key sid → (account sid, secret)
    pub api_keys: HashMap<String, (String, String)>,
    /// Auth tokens seen on accepted AccountSid:AuthToken requests (while nothing is registered),
    /// so that callbacks can still be signed.
    pub seen_tokens: HashMap<String, String>,
    pub opted_out: HashSet<String>,
    pub messages: Vec<SentMessage>,
    pub by_sid: HashMap<String, usize>,
    pub faults: VecDeque<Fault>,
    pub fail_all: Option<Fault>,
    pub callbacks: Vec<CallbackRecord>,
    pub options: Option<Options>,
}

impl State {
    pub fn options(&self) -> &Options {
        self.options.as_ref().expect("options are set at start")
    }

    pub fn options_mut(&mut self) -> &mut Options {
        self.options.as_mut().expect("options are set at start")
    }

    /// Registration makes authentication strict.
    fn strict(&self) -> bool {
        !self.accounts.is_empty() || !self.api_keys.is_empty()
    }

    /// The token callbacks and inbound requests for this account are signed with.
    pub fn token_for(&self, account_sid: &str) -> Option<String> {
        self.accounts
            .get(account_sid)
            .or_else(|| self.seen_tokens.get(account_sid))
            .cloned()
    }

    pub fn message(&self, sid: &str) -> Option<&SentMessage> {
        self.by_sid.get(sid).map(|&i| &self.messages[i])
    }

    pub fn message_mut(&mut self, sid: &str) -> Option<&mut SentMessage> {
        self.by_sid.get(sid).map(|&i| &mut self.messages[i])
    }

    pub fn take_fault(&mut self) -> Option<Fault> {
        self.faults.pop_front().or_else(|| self.fail_all.clone())
    }
}

pub(crate) struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    pub notify: tokio::sync::Notify,
    pub requests: AtomicU64,
    pub send_attempts: AtomicU64,
    pub jsonl: Mutex<Option<File>>,
    pub client: HttpClient,
    pub callback_timeout: Duration,
    /// (public prefix, local prefix): webhooks to a URL under the public prefix are signed for
    /// that URL but sent to the local prefix, as through a TLS-terminating proxy.
    pub routes: Vec<(String, String)>,
}

impl Shared {
    pub fn new(
        options: Options,
        jsonl: Option<File>,
        callback_timeout: Duration,
        routes: Vec<(String, String)>,
    ) -> Self {
        Shared {
            state: Mutex::new(State {
                options: Some(options),
                ..State::default()
            }),
            changed: Condvar::new(),
            notify: tokio::sync::Notify::new(),
            requests: AtomicU64::new(0),
            send_attempts: AtomicU64::new(0),
            jsonl: Mutex::new(jsonl),
            client: crate::outbound::new_client(),
            callback_timeout,
            routes,
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Wakes every waiter (blocking and async) after a change.
    pub fn changed(&self) {
        self.changed.notify_all();
        self.notify.notify_waiters();
    }

    /// Blocks until `check` returns `Some` or the timeout passes; on time-out returns `Err` with
    /// what `progress` says about the state.
    pub fn wait_blocking<T>(
        &self,
        timeout: Duration,
        mut check: impl FnMut(&State) -> Option<T>,
    ) -> Result<T, ()> {
        let deadline = std::time::Instant::now() + timeout;
        let mut state = self.lock();
        loop {
            if let Some(v) = check(&state) {
                return Ok(v);
            }
            let now = std::time::Instant::now();
            if now >= deadline {
                return Err(());
            }
            state = self
                .changed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// The URL to actually connect to for a webhook URL (see `routes`).
    pub fn target_url(&self, url: &str) -> String {
        for (public, local) in &self.routes {
            if let Some(rest) = url.strip_prefix(public.as_str()) {
                return format!("{local}{rest}");
            }
        }
        url.to_owned()
    }
}

/// A Twilio API error: `{"code", "message", "more_info", "status"}`.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub status: u16,
    pub code: u32,
    pub message: String,
}

impl ApiError {
    pub fn new(status: u16, code: u32, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn json(&self) -> Value {
        json!({
            "code": self.code,
            "message": self.message,
            "more_info": format!("https://www.twilio.com/docs/errors/{}", self.code),
            "status": self.status,
        })
    }

    fn unauthorized() -> Self {
        ApiError::new(401, 20003, "Authenticate")
    }

    pub fn not_found(path: &str) -> Self {
        ApiError::new(
            404,
            20404,
            format!("The requested resource {path} was not found"),
        )
    }
}

/// HTTP Basic for `account_sid`, checked the way Twilio does: the username is the account sid
/// (auth-token auth) or an `SK…` API key. While no account or key is registered any password is
/// taken; once something is registered, only registered credentials are.
pub(crate) fn authenticate(
    state: &mut State,
    authorization: Option<&[u8]>,
    account_sid: &str,
) -> Result<Credential, ApiError> {
    let (user, password) = parse_basic(authorization).ok_or_else(ApiError::unauthorized)?;
    if user.starts_with("AC") {
        if user != account_sid {
            return Err(ApiError::unauthorized());
        }
        if state.strict() {
            if state.accounts.get(account_sid) != Some(&password) {
                return Err(ApiError::unauthorized());
            }
        } else if state.seen_tokens.get(account_sid) != Some(&password) {
            state.seen_tokens.insert(account_sid.to_owned(), password);
        }
        Ok(Credential::AuthToken)
    } else if user.starts_with("SK") {
        if state.strict() {
            match state.api_keys.get(&user) {
                Some((account, secret)) if account == account_sid && *secret == password => {}
                _ => return Err(ApiError::unauthorized()),
            }
        }
        Ok(Credential::ApiKey { key_sid: user })
    } else {
        Err(ApiError::unauthorized())
    }
}

fn parse_basic(header: Option<&[u8]>) -> Option<(String, String)> {
    let header = std::str::from_utf8(header?).ok()?.trim();
    let (scheme, encoded) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    if user.is_empty() {
        return None;
    }
    Some((user.to_owned(), password.to_owned()))
}

pub(crate) fn new_sid(prefix: &str) -> String {
    format!("{prefix}{:032x}", rand::random::<u128>())
}

/// Twilio's date format: `Thu, 30 Jul 2015 20:12:31 +0000`.
pub(crate) fn rfc2822(ts: Timestamp) -> String {
    ts.strftime("%a, %d %b %Y %H:%M:%S +0000").to_string()
}

fn first<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A parameter Twilio's definition does not give the endpoint: Twilio would pass over it, the
/// fake refuses it so that a misspelled name cannot go unnoticed (see `contract`).
fn refuse_unknown(params: &[(String, String)], allowed: &[&str]) -> Result<(), ApiError> {
    match contract::unknown_parameter(params, allowed) {
        None => Ok(()),
        Some(name) => Err(ApiError::new(
            400,
            20001,
            format!("'{name}' is not a parameter of this endpoint in Twilio's API definition"),
        )),
    }
}

/// Validates a send and records it. Called with the state locked.
pub(crate) fn accept_send(
    state: &mut State,
    account_sid: &str,
    authorization: Option<&[u8]>,
    body: &[u8],
) -> Result<SentMessage, ApiError> {
    let credential = authenticate(state, authorization, account_sid)?;
    let params: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
    refuse_unknown(&params, contract::CREATE_MESSAGE)?;

    let to = first(&params, "To").filter(|s| !s.is_empty());
    let from = first(&params, "From").filter(|s| !s.is_empty());
    let service = first(&params, "MessagingServiceSid").filter(|s| !s.is_empty());
    let text = first(&params, "Body").filter(|s| !s.is_empty());
    let callback = first(&params, "StatusCallback").filter(|s| !s.is_empty());

    let Some(to) = to else {
        return Err(ApiError::new(
            400,
            21604,
            "A 'To' phone number is required.",
        ));
    };
    if !validate::is_e164(to) {
        return Err(ApiError::new(
            400,
            21211,
            format!("The 'To' number {to} is not a valid phone number."),
        ));
    }
    if from.is_none() && service.is_none() {
        return Err(ApiError::new(
            400,
            21603,
            "A 'From' phone number is required.",
        ));
    }
    if let Some(from) = from
        && !validate::is_valid_sender(from)
    {
        return Err(ApiError::new(
            400,
            21212,
            format!(
                "The 'From' number {from} is not a valid phone number, shortcode, or alphanumeric sender ID."
            ),
        ));
    }
    if let Some(service) = service
        && !validate::is_messaging_service_sid(service)
    {
        return Err(ApiError::new(
            400,
            21701,
            format!("The Messaging Service Sid {service} is invalid."),
        ));
    }
    let Some(text) = text else {
        return Err(ApiError::new(400, 21602, "Message body is required."));
    };
    if text.chars().count() > validate::MAX_BODY_CHARS {
        return Err(ApiError::new(
            400,
            21617,
            "The concatenated message body exceeds the 1600 character limit.",
        ));
    }
    if let Some(callback) = callback
        && !validate::is_http_url(callback)
    {
        return Err(ApiError::new(
            400,
            21609,
            format!("The StatusCallback URL {callback} is not a valid URL."),
        ));
    }
    if state.opted_out.contains(to) {
        return Err(ApiError::new(
            400,
            21610,
            "Attempt to send to unsubscribed recipient",
        ));
    }

    let now = Timestamp::now();
    let status = if from.is_none() { "accepted" } else { "queued" };
    let message = SentMessage {
        sid: new_sid("SM"),
        account_sid: account_sid.to_owned(),
        credential,
        to: to.to_owned(),
        from: from.map(str::to_owned),
        messaging_service_sid: service.map(str::to_owned),
        body: text.to_owned(),
        status_callback: callback.map(str::to_owned),
        num_segments: validate::num_segments(text),
        params,
        date_created: now,
        date_updated: now,
        date_sent: None,
        status: status.to_owned(),
        error_code: None,
    };
    state
        .by_sid
        .insert(message.sid.clone(), state.messages.len());
    state.messages.push(message.clone());
    Ok(message)
}

pub(crate) fn message_uri(account_sid: &str, sid: &str) -> String {
    format!("/{API_VERSION}/Accounts/{account_sid}/Messages/{sid}.json")
}

/// The message resource as Twilio renders it.
pub(crate) fn message_json(m: &SentMessage) -> Value {
    let uri = message_uri(&m.account_sid, &m.sid);
    let base = uri.trim_end_matches(".json");
    json!({
        "account_sid": m.account_sid,
        "api_version": API_VERSION,
        "body": m.body,
        "date_created": rfc2822(m.date_created),
        "date_sent": m.date_sent.map(rfc2822),
        "date_updated": rfc2822(m.date_updated),
        "direction": "outbound-api",
        "error_code": m.error_code,
        "error_message": m.error_code.map(|c| format!("Error {c}")),
        "from": m.from,
        "messaging_service_sid": m.messaging_service_sid,
        "num_media": "0",
        "num_segments": m.num_segments.to_string(),
        "price": null,
        "price_unit": "USD",
        "sid": m.sid,
        "status": m.status,
        "subresource_uris": {
            "media": format!("{base}/Media.json"),
            "feedback": format!("{base}/Feedback.json"),
        },
        "to": m.to,
        "uri": uri,
    })
}

/// `GET …/Messages.json`: filters `To`, `From`, `DateSent` / `DateSent>` / `DateSent<` (a
/// `YYYY-MM-DD` UTC day or an RFC 3339 instant, compared to the second against `date_sent`; as
/// at Twilio, a message not sent yet (queued, accepted, scheduled: no `date_sent`) is left out
/// by any of them), paging with `PageSize` (default 50, at
/// most 1000), `Page` and `PageToken`. Newest first.
pub(crate) fn list_messages(
    state: &State,
    account_sid: &str,
    query: &str,
) -> Result<Value, ApiError> {
    let params: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    refuse_unknown(&params, contract::LIST_MESSAGES)?;
    let to = first(&params, "To");
    let from = first(&params, "From");
    let mut lower: Option<i64> = None; // inclusive, unix seconds
    let mut upper: Option<i64> = None; // exclusive
    for (name, value) in &params {
        let (lo, hi) = match name.as_str() {
            "DateSent" => {
                let (start, end) = parse_day_or_instant(value)?;
                (Some(start), Some(end))
            }
            "DateSent>" => (Some(parse_day_or_instant(value)?.0), None),
            "DateSent<" => (None, Some(parse_day_or_instant(value)?.1)),
            _ => continue,
        };
        if let Some(lo) = lo {
            lower = Some(lower.map_or(lo, |l| l.max(lo)));
        }
        if let Some(hi) = hi {
            upper = Some(upper.map_or(hi, |u| u.min(hi)));
        }
    }
    let page_size = match first(&params, "PageSize") {
        None => 50,
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=1000).contains(&n) => n,
            _ => {
                return Err(ApiError::new(
                    400,
                    20001,
                    format!("Invalid PageSize {s}: must be between 1 and 1000"),
                ));
            }
        },
    };
    let page = match first(&params, "Page") {
        None => 0,
        Some(s) => s
            .parse::<usize>()
            .map_err(|_| ApiError::new(400, 20001, format!("Invalid Page {s}")))?,
    };

    let matching: Vec<&SentMessage> = state
        .messages
        .iter()
        .rev()
        .filter(|m| m.account_sid == account_sid)
        .filter(|m| to.is_none_or(|t| m.to == t))
        .filter(|m| from.is_none_or(|f| m.from.as_deref() == Some(f)))
        .filter(|m| {
            if lower.is_none() && upper.is_none() {
                return true;
            }
            let Some(at) = m.date_sent.map(|d| d.as_second()) else {
                return false;
            };
            lower.is_none_or(|l| at >= l) && upper.is_none_or(|u| at < u)
        })
        .collect();

    // A page token names the last message of the previous page, so that messages created
    // while a client pages do not shift what it sees.
    let after_token = first(&params, "PageToken")
        .and_then(|t| t.strip_prefix("PA"))
        .and_then(|sid| matching.iter().position(|m| m.sid == sid))
        .map(|i| i + 1);
    let start = after_token.unwrap_or(page.saturating_mul(page_size));
    let items: Vec<&SentMessage> = matching
        .iter()
        .skip(start)
        .take(page_size)
        .copied()
        .collect();

    let filters: Vec<(&str, &str)> = params
        .iter()
        .filter(|(k, _)| {
            matches!(
                k.as_str(),
                "To" | "From" | "DateSent" | "DateSent>" | "DateSent<"
            )
        })
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let path = format!("/{API_VERSION}/Accounts/{account_sid}/Messages.json");
    let page_uri = |page: usize, token: Option<&str>| {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &filters {
            s.append_pair(k, v);
        }
        s.append_pair("PageSize", &page_size.to_string());
        s.append_pair("Page", &page.to_string());
        if let Some(token) = token {
            s.append_pair("PageToken", token);
        }
        format!("{path}?{}", s.finish())
    };
    let next_page_uri = match items.last() {
        Some(last) if start + items.len() < matching.len() => {
            Some(page_uri(page + 1, Some(&format!("PA{}", last.sid))))
        }
        _ => None,
    };
    let previous_page_uri = (page > 0).then(|| page_uri(page - 1, None));
    Ok(json!({
        "end": (start + items.len()).saturating_sub(1),
        "first_page_uri": page_uri(0, None),
        "messages": items.iter().map(|m| message_json(m)).collect::<Vec<_>>(),
        "next_page_uri": next_page_uri,
        "page": page,
        "page_size": page_size,
        "previous_page_uri": previous_page_uri,
        "start": start,
        "uri": page_uri(page, first(&params, "PageToken")),
    }))
}

/// `[start, end)` in unix seconds: a whole UTC day for `YYYY-MM-DD`, one second for an instant.
fn parse_day_or_instant(value: &str) -> Result<(i64, i64), ApiError> {
    let bad = || ApiError::new(400, 20001, format!("Invalid DateSent {value}"));
    if let Ok(day) = value.parse::<jiff::civil::Date>()
        && !value.contains('T')
    {
        let start = day
            .to_zoned_datetime(jiff::tz::TimeZone::UTC)
            .map_err(|_| bad())?
            .timestamp()
            .as_second();
        return Ok((start, start + 86_400));
    }
    let at = value.parse::<Timestamp>().map_err(|_| bad())?.as_second();
    Ok((at, at + 1))
}

/// Prints a sent message as a clearly labelled block: nothing leaves the machine.
pub(crate) fn print_console(m: &SentMessage) {
    let sender = match (&m.from, &m.messaging_service_sid) {
        (Some(from), _) => from.clone(),
        (None, Some(service)) => format!("service {service}"),
        (None, None) => "?".to_owned(),
    };
    let via = match &m.credential {
        Credential::AuthToken => "auth token".to_owned(),
        Credential::ApiKey { key_sid } => format!("API key {key_sid}"),
    };
    let block = format!(
        "── local Twilio stand-in: NOT SENT ── to {} from {} ── {} ──\n{}\n── ({} segment{}, account {}, {}) ──\n",
        m.to,
        sender,
        m.sid,
        m.body,
        m.num_segments,
        if m.num_segments == 1 { "" } else { "s" },
        m.account_sid,
        via,
    );
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(block.as_bytes());
    let _ = out.flush();
}

/// One JSON line per accepted message.
pub(crate) fn jsonl_line(m: &SentMessage) -> String {
    let credential = match &m.credential {
        Credential::AuthToken => "auth_token".to_owned(),
        Credential::ApiKey { key_sid } => format!("api_key:{key_sid}"),
    };
    let mut line = json!({
        "sid": m.sid,
        "account_sid": m.account_sid,
        "credential": credential,
        "to": m.to,
        "from": m.from,
        "messaging_service_sid": m.messaging_service_sid,
        "body": m.body,
        "status_callback": m.status_callback,
        "num_segments": m.num_segments,
        "date_created": m.date_created.to_string(),
        "sent": false,
    })
    .to_string();
    line.push('\n');
    line
}

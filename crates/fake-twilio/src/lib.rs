//! A fake Twilio REST API over real HTTP, for tests, benchmarks and local development.
//!
//! [`FakeTwilio`] serves the part of Twilio's Messaging API the backend uses, on
//! `127.0.0.1`, from its own thread and its own tokio runtime, so it works the same from
//! plain `#[test]`s, `#[tokio::test]` (any flavour), actix tests and binaries. It stops when
//! dropped.
//!
//! - `POST /2010-04-01/Accounts/{AccountSid}/Messages.json` sends (records) a message,
//!   validated like Twilio: HTTP Basic (`AccountSid:AuthToken` or `SK…:secret`), `To` in E.164,
//!   `From` or `MessagingServiceSid`, `Body` of at most 1600 characters, opted-out recipients.
//! - `GET …/Messages.json` lists them (filters `To`, `From`, `DateSent`, `DateSent>`,
//!   `DateSent<`; paging with `PageSize`, `Page`, `PageToken`), newest first. `DateSent>=X`
//!   must be percent-encoded (`DateSent%3E=X`), as every HTTP client does: the server's URI
//!   parser answers a raw `>` or `<` with 400.
//! - `GET …/Messages/{Sid}.json` fetches one.
//!
//! Tests steer it with faults ([`FakeTwilio::push_fault`], [`FakeTwilio::fail_all`]), inspect
//! what was sent ([`FakeTwilio::messages`], [`FakeTwilio::wait_for_messages`]), and make it
//! call the application back like Twilio does: signed status callbacks
//! ([`FakeTwilio::deliver`], [`FakeTwilio::auto_deliver`]) and signed inbound SMS
//! ([`FakeTwilio::send_inbound`]).
//!
//! Authentication is permissive until something is registered: with no
//! [`FakeTwilio::register_account`] / [`FakeTwilio::register_api_key`] any password is taken
//! (the username must still be the path's account sid or an `SK…` key); after the first
//! registration only registered credentials are, for every account.
//!
//! Calls that do network work on the fake's thread return [`Pending`], which can be
//! `.await`ed from any executor or `.wait()`ed for from sync code.
//!
//! ```no_run
//! let twilio = fake_twilio::FakeTwilio::start();
//! twilio.register_account("AC00000000000000000000000000000001", "token-1");
//! // point the client at twilio.base_url(), send, then:
//! let sent = twilio.wait_for_messages_blocking(1, std::time::Duration::from_secs(5)).unwrap();
//! assert_eq!(sent[0].to, "+15551230001");
//! ```

pub mod contract;
mod model;
mod outbound;
mod pending;
mod server;
mod signature;
mod state;
pub mod validate;

use std::fs::OpenOptions;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::sync::oneshot;

pub use model::{
    CallbackRecord, Credential, DeliveryOrder, FakeError, Fault, SentMessage, WebhookReply,
};
pub use pending::Pending;
pub use signature::twilio_signature;

use outbound::SignedPost;
use state::{Options, Shared};

/// Twilio's API version, the first path segment.
pub const API_VERSION: &str = state::API_VERSION;

/// How to start a [`FakeTwilio`]; [`FakeTwilio::builder`].
#[derive(Clone, Debug)]
pub struct FakeTwilioBuilder {
    addr: SocketAddr,
    console: bool,
    jsonl: Option<PathBuf>,
    auto_deliver: bool,
    order: DeliveryOrder,
    auto_delay: Duration,
    worker_threads: usize,
    callback_timeout: Duration,
    routes: Vec<(String, String)>,
}

impl Default for FakeTwilioBuilder {
    fn default() -> Self {
        FakeTwilioBuilder {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            console: false,
            jsonl: None,
            auto_deliver: false,
            order: DeliveryOrder::InOrder,
            auto_delay: Duration::from_millis(20),
            worker_threads: 1,
            callback_timeout: Duration::from_secs(10),
            routes: Vec::new(),
        }
    }
}

impl FakeTwilioBuilder {
    /// Address to listen on; default `127.0.0.1:0` (a free port).
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// Stand-in mode for local development: print every accepted message to stdout as a
    /// clearly labelled "NOT SENT" block.
    pub fn with_console(mut self, on: bool) -> Self {
        self.console = on;
        self
    }

    /// Also append every accepted message to this file as one JSON object per line.
    pub fn with_jsonl(mut self, path: impl Into<PathBuf>) -> Self {
        self.jsonl = Some(path.into());
        self
    }

    /// See [`FakeTwilio::auto_deliver`].
    pub fn with_auto_deliver(mut self, on: bool) -> Self {
        self.auto_deliver = on;
        self
    }

    /// See [`FakeTwilio::auto_deliver_order`].
    pub fn with_delivery_order(mut self, order: DeliveryOrder) -> Self {
        self.order = order;
        self
    }

    /// Pause before each automatic callback; default 20 ms.
    pub fn with_auto_deliver_delay(mut self, delay: Duration) -> Self {
        self.auto_delay = delay;
        self
    }

    /// 1 (the default): everything runs on the fake's own thread (a current-thread runtime).
    /// More: a multi-thread runtime with that many workers.
    pub fn with_worker_threads(mut self, n: usize) -> Self {
        self.worker_threads = n.max(1);
        self
    }

    /// How long a callback or inbound POST may take; default 10 s.
    pub fn with_callback_timeout(mut self, timeout: Duration) -> Self {
        self.callback_timeout = timeout;
        self
    }

    /// Webhook URLs starting with `public_prefix` (e.g. `https://clinic.example`) are signed
    /// for that URL, as Twilio would, but sent to `local_prefix` (e.g. `http://127.0.0.1:8080`)
    /// instead, as through a TLS-terminating proxy. The fake's own client speaks plain HTTP.
    pub fn route_webhooks(
        mut self,
        public_prefix: impl Into<String>,
        local_prefix: impl Into<String>,
    ) -> Self {
        self.routes
            .push((public_prefix.into(), local_prefix.into()));
        self
    }

    /// Binds and starts the server thread.
    pub fn start(self) -> io::Result<FakeTwilio> {
        let jsonl = match &self.jsonl {
            Some(path) => Some(OpenOptions::new().create(true).append(true).open(path)?),
            None => None,
        };
        let options = Options {
            console: self.console,
            auto_deliver: self.auto_deliver,
            order: self.order,
            auto_delay: self.auto_delay,
        };
        let shared = Arc::new(Shared::new(
            options,
            jsonl,
            self.callback_timeout,
            self.routes,
        ));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<io::Result<(SocketAddr, Handle)>>();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let thread_shared = shared.clone();
        let addr = self.addr;
        let workers = self.worker_threads;
        let thread = std::thread::Builder::new()
            .name("fake-twilio".into())
            .spawn(move || {
                let runtime = if workers <= 1 {
                    tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                } else {
                    tokio::runtime::Builder::new_multi_thread()
                        .worker_threads(workers)
                        .thread_name("fake-twilio-worker")
                        .enable_all()
                        .build()
                };
                let runtime = match runtime {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let listener = {
                    let _entered = runtime.enter();
                    bind(addr)
                };
                let listener = match listener {
                    Ok(listener) => listener,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let local = listener.local_addr();
                let _ = ready_tx.send(local.map(|a| (a, runtime.handle().clone())));
                runtime.block_on(server::serve(listener, thread_shared, stop_rx));
                runtime.shutdown_background();
            })?;
        let (addr, handle) = ready_rx
            .recv()
            .map_err(|_| io::Error::other("the fake Twilio thread died while starting"))??;
        Ok(FakeTwilio {
            shared,
            addr,
            handle,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }
}

fn bind(addr: SocketAddr) -> io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// A running fake Twilio API. Stops (and closes its port) when dropped.
pub struct FakeTwilio {
    shared: Arc<Shared>,
    addr: SocketAddr,
    handle: Handle,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for FakeTwilio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeTwilio")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl FakeTwilio {
    /// Starts on `127.0.0.1` on a free port.
    ///
    /// # Panics
    /// When the port cannot be bound or the thread cannot be started; use
    /// [`FakeTwilio::builder`] to get the error instead.
    pub fn start() -> FakeTwilio {
        FakeTwilio::builder()
            .start()
            .expect("the fake Twilio server could not start")
    }

    /// Starts on the given address.
    pub fn start_on(addr: SocketAddr) -> io::Result<FakeTwilio> {
        FakeTwilio::builder().bind(addr).start()
    }

    pub fn builder() -> FakeTwilioBuilder {
        FakeTwilioBuilder::default()
    }

    /// `http://127.0.0.1:PORT`: what to configure as the Twilio API base.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `base_url()` + `/2010-04-01/Accounts/{account_sid}/Messages.json`.
    pub fn messages_url(&self, account_sid: &str) -> String {
        format!(
            "{}/{API_VERSION}/Accounts/{account_sid}/Messages.json",
            self.base_url()
        )
    }

    // ----- accounts and recipients -----

    /// Accepts `account_sid:auth_token` for this account, and signs its callbacks with the
    /// token. From the first registration on, unregistered credentials get 401 / 20003.
    pub fn register_account(&self, account_sid: &str, auth_token: &str) {
        self.shared
            .lock()
            .accounts
            .insert(account_sid.to_owned(), auth_token.to_owned());
    }

    /// Accepts `key_sid:secret` for this account (and makes authentication strict, as
    /// [`FakeTwilio::register_account`]). Callbacks still need the account's auth token.
    pub fn register_api_key(&self, account_sid: &str, key_sid: &str, secret: &str) {
        self.shared.lock().api_keys.insert(
            key_sid.to_owned(),
            (account_sid.to_owned(), secret.to_owned()),
        );
    }

    /// Sends to this number get 400 / 21610, as after the recipient texted STOP.
    pub fn opt_out(&self, number: &str) {
        self.shared.lock().opted_out.insert(number.to_owned());
    }

    /// Undoes [`FakeTwilio::opt_out`].
    pub fn opt_in(&self, number: &str) {
        self.shared.lock().opted_out.remove(number);
    }

    // ----- faults -----

    /// Queues a fault for the next send (POST `Messages.json`); several queue in order.
    /// Faults apply to sends only, never to listing or fetching.
    pub fn push_fault(&self, fault: Fault) {
        self.shared.lock().faults.push_back(fault);
    }

    /// Every send gets this fault (after any queued ones) until [`FakeTwilio::recover`].
    pub fn fail_all(&self, fault: Fault) {
        self.shared.lock().fail_all = Some(fault);
    }

    /// Ends [`FakeTwilio::fail_all`] and drops queued faults.
    pub fn recover(&self) {
        let mut state = self.shared.lock();
        state.fail_all = None;
        state.faults.clear();
    }

    /// Faults still queued.
    pub fn pending_faults(&self) -> usize {
        self.shared.lock().faults.len()
    }

    // ----- options -----

    /// With `true`, every accepted message that has a `StatusCallback` gets two signed
    /// callbacks shortly after: `sent` then `delivered` (see
    /// [`FakeTwilio::auto_deliver_order`]). Their outcome is in [`FakeTwilio::callbacks`].
    pub fn auto_deliver(&self, on: bool) {
        self.shared.lock().options_mut().auto_deliver = on;
    }

    /// The order of the automatic callbacks; [`DeliveryOrder::DeliveredFirst`] exercises
    /// forward-only status handling.
    pub fn auto_deliver_order(&self, order: DeliveryOrder) {
        self.shared.lock().options_mut().order = order;
    }

    /// Turns the "NOT SENT" console blocks on or off.
    pub fn set_console(&self, on: bool) {
        self.shared.lock().options_mut().console = on;
    }

    // ----- inspection -----

    /// Every accepted message, oldest first.
    pub fn messages(&self) -> Vec<SentMessage> {
        self.shared.lock().messages.clone()
    }

    /// Accepted messages to this number, oldest first.
    pub fn messages_to(&self, number: &str) -> Vec<SentMessage> {
        self.shared
            .lock()
            .messages
            .iter()
            .filter(|m| m.to == number)
            .cloned()
            .collect()
    }

    /// One message by sid, with its current status.
    pub fn message(&self, sid: &str) -> Option<SentMessage> {
        self.shared.lock().message(sid).cloned()
    }

    pub fn message_count(&self) -> usize {
        self.shared.lock().messages.len()
    }

    /// HTTP requests received, on any path, whatever the answer.
    pub fn requests_count(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }

    /// POSTs to `Messages.json` received, whatever the answer (faults and rejections count).
    pub fn send_attempts(&self) -> u64 {
        self.shared.send_attempts.load(Ordering::Relaxed)
    }

    /// Status callbacks posted so far, in the order they finished.
    pub fn callbacks(&self) -> Vec<CallbackRecord> {
        self.shared.lock().callbacks.clone()
    }

    /// Forgets recorded messages, callbacks and counters, queued faults and
    /// [`FakeTwilio::fail_all`]. Registered accounts, keys, opt-outs and options stay.
    pub fn clear(&self) {
        let mut state = self.shared.lock();
        state.messages.clear();
        state.by_sid.clear();
        state.callbacks.clear();
        state.faults.clear();
        state.fail_all = None;
        drop(state);
        self.shared.requests.store(0, Ordering::Relaxed);
        self.shared.send_attempts.store(0, Ordering::Relaxed);
    }

    /// Blocks until at least `n` messages were accepted; returns them all (oldest first).
    /// Needs no runtime; do not call it on a thread the sender needs to make progress.
    pub fn wait_for_messages_blocking(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<SentMessage>, FakeError> {
        self.shared
            .wait_blocking(timeout, |s| {
                (s.messages.len() >= n).then(|| s.messages.clone())
            })
            .map_err(|()| FakeError::Timeout {
                wanted: n,
                got: self.message_count(),
                timeout,
            })
    }

    /// Resolves once at least `n` messages were accepted, with them all (oldest first).
    /// Await it from any executor; the timer runs on the fake's own runtime.
    pub fn wait_for_messages(&self, n: usize, timeout: Duration) -> Pending<Vec<SentMessage>> {
        self.wait_async(
            timeout,
            n,
            move |s| (s.messages.len() >= n).then(|| s.messages.clone()),
            |s| s.messages.len(),
        )
    }

    /// Blocks until at least `n` status callbacks have finished (answered or failed).
    pub fn wait_for_callbacks_blocking(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<CallbackRecord>, FakeError> {
        self.shared
            .wait_blocking(timeout, |s| {
                (s.callbacks.len() >= n).then(|| s.callbacks.clone())
            })
            .map_err(|()| FakeError::Timeout {
                wanted: n,
                got: self.shared.lock().callbacks.len(),
                timeout,
            })
    }

    /// Async twin of [`FakeTwilio::wait_for_callbacks_blocking`].
    pub fn wait_for_callbacks(&self, n: usize, timeout: Duration) -> Pending<Vec<CallbackRecord>> {
        self.wait_async(
            timeout,
            n,
            move |s| (s.callbacks.len() >= n).then(|| s.callbacks.clone()),
            |s| s.callbacks.len(),
        )
    }

    fn wait_async<T: Send + 'static>(
        &self,
        timeout: Duration,
        wanted: usize,
        check: impl Fn(&state::State) -> Option<T> + Send + 'static,
        progress: impl Fn(&state::State) -> usize + Send + 'static,
    ) -> Pending<T> {
        let shared = self.shared.clone();
        self.spawn(async move {
            let deadline = tokio::time::Instant::now() + timeout;
            loop {
                let notified = shared.notify.notified();
                let mut notified = std::pin::pin!(notified);
                notified.as_mut().enable();
                if let Some(v) = check(&shared.lock()) {
                    return Ok(v);
                }
                if tokio::time::timeout_at(deadline, notified).await.is_err() {
                    return Err(FakeError::Timeout {
                        wanted,
                        got: progress(&shared.lock()),
                        timeout,
                    });
                }
            }
        })
    }

    fn spawn<T: Send + 'static>(
        &self,
        work: impl std::future::Future<Output = Result<T, FakeError>> + Send + 'static,
    ) -> Pending<T> {
        let (tx, rx) = oneshot::channel();
        self.handle.spawn(async move {
            let _ = tx.send(work.await);
        });
        Pending::waiting(rx)
    }

    // ----- calling the application back -----

    /// Sets the message's status (and error code), then POSTs a status callback to its
    /// `StatusCallback` URL exactly like Twilio: form fields `SmsSid`, `SmsStatus`,
    /// `MessageStatus`, `To`, `MessageSid`, `AccountSid`, `From` (when the message had one),
    /// `MessagingServiceSid` (when it had one), `ApiVersion`, and `ErrorCode` when given;
    /// signed with `X-Twilio-Signature` under the account's auth token (registered, or the
    /// one it sent with). Resolves to the application's answer.
    pub fn deliver(
        &self,
        sid: &str,
        status: &str,
        error_code: Option<u32>,
    ) -> Pending<WebhookReply> {
        match outbound::prepare_callback(&self.shared, sid, status, error_code, true) {
            Ok((sid, post)) => {
                let shared = self.shared.clone();
                self.spawn(async move { outbound::send_callback(&shared, sid, post).await })
            }
            Err(e) => Pending::ready(Err(e)),
        }
    }

    /// Like [`FakeTwilio::deliver`] but leaves the stored status alone: a stale or duplicate
    /// callback, as Twilio may send.
    pub fn deliver_stale(
        &self,
        sid: &str,
        status: &str,
        error_code: Option<u32>,
    ) -> Pending<WebhookReply> {
        match outbound::prepare_callback(&self.shared, sid, status, error_code, false) {
            Ok((sid, post)) => {
                let shared = self.shared.clone();
                self.spawn(async move { outbound::send_callback(&shared, sid, post).await })
            }
            Err(e) => Pending::ready(Err(e)),
        }
    }

    /// POSTs an inbound SMS to an application's messaging webhook like Twilio does
    /// (`MessageSid`, `SmsSid`, `SmsMessageSid`, `AccountSid`, `From`, `To`, `Body`,
    /// `NumMedia=0`, `NumSegments`, `SmsStatus=received`, `ApiVersion` and the empty geo
    /// fields), signed with the account's auth token. Resolves to the application's answer
    /// (usually TwiML).
    ///
    /// Like Twilio's default opt-out handling, a body that is one of Twilio's opt-out keywords
    /// (STOP, UNSUBSCRIBE, END, QUIT, STOPALL, REVOKE, OPTOUT, CANCEL) puts `from` on the
    /// blocklist (sends to it then fail with 21610) and an opt-in keyword (START, YES, UNSTOP)
    /// takes it off.
    pub fn send_inbound(
        &self,
        webhook_url: &str,
        account_sid: &str,
        from: &str,
        to: &str,
        body: &str,
    ) -> Pending<WebhookReply> {
        self.send_inbound_with(webhook_url, account_sid, from, to, body, &[])
    }

    /// [`FakeTwilio::send_inbound`] with more fields, as Twilio adds them: `MessagingServiceSid`
    /// for a number in a Messaging Service, `OptOutType` (`STOP`, `START`, `HELP`) when Advanced
    /// Opt-Out matched one of the service's keywords. `OptOutType=STOP` blocks `from` and
    /// `START` unblocks it, whatever the body.
    pub fn send_inbound_with(
        &self,
        webhook_url: &str,
        account_sid: &str,
        from: &str,
        to: &str,
        body: &str,
        extra: &[(&str, &str)],
    ) -> Pending<WebhookReply> {
        let mut state = self.shared.lock();
        let Some(token) = state.token_for(account_sid) else {
            return Pending::ready(Err(FakeError::NoAuthToken(account_sid.to_owned())));
        };
        let opt_out_type = extra
            .iter()
            .find(|(k, _)| *k == "OptOutType")
            .map(|(_, v)| v.to_ascii_uppercase());
        let word = body.trim().to_ascii_uppercase();
        let keyword = opt_out_type.as_deref().unwrap_or(match word.as_str() {
            "STOP" | "UNSUBSCRIBE" | "END" | "QUIT" | "STOPALL" | "REVOKE" | "OPTOUT"
            | "CANCEL" => "STOP",
            "START" | "YES" | "UNSTOP" => "START",
            _ => "",
        });
        match keyword {
            "STOP" => {
                state.opted_out.insert(from.to_owned());
            }
            "START" => {
                state.opted_out.remove(from);
            }
            _ => {}
        }
        drop(state);
        let mut params = outbound::inbound_params(account_sid, from, to, body);
        params.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        self.post_signed(webhook_url, &token, params)
    }

    /// POSTs any form, signed with `auth_token` for `url`: for requests Twilio would not send
    /// as such (a wrong token, extra fields…).
    pub fn post_signed(
        &self,
        url: &str,
        auth_token: &str,
        params: Vec<(String, String)>,
    ) -> Pending<WebhookReply> {
        let post = SignedPost::new(auth_token, url, params);
        let shared = self.shared.clone();
        self.spawn(async move { outbound::post_signed(&shared, &post).await })
    }
}

impl Drop for FakeTwilio {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take()
            && thread.thread().id() != std::thread::current().id()
        {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn handles_can_be_shared_across_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<super::FakeTwilio>();
        send_sync::<super::Pending<super::WebhookReply>>();
    }
}

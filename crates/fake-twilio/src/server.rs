//! The HTTP side: hyper 1, HTTP/1.1 with keep-alive, one task per connection.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::model::Fault;
use crate::outbound;
use crate::state::{self, ApiError, Shared};

type Resp = Response<Full<Bytes>>;

/// Returned by the service to make hyper drop the connection without answering.
#[derive(Debug)]
struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection closed on purpose by an injected fault")
    }
}

impl std::error::Error for DropConnection {}

/// Largest request body read.
const MAX_BODY: usize = 1 << 20;

pub(crate) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stop: oneshot::Receiver<()>,
) {
    loop {
        let accepted = tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, _)) => {
                let _ = stream.set_nodelay(true);
                let shared = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| handle(shared.clone(), request));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
            // Out of file descriptors and the like: back off instead of spinning.
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

enum Route {
    Messages(String),
    Message(String, String),
    Other,
}

fn route(path: &str) -> Route {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        [state::API_VERSION, "Accounts", account, "Messages.json"] => {
            Route::Messages((*account).to_owned())
        }
        [state::API_VERSION, "Accounts", account, "Messages", file] => match file
            .strip_suffix(".json")
        {
            Some(sid) if !sid.is_empty() => Route::Message((*account).to_owned(), sid.to_owned()),
            _ => Route::Other,
        },
        _ => Route::Other,
    }
}

async fn handle(shared: Arc<Shared>, request: Request<Incoming>) -> Result<Resp, DropConnection> {
    shared.requests.fetch_add(1, Ordering::Relaxed);
    let path = request.uri().path().to_owned();
    let method = request.method().clone();
    match (route(&path), method) {
        (Route::Messages(account), Method::POST) => send(shared, account, request).await,
        (Route::Messages(account), Method::GET) => {
            let query = request.uri().query().unwrap_or("").to_owned();
            let auth = request
                .headers()
                .get(AUTHORIZATION)
                .map(HeaderValue::as_bytes);
            let mut state = shared.lock();
            let result = state::authenticate(&mut state, auth, &account)
                .and_then(|_| state::list_messages(&state, &account, &query));
            drop(state);
            Ok(match result {
                Ok(page) => json_response(StatusCode::OK, &page),
                Err(e) => error_response(&e),
            })
        }
        (Route::Message(account, sid), Method::GET) => {
            let auth = request
                .headers()
                .get(AUTHORIZATION)
                .map(HeaderValue::as_bytes);
            let mut state = shared.lock();
            let result = state::authenticate(&mut state, auth, &account).and_then(|_| {
                state
                    .message(&sid)
                    .filter(|m| m.account_sid == account)
                    .map(state::message_json)
                    .ok_or_else(|| ApiError::not_found(&path))
            });
            drop(state);
            Ok(match result {
                Ok(message) => json_response(StatusCode::OK, &message),
                Err(e) => error_response(&e),
            })
        }
        (Route::Messages(_) | Route::Message(..), _) => Ok(error_response(&ApiError::new(
            405,
            20004,
            "Method not allowed",
        ))),
        (Route::Other, _) => Ok(error_response(&ApiError::not_found(&path))),
    }
}

async fn send(
    shared: Arc<Shared>,
    account: String,
    request: Request<Incoming>,
) -> Result<Resp, DropConnection> {
    shared.send_attempts.fetch_add(1, Ordering::Relaxed);
    let fault = shared.lock().take_fault();
    let (parts, body) = request.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return Ok(error_response(&ApiError::new(
                400,
                20001,
                "The request body could not be read",
            )));
        }
    };

    match &fault {
        Some(Fault::Status500) => return Ok(internal_error()),
        Some(Fault::Status429 {
            twilio_code,
            retry_after,
        }) => {
            let mut response = if *twilio_code {
                error_response(&ApiError::new(429, 20429, "Too Many Requests"))
            } else {
                Response::builder()
                    .status(StatusCode::TOO_MANY_REQUESTS)
                    .header(CONTENT_TYPE, "text/plain")
                    .body(Full::new(Bytes::from_static(b"Too Many Requests")))
                    .expect("static response")
            };
            if let Some(seconds) = retry_after {
                response
                    .headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from(*seconds));
            }
            return Ok(response);
        }
        Some(Fault::Error {
            status,
            code,
            message,
        }) => {
            return Ok(error_response(&ApiError::new(
                *status,
                *code,
                message.clone(),
            )));
        }
        Some(Fault::CloseConnection) => return Err(DropConnection),
        _ => {}
    }

    let auth = parts.headers.get(AUTHORIZATION).map(HeaderValue::as_bytes);
    let result = {
        let mut state = shared.lock();
        let result = state::accept_send(&mut state, &account, auth, &body);
        let options = state.options().clone();
        drop(state);
        result.map(|message| (message, options))
    };
    let response = match &result {
        Ok((message, options)) => {
            shared.changed();
            if options.console {
                state::print_console(message);
            }
            write_jsonl(&shared, message);
            if options.auto_deliver && message.status_callback.is_some() {
                tokio::spawn(outbound::auto_deliver(
                    shared.clone(),
                    message.sid.clone(),
                    options.order,
                    options.auto_delay,
                ));
            }
            json_response(StatusCode::CREATED, &state::message_json(message))
        }
        Err(e) => error_response(e),
    };

    match fault {
        Some(Fault::Delay(delay)) => {
            tokio::time::sleep(delay).await;
            Ok(response)
        }
        Some(Fault::CallbackBeforeAnswer(status)) => {
            if let Ok((message, _)) = &result
                && let Ok((sid, post)) =
                    outbound::prepare_callback(&shared, &message.sid, &status, None, true)
            {
                let _ = outbound::send_callback(&shared, sid, post).await;
            }
            Ok(response)
        }
        Some(Fault::Status500AfterRecording) if result.is_ok() => Ok(internal_error()),
        Some(Fault::CloseConnectionAfterRecording) if result.is_ok() => Err(DropConnection),
        _ => Ok(response),
    }
}

fn write_jsonl(shared: &Shared, message: &crate::SentMessage) {
    use std::io::Write as _;
    let mut file = shared
        .jsonl
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(file) = file.as_mut() {
        let _ = file.write_all(state::jsonl_line(message).as_bytes());
    }
}

fn internal_error() -> Resp {
    error_response(&ApiError::new(500, 20500, "Internal Server Error"))
}

fn json_response(status: StatusCode, body: &Value) -> Resp {
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "application/json; charset=utf-8")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("a status and a static header always build")
}

fn error_response(error: &ApiError) -> Resp {
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = json_response(status, &error.json());
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"Twilio API\""),
        );
    }
    response
}

//! Sends N messages to a fake over keep-alive connections and reports the rate and memory.
//!
//! `cargo run --release -p fake-twilio --example load -- [N=10000] [CONNECTIONS=16] [FAKE_WORKERS=1]`
//!
//! Client and server share the machine; everything is on 127.0.0.1 and the run is bounded by N.

use std::sync::Arc;
use std::time::Instant;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::Request;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let mut args = std::env::args()
        .skip(1)
        .map(|a| a.parse::<usize>().expect("numbers"));
    let total = args.next().unwrap_or(10_000);
    let connections = args.next().unwrap_or(16).max(1);
    let workers = args.next().unwrap_or(1);

    let account = "AC0123456789abcdef0123456789abcdef";
    let fake = fake_twilio::FakeTwilio::builder()
        .with_worker_threads(workers)
        .start()
        .expect("start");
    fake.register_account(account, "token");
    let url = Arc::new(fake.messages_url(account));
    let auth = Arc::new(format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{account}:token"))
    ));
    let rss_before = rss_kib();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let elapsed = runtime.block_on(async move {
        let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(connections)
            .build_http();
        let started = Instant::now();
        let mut tasks = Vec::new();
        for c in 0..connections {
            let n = total / connections + usize::from(c < total % connections);
            let (client, url, auth) = (client.clone(), url.clone(), auth.clone());
            tasks.push(tokio::spawn(async move {
                for i in 0..n {
                    let body = form_urlencoded::Serializer::new(String::new())
                        .append_pair("To", &format!("+1555{:07}", c * 100_000 + i))
                        .append_pair("From", "+15550001111")
                        .append_pair("Body", "Smile Dental: your visit on Tue 9:00 is confirmed. Reply STOP to opt out.")
                        .append_pair("StatusCallback", "http://127.0.0.1:9/twilio/status")
                        .finish();
                    let request = Request::post(url.as_str())
                        .header("authorization", auth.as_str())
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body(Full::new(Bytes::from(body)))
                        .unwrap();
                    let response = client.request(request).await.expect("request");
                    assert_eq!(response.status(), 201);
                    response.into_body().collect().await.expect("body");
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        started.elapsed()
    });
    let rss_after = rss_kib();
    assert_eq!(fake.message_count(), total);
    println!(
        "{total} sends over {connections} connections, fake on {workers} thread(s): {:.2} s, {:.0} req/s; process RSS {} MiB -> {} MiB",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        rss_before / 1024,
        rss_after / 1024,
    );
}

//! `fake-twilio --port N`: the fake Twilio API standalone, printing every message it "sends".

use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;

use fake_twilio::FakeTwilio;

const USAGE: &str = "\
usage: fake-twilio [--port N] [--host ADDR] [--jsonl FILE] [--auto-deliver] [--quiet]
                   [--account ACCOUNT_SID:AUTH_TOKEN]... [--api-key ACCOUNT_SID:KEY_SID:SECRET]...

A local stand-in for Twilio's Messaging API: nothing is ever sent. Every accepted message is
printed (unless --quiet) and, with --jsonl, appended to FILE as one JSON line.
With no --account/--api-key any credentials are accepted.";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fake-twilio: {e}\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<(), String> {
    let mut port: u16 = 0;
    let mut host: IpAddr = [127, 0, 0, 1].into();
    let mut builder = FakeTwilio::builder().with_console(true);
    let mut accounts: Vec<(String, String)> = Vec::new();
    let mut keys: Vec<(String, String, String)> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--port" => {
                let v = value("--port")?;
                port = v.parse().map_err(|_| format!("bad port {v:?}"))?;
            }
            "--host" => {
                let v = value("--host")?;
                host = v.parse().map_err(|_| format!("bad host address {v:?}"))?;
            }
            "--jsonl" => builder = builder.with_jsonl(value("--jsonl")?),
            "--auto-deliver" => builder = builder.with_auto_deliver(true),
            "--quiet" => builder = builder.with_console(false),
            "--account" => {
                let v = value("--account")?;
                let (sid, token) = v
                    .split_once(':')
                    .ok_or("--account takes ACCOUNT_SID:AUTH_TOKEN")?;
                accounts.push((sid.to_owned(), token.to_owned()));
            }
            "--api-key" => {
                let v = value("--api-key")?;
                let mut parts = v.splitn(3, ':');
                match (parts.next(), parts.next(), parts.next()) {
                    (Some(a), Some(k), Some(s)) => keys.push((a.into(), k.into(), s.into())),
                    _ => return Err("--api-key takes ACCOUNT_SID:KEY_SID:SECRET".into()),
                }
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let twilio = builder
        .bind(SocketAddr::new(host, port))
        .start()
        .map_err(|e| format!("cannot listen on {host}:{port}: {e}"))?;
    for (sid, token) in &accounts {
        twilio.register_account(sid, token);
    }
    for (account, key, secret) in &keys {
        twilio.register_api_key(account, key, secret);
    }
    println!(
        "fake-twilio: local Twilio stand-in listening on {} (messages are NOT sent); set TWILIO_API_BASE to it",
        twilio.base_url()
    );
    // Runs until the process is interrupted.
    loop {
        std::thread::park();
    }
}

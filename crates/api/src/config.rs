//! Configuration from the environment (DESIGN.md §9). Every problem is reported at once, by
//! variable name, and the service refuses to start.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use booking_core::tenant::Secret;

/// How Vapi's requests prove they come from Vapi.
#[derive(Clone, Debug)]
pub enum VapiAuth {
    /// The secret in `X-Vapi-Secret`, or as `Authorization: Bearer <secret>`.
    SharedSecret(Secret),
    /// An HMAC-SHA256 credential: hex signature over `{timestamp}.{raw body}` in
    /// `signature_header`, the Unix timestamp (seconds) in `timestamp_header`, accepted within
    /// `tolerance` of now.
    Hmac {
        secret: Secret,
        signature_header: String,
        timestamp_header: String,
        tolerance: Duration,
    },
}

#[derive(Clone, Debug)]
pub struct Config {
    pub database_url: Secret,
    pub bind_addr: SocketAddr,
    /// Where Vapi and Twilio reach us, without a trailing slash: tool URLs and Twilio status
    /// callbacks are built from it, and Twilio signatures are checked against it.
    pub public_base_url: String,
    pub admin_token: Secret,
    pub vapi_auth: VapiAuth,
    /// What every `server` object we return to Vapi (the assistant's, each tool's) says about
    /// authentication: `credentialId` (`VAPI_CREDENTIAL_ID`) and/or `headers` carrying
    /// `VAPI_SECRET` in `X-Vapi-Secret`, as `VAPI_SERVER_AUTH` chooses.
    pub vapi_server_auth: booking_vapi::ServerAuth,
    /// The key that encrypts tenants' Twilio credentials at rest.
    pub master_key: booking_postgres::MasterKey,
    /// Older keys that still decrypt rows not yet rotated (`MASTER_KEY_PREVIOUS`).
    pub previous_master_keys: Vec<booking_postgres::MasterKey>,
    pub twilio_api_base: String,
    /// Texts of the tenant whose Twilio account is `.1` go to the local stand-in at `.0` instead
    /// of Twilio (`SMS_STANDIN_URL`, `SMS_STANDIN_ACCOUNT_SID`; for `cargo xtask dev`).
    pub sms_standin: Option<(String, String)>,
    /// The HMAC key of OTP hashes: `OTP_KEY`, else derived from `MASTER_KEY` (a key rotation
    /// then invalidates codes in flight, which live 10 minutes at most).
    pub otp_key: Secret,
    pub db_pool_size: usize,
    pub db_connect_timeout: Duration,
    pub db_statement_timeout: Duration,
    pub log_json: bool,
    /// Texts per second per sender.
    pub sms_rate_per_second: u32,
    /// Recipients the outbox worker serves at once.
    pub sms_send_concurrency: u32,
    /// Whether the outbox worker runs in this process.
    pub run_worker: bool,
    /// The Vapi tool timeout we declare (`server.timeoutSeconds`).
    pub tool_timeout_seconds: u32,
    /// How long a waitlist offer can be claimed before it passes to the next person.
    pub waitlist_offer_ttl: Duration,
    /// How often the worker looks for freed times to offer to the waitlist.
    pub waitlist_poll: Duration,
    /// Outbox timings (see `booking_core::dispatch::DispatchConfig`): first retry delay and its
    /// cap, when an ambiguous send is reconciled, how long a claim is exclusive.
    pub sms_retry_base: Duration,
    pub sms_retry_cap: Duration,
    pub sms_recheck: Duration,
    pub sms_claim_lease: Duration,
    /// How long one request to Twilio may take before it counts as ambiguous.
    pub twilio_timeout: Duration,
    /// How many proxies in front of the api append to `X-Forwarded-For`; 0: the header is
    /// ignored and the client is the connection's peer (`TRUSTED_PROXY_HOPS`).
    pub trusted_proxy_hops: u32,
    /// Password checks run at once (`SIGN_IN_CONCURRENCY`): each holds about 19 MiB.
    pub sign_in_concurrency: u32,
    /// The clinics' own calendars: busy time is never older than this while their servers
    /// answer (`CALENDAR_STALENESS_SECONDS`, default 60).
    pub calendar_staleness: Duration,
    /// How far ahead recurring events are expanded (`CALENDAR_HORIZON_DAYS`, default 120).
    pub calendar_horizon_days: u32,
    /// One request to a calendar server (`CALENDAR_TIMEOUT_MS`, default 20000).
    pub calendar_timeout: Duration,
}

/// The variables and what they mean, for `--help` and for refusal messages.
pub const VARIABLES: &[(&str, &str)] = &[
    (
        "DATABASE_URL",
        "required: postgres://user:password@host:port/database",
    ),
    ("BIND_ADDR", "default 127.0.0.1:8080"),
    (
        "PUBLIC_BASE_URL",
        "required: the https URL Vapi and Twilio reach this service at",
    ),
    (
        "ADMIN_TOKEN",
        "required: bearer token of the operator API, at least 16 characters",
    ),
    (
        "VAPI_SECRET",
        "required: the secret Vapi sends (X-Vapi-Secret, Bearer, or the HMAC key)",
    ),
    (
        "VAPI_AUTH",
        "secret (default; X-Vapi-Secret or Bearer) or hmac",
    ),
    ("VAPI_HMAC_SIGNATURE_HEADER", "default x-signature"),
    ("VAPI_HMAC_TIMESTAMP_HEADER", "default x-timestamp"),
    ("VAPI_HMAC_TOLERANCE_SECONDS", "default 300"),
    (
        "VAPI_CREDENTIAL_ID",
        "optional: id of the Custom Credential made in Vapi's dashboard (holding VAPI_SECRET), sent as server.credentialId on the assistant and every tool",
    ),
    (
        "VAPI_SERVER_AUTH",
        "credential (default when VAPI_CREDENTIAL_ID is set: server.credentialId), headers (default otherwise: server.headers with X-Vapi-Secret; VAPI_AUTH=secret only) or both",
    ),
    (
        "MASTER_KEY",
        "required: 64 hex characters (32 bytes, `openssl rand -hex 32`), optionally prefixed by `id:`; encrypts Twilio credentials at rest",
    ),
    (
        "MASTER_KEY_PREVIOUS",
        "optional: comma-separated older keys still accepted for decryption during a rotation",
    ),
    ("TWILIO_API_BASE", "default https://api.twilio.com"),
    (
        "SMS_STANDIN_URL",
        "optional, for local use: base URL of a Twilio stand-in",
    ),
    (
        "SMS_STANDIN_ACCOUNT_SID",
        "optional, with SMS_STANDIN_URL: the one account sid whose texts go to the stand-in",
    ),
    (
        "OTP_KEY",
        "optional: key for OTP hashes; default derived from MASTER_KEY",
    ),
    (
        "DB_POOL_SIZE",
        "default 32: connections in all; a quarter for the background work, the rest shared out between the HTTP workers (one per core)",
    ),
    ("DB_CONNECT_TIMEOUT_MS", "default 3000"),
    ("DB_STATEMENT_TIMEOUT_MS", "default 5000"),
    ("LOG_FORMAT", "text (default) or json"),
    (
        "SMS_RATE_PER_SECOND",
        "default 10: texts per second per sender",
    ),
    (
        "SMS_SEND_CONCURRENCY",
        "default 8: recipients the worker texts at once (each holds a database connection)",
    ),
    (
        "RUN_WORKER",
        "default true: run the outbox worker in this process",
    ),
    (
        "TOOL_TIMEOUT_SECONDS",
        "default 20: Vapi's server.timeoutSeconds for our tools (1-300)",
    ),
    (
        "WAITLIST_OFFER_MINUTES",
        "default 30: how long a waitlist offer can be claimed before the time passes to the next person (1-1440)",
    ),
    (
        "WAITLIST_POLL_MS",
        "default 2000: how often the worker looks for freed times to offer to the waitlist",
    ),
    (
        "SMS_RETRY_BASE_MS",
        "default 30000: first delay before a text is retried; doubles per attempt",
    ),
    (
        "SMS_RETRY_CAP_MS",
        "default 1800000: the longest delay between two attempts at a text",
    ),
    (
        "SMS_RECHECK_MS",
        "default 60000: the soonest a send with no clear answer is looked up at Twilio before any resend (later ones back off like retries)",
    ),
    (
        "CALENDAR_STALENESS_SECONDS",
        "default 60: clinics' own calendars are synced at least this often (twice per period) while their servers answer",
    ),
    (
        "CALENDAR_HORIZON_DAYS",
        "default 120: how far ahead recurring events of clinics' calendars are expanded into busy time",
    ),
    (
        "CALENDAR_TIMEOUT_MS",
        "default 20000: how long one request to a clinic's calendar server may take",
    ),
    (
        "SMS_CLAIM_LEASE_MS",
        "default 60000: how long a worker owns a text it is sending; longer than TWILIO_TIMEOUT_MS",
    ),
    (
        "TWILIO_TIMEOUT_MS",
        "default 15000: how long one request to Twilio may take",
    ),
    (
        "TRUSTED_PROXY_HOPS",
        "default 0: how many proxies in front of the api append the client's address to X-Forwarded-For (0: the header is ignored; the client is the connection's peer)",
    ),
    (
        "SIGN_IN_CONCURRENCY",
        "default 1: dashboard password checks run at once (each takes about 19 MiB; more wait up to 2 s, then get 503)",
    ),
];

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_map(&std::env::vars().collect())
    }

    pub fn from_map(env: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let mut problems = Vec::new();
        let get = |k: &str| {
            env.get(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let required = |k: &'static str, problems: &mut Vec<String>| -> String {
            match get(k) {
                Some(v) => v,
                None => {
                    problems.push(format!("{k} is not set ({})", describe(k)));
                    String::new()
                }
            }
        };

        let database_url = required("DATABASE_URL", &mut problems);
        let is_pg_url =
            database_url.starts_with("postgres://") || database_url.starts_with("postgresql://");
        if !database_url.is_empty() && !is_pg_url {
            problems.push("DATABASE_URL must start with postgres:// or postgresql://".into());
        }

        let bind_addr = match get("BIND_ADDR")
            .as_deref()
            .unwrap_or("127.0.0.1:8080")
            .parse()
        {
            Ok(a) => a,
            Err(_) => {
                problems
                    .push("BIND_ADDR must be an address and port such as 127.0.0.1:8080".into());
                SocketAddr::from(([127, 0, 0, 1], 8080))
            }
        };

        let mut public_base_url = required("PUBLIC_BASE_URL", &mut problems);
        while public_base_url.ends_with('/') {
            public_base_url.pop();
        }
        let is_http_url =
            public_base_url.starts_with("https://") || public_base_url.starts_with("http://");
        if !public_base_url.is_empty() && !is_http_url {
            problems
                .push("PUBLIC_BASE_URL must start with https:// (or http:// for local use)".into());
        }

        let admin_token = required("ADMIN_TOKEN", &mut problems);
        if !admin_token.is_empty() && admin_token.len() < 16 {
            problems.push("ADMIN_TOKEN must be at least 16 characters".into());
        }

        let vapi_secret = required("VAPI_SECRET", &mut problems);
        if !vapi_secret.is_empty() && vapi_secret.len() < 8 {
            problems.push("VAPI_SECRET must be at least 8 characters".into());
        }
        let vapi_auth = match get("VAPI_AUTH").as_deref().unwrap_or("secret") {
            "secret" | "bearer" => VapiAuth::SharedSecret(Secret::new(vapi_secret)),
            "hmac" => VapiAuth::Hmac {
                secret: Secret::new(vapi_secret),
                signature_header: get("VAPI_HMAC_SIGNATURE_HEADER")
                    .unwrap_or_else(|| "x-signature".into()),
                timestamp_header: get("VAPI_HMAC_TIMESTAMP_HEADER")
                    .unwrap_or_else(|| "x-timestamp".into()),
                tolerance: Duration::from_secs(number(
                    &get("VAPI_HMAC_TOLERANCE_SECONDS"),
                    "VAPI_HMAC_TOLERANCE_SECONDS",
                    300,
                    1,
                    3600,
                    &mut problems,
                )),
            },
            other => {
                problems.push(format!("VAPI_AUTH must be secret or hmac, not {other:?}"));
                VapiAuth::SharedSecret(Secret::new(String::new()))
            }
        };

        let vapi_credential_id = get("VAPI_CREDENTIAL_ID").filter(|s| !s.trim().is_empty());
        let vapi_server_auth = vapi_server_auth(
            get("VAPI_SERVER_AUTH").as_deref(),
            vapi_credential_id,
            &vapi_auth,
            &mut problems,
        );

        let master_key_text = required("MASTER_KEY", &mut problems);
        let master_key = if master_key_text.is_empty() {
            None
        } else {
            match booking_postgres::MasterKey::parse(&master_key_text) {
                Ok(k) => Some(k),
                Err(e) => {
                    problems.push(format!(
                        "MASTER_KEY: {e}; generate one with `openssl rand -hex 32`"
                    ));
                    None
                }
            }
        };
        let mut previous_master_keys = Vec::new();
        for (i, k) in get("MASTER_KEY_PREVIOUS")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .enumerate()
        {
            match booking_postgres::MasterKey::parse(k) {
                Ok(k) => previous_master_keys.push(k),
                Err(e) => problems.push(format!("MASTER_KEY_PREVIOUS, key {}: {e}", i + 1)),
            }
        }
        let sms_standin = match (get("SMS_STANDIN_URL"), get("SMS_STANDIN_ACCOUNT_SID")) {
            (None, None) => None,
            (Some(url), Some(sid)) => Some((url.trim_end_matches('/').to_owned(), sid)),
            _ => {
                problems.push("SMS_STANDIN_URL and SMS_STANDIN_ACCOUNT_SID go together".into());
                None
            }
        };

        let mut twilio_api_base =
            get("TWILIO_API_BASE").unwrap_or_else(|| "https://api.twilio.com".into());
        while twilio_api_base.ends_with('/') {
            twilio_api_base.pop();
        }
        if !(twilio_api_base.starts_with("https://") || twilio_api_base.starts_with("http://")) {
            problems.push("TWILIO_API_BASE must be an http(s) URL".into());
        }

        let db_pool_size = number(
            &get("DB_POOL_SIZE"),
            "DB_POOL_SIZE",
            32,
            1,
            1000,
            &mut problems,
        ) as usize;
        let db_connect_timeout = Duration::from_millis(number(
            &get("DB_CONNECT_TIMEOUT_MS"),
            "DB_CONNECT_TIMEOUT_MS",
            3000,
            100,
            120_000,
            &mut problems,
        ));
        let db_statement_timeout = Duration::from_millis(number(
            &get("DB_STATEMENT_TIMEOUT_MS"),
            "DB_STATEMENT_TIMEOUT_MS",
            5000,
            100,
            600_000,
            &mut problems,
        ));
        let log_json = match get("LOG_FORMAT").as_deref().unwrap_or("text") {
            "text" => false,
            "json" => true,
            other => {
                problems.push(format!("LOG_FORMAT must be text or json, not {other:?}"));
                false
            }
        };
        let sms_rate_per_second = number(
            &get("SMS_RATE_PER_SECOND"),
            "SMS_RATE_PER_SECOND",
            10,
            1,
            10_000,
            &mut problems,
        ) as u32;
        let sms_send_concurrency = number(
            &get("SMS_SEND_CONCURRENCY"),
            "SMS_SEND_CONCURRENCY",
            8,
            1,
            256,
            &mut problems,
        ) as u32;
        let run_worker = match get("RUN_WORKER").as_deref().unwrap_or("true") {
            "true" | "1" | "yes" => true,
            "false" | "0" | "no" => false,
            other => {
                problems.push(format!("RUN_WORKER must be true or false, not {other:?}"));
                true
            }
        };
        let tool_timeout_seconds = number(
            &get("TOOL_TIMEOUT_SECONDS"),
            "TOOL_TIMEOUT_SECONDS",
            20,
            1,
            300,
            &mut problems,
        ) as u32;
        let waitlist_offer_ttl = Duration::from_secs(
            60 * number(
                &get("WAITLIST_OFFER_MINUTES"),
                "WAITLIST_OFFER_MINUTES",
                30,
                1,
                1440,
                &mut problems,
            ),
        );

        let mut millis = |name: &str, default: u64, min: u64, max: u64| {
            Duration::from_millis(number(&get(name), name, default, min, max, &mut problems))
        };
        let sms_retry_base = millis("SMS_RETRY_BASE_MS", 30_000, 10, 3_600_000);
        let waitlist_poll = millis("WAITLIST_POLL_MS", 2_000, 10, 3_600_000);
        let sms_retry_cap = millis("SMS_RETRY_CAP_MS", 1_800_000, 10, 86_400_000);
        let sms_recheck = millis("SMS_RECHECK_MS", 60_000, 10, 3_600_000);
        let sms_claim_lease = millis("SMS_CLAIM_LEASE_MS", 60_000, 100, 3_600_000);
        let twilio_timeout = millis("TWILIO_TIMEOUT_MS", 15_000, 100, 300_000);
        let trusted_proxy_hops = number(
            &get("TRUSTED_PROXY_HOPS"),
            "TRUSTED_PROXY_HOPS",
            0,
            0,
            10,
            &mut problems,
        ) as u32;
        let sign_in_concurrency = number(
            &get("SIGN_IN_CONCURRENCY"),
            "SIGN_IN_CONCURRENCY",
            1,
            1,
            16,
            &mut problems,
        ) as u32;
        let calendar_staleness = Duration::from_secs(number(
            &get("CALENDAR_STALENESS_SECONDS"),
            "CALENDAR_STALENESS_SECONDS",
            60,
            1,
            3600,
            &mut problems,
        ));
        let calendar_horizon_days = number(
            &get("CALENDAR_HORIZON_DAYS"),
            "CALENDAR_HORIZON_DAYS",
            120,
            7,
            730,
            &mut problems,
        ) as u32;
        let calendar_timeout = Duration::from_millis(number(
            &get("CALENDAR_TIMEOUT_MS"),
            "CALENDAR_TIMEOUT_MS",
            20_000,
            100,
            120_000,
            &mut problems,
        ));
        if sms_retry_cap < sms_retry_base {
            problems.push("SMS_RETRY_CAP_MS must not be less than SMS_RETRY_BASE_MS".into());
        }
        // A claim that lapses while its send is still in flight lets another worker pick the
        // text up at the same time.
        if sms_claim_lease <= twilio_timeout {
            problems.push("SMS_CLAIM_LEASE_MS must be longer than TWILIO_TIMEOUT_MS".into());
        }

        let Some(master_key) = master_key.filter(|_| problems.is_empty()) else {
            return Err(ConfigError { problems });
        };
        Ok(Self {
            database_url: Secret::new(database_url),
            bind_addr,
            public_base_url,
            admin_token: Secret::new(admin_token),
            vapi_auth,
            vapi_server_auth,
            master_key,
            previous_master_keys,
            sms_standin,
            twilio_api_base,
            otp_key: get("OTP_KEY").map(Secret::new).unwrap_or_else(|| {
                use sha2::Digest;
                let digest = sha2::Sha256::new()
                    .chain_update(b"otp-key\0")
                    .chain_update(master_key_text.as_bytes())
                    .finalize();
                Secret::new(hex::encode(digest))
            }),
            db_pool_size,
            db_connect_timeout,
            db_statement_timeout,
            log_json,
            sms_rate_per_second,
            sms_send_concurrency,
            run_worker,
            tool_timeout_seconds,
            waitlist_offer_ttl,
            waitlist_poll,
            sms_retry_base,
            sms_retry_cap,
            sms_recheck,
            sms_claim_lease,
            twilio_timeout,
            trusted_proxy_hops,
            sign_in_concurrency,
            calendar_staleness,
            calendar_horizon_days,
            calendar_timeout,
        })
    }
}

fn describe(k: &str) -> &'static str {
    VARIABLES
        .iter()
        .find(|(n, _)| *n == k)
        .map(|(_, d)| *d)
        .unwrap_or("")
}

fn number(
    v: &Option<String>,
    name: &str,
    default: u64,
    min: u64,
    max: u64,
    problems: &mut Vec<String>,
) -> u64 {
    match v {
        None => default,
        Some(s) => match s.parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => n,
            _ => {
                problems.push(format!(
                    "{name} must be a whole number from {min} to {max}, not {s:?}"
                ));
                default
            }
        },
    }
}

/// Every configuration problem found, one per line.
#[derive(Debug, thiserror::Error)]
#[error("the configuration is not usable:\n  - {}\nSee README.md, section Configuration.", .problems.join("\n  - "))]
pub struct ConfigError {
    pub problems: Vec<String>,
}

/// `VAPI_SERVER_AUTH`: how Vapi is told to authenticate to us on the `server` objects we return.
fn vapi_server_auth(
    mode: Option<&str>,
    credential_id: Option<String>,
    auth: &VapiAuth,
    problems: &mut Vec<String>,
) -> booking_vapi::ServerAuth {
    let mode = mode.map(str::trim).unwrap_or(if credential_id.is_some() {
        "credential"
    } else {
        "headers"
    });
    let (use_credential, use_header) = match mode {
        "credential" => (true, false),
        "headers" => (false, true),
        "both" => (true, true),
        other => {
            problems.push(format!(
                "VAPI_SERVER_AUTH must be credential, headers or both, not {other:?}"
            ));
            return booking_vapi::ServerAuth::default();
        }
    };
    if use_credential && credential_id.is_none() {
        problems.push(format!(
            "VAPI_SERVER_AUTH={mode} needs VAPI_CREDENTIAL_ID (the id of the Custom Credential made in Vapi's dashboard)"
        ));
    }
    let header = match auth {
        VapiAuth::SharedSecret(secret) if use_header => {
            Some(("X-Vapi-Secret".to_owned(), secret.clone()))
        }
        VapiAuth::Hmac { .. } if use_header => {
            problems.push(
                "VAPI_SERVER_AUTH=headers cannot carry an HMAC signature: with VAPI_AUTH=hmac, set VAPI_CREDENTIAL_ID to Vapi's HMAC credential and VAPI_SERVER_AUTH=credential".into(),
            );
            None
        }
        _ => None,
    };
    booking_vapi::ServerAuth {
        credential_id: credential_id.filter(|_| use_credential),
        header,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> HashMap<String, String> {
        [
            ("DATABASE_URL", "postgres://u@localhost/db"),
            ("PUBLIC_BASE_URL", "https://example.test/"),
            ("ADMIN_TOKEN", "0123456789abcdef"),
            ("VAPI_SECRET", "vapi-secret-1"),
            ("MASTER_KEY", &"ab".repeat(32)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    #[test]
    fn defaults_apply() {
        let c = Config::from_map(&good()).unwrap();
        assert_eq!(c.bind_addr.to_string(), "127.0.0.1:8080");
        assert_eq!(c.public_base_url, "https://example.test");
        assert_eq!(c.twilio_api_base, "https://api.twilio.com");
        assert!(matches!(c.vapi_auth, VapiAuth::SharedSecret(_)));
        assert_eq!(c.tool_timeout_seconds, 20);
        assert_eq!(c.sms_retry_base, Duration::from_secs(30));
        assert_eq!(c.sms_claim_lease, Duration::from_secs(60));
        assert_eq!(c.twilio_timeout, Duration::from_secs(15));
    }

    #[test]
    fn outbox_timings_are_checked() {
        let mut env = good();
        env.insert("SMS_RETRY_BASE_MS".into(), "200".into());
        env.insert("SMS_RETRY_CAP_MS".into(), "2000".into());
        env.insert("SMS_CLAIM_LEASE_MS".into(), "3000".into());
        env.insert("TWILIO_TIMEOUT_MS".into(), "1000".into());
        let c = Config::from_map(&env).unwrap();
        assert_eq!(c.sms_retry_base, Duration::from_millis(200));
        assert_eq!(c.sms_claim_lease, Duration::from_secs(3));

        env.insert("SMS_CLAIM_LEASE_MS".into(), "1000".into());
        env.insert("SMS_RETRY_CAP_MS".into(), "100".into());
        let text = Config::from_map(&env).unwrap_err().to_string();
        assert!(text.contains("SMS_CLAIM_LEASE_MS must be longer"), "{text}");
        assert!(text.contains("SMS_RETRY_CAP_MS"), "{text}");
    }

    #[test]
    fn every_problem_is_named() {
        let mut env = good();
        env.remove("DATABASE_URL");
        env.insert("MASTER_KEY".into(), "short".into());
        env.insert("BIND_ADDR".into(), "nowhere".into());
        env.insert("VAPI_AUTH".into(), "magic".into());
        let err = Config::from_map(&env).unwrap_err();
        let text = err.to_string();
        for needle in ["DATABASE_URL", "MASTER_KEY", "BIND_ADDR", "VAPI_AUTH"] {
            assert!(text.contains(needle), "{needle} missing from {text}");
        }
        assert_eq!(err.problems.len(), 4);
    }

    #[test]
    fn server_auth_follows_the_credential_and_the_mode() {
        // Without a credential id: our secret in server.headers, never an inline secret.
        let c = Config::from_map(&good()).unwrap();
        assert_eq!(c.vapi_server_auth.credential_id, None);
        let (name, value) = c.vapi_server_auth.header.as_ref().unwrap();
        assert_eq!(name, "X-Vapi-Secret");
        assert_eq!(value.expose(), "vapi-secret-1");

        let mut env = good();
        env.insert("VAPI_CREDENTIAL_ID".into(), "cred-123".into());
        let c = Config::from_map(&env).unwrap();
        assert_eq!(
            c.vapi_server_auth.credential_id.as_deref(),
            Some("cred-123")
        );
        assert!(c.vapi_server_auth.header.is_none());

        env.insert("VAPI_SERVER_AUTH".into(), "both".into());
        let c = Config::from_map(&env).unwrap();
        assert!(c.vapi_server_auth.credential_id.is_some());
        assert!(c.vapi_server_auth.header.is_some());

        let mut env = good();
        env.insert("VAPI_SERVER_AUTH".into(), "credential".into());
        let text = Config::from_map(&env).unwrap_err().to_string();
        assert!(text.contains("VAPI_CREDENTIAL_ID"), "{text}");

        let mut env = good();
        env.insert("VAPI_AUTH".into(), "hmac".into());
        let text = Config::from_map(&env).unwrap_err().to_string();
        assert!(
            text.contains("VAPI_SERVER_AUTH=headers cannot carry"),
            "{text}"
        );
        env.insert("VAPI_CREDENTIAL_ID".into(), "cred-hmac".into());
        let c = Config::from_map(&env).unwrap();
        assert_eq!(
            c.vapi_server_auth.credential_id.as_deref(),
            Some("cred-hmac")
        );
        assert!(c.vapi_server_auth.header.is_none());
    }

    #[test]
    fn secrets_do_not_show_in_debug() {
        let c = Config::from_map(&good()).unwrap();
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("0123456789abcdef"));
        assert!(!dbg.contains("vapi-secret-1"));
        assert!(!dbg.contains(&"ab".repeat(32)));
    }
}

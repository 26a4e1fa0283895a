//! Wiring: the adapters behind the core's ports, the HTTP server, the outbox worker, and an orderly
//! shutdown (stop accepting, finish in-flight requests, give back outbox claims).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use booking_core::accounts::AccountStore;
use booking_core::dispatch::{DispatchConfig, Dispatcher};
use booking_core::otp::OtpHasher;
use booking_core::outside_calendar::{
    CalendarSyncConfig, CalendarSyncStore, CalendarWorker, OutsideCalendar,
};
use booking_core::ports::{Clock, Random, SmsGateway, Store};
use booking_core::service::{BookingService, ServiceConfig};
use booking_postgres::{PgConfig, PgStore, PoolLayout};
use booking_twilio::{TwilioClient, TwilioConfig};
use tokio::sync::{Notify, watch};

use crate::cached_tenants::CachedTenants;
use crate::config::Config;
use crate::dashboard::password_checks::PasswordChecks;
use crate::gateway::RoutedGateway;
use crate::held_reports::HeldReports;
use crate::limits::DEFAULT_BODY_LIMIT;
use crate::metrics::Metrics;
use crate::state::{AppState, OsRandom, Readiness, SystemClock};

struct PgReadiness(Arc<PgStore>);

#[async_trait::async_trait]
impl Readiness for PgReadiness {
    async fn check(&self) -> Result<(), String> {
        self.0.readiness().await.map_err(|e| e.to_string())
    }
}

/// A running service: its address, and the handles to stop it.
pub struct Running {
    pub addr: SocketAddr,
    pub state: web::Data<AppState>,
    server: ServerHandle,
    server_task: tokio::task::JoinHandle<std::io::Result<()>>,
    worker_task: Option<tokio::task::JoinHandle<()>>,
    calendar_task: Option<tokio::task::JoinHandle<()>>,
    reports_task: tokio::task::JoinHandle<()>,
    stop_worker: watch::Sender<bool>,
}

impl Running {
    /// Stops accepting, lets in-flight requests finish, then stops the worker, which gives back
    /// its claims.
    pub async fn stop(self) {
        self.server.stop(true).await;
        let _ = self.server_task.await;
        let _ = self.stop_worker.send(true);
        if let Some(w) = self.worker_task {
            let _ = w.await;
        }
        if let Some(c) = self.calendar_task {
            let _ = c.await;
        }
        let _ = self.reports_task.await;
    }

    /// Waits until the server stops by itself (a signal: actix handles SIGINT/SIGTERM), then
    /// stops the worker.
    pub async fn wait(self) {
        let _ = self.server_task.await;
        let _ = self.stop_worker.send(true);
        if let Some(w) = self.worker_task {
            let _ = w.await;
        }
        if let Some(c) = self.calendar_task {
            let _ = c.await;
        }
        let _ = self.reports_task.await;
    }
}

/// Connects, migrates and starts serving on `config.bind_addr` (port 0 picks a free one).
pub async fn start(config: Config) -> anyhow::Result<Running> {
    let listener = std::net::TcpListener::bind(config.bind_addr)
        .with_context(|| format!("binding {}", config.bind_addr))?;
    start_on(config, listener).await
}

/// As [`start`], on a socket already bound (tests bind first to learn the port, then build the
/// configuration's public URL from it).
pub async fn start_on(config: Config, listener: std::net::TcpListener) -> anyhow::Result<Running> {
    let config = Arc::new(config);
    booking_postgres::run_migrations(config.database_url.expose())
        .await
        .context("applying database migrations")?;

    // As many HTTP workers as cores (actix's own default, made explicit so that the store's
    // pools match them): each serves its requests' queries from a pool of its own.
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    let mut pg = PgConfig::new(config.database_url.expose(), config.master_key.clone());
    pg.pool_size = config.db_pool_size;
    pg.layout = PoolLayout::PerWorker { workers };
    pg.connect_timeout = config.db_connect_timeout;
    pg.statement_timeout = config.db_statement_timeout;
    pg.previous_keys = config.previous_master_keys.clone();
    let pg = Arc::new(PgStore::new(pg).map_err(|e| anyhow::anyhow!("database pool: {e}"))?);
    // A server whose keys cannot open the stored credentials would report ready and claim
    // texts it can never send: refuse to start instead, naming the key.
    if let Err(e) = pg.check_master_keys().await {
        tracing::error!(error = %e, "refusing to start: wrong master key");
        anyhow::bail!("refusing to start: {e}");
    }
    let open = pg.warm_up().await;
    tracing::info!(connections = open, "database pool opened");
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    // Every part of the process (handlers, service, outbox worker) changes clinics through
    // this one store, so that a change drops what the cache kept.
    let tenant_cache = Arc::new(CachedTenants::new(pg.clone(), clock.clone()));
    let store: Arc<dyn Store> = tenant_cache.clone();

    let random: Arc<dyn Random> = Arc::new(OsRandom);
    let hasher = OtpHasher::new(config.otp_key.expose().as_bytes().to_vec())
        .map_err(|e| anyhow::anyhow!("OTP key: {e}"))?;
    let service = BookingService::new(
        store.clone(),
        pg.clone(),
        clock.clone(),
        random.clone(),
        hasher,
        ServiceConfig {
            waitlist: booking_core::waitlist::WaitlistPolicy {
                offer_ttl: signed(config.waitlist_offer_ttl),
                ..Default::default()
            },
            link_base: booking_core::patient_link::LinkBase::parse(&config.public_base_url),
            ..ServiceConfig::default()
        },
    );

    let twilio_config = |base: &str| {
        let defaults = TwilioConfig::default();
        TwilioConfig {
            api_base: base.to_owned(),
            status_callback_url: Some(TwilioConfig::status_callback_for(&config.public_base_url)),
            // The connect timeout must stay below the request timeout (a failed connect is
            // safe to retry, a timed-out request is not).
            connect_timeout: defaults.connect_timeout.min(config.twilio_timeout / 2),
            request_timeout: config.twilio_timeout,
            ..defaults
        }
    };
    let twilio =
        TwilioClient::new(twilio_config(&config.twilio_api_base)).context("Twilio client")?;
    let standin = match &config.sms_standin {
        Some((url, sid)) => Some((
            TwilioClient::new(twilio_config(url)).context("SMS stand-in client")?,
            sid.clone(),
        )),
        None => None,
    };
    let gateway: Arc<dyn SmsGateway> = Arc::new(RoutedGateway { twilio, standin });

    let worker_id = format!(
        "api-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    );
    let dispatcher = Arc::new(Dispatcher::new(
        store.clone(),
        gateway.clone(),
        clock.clone(),
        random.clone(),
        DispatchConfig {
            worker: worker_id.clone(),
            per_sender_per_second: f64::from(config.sms_rate_per_second),
            per_sender_burst: config.sms_rate_per_second.max(3),
            concurrency: config.sms_send_concurrency,
            lease: signed(config.sms_claim_lease),
            backoff_base: signed(config.sms_retry_base),
            backoff_cap: signed(config.sms_retry_cap),
            ambiguous_recheck: signed(config.sms_recheck),
            ..DispatchConfig::default()
        },
    ));

    // The clinics' own calendars: synced into busy time and written to in the background.
    let calendar_store: Arc<dyn CalendarSyncStore> = pg.clone();
    let outside_calendar: Arc<dyn OutsideCalendar> =
        Arc::new(booking_caldav::CalDav::new(booking_caldav::CalDavConfig {
            request_timeout: config.calendar_timeout,
            connect_timeout: config.calendar_timeout.min(Duration::from_secs(5)),
            ..booking_caldav::CalDavConfig::default()
        }));
    let calendar_worker = CalendarWorker::new(
        calendar_store.clone(),
        outside_calendar.clone(),
        clock.clone(),
        CalendarSyncConfig {
            worker: format!("calendar-{worker_id}"),
            staleness_bound: signed(config.calendar_staleness),
            horizon: jiff::SignedDuration::from_hours(24 * i64::from(config.calendar_horizon_days)),
            // A claim outlives the slowest sync: discovery of changes plus reading them.
            lease: signed(config.calendar_timeout * 6),
            ..CalendarSyncConfig::default()
        },
    );

    let metrics = Arc::new(Metrics::default());
    let wake = Arc::new(Notify::new());
    let accounts: Arc<dyn AccountStore> = pg.clone();
    let feeds: Arc<dyn booking_core::feeds::CalendarFeedStore> = pg.clone();
    let state = web::Data::new(AppState {
        config: config.clone(),
        store,
        tenant_cache,
        clock,
        random,
        metrics: metrics.clone(),
        readiness: Arc::new(PgReadiness(pg.clone())),
        ops: pg.clone(),
        calendars: calendar_store.clone(),
        outside_calendar,
        feeds,
        feed_misses: Arc::new(crate::limits::FeedMisses::default()),
        service,
        wake_worker: wake.clone(),
        accounts,
        gateway,
        held_reports: Arc::new(HeldReports::default()),
        password_checks: Arc::new(
            PasswordChecks::start(config.sign_in_concurrency as usize)
                .context("starting the password-check threads")?,
        ),
    });

    let app_state = state.clone();
    let warm = pg;
    let server = HttpServer::new(move || {
        // Called on each worker's thread as it starts: its pool opened before its first call.
        if tokio::runtime::Handle::try_current().is_ok() {
            let pg = warm.clone();
            tokio::spawn(async move {
                let open = pg.warm_up().await;
                tracing::debug!(connections = open, "worker's database pool opened");
            });
        }
        App::new()
            .app_data(app_state.clone())
            .app_data(
                web::JsonConfig::default()
                    .limit(DEFAULT_BODY_LIMIT)
                    .error_handler(crate::error::json_error_handler),
            )
            .app_data(web::PayloadConfig::new(DEFAULT_BODY_LIMIT))
            .wrap(actix_web::middleware::from_fn(crate::http::request_log))
            .configure(crate::http::routes)
    })
    .workers(workers)
    .shutdown_timeout(15)
    .listen(listener)
    .context("listening")?;
    let addr = *server.addrs().first().context("no bound address")?;
    let server = server.run();
    let handle = server.handle();
    let server_task = tokio::spawn(server);

    let (stop_worker, stop_rx) = watch::channel(false);
    let reports_task = tokio::spawn(retry_held_reports(state.clone(), stop_rx.clone()));
    let calendar_task = config.run_worker.then(|| {
        tokio::spawn(crate::calendar_sync::calendar_loop(
            calendar_worker,
            calendar_store,
            state.service.clone(),
            state.clock.clone(),
            state.metrics.clone(),
            stop_rx.clone(),
        ))
    });
    let worker_task = config
        .run_worker
        .then(|| tokio::spawn(worker_loop(dispatcher, state.clone(), wake, stop_rx)));

    tracing::info!(%addr, "listening");
    Ok(Running {
        addr,
        state,
        server: handle,
        server_task,
        worker_task,
        calendar_task,
        reports_task,
        stop_worker,
    })
}

fn signed(d: Duration) -> jiff::SignedDuration {
    jiff::SignedDuration::try_from(d).unwrap_or(jiff::SignedDuration::MAX)
}

/// Sends due texts until told to stop; sleeps while there is nothing to do, waking early when a
/// handler queued something. Expires stale holds now and then.
async fn worker_loop(
    dispatcher: Arc<Dispatcher>,
    state: web::Data<AppState>,
    wake: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) {
    let mut last_expiry = std::time::Instant::now() - Duration::from_secs(3600);
    let mut last_offers = last_expiry;
    loop {
        if *stop.borrow() {
            break;
        }
        // Freed times offered to the waitlist: read from the bookings each time, so nothing is
        // lost to a restart and any number of workers may look at once.
        if last_offers.elapsed() >= state.config.waitlist_poll {
            last_offers = std::time::Instant::now();
            match state.service.offer_freed_slots().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(offers = n, "offered freed times to the waitlist"),
                Err(e) => tracing::warn!(error = %e, "offering freed times to the waitlist failed"),
            }
        }
        if last_expiry.elapsed() > Duration::from_secs(30) {
            last_expiry = std::time::Instant::now();
            if let Err(e) = state.store.expire_holds(state.clock.now()).await {
                tracing::warn!(error = %e, "expiring holds failed");
            }
        }
        // After a claim that took everything due, the next one waits to be woken: a text
        // queued meanwhile has left its wake-up behind, so nothing waits for the poll.
        let idle = match dispatcher.step().await {
            Ok(report) => {
                record_dispatch(&state.metrics, &report);
                report.drained()
            }
            Err(e) => {
                tracing::warn!(error = %e, "outbox step failed");
                true
            }
        };
        if idle {
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                _ = stop.changed() => {}
            }
        }
    }
    match dispatcher.release().await {
        Ok(n) if n > 0 => tracing::info!(released = n, "gave back outbox claims"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "giving back outbox claims failed"),
    }
}

/// Tries the held end-of-call reports again every few seconds until each is recorded (or is
/// given up after a few hours); see [`crate::held_reports`].
async fn retry_held_reports(state: web::Data<AppState>, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            _ = stop.changed() => {}
        }
        if *stop.borrow() {
            break;
        }
        if state.held_reports.is_empty() {
            continue;
        }
        crate::end_of_call::record_held_reports(&state).await;
    }
    let left = state.held_reports.len();
    if left > 0 {
        tracing::error!(
            reports = left,
            "stopping with end-of-call reports the database never took; their alerts are lost"
        );
    }
}

fn record_dispatch(m: &Metrics, r: &booking_core::dispatch::DispatchReport) {
    for (result, n) in [
        ("accepted", r.sent),
        ("reconciled", r.reconciled),
        ("retry", r.retried),
        ("ambiguous", r.ambiguous),
        ("failed", r.failed),
        ("suppressed", r.suppressed),
        ("deferred", r.deferred),
    ] {
        for _ in 0..n {
            m.inc("sms_dispatched_total", &[("result", result)]);
        }
    }
}

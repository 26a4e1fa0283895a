//! `cargo xtask dev`: the product running locally for real. A private PostgreSQL under
//! target/dev/pg, the api on 127.0.0.1:8080, and the local Twilio stand-in (in this process)
//! that records and prints every text instead of sending it, and a local CalDAV server
//! (radicale) whose calendar the demo clinic's provider is linked to. Creates the demo clinic
//! once. Ctrl-C stops the api, the stand-in, the calendar server and the PostgreSQL cluster (if
//! this run started it).

use std::fs;
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};

use crate::caldav::DevCalendar;
use crate::http::{Request, truncate};
use crate::pg::DevCluster;
use crate::standin::StandIn;
use crate::util::{self, Step, dev_dir, note, random_hex, signals};

/// The demo clinic's numbers. 555-01xx numbers are reserved for fiction: no one answers them.
pub const DEMO_CALLED_NUMBER: &str = "+15550100100";
pub const DEMO_VAPI_PHONE_NUMBER_ID: &str = "5e1f0d4a-2c6b-4f1e-9a57-0de1110c1a55";
pub const DEMO_ALERT_NUMBER: &str = "+15550100199";
pub const DEMO_SENDER_NUMBER: &str = "+15550100101";
/// The demo clinic owner's dashboard sign-in (the password is in target/dev/secrets.env).
pub const DEMO_OWNER_EMAIL: &str = "owner@smiledental.example";

const DEFAULT_PORT: u16 = 8080;

pub struct Options {
    pub port: u16,
}

impl Options {
    pub fn parse(args: &[String]) -> Result<Self> {
        let mut port = DEFAULT_PORT;
        let mut it = args.iter();
        while let Some(a) = it.next() {
            match a.as_str() {
                "--port" => {
                    port = it
                        .next()
                        .and_then(|p| p.parse().ok())
                        .ok_or_else(|| anyhow!("--port needs a port number"))?;
                }
                other => bail!("unknown option {other:?} (cargo xtask dev [--port PORT])"),
            }
        }
        Ok(Self { port })
    }
}

/// `target/dev/secrets.env`: made on the first run, reused after.
pub fn secrets_file() -> PathBuf {
    dev_dir().join("secrets.env")
}

/// `target/dev/run.env`: where the running dev server and stand-in are; removed on exit.
pub fn run_file() -> PathBuf {
    dev_dir().join("run.env")
}

struct Secrets {
    admin_token: String,
    vapi_secret: String,
    master_key: String,
    standin_sid: String,
    standin_token: String,
    owner_password: String,
}

impl Secrets {
    fn load_or_create() -> Result<Self> {
        let path = secrets_file();
        if path.is_file() {
            let vars = util::read_env_file(&path)?;
            let get = |k: &str| {
                util::lookup(&vars, k).map(str::to_owned).ok_or_else(|| {
                    anyhow!(
                        "{k} is missing from {}; delete the file to make new dev secrets",
                        path.display()
                    )
                })
            };
            let owner_password = match util::lookup(&vars, "DEV_OWNER_PASSWORD") {
                Some(p) => p.to_owned(),
                // Files made before the dashboard existed: add the owner's password.
                None => {
                    let p = format!("dev-owner-{}", random_hex(8)?);
                    let mut text = fs::read_to_string(&path)?;
                    if !text.ends_with('\n') {
                        text.push('\n');
                    }
                    text.push_str(&format!(
                        "# The demo clinic owner's dashboard password ({DEMO_OWNER_EMAIL}).\nDEV_OWNER_PASSWORD={p}\n"
                    ));
                    fs::write(&path, text)?;
                    p
                }
            };
            return Ok(Self {
                admin_token: get("ADMIN_TOKEN")?,
                vapi_secret: get("VAPI_SECRET")?,
                master_key: get("MASTER_KEY")?,
                standin_sid: get("SMS_STANDIN_ACCOUNT_SID")?,
                standin_token: get("SMS_STANDIN_AUTH_TOKEN")?,
                owner_password,
            });
        }
        let s = Self {
            admin_token: format!("dev-admin-{}", random_hex(16)?),
            vapi_secret: format!("dev-vapi-{}", random_hex(16)?),
            master_key: random_hex(32)?,
            standin_sid: format!("AC{}", random_hex(16)?),
            standin_token: random_hex(16)?,
            owner_password: format!("dev-owner-{}", random_hex(8)?),
        };
        fs::create_dir_all(dev_dir())?;
        let text = format!(
            "# Made by `cargo xtask dev` on its first run, for this checkout only. Never use these\n\
             # anywhere else. Delete this file (and target/dev/pg) to start over.\n\
             ADMIN_TOKEN={}\nVAPI_SECRET={}\nMASTER_KEY={}\n\
             # The SMS stand-in's account: tenants with this account sid text the stand-in.\n\
             SMS_STANDIN_ACCOUNT_SID={}\nSMS_STANDIN_AUTH_TOKEN={}\n\
             # The demo clinic owner's dashboard password ({DEMO_OWNER_EMAIL}).\n\
             DEV_OWNER_PASSWORD={}\n",
            s.admin_token,
            s.vapi_secret,
            s.master_key,
            s.standin_sid,
            s.standin_token,
            s.owner_password
        );
        fs::write(&path, text).with_context(|| format!("could not write {}", path.display()))?;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600))?;
        note(format!("made new dev secrets in {}", path.display()));
        Ok(s)
    }
}

pub fn run(opts: Options) -> Result<()> {
    let api_addr = format!("127.0.0.1:{}", opts.port);
    if TcpListener::bind((Ipv4Addr::LOCALHOST, opts.port)).is_err() {
        bail!(
            "{api_addr} is already in use (another `cargo xtask dev`?); stop it, or pick another port with --port"
        );
    }
    let secrets = Secrets::load_or_create()?;

    // The first build is the slow step: cargo shows its own progress.
    let step =
        Step::start("building the api and the Twilio stand-in (cargo build -p api -p fake-twilio)");
    util::run(
        util::cargo().args([
            "build",
            "--package",
            "api",
            "--package",
            "fake-twilio",
            "--bins",
        ]),
        "cargo build",
    )?;
    step.done();
    interrupted()?;

    let db = DevCluster::ensure()?;
    let result = serve(&db, &secrets, &api_addr);
    let _ = fs::remove_file(run_file());
    let released = db.release();
    result.and(released)
}

fn interrupted() -> Result<()> {
    match signals::received() {
        Some(sig) => bail!("interrupted ({})", signals::name(sig)),
        None => Ok(()),
    }
}

fn serve(db: &DevCluster, secrets: &Secrets, api_addr: &str) -> Result<()> {
    let step = Step::start("starting the local Twilio stand-in");
    let standin = StandIn::start(&secrets.standin_sid, &secrets.standin_token)?;
    step.done();
    let step =
        Step::start("starting the dev calendar server (radicale, data in target/dev/caldav)");
    let calendar = match DevCalendar::start() {
        Ok(c) => {
            step.done();
            Some(c)
        }
        Err(e) => {
            note(format!("no dev calendar: {e:#}"));
            None
        }
    };

    let api_url = format!("http://{api_addr}");
    // A tunnel (for a real Vapi number) sets its own public URL; otherwise the local one.
    let public_base_url = std::env::var("PUBLIC_BASE_URL").unwrap_or_else(|_| api_url.clone());
    let step = Step::start(format!(
        "starting the api on {api_addr} (it applies the migrations at startup)"
    ));
    let bin = util::target_dir().join("debug").join("api");
    let mut cmd = Command::new(&bin);
    cmd.current_dir(util::project_root())
        .env("DATABASE_URL", db.url())
        .env("BIND_ADDR", api_addr)
        .env("PUBLIC_BASE_URL", &public_base_url)
        .env("ADMIN_TOKEN", &secrets.admin_token)
        .env("VAPI_SECRET", &secrets.vapi_secret)
        .env("MASTER_KEY", &secrets.master_key)
        .env("SMS_STANDIN_URL", standin.url())
        .env("SMS_STANDIN_ACCOUNT_SID", &secrets.standin_sid)
        // Its own process group: Ctrl-C reaches this process only, which stops the api in
        // order (SIGTERM, a graceful shutdown) before the database.
        .process_group(0);
    util::die_with_parent(&mut cmd);
    let mut api = cmd
        .spawn()
        .with_context(|| format!("could not start {}", bin.display()))?;

    let result = (|| {
        wait_ready(&mut api, &api_url)?;
        step.done();
        fs::write(
            run_file(),
            format!(
                "# The running `cargo xtask dev` (removed when it stops).\nAPI_URL={api_url}\nSMS_STANDIN_URL={}\n",
                standin.url()
            ),
        )?;
        let tenant = ensure_demo_clinic(&api_url, secrets)?;
        ensure_demo_owner(&api_url, secrets, &tenant)?;
        if let Some(c) = &calendar {
            let owner = (DEMO_OWNER_EMAIL, secrets.owner_password.as_str());
            if let Err(e) =
                crate::caldav::link_demo_provider(&api_url, &public_base_url, owner, &tenant, c)
            {
                note(format!(
                    "could not link the demo provider's calendar: {e:#}"
                ));
            }
        }
        banner(
            &api_url,
            &public_base_url,
            db,
            secrets,
            &standin,
            &tenant,
            calendar.as_ref(),
        );
        watch(&mut api)
    })();

    let step = Step::start("stopping the api");
    let status = util::terminate(&mut api, "the api", Duration::from_secs(15))?;
    step.done();
    if result.is_ok() && !status.success() && signals::received().is_none() {
        note(format!("the api exited: {status}"));
    }
    let step = Step::start("stopping the Twilio stand-in");
    standin.stop()?;
    step.done();
    if let Some(c) = calendar {
        let step = Step::start("stopping the dev calendar server");
        c.stop()?;
        step.done();
    }
    result
}

fn wait_ready(api: &mut Child, api_url: &str) -> Result<()> {
    let started = Instant::now();
    let mut last_note = Instant::now();
    loop {
        interrupted()?;
        if let Some(status) = api.try_wait()? {
            bail!("the api exited during startup ({status}); its log is above");
        }
        if let Ok(r) = Request::get(format!("{api_url}/readyz"))
            .timeout(Duration::from_secs(2))
            .send()
            && r.is_success()
        {
            return Ok(());
        }
        if started.elapsed() > Duration::from_secs(120) {
            bail!("the api did not become ready within 2 minutes ({api_url}/readyz)");
        }
        if last_note.elapsed() > Duration::from_secs(5) {
            note(format!(
                "waiting for {api_url}/readyz ({}s)",
                started.elapsed().as_secs()
            ));
            last_note = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The tenant among `GET /admin/tenants` that answers the demo number.
pub fn find_demo_tenant(list: &Value) -> Option<Value> {
    let items = list
        .as_array()
        .or_else(|| list.get("tenants").and_then(Value::as_array))
        .or_else(|| list.get("items").and_then(Value::as_array))
        .or_else(|| list.get("data").and_then(Value::as_array))?;
    items
        .iter()
        .find(|t| {
            t.get("phone_numbers")
                .and_then(Value::as_array)
                .is_some_and(|ns| {
                    ns.iter().any(|n| {
                        n.get("number").and_then(Value::as_str) == Some(DEMO_CALLED_NUMBER)
                    })
                })
        })
        .cloned()
}

pub fn demo_clinic(secrets_sid: &str, secrets_token: &str) -> Value {
    let weekday = json!([["09:00", "12:30"], ["13:30", "18:00"]]);
    json!({
        "name": "Smile Dental",
        "timezone": "America/New_York",
        "phone_numbers": [
            { "number": DEMO_CALLED_NUMBER, "vapi_phone_number_id": DEMO_VAPI_PHONE_NUMBER_ID }
        ],
        "alert_numbers": [DEMO_ALERT_NUMBER],
        "hot_lead_threshold": 70,
        "twilio": {
            "account_sid": secrets_sid,
            "auth_token": secrets_token,
            "api_key_sid": null,
            "api_key_secret": null,
            "from": DEMO_SENDER_NUMBER,
            "messaging_service_sid": null
        },
        "services": [
            { "name": "Cleaning", "duration_minutes": 30, "value_cents": 12000 },
            { "name": "Teeth Whitening", "duration_minutes": 60, "value_cents": 45000 },
            { "name": "Consultation", "duration_minutes": 20, "value_cents": 0 },
            { "name": "Veneers Consultation", "duration_minutes": 45, "value_cents": 120000 }
        ],
        "weekly_hours": {
            "mon": weekday, "tue": weekday, "wed": weekday, "thu": weekday, "fri": weekday,
            "sat": [["09:00", "13:00"]]
        },
        "buffer_after_minutes": 10,
        "min_notice_minutes": 60,
        "slot_interval_minutes": 30,
        "booking_horizon_days": 60,
        "system_prompt": "You are Ava, the friendly receptionist of Smile Dental. Keep answers short and warm, and offer the earliest times first."
    })
}

fn ensure_demo_clinic(api_url: &str, secrets: &Secrets) -> Result<Value> {
    let r = Request::get(format!("{api_url}/admin/tenants"))
        .bearer(&secrets.admin_token)
        .send()?;
    if !r.is_success() {
        bail!(
            "GET /admin/tenants answered HTTP {}: {}",
            r.status,
            truncate(&r.text(), 300)
        );
    }
    if let Some(t) = find_demo_tenant(&r.json()?) {
        note("the demo clinic exists already (from an earlier run)");
        return Ok(t);
    }
    let step = Step::start("creating the demo clinic (POST /admin/tenants)");
    let r = Request::post(format!("{api_url}/admin/tenants"))
        .bearer(&secrets.admin_token)
        .json(&demo_clinic(&secrets.standin_sid, &secrets.standin_token))
        .send()?;
    if !r.is_success() {
        bail!(
            "POST /admin/tenants answered HTTP {}: {}",
            r.status,
            truncate(&r.text(), 600)
        );
    }
    step.done();
    r.json()
}

/// The demo clinic owner's dashboard account (`POST /admin/tenants/{id}/owners`), once.
fn ensure_demo_owner(api_url: &str, secrets: &Secrets, tenant: &Value) -> Result<()> {
    let id = tenant
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("the demo clinic has no id: {tenant}"))?;
    let r = Request::post(format!("{api_url}/admin/tenants/{id}/owners"))
        .bearer(&secrets.admin_token)
        .json(&json!({ "email": DEMO_OWNER_EMAIL, "password": secrets.owner_password }))
        .send()?;
    match r.status {
        201 => note(format!(
            "created the demo clinic owner's dashboard account ({DEMO_OWNER_EMAIL})"
        )),
        409 => {}
        status => note(format!(
            "could not create the demo owner's dashboard account (HTTP {status}): {}",
            truncate(&r.text(), 300)
        )),
    }
    Ok(())
}

fn banner(
    api_url: &str,
    public_base_url: &str,
    db: &DevCluster,
    secrets: &Secrets,
    standin: &StandIn,
    tenant: &Value,
    calendar: Option<&DevCalendar>,
) {
    let id = tenant.get("id").and_then(Value::as_str).unwrap_or("?");
    let calendar = match calendar {
        Some(c) => format!(
            "{}   user {} / {}\n                     (the demo provider's calendar: {})",
            c.url(),
            crate::caldav::USER,
            c.password(),
            c.calendar_url()
        ),
        None => "not running (apt-get install radicale)".to_owned(),
    };
    let name = tenant.get("name").and_then(Value::as_str).unwrap_or("?");
    eprintln!(
        "
================================================================================
 The receptionist backend is running.

   api               {api_url}   (PUBLIC_BASE_URL {public_base_url})
   owner dashboard   {api_url}/app   sign in as {DEMO_OWNER_EMAIL} / {}
   operator API      {api_url}/admin/tenants   (Authorization: Bearer $ADMIN_TOKEN)
   Vapi webhook      {api_url}/vapi/webhook     (X-Vapi-Secret: $VAPI_SECRET)
   health, metrics   {api_url}/healthz  {api_url}/readyz  {api_url}/metrics
   database          {}   (cargo xtask db)
   SMS stand-in      {}   texts are printed here, NOT SENT
   dev calendar      {calendar}

   demo clinic       {name} ({id})
                     called number {DEMO_CALLED_NUMBER}, owner alerts to {DEMO_ALERT_NUMBER}

   dev secrets (target/dev/secrets.env):
     ADMIN_TOKEN={}
     VAPI_SECRET={}
     MASTER_KEY={}

 Next: in another terminal, play a phone call:
     cargo xtask call            (--hostile-prompt, --skip-confirmation, --race)

 Ctrl-C stops the api, the stand-in, the dev calendar and the dev PostgreSQL; the data stays in
 target/dev.
================================================================================
",
        secrets.owner_password,
        db.url(),
        standin.url(),
        secrets.admin_token,
        secrets.vapi_secret,
        secrets.master_key,
    );
}

/// Runs until Ctrl-C (or SIGTERM), or until the api exits by itself.
fn watch(api: &mut Child) -> Result<()> {
    loop {
        if let Some(sig) = signals::received() {
            eprintln!();
            note(format!("{}: shutting down", signals::name(sig)));
            return Ok(());
        }
        if let Some(status) = api.try_wait()? {
            bail!("the api exited ({status}); its log is above");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

//! `cargo xtask dev`'s calendar server: a Radicale (Debian's `radicale`) on 127.0.0.1, its data
//! in target/dev/caldav, with one user, `frontdesk`, and one calendar, "Smile Dental front desk".
//! The demo clinic's provider is linked to that calendar through the dashboard's own forms (as
//! an owner would: sign in, find the calendars, pick one), so its events block times for
//! callers and the appointments booked by phone appear in it.

use std::fs;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value;

use crate::http::Request;
use crate::util::{self, dev_dir, note, random_hex};

/// The calendar's user, and the calendar's path under it.
pub const USER: &str = "frontdesk";
pub const CALENDAR: &str = "smile-dental";
const PREFERRED_PORT: u16 = 55232;

/// The running dev calendar server.
pub struct DevCalendar {
    child: Child,
    port: u16,
    password: String,
}

fn root() -> PathBuf {
    dev_dir().join("caldav")
}

impl DevCalendar {
    /// Starts Radicale on the port of earlier runs (so that the stored link still points at it),
    /// creating its user and calendar on the first run.
    pub fn start() -> Result<Self> {
        let root = root();
        let calendar = root
            .join("collections")
            .join("collection-root")
            .join(USER)
            .join(CALENDAR);
        fs::create_dir_all(&calendar).context("creating target/dev/caldav")?;
        let props = calendar.join(".Radicale.props");
        if !props.exists() {
            fs::write(
                &props,
                "{\"tag\": \"VCALENDAR\", \"D:displayname\": \"Smile Dental front desk\"}",
            )?;
        }
        let users = root.join("users");
        let password = match fs::read_to_string(&users).ok().and_then(|s| {
            s.trim()
                .strip_prefix(&format!("{USER}:"))
                .map(str::to_owned)
        }) {
            Some(p) if !p.is_empty() => p,
            _ => {
                let p = format!("dev-calendar-{}", random_hex(8)?);
                fs::write(&users, format!("{USER}:{p}\n"))?;
                p
            }
        };
        let port = port()?;
        let log = fs::File::create(root.join("radicale.log"))?;
        let mut cmd = Command::new("radicale");
        cmd.args(["--config", ""])
            .args(["--server-hosts", &format!("127.0.0.1:{port}")])
            .arg("--storage-filesystem-folder")
            .arg(root.join("collections"))
            .args(["--auth-type", "htpasswd"])
            .arg("--auth-htpasswd-filename")
            .arg(&users)
            .args(["--auth-htpasswd-encryption", "plain"])
            .args(["--rights-type", "owner_only"])
            .args(["--logging-level", "warning"])
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .process_group(0);
        util::die_with_parent(&mut cmd);
        let mut child = cmd
            .spawn()
            .context("could not run radicale (Debian: apt-get install radicale)")?;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Some(status) = child.try_wait()? {
                bail!("radicale exited ({status}); see target/dev/caldav/radicale.log");
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                bail!("radicale did not listen on port {port} within 20 s");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(Self {
            child,
            port,
            password,
        })
    }

    /// `http://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// The calendar the demo provider is linked to.
    pub fn calendar_url(&self) -> String {
        format!("{}{USER}/{CALENDAR}/", self.url())
    }

    pub fn password(&self) -> &str {
        &self.password
    }

    pub fn stop(mut self) -> Result<()> {
        util::terminate(&mut self.child, "radicale", Duration::from_secs(5))?;
        Ok(())
    }
}

/// The port of earlier runs (target/dev/caldav.port), else 55232 if free, else any free one.
fn port() -> Result<u16> {
    let file = dev_dir().join("caldav.port");
    let free = |p: u16| TcpListener::bind((Ipv4Addr::LOCALHOST, p)).is_ok();
    if let Some(p) = fs::read_to_string(&file)
        .ok()
        .and_then(|s| s.trim().parse::<u16>().ok())
        && free(p)
    {
        return Ok(p);
    }
    let p = if free(PREFERRED_PORT) {
        PREFERRED_PORT
    } else {
        TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
            .local_addr()?
            .port()
    };
    fs::write(&file, p.to_string())?;
    Ok(p)
}

/// The value of the first `name="<field>" value="…"` in a page.
fn field(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')?;
    Some(html[start..start + end].replace("&amp;", "&"))
}

/// Links the demo clinic's first provider to the dev calendar through the dashboard, unless it
/// is linked to it already. `origin` is the api's public URL (the dashboard checks `Origin`).
pub fn link_demo_provider(
    api_url: &str,
    origin: &str,
    owner: (&str, &str),
    tenant: &Value,
    calendar: &DevCalendar,
) -> Result<()> {
    let provider = tenant
        .pointer("/providers/0/id")
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("the demo clinic lists no provider"))?;
    // Sign in as the owner.
    let form = Request::get(format!("{api_url}/app/login")).send()?;
    let login_cookie = form.cookies.first().cloned().unwrap_or_default();
    let csrf = field(&form.text(), "csrf").ok_or_else(|| anyhow!("no sign-in form"))?;
    let r = Request::post(format!("{api_url}/app/login"))
        .header("Cookie", &login_cookie)
        .header("Origin", origin)
        .form(&[("email", owner.0), ("password", owner.1), ("csrf", &csrf)])
        .send()?;
    let session = r
        .cookies
        .iter()
        .find(|c| c.contains("session=") && !c.ends_with('='))
        .cloned()
        .ok_or_else(|| anyhow!("the owner's sign-in was refused (HTTP {})", r.status))?;
    let settings = Request::get(format!("{api_url}/app/settings"))
        .header("Cookie", &session)
        .send()?
        .text();
    let csrf = field(&settings, "csrf").ok_or_else(|| anyhow!("no CSRF token in Settings"))?;
    let wanted = calendar.calendar_url();
    if settings.contains(&format!("Linked to <code>{wanted}</code>")) {
        note(format!("the demo provider's calendar is linked ({wanted})"));
        return Ok(());
    }
    let found = Request::post(format!("{api_url}/app/providers/{provider}/calendar"))
        .header("Cookie", &session)
        .header("Origin", origin)
        .form(&[
            ("server", &calendar.url()),
            ("username", USER),
            ("password", calendar.password()),
            ("csrf", &csrf),
        ])
        .timeout(Duration::from_secs(60))
        .send()?;
    let sealed = field(&found.text(), "found").ok_or_else(|| {
        anyhow!(
            "finding the dev calendar failed (HTTP {}): {}",
            found.status,
            crate::http::truncate(&found.text(), 300)
        )
    })?;
    let r = Request::post(format!("{api_url}/app/providers/{provider}/calendar/link"))
        .header("Cookie", &session)
        .header("Origin", origin)
        .form(&[("found", &sealed), ("calendar", &wanted), ("csrf", &csrf)])
        .send()?;
    if r.status != 303 {
        bail!("linking the dev calendar answered HTTP {}", r.status);
    }
    note(format!(
        "linked the demo provider to the dev calendar ({wanted})"
    ));
    Ok(())
}

//! The local Twilio stand-in of `cargo xtask dev`: fake-twilio's binary, built with the api. It
//! records every text the api "sends" through the dev account and prints it, labelled NOT
//! SENT, on this terminal; `cargo xtask call` reads them back over its Messages.json API. It
//! reports delivery to the api with signed status callbacks, as Twilio does.
//!
//! It runs as a child process rather than inside xtask so that xtask itself stays a small,
//! quick build: the first `cargo xtask …` compiles before anything can be printed.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::util;

pub struct StandIn {
    child: Child,
    url: String,
}

impl StandIn {
    /// Starts on a free port, accepting only the dev account's credentials.
    pub fn start(account_sid: &str, auth_token: &str) -> Result<Self> {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
            .local_addr()?
            .port();
        let bin = util::target_dir().join("debug").join("fake-twilio");
        let mut cmd = Command::new(&bin);
        cmd.args(["--port", &port.to_string(), "--auto-deliver", "--account"])
            .arg(format!("{account_sid}:{auth_token}"))
            .process_group(0);
        util::die_with_parent(&mut cmd);
        let mut child = cmd
            .spawn()
            .with_context(|| format!("could not start {}", bin.display()))?;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Some(status) = child.try_wait()? {
                bail!("the Twilio stand-in exited at startup ({status})");
            }
            if Instant::now() > deadline {
                child.kill().ok();
                child.wait().ok();
                bail!("the Twilio stand-in did not listen on {addr} within 10 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(Self {
            child,
            url: format!("http://{addr}"),
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn stop(mut self) -> Result<()> {
        util::terminate(
            &mut self.child,
            "the Twilio stand-in",
            Duration::from_secs(5),
        )?;
        Ok(())
    }
}

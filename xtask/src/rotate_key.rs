//! `cargo xtask rotate-key`: re-encrypts the dev database's Twilio credentials under a new master
//! key, then records the new key in target/dev/secrets.env. In production the same work is done
//! by `api rotate-key` (see docs/operations.md).

use std::fs;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::dev::secrets_file;
use crate::pg::DevCluster;
use crate::util::{self, Step, cargo, note, random_hex, target_dir};

pub fn run() -> Result<()> {
    let path = secrets_file();
    if !path.is_file() {
        bail!("there are no dev secrets yet: run `cargo xtask dev` once first");
    }
    let vars = util::read_env_file(&path)?;
    let old = util::lookup(&vars, "MASTER_KEY")
        .with_context(|| format!("MASTER_KEY is missing from {}", path.display()))?
        .to_owned();
    // An explicit id, so that the new key is told apart from the old in every row.
    let new = format!("k{}:{}", random_hex(4)?, random_hex(32)?);

    let db = DevCluster::ensure()?;
    let step = Step::start("building the api");
    util::run(
        cargo().args(["build", "--quiet", "-p", "api"]),
        "cargo build -p api",
    )?;
    step.done();
    let rotated = util::run(
        Command::new(target_dir().join("debug/api"))
            .arg("rotate-key")
            .env("DATABASE_URL", db.url())
            .env("MASTER_KEY", &new)
            .env("MASTER_KEY_PREVIOUS", &old),
        "api rotate-key",
    );
    db.release()?;
    rotated?;

    let text =
        fs::read_to_string(&path).with_context(|| format!("could not read {}", path.display()))?;
    let updated: String = text
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("MASTER_KEY=") {
                format!("MASTER_KEY={new}\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    fs::write(&path, updated).with_context(|| format!("could not write {}", path.display()))?;
    note(format!(
        "{} now holds the new MASTER_KEY; restart `cargo xtask dev` so that the api uses it",
        path.display()
    ));
    Ok(())
}

//! `cargo xtask test`: the whole suite (unit, PostgreSQL and end-to-end tests) against one
//! throwaway PostgreSQL cluster started for the run and stopped after it, whatever happens.

use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Result, bail};
use local_postgres::Cluster;

use crate::util::{self, Step, format_duration, note, signals};

pub fn run(extra: &[String]) -> Result<()> {
    let started = Instant::now();
    let nextest = has_nextest();

    let step = Step::start("starting a throwaway PostgreSQL for the suite");
    let cluster = Cluster::ephemeral()?;
    step.done();
    // The test harness of booking-postgres makes its template and per-test databases on the
    // server this URL names, instead of starting a cluster per test process.
    let url = cluster.url("postgres");
    note(format!("DATABASE_URL={url}"));

    let result = run_suite(&url, nextest, extra);

    let step = Step::start("stopping the throwaway PostgreSQL");
    drop(cluster);
    step.done();

    let elapsed = format_duration(started.elapsed());
    if let Some(sig) = signals::received() {
        bail!("interrupted ({}) after {elapsed}", signals::name(sig));
    }
    match result {
        Ok(()) => {
            eprintln!("==> the whole suite passed in {elapsed}");
            Ok(())
        }
        Err(e) => Err(e.context(format!("the suite failed after {elapsed}"))),
    }
}

fn has_nextest() -> bool {
    util::cargo()
        .args(["nextest", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn run_suite(url: &str, nextest: bool, extra: &[String]) -> Result<()> {
    let mut failed = Vec::new();
    if nextest {
        // nextest does not run doctests: cargo test does them first, so that nextest's summary
        // is the last thing on the terminal. A failure in one still runs the other.
        if extra.is_empty() {
            let step = Step::start("doctests (cargo test --doc)");
            let mut cmd = util::cargo();
            cmd.args(["test", "--workspace", "--all-features", "--doc"]);
            suite_env(&mut cmd, url);
            match util::run(&mut cmd, "the doctests") {
                Ok(()) => step.done(),
                Err(e) => failed.push(e),
            }
        }
        if signals::received().is_none() {
            let step = Step::start(
                "building and running the tests (cargo nextest run --workspace --all-features)",
            );
            let mut cmd = util::cargo();
            cmd.args([
                "nextest",
                "run",
                "--workspace",
                "--all-features",
                "--no-fail-fast",
            ]);
            cmd.args(extra);
            suite_env(&mut cmd, url);
            match util::run(&mut cmd, "the tests") {
                Ok(()) => step.done(),
                Err(e) => failed.push(e),
            }
        }
    } else {
        note("cargo-nextest is not installed: running cargo test");
        let step =
            Step::start("building and running the tests (cargo test --workspace --all-features)");
        let mut cmd = util::cargo();
        cmd.args(["test", "--workspace", "--all-features", "--no-fail-fast"]);
        if !extra.is_empty() {
            cmd.arg("--").args(extra);
        }
        suite_env(&mut cmd, url);
        match util::run(&mut cmd, "the tests") {
            Ok(()) => step.done(),
            Err(e) => failed.push(e),
        }
    }
    match failed.len() {
        0 => Ok(()),
        _ => bail!(
            "{}",
            failed
                .iter()
                .map(|e| format!("{e:#}"))
                .collect::<Vec<_>>()
                .join("; ")
        ),
    }
}

fn suite_env(cmd: &mut Command, url: &str) {
    cmd.env("DATABASE_URL", url);
}

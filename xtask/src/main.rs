//! The project's commands, run as `cargo xtask <command>` (an alias in .cargo/config.toml).
//! Plain Rust and `std::process::Command`: nothing to install beyond the toolchain.

mod call;
mod dev;
mod http;
mod pg;
mod standin;
mod test;
mod util;

use std::process::ExitCode;

use anyhow::{Result, bail};

const USAGE: &str = "\
usage: cargo xtask <command> [options]

commands:
  dev [--port PORT]  run the backend locally for real: a private PostgreSQL under target/dev,
                     the api on 127.0.0.1:8080 (or PORT), the demo clinic, and a local
                     Twilio stand-in that prints texts instead of sending them
  call [--hostile-prompt] [--skip-confirmation] [--race]
                     play a whole phone call as Vapi would against the running dev server,
                     then show the texts the caller and the owner got
  test [-- ARGS]     the whole suite (unit, PostgreSQL, end-to-end) against a throwaway
                     PostgreSQL; ARGS go to the test runner (e.g. a test name filter)
  migrate            apply the migrations to the dev database (or to DATABASE_URL if set)
  db                 psql into the dev database
  help               this text
";

fn main() -> ExitCode {
    util::signals::install();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<()> {
    let Some((command, rest)) = args.split_first() else {
        eprint!("{USAGE}");
        bail!("no command given");
    };
    match command.as_str() {
        "dev" => dev::run(dev::Options::parse(rest)?),
        "call" => call::run(call::Options::parse(rest)?),
        "test" => {
            let extra = match rest.split_first() {
                None => &[][..],
                Some((dashes, extra)) if dashes == "--" => extra,
                Some(_) => rest,
            };
            test::run(extra)
        }
        "migrate" => {
            no_options(command, rest)?;
            pg::migrate()
        }
        "db" => {
            no_options(command, rest)?;
            pg::psql()
        }
        // `bench` (the benchmarks of issue 8) is to be added here, in a module of its own.
        "help" | "--help" | "-h" => {
            print!("{USAGE}");
            Ok(())
        }
        other => {
            eprint!("{USAGE}");
            bail!("unknown command {other:?}")
        }
    }
}

fn no_options(command: &str, rest: &[String]) -> Result<()> {
    if let Some(first) = rest.first() {
        bail!("cargo xtask {command} takes no options (got {first:?})");
    }
    Ok(())
}

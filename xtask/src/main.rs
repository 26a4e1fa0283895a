//! The project's commands, run as `cargo xtask <command>` (an alias in .cargo/config.toml).
//! Plain Rust and `std::process::Command`. The commands that build or run the service install
//! what the machine lacks from the distribution's packages first (see `system`).

mod browser_deps;
mod caldav;
mod call;
mod dev;
mod http;
mod pg;
mod rotate_key;
mod standin;
mod system;
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
  vapi-contract PATH hold our replies to Vapi to a copy of Vapi's API document (VapiAI/docs
                     fern/apis/api/openapi.json; pinned: eabfa530): the schema mirrors are
                     compared with it and every reply is validated against it
  twilio-contract PATH
                     compare the request parameters the fake Twilio accepts with a copy of
                     Twilio's API definition (twilio/twilio-oai spec/json/twilio_api_v2010.json;
                     pinned: d50069b)
  migrate            apply the migrations to the dev database (or to DATABASE_URL if set)
  db                 psql into the dev database
  rotate-key         re-encrypt the dev database's Twilio credentials under a new master key
                     (and record it in target/dev/secrets.env)
  bench [ARGS]       the benchmarks (release build, own PostgreSQL, fake Twilio); ARGS go to
                     the bench binary (--quick for a smoke run; --help for the rest)
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
        "dev" => {
            let opts = dev::Options::parse(rest)?;
            system::ensure(system::Purpose::RunLocally)?;
            dev::run(opts)
        }
        "call" => call::run(call::Options::parse(rest)?),
        "test" => {
            let extra = match rest.split_first() {
                None => &[][..],
                Some((dashes, extra)) if dashes == "--" => extra,
                Some(_) => rest,
            };
            system::ensure(system::Purpose::WholeSuite)?;
            browser_deps::ensure()?;
            test::run(extra)
        }
        "vapi-contract" => contract_test(
            rest,
            "vapi-contract PATH/TO/openapi.json",
            "VAPI_OPENAPI_JSON",
            &["-p", "booking-vapi", "--test", "contract"],
        ),
        "twilio-contract" => contract_test(
            rest,
            "twilio-contract PATH/TO/twilio_api_v2010.json",
            "TWILIO_OPENAPI_JSON",
            &["-p", "fake-twilio", "--lib", "contract"],
        ),
        "migrate" => {
            no_options(command, rest)?;
            system::ensure(system::Purpose::RunLocally)?;
            pg::migrate()
        }
        "db" => {
            no_options(command, rest)?;
            system::ensure(system::Purpose::RunLocally)?;
            pg::psql()
        }
        "rotate-key" => {
            no_options(command, rest)?;
            rotate_key::run()
        }
        "bench" => {
            system::ensure(system::Purpose::RunLocally)?;
            let step = util::Step::start("building the api and the benchmarks (release)");
            util::run(
                util::cargo().args(["build", "--release", "--quiet", "-p", "api", "-p", "bench"]),
                "cargo build --release",
            )?;
            step.done();
            util::run(
                std::process::Command::new(util::target_dir().join("release/bench")).args(rest),
                "bench",
            )
        }
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

/// Runs the checks that compare our side of a vendor's contract with the vendor's own document
/// (ignored in the plain suite, which does not carry the document) with `variable` naming it.
fn contract_test(rest: &[String], usage: &str, variable: &str, selection: &[&str]) -> Result<()> {
    let [path] = rest else {
        bail!("usage: cargo xtask {usage}");
    };
    let path = std::fs::canonicalize(path).map_err(|e| anyhow::anyhow!("{path}: {e}"))?;
    util::run(
        util::cargo()
            .arg("test")
            .args(selection)
            .args(["--", "--include-ignored"])
            .env(variable, &path),
        "the contract test",
    )
}

fn no_options(command: &str, rest: &[String]) -> Result<()> {
    if let Some(first) = rest.first() {
        bail!("cargo xtask {command} takes no options (got {first:?})");
    }
    Ok(())
}

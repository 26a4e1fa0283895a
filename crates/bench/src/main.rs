//! `bench`: load benchmarks of the api, run against the release binary as a child process, a
//! private Postgres tuned like production (fsync on unless `--no-fsync`), and the fake Twilio.
//!
//! ```text
//! cargo build --release -p api
//! cargo run --release -p bench -- [--quick] [--scenario calls,contention,availability,providers,calendars,…]
//! ```
//!
//! Prints a table and writes `target/bench/<timestamp>.json` and `target/bench/latest.json`.
//! See docs/performance.md for what each scenario measures and the latest figures.

mod charts;
mod harness;
mod report;
mod scenarios;
mod statements;
mod stats;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use harness::{Durability, Harness, Options};

const SCENARIOS: [&str; 10] = [
    "calls",
    "contention",
    "availability",
    "providers",
    "calendars",
    "outbox",
    "floor",
    "signin",
    "instances",
    "growth",
];

const USAGE: &str = "\
usage: bench [--quick] [--scenario NAME[,NAME…]]… [options]

scenarios: calls, contention, availability, providers, calendars, outbox, floor, signin,
           instances, growth (default: all)

options:
  --quick              smaller runs, for a smoke test (about a minute)
  --calls N[,N…]       concurrent calls of the calls scenario (default 50,200,500; quick 20,50)
  --think-ms MS        mean pause between the steps of a paced call (default 1000; quick 300)
  --concurrency C[,C…] clients of the floor scenario (default 50,200; quick 20)
  --no-fsync           run Postgres without fsync/synchronous_commit/full_page_writes
  --api PATH           the api binary (default target/release/api)
  --perf               record the api with `perf record -g` during each scenario
  --log-sql            log every statement Postgres runs (to derive the pgbench scripts)
  --explain            log the plans of statements slower than 2 ms (auto_explain)
  --statements         report the statements that took the most time in each scenario
                       (pg_stat_statements)

The api gets the bench's own DB_POOL_SIZE and RUST_LOG, if set.";

struct Args {
    quick: bool,
    scenarios: Vec<String>,
    calls: Vec<usize>,
    think_ms: u64,
    concurrency: Vec<usize>,
    durability: Durability,
    api: Option<PathBuf>,
    perf: bool,
    log_sql: bool,
    explain: bool,
    statements: bool,
}

fn list<T: std::str::FromStr>(v: &str, what: &str) -> anyhow::Result<Vec<T>> {
    v.split(',')
        .map(|x| {
            x.trim()
                .parse()
                .map_err(|_| anyhow::anyhow!("bad {what}: {x}"))
        })
        .collect()
}

fn parse_args() -> anyhow::Result<Args> {
    let mut raw = std::env::args().skip(1);
    let mut a = Args {
        quick: false,
        scenarios: Vec::new(),
        calls: Vec::new(),
        think_ms: 0,
        concurrency: Vec::new(),
        durability: Durability::Production,
        api: None,
        perf: false,
        log_sql: false,
        explain: false,
        statements: false,
    };
    let mut think = None;
    while let Some(arg) = raw.next() {
        let mut value = |name: &str| raw.next().with_context(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--quick" => a.quick = true,
            "--scenario" | "--scenarios" => {
                for s in value(&arg)?.split(',') {
                    if !SCENARIOS.contains(&s) {
                        bail!("unknown scenario {s} (one of {})", SCENARIOS.join(", "));
                    }
                    a.scenarios.push(s.to_owned());
                }
            }
            "--calls" => a.calls = list(&value(&arg)?, "--calls")?,
            "--think-ms" => think = Some(value(&arg)?.parse().context("--think-ms")?),
            "--concurrency" => a.concurrency = list(&value(&arg)?, "--concurrency")?,
            "--no-fsync" => a.durability = Durability::NoFsync,
            "--api" => a.api = Some(value(&arg)?.into()),
            "--perf" => a.perf = true,
            "--log-sql" => a.log_sql = true,
            "--explain" => a.explain = true,
            "--statements" => a.statements = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other}\n\n{USAGE}"),
        }
    }
    if a.scenarios.is_empty() {
        a.scenarios = SCENARIOS.map(str::to_owned).to_vec();
    }
    if a.calls.is_empty() {
        a.calls = if a.quick {
            vec![20, 50]
        } else {
            vec![50, 200, 500]
        };
    }
    if a.concurrency.is_empty() {
        a.concurrency = if a.quick { vec![20] } else { vec![50, 200] };
    }
    a.think_ms = think.unwrap_or(if a.quick { 300 } else { 1000 });
    Ok(a)
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let out_dir = target_dir().join("bench");
    let mut api_env: Vec<(String, String)> = [
        "DB_POOL_SIZE",
        "RUST_LOG",
        "SIGN_IN_CONCURRENCY",
        "MALLOC_ARENA_MAX",
    ]
    .iter()
    .filter_map(|k| std::env::var(k).ok().map(|v| ((*k).to_owned(), v)))
    .collect();
    // The sign-in flood comes from many addresses through one (pretend) proxy.
    api_env.push(("TRUSTED_PROXY_HOPS".into(), "1".into()));
    let sms_rate = 10_000;
    let opts = Options {
        api_binary: args
            .api
            .clone()
            .unwrap_or_else(|| target_dir().join("release/api")),
        out_dir: out_dir.clone(),
        durability: args.durability,
        sms_rate_per_second: sms_rate,
        api_env,
        log_sql: args.log_sql,
        explain: args.explain,
        statements: args.statements,
    };
    let started = Instant::now();
    let load_before = loadavg();
    eprintln!("bench: starting Postgres, the fake Twilio and the api…");
    let h = Arc::new(Harness::start(&opts).await?);
    eprintln!(
        "bench: api pid {} on {} (log {})",
        h.api.pid,
        h.base,
        h.api.log_path.display()
    );
    let mut results = serde_json::Map::new();
    let mut statements = serde_json::Map::new();
    let mut outcome = Ok(());
    for s in &args.scenarios {
        // Each scenario on a settled database: not the backlog of texts, the dead rows and the
        // dirty pages the previous one left (a race right after 500 saturated calls measured
        // PostgreSQL catching up: 0.15 CPU-s over it against 0.01 on its own).
        let settled = h.settle(Duration::from_secs(30)).await?;
        eprintln!("bench: scenario {s}… (database settled in {settled:.1} s)");
        let perf = args
            .perf
            .then(|| Perf::start(h.api.pid, &out_dir, s))
            .transpose()?;
        h.statements_reset()?;
        let r = run_scenario(&h, &args, s, sms_rate).await;
        drop(perf);
        match r {
            Ok(v) => {
                if args.statements {
                    statements.insert(s.clone(), h.statements_top(15)?);
                }
                report::print_scenario(s, &v);
                results.insert(s.clone(), v);
            }
            Err(e) => {
                eprintln!("bench: scenario {s} failed: {e:#}");
                results.insert(s.clone(), json!({"failed": format!("{e:#}")}));
                outcome = Err(e);
            }
        }
    }
    let api_vmhwm = harness::mb(h.api.hwm());
    if args.log_sql || args.explain {
        let to = out_dir.join("postgres-statements.log");
        std::fs::copy(h.cluster.log_file(), &to)?;
        eprintln!("bench: statements logged to {}", to.display());
    }
    let settings = h.settings.clone();
    // Stops the api (SIGTERM), then Postgres and the fake.
    drop(Arc::try_unwrap(h).ok().context("harness still shared")?);

    let mut doc = json!({
        "date": jiff::Timestamp::now().to_string(),
        "machine": report::machine(),
        "commit": report::commit(&workspace_root()),
        "mode": if args.quick { "quick" } else { "full" },
        "durability": match args.durability {
            Durability::Production => "fsync on (production)",
            Durability::NoFsync => "fsync off",
        },
        "settings": settings,
        "think_ms": args.think_ms,
        "duration_s": started.elapsed().as_secs_f64(),
        // The machine may be shared: what else was running shows here.
        "loadavg_start": load_before,
        "loadavg_end": loadavg(),
        "api_vmhwm_mb": api_vmhwm,
        "scenarios": Value::Object(results),
    });
    if args.statements {
        doc["statements"] = Value::Object(statements);
    }
    let targets = report::targets(&doc);
    report::print_targets(&targets);
    doc["targets"] = json!(targets);
    let stamp = jiff::Timestamp::now()
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string();
    let text = serde_json::to_string_pretty(&doc)?;
    let file = out_dir.join(format!("{stamp}.json"));
    std::fs::write(&file, &text)?;
    std::fs::write(out_dir.join("latest.json"), &text)?;
    eprintln!("bench: wrote {} and latest.json", file.display());
    for chart in charts::write(&doc, &out_dir, &stamp)? {
        eprintln!("bench: chart {}", chart.display());
    }
    outcome
}

async fn run_scenario(
    h: &Arc<Harness>,
    args: &Args,
    s: &str,
    sms_rate: u32,
) -> anyhow::Result<Value> {
    use scenarios::*;
    Ok(match s {
        "calls" => {
            let mut runs = Vec::new();
            for &n in &args.calls {
                for think_ms in [args.think_ms, 0] {
                    let cfg = CallsConfig {
                        label: format!("calls-{n}"),
                        calls: n,
                        think_ms,
                        ramp_ms: if think_ms == 0 { 0 } else { 2 * think_ms },
                        calls_per_tenant: 20,
                    };
                    eprintln!(
                        "bench:   {n} calls, {}",
                        if think_ms == 0 {
                            "no pauses (saturation)".to_owned()
                        } else {
                            format!("paced ({think_ms} ms between steps)")
                        }
                    );
                    runs.push(to_value(&calls(h, cfg).await?));
                }
            }
            json!(runs)
        }
        "contention" => to_value(&contention(h, if args.quick { 200 } else { 500 }, 0).await?),
        "availability" => {
            to_value(&availability(h, 10_000, if args.quick { 300 } else { 2_000 }, 0).await?)
        }
        "providers" => json!({
            "availability": to_value(
                &availability(h, 10_000, if args.quick { 300 } else { 2_000 }, 10).await?
            ),
            "contention": to_value(&contention(h, if args.quick { 200 } else { 500 }, 3).await?),
        }),
        "calendars" => to_value(
            &synced_availability(h, 10, 10_000, if args.quick { 300 } else { 2_000 }).await?,
        ),
        "outbox" => {
            to_value(&outbox(h, if args.quick { 2_000 } else { 10_000 }, 10, sms_rate).await?)
        }
        "floor" => {
            let mut runs = Vec::new();
            for &c in &args.concurrency {
                runs.push(to_value(&floor::floor(h, c, args.quick).await?));
            }
            json!(runs)
        }
        "signin" => {
            let n = if args.quick { 50 } else { 200 };
            eprintln!("bench:   128 sign-ins at once, while {n} paced calls play");
            let cfg = CallsConfig {
                label: "signin".into(),
                calls: n,
                think_ms: args.think_ms,
                ramp_ms: 2 * args.think_ms,
                calls_per_tenant: 20,
            };
            to_value(&sign_in_flood(h, 128, cfg).await?)
        }
        "instances" => {
            let n = if args.quick { 50 } else { 200 };
            eprintln!("bench:   {n} paced calls against two api processes, requests alternating");
            to_value(&instances(h, n, args.think_ms).await?)
        }
        "growth" => {
            let sizes: &[growth::Size] = if args.quick {
                &growth::QUICK
            } else {
                &growth::FULL
            };
            let n = if args.quick { 50 } else { 200 };
            to_value(&growth::growth(h, sizes, n, args.think_ms).await?)
        }
        other => bail!("unknown scenario {other}"),
    })
}

/// /proc/loadavg's 1, 5 and 15 minute figures.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// `perf record` attached to the api for the length of a scenario.
struct Perf(std::process::Child);

impl Perf {
    fn start(pid: u32, dir: &std::path::Path, scenario: &str) -> anyhow::Result<Self> {
        let out = dir.join(format!("perf-{scenario}.data"));
        let child = std::process::Command::new("perf")
            .args(["record", "-F", "499", "-g", "-p", &pid.to_string(), "-o"])
            .arg(&out)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .context("starting perf")?;
        eprintln!("bench:   perf recording to {}", out.display());
        Ok(Self(child))
    }
}

impl Drop for Perf {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-INT", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

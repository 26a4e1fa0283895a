//! The terminal table, the machine description, and the targets of issue 8 checked against a
//! run's figures.

use std::path::Path;
use std::process::Command;

use serde::Serialize;
use serde_json::{Value, json};

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

fn lat_row(label: &str, l: &Value) {
    println!(
        "  {label:<24} {:>7} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
        l["count"].as_u64().unwrap_or(0),
        f(&l["p50_ms"]),
        f(&l["p95_ms"]),
        f(&l["p99_ms"]),
        f(&l["max_ms"]),
    );
}

fn lat_header() {
    println!(
        "  {:<24} {:>7} {:>9} {:>9} {:>9} {:>9}",
        "", "n", "p50 ms", "p95 ms", "p99 ms", "max ms"
    );
}

pub fn print_scenario(name: &str, v: &Value) {
    println!();
    match name {
        "calls" => {
            for run in v.as_array().into_iter().flatten() {
                let c = &run["config"];
                let think = c["think_ms"].as_u64().unwrap_or(0);
                println!(
                    "== calls: {} concurrent calls, {} over {} tenants ==",
                    c["calls"],
                    if think == 0 {
                        "no pauses (saturation)".to_owned()
                    } else {
                        format!("paced, ~{think} ms between steps")
                    },
                    run["tenants"]
                );
                lat_header();
                for (tool, l) in run["tools"].as_object().into_iter().flatten() {
                    lat_row(tool, l);
                }
                lat_row("all tool calls", &run["all_tools"]);
                lat_row("assistant-request", &run["assistant_request"]);
                lat_row("end-of-call-report", &run["end_of_call_report"]);
                lat_row("(otp text delivery)", &run["otp_delivery"]);
                println!(
                    "  completed calls {}/{}, tool calls {} in {:.1} s = {:.0}/s, errors {}, refusals {}, api RSS peak {:.1} MB",
                    run["completed_calls"],
                    c["calls"],
                    run["tool_calls"],
                    f(&run["wall_s"]),
                    f(&run["tool_calls_per_s"]),
                    run["errors"],
                    run["refusals"],
                    f(&run["api_rss_peak_mb"]),
                );
                for e in run["first_errors"].as_array().into_iter().flatten() {
                    println!("  error: {}", e.as_str().unwrap_or_default());
                }
            }
        }
        "contention" => {
            println!(
                "== contention: {} callers reserve one slot at once ==",
                v["callers"]
            );
            lat_header();
            lat_row("reserve_slot", &v["latency"]);
            println!(
                "  winners {}, refused with alternatives {}, refused without {}, errors {}, held rows {}, last answer after {:.1} ms",
                v["winners"],
                v["refused_with_alternatives"],
                v["refused_without_alternatives"],
                v["errors"],
                v["held_rows"],
                f(&v["last_answer_ms"]),
            );
            println!(
                "  CPU seconds over the race: api {:.2}, PostgreSQL {:.2}, callers {:.2}",
                f(&v["api_cpu_s"]),
                f(&v["postgres_cpu_s"]),
                f(&v["callers_cpu_s"]),
            );
        }
        "availability" => {
            println!(
                "== availability: one caller, {} days, calendar of {} bookings ({} in the window) ==",
                v["days"], v["bookings_in_calendar"], v["bookings_in_window"]
            );
            lat_header();
            lat_row("check_availability", &v["latency"]);
            println!(
                "  errors {}, slots offered per answer {:.1}",
                v["errors"],
                f(&v["mean_slots_offered"])
            );
        }
        "providers" => {
            let a = &v["availability"];
            println!(
                "== providers: availability over {} days with {} providers, {} bookings ({} in the window) ==",
                a["days"], a["providers"], a["bookings_in_calendar"], a["bookings_in_window"]
            );
            lat_header();
            lat_row("check_availability", &a["latency"]);
            println!(
                "  errors {}, slots offered per answer {:.1}",
                a["errors"],
                f(&a["mean_slots_offered"])
            );
            let c = &v["contention"];
            println!(
                "== providers: {} callers reserve one start at once with {} providers free ==",
                c["callers"], c["providers"]
            );
            lat_header();
            lat_row("reserve_slot", &c["latency"]);
            println!(
                "  winners {}, refused with alternatives {}, refused without {}, errors {}, held rows {}",
                c["winners"],
                c["refused_with_alternatives"],
                c["refused_without_alternatives"],
                c["errors"],
                c["held_rows"],
            );
        }
        "calendars" => {
            println!(
                "== calendars: availability over 14 days, {} providers, {} bookings each clinic; linked: {} events a calendar, {} busy rows, synced every {} s ==",
                v["providers"],
                v["bookings_per_clinic"],
                v["events_per_calendar"],
                v["busy_rows"],
                f(&v["staleness_seconds"]) / 2.0,
            );
            lat_header();
            lat_row("sync off", &v["sync_off"]);
            lat_row("sync on, not linked", &v["not_linked"]);
            lat_row("sync on, linked", &v["linked"]);
            println!(
                "  errors {}, slots per answer {:.1} / {:.1}; while asked: {} syncs, {} failed, {} events changed",
                v["errors"],
                f(&v["mean_slots_not_linked"]),
                f(&v["mean_slots_linked"]),
                v["syncs_during"],
                v["sync_failures_during"],
                v["edits_during"],
            );
            for (label, k) in [
                ("sync off, asked", "sync_off_usage"),
                ("the sync alone", "sync_alone_usage"),
                ("sync on, asked", "sync_on_usage"),
            ] {
                let u = &v[k];
                println!(
                    "  CPU s/s {label:<16} api {:.2}, PostgreSQL {:.2}, calendar server {:.2} (over {:.1} s)",
                    f(&u["api_cpu_s"]) / f(&u["wall_s"]),
                    f(&u["postgres_cpu_s"]) / f(&u["wall_s"]),
                    f(&u["calendar_server_cpu_s"]) / f(&u["wall_s"]),
                    f(&u["wall_s"]),
                );
            }
            println!("  syncs in the ten seconds alone: {}", v["syncs_alone"]);
        }
        "outbox" => {
            println!(
                "== outbox: {} queued texts from {} senders (SMS_RATE_PER_SECOND={}) ==",
                v["queued"], v["senders"], v["sms_rate_per_second_setting"]
            );
            println!(
                "  at the fake {}, lost {}, duplicated {}, rows not final {}, rows without sid {}",
                v["delivered_to_fake"],
                v["lost"],
                v["duplicated"],
                v["rows_not_final"],
                v["rows_without_sid"]
            );
            println!(
                "  {:.0} texts/s (first to last send, {:.2} s); {:.0}/s from commit to the last ({:.2} s); api RSS peak {:.1} MB",
                f(&v["messages_per_s"]),
                f(&v["send_window_s"]),
                f(&v["end_to_end_per_s"]),
                f(&v["end_to_end_s"]),
                f(&v["api_rss_peak_mb"]),
            );
        }
        "floor" => {
            for run in v.as_array().into_iter().flatten() {
                println!(
                    "== floor: {} clients, the tool over HTTP vs the same SQL in pgbench ==",
                    run["concurrency"]
                );
                println!(
                    "  {:<14} {:>12} {:>12} {:>8} {:>9} {:>9} {:>7}",
                    "", "http /s", "pgbench tps", "ratio", "p50 ms", "p99 ms", "errors"
                );
                for t in ["reserve_slot", "verify_otp"] {
                    let r = &run[t];
                    println!(
                        "  {t:<14} {:>12.0} {:>12.0} {:>7.0}% {:>9.2} {:>9.2} {:>7}",
                        f(&r["http_per_s"]),
                        f(&r["pgbench_tps"]),
                        f(&r["ratio_pct"]),
                        f(&r["http_latency"]["p50_ms"]),
                        f(&r["http_latency"]["p99_ms"]),
                        r["http_errors"],
                    );
                }
            }
        }
        "signin" => {
            let c = &v["calls"];
            println!(
                "== signin: {} sign-ins at once (random emails, one address each), with {} paced calls ==",
                v["concurrent_sign_ins"], c["config"]["calls"]
            );
            println!(
                "  sign-ins {} ({:.0}/s), answers {}, unanswered {}, api RSS peak {:.1} MB",
                v["sign_ins"],
                f(&v["sign_ins_per_s"]),
                v["statuses"],
                v["unanswered"],
                f(&v["api_rss_peak_mb"]),
            );
            lat_header();
            lat_row("all tool calls", &c["all_tools"]);
            println!(
                "  completed calls {}/{}, errors {}",
                c["completed_calls"], c["config"]["calls"], c["errors"]
            );
        }
        "growth" => {
            println!(
                "== growth: the database grown in bulk SQL; paced calls and availability at each size =="
            );
            println!(
                "  {:>8} {:>9} {:>9} {:>7}  {:>22}  {:>9}  {:>8}  {:>14}  {:>14}",
                "clinics",
                "bookings",
                "texts",
                "DB MB",
                "tools p50/p99 ms",
                "avail p99",
                "errors",
                "tools/api cpu-s",
                "tools/pg cpu-s"
            );
            for p in v["points"].as_array().into_iter().flatten() {
                println!(
                    "  {:>8} {:>9} {:>9} {:>7.0}  {:>10.2} / {:>9.2}  {:>9.2}  {:>8}  {:>14.0}  {:>14.0}",
                    // A JSON value ignores width and alignment: its text does not.
                    p["size"]["clinics"].to_string(),
                    p["bookings_in_db"].to_string(),
                    p["texts_in_db"].to_string(),
                    f(&p["database_mb"]),
                    f(&p["calls"]["all_tools"]["p50_ms"]),
                    f(&p["calls"]["all_tools"]["p99_ms"]),
                    f(&p["availability"]["latency"]["p99_ms"]),
                    p["calls"]["errors"].to_string(),
                    f(&p["tool_calls_per_api_cpu_s"]),
                    f(&p["tool_calls_per_postgres_cpu_s"]),
                );
            }
        }
        "instances" => {
            let c = &v["calls"];
            println!(
                "== instances: {} paced calls against {} api processes over one database, requests alternating ==",
                c["config"]["calls"], v["instances"]
            );
            lat_header();
            lat_row("all tool calls", &c["all_tools"]);
            println!(
                "  completed calls {}/{}, errors {}; texts queued {}, at the fake once {}, lost {}, duplicated {}",
                c["completed_calls"],
                c["config"]["calls"],
                c["errors"],
                v["texts_queued"],
                v["texts_once"],
                v["texts_lost"],
                v["texts_duplicated"],
            );
            println!(
                "  confirmed {}, holds left {}; {} wrong passwords at once for one account: {} checked, {} throttled, {} busy ({} busy answers tried again), {} other; second api RSS peak {:.1} MB",
                v["confirmed"],
                v["holds_left"],
                v["sign_in_attempts"],
                v["sign_in_checked"],
                v["sign_in_throttled"],
                v["sign_in_busy"],
                v["sign_in_busy_retries"],
                v["sign_in_other"],
                f(&v["second_api_rss_peak_mb"]),
            );
        }
        _ => println!("{name}: {v}"),
    }
}

/// nproc, CPU model, memory, kernel.
pub fn machine() -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, m)| m.trim().to_owned())
        .unwrap_or_default();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kb: u64 = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    json!({
        "nproc": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "cpu_model": model,
        "memory_gib": mem_kb as f64 / (1024.0 * 1024.0),
        "kernel": kernel.trim(),
    })
}

/// The commit, with `-dirty` when the working tree differs from it.
pub fn commit(root: &Path) -> String {
    let run = |args: &[&str]| {
        Command::new("git")
            .current_dir(root)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let head = run(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let dirty =
        run(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    if dirty { format!("{head}-dirty") } else { head }
}

#[derive(Clone, Debug, Serialize)]
pub struct Target {
    pub target: String,
    pub measured: String,
    pub met: Option<bool>,
}

fn target(
    name: impl Into<String>,
    value: Option<f64>,
    unit: &str,
    ok: impl Fn(f64) -> bool,
) -> Target {
    match value.filter(|v| v.is_finite()) {
        Some(v) => Target {
            target: name.into(),
            measured: format!("{v:.2} {unit}"),
            met: Some(ok(v)),
        },
        None => Target {
            target: name.into(),
            measured: "not measured".into(),
            met: None,
        },
    }
}

/// The targets of issue 8, from a run's document.
pub fn targets(doc: &Value) -> Vec<Target> {
    let s = &doc["scenarios"];
    let mut out = Vec::new();

    // The paced run at 200 calls, else the largest paced run there is.
    let paced: Vec<&Value> = s["calls"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["config"]["think_ms"].as_u64().unwrap_or(0) > 0)
        .collect();
    let at = paced
        .iter()
        .find(|r| r["config"]["calls"] == json!(200))
        .or_else(|| paced.iter().max_by_key(|r| r["config"]["calls"].as_u64()));
    let n = at
        .map(|r| r["config"]["calls"].to_string())
        .unwrap_or_default();
    out.push(target(
        format!("tool-call p99 < 10 ms at 200 concurrent calls (measured at {n})"),
        at.map(|r| f(&r["all_tools"]["p99_ms"])),
        "ms",
        |v| v < 10.0,
    ));
    out.push(target(
        format!("assistant-request p99 < 20 ms (at {n} calls)"),
        at.map(|r| f(&r["assistant_request"]["p99_ms"])),
        "ms",
        |v| v < 20.0,
    ));
    let call_errors: Option<f64> = s["calls"].as_array().map(|runs| {
        runs.iter()
            .map(|r| r["errors"].as_f64().unwrap_or(0.0))
            .sum()
    });
    out.push(target(
        "calls: 0 errors (every run)",
        call_errors,
        "errors",
        |v| v == 0.0,
    ));

    let c = &s["contention"];
    out.push(target(
        "contention: exactly one winner, 0 errors",
        c["winners"]
            .as_f64()
            .map(|w| w + 1000.0 * c["errors"].as_f64().unwrap_or(0.0)),
        "winners (+1000 x errors)",
        |v| v == 1.0,
    ));
    out.push(target(
        "contention: p99 time to an answer < 100 ms (500 callers)",
        c["latency"]["p99_ms"].as_f64(),
        "ms",
        |v| v < 100.0,
    ));

    for run in s["floor"].as_array().into_iter().flatten() {
        out.push(target(
            format!(
                "reserve_slot >= 85% of the pgbench floor ({} clients)",
                run["concurrency"]
            ),
            run["reserve_slot"]["ratio_pct"].as_f64(),
            "%",
            |v| v >= 85.0,
        ));
    }
    out.push(target(
        "availability p99 < 5 ms (14 days, 10,000 bookings)",
        s["availability"]["latency"]["p99_ms"].as_f64(),
        "ms",
        |v| v < 5.0,
    ));
    let cal = &s["calendars"];
    out.push(target(
        "availability p99 < 5 ms with 10 providers' calendars syncing",
        cal["linked"]["p99_ms"].as_f64(),
        "ms",
        |v| v < 5.0,
    ));
    out.push(target(
        "calendars: availability p99 linked / not linked, same minutes < 1.25",
        cal["linked"]["p99_ms"]
            .as_f64()
            .zip(cal["not_linked"]["p99_ms"].as_f64())
            .map(|(l, n)| l / n),
        "x",
        |v| v < 1.25,
    ));
    let o = &s["outbox"];
    out.push(target(
        "outbox >= 1,000 SMS/s against the fake",
        o["messages_per_s"].as_f64(),
        "SMS/s",
        |v| v >= 1000.0,
    ));
    out.push(target(
        "outbox: 0 lost, 0 duplicated",
        o["lost"]
            .as_f64()
            .map(|l| l + o["duplicated"].as_f64().unwrap_or(0.0)),
        "lost + duplicated",
        |v| v == 0.0,
    ));
    let si = &s["signin"];
    out.push(target(
        "api RSS < 200 MB during 128 concurrent failed sign-ins",
        si["api_rss_peak_mb"].as_f64(),
        "MB",
        |v| v < 200.0,
    ));
    out.push(target(
        "tool-call p99 < 20 ms (paced calls) during the sign-in flood",
        si["calls"]["all_tools"]["p99_ms"].as_f64(),
        "ms",
        |v| v < 20.0,
    ));
    let inst = &s["instances"];
    out.push(target(
        "two instances: 0 errors, every text once, every call confirmed",
        inst["calls"]["errors"].as_f64().map(|e| {
            let bad = |k: &str| inst[k].as_f64().unwrap_or(f64::NAN);
            let unconfirmed = inst["calls"]["completed_calls"]
                .as_f64()
                .unwrap_or(f64::NAN)
                - bad("confirmed");
            e + bad("texts_lost") + bad("texts_duplicated") + unconfirmed.abs() + bad("holds_left")
        }),
        "errors + lost + duplicated + unconfirmed + holds left",
        |v| v == 0.0,
    ));
    out.push(target(
        "two instances: 5 password checks of 40 wrong passwords at once",
        inst["sign_in_checked"].as_f64(),
        "checks",
        |v| v == 5.0,
    ));
    // Growth: the targets hold at the largest size measured.
    let largest = s["growth"]["points"]
        .as_array()
        .and_then(|points| points.last());
    let clinics = largest
        .map(|p| p["size"]["clinics"].to_string())
        .unwrap_or_default();
    out.push(target(
        format!("growth: tool-call p99 < 10 ms ({clinics} clinics)"),
        largest.map(|p| f(&p["calls"]["all_tools"]["p99_ms"])),
        "ms",
        |v| v < 10.0,
    ));
    out.push(target(
        format!("growth: availability p99 < 5 ms ({clinics} clinics)"),
        largest.map(|p| f(&p["availability"]["latency"]["p99_ms"])),
        "ms",
        |v| v < 5.0,
    ));
    out.push(target(
        "growth: 0 errors (every size)",
        s["growth"]["points"].as_array().map(|points| {
            points
                .iter()
                .map(|p| f(&p["calls"]["errors"]) + f(&p["availability"]["errors"]))
                .sum()
        }),
        "errors",
        |v| v == 0.0,
    ));
    out.push(target(
        "api RSS < 100 MB under load (VmHWM over the run)",
        doc["api_vmhwm_mb"].as_f64(),
        "MB",
        |v| v < 100.0,
    ));
    out
}

pub fn print_targets(targets: &[Target]) {
    println!();
    println!("== targets ==");
    for t in targets {
        let verdict = match t.met {
            Some(true) => "met",
            Some(false) => "MISSED",
            None => "-",
        };
        println!("  {:<64} {:>22}  {verdict}", t.target, t.measured);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::targets;

    fn point(clinics: u64, p99: f64, errors: u64) -> serde_json::Value {
        json!({
            "size": {"clinics": clinics},
            "calls": {"all_tools": {"p99_ms": p99}, "errors": errors},
            "availability": {"latency": {"p99_ms": 3.0}, "errors": 0},
        })
    }

    fn verdict(doc: &serde_json::Value, starts: &str) -> (String, Option<bool>) {
        let t = targets(doc)
            .into_iter()
            .find(|t| t.target.starts_with(starts))
            .expect(starts);
        (t.target, t.met)
    }

    #[test]
    fn growth_is_judged_at_its_largest_size_and_its_errors_at_every_size() {
        let doc = json!({"scenarios": {"growth": {"points": [
            point(100, 14.0, 1),
            point(10000, 9.0, 0),
        ]}}});
        let (name, met) = verdict(&doc, "growth: tool-call p99");
        assert!(name.contains("10000 clinics"), "{name}");
        assert_eq!(met, Some(true));
        assert_eq!(verdict(&doc, "growth: availability").1, Some(true));
        assert_eq!(verdict(&doc, "growth: 0 errors").1, Some(false));

        let slow = json!({"scenarios": {"growth": {"points": [point(10000, 11.0, 0)]}}});
        assert_eq!(verdict(&slow, "growth: tool-call p99").1, Some(false));
        assert_eq!(verdict(&slow, "growth: 0 errors").1, Some(true));

        let none = json!({"scenarios": {}});
        assert_eq!(verdict(&none, "growth: tool-call p99").1, None);
    }
}

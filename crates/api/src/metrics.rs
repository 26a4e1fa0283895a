//! Prometheus text exposition of the service's counters and latency histograms. Small and
//! dependency-free: a handful of series, updated under one mutex per family.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds (seconds) of the latency buckets.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

type Labels = Vec<(&'static str, String)>;

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

#[derive(Default)]
pub struct Metrics {
    counters: Mutex<BTreeMap<(&'static str, Labels), u64>>,
    histograms: Mutex<BTreeMap<(&'static str, Labels), Histogram>>,
    gauges: Mutex<BTreeMap<(&'static str, Labels), f64>>,
}

/// Help texts, one per family.
const HELP: &[(&str, &str, &str)] = &[
    (
        "http_requests_total",
        "counter",
        "HTTP requests answered, by route and status class.",
    ),
    (
        "tool_calls_total",
        "counter",
        "Vapi tool calls, by tool and outcome (ok, refused, error, replay).",
    ),
    (
        "tool_call_seconds",
        "histogram",
        "Time to answer one tool call.",
    ),
    (
        "assistant_requests_total",
        "counter",
        "assistant-request messages, by outcome.",
    ),
    (
        "assistant_request_seconds",
        "histogram",
        "Time to answer an assistant-request.",
    ),
    (
        "sms_dispatched_total",
        "counter",
        "Outbox sends, by result (accepted, retry, ambiguous, failed, suppressed, deferred).",
    ),
    (
        "end_of_call_reports_total",
        "counter",
        "End-of-call reports, by outcome (recorded, repeated, hot_lead).",
    ),
    (
        "outbox_pending",
        "gauge",
        "Texts due and not yet with Twilio (retries included), all tenants.",
    ),
    (
        "outbox_oldest_pending_seconds",
        "gauge",
        "How long the oldest pending text has waited since it became due.",
    ),
    (
        "outbox_failed_total",
        "gauge",
        "Messages that ended failed or undelivered (all time).",
    ),
    (
        "bookings_confirmed_last_12h",
        "gauge",
        "Appointments confirmed in the last 12 hours, all tenants.",
    ),
    (
        "calendar_syncs_total",
        "counter",
        "Syncs of clinics' own calendars, by result (ok, unreachable, wrong_credentials, not_found, bad_data).",
    ),
    (
        "calendar_writes_total",
        "counter",
        "Appointments written to (or removed from) clinics' own calendars, by result (written, or the problem).",
    ),
    (
        "calendar_sync_lag_seconds",
        "gauge",
        "Age of the oldest calendar busy time held: seconds since the least recently synced link last synced.",
    ),
    (
        "calendar_links_stale",
        "gauge",
        "Linked calendars whose busy time is older than the staleness bound.",
    ),
    (
        "calendar_conflicts",
        "gauge",
        "Appointments from now to the calendar horizon that collide with an event of their provider's own calendar (kept; the owner resolves them).",
    ),
    (
        "calendar_links",
        "gauge",
        "Linked calendars by health (ok, not_synced_yet, unreachable, wrong_credentials, not_found, bad_data).",
    ),
];

impl Metrics {
    pub fn inc(&self, name: &'static str, labels: &[(&'static str, &str)]) {
        let key = (name, own(labels));
        *self
            .counters
            .lock()
            .expect("metrics lock")
            .entry(key)
            .or_default() += 1;
    }

    pub fn observe(&self, name: &'static str, labels: &[(&'static str, &str)], d: Duration) {
        let v = d.as_secs_f64();
        let mut h = self.histograms.lock().expect("metrics lock");
        let e = h.entry((name, own(labels))).or_default();
        for (i, b) in BUCKETS.iter().enumerate() {
            if v <= *b {
                e.counts[i] += 1;
            }
        }
        e.sum += v;
        e.count += 1;
    }

    pub fn set(&self, name: &'static str, labels: &[(&'static str, &str)], v: f64) {
        self.gauges
            .lock()
            .expect("metrics lock")
            .insert((name, own(labels)), v);
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let counters = self.counters.lock().expect("metrics lock");
        let hists = self.histograms.lock().expect("metrics lock");
        let gauges = self.gauges.lock().expect("metrics lock");
        for (family, kind, help) in HELP {
            let _ = writeln!(out, "# HELP {family} {help}\n# TYPE {family} {kind}");
            for ((name, labels), v) in counters.iter().filter(|((n, _), _)| n == family) {
                let _ = writeln!(out, "{name}{} {v}", fmt_labels(labels, None));
            }
            for ((name, labels), v) in gauges.iter().filter(|((n, _), _)| n == family) {
                let _ = writeln!(out, "{name}{} {v}", fmt_labels(labels, None));
            }
            for ((name, labels), h) in hists.iter().filter(|((n, _), _)| n == family) {
                for (i, b) in BUCKETS.iter().enumerate() {
                    let _ = writeln!(
                        out,
                        "{name}_bucket{} {}",
                        fmt_labels(labels, Some(&b.to_string())),
                        h.counts[i]
                    );
                }
                let _ = writeln!(
                    out,
                    "{name}_bucket{} {}",
                    fmt_labels(labels, Some("+Inf")),
                    h.count
                );
                let _ = writeln!(out, "{name}_sum{} {}", fmt_labels(labels, None), h.sum);
                let _ = writeln!(out, "{name}_count{} {}", fmt_labels(labels, None), h.count);
            }
        }
        out
    }
}

fn own(labels: &[(&'static str, &str)]) -> Labels {
    labels.iter().map(|(k, v)| (*k, (*v).to_owned())).collect()
}

fn fmt_labels(labels: &Labels, le: Option<&str>) -> String {
    let mut parts: Vec<String> = labels
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}=\"{}\"",
                v.replace('\\', "\\\\")
                    .replace('"', "\\\"")
                    .replace('\n', "\\n")
            )
        })
        .collect();
    if let Some(le) = le {
        parts.push(format!("le=\"{le}\""));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histograms() {
        let m = Metrics::default();
        m.inc(
            "tool_calls_total",
            &[("tool", "reserve_slot"), ("outcome", "ok")],
        );
        m.inc(
            "tool_calls_total",
            &[("tool", "reserve_slot"), ("outcome", "ok")],
        );
        m.observe(
            "tool_call_seconds",
            &[("tool", "reserve_slot")],
            Duration::from_millis(3),
        );
        m.set("outbox_pending", &[], 4.0);
        let text = m.render();
        assert!(
            text.contains("tool_calls_total{tool=\"reserve_slot\",outcome=\"ok\"} 2"),
            "{text}"
        );
        assert!(text.contains("tool_call_seconds_bucket{tool=\"reserve_slot\",le=\"0.0025\"} 0"));
        assert!(text.contains("tool_call_seconds_bucket{tool=\"reserve_slot\",le=\"0.005\"} 1"));
        assert!(text.contains("tool_call_seconds_count{tool=\"reserve_slot\"} 1"));
        assert!(text.contains("outbox_pending 4"));
        assert!(text.contains("# TYPE tool_call_seconds histogram"));
    }
}

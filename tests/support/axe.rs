//! The accessibility audit of the browser tests: axe-core (from the npm registry, pinned in
//! `tests/browser/package.json`, installed by `cargo xtask test` into the git-ignored
//! `tests/browser/node_modules`) injected into the page the browser shows, which then fails the
//! test on any violation of impact serious or critical, and on a heading that skips a level
//! (axe rates `heading-order` moderate; screen-reader users find their way by headings), listing
//! each rule, its help and the elements it found.
//!
//! One call per page: `booking_e2e::axe::audit(&client).await`.

use std::path::PathBuf;
use std::sync::OnceLock;

use fantoccini::Client;
use serde::Deserialize;
use serde_json::Value;

/// The one command that installs axe-core where the audit looks for it.
pub const INSTALL: &str = "npm ci --prefix tests/browser --ignore-scripts --no-audit --no-fund";

/// Where `npm ci` puts axe-core's browser build.
pub fn script_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("browser/node_modules/axe-core/axe.min.js")
}

fn script() -> &'static str {
    static SOURCE: OnceLock<String> = OnceLock::new();
    SOURCE.get_or_init(|| {
        let path = script_path();
        std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}. The accessibility audit needs axe-core from the npm registry: \
                 run `{INSTALL}` in the checkout (cargo xtask test does it when npm is installed).",
                path.display()
            )
        })
    })
}

/// Rules that fail the audit whatever impact axe gives them.
pub const ALWAYS_FAILING: &[&str] = &["heading-order"];

/// One violation as axe reports it (the parts the failure message shows).
#[derive(Debug, Deserialize)]
pub struct Violation {
    pub id: String,
    pub impact: Option<String>,
    pub help: String,
    #[serde(rename = "helpUrl")]
    pub help_url: String,
    pub nodes: Vec<Node>,
}

#[derive(Debug, Deserialize)]
pub struct Node {
    pub target: Vec<Value>,
    #[serde(rename = "failureSummary", default)]
    pub failure_summary: Option<String>,
}

/// Runs axe-core on the page the browser shows and returns every violation, whatever its impact.
pub async fn violations(c: &Client) -> Vec<Violation> {
    let present = c
        .execute("return typeof window.axe === 'object';", vec![])
        .await
        .expect("script");
    if present != Value::Bool(true) {
        c.execute(script(), vec![]).await.expect("axe-core loads");
    }
    let out = c
        .execute_async(
            "const done = arguments[arguments.length - 1];\
             axe.run(document, { resultTypes: ['violations'] })\
               .then(r => done(JSON.stringify(r.violations)))\
               .catch(e => done(JSON.stringify({ error: String(e) })));",
            vec![],
        )
        .await
        .expect("axe.run");
    let text = out.as_str().expect("axe answers with JSON text");
    match serde_json::from_str::<Vec<Violation>>(text) {
        Ok(v) => v,
        Err(_) => panic!("axe-core could not audit the page: {text}"),
    }
}

/// Fails the test when the page the browser shows has an accessibility violation of impact
/// serious or critical (or of a rule in [`ALWAYS_FAILING`]), naming the page, each rule, its
/// help and the elements.
pub async fn audit(c: &Client) {
    let url = c
        .current_url()
        .await
        .map(|u| u.to_string())
        .unwrap_or_default();
    let serious: Vec<Violation> = violations(c)
        .await
        .into_iter()
        .filter(|v| {
            matches!(v.impact.as_deref(), Some("serious" | "critical"))
                || ALWAYS_FAILING.contains(&v.id.as_str())
        })
        .collect();
    if serious.is_empty() {
        return;
    }
    let mut report = format!(
        "{url}: {} accessibility violation(s) of impact serious or critical, or a skipped heading level",
        serious.len()
    );
    for v in &serious {
        report.push_str(&format!(
            "\n- {} ({}): {} <{}>",
            v.id,
            v.impact.as_deref().unwrap_or("?"),
            v.help,
            v.help_url
        ));
        for n in &v.nodes {
            let target: Vec<String> = n
                .target
                .iter()
                .map(|t| t.as_str().map_or_else(|| t.to_string(), str::to_owned))
                .collect();
            report.push_str(&format!("\n    {}", target.join(" > ")));
            if let Some(s) = &n.failure_summary {
                report.push_str(&format!(" — {}", s.replace('\n', " ")));
            }
        }
    }
    panic!("{report}");
}

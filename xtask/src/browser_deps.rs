//! What the browser tests inject into the pages they drive, from the npm registry: axe-core, the
//! accessibility audit, pinned in `tests/browser/package.json` and `package-lock.json` and
//! installed with `npm ci` into `tests/browser/node_modules` (git-ignored) when it is missing or
//! another version than the pinned one.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use crate::util::{self, Step};

fn dir() -> PathBuf {
    util::project_root().join("tests/browser")
}

/// The version `package.json` pins for `package` (`None` when it names none).
fn pinned(dir: &Path, package: &str) -> Result<Option<String>> {
    let text = std::fs::read_to_string(dir.join("package.json"))
        .with_context(|| format!("reading {}", dir.join("package.json").display()))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).context("tests/browser/package.json")?;
    Ok(json["dependencies"][package].as_str().map(str::to_owned))
}

/// The version of `package` in `node_modules`, if it is there.
fn installed(dir: &Path, package: &str) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("node_modules").join(package).join("package.json"))
        .ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json["version"].as_str().map(str::to_owned)
}

/// Runs `npm ci` in `tests/browser` unless the pinned axe-core is already installed.
pub fn ensure() -> Result<()> {
    let dir = dir();
    let want = pinned(&dir, "axe-core")?;
    if want.is_some() && installed(&dir, "axe-core") == want {
        return Ok(());
    }
    let step = Step::start(format!(
        "installing axe-core {} for the browser tests (npm ci in tests/browser)",
        want.as_deref().unwrap_or("?")
    ));
    util::run(
        Command::new("npm")
            .args(["ci", "--ignore-scripts", "--no-audit", "--no-fund"])
            .current_dir(&dir),
        "npm ci",
    )?;
    step.done();
    Ok(())
}

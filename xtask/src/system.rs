//! What the machine must have before `cargo xtask dev` or `cargo xtask test` can work, and
//! installing what it lacks from the distribution's packages.
//!
//! Only Debian-family machines (apt-get) are served: there the commands install as root, or
//! through `sudo -n` when that needs no password. Anywhere else, or without the right to
//! install, they stop and name the one command to run.

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Result, bail};

use crate::util::{self, Step};

/// A package of the distribution and how to tell that what it brings is already here.
struct Requirement {
    package: &'static str,
    why: &'static str,
    present: fn() -> bool,
}

/// What a command needs from the machine.
#[derive(Clone, Copy)]
pub enum Purpose {
    /// `cargo xtask dev`: build the api and run it on a private PostgreSQL.
    RunLocally,
    /// `cargo xtask test`: all of the above, and the browser for the dashboard's tests.
    WholeSuite,
}

const BUILD_AND_DATABASE: &[Requirement] = &[
    Requirement {
        package: "postgresql",
        why: "the server binaries the private clusters run (initdb, pg_ctl, postgres)",
        present: || on_path("pg_ctl") || any_match("/usr/lib/postgresql", &["bin", "pg_ctl"]),
    },
    Requirement {
        package: "postgresql-contrib",
        why: "btree_gist, behind the constraint that forbids overlapping bookings",
        present: || {
            any_match(
                "/usr/share/postgresql",
                &["extension", "btree_gist.control"],
            )
        },
    },
    Requirement {
        package: "libpq-dev",
        why: "libpq, for the migration harness's synchronous connection",
        present: || {
            [
                "/usr/lib/x86_64-linux-gnu",
                "/usr/lib/aarch64-linux-gnu",
                "/usr/lib",
            ]
            .iter()
            .any(|dir| Path::new(dir).join("libpq.so").exists())
        },
    },
    Requirement {
        package: "build-essential",
        why: "a C compiler for the crates that build C",
        present: || on_path("cc"),
    },
    Requirement {
        package: "pkg-config",
        why: "how the -sys crates find their libraries",
        present: || on_path("pkg-config"),
    },
    Requirement {
        package: "postgresql-client",
        why: "psql, for `cargo xtask db`",
        present: || on_path("psql"),
    },
];

const CALENDAR_SERVER: &[Requirement] = &[Requirement {
    package: "radicale",
    why: "a CalDAV server: the calendar tests run against a private one, and `cargo xtask dev` can link the demo clinic to one",
    present: || on_path("radicale"),
}];

const BROWSER: &[Requirement] = &[
    Requirement {
        package: "chromium",
        why: "the headless browser of the dashboard's tests",
        present: || on_path("chromium"),
    },
    Requirement {
        package: "chromium-driver",
        why: "chromedriver, which drives that browser",
        present: || on_path("chromedriver"),
    },
    Requirement {
        package: "npm",
        why: "installs axe-core, the accessibility audit the browser tests run in each page",
        present: || on_path("npm"),
    },
];

impl Purpose {
    fn requirements(self) -> impl Iterator<Item = &'static Requirement> {
        let browser: &[Requirement] = match self {
            Purpose::RunLocally => &[],
            Purpose::WholeSuite => BROWSER,
        };
        BUILD_AND_DATABASE
            .iter()
            .chain(CALENDAR_SERVER)
            .chain(browser)
    }
}

/// Installs whatever `purpose` needs and the machine lacks, or explains how to.
pub fn ensure(purpose: Purpose) -> Result<()> {
    let missing: Vec<&Requirement> = purpose.requirements().filter(|r| !(r.present)()).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let packages: Vec<&str> = missing.iter().map(|r| r.package).collect();
    for r in &missing {
        util::note(format!("missing: {} ({})", r.package, r.why));
    }
    let install_line = format!(
        "sudo apt-get update && sudo apt-get install -y --no-install-recommends {}",
        packages.join(" ")
    );
    if !on_path("apt-get") {
        bail!(
            "this machine lacks {}; install them with its package manager (on Debian or Ubuntu: {install_line})",
            packages.join(", ")
        );
    }
    let elevate: &[&str] = if is_root() {
        &[]
    } else if on_path("sudo") && sudo_without_password() {
        &["sudo", "-n"]
    } else {
        bail!(
            "this machine lacks {}; run: {install_line}",
            packages.join(", ")
        );
    };

    let step = Step::start(format!(
        "installing from the distribution's packages: {}",
        packages.join(" ")
    ));
    apt(elevate, &["update", "-q"])?;
    let mut install = vec!["install", "-y", "-q", "--no-install-recommends"];
    install.extend(&packages);
    apt(elevate, &install)?;
    step.done();

    let still: Vec<&str> = missing
        .iter()
        .filter(|r| !(r.present)())
        .map(|r| r.package)
        .collect();
    if !still.is_empty() {
        bail!(
            "installed {}, but {} still seem missing",
            packages.join(" "),
            still.join(", ")
        );
    }
    Ok(())
}

fn apt(elevate: &[&str], args: &[&str]) -> Result<()> {
    let mut cmd = match elevate.split_first() {
        Some((first, rest)) => {
            let mut cmd = Command::new(first);
            cmd.args(rest).arg("apt-get");
            cmd
        }
        None => Command::new("apt-get"),
    };
    cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
    util::run(&mut cmd, &format!("apt-get {}", args[0]))
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn sudo_without_password() -> bool {
    Command::new("sudo")
        .args(["-n", "true"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// Whether `root/<any entry>/<rest…>` exists (e.g. `/usr/lib/postgresql/*/bin/pg_ctl`).
fn any_match(root: &str, rest: &[&str]) -> bool {
    let Ok(entries) = std::fs::read_dir(root) else {
        return false;
    };
    entries.flatten().any(|entry| {
        let mut path = entry.path();
        path.extend(rest);
        path.exists()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_suite_needs_the_browser_and_running_locally_does_not() {
        let suite: Vec<&str> = Purpose::WholeSuite
            .requirements()
            .map(|r| r.package)
            .collect();
        let local: Vec<&str> = Purpose::RunLocally
            .requirements()
            .map(|r| r.package)
            .collect();
        assert!(suite.contains(&"chromium") && suite.contains(&"chromium-driver"));
        assert!(suite.contains(&"npm") && !local.contains(&"npm"));
        assert!(!local.contains(&"chromium"));
        assert!(suite.contains(&"radicale") && local.contains(&"radicale"));
        assert!(local.iter().all(|p| suite.contains(p)));
    }

    #[test]
    fn path_lookups_find_a_program_every_machine_has() {
        assert!(on_path("sh"));
        assert!(!on_path("surely-no-such-program-here"));
    }
}

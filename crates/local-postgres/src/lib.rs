//! A private PostgreSQL cluster run from the machine's own binaries (`initdb`, `pg_ctl`,
//! `postgres`), for the dev server and for tests.
//!
//! - [`Cluster::ensure`]: a cluster whose data survives restarts (the dev server). Initialised
//!   if the directory is empty, started if it is not running, reused if it is. Dropping the
//!   handle leaves it running; [`Cluster::stop`] stops it.
//! - [`Cluster::ephemeral`]: a throwaway cluster in a temp dir on a free port, tuned for tests
//!   (no fsync). It is stopped and deleted when the handle is dropped, and also when the owning
//!   process dies without dropping it (a panic in a static, `SIGKILL`, a test runner's timeout):
//!   a small watchdog process waits on a pipe from the owner and cleans up when it closes.
//!
//! PostgreSQL refuses to run as root. When this process is root, the server binaries are run as
//! the `postgres` OS user (`runuser -u postgres -- …`; override with `LOCAL_POSTGRES_OS_USER`)
//! and the data directory is given to that user; its parent directories must be traversable.
//! The binaries are taken from `PG_BIN_DIR` if set, else from the directory of `pg_ctl` on
//! `PATH`, else from the newest `/usr/lib/postgresql/*/bin`.
//!
//! Clusters accept trust-authenticated connections from localhost (TCP on 127.0.0.1 and a Unix
//! socket in the data directory when its path is short enough) for the superuser `postgres`.

mod cluster;
mod error;
mod initdb_cache;
mod machine;
mod server;
mod wire;

pub use wire::{Row, quote_ident, quote_literal};

pub use cluster::{Cluster, HOST, SUPERUSER};
pub use error::{Error, Result};

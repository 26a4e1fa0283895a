//! Password checks, bounded. An argon2 check takes about 19 MiB and tens of milliseconds of one
//! core; run without a bound, a flood of sign-ins (with any email: unknown ones pay the decoy
//! hash) once grew the process by gigabytes, and the allocator kept them. Here a fixed number of
//! threads of our own do every check, so that at most that many check buffers exist at once and
//! the memory they use stays with those threads. A request waits for one of them at most
//! [`WAIT_AT_MOST`], behind at most [`MAX_WAITING`] others; otherwise it is told to try again
//! later, and the queue never grows past that.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

use super::session::{decoy_hash, verify_password};

/// How long a request waits for a free checker before it is refused.
pub const WAIT_AT_MOST: Duration = Duration::from_secs(2);
/// How many requests may wait for a checker at once; more are refused at once.
pub const MAX_WAITING: usize = 32;

/// A password to check against an encoded hash, or against the decoy when the account does not
/// exist (so that an unknown email takes as long to refuse as a wrong password).
pub enum Against {
    Hash(String),
    Decoy,
}

struct Job {
    password: String,
    against: Against,
    reply: oneshot::Sender<bool>,
}

/// Why a check was not done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotChecked {
    /// Every checker stayed busy (or too many were waiting): try again in a moment.
    Busy,
    /// The checkers are gone (the process is stopping).
    Stopped,
}

/// The checkers: `threads` threads and the permits that bound who may hand them work.
pub struct PasswordChecks {
    jobs: mpsc::SyncSender<(Job, OwnedSemaphorePermit)>,
    permits: Arc<Semaphore>,
    waiting: AtomicUsize,
}

impl PasswordChecks {
    pub fn start(threads: usize) -> std::io::Result<Self> {
        let threads = threads.max(1);
        let (tx, rx) = mpsc::sync_channel::<(Job, OwnedSemaphorePermit)>(threads);
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("password-check-{i}"))
                .spawn(move || {
                    loop {
                        let next = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                        let Ok((job, permit)) = next else { break };
                        let matches = match &job.against {
                            Against::Hash(h) => verify_password(&job.password, h),
                            Against::Decoy => verify_password(&job.password, decoy_hash()),
                        };
                        drop(permit);
                        let _ = job.reply.send(matches);
                    }
                })?;
        }
        Ok(Self {
            jobs: tx,
            permits: Arc::new(Semaphore::new(threads)),
            waiting: AtomicUsize::new(0),
        })
    }

    /// Whether `password` matches, checked on one of the checker threads; `Err` when none became
    /// free soon enough.
    pub async fn check(&self, password: String, against: Against) -> Result<bool, NotChecked> {
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                if self.waiting.fetch_add(1, Ordering::AcqRel) >= MAX_WAITING {
                    self.waiting.fetch_sub(1, Ordering::AcqRel);
                    return Err(NotChecked::Busy);
                }
                let got =
                    tokio::time::timeout(WAIT_AT_MOST, self.permits.clone().acquire_owned()).await;
                self.waiting.fetch_sub(1, Ordering::AcqRel);
                match got {
                    Ok(Ok(p)) => p,
                    Ok(Err(_)) => return Err(NotChecked::Stopped),
                    Err(_) => return Err(NotChecked::Busy),
                }
            }
        };
        let (reply, answer) = oneshot::channel();
        let job = Job {
            password,
            against,
            reply,
        };
        // A permit is held per job and there are as many permits as threads and channel slots:
        // the send never waits.
        self.jobs
            .send((job, permit))
            .map_err(|_| NotChecked::Stopped)?;
        answer.await.map_err(|_| NotChecked::Stopped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dashboard::session::hash_password;

    #[tokio::test]
    async fn checks_run_and_a_full_queue_is_refused_not_grown() {
        let checks = Arc::new(PasswordChecks::start(1).unwrap());
        let h = hash_password("correct horse battery", [1; 16]).unwrap();
        assert_eq!(
            checks
                .check("correct horse battery".into(), Against::Hash(h.clone()))
                .await,
            Ok(true)
        );
        assert_eq!(
            checks.check("wrong".into(), Against::Hash(h.clone())).await,
            Ok(false)
        );
        assert_eq!(
            checks.check("wrong".into(), Against::Decoy).await,
            Ok(false)
        );

        // Hold the only permit: MAX_WAITING requests wait, everyone beyond them is refused at
        // once. (A current-thread runtime: the spawned checks run only when this task yields.)
        let held = checks.permits.clone().acquire_owned().await.unwrap();
        let waiters: Vec<_> = (0..MAX_WAITING + 8)
            .map(|_| {
                let c = checks.clone();
                let h = h.clone();
                tokio::spawn(async move { c.check("wrong".into(), Against::Hash(h)).await })
            })
            .collect();
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        assert_eq!(checks.waiting.load(Ordering::Acquire), MAX_WAITING);
        let (done, pending): (Vec<_>, Vec<_>) = waiters.into_iter().partition(|w| w.is_finished());
        assert_eq!(done.len(), 8, "refused at once");
        for w in done {
            assert_eq!(w.await.unwrap(), Err(NotChecked::Busy));
        }
        drop(held);
        for w in pending {
            // Checked, or refused after waiting its turn too long: never anything else.
            assert!(matches!(
                w.await.unwrap(),
                Ok(false) | Err(NotChecked::Busy)
            ));
        }
        assert_eq!(checks.waiting.load(Ordering::Acquire), 0);
    }
}

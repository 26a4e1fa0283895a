//! Password checks, bounded. An argon2 check takes about 19 MiB and tens of milliseconds of one
//! core; run without a bound, a flood of sign-ins (with any email: unknown ones pay the decoy
//! hash) once grew the process by gigabytes, and the allocator kept them. Here a fixed number of
//! threads of our own do every check, each in a memory block of its own that it allocates once
//! and reuses (a fresh 19 MiB allocation per check fragments the allocator's arenas: measured,
//! that alone took the process past 400 MB), so the checks' memory is that many blocks, ever. A request waits for one of them at most
//! [`WAIT_AT_MOST`], behind at most [`MAX_WAITING`] others; otherwise it is told to try again
//! later, and the queue never grows past that.
//!
//! A sign-in is admitted first ([`PasswordChecks::admit`]: no query, no allocation; refused at
//! once when [`MAX_WAITING`] are already admitted), then counted against the sign-in limits, and
//! only then waits for its turn ([`Admission::turn`]). The limits therefore do not depend on how
//! fast the checks run: a flood from one address reaches its limit (429) even when the checks
//! are slow.
//!
//! The checker threads run below the default CPU priority (nice `NICE`, those threads only).
//! A check is tens of milliseconds of a core; at the default priority a flood of them takes a
//! core's share from the request threads and PostgreSQL, and the tool calls of the calls in
//! progress wait behind them. At nice 5 a thread gets about a third of a default thread's share
//! when both want the core, so a tool call's threads go first, while a check still progresses
//! on a machine busy with other work (nice 19 was tried: on a busy machine the checks starved).
//! After each check a checker rests as long as the check took, its turn still held, so that a
//! flood of sign-ins takes at most half of a core per checker even when priorities do little
//! (two cores shared by the api, PostgreSQL and the attacker's connections).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

use argon2::password_hash::PasswordHash;
use argon2::{Algorithm, Argon2, Block, Params, Version};

use super::passwords::decoy_hash;

/// How long a request waits for a free checker before it is refused.
pub const WAIT_AT_MOST: Duration = Duration::from_secs(2);
/// How many requests may wait for a checker at once; more are refused at once.
pub const MAX_WAITING: usize = 32;
/// The longest rest a checker takes after a check (it rests as long as the check took).
const REST_AT_MOST: Duration = Duration::from_millis(250);

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

/// A turn at a checker thread: while it is held, one of them is kept for this request.
pub struct Turn(OwnedSemaphorePermit);

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
                    yield_cpu_to_requests();
                    let mut memory = Vec::new();
                    loop {
                        let next = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                        let Ok((job, permit)) = next else { break };
                        let encoded = match &job.against {
                            Against::Hash(h) => h.as_str(),
                            Against::Decoy => decoy_hash(),
                        };
                        let started = std::time::Instant::now();
                        let matches = verify_in(&job.password, encoded, &mut memory);
                        let took = started.elapsed();
                        let _ = job.reply.send(matches);
                        // A rest as long as the check, with the turn still held: a flood of
                        // sign-ins takes at most half of a core per checker, whatever the
                        // scheduler makes of the priority. One sign-in alone is answered first.
                        std::thread::sleep(took.min(REST_AT_MOST));
                        drop(permit);
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
        let turn = self.reserve().await?;
        self.check_in(turn, password, against).await
    }

    /// A checker's turn, waited for at most [`WAIT_AT_MOST`] behind at most [`MAX_WAITING`]
    /// others: [`Self::admit`], then [`Admission::turn`].
    pub async fn reserve(&self) -> Result<Turn, NotChecked> {
        self.admit()?.turn().await
    }

    /// A place in line for a checker, or `Busy` at once when [`MAX_WAITING`] requests already
    /// have one. Costs nothing: taken before anything else is done for a sign-in, so that a
    /// refused one costs no query.
    pub fn admit(&self) -> Result<Admission<'_>, NotChecked> {
        if let Ok(p) = self.permits.clone().try_acquire_owned() {
            return Ok(Admission {
                checks: self,
                now: Some(p),
                waiting: None,
            });
        }
        // Counted out again when the admission ends, however it ends (a client that goes away
        // drops it mid-wait).
        let waiting = Waiting::enter(&self.waiting);
        if waiting.ahead >= MAX_WAITING {
            return Err(NotChecked::Busy);
        }
        Ok(Admission {
            checks: self,
            now: None,
            waiting: Some(waiting),
        })
    }

    /// Checks `password` in a turn taken with [`PasswordChecks::reserve`].
    pub async fn check_in(
        &self,
        turn: Turn,
        password: String,
        against: Against,
    ) -> Result<bool, NotChecked> {
        let permit = turn.0;
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

/// A sign-in's place in line for a checker ([`PasswordChecks::admit`]).
pub struct Admission<'a> {
    checks: &'a PasswordChecks,
    /// A checker that was free when admitted.
    now: Option<OwnedSemaphorePermit>,
    /// Counted among those waiting until the turn is had or the wait ends.
    waiting: Option<Waiting<'a>>,
}

impl Admission<'_> {
    /// The turn: at once if a checker was free when admitted, else within [`WAIT_AT_MOST`] or
    /// `Busy`.
    pub async fn turn(self) -> Result<Turn, NotChecked> {
        if let Some(p) = self.now {
            return Ok(Turn(p));
        }
        let got =
            tokio::time::timeout(WAIT_AT_MOST, self.checks.permits.clone().acquire_owned()).await;
        drop(self.waiting);
        match got {
            Ok(Ok(p)) => Ok(Turn(p)),
            Ok(Err(_)) => Err(NotChecked::Stopped),
            Err(_) => Err(NotChecked::Busy),
        }
    }
}

/// The checkers' nice value (see the module's documentation).
const NICE: i32 = 5;

/// Lowers the calling thread (and only it) to nice [`NICE`]. Best effort: where the system
/// refuses, the thread keeps its priority.
fn yield_cpu_to_requests() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: both calls take and return plain integers and touch no memory of ours. On
        // Linux, PRIO_PROCESS with a thread id sets the nice value of that thread alone.
        let refused = unsafe {
            let tid = libc::gettid();
            libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, NICE) != 0
        };
        if refused {
            tracing::warn!("password checks run at the default CPU priority (setpriority refused)");
        }
    }
}

/// The most memory a stored hash may ask a check for (64 MiB); ours ask for 19 MiB.
const MAX_BLOCKS: usize = 64 * 1024;

/// Whether `password` matches the encoded argon2 hash, computed in `memory` (grown to what the
/// hash needs on first use, then reused). A malformed hash, or one asking for more than
/// [`MAX_BLOCKS`], matches nothing. The same answer as `passwords::verify_password`.
fn verify_in(password: &str, encoded: &str, memory: &mut Vec<Block>) -> bool {
    let Ok(hash) = PasswordHash::new(encoded) else {
        return false;
    };
    let (Some(expected), Some(salt)) = (hash.hash, hash.salt) else {
        return false;
    };
    let Ok(params) = Params::try_from(&hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(hash.algorithm) else {
        return false;
    };
    let version = match hash.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    let blocks = params.block_count();
    if blocks > MAX_BLOCKS {
        return false;
    }
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    let mut out = vec![0u8; expected.len()];
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, &mut memory[..blocks])
        .is_ok()
        && crate::auth::ct_eq(&out, expected.as_bytes())
}

/// One request counted among those waiting for a checker, for as long as it lives.
struct Waiting<'a> {
    count: &'a AtomicUsize,
    /// How many were waiting before this one.
    ahead: usize,
}

impl<'a> Waiting<'a> {
    fn enter(count: &'a AtomicUsize) -> Self {
        let ahead = count.fetch_add(1, Ordering::AcqRel);
        Self { count, ahead }
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.count.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dashboard::passwords::hash_password;

    #[test]
    fn checks_in_reused_memory_agree_with_the_library() {
        let mut memory = Vec::new();
        let h = hash_password("correct horse battery", [5; 16]).unwrap();
        assert!(verify_in("correct horse battery", &h, &mut memory));
        let size = memory.len();
        assert!(size > 0);
        assert!(!verify_in("correct horse batterY", &h, &mut memory));
        assert!(!verify_in("anything", "not a hash", &mut memory));
        assert!(!verify_in(
            "correct horse battery",
            decoy_hash(),
            &mut memory
        ));
        assert!(!verify_in("decoy", decoy_hash(), &mut memory));
        assert_eq!(memory.len(), size, "the memory is reused, not grown");
        // A hash asking for absurd memory is refused rather than allocated.
        let greedy = h.replace("m=19456", "m=4000000");
        assert!(!verify_in("correct horse battery", &greedy, &mut memory));
        assert_eq!(memory.len(), size);
    }

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

        // A request that goes away while it waits is counted out too.
        let held = checks.permits.clone().acquire_owned().await.unwrap();
        let abandoned: Vec<_> = (0..MAX_WAITING)
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
        for w in abandoned {
            w.abort();
            let _ = w.await;
        }
        assert_eq!(checks.waiting.load(Ordering::Acquire), 0);
        drop(held);
        assert_eq!(
            checks.check("wrong".into(), Against::Hash(h)).await,
            Ok(false)
        );
    }

    #[tokio::test]
    async fn admissions_are_bounded_before_any_turn_is_waited_for() {
        let checks = PasswordChecks::start(1).unwrap();
        // A free checker: admitted with its turn in hand, nobody counted as waiting.
        let first = checks.admit().expect("a free checker");
        assert_eq!(checks.waiting.load(Ordering::Acquire), 0);
        // Every later one is in line from its admission on, before it waits for a turn, and
        // the line stops at MAX_WAITING.
        let mut in_line: Vec<_> = (0..MAX_WAITING)
            .map(|_| checks.admit().expect("room in line"))
            .collect();
        assert_eq!(checks.waiting.load(Ordering::Acquire), MAX_WAITING);
        assert!(matches!(checks.admit(), Err(NotChecked::Busy)));
        assert_eq!(checks.waiting.load(Ordering::Acquire), MAX_WAITING);
        // One leaves the line (a throttled sign-in drops its admission): room for one more.
        drop(in_line.pop());
        let again = checks.admit().expect("room again");
        // The turn: the first admission's at once; the next one's once it is given back.
        let turn = first.turn().await.expect("the free checker");
        drop(turn);
        let next = again.turn().await.expect("the checker given back");
        drop(next);
        assert_eq!(checks.waiting.load(Ordering::Acquire), MAX_WAITING - 1);
    }
}

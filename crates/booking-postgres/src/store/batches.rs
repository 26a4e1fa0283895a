//! Small statements that many requests make at once, run as one statement per batch.
//!
//! Every tool call claims its key in the tool-call log before it runs and stores its answer
//! after, and every reservation reads its call's bookings first: statements of their own that
//! do almost nothing. When hundreds arrive together (500 callers on one slot), each waits for a
//! pooled connection and a round trip of its own. Here a job joins a queue, and up to
//! [`IN_FLIGHT`] tasks each take what is queued (up to [`BATCH_MAX`]) into one statement, then
//! tell each job its outcome. A job that finds the queue empty and a task free is a batch of
//! one, run at once: nothing waits for a batch to fill, so one request alone pays nothing for
//! this.

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};

use booking_core::ports::{StoreError, StoreResult};
use tokio::sync::oneshot;

/// Batches run at once, each on its own pooled connection.
const IN_FLIGHT: usize = 4;
/// Writes in one statement at most.
const BATCH_MAX: usize = 128;

/// A queue of writes of one kind `J` (each carries the channel its outcome goes back on).
pub(super) struct Batches<J> {
    state: Mutex<State<J>>,
}

struct State<J> {
    queued: Vec<J>,
    running: usize,
}

impl<J: Send + 'static> Default for Batches<J> {
    fn default() -> Self {
        Self {
            state: Mutex::new(State {
                queued: Vec::new(),
                running: 0,
            }),
        }
    }
}

impl<J: Send + 'static> Batches<J> {
    fn lock(&self) -> MutexGuard<'_, State<J>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs the job `make` builds around its reply channel (see [`Self::submit`]) and waits
    /// for what `run` tells it; a batch that ended without answering is `Unavailable`.
    pub(super) async fn ask<T, F, Fut>(
        self: &Arc<Self>,
        make: impl FnOnce(oneshot::Sender<StoreResult<T>>) -> J,
        run: F,
    ) -> StoreResult<T>
    where
        F: Fn(Vec<J>) -> Fut + Clone + Send + 'static,
        Fut: Future<Output = ()> + Send,
    {
        let (reply, told) = oneshot::channel();
        self.submit(make(reply), run).await;
        told.await.unwrap_or_else(|_| {
            Err(StoreError::Unavailable(
                "the batch of this statement ended before it answered".into(),
            ))
        })
    }

    /// Runs `job` with `run`: at once, alone, in the caller's own task while fewer than
    /// [`IN_FLIGHT`] statements of this kind run; otherwise queued, for a task that runs the
    /// queue in batches. `run` answers every job it is given. A caller that goes away while
    /// its job runs alone takes only its own job with it.
    async fn submit<F, Fut>(self: &Arc<Self>, job: J, run: F)
    where
        F: Fn(Vec<J>) -> Fut + Clone + Send + 'static,
        Fut: Future<Output = ()> + Send,
    {
        let alone = {
            let mut s = self.lock();
            let alone = s.running < IN_FLIGHT;
            if alone {
                s.running += 1;
            }
            alone
        };
        if !alone {
            return self.push(job, run);
        }
        let _turn = Alone {
            batches: self.clone(),
            run: run.clone(),
        };
        run(vec![job]).await;
    }

    /// Queues `job`, and starts a task that runs the queue in batches with `run` unless
    /// [`IN_FLIGHT`] statements already run.
    fn push<F, Fut>(self: &Arc<Self>, job: J, run: F)
    where
        F: Fn(Vec<J>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send,
    {
        let start = {
            let mut s = self.lock();
            s.queued.push(job);
            let start = s.running < IN_FLIGHT;
            if start {
                s.running += 1;
            }
            start
        };
        if start {
            self.start_worker(run);
        }
    }

    /// Starts a task on a place already counted in `running`.
    fn start_worker<F, Fut>(self: &Arc<Self>, run: F)
    where
        F: Fn(Vec<J>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send,
    {
        let mut worker = Worker {
            batches: self.clone(),
            done: false,
        };
        // Outside a runtime (a caller's future dropped by a runtime already gone) there is no
        // task to start: the worker's drop gives the place back and the queue to its writers.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            while let Some(batch) = worker.next() {
                run(batch).await;
            }
        });
    }
}

/// A job running alone in its caller's task. When it ends (or its caller goes away), its place
/// passes to a task for what was queued meanwhile, if anything was.
struct Alone<J: Send + 'static, F, Fut>
where
    F: Fn(Vec<J>) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    batches: Arc<Batches<J>>,
    run: F,
}

impl<J: Send + 'static, F, Fut> Drop for Alone<J, F, Fut>
where
    F: Fn(Vec<J>) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    fn drop(&mut self) {
        let pass_on = {
            let mut s = self.batches.lock();
            if s.queued.is_empty() {
                s.running -= 1;
                false
            } else {
                true
            }
        };
        if pass_on {
            self.batches.start_worker(self.run.clone());
        }
    }
}

/// One task running batches.
struct Worker<J> {
    batches: Arc<Batches<J>>,
    /// It found the queue empty and gave its place back.
    done: bool,
}

impl<J: Send + 'static> Worker<J> {
    /// The next batch; `None` when nothing is queued, and the task's place is then given back
    /// under the same lock (a write queued after it starts a task of its own).
    fn next(&mut self) -> Option<Vec<J>> {
        let mut s = self.batches.lock();
        if s.queued.is_empty() {
            s.running -= 1;
            self.done = true;
            return None;
        }
        let n = s.queued.len().min(BATCH_MAX);
        Some(s.queued.drain(..n).collect())
    }
}

/// A task that ends otherwise (a panic, its runtime shutting down) gives its place back too;
/// the last one drops the writes still queued, so that their writers hear of it instead of
/// waiting for ever.
impl<J> Drop for Worker<J> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let mut s = self.batches.state.lock().unwrap_or_else(|p| p.into_inner());
        s.running -= 1;
        if s.running == 0 {
            s.queued.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::sync::{Semaphore, oneshot};

    struct Job(usize, oneshot::Sender<usize>);

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn jobs_alone_run_at_once_and_those_queued_behind_them_go_together() {
        let batches: Arc<Batches<Job>> = Arc::default();
        let gate = Arc::new(Semaphore::new(0));
        let statements = Arc::new(AtomicUsize::new(0));
        let run = {
            let (gate, statements) = (gate.clone(), statements.clone());
            move |jobs: Vec<Job>| {
                let (gate, statements) = (gate.clone(), statements.clone());
                async move {
                    gate.acquire().await.expect("open").forget();
                    statements.fetch_add(1, Ordering::SeqCst);
                    for Job(n, reply) in jobs {
                        let _ = reply.send(n * 10);
                    }
                }
            }
        };
        let mut answers = Vec::new();
        for n in 0..300 {
            let (tx, rx) = oneshot::channel();
            let (batches, run) = (batches.clone(), run.clone());
            tokio::spawn(async move { batches.submit(Job(n, tx), run).await });
            answers.push((n, rx));
        }
        // The first IN_FLIGHT run alone, held at the gate; the others queue behind them.
        while batches.lock().queued.len() < 300 - IN_FLIGHT {
            tokio::task::yield_now().await;
        }
        gate.add_permits(1000);
        for (n, rx) in answers {
            assert_eq!(rx.await.expect("answered"), n * 10);
        }
        let made = statements.load(Ordering::SeqCst);
        // However the tasks and the jobs interleave: no batch over BATCH_MAX, and no more than
        // one part-filled batch per place.
        let queued = 300 - IN_FLIGHT;
        assert!(
            (IN_FLIGHT + queued.div_ceil(BATCH_MAX)..=IN_FLIGHT * 2 + queued.div_ceil(BATCH_MAX))
                .contains(&made),
            "300 jobs in {made} statements"
        );
        while batches.lock().running > 0 {
            tokio::task::yield_now().await;
        }
        assert_eq!(batches.lock().running, 0, "every task gave its place back");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_that_panics_drops_what_is_queued_and_frees_its_place() {
        let batches: Arc<Batches<Job>> = Arc::default();
        let (tx, rx) = oneshot::channel();
        batches.push(Job(1, tx), |_jobs: Vec<Job>| async { panic!("a fault") });
        assert!(rx.await.is_err(), "the writer hears that nothing answered");
        // The place is free again: a later write runs.
        tokio::task::yield_now().await;
        let (tx, rx) = oneshot::channel();
        batches.push(Job(2, tx), |jobs: Vec<Job>| async move {
            for Job(n, reply) in jobs {
                let _ = reply.send(n);
            }
        });
        assert_eq!(rx.await.expect("answered"), 2);
    }
}

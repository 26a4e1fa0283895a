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

    /// Queues `job`, and starts a task that runs the queue in batches with `run` unless
    /// [`IN_FLIGHT`] already do. `run` answers every job it is given.
    pub(super) fn push<F, Fut>(self: &Arc<Self>, job: J, run: F)
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
            let mut worker = Worker {
                batches: self.clone(),
                done: false,
            };
            tokio::spawn(async move {
                while let Some(batch) = worker.next() {
                    run(batch).await;
                }
            });
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
    async fn writes_queued_while_batches_run_go_together_and_each_hears_its_outcome() {
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
            batches.push(Job(n, tx), run.clone());
            answers.push((n, rx));
        }
        gate.add_permits(1000);
        for (n, rx) in answers {
            assert_eq!(rx.await.expect("answered"), n * 10);
        }
        let made = statements.load(Ordering::SeqCst);
        // However the tasks and the writes interleave: no batch over BATCH_MAX, and no more
        // than one part-filled batch per task.
        assert!(
            (300usize.div_ceil(BATCH_MAX)..=300usize.div_ceil(BATCH_MAX) + IN_FLIGHT)
                .contains(&made),
            "300 writes in {made} statements"
        );
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

//! [`Pending`]: the result of work the fake does on its own runtime, to `.await` from any
//! executor or to `.wait()` for from plain threads.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use tokio::sync::oneshot;

use crate::model::FakeError;

/// Work running on the fake's own thread. The work starts when the method that returned this
/// is called, whether or not the `Pending` is ever awaited.
///
/// - In async code: `.await` it. It needs no particular runtime (tokio current-thread or
///   multi-thread, actix, anything): the waiting is on a channel the fake's thread completes.
/// - In sync code: [`Pending::wait`] parks the calling thread until the result is there.
///   Do not `wait()` on a thread that must keep running for the result to come (for example,
///   delivering a callback to an app served by the same current-thread runtime you block).
#[must_use = "the work has started; await or wait() for its result"]
pub struct Pending<T> {
    inner: Inner<T>,
}

enum Inner<T> {
    Ready(Option<Result<T, FakeError>>),
    Waiting(oneshot::Receiver<Result<T, FakeError>>),
}

// No pin projection is ever made into `T`.
impl<T> Unpin for Pending<T> {}

impl<T> Pending<T> {
    pub(crate) fn ready(result: Result<T, FakeError>) -> Self {
        Pending {
            inner: Inner::Ready(Some(result)),
        }
    }

    pub(crate) fn waiting(rx: oneshot::Receiver<Result<T, FakeError>>) -> Self {
        Pending {
            inner: Inner::Waiting(rx),
        }
    }

    /// Blocks the calling thread until the result is there.
    pub fn wait(self) -> Result<T, FakeError> {
        block_on(self)
    }
}

impl<T> Future for Pending<T> {
    type Output = Result<T, FakeError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.get_mut().inner {
            Inner::Ready(result) => Poll::Ready(result.take().unwrap_or(Err(FakeError::Stopped))),
            Inner::Waiting(rx) => match Pin::new(rx).poll(cx) {
                Poll::Ready(Ok(result)) => Poll::Ready(result),
                Poll::Ready(Err(_)) => Poll::Ready(Err(FakeError::Stopped)),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

struct ThreadWaker(std::thread::Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// The smallest executor: poll, park until woken, poll again.
fn block_on<F: Future>(future: F) -> F::Output {
    let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        std::thread::park();
    }
}

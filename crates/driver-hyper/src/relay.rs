//! A connection's waker. hyper's connection and the request on it talk
//! through channels, so polling one wakes the other, and both are polled by
//! the one task that uses the connection ([`Conn::drive`](crate::pool::Conn::drive)).
//! With the task's own waker, each such wake would reschedule the task it
//! is already in, and on a multi-threaded runtime wake another worker to
//! steal it, for nothing. The relay turns a wake from within the task's
//! own poll into another round of that poll, and passes any other wake on.

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

/// Most rounds of one poll; past them the task is woken and yields, as it
/// would without the relay.
const ROUNDS: usize = 4;

pub(crate) struct Relay {
    inner: Arc<Inner>,
    /// `inner`, as the waker the connection and the request are polled with.
    waker: Waker,
}

struct Inner {
    /// The waker of the task polling now, or last.
    task: Mutex<Option<Waker>>,
    /// A poll is under way: a wake is another round, not a wake of the task.
    polling: AtomicBool,
    /// Woken during the poll under way.
    again: AtomicBool,
}

impl Wake for Inner {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.again.store(true, SeqCst);
        // A poll that ends after this store sees it and goes round again;
        // one that ended before it is seen here, and the task is woken.
        if !self.polling.load(SeqCst)
            && let Some(task) = &*self.task.lock().unwrap_or_else(PoisonError::into_inner)
        {
            task.wake_by_ref();
        }
    }
}

impl Relay {
    pub(crate) fn new() -> Relay {
        let inner =
            Arc::new(Inner { task: Mutex::new(None), polling: AtomicBool::new(false), again: AtomicBool::new(false) });
        Relay { waker: Waker::from(inner.clone()), inner }
    }

    /// Polls `f` with the relay's waker, and again while that poll woke it.
    ///
    /// Once `f` is ready the task is forgotten: a wake that comes after it,
    /// or from elsewhere during that last poll, is not passed on. It can only
    /// be the connection's (a request put on it, or its socket ready), and
    /// every use of the connection polls it first.
    pub(crate) fn poll<T>(&self, cx: &mut Context<'_>, mut f: impl FnMut(&mut Context<'_>) -> Poll<T>) -> Poll<T> {
        {
            let mut task = self.inner.task.lock().unwrap_or_else(PoisonError::into_inner);
            if !task.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *task = Some(cx.waker().clone());
            }
        }
        let mut relayed = Context::from_waker(&self.waker);
        for _ in 0..ROUNDS {
            self.inner.polling.store(true, SeqCst);
            self.inner.again.store(false, SeqCst);
            let polled = f(&mut relayed);
            self.inner.polling.store(false, SeqCst);
            if polled.is_ready() {
                *self.inner.task.lock().unwrap_or_else(PoisonError::into_inner) = None;
                return polled;
            }
            if !self.inner.again.swap(false, SeqCst) {
                return polled;
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    /// Counts the wakes of a task.
    #[derive(Default)]
    pub(crate) struct Count(pub(crate) AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, SeqCst);
        }
    }

    #[test]
    fn a_wake_from_within_the_poll_is_another_round_and_one_from_outside_wakes_the_task() {
        let count = Arc::new(Count::default());
        let task = Waker::from(count.clone());
        let mut cx = Context::from_waker(&task);
        let relay = Relay::new();

        // Woken once from within: polled twice, the task never woken.
        let mut rounds = 0;
        let polled = relay.poll(&mut cx, |cx| {
            rounds += 1;
            if rounds == 1 {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            Poll::Ready(())
        });
        assert_eq!((polled, rounds, count.0.load(SeqCst)), (Poll::Ready(()), 2, 0));

        // Pending with the relay's waker kept: a later wake reaches the task.
        let mut kept = None;
        let polled = relay.poll(&mut cx, |cx| {
            kept = Some(cx.waker().clone());
            Poll::<()>::Pending
        });
        assert_eq!((polled, count.0.load(SeqCst)), (Poll::Pending, 0));
        kept.expect("polled").wake();
        assert_eq!(count.0.load(SeqCst), 1);

        // Waking itself every round: after the last round the task is woken to yield.
        let mut rounds = 0;
        let polled = relay.poll(&mut cx, |cx| {
            rounds += 1;
            cx.waker().wake_by_ref();
            Poll::<()>::Pending
        });
        assert_eq!((polled, rounds, count.0.load(SeqCst)), (Poll::Pending, ROUNDS, 2));
    }
}

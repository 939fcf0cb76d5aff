//! Timeouts for backend calls that work under any executor.
//!
//! tokio's timer panics when the runtime was built without `enable_time` (our fuzzer found
//! that), and other executors have none at all; one small thread with a deadline heap needs
//! neither. It only wakes tasks: the work stays on the caller's executor.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use pin_project_lite::pin_project;

struct Timer {
    state: Mutex<State>,
    wakeup: Condvar,
}

#[derive(Default)]
struct State {
    deadlines: BinaryHeap<Reverse<(Instant, u64)>>,
    wakers: HashMap<u64, Waker>,
    next_id: u64,
}

impl Timer {
    /// The process-wide timer, or `None` if its thread could not be started (then calls run
    /// without a timeout rather than fail).
    fn get() -> Option<&'static Timer> {
        static TIMER: OnceLock<Option<&'static Timer>> = OnceLock::new();
        *TIMER.get_or_init(|| {
            let timer: &'static Timer = Box::leak(Box::new(Timer {
                state: Mutex::new(State::default()),
                wakeup: Condvar::new(),
            }));
            std::thread::Builder::new()
                .name("tower-jwt-sessions-timer".into())
                .spawn(move || timer.run())
                .ok()
                .map(|_| timer)
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn run(&self) {
        let mut state = self.lock();
        loop {
            let now = Instant::now();
            let mut due = Vec::new();
            while let Some(&Reverse((deadline, id))) = state.deadlines.peek() {
                if deadline > now {
                    break;
                }
                state.deadlines.pop();
                // Absent when the sleep already finished or was dropped.
                if let Some(waker) = state.wakers.remove(&id) {
                    due.push(waker);
                }
            }
            if !due.is_empty() {
                // Wake outside the lock: a waker may run code that registers a new sleep.
                drop(state);
                due.into_iter().for_each(Waker::wake);
                state = self.lock();
                continue;
            }
            state = match state.deadlines.peek() {
                Some(&Reverse((deadline, _))) => {
                    let wait = deadline.saturating_duration_since(now);
                    self.wakeup
                        .wait_timeout(state, wait)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
                None => self.wakeup.wait(state).unwrap_or_else(|e| e.into_inner()),
            };
        }
    }
}

struct Sleep {
    timer: &'static Timer,
    deadline: Instant,
    id: Option<u64>,
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() >= self.deadline {
            return Poll::Ready(());
        }
        let deadline = self.deadline;
        let mut state = self.timer.lock();
        match self.id {
            Some(id) => {
                state.wakers.insert(id, cx.waker().clone());
            }
            None => {
                let id = state.next_id;
                state.next_id += 1;
                let earliest = state
                    .deadlines
                    .peek()
                    .is_none_or(|Reverse((first, _))| deadline < *first);
                state.deadlines.push(Reverse((deadline, id)));
                state.wakers.insert(id, cx.waker().clone());
                drop(state);
                self.id = Some(id);
                if earliest {
                    self.timer.wakeup.notify_one();
                }
            }
        }
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some(id) = self.id {
            self.timer.lock().wakers.remove(&id);
        }
    }
}

pin_project! {
    /// `future`, or `Err(())` once `timeout` has passed.
    pub(crate) struct Timeout<F> {
        #[pin]
        future: F,
        sleep: Option<Sleep>,
    }
}

pub(crate) fn timeout<F: Future>(timeout: Duration, future: F) -> Timeout<F> {
    let sleep = Timer::get().map(|timer| Sleep {
        timer,
        deadline: Instant::now() + timeout,
        id: None,
    });
    Timeout { future, sleep }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, ()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(output) = this.future.poll(cx) {
            return Poll::Ready(Ok(output));
        }
        match this.sleep {
            Some(sleep) => Pin::new(sleep).poll(cx).map(|()| Err(())),
            None => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<F: Future>(future: F) -> F::Output {
        struct ThreadWaker(std::thread::Thread);
        impl std::task::Wake for ThreadWaker {
            fn wake(self: std::sync::Arc<Self>) {
                self.0.unpark();
            }
        }
        let waker = Waker::from(std::sync::Arc::new(ThreadWaker(std::thread::current())));
        let mut cx = Context::from_waker(&waker);
        let mut future = std::pin::pin!(future);
        loop {
            if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                return output;
            }
            std::thread::park();
        }
    }

    #[test]
    fn times_out_without_any_runtime() {
        let start = Instant::now();
        let result = block_on(timeout(
            Duration::from_millis(50),
            std::future::pending::<()>(),
        ));
        assert_eq!(result, Err(()));
        let elapsed = start.elapsed();
        assert!(elapsed >= Duration::from_millis(50) && elapsed < Duration::from_secs(2));
    }

    #[test]
    fn a_ready_future_wins() {
        assert_eq!(
            block_on(timeout(Duration::from_secs(5), async { 7 })),
            Ok(7)
        );
    }

    #[test]
    fn many_sleeps_in_any_order() {
        let handles: Vec<_> = [120u64, 30, 60, 10, 90]
            .into_iter()
            .map(|ms| {
                std::thread::spawn(move || {
                    let start = Instant::now();
                    let r = block_on(timeout(
                        Duration::from_millis(ms),
                        std::future::pending::<()>(),
                    ));
                    (r, start.elapsed(), ms)
                })
            })
            .collect();
        for handle in handles {
            let (result, elapsed, ms) = handle.join().unwrap();
            assert_eq!(result, Err(()));
            assert!(elapsed >= Duration::from_millis(ms), "{ms}: {elapsed:?}");
        }
    }
}

//! The threads actions run on. A thread is started only when every one
//! started before is busy, so a build whose actions are fresh (a no-op)
//! runs them on as many threads as ran at once, not one thread each.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, PoisonError};

/// One action's work; it reports its own end (see [`super::job`]).
type Job = Box<dyn FnOnce() + Send + 'static>;

/// Threads that take jobs from one queue.
pub(super) struct Pool {
    tx: Sender<Job>,
    rx: Arc<Mutex<Receiver<Job>>>,
    /// Threads waiting for a job that no submitted job has claimed yet.
    idle: Arc<AtomicUsize>,
}

impl Pool {
    /// A pool without threads yet.
    pub(super) fn new() -> Self {
        let (tx, rx) = mpsc::channel();
        Pool {
            tx,
            rx: Arc::new(Mutex::new(rx)),
            idle: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Runs `job` on an idle thread, or on a new one if none is idle. A
    /// submitted job never waits behind another: it claims an idle thread
    /// before it is queued.
    pub(super) fn submit(&self, name: &str, job: Job) -> std::io::Result<()> {
        let claimed = self
            .idle
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .is_ok();
        if !claimed {
            self.spawn(name)?;
        }
        // The receiver lives as long as a thread does, and one is waiting.
        self.tx
            .send(job)
            .map_err(|_| std::io::Error::other("the action threads are gone"))
    }

    fn spawn(&self, name: &str) -> std::io::Result<()> {
        let (rx, idle) = (Arc::clone(&self.rx), Arc::clone(&self.idle));
        std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || loop {
                // The lock is held only while waiting; a job runs unlocked.
                let next = rx.lock().unwrap_or_else(PoisonError::into_inner).recv();
                let Ok(job) = next else { return };
                job();
                idle.fetch_add(1, Ordering::AcqRel);
            })
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Barrier;

    #[test]
    fn jobs_at_once_get_threads_of_their_own_and_later_ones_reuse_them() {
        let pool = Pool::new();
        // Two jobs that only finish together must run at the same time.
        let both = Arc::new(Barrier::new(2));
        let (done_tx, done_rx) = mpsc::channel();
        for _ in 0..2 {
            let (both, done) = (Arc::clone(&both), done_tx.clone());
            let job = move || {
                both.wait();
                done.send(std::thread::current().id()).unwrap();
            };
            pool.submit("t", Box::new(job)).unwrap();
        }
        let first: Vec<_> = (0..2).map(|_| done_rx.recv().unwrap()).collect();
        assert_ne!(first[0], first[1]);
        // Wait until both are idle again, then run ten jobs one by one.
        while pool.idle.load(Ordering::Acquire) < 2 {
            std::thread::yield_now();
        }
        for _ in 0..10 {
            let done = done_tx.clone();
            let job = move || done.send(std::thread::current().id()).unwrap();
            pool.submit("t", Box::new(job)).unwrap();
            let id = done_rx.recv().unwrap();
            assert!(first.contains(&id), "a third thread was started");
            while pool.idle.load(Ordering::Acquire) < 2 {
                std::thread::yield_now();
            }
        }
    }
}

//! Segmentation workers behind a bounded queue: at most `workers + queue` segmentations are ever admitted,
//! and a request beyond that is refused at once (503) instead of piling up images in memory.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

type Job = Box<dyn FnOnce() + Send>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolError {
    /// Every worker is busy and the queue is full.
    Busy,
    /// The job panicked, or the pool is shutting down.
    Failed,
}

#[derive(Debug)]
pub struct WorkerPool {
    sender: SyncSender<Job>,
}

impl WorkerPool {
    pub fn new(workers: usize, queue: usize) -> std::io::Result<Self> {
        let (sender, receiver) = sync_channel::<Job>(queue);
        let receiver = Arc::new(Mutex::new(receiver));
        for i in 0..workers.max(1) {
            let receiver = receiver.clone();
            std::thread::Builder::new().name(format!("segment-{i}")).spawn(move || work(&receiver))?;
        }
        Ok(WorkerPool { sender })
    }

    /// Runs `f` on a worker and waits for its result without blocking the async runtime.
    pub async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T, PoolError> {
        self.submit(f)?.await.map_err(|_| PoolError::Failed)
    }

    /// Queues `f` (or refuses it at once); the receiver yields its result.
    pub fn submit<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<oneshot::Receiver<T>, PoolError> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            // The requester may have timed out and gone; nobody is left to tell.
            let _ = tx.send(f());
        });
        match self.sender.try_send(job) {
            Ok(()) => Ok(rx),
            Err(TrySendError::Full(_)) => Err(PoolError::Busy),
            Err(TrySendError::Disconnected(_)) => Err(PoolError::Failed),
        }
    }
}

fn work(receiver: &Mutex<Receiver<Job>>) {
    loop {
        // The lock is held only while waiting for the next job, never while running one.
        let job = match receiver.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        // A panicking job drops its result sender (the request gets an error); the worker lives on.
        if std::panic::catch_unwind(AssertUnwindSafe(job)).is_err() {
            tracing::error!("a segmentation job panicked");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[tokio::test]
    async fn refuses_jobs_beyond_workers_plus_queue() {
        let pool = WorkerPool::new(1, 2).unwrap();
        let release = Arc::new(AtomicBool::new(false));
        let started = Arc::new(AtomicBool::new(false));
        let blocker = {
            let (release, started) = (release.clone(), started.clone());
            move || {
                started.store(true, Ordering::SeqCst);
                while !release.load(Ordering::SeqCst) {
                    std::thread::yield_now();
                }
                7
            }
        };
        let mut admitted = vec![pool.submit(blocker).unwrap()];
        // The first job must occupy the worker before the queue is filled behind it.
        while !started.load(Ordering::SeqCst) {
            std::thread::yield_now();
        }
        admitted.push(pool.submit(|| 8).unwrap());
        admitted.push(pool.submit(|| 9).unwrap());
        assert_eq!(pool.submit(|| 0).err(), Some(PoolError::Busy));
        release.store(true, Ordering::SeqCst);
        let mut results = Vec::new();
        for rx in admitted {
            results.push(rx.await.unwrap());
        }
        assert_eq!(results, [7, 8, 9]);
        assert_eq!(pool.run(|| 1).await, Ok(1));
    }

    #[tokio::test]
    async fn a_panicking_job_fails_alone() {
        let pool = WorkerPool::new(1, 1).unwrap();
        assert_eq!(pool.run(|| -> i32 { panic!("boom") }).await, Err(PoolError::Failed));
        assert_eq!(pool.run(|| 2).await, Ok(2));
    }
}

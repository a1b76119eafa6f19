//! Work too long for an async worker (compressing a large body when it is
//! stored, decompressing one for a client that does not take its coding)
//! runs on the cache's own codec threads.
//!
//! Why not tokio's blocking pool: its threads run at the async workers'
//! priority, and it grows a thread per waiting job. A burst of large
//! misses then puts as many compressions beside the workers on every
//! core, and the operating system gives each an equal share: hits wait
//! their turn behind megabytes of gzip. The codec threads are as many as
//! the cores (at most 8), and on Linux they run at a lower priority (nice
//! 10, about a tenth of a worker's share when both want a core), so a hit
//! preempts a compression and large misses use the CPU the hits leave.

use std::panic::AssertUnwindSafe;
use std::sync::{mpsc, Arc, Mutex, OnceLock};

/// The nice value of the codec threads (Linux).
const CODEC_NICE: i32 = 10;

/// At most this many codec threads.
const MAX_THREADS: usize = 8;

type Job = Box<dyn FnOnce() + Send>;

/// Where jobs go; `None` when no thread could be started.
fn pool() -> Option<&'static mpsc::Sender<Job>> {
    static POOL: OnceLock<Option<mpsc::Sender<Job>>> = OnceLock::new();
    POOL.get_or_init(|| {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        let threads = std::thread::available_parallelism()
            .map_or(1, std::num::NonZeroUsize::get)
            .min(MAX_THREADS);
        let started = (0..threads)
            .filter(|i| {
                let queue = Arc::clone(&queue);
                std::thread::Builder::new()
                    .name(format!("route-cache-codec-{i}"))
                    .spawn(move || run(&queue))
                    .is_ok()
            })
            .count();
        (started > 0).then_some(jobs)
    })
    .as_ref()
}

/// A codec thread: lowers its priority, then runs jobs until the process
/// ends. A job that panics loses its result (its caller hears `None`),
/// not the thread.
fn run(queue: &Mutex<mpsc::Receiver<Job>>) {
    lower_priority();
    loop {
        let job = match queue.lock() {
            Ok(queue) => queue.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
    }
}

/// Raises this thread's nice value to [`CODEC_NICE`] (never lowers it).
#[cfg(target_os = "linux")]
fn lower_priority() {
    // SAFETY: `gettid`, `getpriority` and `setpriority` take and return
    // plain integers and touch no memory of ours; on Linux the priority of
    // `PRIO_PROCESS` with a thread id is that thread's alone.
    let result = unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        let now = libc::getpriority(libc::PRIO_PROCESS, tid);
        if now >= CODEC_NICE {
            0
        } else {
            libc::setpriority(libc::PRIO_PROCESS, tid, CODEC_NICE)
        }
    };
    if result != 0 {
        tracing::debug!(
            error = %std::io::Error::last_os_error(),
            "route cache: codec thread keeps its priority"
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

/// `work`'s result, computed on a codec thread when `offload` holds and a
/// tokio runtime is running, else here; `None` when it panicked on a codec
/// thread.
pub(crate) async fn off_worker<T, F>(offload: bool, work: F) -> Option<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    if !offload || tokio::runtime::Handle::try_current().is_err() {
        return Some(work());
    }
    let Some(jobs) = pool() else {
        return tokio::task::spawn_blocking(work).await.ok();
    };
    let (done, result) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        let _ = done.send(work());
    });
    if let Err(mpsc::SendError(job)) = jobs.send(job) {
        // No codec thread is left (they never end, but should they).
        tokio::task::spawn_blocking(job);
    }
    result.await.ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn large_work_runs_on_a_codec_thread() {
        let here = std::thread::current().id();
        let away = off_worker(true, || std::thread::current().name().map(str::to_owned)).await;
        assert!(
            away.flatten()
                .is_some_and(|name| name.starts_with("route-cache-codec-")),
            "on a codec thread"
        );
        let inline = off_worker(false, || std::thread::current().id()).await;
        assert_eq!(inline, Some(here), "small work stays inline");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_panicking_job_loses_its_result_not_the_thread() {
        let lost: Option<()> = off_worker(true, || panic!("a corrupt body")).await;
        assert!(lost.is_none());
        assert_eq!(off_worker(true, || 2 + 2).await, Some(4));
    }

    #[cfg(target_os = "linux")]
    #[tokio::test(flavor = "current_thread")]
    async fn codec_threads_run_below_the_workers() {
        // SAFETY: as in `lower_priority`.
        let nice = off_worker(true, || unsafe {
            libc::getpriority(
                libc::PRIO_PROCESS,
                libc::syscall(libc::SYS_gettid) as libc::id_t,
            )
        })
        .await;
        assert!(nice.is_some_and(|n| n >= CODEC_NICE), "{nice:?}");
    }
}

//! The job runner every target renders its artifacts with: on one thread
//! for a small stack, on up to [`MAX_RENDER_THREADS`] for a large one.
//!
//! Input: the jobs, their rank and how to render one. Output: the
//! artifacts, in job order. Invariant: the artifacts and the error reported
//! (the first job's that failed) never depend on timing.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use super::EmitError;
use crate::artifact::Artifact;

/// Most threads one compile renders with: past the few artifacts that loop
/// over every service, more threads find nothing to do.
pub const MAX_RENDER_THREADS: usize = 4;

/// Fewest services for which rendering on several threads may pay. Measured
/// on a 2-vCPU VM since the Compose templates are compiled in: neutral at
/// 1,000 services (17.6 vs 17.6 ms), 10% saved at 10,000 (175 vs 193 ms,
/// parse threads included).
pub const PARALLEL_RENDER_SERVICES: usize = 500;

/// Renders the jobs on `threads` threads, each taking the next job as it
/// finishes one, lowest `rank` first (a target ranks its longest renders,
/// the ones that loop over every service, first). Artifacts come back in
/// job order, and the error reported is the first job's that failed, so
/// the outcome never depends on timing.
pub fn run<J: Sync>(
    jobs: &[J],
    rank: impl Fn(&J) -> usize,
    render: impl Fn(&J) -> Result<Artifact, EmitError> + Sync,
    threads: usize,
) -> Result<Vec<Artifact>, EmitError> {
    let mut order: Vec<usize> = (0..jobs.len()).collect();
    order.sort_by_key(|&index| rank(&jobs[index]));
    let done: Vec<OnceLock<Result<Artifact, EmitError>>> = jobs.iter().map(|_| OnceLock::new()).collect();
    let next = AtomicUsize::new(0);
    let work = || {
        while let Some(&index) = order.get(next.fetch_add(1, Ordering::Relaxed)) {
            let _ = done[index].set(render(&jobs[index]));
        }
    };
    let threads = threads.min(jobs.len());
    std::thread::scope(|scope| {
        for _ in 1..threads {
            scope.spawn(work);
        }
        work();
    });
    done.into_iter().map(|artifact| artifact.into_inner().expect("every job ran")).collect()
}

/// How many threads render a stack of this many services.
pub fn threads(services: usize) -> usize {
    if services < PARALLEL_RENDER_SERVICES {
        1
    } else {
        crate::threads(MAX_RENDER_THREADS)
    }
}

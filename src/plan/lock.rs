//! One writer per output directory at a time: `compile` and `rotate` hold an
//! exclusive lock (`flock`) on the output directory itself from before they
//! read it until after their last rename, so that two runs never interleave
//! (files of two versions, a comparison made stale by the other run, one run
//! removing the other's temporary files).
//!
//! A run that finds the lock held waits for it, saying so once, up to a
//! timeout (then E0606). The directory itself is locked, not a lock file in
//! it: nothing is left behind, nothing can be planted at a lock file's name,
//! and every run locks the same inode. The lock goes with the process (the
//! kernel releases a `flock` when its descriptor is closed, also on a crash
//! or `kill -9`).

use crate::diag::{Code, Diagnostic};
use std::fs;
use std::io::{self, ErrorKind};
use std::path::Path;
use std::time::{Duration, Instant};

use super::disk;

/// How long a run waits for another to finish by default; `RAGC_LOCK_TIMEOUT`
/// (seconds) changes it in the CLI.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(60);

/// The held lock; released when dropped.
#[derive(Debug)]
pub struct DirLock {
    _file: fs::File,
}

/// Locks `out_dir` for writing, creating it if needed.
/// Calls `waiting` once if another run holds the lock, then retries until
/// `wait` has passed.
///
/// # Errors
/// The directory is a link or can't be created (E0603), or another run
/// held the lock for longer than `wait` (E0606).
pub fn lock(out_dir: &Path, wait: Duration, waiting: impl FnOnce()) -> Result<DirLock, Diagnostic> {
    let unusable = |e: io::Error| {
        disk::environment_error(
            out_dir,
            format!("can't use the output directory {}: {e}", out_dir.display()),
            "check the permissions of the output directory, or choose another with -o",
        )
    };
    let plain: std::path::PathBuf = out_dir.components().collect();
    match fs::symlink_metadata(&plain) {
        Ok(meta) if meta.file_type().is_symlink() => return Err(disk::out_dir_is_a_link(out_dir)),
        Ok(meta) if !meta.is_dir() => {
            return Err(disk::environment_error(
                out_dir,
                format!("the output directory {} is not a directory", out_dir.display()),
                "choose another output directory with -o, or move the file away",
            ))
        }
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => fs::create_dir_all(out_dir).map_err(unusable)?,
        Err(e) => return Err(unusable(e)),
    }
    let mut options = fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // The directory checked above, not a link swapped in since.
        options.custom_flags(libc::O_NOFOLLOW | libc::O_DIRECTORY);
    }
    let file = options.open(&plain).map_err(unusable)?;
    let start = Instant::now();
    let mut waiting = Some(waiting);
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(DirLock { _file: file }),
            Err(fs::TryLockError::WouldBlock) => {}
            Err(fs::TryLockError::Error(e)) => return Err(unusable(e)),
        }
        if let Some(waiting) = waiting.take() {
            waiting();
        }
        if start.elapsed() >= wait {
            return Err(Diagnostic::at_path(
                Code::E0606,
                format!("another ragc has been writing to {} for over {} s", out_dir.display(), wait.as_secs()),
                out_dir.display().to_string(),
                format!(
                    "wait for it to finish and run the command again (`fuser -v {}` shows the process), or set RAGC_LOCK_TIMEOUT to wait longer (seconds)",
                    out_dir.display()
                ),
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_waits_then_times_out_and_a_released_one_is_free() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("deploy");
        let held = lock(&out, Duration::ZERO, || panic!("free")).unwrap();
        let mut told = false;
        let error = lock(&out, Duration::from_millis(120), || told = true).unwrap_err();
        assert!(told);
        assert_eq!(error.code, Code::E0606);
        drop(held);
        lock(&out, Duration::ZERO, || panic!("released")).unwrap();
    }
}

//! Applies a comparison of a plan with the output directory: the only code
//! in ragc that changes files.
//!
//! Invariants:
//! - A file ragc did not generate, or generated and someone edited, is never
//!   replaced or removed without `--force`, and `--force` first keeps a copy.
//! - All or nothing: every file is first staged (written in full to a
//!   temporary file next to its target, synced), then all are renamed into
//!   place. A failure while staging changes nothing; a failure while renaming
//!   puts back every file already renamed. A crash at any moment leaves each
//!   file wholly old or wholly new (rename is atomic); the next compile
//!   (or rotate) removes the temporary files such a crash leaves behind,
//!   even when it has nothing else to do.
//! - The CLI calls [`apply`] holding the output directory's lock
//!   ([`super::lock`]), so that the temporary files it finds are never those
//!   of a run still going.

use std::fs;
use std::io::{self, ErrorKind, Write as _};
use std::path::{Path, PathBuf};

use tempfile::TempPath;

use super::disk::{self, Change, Changes, Status, BACKUP_PREFIX, KEEP_SUFFIX, MANIFEST, TEMP_PREFIX};
use crate::diag::Diagnostic;

/// Staged files are written in blocks of this size, so that a fault can
/// strike in the middle of a file.
const BLOCK: usize = 1024;

/// The writer's fault-injection seam: tests make the disk fill up or a
/// rename fail (or the process die) at a chosen point. Production code uses [`NoFaults`].
pub trait Faults {
    /// Before each block of a staged file is written, at byte `offset` of
    /// `target`; an error stands for a full disk or a failing device.
    fn before_write(&mut self, _target: &Path, _offset: usize) -> io::Result<()> {
        Ok(())
    }

    /// Before the `index`-th staged operation (in order) is committed to
    /// `target`; an error stands for a rename or removal that fails.
    fn before_commit(&mut self, _index: usize, _target: &Path) -> io::Result<()> {
        Ok(())
    }
}

/// The disk as it is.
pub struct NoFaults;

impl Faults for NoFaults {}

/// What a successful write did, paths relative to the output directory.
#[derive(Debug, Default, Clone)]
pub struct Applied {
    pub created: Vec<String>,
    pub updated: Vec<String>,
    pub removed: Vec<String>,
    /// Copies kept by `--force` of what it replaced or removed.
    pub kept: Vec<String>,
    pub unchanged: usize,
}

/// Why nothing was written.
#[derive(Debug)]
pub enum WriteError {
    /// Files edited by hand or not made by ragc, and no `--force` (E0601, E0602).
    Refused(Vec<Diagnostic>),
    /// The output directory or the machine failed (E0603); nothing changed.
    Failed(Vec<Diagnostic>),
}

/// One step of the commit, staged in full beforehand.
enum Op {
    /// Rename `temp` to `target`; `backup` links to the file it replaces.
    Put { temp: TempPath, target: PathBuf, backup: Option<TempPath>, exclusive: bool },
    /// Remove `target`; `backup` links to it.
    Delete { target: PathBuf, backup: TempPath },
}

impl Op {
    fn target(&self) -> &Path {
        match self {
            Op::Put { target, .. } | Op::Delete { target, .. } => target,
        }
    }
}

/// Applies `changes` (from [`disk::compare`]). With `force`, hand-edited and
/// foreign files are replaced or removed too, each first kept as
/// `<path>.ragc-keep` (or `.ragc-keep.1`, ...).
///
/// # Errors
/// See [`WriteError`]; on any error, nothing under the output directory
/// changed (apart from removing temporary files of an earlier crash).
pub fn apply(changes: &Changes, force: bool, faults: &mut dyn Faults) -> Result<Applied, WriteError> {
    let refusals = changes.refusals();
    if !force && !refusals.is_empty() {
        return Err(WriteError::Refused(refusals));
    }
    let out_dir = &changes.out_dir;
    let mut applied = Applied::default();
    let mut pending: Vec<&Change> = changes.changes.iter().filter(|c| c.status != Status::Unchanged).collect();
    applied.unchanged = changes.changes.len() - pending.len();
    // Also when nothing else changes: a killed run's leftovers (a staged
    // file, a link to a secret rotated since) go on the next run.
    clean_scratch(out_dir);
    // The manifest last: it lists what the renames before it put in place.
    pending.extend(changes.manifest.as_ref());
    if pending.is_empty() {
        mark_current(changes);
        return Ok(applied);
    }

    let mut created_dirs = Vec::new();
    let mut ops = Vec::new();
    if let Err(problem) = stage(out_dir, &pending, faults, &mut created_dirs, &mut ops, &mut applied) {
        drop(ops);
        remove_dirs(&created_dirs);
        return Err(WriteError::Failed(vec![problem]));
    }
    let mut done: Vec<Done> = Vec::new();
    for (index, op) in ops.into_iter().enumerate() {
        let target = op.target().to_path_buf();
        match faults.before_commit(index, &target).and_then(|()| commit(op)) {
            Ok(step) => done.push(step),
            Err(error) => {
                let stranded = rollback(done);
                remove_dirs(&created_dirs);
                let mut problem = io_problem(&target, "can't move the new file into place", &error);
                if !stranded.is_empty() {
                    let list: Vec<String> = stranded.iter().map(|p| p.display().to_string()).collect();
                    problem.help = vec![format!("some old files could not be put back; they are kept as {}", list.join(", "))];
                }
                return Err(WriteError::Failed(vec![problem]));
            }
        }
    }
    // Renames, and the directories created for them, last only once their directory is synced.
    let parents = done.iter().map(Done::target).chain(created_dirs.iter().map(PathBuf::as_path));
    let mut dirs: Vec<PathBuf> = parents.filter_map(|path| path.parent().map(Path::to_path_buf)).collect();
    dirs.sort();
    dirs.dedup();
    for dir in &dirs {
        sync_dir(dir);
    }
    // The old files go only now, with the links that kept them.
    drop(done);
    for path in &applied.removed {
        remove_empty_parents(out_dir, path);
    }
    mark_current(changes);
    Ok(applied)
}

/// Writes every new file, kept copy and rollback link; touches no target.
fn stage(
    out_dir: &Path,
    pending: &[&Change],
    faults: &mut dyn Faults,
    created_dirs: &mut Vec<PathBuf>,
    ops: &mut Vec<Op>,
    applied: &mut Applied,
) -> Result<(), Diagnostic> {
    for change in pending {
        let target = out_dir.join(&change.path);
        let dir = target.parent().unwrap_or(out_dir).to_path_buf();
        ensure_dir(&dir, created_dirs).map_err(|e| io_problem(&dir, "can't create the directory", &e))?;
        if dir == out_dir.join(super::SECRETS_DIR) {
            make_private(&dir).map_err(|e| io_problem(&dir, "can't make the secrets directory private (0700)", &e))?;
        }
        if change.status.blocks() || change.keep {
            let keep = keep_path(&target).map_err(|e| io_problem(&target, "can't choose a name for the kept copy", &e))?;
            let old = change.old.as_deref().unwrap_or_default();
            // The copy may hold secrets or private edits: only its owner reads it.
            let temp = staged_file(&dir, &keep, old, 0o600, faults).map_err(|e| io_problem(&keep, "can't keep a copy", &e))?;
            ops.push(Op::Put { temp, target: keep.clone(), backup: None, exclusive: true });
            applied.kept.push(relative(out_dir, &keep));
        }
        let backup = match &change.old {
            Some(old) => Some(backup(&target, &dir, old, change.old_mode)?),
            None => None,
        };
        match &change.new {
            Some(new) => {
                let temp =
                    staged_file(&dir, &target, new.as_bytes(), change.mode, faults).map_err(|e| io_problem(&target, "can't write", &e))?;
                let exclusive = backup.is_none();
                ops.push(Op::Put { temp, target, backup, exclusive });
                match change.status {
                    // Bookkeeping, not an artifact: not reported.
                    _ if change.path == MANIFEST => {}
                    Status::Create => applied.created.push(change.path.clone()),
                    _ => applied.updated.push(change.path.clone()),
                }
            }
            None => {
                let backup = backup.expect("a removal concerns an existing file");
                ops.push(Op::Delete { target, backup });
                applied.removed.push(change.path.clone());
            }
        }
    }
    Ok(())
}

/// `bytes` in a synced temporary file in `dir`, with `mode`, ready to be renamed to `target`.
fn staged_file(dir: &Path, target: &Path, bytes: &[u8], mode: u32, faults: &mut dyn Faults) -> io::Result<TempPath> {
    // Created 0600, so that secrets are never readable by others, even for a moment.
    let mut temp = tempfile::Builder::new().prefix(TEMP_PREFIX).tempfile_in(dir)?;
    for (index, block) in bytes.chunks(BLOCK).enumerate() {
        faults.before_write(target, index * BLOCK)?;
        temp.write_all(block)?;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(temp.path(), fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    temp.as_file().sync_all()?;
    Ok(temp.into_temp_path())
}

/// A second name for the file at `target`, so that it can be put back. A
/// hard link costs no space; where links aren't supported, a copy. Fails
/// when the file no longer holds the bytes the comparison read: someone
/// changed it meanwhile, and what they wrote must not be lost.
fn backup(target: &Path, dir: &Path, old: &[u8], old_mode: Option<u32>) -> Result<TempPath, Diagnostic> {
    let failed = |e: io::Error| io_problem(target, "can't keep the old file while writing", &e);
    let linked = tempfile::Builder::new().prefix(BACKUP_PREFIX).make_in(dir, |path| fs::hard_link(target, path));
    let path = match linked {
        Ok(file) => file.into_temp_path(),
        Err(_) => {
            let mut temp = tempfile::Builder::new().prefix(BACKUP_PREFIX).tempfile_in(dir).map_err(failed)?;
            temp.write_all(&fs::read(target).map_err(failed)?).map_err(failed)?;
            #[cfg(unix)]
            if let Some(mode) = old_mode {
                use std::os::unix::fs::PermissionsExt;
                fs::set_permissions(temp.path(), fs::Permissions::from_mode(mode)).map_err(failed)?;
            }
            temp.as_file().sync_all().map_err(failed)?;
            temp.into_temp_path()
        }
    };
    #[cfg(not(unix))]
    let _ = old_mode;
    if fs::read(&path).map_err(failed)? != old {
        return Err(disk::environment_error(
            target,
            format!("{} changed while ragc was running", target.display()),
            "nothing was changed: run the command again",
        ));
    }
    Ok(path)
}

/// A committed operation, with what it takes to undo it.
enum Done {
    Put { target: PathBuf, backup: Option<TempPath> },
    Delete { target: PathBuf, backup: TempPath },
}

impl Done {
    fn target(&self) -> &Path {
        match self {
            Done::Put { target, .. } | Done::Delete { target, .. } => target,
        }
    }
}

fn commit(op: Op) -> io::Result<Done> {
    match op {
        Op::Put { temp, target, backup, exclusive } => {
            if exclusive {
                temp.persist_noclobber(&target).map_err(|e| e.error)?;
            } else {
                temp.persist(&target).map_err(|e| e.error)?;
            }
            Ok(Done::Put { target, backup })
        }
        Op::Delete { target, backup } => {
            fs::remove_file(&target)?;
            Ok(Done::Delete { target, backup })
        }
    }
}

/// Puts back every committed operation, newest first. Returns where old
/// files that could not be put back are kept instead (`.ragc-keep`), since
/// they are then the only copy.
fn rollback(done: Vec<Done>) -> Vec<PathBuf> {
    let mut stranded = Vec::new();
    for op in done.into_iter().rev() {
        let (target, backup) = match op {
            Done::Put { target, backup: None } => {
                let _ = fs::remove_file(&target);
                continue;
            }
            Done::Put { target, backup: Some(backup) } | Done::Delete { target, backup } => (target, backup),
        };
        if let Err(error) = backup.persist(&target) {
            let backup = error.path;
            if let Ok(keep) = keep_path(&target) {
                if fs::rename(&backup, &keep).is_ok() {
                    let _ = backup.keep();
                    stranded.push(keep);
                }
            }
        }
    }
    stranded
}

/// The secret files that hold what the env file says get its time when it
/// is newer (it was saved with no value changed): `ops/deploy` takes an env
/// file newer than every secret file for one changed since the last
/// compile. Their bytes are not touched; a file that can't be marked stays
/// as it was, and the deploy says so.
fn mark_current(changes: &Changes) {
    let env = changes.out_dir.join(".env.production");
    let Ok(env_time) = fs::metadata(&env).and_then(|meta| meta.modified()) else { return };
    for change in changes.changes.iter().filter(|c| c.hidden && c.status == Status::Unchanged) {
        let path = changes.out_dir.join(&change.path);
        let older = fs::metadata(&path).and_then(|meta| meta.modified()).is_ok_and(|time| time < env_time);
        if older {
            let _ = fs::File::open(&path).and_then(|file| file.set_modified(env_time));
        }
    }
}

fn ensure_dir(dir: &Path, created: &mut Vec<PathBuf>) -> io::Result<()> {
    let mut missing = Vec::new();
    let mut current = Some(dir);
    while let Some(path) = current {
        match fs::symlink_metadata(path) {
            Ok(meta) if meta.is_dir() || fs::metadata(path).is_ok_and(|m| m.is_dir()) => break,
            Ok(_) => return Err(io::Error::new(ErrorKind::NotADirectory, format!("{} is not a directory", path.display()))),
            Err(e) if e.kind() == ErrorKind::NotFound => missing.push(path.to_path_buf()),
            Err(e) => return Err(e),
        }
        current = path.parent().filter(|p| !p.as_os_str().is_empty());
    }
    for path in missing.into_iter().rev() {
        create_dir(&path)?;
        created.push(path);
    }
    Ok(())
}

/// The secrets directory is created 0700 from the start (its files are
/// readable by anyone who can reach them: the containers' users need to).
#[cfg(unix)]
fn create_dir(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    let private = path.file_name().is_some_and(|name| name == super::SECRETS_DIR);
    fs::DirBuilder::new().mode(if private { 0o700 } else { 0o777 }).create(path)
}

#[cfg(not(unix))]
fn create_dir(path: &Path) -> io::Result<()> {
    fs::create_dir(path)
}

/// A secrets directory made by someone else gets 0700 too, whatever it had.
#[cfg(unix)]
fn make_private(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
}

#[cfg(not(unix))]
fn make_private(_: &Path) -> io::Result<()> {
    Ok(())
}

fn remove_dirs(created: &[PathBuf]) {
    for dir in created.iter().rev() {
        let _ = fs::remove_dir(dir);
    }
}

/// Directories a removal emptied go too, up to (not including) the output directory.
fn remove_empty_parents(out_dir: &Path, relative: &str) {
    let mut path = out_dir.join(relative);
    while let Some(parent) = path.parent() {
        if parent == out_dir || !parent.starts_with(out_dir) || fs::remove_dir(parent).is_err() {
            break;
        }
        path = parent.to_path_buf();
    }
}

/// `<target>.ragc-keep`, or the first free `.ragc-keep.N`.
fn keep_path(target: &Path) -> io::Result<PathBuf> {
    let base = format!("{}{KEEP_SUFFIX}", target.display());
    for n in 0..1000 {
        let candidate = PathBuf::from(if n == 0 { base.clone() } else { format!("{base}.{n}") });
        match fs::symlink_metadata(&candidate) {
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(candidate),
            Err(e) => return Err(e),
            Ok(_) => {}
        }
    }
    Err(io::Error::new(ErrorKind::AlreadyExists, "1000 kept copies already exist"))
}

/// Temporary files and rollback links left by a compile that was killed:
/// each link is either the target itself or the version a completed rename replaced.
fn clean_scratch(out_dir: &Path) {
    let mut dirs = vec![out_dir.to_path_buf()];
    if let Ok(entries) = fs::read_dir(out_dir) {
        dirs.extend(entries.filter_map(Result::ok).filter(|e| e.file_type().is_ok_and(|t| t.is_dir())).map(|e| e.path()));
    }
    for dir in dirs {
        let Ok(entries) = fs::read_dir(&dir) else { continue };
        for entry in entries.filter_map(Result::ok) {
            let name = entry.file_name().to_string_lossy().into_owned();
            if (name.starts_with(TEMP_PREFIX) || name.starts_with(BACKUP_PREFIX)) && entry.file_type().is_ok_and(|t| t.is_file()) {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
}

/// Makes the renames in `dir` durable.
fn sync_dir(dir: &Path) {
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    #[cfg(unix)]
    if let Ok(handle) = fs::File::open(dir) {
        let _ = handle.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

fn relative(out_dir: &Path, path: &Path) -> String {
    path.strip_prefix(out_dir).unwrap_or(path).to_string_lossy().replace('\\', "/")
}

/// An IO error as a diagnostic, named for what the user can do about it.
fn io_problem(path: &Path, doing: &str, error: &io::Error) -> Diagnostic {
    let (what, help) = match error.kind() {
        ErrorKind::StorageFull | ErrorKind::QuotaExceeded => {
            ("the disk is full".to_string(), "free some space, then run the command again; nothing was changed")
        }
        ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem => (
            error.to_string(),
            "ragc can't write here: check the output directory's permissions, or choose another with -o; nothing was changed",
        ),
        ErrorKind::NotADirectory => (error.to_string(), "move the file away: ragc needs a directory there; nothing was changed"),
        _ => (error.to_string(), "nothing was changed; fix the cause and run the command again"),
    };
    disk::environment_error(path, format!("{doing} {}: {what}", path.display()), help)
}

//! Reading a stack from disk: the stack file, the user's kind files
//! (`kinds/*.rag` next to it) and their templates (`kinds/<kind>/*.j2`).
//!
//! Invariant: under `kinds/` only regular files and real directories are
//! read. A symbolic link or a special file (FIFO, device, socket) where a
//! kind file, a kind's template directory or a template is expected is
//! refused (E0005) before anything is read from it: a link could pull in
//! any file the user can read (`/proc/self/environ`, a key) and a FIFO
//! would block the compile forever.

use crate::diag::Code;
use std::fs;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;

/// Templates a user keeps next to their kinds, by template name (`kinds/minio/backup.sh.j2`).
pub type UserTemplates = IndexMap<String, String>;

/// Everything a compile reads, in memory.
#[derive(Debug, Clone, Default)]
pub struct Input {
    /// The stack file's path as the user gave it, for diagnostics.
    pub stack_name: String,
    pub stack_text: String,
    /// User kind files: (display path, text), in path order.
    pub kinds: Vec<(String, String)>,
    pub templates: UserTemplates,
    /// Byte offset of the first invalid UTF-8 sequence in the stack file
    /// (whose text then holds a lossy copy), so that it gets a diagnostic with a caret.
    pub invalid_utf8_at: Option<usize>,
}

/// A stack or kind file that could not be read.
#[derive(Debug)]
pub struct InputError {
    /// E0002 (can't be read as a stack) or E0005 (not a regular file).
    pub code: Code,
    pub path: PathBuf,
    pub message: String,
    pub help: Option<String>,
}

impl InputError {
    fn new(path: &Path, message: impl Into<String>) -> Self {
        InputError { code: Code::E0002, path: path.to_path_buf(), message: message.into(), help: None }
    }

    /// A link or special file where ragc reads a kind file or template.
    fn not_regular(path: &Path, what: &str) -> Self {
        InputError {
            code: Code::E0005,
            path: path.to_path_buf(),
            message: format!("is {what}, not a regular file"),
            help: Some(
                "ragc reads only regular files and directories under kinds/: replace the link by a copy of the file it points to, or remove it"
                    .into(),
            ),
        }
    }
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A file name can hold any byte but `/` and NUL: terminal escapes are shown, not sent.
        write!(f, "{}: {}", crate::diag::escape_controls(&self.path.display().to_string()), self.message)
    }
}

/// What a directory entry is, without following links: the words for E0005.
fn special_kind(kind: fs::FileType) -> Option<&'static str> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return Some("a FIFO (named pipe)");
        }
        if kind.is_socket() {
            return Some("a socket");
        }
        if kind.is_block_device() || kind.is_char_device() {
            return Some("a device");
        }
    }
    if kind.is_symlink() {
        Some("a symbolic link")
    } else if kind.is_file() || kind.is_dir() {
        None
    } else {
        Some("a special file")
    }
}

/// Opens a file under `kinds/` for reading only if it is a regular file:
/// never through a link at its last component (`O_NOFOLLOW`), never
/// blocking on a FIFO (`O_NONBLOCK`), and checked on the opened handle, so
/// that a file swapped in after the directory was listed is caught too.
fn open_regular(path: &Path) -> Result<fs::File, InputError> {
    let mut options = fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    let file = match options.open(path) {
        Ok(file) => file,
        #[cfg(unix)]
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return Err(InputError::not_regular(path, "a symbolic link")),
        Err(e) => return Err(InputError::new(path, e.to_string())),
    };
    let kind = file.metadata().map_err(|e| InputError::new(path, e.to_string()))?.file_type();
    match special_kind(kind) {
        None if kind.is_file() => Ok(file),
        None => Err(InputError::not_regular(path, "a directory")),
        Some(what) => Err(InputError::not_regular(path, what)),
    }
}

/// The bytes of a file, reading at most one byte past the size limit so that
/// `/dev/zero` or a growing log is refused instead of filling memory.
fn read_bytes(path: &Path) -> Result<Vec<u8>, InputError> {
    let file = fs::File::open(path).map_err(|e| InputError::new(path, e.to_string()))?;
    read_limited(path, file)
}

fn read_limited(path: &Path, mut file: fs::File) -> Result<Vec<u8>, InputError> {
    let error = |e: std::io::Error| InputError::new(path, e.to_string());
    let limit = crate::syntax::MAX_SOURCE_BYTES;
    // Sized from the metadata when it has one (not a pipe or /dev/zero): no doubling copies.
    let expected = file.metadata().map_or(0, |meta| meta.len()).min(limit as u64 + 1);
    let mut bytes = Vec::with_capacity(usize::try_from(expected).unwrap_or(0));
    file.by_ref().take(limit as u64 + 1).read_to_end(&mut bytes).map_err(error)?;
    if bytes.len() > limit {
        return Err(InputError::new(path, format!("file is too large (more than {limit} bytes, the limit)")));
    }
    Ok(bytes)
}

/// A kind file or template: a regular file, UTF-8.
fn read_kind_file(path: &Path) -> Result<String, InputError> {
    let bytes = read_limited(path, open_regular(path)?)?;
    String::from_utf8(bytes)
        .map_err(|e| InputError::new(path, format!("not UTF-8 text (invalid byte at offset {})", e.utf8_error().valid_up_to())))
}

impl Input {
    /// An input from text alone, with no user kinds (tests, benchmarks).
    pub fn from_text(name: &str, text: &str) -> Self {
        Input { stack_name: name.into(), stack_text: text.into(), ..Input::default() }
    }

    /// Reads the stack at `path` and the `kinds/` directory beside it.
    ///
    /// # Errors
    /// A file that can't be read or isn't UTF-8.
    pub fn load(path: &Path) -> Result<Self, InputError> {
        let (stack_text, invalid_utf8_at) = match String::from_utf8(read_bytes(path)?) {
            Ok(text) => (text, None),
            Err(error) => {
                let offset = error.utf8_error().valid_up_to();
                (String::from_utf8_lossy(error.as_bytes()).into_owned(), Some(offset))
            }
        };
        let mut input = Input { stack_name: path.display().to_string(), stack_text, invalid_utf8_at, ..Input::default() };
        let kinds_dir = path.parent().unwrap_or(Path::new(".")).join("kinds");
        match fs::symlink_metadata(&kinds_dir) {
            Ok(meta) if meta.file_type().is_symlink() => return Err(InputError::not_regular(&kinds_dir, "a symbolic link")),
            Ok(meta) if meta.is_dir() => {}
            _ => return Ok(input),
        }
        let Ok(entries) = fs::read_dir(&kinds_dir) else { return Ok(input) };
        let mut paths: Vec<(PathBuf, fs::FileType)> =
            entries.filter_map(|e| e.ok().and_then(|e| Some((e.path(), e.file_type().ok()?)))).collect();
        paths.sort_by(|a, b| a.0.cmp(&b.0));
        for (kind_path, kind) in paths {
            let is_rag = kind_path.extension().is_some_and(|ext| ext == "rag");
            if kind.is_dir() {
                read_templates(&kind_path, &mut input)?;
            } else if is_rag {
                input.kinds.push((kind_path.display().to_string(), read_kind_file(&kind_path)?));
            } else if kind.is_symlink() && fs::metadata(&kind_path).is_ok_and(|meta| meta.is_dir()) {
                // A linked directory would be a kind's templates read from anywhere.
                return Err(InputError::not_regular(&kind_path, "a symbolic link"));
            }
        }
        Ok(input)
    }

    /// The stack file's name as generated headers show it: the file name
    /// alone, so that output does not depend on where ragc was run from.
    pub fn source_label(&self) -> String {
        Path::new(&self.stack_name).file_name().map_or_else(|| self.stack_name.clone(), |n| n.to_string_lossy().into_owned())
    }
}

/// The templates of one kind, `kinds/<kind>/*.j2`.
fn read_templates(kind_dir: &Path, input: &mut Input) -> Result<(), InputError> {
    let kind = kind_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut templates: Vec<PathBuf> = fs::read_dir(kind_dir)
        .map_err(|e| InputError::new(kind_dir, e.to_string()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|ext| ext == "j2"))
        .collect();
    templates.sort();
    for template in templates {
        let file = template.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        input.templates.insert(format!("kinds/{kind}/{file}"), read_kind_file(&template)?);
    }
    Ok(())
}

//! Reading a stack from disk: the stack file, the user's kind files
//! (`kinds/*.rag` next to it) and their templates (`kinds/<kind>/*.j2`).

use std::fs;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use crate::emit::UserTemplates;

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
    pub path: PathBuf,
    pub message: String,
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)
    }
}

/// The bytes of a file, reading at most one byte past the size limit so that
/// `/dev/zero` or a growing log is refused instead of filling memory.
fn read_bytes(path: &Path) -> Result<Vec<u8>, InputError> {
    let error = |e: std::io::Error| InputError { path: path.to_path_buf(), message: e.to_string() };
    let limit = crate::syntax::MAX_SOURCE_BYTES;
    let mut file = fs::File::open(path).map_err(error)?;
    // Sized from the metadata when it has one (not a pipe or /dev/zero): no doubling copies.
    let expected = file.metadata().map_or(0, |meta| meta.len()).min(limit as u64 + 1);
    let mut bytes = Vec::with_capacity(usize::try_from(expected).unwrap_or(0));
    file.by_ref().take(limit as u64 + 1).read_to_end(&mut bytes).map_err(error)?;
    if bytes.len() > limit {
        return Err(InputError { path: path.to_path_buf(), message: format!("file is too large (more than {limit} bytes, the limit)") });
    }
    Ok(bytes)
}

fn read(path: &Path) -> Result<String, InputError> {
    String::from_utf8(read_bytes(path)?).map_err(|e| InputError {
        path: path.to_path_buf(),
        message: format!("not UTF-8 text (invalid byte at offset {})", e.utf8_error().valid_up_to()),
    })
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
        let Ok(entries) = fs::read_dir(&kinds_dir) else { return Ok(input) };
        let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for kind_path in paths {
            if kind_path.extension().is_some_and(|ext| ext == "rag") && kind_path.is_file() {
                input.kinds.push((kind_path.display().to_string(), read(&kind_path)?));
            } else if kind_path.is_dir() {
                let kind = kind_path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                let mut templates: Vec<PathBuf> = fs::read_dir(&kind_path)
                    .map_err(|e| InputError { path: kind_path.clone(), message: e.to_string() })?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|ext| ext == "j2"))
                    .collect();
                templates.sort();
                for template in templates {
                    let file = template.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                    input.templates.insert(format!("kinds/{kind}/{file}"), read(&template)?);
                }
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

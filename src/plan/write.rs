//! Writes a plan to disk: the only code in ragc that changes files.

use std::fs;
use std::io::Write as _;
use std::path::Path;

use super::{secrets, Contents, Plan};

/// What went wrong writing, with the path it concerns.
#[derive(Debug)]
pub struct WriteError {
    pub path: String,
    pub message: String,
}

/// Writes every artifact under `out_dir`. Each file is written to a
/// temporary file in its own directory and renamed over the old one, so a
/// file is always either wholly old or wholly new.
///
/// # Errors
/// The first file that could not be written.
pub fn write(plan: &Plan, out_dir: &Path) -> Result<Vec<String>, WriteError> {
    let mut written = Vec::new();
    for artifact in &plan.artifacts {
        let target = out_dir.join(&artifact.path);
        let error = |message: String| WriteError { path: target.display().to_string(), message };
        let body = match &artifact.contents {
            Contents::Text(text) => text.clone(),
            Contents::Secrets(file) => {
                let existing = match fs::read_to_string(&target) {
                    Ok(text) => Some(text),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                    Err(e) => return Err(error(format!("can't read the existing secrets: {e}"))),
                };
                secrets::materialize(file, existing.as_deref()).map_err(|e| error(format!("the OS random source failed: {e}")))?
            }
        };
        let dir = target.parent().unwrap_or(out_dir);
        fs::create_dir_all(dir).map_err(|e| error(format!("can't create the directory: {e}")))?;
        let mut temp =
            tempfile::Builder::new().prefix(".ragc-").tempfile_in(dir).map_err(|e| error(format!("can't create a temporary file: {e}")))?;
        temp.write_all(body.as_bytes()).map_err(|e| error(e.to_string()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(temp.path(), fs::Permissions::from_mode(artifact.mode)).map_err(|e| error(e.to_string()))?;
        }
        temp.as_file().sync_all().map_err(|e| error(e.to_string()))?;
        temp.persist(&target).map_err(|e| error(e.error.to_string()))?;
        written.push(artifact.path.clone());
    }
    Ok(written)
}

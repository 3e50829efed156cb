//! `ragc compile`: check, emit, write.

use std::path::{Path, PathBuf};

use super::{load, report, Format, EXIT_INTERNAL, EXIT_OK, EXIT_USER};
use crate::emit::EmitOptions;

#[derive(Debug, clap::Args)]
pub struct CompileArgs {
    /// The stack file.
    pub stack: PathBuf,
    /// Output directory [default: `deploy/` next to the stack file].
    #[arg(short, long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// The output directory, and how it and the stack file's directory see each
/// other (Compose needs that to find the build context).
pub fn out_dir(stack: &Path, out: Option<&Path>) -> (PathBuf, EmitOptions) {
    let stack_dir = stack.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let out_dir = out.map_or_else(|| stack_dir.join("deploy"), Path::to_path_buf);
    let absolute = |path: &Path| std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let relative = |to: &Path, from: &Path| {
        let path = pathdiff::diff_paths(absolute(to), absolute(from)).unwrap_or_default();
        let text = path.to_string_lossy().replace('\\', "/");
        if text.is_empty() {
            ".".to_string()
        } else {
            text
        }
    };
    let options = EmitOptions { out_from_stack: relative(&out_dir, stack_dir), stack_from_out: relative(stack_dir, &out_dir) };
    (out_dir, options)
}

pub fn run(args: &CompileArgs, color: bool) -> u8 {
    let input = match load(&args.stack) {
        Ok(input) => input,
        Err(code) => return code,
    };
    let (out_dir, options) = out_dir(&args.stack, args.out.as_deref());
    let (compilation, plan) = crate::compile(&input, &options);
    report(&compilation, color, Format::Human);
    let Some(plan) = plan else { return EXIT_USER };
    match crate::plan::write::write(&plan, &out_dir) {
        Ok(written) => {
            let name = compilation.stack.as_ref().map_or("", |s| s.name.as_str());
            eprintln!("compiled stack `{name}` into {}: {} files", out_dir.display(), written.len());
            EXIT_OK
        }
        Err(error) => {
            eprintln!("error: can't write {}: {}", error.path, error.message);
            EXIT_INTERNAL
        }
    }
}

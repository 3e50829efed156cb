//! The stdlib compiled into the binary: the kind files (`stdlib/kinds`) and
//! the templates read at run time (`stdlib/templates`; the `.askama` ones
//! are compiled in by askama instead).
//!
//! Input: none (the files are embedded with `include_dir!`). Output: their
//! text, by name. Invariant: a stdlib file is found by the name a user's
//! file of the same role would have (`kinds/<kind>/backup.sh.j2`), so that
//! the checker and every target look templates up the same way.

use crate::input::UserTemplates;

static KINDS: include_dir::Dir<'_> = include_dir::include_dir!("$CARGO_MANIFEST_DIR/stdlib/kinds");
static TEMPLATES: include_dir::Dir<'_> = include_dir::include_dir!("$CARGO_MANIFEST_DIR/stdlib/templates");

/// The kind files, as (virtual path `<stdlib>/kinds/NAME.rag`, text), in path order.
pub fn kind_files() -> Vec<(String, &'static str)> {
    let mut files: Vec<_> = KINDS
        .files()
        .filter(|file| file.path().extension().is_some_and(|ext| ext == "rag"))
        .map(|file| (format!("<stdlib>/kinds/{}", file.path().display()), file.contents_utf8().expect("stdlib kinds are UTF-8")))
        .collect();
    files.sort();
    files
}

/// The stdlib template of this name.
pub fn template(name: &str) -> Option<&'static str> {
    TEMPLATES.get_file(name).and_then(|file| file.contents_utf8())
}

/// True when the stdlib or the user has a template of this name.
pub fn has_template(name: &str, user: &UserTemplates) -> bool {
    user.contains_key(name) || TEMPLATES.get_file(name).is_some()
}

/// Every stdlib template read at run time (`.j2`), as (path, text).
#[cfg(test)]
pub fn run_time_templates() -> Vec<(String, &'static str)> {
    let mut files = Vec::new();
    let mut dirs = vec![&TEMPLATES];
    while let Some(dir) = dirs.pop() {
        files.extend(
            dir.files()
                .filter(|file| file.path().extension().is_some_and(|ext| ext == "j2"))
                .map(|file| (file.path().display().to_string(), file.contents_utf8().expect("stdlib templates are UTF-8"))),
        );
        dirs.extend(dir.dirs());
    }
    files
}

//! The long explanation of each diagnostic code, from `docs/diagnostics/`,
//! embedded in the binary for `ragc explain`.

static DOCS: include_dir::Dir<'_> = include_dir::include_dir!("$CARGO_MANIFEST_DIR/docs/diagnostics");

/// The Markdown explanation of `code` (case-insensitive), if it exists.
pub fn explain(code: &str) -> Option<&'static str> {
    let code = code.trim().to_ascii_uppercase();
    DOCS.get_file(format!("{code}.md")).and_then(|file| file.contents_utf8())
}

/// Every documented code with its title, in order.
pub fn codes() -> Vec<(&'static str, &'static str)> {
    let mut codes: Vec<_> = DOCS
        .files()
        .filter_map(|file| {
            let name = file.path().file_stem()?.to_str()?;
            if name == "README" {
                return None;
            }
            let title = file.contents_utf8()?.lines().next()?.split_once(": ").map_or("", |(_, title)| title);
            Some((name, title))
        })
        .collect();
    codes.sort_unstable();
    codes
}

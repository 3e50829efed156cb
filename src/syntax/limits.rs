//! The input limits checked before pest runs: the file's size, NUL bytes,
//! line length and nesting depth, so that pest's recursion is bounded.
//!
//! Input: a file's text. Output: nothing, or the one diagnostic for the
//! first limit passed. Invariant: a text that passes never makes pest
//! recurse more than [`MAX_NESTING`] levels.

use super::{Span, MAX_LINE_BYTES, MAX_NESTING, MAX_SOURCE_BYTES};
use crate::diag::{Code, Diagnostic};

/// Every limit, in the order a reader would notice them.
pub(super) fn check(file: usize, text: &str) -> Result<(), Vec<Diagnostic>> {
    if text.len() > MAX_SOURCE_BYTES {
        return Err(vec![Diagnostic::error(
            Code::E0002,
            format!("file is too large ({} bytes; the limit is {MAX_SOURCE_BYTES})", text.len()),
            Span::new(file, 0, 0),
            "reading stopped here",
        )
        .with_help("a stack file describes services, not data: split it or remove the generated content")]);
    }
    if let Some(offset) = text.find('\0') {
        return Err(vec![Diagnostic::error(Code::E0002, "file contains a NUL byte", Span::new(file, offset, offset + 1), "NUL byte here")
            .with_help("stack files are UTF-8 text; is this a binary file?")]);
    }
    check_lines(file, text)?;
    check_nesting(file, text)?;
    Ok(())
}

/// Rejects a line longer than [`MAX_LINE_BYTES`].
fn check_lines(file: usize, text: &str) -> Result<(), Vec<Diagnostic>> {
    let mut start = 0;
    for (number, line) in text.split('\n').enumerate() {
        if line.len() > MAX_LINE_BYTES {
            // The caret goes on the first character past the limit.
            let mut at = start + MAX_LINE_BYTES;
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            let end = at + text[at..].chars().next().map_or(0, char::len_utf8);
            return Err(vec![Diagnostic::error(
                Code::E0701,
                format!("line {} is {} bytes long; the limit is {MAX_LINE_BYTES}", number + 1, line.len()),
                Span::new(file, at, end),
                "the line goes on past the limit here",
            )
            .with_help("break the value over several lines, or keep long content in a file of its own")]);
        }
        start += line.len() + 1;
    }
    Ok(())
}

/// Rejects input nested deeper than [`MAX_NESTING`] before pest, which
/// recurses per level, ever sees it.
fn check_nesting(file: usize, text: &str) -> Result<(), Vec<Diagnostic>> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut in_comment = false;
    let mut escaped = false;
    let mut string_start = 0;
    for (offset, ch) in text.char_indices() {
        if in_comment {
            in_comment = ch != '\n';
            continue;
        }
        if in_string {
            match ch {
                '\n' => return Err(vec![unterminated_string(file, string_start)]),
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match ch {
            '#' => in_comment = true,
            '"' => {
                in_string = true;
                string_start = offset;
            }
            '{' | '[' | '(' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(vec![Diagnostic::error(
                        Code::E0003,
                        format!("nesting is deeper than {MAX_NESTING} levels"),
                        Span::new(file, offset, offset + 1),
                        "too deep here",
                    )
                    .with_help("a stack needs a few levels of blocks; flatten this value")]);
                }
            }
            '}' | ']' | ')' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    if in_string {
        return Err(vec![unterminated_string(file, string_start)]);
    }
    Ok(())
}

fn unterminated_string(file: usize, start: usize) -> Diagnostic {
    Diagnostic::error(Code::E0001, "syntax error: unterminated string", Span::new(file, start, start + 1), "this string is never closed")
        .with_help("close it with `\"` on the same line; write a line break inside a string as `\\n`")
}

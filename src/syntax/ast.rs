//! The abstract syntax tree: mirrors the text, resolves nothing, defaults
//! nothing. Every node carries its [`Span`].

use serde::Serialize;

use super::Span;

/// A name as written, with where it was written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// One parsed file: a stack file or a kind file.
#[derive(Debug, Clone, Serialize)]
pub struct File {
    pub items: Vec<Item>,
}

/// A top-level declaration.
#[derive(Debug, Clone, Serialize)]
pub enum Item {
    /// `stack NAME { ... }`
    Stack { name: Ident, body: Block },
    /// `secret NAME = VALUE`
    Secret { name: Ident, value: Expr },
    /// `service NAME: KIND { ... }`
    Service { name: Ident, kind: Ident, body: Block },
    /// `proxy KIND { ... }`
    Proxy { kind: Ident, body: Block },
    /// `kind NAME { ... }` (kind files)
    Kind { name: Ident, body: Block },
}

impl Item {
    pub fn keyword(&self) -> &'static str {
        match self {
            Item::Stack { .. } => "stack",
            Item::Secret { .. } => "secret",
            Item::Service { .. } => "service",
            Item::Proxy { .. } => "proxy",
            Item::Kind { .. } => "kind",
        }
    }
}

/// `{ entry, entry, ... }`
#[derive(Debug, Clone, Serialize)]
pub struct Block {
    pub entries: Vec<Entry>,
    pub span: Span,
}

/// One line of a block.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub kind: EntryKind,
    pub span: Span,
}

#[derive(Debug, Clone, Serialize)]
pub enum EntryKind {
    /// `name = value`, and `name { ... }` as `name = { ... }`.
    Assign { name: Ident, value: Expr },
    /// `label name = value`, as in `volume uploads = "/app/uploads"`.
    /// The rarer forms are boxed so that every entry is not as large as they are.
    Labeled(Box<Labeled>),
    /// `field name : type = default` (kind files).
    Field(Box<FieldDecl>),
}

#[derive(Debug, Clone, Serialize)]
pub struct Labeled {
    pub label: Ident,
    pub name: Ident,
    pub value: Expr,
}

#[derive(Debug, Clone, Serialize)]
pub struct FieldDecl {
    pub name: Ident,
    pub ty: TypeExpr,
    pub default: Option<Expr>,
}

/// A type in a kind file's field declaration: `string`, `list(string)`,
/// `enum(a, b)`, `schedule?`.
#[derive(Debug, Clone, Serialize)]
pub struct TypeExpr {
    pub name: Ident,
    pub args: Vec<TypeExpr>,
    pub optional: bool,
    pub span: Span,
}

/// `f(a, b, key: c)`
#[derive(Debug, Clone, Serialize)]
pub struct Call {
    pub name: Ident,
    pub args: Vec<Arg>,
}

/// A value with its span.
#[derive(Debug, Clone, Serialize)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

/// The forms a value can take in the text.
#[derive(Debug, Clone, Serialize)]
pub enum ExprKind {
    Str(String),
    Int(i64),
    Float(f64),
    /// Bytes, 1024-based; `text` is the literal as written (`512mb`).
    Size {
        bytes: u64,
        text: String,
    },
    /// Seconds; `text` is the literal as written (`7d`).
    Duration {
        seconds: u64,
        text: String,
    },
    Bool(bool),
    /// `name` or `name.attr`: an enum member, a secret or a reference.
    Path(Vec<Ident>),
    /// `f(a, b, key: c)`, boxed: the largest form, and a rare one.
    Call(Box<Call>),
    List(Vec<Expr>),
    Record(Block),
}

impl ExprKind {
    /// What the value is, in words, for "expected X, found Y" messages.
    pub fn describe(&self) -> &'static str {
        match self {
            ExprKind::Str(_) => "a string",
            ExprKind::Int(_) => "an integer",
            ExprKind::Float(_) => "a number",
            ExprKind::Size { .. } => "a size",
            ExprKind::Duration { .. } => "a duration",
            ExprKind::Bool(_) => "a boolean",
            ExprKind::Path(parts) if parts.len() == 1 => "a name",
            ExprKind::Path(_) => "a reference",
            ExprKind::Call(_) => "a call",
            ExprKind::List(_) => "a list",
            ExprKind::Record(_) => "a block",
        }
    }
}

/// One argument of a call, positional or named.
#[derive(Debug, Clone, Serialize)]
pub struct Arg {
    pub name: Option<Ident>,
    pub value: Expr,
}

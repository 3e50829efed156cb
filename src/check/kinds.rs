//! Kind files → [`KindDef`]: a kind's schema (its fields), the properties it
//! gives every instance (image, command, healthcheck, ...), its volumes and
//! its exported attributes. The stdlib's kinds and a user's own kinds go
//! through the same code.

use indexmap::IndexMap;

use super::block::Seen;
use super::types::{check_value, HealthSpec, Type, Val};
use crate::diag::{did_you_mean, Code, Diagnostic};
use crate::syntax::{EntryKind, Expr, ExprKind, Ident, Item, Span};

/// One declared field of a kind.
#[derive(Debug, Clone)]
pub struct FieldDef {
    pub name: Ident,
    pub ty: Type,
    pub optional: bool,
    pub default: Option<Expr>,
}

/// A kind, checked.
#[derive(Debug, Clone)]
pub struct KindDef {
    pub name: Ident,
    pub fields: IndexMap<String, FieldDef>,
    pub properties: IndexMap<String, Expr>,
    pub volumes: IndexMap<String, Expr>,
    /// `file NAME = "..."`: a file the container reads at /run/secrets/NAME,
    /// for what must never be in its environment or on its command line.
    pub files: IndexMap<String, Expr>,
    pub exports: IndexMap<String, Expr>,
    /// The properties that need no instance to be read, read once.
    pub shape: KindShape,
}

/// What a kind gives every instance that needs no instance to know, read
/// from its properties once, when the kind is loaded.
#[derive(Debug, Clone, Default)]
pub struct KindShape {
    /// `proxy = true`: a proxy kind, declared with `proxy KIND { ... }`.
    pub proxy: bool,
    /// `build = "python"`: the Dockerfile template the kind's images are built from.
    pub build: Option<String>,
    /// The kind's own healthcheck (`health = ...`, without a field of that
    /// name), checked once; its error is reported at the kind's first
    /// service (`Resolver::kind_error`).
    pub health: Option<Result<(HealthSpec, Span), Diagnostic>>,
}

impl KindShape {
    fn of(kind: &KindDef) -> Self {
        let health = kind.properties.get("health").filter(|_| !kind.fields.contains_key("health")).and_then(|expr| {
            match check_value(expr, &Type::Health) {
                Ok(Val::Health(spec)) => Some(Ok((spec, expr.span))),
                Ok(_) => None,
                // A kind's healthcheck that doesn't check is the kind's mistake.
                Err(error) => Some(Err(error.with_code(Code::E0401))),
            }
        });
        KindShape {
            proxy: matches!(kind.properties.get("proxy").map(|e| &e.kind), Some(ExprKind::Bool(true))),
            build: match kind.properties.get("build").map(|e| &e.kind) {
                Some(ExprKind::Str(template)) => Some(template.clone()),
                _ => None,
            },
            health,
        }
    }
}

/// The properties a kind body may set, with what each means to the emitters.
pub const PROPERTIES: [&str; 19] = [
    "limits",
    "image",
    "build",
    "stateful",
    "port",
    "command",
    "env",
    "health",
    "workdir",
    "read_only",
    "tmpfs",
    "cap_add",
    "run_as",
    "http_probe",
    "dockerignore",
    "proxy",
    "base_image",
    "dev_target",
    "dev_keep",
];

/// Names a kind may not use for fields because instances use them for
/// something else.
pub const RESERVED: [&str; 5] = ["env", "limits", "dev", "prod", "digest"];

impl KindDef {
    /// Reads one `kind` item.
    pub fn from_item(item: &Item) -> Result<KindDef, Vec<Diagnostic>> {
        let Item::Kind { name, body } = item else { unreachable!("caller passes kind items only") };
        let mut kind = KindDef {
            name: name.clone(),
            fields: IndexMap::new(),
            properties: IndexMap::new(),
            volumes: IndexMap::new(),
            files: IndexMap::new(),
            exports: IndexMap::new(),
            shape: KindShape::default(),
        };
        let mut errors = Vec::new();
        let mut seen = Seen::default();
        let mut claim = |key: String, span: Span, errors: &mut Vec<Diagnostic>| -> bool {
            let Err(first) = seen.claim(&key, span) else { return true };
            errors.push(
                Diagnostic::error(Code::E0103, format!("`{key}` is declared twice in kind `{}`", name.name), span, "declared again")
                    .with_label(first, "first declared here")
                    .with_help("remove one of them"),
            );
            false
        };
        for entry in &body.entries {
            match &entry.kind {
                EntryKind::Field(decl) => {
                    let (field, ty, default) = (&decl.name, &decl.ty, &decl.default);
                    if RESERVED.contains(&field.name.as_str()) {
                        errors.push(
                            Diagnostic::error(
                                Code::E0401,
                                format!("`{}` is reserved for every service", field.name),
                                field.span,
                                "reserved name",
                            )
                            .with_help("every service already has `env`, `limits`, `dev`, `prod` and `digest`; choose another name"),
                        );
                        continue;
                    }
                    if !claim(field.name.clone(), field.span, &mut errors) {
                        continue;
                    }
                    match Type::from_expr(ty) {
                        Ok(checked) => {
                            kind.fields.insert(
                                field.name.clone(),
                                FieldDef { name: field.clone(), ty: checked, optional: ty.optional, default: default.clone() },
                            );
                        }
                        Err(error) => errors.push(error),
                    }
                }
                EntryKind::Assign { name: property, value } => {
                    if !PROPERTIES.contains(&property.name.as_str()) {
                        errors.push(
                            Diagnostic::error(
                                Code::E0401,
                                format!("kinds have no property `{}`", property.name),
                                property.span,
                                "unknown property",
                            )
                            .with_help(did_you_mean(&property.name, PROPERTIES))
                            .with_help("declare a user-settable field with `field NAME : TYPE = DEFAULT`"),
                        );
                        continue;
                    }
                    if claim(format!("property {}", property.name), property.span, &mut errors) {
                        kind.properties.insert(property.name.clone(), value.clone());
                    }
                }
                EntryKind::Labeled(labeled) => {
                    let (label, item, value) = (&labeled.label, &labeled.name, &labeled.value);
                    let target = match label.name.as_str() {
                        "volume" => &mut kind.volumes,
                        "file" => &mut kind.files,
                        "export" => &mut kind.exports,
                        other => {
                            errors.push(
                                Diagnostic::error(Code::E0401, format!("unknown declaration `{other}` in a kind"), label.span, "unknown")
                                    .with_help(did_you_mean(other, ["volume", "file", "export", "field"])),
                            );
                            continue;
                        }
                    };
                    if !matches!(value.kind, ExprKind::Str(_)) {
                        errors.push(
                            Diagnostic::error(
                                Code::E0104,
                                format!("`{} {}` must be a string", label.name, item.name),
                                value.span,
                                "expected a string",
                            )
                            .with_help("write the value in quotes; it may use `{{ field }}` interpolation"),
                        );
                        continue;
                    }
                    if claim(format!("{} {}", label.name, item.name), item.span, &mut errors) {
                        target.insert(item.name.clone(), value.clone());
                    }
                }
            }
        }
        if errors.is_empty() {
            kind.shape = KindShape::of(&kind);
            Ok(kind)
        } else {
            Err(errors)
        }
    }

    pub fn is_proxy(&self) -> bool {
        self.shape.proxy
    }
}

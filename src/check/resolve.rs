//! The resolver: binds every name, applies kinds and defaults, derives
//! dependencies, networks and start order, and runs the cross-service rules.

use std::cell::OnceCell;

use indexmap::{IndexMap, IndexSet};
use minijinja::Value;

use super::block;
use super::declare::Declared;
use super::graph::{derive_networks, routes};
use super::instantiate::proxy_site;
use super::interp::{secret_sentinel, Interpolator};
use super::kinds::KindDef;
use super::types::Val;
use crate::diag::{did_you_mean, Code, Diagnostic};
use crate::model::{FieldValue, Limits, Proxy, Secret, Stack, Text};
use crate::syntax::{Block, Expr, ExprKind, File, Ident, Item, Span};

pub(super) type Ctx = IndexMap<String, Value>;

/// Resolves a parsed stack file against `kinds`.
///
/// `source` names the stack file in generated headers.
pub fn resolve(file: File, file_span: Span, source: &str, kinds: &IndexMap<String, KindDef>) -> (Option<Stack>, Vec<Diagnostic>) {
    let mut resolver = Resolver {
        kinds,
        interp: Interpolator::default(),
        diagnostics: Vec::new(),
        secrets: IndexMap::new(),
        secret_names: IndexMap::new(),
        stack_name: String::new(),
        domain: None,
        kind_errors: IndexSet::new(),
        kind_limits: IndexMap::new(),
    };
    let stack = resolver.stack(file, file_span, source);
    let failed = resolver.diagnostics.iter().any(Diagnostic::is_error);
    (if failed { None } else { stack }, resolver.diagnostics)
}

pub(super) struct Resolver<'k> {
    pub(super) kinds: &'k IndexMap<String, KindDef>,
    pub(super) interp: Interpolator,
    pub(super) diagnostics: Vec<Diagnostic>,
    /// Keyed by environment variable.
    pub(super) secrets: IndexMap<String, Secret>,
    /// Top-level secret name → environment variable.
    pub(super) secret_names: IndexMap<String, String>,
    /// The stack's name and domain, for instance template contexts.
    pub(super) stack_name: String,
    pub(super) domain: Option<String>,
    /// The mistakes in kind files reported so far (see [`Resolver::kind_error`]).
    pub(super) kind_errors: IndexSet<(Span, Code)>,
    /// Each kind's own `limits`, checked once per kind.
    pub(super) kind_limits: IndexMap<String, Limits>,
}

/// A service after its own fields are known, before other services are bound.
pub(super) struct Instance<'a> {
    pub(super) name: Ident,
    pub(super) kind: &'a KindDef,
    /// The kind strings' template context (base names, every field, the
    /// secrets' variables), built on first use and dropped once the
    /// service is built: kept for every instance it was a tenth of the
    /// peak memory at 10,000 services.
    pub(super) context: OnceCell<Ctx>,
    /// Field → environment variable, for fields holding a secret.
    pub(super) secret_vars: IndexMap<String, String>,
    pub(super) values: IndexMap<String, (Val, Span)>,
    // Owned, not borrowed from the AST, so that the AST is dropped before
    // the services are built: at 10,000 services the AST, the instances and
    // the model alive at once were the memory peak.
    pub(super) env: Vec<(Ident, Expr)>,
    pub(super) volumes: IndexMap<String, (String, Span)>,
    pub(super) limits: Limits,
    pub(super) digest: Option<String>,
    pub(super) dev: Option<Block>,
    pub(super) prod: Option<Block>,
    pub(super) span: Span,
}

pub(super) fn env_var(name: &str) -> String {
    name.to_ascii_uppercase().replace('-', "_")
}

pub(super) fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_') && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A name that becomes a DNS label, a volume and a file name.
pub(super) fn is_service_name(name: &str) -> bool {
    name.len() <= 63
        && name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-')
}

pub(super) fn val_to_value(val: &Val, secret_var: Option<&str>) -> Value {
    match val {
        Val::Str(s) | Val::Enum(s) => Value::from(s.as_str()),
        Val::Int(n) => Value::from(*n),
        Val::Number(n) => Value::from(*n),
        Val::Bool(b) => Value::from(*b),
        Val::Size { text, .. } | Val::Duration { text, .. } => Value::from(text.as_str()),
        Val::List(items) => Value::from(items.iter().map(|item| val_to_value(item, None)).collect::<Vec<_>>()),
        Val::NewSecret(_) | Val::SecretRef(_) => Value::from(secret_sentinel(secret_var.unwrap_or_default())),
        Val::Schedule(schedule) => Value::from_serialize(schedule),
        Val::Health(_) => Value::from(true),
        Val::Service(ident) => Value::from(ident.name.as_str()),
    }
}

/// Fields as templates see them: sizes in bytes, durations in seconds.
pub(super) fn field_value(val: &Val, secret_var: Option<&str>) -> FieldValue {
    match val {
        Val::Str(s) | Val::Enum(s) => FieldValue::Str(s.clone()),
        Val::Int(n) => FieldValue::Int(*n),
        Val::Number(n) => FieldValue::Number(*n),
        Val::Bool(b) => FieldValue::Bool(*b),
        Val::Size { bytes, .. } => FieldValue::Unsigned(*bytes),
        Val::Duration { seconds, .. } => FieldValue::Unsigned(*seconds),
        Val::List(items) => FieldValue::List(items.iter().map(|item| field_value(item, None)).collect()),
        Val::NewSecret(_) | Val::SecretRef(_) => FieldValue::Secret(secret_var.map(str::to_string)),
        Val::Schedule(schedule) => FieldValue::Schedule(schedule.clone()),
        Val::Health(_) => FieldValue::Bool(true),
        Val::Service(ident) => FieldValue::Str(ident.name.clone()),
    }
}

impl block::Report for Resolver<'_> {
    fn report(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }
}

impl<'k> Resolver<'k> {
    pub(super) fn error(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    /// A mistake in a kind's own text: reported once, however many
    /// services use the kind.
    pub(super) fn kind_error(&mut self, diagnostic: Diagnostic) {
        if self.kind_errors.insert((diagnostic.primary.span, diagnostic.code)) {
            self.diagnostics.push(diagnostic);
        }
    }

    /// Names to suggest from, or none once past the diagnostics a compile
    /// shows: thousands of misspelt references against thousands of
    /// services would otherwise spend minutes on help nobody sees.
    pub(super) fn suggestible<'a>(&self, names: impl Iterator<Item = &'a String> + Clone) -> impl Iterator<Item = &'a str> + Clone {
        let shown = self.diagnostics.len() < crate::MAX_DIAGNOSTICS;
        names.take(if shown { usize::MAX } else { 0 }).map(String::as_str)
    }

    /// Runs the passes in turn: declare, instantiate, bind, graph, rules.
    pub(super) fn stack(&mut self, file: File, file_span: Span, source: &str) -> Option<Stack> {
        let Declared { stack_name, stack_body, proxy_item, services } = self.declarations(&file, file_span)?;
        let settings = self.settings(&stack_name.name, stack_body);
        self.stack_name.clone_from(&stack_name.name);
        self.domain = settings.as_ref().and_then(|s| s.domain.clone());

        for item in &file.items {
            if let Item::Secret { name, value } = item {
                self.top_level_secret(name, value);
            }
        }

        // Sized up front: at 10,000 services a doubling copy of these maps was the memory peak.
        let mut instances: IndexMap<String, Instance<'_>> = IndexMap::with_capacity(services.len());
        for item in services {
            let Item::Service { name, kind, body } = item else { continue };
            if instances.contains_key(&name.name) {
                continue;
            }
            if let Some(instance) = self.instance(name, kind, body) {
                instances.insert(name.name.clone(), instance);
            }
        }

        let proxy = proxy_item.and_then(|(item, _)| {
            let Item::Proxy { kind, body } = item else { return None };
            self.proxy(kind, body)
        });
        let proxy_span = proxy_item.map(|(_, span)| span);
        let stack_name = stack_name.name.clone();
        drop(file);

        let mut built = IndexMap::with_capacity(instances.len());
        for index in 0..instances.len() {
            let (name, instance) = instances.get_index(index).expect("in range");
            if let Some(service) = self.service(instance, &instances) {
                built.insert(name.clone(), service);
            }
            // Built: its context is not needed again (others build theirs fresh).
            if let Some((_, instance)) = instances.get_index_mut(index) {
                instance.context.take();
            }
        }
        if built.len() != instances.len() || self.diagnostics.iter().any(Diagnostic::is_error) {
            return None;
        }
        let settings = settings?;
        let mut services = built;
        let start_order = self.order(&services, &instances)?;
        let networks = derive_networks(&mut services);
        let proxy = proxy.map(|(kind, fields)| Proxy { kind, site: proxy_site(&fields), fields, routes: routes(&services) });
        self.cross_checks(&services, &instances, proxy.as_ref(), proxy_span, &settings);
        let secrets = self.secret_users(&services);
        let kind_fields = kind_fields(&instances);
        Some(Stack { name: stack_name, source: source.to_string(), settings, secrets, services, proxy, networks, start_order, kind_fields })
    }

    /// An instance's template context, built now and not kept (for another
    /// service's instance, read once or twice per reference).
    pub(super) fn build_context(&self, instance: &Instance<'_>) -> Ctx {
        let mut context = self.base_context(&instance.name.name);
        for (field_name, (val, _)) in &instance.values {
            context.insert(field_name.clone(), val_to_value(val, instance.secret_vars.get(field_name).map(String::as_str)));
        }
        // Absent optional fields stay undefined: kind templates may test them
        // (`{% if maxmemory %}`), but printing one is an error, never "None".
        context.insert("__secret_vars".into(), Value::from_serialize(&instance.secret_vars));
        context
    }

    /// One entry of [`Resolver::build_context`]'s context, without building
    /// the rest: fields first, as there they replace the base entries.
    pub(super) fn context_value(&self, instance: &Instance<'_>, name: &str) -> Option<Value> {
        if let Some((val, _)) = instance.values.get(name) {
            return Some(val_to_value(val, instance.secret_vars.get(name).map(String::as_str)));
        }
        match name {
            "name" => Some(Value::from(instance.name.name.as_str())),
            "stack" => Some(Value::from(self.stack_name.as_str())),
            "domain" => self.domain.as_deref().map(Value::from),
            _ => None,
        }
    }

    /// An instance's template context, built on first use and kept until
    /// its service is built.
    pub(super) fn context<'i>(&self, instance: &'i Instance<'_>) -> &'i Ctx {
        instance.context.get_or_init(|| self.build_context(instance))
    }

    /// What every kind string may name: the service (or proxy kind), the
    /// stack, and the stack's domain when it has one.
    pub(super) fn base_context(&self, name: &str) -> Ctx {
        let mut context = Ctx::new();
        context.insert("name".into(), Value::from(name));
        context.insert("stack".into(), Value::from(self.stack_name.as_str()));
        if let Some(domain) = &self.domain {
            context.insert("domain".into(), Value::from(domain.as_str()));
        }
        context
    }

    pub(super) fn render(&mut self, expr: &Expr, context: &Ctx) -> Option<Text> {
        let template = match &expr.kind {
            ExprKind::Str(template) => template,
            ExprKind::Int(n) => return Some(Text::literal(n.to_string())),
            _ => {
                self.kind_error(
                    Diagnostic::error(
                        Code::E0401,
                        format!("expected a string, found {}", expr.kind.describe()),
                        expr.span,
                        "expected a string",
                    )
                    .with_help("kind properties are strings, with `{{ field }}` interpolation"),
                );
                return None;
            }
        };
        match self.interp.render(template, context) {
            Ok(text) => Some(text),
            Err(message) => {
                self.error(template_error(expr.span, &message));
                None
            }
        }
    }
}

/// `[registry[:port]/]path[:tag]`, in the characters Docker allows: nothing
/// that could end a line or a word in the files the reference lands in.
pub(super) fn is_image_reference(text: &str) -> bool {
    let (path, tag) = match text.rsplit_once(':') {
        Some((path, tag)) if !tag.contains('/') => (path, Some(tag)),
        _ => (text, None),
    };
    let path_ok = !path.is_empty()
        && path.split('/').all(|part| {
            !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || "._-:".contains(c)) && !part.starts_with(['.', '-'])
        });
    let tag_ok = tag.is_none_or(|tag| {
        !tag.is_empty()
            && tag.len() <= 128
            && !tag.starts_with(['.', '-'])
            && tag.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    });
    path_ok && tag_ok
}

pub(super) fn is_digest(text: &str) -> bool {
    text.strip_prefix("sha256:").is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
}

/// Container and server paths: absolute, no `..`, and only characters that
/// need no quoting anywhere they land (Compose short syntax, a double-quoted
/// shell word, a Dockerfile instruction, a crontab line).
pub(super) fn is_container_path(path: &str) -> bool {
    path.starts_with('/')
        && path.len() > 1
        && !path.split('/').any(|part| part == "..")
        && path.chars().all(|c| c.is_alphanumeric() || "._/@+=-".contains(c))
}

/// Control characters and the sentinel range have no place in a value that
/// reaches a configuration file.
pub(super) fn string_problem(val: &Val, span: Span) -> Option<Diagnostic> {
    let text = match val {
        Val::Str(text) => text,
        Val::List(items) => return items.iter().find_map(|item| string_problem(item, span)),
        _ => return None,
    };
    super::types::control_problem(text, span).err()
}

pub(super) fn record_expected(field: &str, value: &Expr) -> Diagnostic {
    Diagnostic::error(Code::E0104, format!("`{field}` is a block, found {}", value.kind.describe()), value.span, "expected a block")
        .with_help(format!("write `{field} {{ ... }}`"))
}

pub(super) fn template_error(span: Span, message: &str) -> Diagnostic {
    Diagnostic::error(Code::E0402, format!("invalid interpolation in a kind file: {message}"), span, "in this template")
        .with_help("kind strings are minijinja templates over the kind's fields: `{{ field }}`")
}

pub(super) fn unknown_service<'a>(name: &Ident, services: impl IntoIterator<Item = &'a str> + Clone) -> Diagnostic {
    Diagnostic::error(Code::E0201, format!("unknown service `{}`", name.name), name.span, "no such service")
        .with_help(did_you_mean(&name.name, services))
}

pub(super) fn undeclared_secret<'a>(name: &Ident, secrets: impl IntoIterator<Item = &'a str> + Clone) -> Diagnostic {
    let mut diagnostic =
        Diagnostic::error(Code::E0305, format!("secret `{}` is used but not declared", name.name), name.span, "not declared");
    if let Some(best) = crate::diag::suggest(&name.name, secrets) {
        diagnostic = diagnostic.with_help(format!("did you mean `{best}`?"));
    }
    diagnostic.with_help(format!(
        "declare it: `secret {} = generate(hex, 32)` or `secret {} = required(\"where to get it\")`",
        name.name, name.name
    ))
}

/// Every field each kind in use declares, once per kind.
fn kind_fields(instances: &IndexMap<String, Instance<'_>>) -> IndexMap<String, Vec<String>> {
    let mut kind_fields: IndexMap<String, Vec<String>> = IndexMap::new();
    for instance in instances.values() {
        let kind = &instance.kind.name.name;
        if !kind_fields.contains_key(kind) {
            kind_fields.insert(kind.clone(), instance.kind.fields.keys().cloned().collect());
        }
    }
    kind_fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_names_are_dns_labels() {
        assert!(is_service_name("db"));
        assert!(is_service_name("api-2"));
        assert!(!is_service_name("Api"));
        assert!(!is_service_name("2api"));
        assert!(!is_service_name("api-"));
        assert!(!is_service_name(&"a".repeat(64)));
    }

    #[test]
    fn image_references_are_checked() {
        assert!(is_image_reference("postgres:16.4-alpine"));
        assert!(is_image_reference("ghcr.io/example/hello:1.4.2"));
        assert!(is_image_reference("registry:5000/team/app"));
        assert!(!is_image_reference("python:3.11 AS x"));
        assert!(!is_image_reference("img:$(id)"));
        assert!(!is_image_reference(":1.0"));
    }

    fn codes(text: &str) -> Vec<Code> {
        let input = crate::input::Input::from_text("stack.rag", text);
        crate::analyze(&input).diagnostics.iter().map(|d| d.code).collect()
    }

    #[test]
    fn a_named_volume_is_backed_up_or_said_to_need_none() {
        let app = |backup: &str| {
            format!("stack demo {{}}\nservice api: python {{\n  command = \"x\"\n  volume uploads = \"/app/uploads\"\n  {backup}\n}}\n")
        };
        assert_eq!(codes(&app("")), [Code::W0005]);
        assert_eq!(codes(&app("backup = daily(at: \"02:00\", keep: 7d)")), [] as [Code; 0]);
        assert_eq!(codes(&app("backup = none()")), [] as [Code; 0]);
        assert!(
            codes(&app("backup = none(keep: 7d)")).iter().any(|code| code.severity() == crate::diag::Severity::Error),
            "none() takes no argument"
        );
        // A stateless image with a volume may be backed up (its volumes, as tar); without one, it can't.
        let image = |volume: &str| {
            format!("stack demo {{}}\nservice web: image {{\n  image = \"nginx:1.27.3\"\n  {volume}\n  backup = daily(at: \"02:00\", keep: 7d)\n}}\n")
        };
        assert_eq!(codes(&image("volume html = \"/usr/share/nginx/html\"")), [] as [Code; 0]);
        assert_eq!(codes(&image("")), [Code::E0303]);
    }

    #[test]
    fn a_kind_mistake_is_reported_once_however_many_services_use_it() {
        let kind = "kind web {\n  image = \"nginx:1.27.3\"\n  stateful = \"yes\"\n  limits { cpus = 0 }\n}\n";
        let text = format!("stack demo {{}}\n{kind}service a: web {{}}\nservice b: web {{}}\nservice c: web {{}}\n");
        assert_eq!(codes(&text), [Code::E0401, Code::E0107]);
    }

    #[test]
    fn backup_none_silences_the_stateful_warning() {
        let db = |backup: &str| format!("stack demo {{}}\nservice db: postgres {{\n  version = \"16.4\"\n  {backup}\n}}\n");
        assert_eq!(codes(&db("")), [Code::W0001]);
        assert_eq!(codes(&db("backup = none()")), [] as [Code; 0]);
    }

    #[test]
    fn container_paths_stay_inside() {
        assert!(is_container_path("/app/uploads"));
        assert!(!is_container_path("app"));
        assert!(!is_container_path("/app/../etc"));
        assert!(!is_container_path("/a:b"));
    }
}

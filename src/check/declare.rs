//! Declare: which kinds a stack sees. Kinds load stdlib → `kinds/*.rag` →
//! the stack file, a later name replacing an earlier (a user's kind
//! shadows the stdlib's of the same name).
//!
//! Input: the parsed stack file and the user's kind files. Output: every
//! kind by name, each checked once ([`KindDef`]), with the problems of
//! every kind file. Invariant: the stdlib's kinds go through the same code
//! as a user's.

use indexmap::IndexMap;

use super::block;
use super::kinds::KindDef;
use super::resolve::{env_var, is_container_path, is_env_name, is_service_name, Resolver};
use super::types::{check_value, Type, Val};
use crate::diag::{did_you_mean, Code, Diagnostic, Sources};
use crate::input::Input;
use crate::model::{Secret, Settings};
use crate::syntax::{self, Block, Entry, Expr, File, Ident, Item, Span};

/// The kinds `stack` may use, by name. Kind files are added to `sources`
/// so that their spans can be rendered.
pub(super) fn kinds(input: &Input, stack: &File, sources: &mut Sources, diagnostics: &mut Vec<Diagnostic>) -> IndexMap<String, KindDef> {
    // User kinds (files beside the stack, then kinds declared in the stack
    // itself) shadow stdlib kinds of the same name.
    let mut user_kinds: Vec<KindDef> = Vec::new();
    for (name, text) in &input.kinds {
        let file = sources.add(name.clone(), text.clone());
        match syntax::parse(file, text) {
            Ok(kind_file) => load(&kind_file.items, &mut user_kinds, diagnostics),
            Err(mut errors) => diagnostics.append(&mut errors),
        }
    }
    load(&stack.items, &mut user_kinds, diagnostics);

    // Only the stdlib kinds the stack names are parsed, unless a name is
    // unknown: then all of them, so that the diagnostic can suggest one.
    let wanted: Vec<&str> = stack
        .items
        .iter()
        .filter_map(|item| match item {
            Item::Service { kind, .. } | Item::Proxy { kind, .. } => Some(kind.name.as_str()),
            _ => None,
        })
        .filter(|name| !user_kinds.iter().any(|kind| kind.name.name == *name))
        .collect();
    let stdlib = crate::stdlib::kind_files();
    let stem = |path: &str| path.rsplit('/').next().unwrap_or(path).trim_end_matches(".rag").to_string();
    let all_known = wanted.iter().all(|name| stdlib.iter().any(|(path, _)| stem(path) == *name));
    let mut kinds: IndexMap<String, KindDef> = IndexMap::new();
    for (path, text) in stdlib {
        if all_known && !wanted.contains(&stem(&path).as_str()) {
            continue;
        }
        let file = sources.add(path, text);
        let mut loaded = Vec::new();
        match syntax::parse(file, text) {
            Ok(kind_file) => load(&kind_file.items, &mut loaded, diagnostics),
            Err(mut errors) => diagnostics.append(&mut errors),
        }
        kinds.extend(loaded.into_iter().map(|kind| (kind.name.name.clone(), kind)));
    }
    kinds.extend(user_kinds.into_iter().map(|kind| (kind.name.name.clone(), kind)));
    kinds
}

/// Checks every `kind` item of a file.
fn load(items: &[Item], kinds: &mut Vec<KindDef>, diagnostics: &mut Vec<Diagnostic>) {
    for item in items.iter().filter(|item| matches!(item, Item::Kind { .. })) {
        match KindDef::from_item(item) {
            Ok(kind) => kinds.push(kind),
            Err(mut errors) => diagnostics.append(&mut errors),
        }
    }
}

impl<'k> Resolver<'k> {
    pub(super) fn settings(&mut self, stack: &str, body: &Block) -> Option<Settings> {
        const FIELDS: [&str; 6] = ["domain", "acme_email", "offsite", "path", "backup_root", "context"];
        let errors_before = self.diagnostics.len();
        let mut values: IndexMap<&str, (String, Span)> = IndexMap::new();
        let not_setting = |entry: &Entry| {
            Diagnostic::error(Code::E0102, "the stack block holds only `name = value` settings", entry.span, "not a setting")
                .with_help(format!("settings are {}", FIELDS.join(", ")))
        };
        block::assignments(self, body, not_setting, |this, name, value| {
            let Some(key) = FIELDS.iter().find(|field| **field == name.name) else {
                this.error(
                    Diagnostic::error(Code::E0102, format!("the stack has no setting `{}`", name.name), name.span, "unknown setting")
                        .with_help(did_you_mean(&name.name, FIELDS)),
                );
                return;
            };
            match check_value(value, &Type::String) {
                Ok(Val::Str(text)) => {
                    if let Some(problem) = setting_problem(key, &text) {
                        this.error(
                            Diagnostic::error(Code::E0107, format!("invalid `{key}`: {problem}"), value.span, "invalid value")
                                .with_help(setting_help(key)),
                        );
                    }
                    values.insert(key, (text, value.span));
                }
                Ok(_) => unreachable!("checked as a string"),
                Err(error) => this.error(error),
            }
        });
        let ok = self.diagnostics.len() == errors_before;
        let mut take = |key: &str| values.swap_remove(key).map(|(text, _)| text);
        let settings = Settings {
            domain: take("domain"),
            acme_email: take("acme_email"),
            offsite: take("offsite"),
            path: take("path").unwrap_or_else(|| format!("/opt/{stack}")),
            backup_root: take("backup_root").unwrap_or_else(|| format!("/var/backups/{stack}")),
            context: take("context").unwrap_or_else(|| ".".to_string()),
        };
        ok.then_some(settings)
    }

    pub(super) fn top_level_secret(&mut self, name: &Ident, value: &Expr) {
        let var = env_var(&name.name);
        if !is_env_name(&var) {
            self.error(
                Diagnostic::error(Code::E0502, format!("`{}` can't name a secret", name.name), name.span, "invalid name")
                    .with_help("secret names become environment variables: letters, digits and `_`"),
            );
            return;
        }
        match check_value(value, &Type::Secret) {
            Ok(Val::NewSecret(source)) => {
                if let Some(first) = self.secrets.get(&var) {
                    let first = first.span;
                    self.error(
                        Diagnostic::error(
                            Code::E0108,
                            format!("secret `{}` is stored as `{var}`, like an earlier secret", name.name),
                            name.span,
                            "same variable",
                        )
                        .with_label(first, "the earlier secret")
                        .with_help("secret names map to environment variables in upper case with `-` as `_`; rename one of them"),
                    );
                    self.secret_names.insert(name.name.clone(), var.clone());
                    return;
                }
                self.secret_names.insert(name.name.clone(), var.clone());
                self.secrets.insert(var.clone(), Secret { var, source, used_by: Vec::new(), span: name.span });
            }
            Ok(_) => self.error(
                Diagnostic::error(
                    Code::E0104,
                    "a secret is declared with `generate(...)` or `required(...)`",
                    value.span,
                    "expected a secret source",
                )
                .with_help("write `secret name = generate(hex, 32)` or `secret name = required(\"where to get it\")`"),
            ),
            Err(error) => self.error(error),
        }
    }
}

pub(super) fn setting_problem(key: &str, value: &str) -> Option<String> {
    let bad_chars = |v: &str| v.chars().any(|c| c.is_whitespace() || c.is_control() || "\"'`$\\;{}#".contains(c));
    match key {
        "domain" => {
            let valid = value.len() <= 253
                && value.split('.').count() >= 2
                && value.split('.').all(|label| {
                    !label.is_empty()
                        && label.len() <= 63
                        && !label.starts_with('-')
                        && !label.ends_with('-')
                        && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                });
            (!valid).then(|| format!("`{value}` is not a domain name"))
        }
        "acme_email" => {
            let valid = value.split_once('@').is_some_and(|(user, host)| !user.is_empty() && host.contains('.')) && !bad_chars(value);
            (!valid).then(|| format!("`{value}` is not an email address"))
        }
        "offsite" => {
            (!(value.starts_with("s3://") && value.len() > 5) || bad_chars(value)).then(|| format!("`{value}` is not an s3:// URL"))
        }
        "path" | "backup_root" => {
            (!is_container_path(value) || value == "/").then(|| format!("`{value}` is not an absolute directory path"))
        }
        "context" => (value.starts_with('/') || bad_chars(value) || value.split('/').any(|part| part == ".."))
            .then(|| format!("`{value}` is not a relative path inside the stack's directory")),
        _ => None,
    }
}

pub(super) fn setting_help(key: &str) -> &'static str {
    match key {
        "domain" => "write the host name users reach, like \"app.example.com\"",
        "acme_email" => "write an address Let's Encrypt can reach, like \"ops@example.com\"",
        "offsite" => "write an S3 URL like \"s3://bucket/prefix\"; backups are synced there with `aws s3 sync`",
        "path" | "backup_root" => "write an absolute path on the server, like \"/opt/my-app\", without spaces or quotes",
        _ => "write a path relative to the stack file, like \".\" or \"app\"",
    }
}

/// The stack file's declarations, each name once.
pub(super) struct Declared<'f> {
    pub(super) stack_name: &'f Ident,
    pub(super) stack_body: &'f Block,
    /// The proxy item and the span of its kind.
    pub(super) proxy_item: Option<(&'f Item, Span)>,
    pub(super) services: Vec<&'f Item>,
}

impl Resolver<'_> {
    /// The stack, the proxy and the services a file declares; a name
    /// declared twice is E0108, a file without a stack E0106.
    pub(super) fn declarations<'f>(&mut self, file: &'f File, file_span: Span) -> Option<Declared<'f>> {
        let mut stack_item = None;
        let mut proxy_item = None;
        let mut services = Vec::new();
        let mut declared: IndexMap<String, (&'static str, Span)> = IndexMap::new();
        for item in &file.items {
            let name = match item {
                Item::Stack { name, .. } => {
                    let second = ("a file declares one stack", "stack", "put each stack in its own file");
                    self.only_one(&mut stack_item, item, name.span, second);
                    continue;
                }
                Item::Proxy { kind, .. } => {
                    let second = ("a stack has one proxy", "proxy", "one proxy routes every service that has a `route`");
                    self.only_one(&mut proxy_item, item, kind.span, second);
                    continue;
                }
                Item::Kind { .. } => continue,
                Item::Secret { name, .. } => name,
                Item::Service { name, .. } => {
                    services.push(item);
                    name
                }
            };
            if let Some((what, first)) = declared.get(&name.name) {
                self.error(
                    Diagnostic::error(
                        Code::E0108,
                        format!("the name `{}` is declared twice", name.name),
                        name.span,
                        format!("{} declared again", item.keyword()),
                    )
                    .with_label(*first, format!("first declared here as a {what}"))
                    .with_help("services and secrets share one namespace; rename one of them"),
                );
            } else {
                declared.insert(name.name.clone(), (item.keyword(), name.span));
            }
        }
        let Some((Item::Stack { name: stack_name, body: stack_body }, _)) = stack_item else {
            self.error(
                Diagnostic::error(
                    Code::E0106,
                    "the file declares no stack",
                    Span { end: file_span.start, ..file_span },
                    "expected `stack NAME { ... }`",
                )
                .with_help("start the file with `stack my-app { domain = \"example.com\" }`"),
            );
            return None;
        };
        if !is_service_name(&stack_name.name) {
            self.error(Diagnostic::error(Code::E0502, format!("`{}` is not a valid stack name", stack_name.name), stack_name.span, "invalid name")
                .with_help("stack names become Compose project and file names: lowercase letters, digits and `-`, starting with a letter, at most 63 characters"));
        }
        Some(Declared { stack_name, stack_body, proxy_item, services })
    }

    /// Keeps the first of a declaration a file has once (the stack, the
    /// proxy); a second is E0108, with `(message, what, help)`.
    fn only_one<'f>(&mut self, first: &mut Option<(&'f Item, Span)>, item: &'f Item, span: Span, second: (&str, &str, &str)) {
        let (message, what, help) = second;
        match first {
            Some((_, first)) => self.error(
                Diagnostic::error(Code::E0108, message, span, format!("second {what}"))
                    .with_label(*first, format!("first {what}"))
                    .with_help(help),
            ),
            None => *first = Some((item, span)),
        }
    }
}

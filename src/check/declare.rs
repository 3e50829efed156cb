//! Declare: which kinds a stack sees. Kinds load stdlib → `kinds/*.rag` →
//! the stack file, a later name replacing an earlier (a user's kind
//! shadows the stdlib's of the same name).
//!
//! Input: the parsed stack file and the user's kind files. Output: every
//! kind by name, each checked once ([`KindDef`]), with the problems of
//! every kind file. Invariant: the stdlib's kinds go through the same code
//! as a user's.

use indexmap::IndexMap;

use super::kinds::KindDef;
use crate::diag::{Diagnostic, Sources};
use crate::input::Input;
use crate::syntax::{self, File, Item};

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

//! Rules: what holds across the whole stack once it is resolved.
//!
//! Input: the resolved [`Stack`] (and the user's templates). Output:
//! diagnostics only; a rule never changes the model.

use crate::diag::Diagnostic;
use crate::input::UserTemplates;
use crate::model::Stack;

/// Backups need the kind's backup and restore templates.
pub(super) fn backups_have_templates(stack: &Stack, templates: &UserTemplates) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for service in stack.services.values().filter(|s| s.backup.is_some()) {
        let missing: Vec<String> = ["backup", "restore"]
            .iter()
            .map(|script| format!("kinds/{}/{script}.sh.j2", service.kind))
            .filter(|name| !crate::stdlib::has_template(name, templates))
            .collect();
        if !missing.is_empty() {
            let list = missing.iter().map(|name| format!("`{name}`")).collect::<Vec<_>>().join(" and ");
            out.push(
                Diagnostic::error(
                    "E0403",
                    format!("kind `{}` can't be backed up: {list} missing", service.kind),
                    service.span,
                    "backup requested here",
                )
                .with_help(format!("write {list} next to the kind file, or remove `backup`")),
            );
        }
    }
    out
}

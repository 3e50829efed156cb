//! `ragc rotate`: replace one generated secret in `.env.production` with a
//! fresh value from the OS random source, and say which services must be
//! restarted to read it. The only way a generated secret ever changes.

use std::path::PathBuf;

use super::{compile_stack, lock_out_dir, problem_exit, report_problems, Compiled, Format, EXIT_INTERNAL, EXIT_OK, EXIT_USER};
use crate::model::SecretSource;
use crate::plan::disk::{self, Change, Changes, Status};
use crate::plan::secrets::{self, RotateError};
use crate::plan::write::{self, NoFaults, WriteError};
use crate::plan::Contents;

#[derive(Debug, clap::Args)]
pub struct RotateArgs {
    /// The stack file.
    pub stack: PathBuf,
    /// The secret: its variable (JWT_SECRET), or its name in the stack (jwt_secret, db.password).
    pub name: String,
    /// Output directory [default: `deploy/` next to the stack file].
    #[arg(short, long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

pub fn run(args: &RotateArgs, color: bool) -> u8 {
    let Compiled { compilation, plan, out_dir } = match compile_stack(&args.stack, args.out.as_deref(), color, Format::Human) {
        Ok(compiled) => compiled,
        Err(code) => return code,
    };
    let (Some(plan), Some(stack)) = (plan, compilation.stack.as_ref()) else { return EXIT_USER };
    let Some(Contents::Secrets(file)) = plan.get(".env.production").map(|a| &a.contents) else { return EXIT_USER };
    let env_path = out_dir.join(".env.production");

    // JWT_SECRET, jwt_secret and db.password all name a variable.
    let wanted = args.name.replace(['.', '-'], "_").to_ascii_uppercase();
    let Some(secret) = stack.secrets.get(&wanted) else {
        let generated: Vec<&str> =
            stack.secrets.values().filter(|s| matches!(s.source, SecretSource::Generate { .. })).map(|s| s.var.as_str()).collect();
        eprintln!("error: the stack has no secret `{}`", args.name);
        eprintln!("  = help: the secrets ragc generates, and can rotate: {}", generated.join(", "));
        return EXIT_USER;
    };
    if let SecretSource::Required { .. } = secret.source {
        eprintln!("error: {} is a required secret: its value comes from you, not from ragc", secret.var);
        eprintln!("  = help: put the new value in {} yourself, then restart the services that use it", env_path.display());
        return EXIT_USER;
    }

    if std::fs::symlink_metadata(&out_dir).is_err() {
        eprintln!("error: {} does not exist yet: `ragc compile` creates it, with every secret", env_path.display());
        return EXIT_USER;
    }
    // Held to the end: a compile must not compare or write meanwhile.
    let _lock = match lock_out_dir(&out_dir, color) {
        Ok(lock) => lock,
        Err(code) => return code,
    };
    let changes = match disk::compare(&plan, &out_dir) {
        Ok(changes) => changes,
        Err(problems) => {
            report_problems(&problems, color);
            return problem_exit(&problems);
        }
    };
    let Some(current) = changes.get(".env.production") else { return EXIT_INTERNAL };
    let existing = match (current.status, current.old.as_deref()) {
        (Status::Create, _) | (_, None) => {
            eprintln!("error: {} does not exist yet: `ragc compile` creates it, with every secret", env_path.display());
            return EXIT_USER;
        }
        (Status::Foreign, _) => {
            report_problems(
                &changes.refusals().into_iter().filter(|p| p.file == env_path.display().to_string()).collect::<Vec<_>>(),
                color,
            );
            return EXIT_USER;
        }
        (_, Some(bytes)) => String::from_utf8_lossy(bytes).into_owned(),
    };
    let rotated = match secrets::rotate(file, &existing, &secret.var) {
        Ok(text) => text,
        Err(RotateError::NotInFile) => {
            eprintln!("error: {} has no value for {} yet: run `ragc compile` first, which creates it", env_path.display(), secret.var);
            return EXIT_USER;
        }
        Err(RotateError::Random(e)) => {
            eprintln!("error: the OS random source failed: {e}");
            return EXIT_INTERNAL;
        }
        Err(RotateError::Unknown | RotateError::Required) => return EXIT_USER,
    };
    // Only the env file is written, through the same atomic writer as a compile.
    let only = Changes {
        out_dir: out_dir.clone(),
        changes: vec![Change { status: Status::Update, new: Some(rotated), mode: 0o600, keep: false, ..current.clone() }],
        manifest: None,
    };
    match write::apply(&only, false, &mut NoFaults) {
        Ok(_) => {}
        Err(WriteError::Refused(problems) | WriteError::Failed(problems)) => {
            report_problems(&problems, color);
            return EXIT_INTERNAL;
        }
    }

    let services: Vec<&str> = secret.used_by.iter().map(String::as_str).collect();
    println!("rotated {} in {}", secret.var, env_path.display());
    if services.is_empty() {
        println!("no service uses it: nothing to restart");
        return EXIT_OK;
    }
    println!("used by: {}", services.join(", "));
    println!("restart them so that they read the new value (run in {}):", out_dir.display());
    println!("  docker compose {} up -d --force-recreate {}", crate::emit::PRODUCTION_FILES, services.join(" "));
    for name in services.iter().filter(|name| stack.services.get(**name).is_some_and(|s| s.stateful)) {
        println!(
            "note: {name} keeps its data in a volume; if it stored the old value when it was first initialised (PostgreSQL does, for its password), change the value inside {name} too, or the services that use it can no longer connect"
        );
    }
    EXIT_OK
}

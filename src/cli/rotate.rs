//! `ragc rotate`: replace one generated secret in `.env.production` with a
//! fresh value from the OS random source, and say which services must be
//! restarted to read it. The only way a generated secret ever changes.
//!
//! The value it replaces is kept, as its line stood, in
//! `.env.production.history` (mode 0600) until the operator confirms that
//! the services work with the new one (`ragc rotate STACK VAR --confirm`).
//! A PostgreSQL password is also stored inside the database, which ignores
//! `POSTGRES_PASSWORD` once initialised: the running database must be told
//! the new password (`ALTER ROLE`, through its container) before the
//! services that use it restart with it. `--live` does both.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::{compile_stack, lock_out_dir, problem_exit, report_problems, Compiled, Format, EXIT_INTERNAL, EXIT_OK, EXIT_USER};
use crate::diag::Diagnostic;
use crate::model::{Secret, SecretSource, Stack};
use crate::plan::disk::{self, Change, Changes, Status};
use crate::plan::secrets::{self, RotateError, Rotated};
use crate::plan::write::{self, NoFaults, WriteError};
use crate::plan::{Contents, SecretsFile};

#[derive(Debug, clap::Args)]
pub struct RotateArgs {
    /// The stack file.
    pub stack: PathBuf,
    /// The secret: its variable (JWT_SECRET), or its name in the stack (jwt_secret, db.password).
    pub name: String,
    /// Output directory [default: `deploy/` next to the stack file].
    #[arg(short, long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Also tell the running stack (run in the output directory, through `docker compose`): a
    /// database password is changed inside the running database first, then the services
    /// that use the secret are recreated. If the database refuses, the rotation is undone.
    #[arg(long, conflicts_with = "confirm")]
    pub live: bool,
    /// The services work with the new value: forget the previous one (kept in
    /// `.env.production.history` since the rotation).
    #[arg(long)]
    pub confirm: bool,
}

/// The file that keeps the values rotation replaced, beside `.env.production`.
pub const HISTORY: &str = ".env.production.history";

/// A PostgreSQL database that keeps a secret as a role's password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Database {
    pub service: String,
    pub role: String,
}

/// The PostgreSQL service whose `POSTGRES_PASSWORD` is exactly `var`, and
/// the role it sets it for (`POSTGRES_USER`, by default `postgres`).
pub fn database_of(stack: &Stack, var: &str) -> Option<Database> {
    stack.services.values().find_map(|service| {
        let postgres = service.kind == "postgres" || service.image.as_deref().is_some_and(|i| i.starts_with("postgres:"));
        // In its environment, or (as the stdlib kind does) in the file its
        // POSTGRES_PASSWORD_FILE names.
        let file = || {
            let path = service.env.get("POSTGRES_PASSWORD_FILE")?.as_literal()?;
            service.files.get(path.strip_prefix("/run/secrets/")?)
        };
        let password = service.env.get("POSTGRES_PASSWORD").or_else(file)?;
        let only_var = password.0.len() == 1 && password.secrets().eq([var]);
        (postgres && only_var).then(|| Database {
            service: service.name.clone(),
            role: service.env.get("POSTGRES_USER").and_then(crate::model::Text::as_literal).unwrap_or_else(|| "postgres".to_string()),
        })
    })
}

/// `docker compose` with the production files, as run in the output directory.
fn compose_args() -> Vec<String> {
    std::iter::once("compose").chain(crate::emit::compose::PRODUCTION_FILES.split(' ')).map(String::from).collect()
}

/// The `docker` arguments and the standard input that change `db`'s
/// password to `password` inside its running container: `psql` over the
/// container's local socket, the statement on standard input (never on a
/// command line, where `ps` would show it), stopping at the first error.
pub fn alter_role(db: &Database, password: &str) -> (Vec<String>, String) {
    let mut args = compose_args();
    args.extend(
        ["exec", "-T", &db.service, "psql", "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-U", &db.role, "-d", "postgres"].map(String::from),
    );
    let role = db.role.replace('"', "\"\"");
    let literal = password.replace('\'', "''");
    (args, format!("ALTER ROLE \"{role}\" WITH PASSWORD '{literal}';\n"))
}

/// The `docker` arguments that recreate `services` so they read the new value.
pub fn recreate(services: &[&str]) -> Vec<String> {
    let mut args = compose_args();
    args.extend(["up", "-d", "--force-recreate"].map(String::from));
    args.extend(services.iter().map(|s| (*s).to_string()));
    args
}

/// The docker client: `RAGC_DOCKER`, or `docker` from the PATH.
fn docker() -> String {
    std::env::var("RAGC_DOCKER").unwrap_or_else(|_| "docker".to_string())
}

/// Runs `docker ARGS` in `dir` with `input` on standard input; the error says why it failed.
fn run_docker(dir: &Path, args: &[String], input: &str) -> Result<(), String> {
    let mut child = Command::new(docker())
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("can't run {}: {e}", docker()))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input.as_bytes()).map_err(|e| format!("can't write to {}: {e}", docker()))?;
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`docker {}` failed ({status})", args.iter().take(8).cloned().collect::<Vec<_>>().join(" ")))
    }
}

/// The history file's change: its new text (`None`: remove it).
fn history_change(out_dir: &Path, new: Option<String>) -> Result<Change, Diagnostic> {
    let path = out_dir.join(HISTORY);
    let (old, old_mode) = match std::fs::symlink_metadata(&path) {
        Ok(meta) if !meta.is_file() => {
            return Err(disk::environment_error(&path, format!("{} is not a regular file", path.display()), "move it away"));
        }
        Ok(meta) => {
            use std::os::unix::fs::PermissionsExt;
            let bytes =
                std::fs::read(&path).map_err(|e| disk::environment_error(&path, format!("can't read it: {e}"), "check its permissions"))?;
            (Some(bytes), Some(meta.permissions().mode() & 0o7777))
        }
        Err(_) => (None, None),
    };
    let status = match (&old, &new) {
        (None, _) => Status::Create,
        (Some(_), None) => Status::Remove,
        (Some(_), Some(_)) => Status::Update,
    };
    Ok(Change { path: HISTORY.to_string(), status, old, old_mode, new, mode: 0o600, secrets: true, hidden: false, keep: false })
}

fn apply(changes: Vec<Change>, out_dir: &Path, color: bool) -> Result<(), u8> {
    let only = Changes { out_dir: out_dir.to_path_buf(), changes, manifest: None };
    match write::apply(&only, false, &mut NoFaults) {
        Ok(_) => Ok(()),
        Err(WriteError::Refused(problems) | WriteError::Failed(problems)) => {
            report_problems(&problems, color);
            Err(EXIT_INTERNAL)
        }
    }
}

pub fn run(args: &RotateArgs, color: bool) -> u8 {
    let Compiled { compilation, plan, out_dir } = match compile_stack(&args.stack, args.out.as_deref(), color, Format::Human) {
        Ok(compiled) => compiled,
        Err(code) => return code,
    };
    let (Some(plan), Some(stack)) = (plan, compilation.stack.as_ref()) else { return EXIT_USER };
    let Some(Contents::Secrets(file)) = plan.get(".env.production").map(|a| &a.contents) else { return EXIT_USER };
    let env_path = out_dir.join(".env.production");
    let history_path = out_dir.join(HISTORY);

    let secret = match rotatable(stack, &args.name, &env_path) {
        Ok(secret) => secret,
        Err(code) => return code,
    };

    if std::fs::symlink_metadata(&out_dir).is_err() {
        eprintln!("error: {} does not exist yet: `ragc compile` creates it, with every secret", env_path.display());
        return EXIT_USER;
    }
    // Held to the end: a compile must not compare or write meanwhile.
    let _lock = match lock_out_dir(&out_dir, color) {
        Ok(lock) => lock,
        Err(code) => return code,
    };
    let history = match history_change(&out_dir, None) {
        Ok(change) => change,
        Err(problem) => {
            report_problems(&[problem], color);
            return EXIT_USER;
        }
    };
    let history_text = history.old.as_deref().map(|b| String::from_utf8_lossy(b).into_owned());
    let pending = match history_text.as_deref().map(|text| secrets::history_holds(text, &secret.var)) {
        None => false,
        Some(Ok(holds)) => holds,
        Some(Err(e)) => {
            report_problems(&[disk::unreadable_env(&history_path, &e)], color);
            return EXIT_USER;
        }
    };
    let again = args.stack.display();

    if args.confirm {
        return confirm(pending, history, history_text.as_deref(), &secret.var, &out_dir, color);
    }
    if pending {
        eprintln!(
            "error: {} was rotated and the rotation is not confirmed: {} still holds its previous value",
            secret.var,
            history_path.display()
        );
        eprintln!(
            "  = help: once the services work with the current value, run `ragc rotate {again} {} --confirm`, then rotate again",
            secret.var
        );
        return EXIT_USER;
    }

    let changes = match disk::compare(&plan, &out_dir) {
        Ok(changes) => changes,
        Err(problems) => {
            report_problems(&problems, color);
            return problem_exit(&problems);
        }
    };
    let Some(current) = changes.get(".env.production") else { return EXIT_INTERNAL };
    let existing = match existing_env(current, &changes, &env_path, color) {
        Ok(existing) => existing,
        Err(code) => return code,
    };
    let rotated = match rotate_in(file, &existing, &secret.var, &env_path, color) {
        Ok(rotated) => rotated,
        Err(code) => return code,
    };
    // The env file and the history in one transaction, through the same
    // atomic writer as a compile: both change, or neither.
    let history_new = secrets::history_add(history_text.as_deref(), &secret.var, &rotated.previous);
    let env_change = Change { status: Status::Update, new: Some(rotated.text.clone()), mode: 0o600, keep: false, ..current.clone() };
    let history_new_change = Change { new: Some(history_new), status: history.status, ..history.clone() };
    // The secret files made from the value go with it, in the same transaction.
    let files = match disk::secret_files(&plan, &out_dir, &rotated.text) {
        Ok(files) => files.into_iter().filter(|change| change.status != Status::Unchanged).collect::<Vec<_>>(),
        Err(problems) => {
            report_problems(&problems, color);
            return problem_exit(&problems);
        }
    };
    let mut forward = vec![env_change, history_new_change];
    forward.extend(files.iter().cloned());
    if let Err(code) = apply(forward, &out_dir, color) {
        return code;
    }

    let services: Vec<&str> = secret.used_by.iter().map(String::as_str).collect();
    let database = database_of(stack, &secret.var);
    println!("rotated {} in {}", secret.var, env_path.display());
    println!("the previous value is kept in {} until you confirm: `ragc rotate {again} {} --confirm`", history_path.display(), secret.var);
    if services.is_empty() {
        println!("no service uses it: nothing to restart");
        return EXIT_OK;
    }
    println!("used by: {}", services.join(", "));

    if args.live {
        let undo = Undo { current, existing, rotated_text: &rotated.text, history_text, files };
        return live(database.as_ref(), &rotated.new_value, &services, undo, &out_dir, color, &again_confirm(&again, &secret.var));
    }

    print_manual_steps(stack, database.as_ref(), &secret.var, &services, &out_dir, &again);
    EXIT_OK
}

/// The generated secret `name` names (JWT_SECRET, jwt_secret and
/// db.password all name a variable); a required one is the operator's.
fn rotatable<'s>(stack: &'s Stack, name: &str, env_path: &Path) -> Result<&'s Secret, u8> {
    let wanted = name.replace(['.', '-'], "_").to_ascii_uppercase();
    let Some(secret) = stack.secrets.get(&wanted) else {
        let generated: Vec<&str> =
            stack.secrets.values().filter(|s| matches!(s.source, SecretSource::Generate { .. })).map(|s| s.var.as_str()).collect();
        eprintln!("error: the stack has no secret `{name}`");
        eprintln!("  = help: the secrets ragc generates, and can rotate: {}", generated.join(", "));
        return Err(EXIT_USER);
    };
    if let SecretSource::Required { .. } = secret.source {
        eprintln!("error: {} is a required secret: its value comes from you, not from ragc", secret.var);
        eprintln!("  = help: put the new value in {} yourself, then restart the services that use it", env_path.display());
        return Err(EXIT_USER);
    }
    Ok(secret)
}

/// `--confirm`: the previous value of `var` leaves the history.
fn confirm(pending: bool, history: Change, history_text: Option<&str>, var: &str, out_dir: &Path, color: bool) -> u8 {
    let history_path = out_dir.join(HISTORY);
    if !pending {
        eprintln!("error: {} holds no previous value of {var}: nothing to confirm", history_path.display());
        return EXIT_USER;
    }
    let left = secrets::history_remove(history_text.unwrap_or_default(), var);
    let change = Change { new: left, status: Status::Update, ..history };
    let change = if change.new.is_none() { Change { status: Status::Remove, ..change } } else { change };
    if let Err(code) = apply(vec![change], out_dir, color) {
        return code;
    }
    println!("confirmed {var}: its previous value is forgotten ({})", history_path.display());
    EXIT_OK
}

/// The production env file as it is on disk, which must be ragc's.
fn existing_env(current: &Change, changes: &Changes, env_path: &Path, color: bool) -> Result<String, u8> {
    match (current.status, current.old.as_deref()) {
        (Status::Create, _) | (_, None) => {
            eprintln!("error: {} does not exist yet: `ragc compile` creates it, with every secret", env_path.display());
            Err(EXIT_USER)
        }
        (Status::Foreign, _) => {
            report_problems(
                &changes.refusals().into_iter().filter(|p| p.path == Some(env_path.display().to_string())).collect::<Vec<_>>(),
                color,
            );
            Err(EXIT_USER)
        }
        // Read back by `compare`: UTF-8, as Compose reads it.
        (_, Some(bytes)) => Ok(String::from_utf8_lossy(bytes).into_owned()),
    }
}

/// The env file with a fresh value of `var`.
fn rotate_in(file: &SecretsFile, existing: &str, var: &str, env_path: &Path, color: bool) -> Result<Rotated, u8> {
    match secrets::rotate(file, existing, var) {
        Ok(rotated) => Ok(rotated),
        Err(RotateError::NotInFile) => {
            eprintln!("error: {} has no value for {var} yet: run `ragc compile` first, which creates it", env_path.display());
            Err(EXIT_USER)
        }
        Err(RotateError::Random(e)) => {
            eprintln!("error: the OS random source failed: {e}");
            Err(EXIT_INTERNAL)
        }
        Err(RotateError::Unreadable(e)) => {
            report_problems(&[disk::unreadable_env(env_path, &e)], color);
            Err(EXIT_USER)
        }
        Err(RotateError::Unknown | RotateError::Required) => Err(EXIT_USER),
    }
}

/// What a rotation changed, to put back when the database refuses it.
struct Undo<'a> {
    /// The env file's change as the comparison found it.
    current: &'a Change,
    /// The env file before the rotation.
    existing: String,
    rotated_text: &'a str,
    history_text: Option<String>,
    /// The secret files the rotation rewrote.
    files: Vec<Change>,
}

/// `rotate VAR --confirm`, as the operator types it next.
fn again_confirm(again: &std::path::Display<'_>, var: &str) -> String {
    format!("ragc rotate {again} {var} --confirm")
}

/// `--live`: the database learns the new password first (a refusal undoes
/// the rotation), then the services that use it are recreated.
fn live(database: Option<&Database>, new_value: &str, services: &[&str], undo: Undo<'_>, out_dir: &Path, color: bool, confirm: &str) -> u8 {
    if let Some(db) = database {
        let (alter, input) = alter_role(db, new_value);
        println!("telling {} the new password of role {} (docker compose exec {} psql)", db.service, db.role, db.service);
        if let Err(e) = run_docker(out_dir, &alter, &input) {
            eprintln!("error: {e}: the database keeps the old password");
            return undo_rotation(undo, out_dir, color);
        }
    }
    println!("recreating {} so that they read the new value", services.join(", "));
    if let Err(e) = run_docker(out_dir, &recreate(services), "") {
        eprintln!("error: {e}");
        eprintln!("  = help: run it again in {}: docker {}", out_dir.display(), recreate(services).join(" "));
        return EXIT_INTERNAL;
    }
    println!("done: once they work, run `{confirm}`");
    EXIT_OK
}

/// Puts back the env file, the history and each secret file as they were.
fn undo_rotation(undo: Undo<'_>, out_dir: &Path, color: bool) -> u8 {
    let (env_path, history_path) = (out_dir.join(".env.production"), out_dir.join(HISTORY));
    let Undo { current, existing, rotated_text, history_text, files } = undo;
    // Undo: the env file as it was, the history without this rotation.
    let undo = vec![
        Change {
            status: Status::Update,
            new: Some(existing),
            mode: 0o600,
            keep: false,
            old: Some(rotated_text.as_bytes().to_vec()),
            ..current.clone()
        },
        match history_change(out_dir, history_text.clone()) {
            Ok(change) => Change { status: if history_text.is_some() { Status::Update } else { Status::Remove }, ..change },
            Err(problem) => {
                report_problems(&[problem], color);
                return EXIT_INTERNAL;
            }
        },
    ];
    // And each secret file as it was (or gone, if it was new).
    let undo = undo.into_iter().chain(files.into_iter().map(|file| {
        let status = if file.old.is_some() { Status::Update } else { Status::Remove };
        let new = file.old.as_deref().map(|old| String::from_utf8_lossy(old).into_owned());
        Change { status, old: file.new.map(String::into_bytes), new, ..file }
    }));
    let undo: Vec<Change> = undo.collect();

    if apply(undo, out_dir, color).is_err() {
        eprintln!("error: and the rotation could not be undone: the previous value is in {}", history_path.display());
        return EXIT_INTERNAL;
    }
    eprintln!(
        "  = help: the rotation is undone ({} holds its previous value again); start the stack, then rotate again",
        env_path.display()
    );
    EXIT_INTERNAL
}

/// Without `--live`: what the operator runs, in order.
fn print_manual_steps(
    stack: &Stack,
    database: Option<&Database>,
    var: &str,
    services: &[&str],
    out_dir: &Path,
    again: &std::path::Display<'_>,
) {
    let env_path = out_dir.join(".env.production");
    println!("then, in {}:", out_dir.display());
    if let Some(db) = database {
        println!(
            "  1. tell {} the new password (it keeps the old one in its data volume): paste the new {} from {} at the prompt of",
            db.service,
            var,
            env_path.display()
        );
        println!(
            "     docker compose {} exec {} psql -U {} -d postgres -c '\\password'",
            crate::emit::compose::PRODUCTION_FILES,
            db.service,
            shlex::try_quote(&db.role).unwrap_or_default(),
        );
        println!("  2. restart the services that use it:");
        println!("     docker {}", recreate(services).join(" "));
        println!("  (`ragc rotate {again} {} --live` does both, in that order)", var);
        return;
    }
    println!("restart them so that they read the new value:");
    println!("  docker {}", recreate(services).join(" "));
    for name in services.iter().filter(|name| stack.services.get(**name).is_some_and(|s| s.stateful)) {
        println!(
            "note: {name} keeps its data in a volume; if it stored the old value when it was first initialised, change the value inside {name} too, or the services that use it can no longer connect"
        );
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_is_told_on_standard_input_not_on_a_command_line() {
        let db = Database { service: "db".into(), role: "app".into() };
        let (args, input) = alter_role(&db, "n3w'pass");
        assert_eq!(
            args.join(" "),
            "compose --env-file .env.production -f compose.yaml -f compose.production.yaml exec -T db psql --no-psqlrc -v ON_ERROR_STOP=1 -U app -d postgres"
        );
        assert_eq!(input, "ALTER ROLE \"app\" WITH PASSWORD 'n3w''pass';\n");
        assert!(!args.iter().any(|a| a.contains("n3w")));
        let odd = Database { service: "db".into(), role: "a\"b".into() };
        assert_eq!(alter_role(&odd, "x").1, "ALTER ROLE \"a\"\"b\" WITH PASSWORD 'x';\n");
        assert_eq!(
            recreate(&["db", "api"]).join(" "),
            "compose --env-file .env.production -f compose.yaml -f compose.production.yaml up -d --force-recreate db api"
        );
    }

    #[test]
    fn the_database_of_a_password_is_found_by_its_environment() {
        let input = crate::input::Input::from_text(
            "s.rag",
            "stack s {}\nservice db: postgres { user = \"owner\" }\nservice cache: redis {}\nservice api: image {\n  image = \"x:1\"\n  env { URL = db.url }\n}\n",
        );
        let (compilation, _) = crate::compile(&input, &crate::emit::EmitOptions::default());
        let stack = compilation.stack.as_ref().expect("compiles");
        assert_eq!(database_of(stack, "DB_PASSWORD"), Some(Database { service: "db".into(), role: "owner".into() }));
        assert_eq!(database_of(stack, "CACHE_PASSWORD"), None);
    }
}

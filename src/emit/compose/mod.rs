//! The Compose target: a [`Stack`] lowered to the Compose files, the
//! Dockerfiles, the env files, the nginx site, the backup scripts and the
//! ops scripts, rendered through the templates under `stdlib/templates/`
//! (or a user's `kinds/<kind>/` templates). Does no IO.
//!
//! Input: the model and the user's templates. Output: a [`Plan`].
//! Invariant: output is byte-deterministic; every value crosses into an
//! artifact through the escaping filter of that artifact's syntax.

pub mod filters;
mod native;
mod secret_files;
mod views;

use std::cell::LazyCell;
use std::sync::Arc;

use indexmap::IndexMap;
use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;
use serde_json::json;

use super::{jinja, jobs, EmitError, EmitOptions, UserTemplates};
use crate::artifact::{with_header, Artifact, CommentStyle, Contents, Plan, SecretEntry, SecretsFile};
use crate::diag::Code;
use crate::model::{Stack, Text};
use native::Native;

/// The env file and Compose files a production `docker compose` command names.
pub const PRODUCTION_FILES: &str = "--env-file .env.production -f compose.yaml -f compose.production.yaml";

/// The templates that loop over every service, the longest render first:
/// threads start on these.
const PER_SERVICE: [Native; 4] = [Native::ComposeBase, Native::EnvExample, Native::ComposeLint, Native::ComposeProduction];

fn environment(user: &UserTemplates, services: usize) -> Environment<'static> {
    let mut env = Environment::new();
    if !user.is_empty() {
        jinja::limit(&mut env, services);
    }
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_keep_trailing_newline(true);
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    // Users' templates are promised `{## ##}` comments, so that bash's
    // `${#array[@]}` stays literal. The stdlib's templates read the same
    // under Jinja's own syntax (a test checks), which minijinja lexes with a
    // memchr scan instead of an automaton: 7% of a small stack's compile.
    if !user.is_empty() {
        env.set_syntax(user_syntax());
    }
    let user = user.clone();
    env.set_loader(move |name| {
        if let Some(text) = user.get(name) {
            return Ok(Some(text.clone()));
        }
        Ok(crate::stdlib::template(name).map(ToString::to_string))
    });
    env.add_filter("sh", filters::sh);
    env.add_filter("nginx", filters::nginx);
    env.add_filter("cron", filters::cron);
    env.add_filter("exec_form", filters::exec_form);
    env.add_filter("comment", filters::comment);
    env
}

/// The syntax of users' templates: comments are `{## ##}`, so `{#` is text.
fn user_syntax() -> minijinja::syntax::SyntaxConfig {
    minijinja::syntax::SyntaxConfig::builder().comment_delimiters("{##", "##}").build().expect("valid delimiters")
}

/// A size the way Docker and Compose read it: the largest exact unit.
pub(crate) fn size_text(bytes: u64) -> String {
    for (unit, factor) in [("g", 1u64 << 30), ("m", 1 << 20), ("k", 1 << 10)] {
        if bytes.is_multiple_of(factor) {
            return format!("{}{unit}", bytes / factor);
        }
    }
    format!("{bytes}b")
}

/// True when a dotted version (`1.25`, `1.26.2`) is at least `minimum`.
fn version_at_least(version: &str, minimum: (u64, u64, u64)) -> bool {
    let mut parts = version.split('.').map(|part| part.parse::<u64>().unwrap_or(0));
    let found = (parts.next().unwrap_or(0), parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    found >= minimum
}

/// Joins `/`-separated relative paths and folds `dir/..` pairs; `.` for nothing.
fn join(parts: &[&str]) -> String {
    let mut out: Vec<&str> = Vec::new();
    for part in parts.iter().flat_map(|p| p.split('/')) {
        match part {
            "" | "." => {}
            ".." if out.last().is_some_and(|last| *last != "..") => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    if out.is_empty() {
        ".".into()
    } else {
        out.join("/")
    }
}

/// The build context seen from the output directory, and the output
/// directory seen from the build context. `context` is relative to the stack
/// file and never climbs out of it (the checker makes sure); the options are
/// computed from canonical paths (see `cli::compile::out_dir`), so a folded
/// `..` here is a real parent, not a symlink's.
fn relative_paths(options: &EmitOptions, context: &str) -> (String, String) {
    let (out, context) = (join(&[&options.out_from_stack]), join(&[context]));
    // Names of the directories above the stack's are known only to the way back.
    let context_from_out =
        if out.split('/').any(|p| p == "..") { join(&[&options.stack_from_out, &context]) } else { relative_to(&context, &out) };
    (context_from_out, relative_to(&out, &context))
}

/// The folded relative path `to` seen from the folded relative path `from`,
/// both relative to one directory: `app/deploy` from `app` is `deploy`, not
/// `../app/deploy`, so that the ignore file can exclude it.
fn relative_to(to: &str, from: &str) -> String {
    fn parts(path: &str) -> Vec<&str> {
        path.split('/').filter(|p| !matches!(*p, "" | ".")).collect()
    }
    let (to, from) = (parts(to), parts(from));
    let common = to.iter().zip(&from).take_while(|(a, b)| a == b && **a != "..").count();
    let mut out = vec![".."; from.len() - common];
    out.extend(&to[common..]);
    join(&out)
}

#[derive(Serialize)]
pub(crate) struct Paths {
    /// The build context, relative to the compose files.
    context: String,
    /// The output directory, relative to the build context.
    out_from_context: String,
    /// The output directory on the server (the crontab calls its scripts there).
    output_on_server: String,
}

/// Where the output directory is on the server: the stack's `path` is the
/// stack file's directory there, and the output directory sits from it as it
/// does here (`/opt/app` and `-o deploy`: `/opt/app/deploy`). Never above `/`.
fn output_on_server(path: &str, out_from_stack: &str) -> String {
    let joined = join(&[path, out_from_stack]);
    let parts: Vec<&str> = joined.split('/').filter(|part| !matches!(*part, "" | "." | "..")).collect();
    format!("/{}", parts.join("/"))
}

/// Everything templates see but `services` (see [`views`]). Built from
/// borrowed model parts and converted to template values once per compile.
#[derive(Serialize)]
struct Context<'a> {
    stack: StackView<'a>,
    backup_groups: Vec<serde_json::Value>,
    nginx: Option<serde_json::Value>,
    paths: &'a Paths,
    backed_up: Vec<&'a str>,
}

/// The stack without its services (templates read those from `services`).
#[derive(Serialize)]
struct StackView<'a> {
    name: &'a str,
    source: &'a str,
    settings: &'a crate::model::Settings,
    secrets: &'a IndexMap<String, crate::model::Secret>,
    proxy: Option<&'a crate::model::Proxy>,
    networks: &'a IndexMap<String, crate::model::Network>,
    start_order: &'a [String],
}

/// One artifact to render.
struct Job {
    path: String,
    render: Render,
    style: CommentStyle,
    mode: u32,
    /// What the header says the file was generated from, when not the stack.
    source: Option<&'static str>,
    /// The service the artifact is made from, for an error's location.
    span: Option<crate::syntax::Span>,
}

/// The header source of nginx's default server: the file is the same for
/// every stack, so that two stacks' sites can share one host.
const SHARED_SOURCE: &str = "the stdlib (the same file for every stack)";

/// How an artifact is rendered.
enum Render {
    /// A minijinja template, by name, with its context.
    Jinja { template: String, context: minijinja::Value },
    /// A stdlib template compiled into ragc.
    Native(Native),
}

impl Job {
    fn run(&self, env: Option<&Environment<'_>>, data: &native::Data<'_>) -> Result<String, EmitError> {
        match &self.render {
            Render::Jinja { template, context } => jinja::render(env.expect("set up when a job needs it"), template, context),
            Render::Native(native) => native.render(data).map_err(|e| EmitError {
                template: native.template().to_string(),
                message: e.to_string(),
                code: Code::E0403,
                span: None,
            }),
        }
    }

    /// Where the job goes in the queue: the templates looping over every service first.
    fn rank(&self) -> usize {
        match &self.render {
            Render::Native(native) => PER_SERVICE.iter().position(|n| n == native).unwrap_or(PER_SERVICE.len()),
            Render::Jinja { .. } => PER_SERVICE.len(),
        }
    }
}

/// What minijinja templates see: the stack (services as lazy views), paths,
/// and what the nginx and backup templates derive from the model. Converted
/// to template values once; every render shares them.
/// certbot's name for the proxy's certificate: the directory the site's paths
/// name under /etc/letsencrypt/live/ (true), else the domain (false).
pub(crate) fn certbot_name(stack: &Stack, proxy: &crate::model::Proxy) -> (String, bool) {
    let live = |path: &Option<String>, file: &str| {
        path.as_deref()
            .unwrap_or_default()
            .strip_prefix("/etc/letsencrypt/live/")?
            .strip_suffix(file)?
            .strip_suffix('/')
            .map(str::to_string)
    };
    let site = &proxy.site;
    let named = live(&site.certificate, "fullchain.pem")
        .filter(|name| !name.is_empty() && !name.contains('/') && live(&site.certificate_key, "privkey.pem").as_ref() == Some(name));
    match named {
        Some(name) => (name, true),
        None => (stack.settings.domain.clone().unwrap_or_default(), false),
    }
}

fn jinja_context(stack: &Stack, paths: &Paths, services: &Arc<views::Services>) -> minijinja::Value {
    let backed_up = stack.backed_up();
    let nginx = stack.proxy.as_ref().map(|proxy| {
        let site = &proxy.site;
        let (cert_name, cert_name_matches) = certbot_name(stack, proxy);
        let upstreams: serde_json::Map<String, serde_json::Value> =
            proxy.routes.iter().map(|route| (route.service.clone(), upstream_name(&stack.name, &route.service).into())).collect();
        json!({
            "upstreams": upstreams,
            "cert_name": cert_name,
            "cert_name_matches": cert_name_matches,
            "http2_directive": version_at_least(&site.version, (1, 25, 1)),
            "max_body": size_text(site.max_body).trim_end_matches('b').to_string(),
            "timeout": format!("{}s", site.timeout),
        })
    });
    let mut backup_groups: Vec<serde_json::Value> = Vec::new();
    for service in stack.services.values() {
        let Some(schedule) = &service.backup else { continue };
        match backup_groups.iter_mut().find(|group| group["cron"] == schedule.cron.as_str()) {
            Some(group) => group["services"].as_array_mut().expect("services is a list").push(service.name.clone().into()),
            None => backup_groups.push(json!({ "cron": schedule.cron, "services": [service.name] })),
        }
    }
    let context = Context {
        stack: StackView {
            name: &stack.name,
            source: &stack.source,
            settings: &stack.settings,
            secrets: &stack.secrets,
            proxy: stack.proxy.as_ref(),
            networks: &stack.networks,
            start_order: &stack.start_order,
        },
        backup_groups,
        nginx,
        paths,
        backed_up,
    };
    minijinja::context! { services => minijinja::Value::from_dyn_object(Arc::clone(services)), ..minijinja::Value::from_serialize(&context) }
}

/// The nginx upstream of a stack's service. nginx's upstream names share one
/// namespace on a host, across every stack's site: the name must differ for
/// every (stack, service) pair. Names hold `-` but never `_`, so `_` between
/// them keeps the pair readable back (`my` + `app-x` is `ragc_my_app-x`,
/// `my-app` + `x` is `ragc_my-app_x`; folding `-` into `_` made both
/// `ragc_my_app_x`).
pub(crate) fn upstream_name(stack: &str, service: &str) -> String {
    format!("ragc_{stack}_{service}")
}

/// Renders every artifact of the Compose target.
///
/// # Errors
/// A template failed: a value could not be written safely, or a kind's
/// template is broken.
pub fn lower(stack: &Arc<Stack>, options: &EmitOptions, user: &UserTemplates) -> Result<Plan, EmitError> {
    let services = stack.services.len();
    emit_on(stack, options, user, jobs::threads(services), services < views::SHARED_VIEWS_BELOW)
}

fn emit_on(stack: &Arc<Stack>, options: &EmitOptions, user: &UserTemplates, threads: usize, share_views: bool) -> Result<Plan, EmitError> {
    let (context_dir, out_from_context) = relative_paths(options, &stack.settings.context);
    let paths =
        Paths { context: context_dir, out_from_context, output_on_server: output_on_server(&stack.settings.path, &options.out_from_stack) };
    let has_backups = stack.services.values().any(|s| s.backup.is_some());
    let services = Arc::new(views::Services::new(Arc::clone(stack), share_views));
    // Built on the first minijinja job: a stack without builds, proxy or
    // backups renders only compiled templates.
    let context = LazyCell::new(|| jinja_context(stack, &paths, &services));
    let mut jobs = Vec::new();
    let mut spans = Vec::new();
    // Returns the job's index, for the one whose header names no stack.
    let mut job = |path: String, render: Render, style: CommentStyle, mode: u32| {
        jobs.push(Job { path, render, style, mode, source: None, span: None });
        jobs.len() - 1
    };
    let jinja = |template: String, context: &minijinja::Value| Render::Jinja { template, context: context.clone() };
    for (index, service) in stack.services.values().enumerate() {
        let Some(build) = &service.build else { continue };
        if build.owner != service.name {
            continue;
        }
        let view = services.view(index);
        let local = minijinja::context! { service => view, ..(*context).clone() };
        let dockerfile = job(
            format!("Dockerfile.{}", service.name),
            jinja(format!("dockerfile/{}.j2", build.template), &local),
            CommentStyle::Dockerfile,
            0o644,
        );
        let ignore =
            job(format!("Dockerfile.{}.dockerignore", service.name), jinja("dockerignore.j2".into(), &local), CommentStyle::Hash, 0o644);
        spans.extend([(dockerfile, service.span), (ignore, service.span)]);
    }
    job("compose.yaml".into(), Render::Native(Native::ComposeBase), CommentStyle::Hash, 0o644);
    job("compose.override.yaml".into(), Render::Native(Native::ComposeOverride), CommentStyle::Hash, 0o644);
    job("compose.production.yaml".into(), Render::Native(Native::ComposeProduction), CommentStyle::Hash, 0o644);
    job(".compose-lint.yml".into(), Render::Native(Native::ComposeLint), CommentStyle::Hash, 0o644);
    job(".env.example".into(), Render::Native(Native::EnvExample), CommentStyle::Hash, 0o644);
    job(".env".into(), Render::Native(Native::EnvDevelopment), CommentStyle::Hash, 0o644);
    let mut shared = None;
    if let Some(proxy) = &stack.proxy {
        job(
            format!("{}/{}.conf", proxy.kind, stack.name),
            jinja(format!("{}/site.conf.j2", proxy.kind), &context),
            CommentStyle::Hash,
            0o644,
        );
        // The HTTP-only form that serves the first certificate's challenge.
        let bootstrap = format!("{}/bootstrap.conf.j2", proxy.kind);
        if proxy.site.letsencrypt && crate::stdlib::has_template(&bootstrap, user) {
            job(format!("{}/{}.bootstrap.conf", proxy.kind, stack.name), jinja(bootstrap, &context), CommentStyle::Hash, 0o644);
        }
        // The default server: the same bytes for every stack on a host.
        let default = format!("{}/default.conf.j2", proxy.kind);
        if crate::stdlib::has_template(&default, user) {
            shared = Some(job(format!("{}/ragc-default.conf", proxy.kind), jinja(default, &context), CommentStyle::Hash, 0o644));
        }
    }
    if has_backups {
        job("backup/backup.sh".into(), jinja("backup/backup.sh.j2".into(), &context), CommentStyle::Script, 0o755);
        job("backup/restore.sh".into(), jinja("backup/restore.sh.j2".into(), &context), CommentStyle::Script, 0o755);
        job("backup/crontab".into(), jinja("backup/crontab.j2".into(), &context), CommentStyle::Hash, 0o644);
    }
    job("ops/health-check.sh".into(), Render::Native(Native::HealthCheck), CommentStyle::Script, 0o755);
    job("ops/crontab".into(), Render::Native(Native::OpsCrontab), CommentStyle::Hash, 0o644);
    job("ops/deploy".into(), Render::Native(Native::OpsDeploy), CommentStyle::Script, 0o755);
    job("ops/rollback".into(), Render::Native(Native::OpsRollback), CommentStyle::Script, 0o755);
    job("ops/status".into(), Render::Native(Native::OpsStatus), CommentStyle::Script, 0o755);
    job("ops/install".into(), Render::Native(Native::OpsInstall), CommentStyle::Script, 0o755);
    if has_backups {
        job("ops/restore-drill".into(), Render::Native(Native::OpsRestoreDrill), CommentStyle::Script, 0o755);
    }
    if let Some(index) = shared {
        jobs[index].source = Some(SHARED_SOURCE);
    }
    for (index, span) in spans {
        jobs[index].span = Some(span);
    }
    let env = jobs.iter().any(|job| matches!(job.render, Render::Jinja { .. })).then(|| environment(user, stack.services.len()));
    let files = secret_files::all(stack);
    let data = native::Data { stack, paths: &paths, files: &files };
    let render = |job: &Job| {
        job.run(env.as_ref(), &data)
            .map(|body| Artifact {
                path: job.path.clone(),
                contents: Contents::Text(with_header(body, job.style, job.source.unwrap_or(&stack.source))),
                mode: job.mode,
            })
            .map_err(|error| EmitError { span: error.span.or(job.span), ..error })
    };
    let mut artifacts = jobs::run(&jobs, Job::rank, render, threads)?;

    artifacts.extend(secret_artifacts(stack, &files));
    Ok(Plan { artifacts, stack: stack.name.clone() })
}

/// The production env file, then the secret files: each development copy
/// (filled in with development values) and each production one (filled in
/// from the env file when written).
fn secret_artifacts(stack: &Stack, files: &IndexMap<String, &Text>) -> Vec<Artifact> {
    let mut artifacts = Vec::new();
    let entries = stack
        .secrets
        .values()
        .map(|secret| SecretEntry { var: secret.var.clone(), source: secret.source.clone(), used_by: secret.used_by.clone() })
        .collect();
    let header = format!(
        "# Secrets of stack `{}`, generated by ragc from {}.\n# ragc reads these values back on every compile and never changes them:\n# keep this file (mode 0600) and back it up. Fill in every required value.\n",
        stack.name,
        crate::artifact::comment_text(&stack.source)
    );
    artifacts.push(Artifact { path: ".env.production".into(), contents: Contents::Secrets(SecretsFile { header, entries }), mode: 0o600 });
    for (name, contents) in files {
        if secret_files::single_secret(contents).is_some() {
            continue; // development reads it from .env's variable
        }
        let development = contents.render(str::to_string, |var| {
            stack.secrets.get(var).map(|secret| native::development_value(&secret.source)).unwrap_or_default()
        });
        let path = format!("{}/{name}", secret_files::DEVELOPMENT_DIR);
        artifacts.push(Artifact { path, contents: Contents::Text(development), mode: 0o644 });
    }
    for (name, contents) in files {
        let path = format!("{}/{name}", secret_files::PRODUCTION_DIR);
        // Readable in the container by whichever user the image runs as: the
        // directory (0700) is what keeps other users of the host out.
        artifacts.push(Artifact { path, contents: Contents::SecretFile((*contents).clone()), mode: 0o644 });
    }
    artifacts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_context_is_found_from_the_output_directory() {
        let options = |out: &str, back: &str| EmitOptions { out_from_stack: out.into(), stack_from_out: back.into() };
        assert_eq!(relative_paths(&options("deploy", ".."), "."), ("..".into(), "deploy".into()));
        assert_eq!(relative_paths(&options("out/deploy", "../.."), "app"), ("../../app".into(), "../out/deploy".into()));
        // The output inside the context is seen from inside it, so the ignore file can exclude it.
        assert_eq!(relative_paths(&options("app/deploy", "../.."), "app"), ("..".into(), "deploy".into()));
        assert_eq!(relative_paths(&options("app/ops/deploy", "../../.."), "app/src"), ("../../src".into(), "../ops/deploy".into()));
        assert_eq!(relative_paths(&options(".", "."), "."), (".".into(), ".".into()));
        assert_eq!(relative_paths(&options("../../tmp/out", "../../work/app"), "."), ("../../work/app".into(), "../../tmp/out".into()));
    }

    #[test]
    fn the_output_directory_on_the_server_follows_the_stack_path() {
        assert_eq!(output_on_server("/opt/app", "deploy"), "/opt/app/deploy");
        assert_eq!(output_on_server("/opt/app", "."), "/opt/app");
        assert_eq!(output_on_server("/opt/app", "ops/out/"), "/opt/app/ops/out");
        assert_eq!(output_on_server("/opt/app", "../app-deploy"), "/opt/app-deploy");
        assert_eq!(output_on_server("/opt", "../../../x"), "/x");
    }

    /// Also: views kept for the compile render what views made per read do.
    #[test]
    fn threads_render_what_one_thread_renders() {
        let services: String = (0..jobs::PARALLEL_RENDER_SERVICES)
            .map(|i| format!("service s{i}: image {{ image = \"nginx:1.27.3\", port = 8080, env {{ N = \"{i}\" }} }}\n"))
            .collect();
        let stack = format!("stack big {{}}\nsecret key = generate(hex, 32)\n{services}");
        let input = crate::input::Input::from_text("stack.rag", &stack);
        let stack = crate::analyze(&input).stack.expect("checks");
        let one = emit_on(&stack, &EmitOptions::default(), &UserTemplates::new(), 1, true).expect("renders");
        let four = emit_on(&stack, &EmitOptions::default(), &UserTemplates::new(), 4, false).expect("renders");
        assert_eq!(one.artifacts.len(), 13);
        assert!(one.render_for_review() == four.render_for_review(), "the outputs differ");
    }

    /// Under Jinja's syntax a comment runs from `{#` to the first `#}`; under
    /// the users' one from `{##` to the first `##}`. A template reads the same
    /// under both when every `{#` opens a `{##` comment whose first `#}` is
    /// its `##}`.
    fn reads_the_same_under_both_syntaxes(text: &str) -> Result<(), usize> {
        let mut rest = 0;
        while let Some(found) = text[rest..].find("{#") {
            let open = rest + found;
            if !text[open..].starts_with("{##") {
                return Err(open);
            }
            // Where each syntax ends it: the `#` of the first `#}`, and the
            // second `#` of the first `##}`.
            let jinja = text[open + 2..].find("#}").map(|at| open + 2 + at);
            let users = text[open + 3..].find("##}").map(|at| open + 4 + at);
            match (jinja, users) {
                (Some(jinja), Some(users)) if jinja == users => rest = jinja + 2,
                _ => return Err(open),
            }
        }
        Ok(())
    }

    #[test]
    fn stdlib_templates_read_the_same_under_both_syntaxes() {
        let files = crate::stdlib::run_time_templates();
        assert!(files.len() > 10, "found {} templates", files.len());
        for (path, text) in files {
            if let Err(at) = reads_the_same_under_both_syntaxes(text) {
                panic!("{path}: `{{#` at byte {at} is not a `{{## ##}}` comment");
            }
        }
        assert_eq!(reads_the_same_under_both_syntaxes("a {## c ##} {{ '${' }}#x[@]}"), Ok(()));
        assert_eq!(reads_the_same_under_both_syntaxes("echo ${#x[@]}"), Err(6));
        assert_eq!(reads_the_same_under_both_syntaxes("{## a #} b ##}"), Err(0));
        assert_eq!(reads_the_same_under_both_syntaxes("{##} b ##}"), Err(0));
        assert_eq!(reads_the_same_under_both_syntaxes("{## a ###} b"), Ok(()));
    }

    #[test]
    fn user_templates_keep_bash_length_literal_and_comment_with_double_hashes() {
        let mut user = UserTemplates::new();
        user.insert("kinds/k/backup.sh.j2".into(), "{## a comment ##}n=${#files[@]} s=${#1} {{ x }}\n".into());
        let env = environment(&user, 1);
        let out = env.get_template("kinds/k/backup.sh.j2").unwrap().render(minijinja::context! { x => 1 }).unwrap();
        assert_eq!(out, "n=${#files[@]} s=${#1} 1\n");
        // The stdlib's templates still render when a user's are present.
        let compose = env.get_template("backup/backup.sh.j2");
        assert!(compose.is_ok(), "{compose:?}");
    }

    #[test]
    fn upstream_names_differ_for_every_stack_and_service() {
        assert_ne!(upstream_name("my", "app-x"), upstream_name("my-app", "x"));
        assert_ne!(upstream_name("a--b", "c"), upstream_name("a", "b--c"));
        let names = ["a", "a-b", "b", "a-b-c", "b-c", "c", "a--b", "b--c"];
        let mut seen = Vec::new();
        for stack in names {
            for service in names {
                let name = upstream_name(stack, service);
                assert!(!seen.contains(&name), "{stack} + {service} gives {name} twice");
                // Read back: the only `_` after the prefix separates the two names.
                assert_eq!(name.strip_prefix("ragc_").and_then(|rest| rest.split_once('_')), Some((stack, service)));
                seen.push(name);
            }
        }
    }

    #[test]
    fn sizes_use_the_largest_exact_unit() {
        assert_eq!(size_text(2 << 30), "2g");
        assert_eq!(size_text(512 << 20), "512m");
        assert_eq!(size_text(1536 << 20), "1536m");
        assert_eq!(size_text(100), "100b");
    }
}

//! Every example compiles with no diagnostics, and its whole plan (every
//! artifact, under `--- path ---` headers) matches its reviewed snapshot.

use std::path::Path;

use ragc::emit::EmitOptions;
use ragc::input::Input;

mod common;
use common::{compile_text, text_of};

fn compile(path: &str) -> ragc::plan::Plan {
    let input = Input::load(Path::new(path)).expect("example readable");
    let (compilation, plan) = ragc::compile(&input, &EmitOptions::default());
    let rendered = compilation.sources.render(&compilation.diagnostics, false);
    assert!(compilation.diagnostics.is_empty(), "{path} has diagnostics:\n{rendered}");
    plan.expect("no errors, so a plan")
}

const EXAMPLES: [(&str, &str); 4] = [
    ("rag-engine-mini", "examples/rag-engine-mini.rag"),
    ("minimal", "examples/minimal.rag"),
    ("node-postgres", "examples/node-postgres.rag"),
    ("custom-kind", "examples/custom-kind/stack.rag"),
];

#[test]
fn examples_match_their_snapshots() {
    for (name, path) in EXAMPLES {
        let plan = compile(path);
        insta::with_settings!({ snapshot_path => "../snapshots/examples", prepend_module_to_snapshot => false, omit_expression => true }, {
            insta::assert_snapshot!(name, plan.render_for_review());
        });
    }
}

#[test]
fn compiling_twice_gives_the_same_bytes() {
    for (_, path) in EXAMPLES {
        assert_eq!(compile(path).render_for_review(), compile(path).render_for_review(), "{path}");
    }
}

#[test]
fn flagship_example_stays_short() {
    let text = std::fs::read_to_string("examples/rag-engine-mini.rag").unwrap();
    assert!(text.lines().count() <= 80, "the flagship example grew past 80 lines");
}

#[test]
fn flagship_plan_has_every_artifact() {
    let plan = compile("examples/rag-engine-mini.rag");
    let paths: Vec<&str> = plan.artifacts.iter().map(|a| a.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "Dockerfile.api",
            "Dockerfile.api.dockerignore",
            "compose.yaml",
            "compose.override.yaml",
            "compose.production.yaml",
            ".compose-lint.yml",
            ".env.example",
            ".env",
            "nginx/rag-engine.conf",
            "nginx/rag-engine.bootstrap.conf",
            "nginx/ragc-default.conf",
            "backup/backup.sh",
            "backup/restore.sh",
            "backup/crontab",
            "ops/health-check.sh",
            "ops/crontab",
            "ops/deploy",
            "ops/rollback",
            "ops/status",
            "ops/install",
            "ops/restore-drill",
            ".env.production",
            "secrets.dev/cache.config",
            "secrets.dev/api.DATABASE_URL",
            "secrets.dev/api.REDIS_URL",
            "secrets.dev/worker.DATABASE_URL",
            "secrets.dev/worker.REDIS_URL",
            "secrets/db.password",
            "secrets/cache.config",
            "secrets/cache.password",
            "secrets/api.DATABASE_URL",
            "secrets/api.REDIS_URL",
            "secrets/api.JWT_SECRET",
            "secrets/api.API_KEY_SALT",
            "secrets/api.OPENAI_API_KEY",
            "secrets/worker.DATABASE_URL",
            "secrets/worker.REDIS_URL",
        ]
    );
    assert_eq!(plan.get(".env.production").unwrap().mode, 0o600);
    assert_eq!(plan.get("backup/backup.sh").unwrap().mode, 0o755);
}

/// The guide's defects, each checked where it used to live.
#[test]
fn flagship_fixes_the_guides_defects() {
    let plan = compile("examples/rag-engine-mini.rag");
    let text = |path: &str| text_of(&plan, path);
    let dockerfile = text("Dockerfile.api");
    // No frontend to pull: an offline host builds it (the live stage does).
    assert!(!dockerfile.lines().any(|line| line.starts_with("# syntax=")));
    assert!(dockerfile.contains(" AS builder") && !dockerfile.contains(" as builder"));
    assert!(!dockerfile.contains("--user") && dockerfile.contains("/opt/venv"));
    assert!(!dockerfile.contains("curl"), "the slim image has no curl");
    assert!(!dockerfile.contains("postgresql-client"));
    assert!(dockerfile.contains("USER 10001:10001"));
    assert!(dockerfile.contains("python:3.11.11-slim"));

    let compose = text("compose.yaml");
    assert!(!compose.lines().any(|l| l.starts_with("version:")));
    assert!(compose.contains("condition: service_healthy"));
    assert!(compose.contains("condition: service_completed_successfully"));
    assert!(compose.contains("\"qdrant/qdrant:v1.12.4\"") && !compose.contains(":latest"));
    assert_eq!(compose.matches("      resources:\n        limits:\n").count(), 6, "every service and the release job is limited");
    assert!(compose.contains("\"127.0.0.1:8000:8000\""));
    assert!(!compose.contains("\"5432:5432\"") && !compose.contains("6379:6379") && !compose.contains("6333:6333"));
    assert!(!compose.contains("NET_BIND_SERVICE"));
    assert!(!compose.contains("localhost"));
    let Some(ragc::plan::Contents::SecretFile(url)) = plan.get("secrets/api.DATABASE_URL").map(|a| &a.contents) else {
        panic!("the database URL is a secret file")
    };
    assert_eq!(url.render(str::to_string, |var| format!("<{var}>")), "postgresql://raguser:<DB_PASSWORD>@db:5432/rag_engine");
    assert!(compose.contains("internal: true"));

    let nginx = text("nginx/rag-engine.conf");
    assert!(nginx.contains("map $http_upgrade"));
    assert!(!nginx.contains("Connection 'upgrade'") && !nginx.contains("X-XSS-Protection"));
    assert!(nginx.contains("Strict-Transport-Security") && nginx.contains("ssl_prefer_server_ciphers off"));
    assert!(nginx.contains("client_max_body_size"));
    assert!(nginx.contains("--webroot -w /var/www/certbot") && !nginx.contains("certbot --nginx"));

    let backup = text("backup/backup.sh");
    assert!(backup.contains("set -Eeuo pipefail"));
    assert!(backup.contains("    db)\n") && backup.contains("compose exec -T \"$service\" pg_dump"));
    assert!(!backup.contains("rag-engine_postgres_1"));
    assert!(backup.contains("flock -n"));
    assert!(backup.contains("-mindepth 1 -maxdepth 1"));
    assert!(!backup.contains("postgres_data"), "no archive of the wrong volume");
    assert!(text("backup/crontab").contains(">>/var/log/rag-engine-backup.log 2>&1"));
    assert!(!text("ops/health-check.sh").contains("jq"));
}

#[test]
fn nginx_http2_form_follows_the_target_version() {
    let stack = |version: &str| {
        format!(
            "stack s {{ domain = \"s.example.com\"\n acme_email = \"o@example.com\" }}\n\
             service web: image {{ image = \"nginx:1.27.3\"\n port = 8080\n route = \"/\" }}\n\
             proxy nginx {{ version = \"{version}\" }}\n"
        )
    };
    let site = |version: &str| text_of(&compile_text(&stack(version)), "nginx/s.conf");
    let old = site("1.22");
    assert!(old.contains("listen 443 ssl http2;") && !old.contains("http2 on;"));
    let new = site("1.26.2");
    assert!(new.contains("listen 443 ssl;") && new.contains("    http2 on;"));
}

#[test]
fn each_service_keeps_its_own_backups_and_coinciding_schedules_wait() {
    let stack = "stack s {}\n\
                 service db: postgres { version = \"16.4\", backup = daily(at: \"02:00\", keep: 3d) }\n\
                 service q: qdrant { backup = hourly(keep: 30d) }\n";
    let plan = compile_text(stack);
    let text = |path: &str| text_of(&plan, path);
    let backup = text("backup/backup.sh");
    assert!(backup.contains("    db) echo 3 ;;\n") && backup.contains("    q) echo 30 ;;\n"), "{backup}");
    let crontab = text("backup/crontab");
    assert!(crontab.contains("\nBACKUP_LOCK_WAIT=3600\n"));
    // A clone of the project at `path` (/opt/s) has the output directory in it, deploy/.
    assert!(crontab.contains("\n0 2 * * * root /opt/s/deploy/backup/backup.sh db >>"), "{crontab}");
    assert!(crontab.contains("\n0 * * * * root /opt/s/deploy/backup/backup.sh q >>"), "{crontab}");
}

#[test]
fn a_command_holding_a_secret_stays_out_of_the_dockerfile() {
    let stack = "stack s {}\n\
                 secret token = generate(hex, 32)\n\
                 kind k {\n  build = \"python\"\n  base_image = \"python:3.12.8-slim\"\n  workdir = \"/app\"\n\
                 field python : string = \"3.12.8\"\n  field requirements : string = \"requirements.txt\"\n\
                 field build_packages : list(string) = []\n  field runtime_packages : list(string) = []\n\
                 field token : secret\n  command = \"run --token {{ token }}\"\n}\n\
                 service app: k { token = token }\n";
    let plan = compile_text(stack);
    let text = |path: &str| text_of(&plan, path);
    assert!(!text("Dockerfile.app").contains("\nCMD "), "no CMD with an empty secret in the image");
    assert!(text("compose.yaml").contains("command: [\"run\", \"--token\", \"${TOKEN:?TOKEN is not set: see .env.production}\"]"));
}

//! What each stdlib kind's output must hold for its image to run: paths and
//! defaults that depend on the image's version follow the version the stack
//! names, and the development and production commands work as documented.

use ragc::emit::EmitOptions;
use ragc::input::Input;

mod common;
use common::{compile_text, text_of};

/// The Compose file parsed, for structural assertions.
fn compose(plan: &ragc::plan::Plan, path: &str) -> serde_yaml_ng::Value {
    serde_yaml_ng::from_str(&text_of(plan, path)).expect("valid YAML")
}

/// PostgreSQL 18's image refuses a volume at `/var/lib/postgresql/data`
/// (its PGDATA moved to `/var/lib/postgresql/18/docker`).
#[test]
fn postgres_data_volume_follows_the_major_version() {
    let plan = compile_text("stack pg {}\nservice a: postgres { version = \"18.1\" }\nservice b: postgres { version = \"17\" }\nservice c: postgres { version = \"19\" }\nservice d: postgres {}\n");
    let file = compose(&plan, "compose.yaml");
    let target = |service: &str| file["services"][service]["volumes"][0]["target"].as_str().unwrap().to_string();
    assert_eq!(target("a"), "/var/lib/postgresql");
    assert_eq!(target("b"), "/var/lib/postgresql/data");
    assert_eq!(target("c"), "/var/lib/postgresql");
    assert_eq!(target("d"), "/var/lib/postgresql/data");
}

/// The Compose binary `.ci/setup-validators` installs; CI must have it.
fn compose_binary() -> Option<std::path::PathBuf> {
    let venv = std::env::var("RAGC_VENV").map_or_else(|_| std::path::PathBuf::from(".venv-ci"), std::path::PathBuf::from);
    let found = std::fs::canonicalize(venv.join("bin/docker-compose-v2")).ok();
    assert!(
        found.is_some() || std::env::var_os("CI").is_none(),
        "CI runs .ci/setup-validators first: no docker-compose-v2 in {}",
        venv.display()
    );
    found
}

/// Compiles the flagship into a scratch directory and fills its required secret.
fn flagship_on_disk() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy("examples/rag-engine-mini.rag", dir.path().join("stack.rag")).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_ragc")).arg("compile").arg(dir.path().join("stack.rag")).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let env = dir.path().join("deploy/.env.production");
    let text = std::fs::read_to_string(&env).unwrap().replace("# OPENAI_API_KEY=", "OPENAI_API_KEY='sk-test'");
    std::fs::write(&env, text).unwrap();
    // The documented order: fill it in, compile again (its secret file is made then).
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_ragc")).arg("compile").arg(dir.path().join("stack.rag")).output().unwrap();
    assert!(String::from_utf8_lossy(&output.stderr).contains("created secrets/api.OPENAI_API_KEY"));
    dir
}

/// The guide's developer types `docker compose up -d` in the project and it
/// works; ours needed `--env-file .env.production` on every command. And on
/// the server, `--env-file .env.production` without `-f compose.production.yaml`
/// silently merged the development override.
#[test]
fn compose_with_no_flags_is_development_and_production_needs_its_file() {
    let Some(compose) = compose_binary() else { return };
    let dir = flagship_on_disk();
    let deploy = dir.path().join("deploy");
    let config = |args: &[&str]| std::process::Command::new(&compose).current_dir(&deploy).args(args).output().unwrap();

    let development = config(&["config", "--format", "json"]);
    assert!(development.status.success(), "{}", String::from_utf8_lossy(&development.stderr));
    let development: serde_json::Value = serde_json::from_slice(&development.stdout).unwrap();
    assert_eq!(development["name"], "rag-engine-dev", "a development stack must not take production's project name");
    let api = &development["services"]["api"];
    assert_eq!(api["environment"]["LOG_LEVEL"], "debug");
    // Secrets arrive as files in development too: one alone from .env's variable.
    assert!(api["environment"].get("JWT_SECRET").is_none(), "{api}");
    assert_eq!(api["environment"]["RAGC_ENV_FILES"], "DATABASE_URL REDIS_URL JWT_SECRET API_KEY_SALT OPENAI_API_KEY");
    assert_eq!(development["secrets"]["api.JWT_SECRET"]["environment"], "JWT_SECRET");
    let production_env = std::fs::read_to_string(deploy.join(".env.production")).unwrap();
    let jwt = production_env.lines().find_map(|l| l.strip_prefix("JWT_SECRET=")).unwrap().trim_matches('\'');
    let development_env = std::fs::read_to_string(deploy.join(".env")).unwrap();
    let dev_jwt = development_env.lines().find_map(|l| l.strip_prefix("JWT_SECRET=")).unwrap();
    assert_eq!(dev_jwt.len(), jwt.len(), "development values keep the real format");
    assert!(!development.to_string().contains(jwt), "a production secret reached the development configuration");

    let forgot_files = config(&["--env-file", ".env.production", "config"]);
    assert!(!forgot_files.status.success(), "the development override ran with production's secrets");
    let message = String::from_utf8_lossy(&forgot_files.stderr);
    assert!(message.contains("-f compose.yaml -f compose.production.yaml"), "{message}");

    let production =
        config(&["--env-file", ".env.production", "-f", "compose.yaml", "-f", "compose.production.yaml", "config", "--format", "json"]);
    assert!(production.status.success(), "{}", String::from_utf8_lossy(&production.stderr));
    let as_run = String::from_utf8(production.stdout).unwrap();
    let production: serde_json::Value = serde_json::from_str(&as_run).unwrap();
    assert_eq!(production["name"], "rag-engine");
    // What `docker inspect` would show holds no secret: each is a file.
    for (var, value) in ragc::plan::secrets::parse_env(&production_env) {
        assert!(!as_run.contains(&value), "{var}'s value is in the as-run configuration");
    }
    let files = production["secrets"].as_object().unwrap();
    assert_eq!(files.len(), 10, "{files:?}");
    for (name, file) in files {
        let path = std::path::Path::new(file["file"].as_str().unwrap());
        assert_eq!(path, deploy.join("secrets").join(name), "{name}");
        assert!(path.is_file(), "{name}: {} is missing", path.display());
    }
    let url = std::fs::read_to_string(deploy.join("secrets/api.DATABASE_URL")).unwrap();
    let password = production_env.lines().find_map(|l| l.strip_prefix("DB_PASSWORD=")).unwrap().trim_matches('\'');
    assert_eq!(url, format!("postgresql://raguser:{password}@db:5432/rag_engine"));
}

/// The Node override mounted the source over `/app`, hiding the image's
/// `node_modules`, in an image built with `NODE_ENV=production` and no dev
/// dependencies; the release job had neither the mount nor the dev env.
#[test]
fn node_development_builds_the_development_stage_and_keeps_its_modules() {
    let input = Input::load(std::path::Path::new("examples/node-postgres.rag")).unwrap();
    let (compilation, plan) = ragc::compile(&input, &EmitOptions::default());
    assert!(!compilation.has_errors());
    let plan = plan.unwrap();
    let dockerfile = text_of(&plan, "Dockerfile.app");
    let stage = dockerfile.split("\nFROM ").find(|s| s.starts_with("deps AS development")).expect("a development stage");
    assert!(stage.contains("NODE_ENV=development"), "{stage}");
    assert!(!dockerfile[..dockerfile.find("AS builder").unwrap()].contains("npm prune"), "dev dependencies pruned before development");
    assert!(
        dockerfile.rsplit("\nFROM ").next().unwrap().contains("NODE_ENV=production"),
        "the last stage (the default target) is production's"
    );
    let file = compose(&plan, "compose.override.yaml");
    for service in ["app", "app-release"] {
        let entry = &file["services"][service];
        assert_eq!(entry["build"]["target"].as_str(), Some("development"), "{service}");
        let volumes = entry["volumes"].as_sequence().unwrap();
        assert!(volumes.iter().any(|v| v["type"] == "bind" && v["target"] == "/app"), "{service}: {volumes:?}");
        assert!(
            volumes.iter().any(|v| v["type"] == "volume" && v["target"] == "/app/node_modules" && v.get("source").is_none()),
            "{service}"
        );
        assert_eq!(entry["environment"]["DEBUG"].as_str(), Some("notes:*"), "{service}");
    }
    // The Python kind keeps its virtualenv outside the mount, and builds no other stage.
    let plan = compile_text(&std::fs::read_to_string("examples/rag-engine-mini.rag").unwrap());
    let file = compose(&plan, "compose.override.yaml");
    assert!(file["services"]["api"].get("build").is_none());
    assert_eq!(file["services"]["api-release"]["environment"]["LOG_LEVEL"].as_str(), Some("debug"));
}

/// `dev_keep` names paths inside `workdir`; one that climbs out is refused.
#[test]
fn dev_keep_outside_the_workdir_is_an_error() {
    let stack = "kind web {\n  build = \"node\"\n  base_image = \"node:22.12.0-slim\"\n  workdir = \"/app\"\n  dev_keep = [\"../etc\"]\n  field node : word = \"22\"\n  field build_script : string?\n  field command : string = \"node s.js\"\n}\nstack s {}\nservice w: web {}\n";
    let (compilation, _) = ragc::compile(&Input::from_text("s.rag", stack), &EmitOptions::default());
    let rendered = compilation.sources.render(&compilation.diagnostics, false);
    assert!(rendered.contains("error[E0107]: `dev_keep` holds `../etc`"), "{rendered}");
}

//! The nginx artifacts as files: the default server shared by every stack,
//! the HTTP-only bootstrap form, the hardening of the site, and the install
//! steps in the site's header. tests/e2e/test_nginx.py and test_acme.py run
//! the same files in a live nginx, with certbot and pebble.

mod common;
use common::{compile_text, text_of};

/// A stack named `name` serving `domain`, with these nginx fields.
fn stack(name: &str, domain: &str, proxy: &str) -> String {
    format!(
        "stack {name} {{ domain = \"{domain}\"\n acme_email = \"o@example.com\" }}\n\
         service web: image {{ image = \"nginx:1.27.3\"\n port = 8080\n route = \"/\" }}\n\
         proxy nginx {{ {proxy} }}\n"
    )
}

#[test]
fn the_default_server_is_the_same_bytes_for_every_stack() {
    let one = compile_text(&stack("qzxone", "qzxone.example.com", ""));
    let two = compile_text(&stack("two-x", "two.example.org", "version = \"1.26.2\", headers = basic, tls = manual"));
    let default = text_of(&one, "nginx/ragc-default.conf");
    assert_eq!(default, text_of(&two, "nginx/ragc-default.conf"), "two stacks share one host's default server");
    assert!(!default.contains("qzxone") && !default.contains("s.rag"), "nothing of the stack in it: {default}");
    // Unknown hosts are closed on both ports; the 443 one shows no certificate.
    assert!(default.contains("    listen 80 default_server;\n") && default.contains("    listen 443 ssl default_server;\n"));
    assert_eq!(default.matches("    return 444;\n").count(), 2);
    assert!(default.contains("ssl_reject_handshake on;") && !default.contains("ssl_certificate"));
    // The key exchange groups are the default server's: they must be stated there.
    assert!(default.contains("ssl_ecdh_curve X25519:prime256v1:secp384r1;"));
}

#[test]
fn the_site_names_its_domain_and_hides_what_the_client_or_upstream_sent() {
    let site = text_of(&compile_text(&stack("s", "s.example.com", "")), "nginx/s.conf");
    assert!(site.contains("return 301 https://s.example.com$request_uri;") && !site.contains("https://$host"), "no open redirect");
    assert!(site.contains("proxy_set_header X-Forwarded-For $remote_addr;") && !site.contains("$proxy_add_x_forwarded_for"));
    assert!(site.contains("proxy_set_header X-Real-IP $remote_addr;"));
    assert!(site.contains("proxy_hide_header X-Powered-By;") && site.contains("server_tokens off;"));
    assert!(site.contains("ssl_ecdh_curve X25519:prime256v1:secp384r1;"));
}

#[test]
fn letsencrypt_sites_get_an_http_only_bootstrap_form() {
    let plan = compile_text(&stack("s", "s.example.com", ""));
    let bootstrap = text_of(&plan, "nginx/s.bootstrap.conf");
    assert!(bootstrap.contains("server_name s.example.com;") && bootstrap.contains("root /var/www/certbot;"));
    assert!(bootstrap.contains("    location / {\n        return 503;\n    }\n"), "{bootstrap}");
    assert!(!bootstrap.contains("443") && !bootstrap.contains("ssl_") && !bootstrap.contains("proxy_pass"), "{bootstrap}");
    let manual = compile_text(&stack("s", "s.example.com", "tls = manual, certificate = \"/srv/c.pem\", certificate_key = \"/srv/k.pem\""));
    assert!(manual.get("nginx/s.bootstrap.conf").is_none(), "a manual certificate needs no bootstrap form");
    let site = text_of(&manual, "nginx/s.conf");
    assert!(site.contains("/srv/c.pem and /srv/k.pem") && !site.contains("certbot certonly"), "{site}");
}

#[test]
fn the_install_steps_come_in_an_order_that_works_on_a_fresh_host() {
    let plan = compile_text(&stack("s", "s.example.com", ""));
    for path in ["nginx/s.conf", "nginx/s.bootstrap.conf"] {
        let text = text_of(&plan, path);
        let at = |needle: &str| text.find(needle).unwrap_or_else(|| panic!("{path} lacks {needle:?}"));
        let steps = [
            "nginx/ragc-default.conf /etc/nginx/sites-available/ragc-default.conf",
            "sudo rm -f /etc/nginx/sites-enabled/default",
            "sudo ln -sfn /etc/nginx/sites-available/s.bootstrap.conf /etc/nginx/sites-enabled/s.conf",
            "sudo certbot certonly --webroot -w /var/www/certbot -d s.example.com --cert-name s.example.com",
            "sudo ln -sfn /etc/nginx/sites-available/s.conf /etc/nginx/sites-enabled/s.conf",
        ];
        let places: Vec<usize> = steps.iter().map(|step| at(step)).collect();
        assert!(places.windows(2).all(|pair| pair[0] < pair[1]), "{path}: steps out of order: {places:?}");
        // The TLS site is enabled only after certbot has run: never `nginx -t` before.
        let first_test = at("sudo nginx -t");
        assert!(places[2] < first_test && first_test < places[3], "{path}: the first nginx -t loads the bootstrap form");
    }
}

#[test]
fn certbot_is_told_the_name_of_the_directory_the_site_reads() {
    let named = |fields: &str| text_of(&compile_text(&stack("s", "s.example.com", fields)), "nginx/s.conf");
    let other = named(
        "certificate = \"/etc/letsencrypt/live/shared/fullchain.pem\", certificate_key = \"/etc/letsencrypt/live/shared/privkey.pem\"",
    );
    assert!(other.contains("--cert-name shared ") && other.contains("certbot writes /etc/letsencrypt/live/shared/fullchain.pem"));
    let elsewhere = named("certificate = \"/srv/tls/fullchain.pem\", certificate_key = \"/srv/tls/privkey.pem\"");
    assert!(elsewhere.contains("--cert-name s.example.com "), "{elsewhere}");
    assert!(elsewhere.contains("link them to /srv/tls/fullchain.pem and /srv/tls/privkey.pem"), "{elsewhere}");
}

#[test]
fn two_stacks_sites_load_together_with_one_default_server() {
    // `my` + `app-x` and `my-app` + `x` both gave upstream `ragc_my_app_x` once.
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
    let fields = format!("tls = manual, certificate = \"{}\", certificate_key = \"{}\"", cert.display(), key.display());
    let site = |stack: &str, service: &str, domain: &str| {
        let text = format!(
            "stack {stack} {{ domain = \"{domain}\"\n acme_email = \"o@example.com\" }}\n\
             service {service}: image {{ image = \"nginx:1.27.3\"\n port = 8080\n route = \"/\" }}\n\
             proxy nginx {{ {fields} }}\n"
        );
        let plan = compile_text(&text);
        (text_of(&plan, &format!("nginx/{stack}.conf")), text_of(&plan, "nginx/ragc-default.conf"))
    };
    let (first, default) = site("my", "app-x", "one.example.com");
    let (second, _) = site("my-app", "x", "two.example.com");
    let upstream = |text: &str| text.lines().find(|line| line.starts_with("upstream ")).unwrap().to_string();
    assert_ne!(upstream(&first), upstream(&second));

    let nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"].into_iter().find(|path| std::path::Path::new(path).exists());
    let Some(nginx) = nginx else {
        eprintln!("skipped: no nginx");
        return;
    };
    let made = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=t"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl runs where nginx is installed");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let mut includes = String::new();
    for (name, text) in [("ragc-default.conf", &default), ("my.conf", &first), ("my-app.conf", &second)] {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        includes.push_str(&format!("  include {};\n", path.display()));
    }
    let conf = dir.path().join("nginx.conf");
    let wrapper =
        format!("pid {}/nginx.pid;\nerror_log stderr;\nevents {{}}\nhttp {{\n  access_log off;\n{includes}}}\n", dir.path().display());
    std::fs::write(&conf, wrapper).unwrap();
    let output = std::process::Command::new(nginx).arg("-t").arg("-c").arg(&conf).arg("-p").arg(dir.path()).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "nginx -t: {stderr}");
    assert!(!stderr.contains("[warn]"), "nginx -t: {stderr}");
}

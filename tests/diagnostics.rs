//! Each bad-input fixture under `tests/fixtures/err/` names the code it must
//! produce on its first line (`# expect: E0102`); its rendered diagnostics
//! are snapshot-tested, and the expected code must be among them.

use ragc::input::Input;

fn expected_code(text: &str) -> Option<String> {
    text.lines().find_map(|line| line.strip_prefix("# expect: ")).map(|code| code.trim().to_string())
}

#[test]
fn every_fixture_reports_its_code() {
    insta::glob!("fixtures/err/*.rag", |path| {
        let relative = std::path::Path::new("tests/fixtures/err").join(path.file_name().unwrap());
        let input = match Input::load(&relative) {
            Ok(input) => input,
            Err(error) => {
                insta::with_settings!({ snapshot_path => "../snapshots/diagnostics", prepend_module_to_snapshot => false, omit_expression => true }, {
                    insta::assert_snapshot!(format!("error[E0002]: can't read the stack: {error}"));
                });
                return;
            }
        };
        let compilation = ragc::analyze(&input);
        let rendered = compilation.sources.render(&compilation.diagnostics, false);
        let bytes = std::fs::read(path).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        if let Some(code) = expected_code(&text) {
            assert!(compilation.diagnostics.iter().any(|d| d.code == code), "{} should report {code}, got:\n{rendered}", path.display());
        }
        insta::with_settings!({ snapshot_path => "../snapshots/diagnostics", prepend_module_to_snapshot => false, omit_expression => true }, {
            insta::assert_snapshot!(rendered);
        });
    });
}

#[test]
fn every_code_has_an_explanation() {
    let documented: Vec<&str> = ragc::explain::codes().into_iter().map(|(code, _)| code).collect();
    let source =
        ["src/check/resolve.rs", "src/check/types.rs", "src/check/kinds.rs", "src/syntax/parser.rs", "src/lib.rs", "src/check/rules.rs"]
            .iter()
            .map(|path| std::fs::read_to_string(path).unwrap())
            .collect::<String>();
    let mut used: Vec<String> = Vec::new();
    for (index, _) in source.match_indices('"') {
        let candidate = &source[index + 1..];
        if candidate.len() > 6
            && candidate.as_bytes()[5] == b'"'
            && (candidate.starts_with('E') || candidate.starts_with('W'))
            && candidate[1..5].bytes().all(|b| b.is_ascii_digit())
        {
            used.push(candidate[..5].to_string());
        }
    }
    used.sort();
    used.dedup();
    assert!(!used.is_empty());
    let fixtures: String = std::fs::read_dir("tests/fixtures/err")
        .unwrap()
        .map(|entry| std::fs::read(entry.unwrap().path()).map(|bytes| String::from_utf8_lossy(&bytes).into_owned()).unwrap_or_default())
        .collect();
    for code in &used {
        assert!(documented.contains(&code.as_str()), "{code} is emitted but has no docs/diagnostics/{code}.md");
        assert!(fixtures.contains(&format!("# expect: {code}")), "{code} is emitted but no fixture in tests/fixtures/err expects it");
    }
}

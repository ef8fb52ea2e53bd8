//! `Include`: relative paths, globs, errors and cycles, on real files.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use gatehouse_waf::parse::{parse_file, parse_str, Directive};

/// A scratch directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!(
            "gatehouse-parse-{tag}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.0.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    fn path(&self, rel: &str) -> String {
        self.0.join(rel).display().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Markers and rule sources, in order, to check what was read from where.
fn summary(directives: &[Directive]) -> Vec<String> {
    directives
        .iter()
        .map(|d| match d {
            Directive::Marker(m) => format!("marker {m}"),
            Directive::Rule(r) | Directive::Action(r) => {
                format!(
                    "rule {} at {}:{}",
                    r.id().unwrap(),
                    r.source.file,
                    r.source.line
                )
            }
            other => format!("{other:?}"),
        })
        .collect()
}

fn error_strings(
    result: Result<Vec<Directive>, Vec<gatehouse_waf::parse::ParseError>>,
) -> Vec<String> {
    result
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn relative_paths_and_globs_in_name_order() {
    let tmp = TempDir::new("inc");
    let main = tmp.write(
        "main.conf",
        "SecMarker MAIN\nInclude sub/a.conf\n\n# all rules\nInclude \"rules/*.conf\"\nInclude rules/x?.data\nInclude none/../rules/nothing-*.conf\nSecMarker END\n",
    );
    tmp.write("sub/a.conf", "SecMarker A\nInclude ../other/b.conf\n");
    tmp.write("other/b.conf", "\n\nSecAction \\\n  \"id:3,pass\"\n");
    tmp.write("rules/20-second.conf", "SecRule ARGS \"@rx b\" \"id:20\"\n");
    tmp.write("rules/10-first.conf", "SecRule ARGS \"@rx a\" \"id:10\"\n");
    tmp.write("rules/30-third.conf.example", "SecFoo\n");
    tmp.write("rules/.hidden.conf", "SecFoo\n");
    tmp.write("rules/x1.data", "SecMarker X1\n");
    tmp.write("rules/x22.data", "SecFoo\n");
    std::fs::create_dir_all(tmp.0.join("none")).unwrap();
    let d = parse_file(&main).unwrap();
    assert_eq!(
        summary(&d),
        vec![
            "marker MAIN".to_string(),
            "marker A".to_string(),
            format!("rule 3 at {}:3", tmp.path("sub/../other/b.conf")),
            format!("rule 10 at {}:1", tmp.path("rules/10-first.conf")),
            format!("rule 20 at {}:1", tmp.path("rules/20-second.conf")),
            "marker X1".to_string(),
            "marker END".to_string(),
        ]
    );
}

#[test]
fn parse_str_includes_relative_to_its_file_and_absolute_paths() {
    let tmp = TempDir::new("str");
    tmp.write("conf/r.conf", "SecMarker R\n");
    let abs = tmp.write("abs.conf", "SecMarker ABS\n");
    let file = tmp.path("conf/main.conf");
    let text = format!("Include r.conf\nInclude {}\n", abs.display());
    let d = parse_str(&text, &file).unwrap();
    assert_eq!(summary(&d), vec!["marker R", "marker ABS"]);
}

#[test]
fn errors_in_included_files_name_those_files() {
    let tmp = TempDir::new("err");
    let main = tmp.write("main.conf", "SecRule ARGS x \"id:1\"\nInclude inc.conf\n");
    tmp.write("inc.conf", "\nSecRule ARGS x \\\n  \"id:1\"\nSecBogus\n");
    assert_eq!(
        error_strings(parse_file(&main)),
        vec![
            format!(
                "{}:2: duplicate rule id 1 (first defined at {}:1)",
                tmp.path("inc.conf"),
                tmp.path("main.conf")
            ),
            format!("{}:4: unknown directive `SecBogus`", tmp.path("inc.conf")),
        ]
    );
}

#[test]
fn missing_file_and_wildcard_directory() {
    let tmp = TempDir::new("missing");
    let main = tmp.write(
        "main.conf",
        "SecMarker A\nInclude nope.conf\nInclude */x.conf\n",
    );
    assert_eq!(
        error_strings(parse_file(&main)),
        vec![
            format!(
                "{}:2: Include `{}`: No such file or directory (os error 2)",
                tmp.path("main.conf"),
                tmp.path("nope.conf")
            ),
            format!(
                "{}:3: Include `*/x.conf`: wildcards are only supported in the file name",
                tmp.path("main.conf")
            ),
        ]
    );
    let gone = tmp.0.join("gone.conf");
    assert_eq!(
        error_strings(parse_file(&gone)),
        vec![format!(
            "{}:0: `{}`: No such file or directory (os error 2)",
            gone.display(),
            gone.display()
        )]
    );
}

#[test]
fn include_cycles_are_errors() {
    let tmp = TempDir::new("cycle");
    let a = tmp.write("a.conf", "SecMarker A\nInclude b.conf\n");
    tmp.write("b.conf", "SecMarker B\n\nInclude ./a.conf\n");
    assert_eq!(
        error_strings(parse_file(&a)),
        vec![format!(
            "{}:3: Include cycle: `{}` is already being read",
            tmp.path("b.conf"),
            tmp.path("./a.conf")
        )]
    );
    let own = tmp.write("self.conf", "Include *.conf\n");
    let errors = error_strings(parse_file(&own));
    assert!(
        errors.contains(&format!(
            "{}:1: Include cycle: `{}` is already being read",
            tmp.path("self.conf"),
            tmp.path("self.conf")
        )),
        "{errors:#?}"
    );
    // A file read twice, but not inside itself, is no cycle.
    let twice = tmp.write("twice.conf", "Include c.conf\nInclude c.conf\n");
    tmp.write("c.conf", "SecMarker C\n");
    assert_eq!(
        summary(&parse_file(&twice).unwrap()),
        vec!["marker C", "marker C"]
    );
    assert!(Path::new(&tmp.0).exists());
}

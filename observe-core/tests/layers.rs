//! observe-core is built in layers: each top-level module uses only the
//! modules below it, and the signals never use each other. This test reads
//! the sources (non-test code, comments skipped) and fails on any `crate::`
//! path that runs back up, on a cycle, and on one signal naming another.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Bottom first. A module may use only those before it.
const LAYERS: &[&[&str]] = &[
    &["base"],
    &["encoding"],
    &["metrics"],
    &["context"],
    &["otlp"],
    &["signals", "profile"],
    &["sinks"],
    &["request"],
    &["observe"],
    &["console", "shutdown"],
];

const SIGNALS: &[&str] = &["errors", "event", "health", "logging", "trace"];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("readable source dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs")
            && path.file_name().is_some_and(|n| n != "tests.rs")
        {
            out.push(path);
        }
    }
}

/// The code of a file without comments and without its test module.
fn code(path: &Path) -> String {
    let text = fs::read_to_string(path).expect("readable source");
    let mut out = String::new();
    for line in text.lines() {
        if line.starts_with("#[cfg(test)]") {
            break;
        }
        let trimmed = line.trim_start();
        if trimmed.starts_with("//") {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The names that follow `prefix` in `code`: `crate::a::b` gives `a`,
/// `crate::{a, b::c}` gives `a` and `b`.
fn names_after(code: &str, prefix: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    for (at, _) in code.match_indices(prefix) {
        // `$crate::` (macros) and `super::crate` do not count; a path
        // segment before `crate` would make it something else.
        let before = code[..at].chars().last();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$' || c == ':') {
            continue;
        }
        let rest = &code[at + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    _ => {}
                }
                if depth == 0 {
                    break;
                }
                if c == ',' && depth == 1 {
                    names.insert(ident(item.trim()));
                    item.clear();
                } else if depth == 1 {
                    item.push(c);
                }
            }
            names.insert(ident(item.trim()));
        } else {
            names.insert(ident(rest));
        }
    }
    names.retain(|n| !n.is_empty());
    names
}

/// The top-level module a file belongs to (`None` for `lib.rs`).
fn top_module(path: &Path) -> Option<String> {
    let relative = path.strip_prefix(src()).expect("under src");
    let first = relative.components().next()?.as_os_str().to_str()?;
    (first != "lib.rs").then(|| first.trim_end_matches(".rs").to_string())
}

fn layer_of(module: &str) -> usize {
    LAYERS
        .iter()
        .position(|layer| layer.contains(&module))
        .unwrap_or_else(|| panic!("module {module} is in no layer: add it to LAYERS"))
}

#[test]
fn modules_use_only_the_layers_below_them() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut violations = Vec::new();
    for file in &files {
        let Some(module) = top_module(file) else {
            continue;
        };
        for used in names_after(&code(file), "crate::") {
            if used == module {
                continue;
            }
            // Root re-exports and items (`crate::Observe`) are the facade's.
            let used_module =
                if src().join(&used).is_dir() || src().join(format!("{used}.rs")).exists() {
                    used.clone()
                } else {
                    "observe".to_string()
                };
            if used_module == module {
                continue;
            }
            edges
                .entry(module.clone())
                .or_default()
                .insert(used_module.clone());
            if layer_of(&used_module) >= layer_of(&module) {
                violations.push(format!(
                    "{} uses crate::{used} ({used_module} is not below {module})",
                    file.display()
                ));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "imports that run back up:\n{}",
        violations.join("\n")
    );
    // The order above implies no cycle; say so directly too, for the day
    // someone edits LAYERS.
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| n == node) {
            let mut cycle = path[start..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        path.push(node.to_string());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, path) {
                return Some(cycle);
            }
        }
        path.pop();
        None
    }
    for module in edges.keys() {
        if let Some(cycle) = visit(module, &edges, &mut Vec::new()) {
            panic!("module cycle: {}", cycle.join(" -> "));
        }
    }
}

#[test]
fn signals_never_use_each_other() {
    let mut files = Vec::new();
    rust_files(&src().join("signals"), &mut files);
    let mut violations = Vec::new();
    for file in &files {
        let relative = file
            .strip_prefix(src().join("signals"))
            .expect("under signals");
        let Some(own) = relative
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .map(|s| s.trim_end_matches(".rs").to_string())
        else {
            continue;
        };
        if !SIGNALS.contains(&own.as_str()) {
            continue;
        }
        let code = code(file);
        for used in names_after(&code, "crate::signals::") {
            if used != own {
                violations.push(format!("{} uses signal {used}", file.display()));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "signals naming another signal (wire them in the facade):\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_reader_sees_paths() {
    let names = names_after(
        "use crate::{base::ids, metrics::Families};\nlet x = crate::context::enter();\nmacro $crate::States",
        "crate::",
    );
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        ["base", "context", "metrics"]
    );
}

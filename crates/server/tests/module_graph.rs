//! The server's modules depend on each other one way only. This test reads every module file
//! under `src/`, collects the `crate::`, `super::` and `self::` paths it uses (in `use` lines,
//! in code, in attributes and macro arguments alike; comments, strings and `#[cfg(test)]`
//! items are skipped), and proves that
//!
//! - the graph of top-level modules (`crate::api`, `crate::store`, ...) has no cycle and
//!   follows [`LAYERS`]: a module uses only modules of layers below its own;
//! - the graph of module files has no cycle either (edges between a module and its own
//!   submodules aside: a module and its children are one unit).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The allowed direction, top to bottom: a module may use the modules of the layers below its
/// own, never those of its own layer or above.
const LAYERS: &[&[&str]] = &[
    // The binary's entry points.
    &["cli"],
    // Start-up: every step `serve` takes, in one place.
    &["app"],
    // What start-up makes sure of: the bootstrap admin, the built-in template.
    &["provision"],
    // The HTTP server: the router (and the OpenAPI document of its routes), the middleware
    // stack, the listeners.
    &["startup"],
    // The web UI: HTML pages made from the API's views, changing state only through the
    // functions the API handlers use (so it sits above them, never beside).
    &["web"],
    // Handlers of the resources and their request/response types.
    &["api"],
    // Authentication (the caller, the per-caller rate limit) and the handlers of `/auth`.
    &["auth"],
    // Handlers of `/health` and `/metrics`.
    &["health", "metrics"],
    // What the OpenAPI operations share; HTTP plumbing (extractors, middleware, limits).
    &["docs", "http"],
    // Problem documents (`ApiError`), mapped from the store errors.
    &["error"],
    // The check runner: scheduled and requested runs of automated items, their leases,
    // evidence and retention.
    &["runner"],
    // The write protocol: compare-and-set, audit entry, commit, cache invalidation.
    &["write"],
    // Readiness computed from the stores, its cache and its gauges.
    &["readiness"],
    // Backups (their runs and leases).
    &["backup"],
    // Persistence, one module per thing stored; `StoreError`.
    &["store"],
    // Connections, migrations, entities, the audit-log writer, the encrypted-column registry.
    &["db"],
    // The state handed to handlers and background tasks.
    &["state"],
    // Development keys and the keyring; telemetry.
    &["keys", "telemetry"],
    // Leaves: configuration, the gate's rows (shared by `preflight check` and the JUnit
    // export), the request context, the stop signal, the bounded pool of password checks.
    &[
        "config",
        "gate",
        "request_context",
        "shutdown",
        "password_work",
    ],
];

/// One module: its path (`crate::api::reviews`) and the paths it uses.
#[derive(Debug, Default)]
struct Module {
    uses: Vec<Vec<String>>,
    file: PathBuf,
}

#[test]
fn modules_depend_one_way() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut modules: BTreeMap<Vec<String>, Module> = BTreeMap::new();
    for file in rust_files(&src) {
        let Some(path) = module_path(&src, &file) else {
            continue;
        };
        let text = std::fs::read_to_string(&file).expect("readable source file");
        scan(&path, &file, &strip(&text), &mut modules);
    }
    assert!(
        modules.len() > 20,
        "found only {} modules under {}",
        modules.len(),
        src.display()
    );
    let known: BTreeSet<Vec<String>> = modules.keys().cloned().collect();

    // Module-file graph.
    let mut files: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut top: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut why: BTreeMap<(String, String), String> = BTreeMap::new();
    for (from, module) in &modules {
        for used in &module.uses {
            let Some(to) = resolve(used, &known) else {
                continue;
            };
            if to.is_empty() || from.is_empty() || to == *from {
                continue;
            }
            let (f, t) = (from.join("::"), to.join("::"));
            if !(to.starts_with(from) || from.starts_with(&to)) {
                files.entry(f.clone()).or_default().insert(t.clone());
            }
            if from[0] != to[0] {
                top.entry(from[0].clone())
                    .or_default()
                    .insert(to[0].clone());
                why.entry((from[0].clone(), to[0].clone()))
                    .or_insert_with(|| {
                        format!("{} uses crate::{}", module.file.display(), used.join("::"))
                    });
            }
        }
    }
    if let Some(cycle) = find_cycle(&top) {
        panic!(
            "top-level modules form a cycle: {}\n{}",
            cycle.join(" → "),
            explain(&cycle, &why)
        );
    }
    if let Some(cycle) = find_cycle(&files) {
        panic!("module files form a cycle: {}", cycle.join(" → "));
    }

    // The layers.
    let layer_of: BTreeMap<&str, usize> = LAYERS
        .iter()
        .enumerate()
        .flat_map(|(i, names)| names.iter().map(move |n| (*n, i)))
        .collect();
    let mut wrong = Vec::new();
    for name in top_level(&modules) {
        if !layer_of.contains_key(name.as_str()) {
            wrong.push(format!("crate::{name} is in no layer of LAYERS"));
        }
    }
    for (from, tos) in &top {
        for to in tos {
            let (Some(f), Some(t)) = (layer_of.get(from.as_str()), layer_of.get(to.as_str()))
            else {
                continue;
            };
            if f >= t {
                wrong.push(format!(
                    "crate::{from} must not use crate::{to} ({})",
                    why[&(from.clone(), to.clone())]
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_scanner_sees_paths_in_code_and_skips_tests_comments_and_strings() {
    let text = strip(
        r##"
        //! Docs mention crate::docs_only.
        use crate::{a, b::{c, d as e}, f::*};
        use super::sibling::Thing;
        /* crate::in_block_comment /* nested */ crate::still_comment */
        fn f() {
            let s = "crate::in_string {";
            let r = r#"crate::in_raw "string"#;
            let c = '{';
            let l: &'static str = "x";
            crate::g::call(crate::h::VALUE);
            tokio::select! { () = crate::i::signal() => {} }
        }
        pub mod inline {
            use super::super::up::Item;
        }
        #[cfg(test)]
        #[path = "x_tests.rs"]
        mod tests;
        #[cfg(test)]
        mod more_tests {
            use crate::test_only;
            fn braces() { let _ = "}"; }
        }
        use crate::after_tests;
        "##,
    );
    let mut modules = BTreeMap::new();
    let path = vec!["m".to_owned(), "n".to_owned()];
    scan(&path, Path::new("m/n.rs"), &text, &mut modules);
    let used: BTreeSet<String> = modules
        .values()
        .flat_map(|m| m.uses.iter().map(|u| u.join("::")))
        .collect();
    let expected: BTreeSet<String> = [
        "a",
        "b::c",
        "b::d",
        "f",
        "m::sibling::Thing",
        "g::call",
        "h::VALUE",
        "i::signal",
        "m::up::Item",
        "after_tests",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(used, expected);
    assert!(modules.contains_key(&vec!["m".into(), "n".into(), "inline".into()]));
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("readable directory") {
            let p = entry.expect("directory entry").path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// `src/api/reviews.rs` → `[api, reviews]`, `src/api/mod.rs` → `[api]`, `src/lib.rs` → `[]`.
/// `main.rs` (the binary) and test files included with `#[path]` are not library modules.
fn module_path(src: &Path, file: &Path) -> Option<Vec<String>> {
    let rel = file.strip_prefix(src).ok()?;
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop()?;
    let stem = last.strip_suffix(".rs")?;
    if stem.ends_with("_tests") || stem == "tests" {
        return None;
    }
    match (parts.is_empty(), stem) {
        (true, "lib") => Some(Vec::new()),
        (true, "main") => None,
        (_, "mod") => Some(parts),
        _ => {
            parts.push(stem.to_owned());
            Some(parts)
        }
    }
}

/// The longest known module prefix of a path.
fn resolve(path: &[String], known: &BTreeSet<Vec<String>>) -> Option<Vec<String>> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|p| known.contains(p))
}

fn top_level(modules: &BTreeMap<Vec<String>, Module>) -> BTreeSet<String> {
    modules.keys().filter_map(|p| p.first().cloned()).collect()
}

fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        done: &mut BTreeSet<String>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, done, stack) {
                return Some(cycle);
            }
        }
        stack.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut done, &mut Vec::new()))
}

fn explain(cycle: &[String], why: &BTreeMap<(String, String), String>) -> String {
    cycle
        .windows(2)
        .filter_map(|w| why.get(&(w[0].clone(), w[1].clone())))
        .map(|w| format!("  {w}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The source with comments, string and character literals blanked out (newlines kept), so
/// that only code is scanned and braces balance.
fn strip(src: &str) -> String {
    let c: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    let blank = |out: &mut String, ch: char| out.push(if ch == '\n' { '\n' } else { ' ' });
    while i < c.len() {
        let next = c.get(i + 1).copied();
        if c[i] == '/' && next == Some('/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
                out.push(' ');
            }
        } else if c[i] == '/' && next == Some('*') {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    blank(&mut out, c[i]);
                    i += 1;
                }
            }
        } else if c[i] == 'r'
            && (next == Some('"') || next == Some('#'))
            && !c[..i]
                .last()
                .is_some_and(|p| p.is_alphanumeric() || *p == '_')
        {
            // Raw string r"..." or r#"..."# (not an identifier ending in r, not r#ident).
            let mut j = i + 1;
            let mut hashes = 0;
            while c.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if c.get(j) != Some(&'"') {
                out.push(c[i]);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                if j >= c.len() {
                    break;
                }
                if c[j] == '"' && (1..=hashes).all(|k| c.get(j + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            for ch in &c[i..j.min(c.len())] {
                blank(&mut out, *ch);
            }
            i = j;
        } else if c[i] == '"' {
            out.push(' ');
            i += 1;
            while i < c.len() && c[i] != '"' {
                if c[i] == '\\' {
                    blank(&mut out, c[i]);
                    i += 1;
                }
                if i < c.len() {
                    blank(&mut out, c[i]);
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
        } else if c[i] == '\'' {
            // A character literal ('x', '\n', '\u{..}') or a lifetime ('a, 'static).
            if next == Some('\\') {
                let mut j = i + 2;
                while j < c.len() && c[j] != '\'' {
                    j += 1;
                }
                for _ in i..=j.min(c.len() - 1) {
                    out.push(' ');
                }
                i = j + 1;
            } else if c.get(i + 2) == Some(&'\'') {
                out.push_str("   ");
                i += 3;
            } else {
                out.push(c[i]);
                i += 1;
            }
        } else {
            out.push(c[i]);
            i += 1;
        }
    }
    out
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Sep,
    Punct(char),
}

fn tokens(text: &str) -> Vec<Tok> {
    let c: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        if c[i].is_alphabetic() || c[i] == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            out.push(Tok::Ident(c[start..i].iter().collect()));
        } else if c[i] == ':' && c.get(i + 1) == Some(&':') {
            out.push(Tok::Sep);
            i += 2;
        } else if c[i].is_whitespace() {
            i += 1;
        } else {
            out.push(Tok::Punct(c[i]));
            i += 1;
        }
    }
    out
}

fn is(t: Option<&Tok>, p: char) -> bool {
    t == Some(&Tok::Punct(p))
}

/// Collects the paths used by the file of module `path`, and its inline modules.
fn scan(path: &[String], file: &Path, text: &str, modules: &mut BTreeMap<Vec<String>, Module>) {
    let toks = tokens(text);
    // Module stack: (module path, brace depth at which it closes).
    let mut stack: Vec<(Vec<String>, usize)> = vec![(path.to_vec(), 0)];
    let mut depth = 0usize;
    let mut i = 0;
    let entry = |modules: &mut BTreeMap<Vec<String>, Module>, m: &Vec<String>| {
        modules.entry(m.clone()).or_insert_with(|| Module {
            uses: Vec::new(),
            file: file.to_path_buf(),
        });
    };
    entry(modules, &path.to_vec());
    while i < toks.len() {
        let current = stack.last().map(|(m, _)| m.clone()).unwrap_or_default();
        match &toks[i] {
            Tok::Punct('#') if is_cfg_test(&toks, i) => {
                i = skip_item(&toks, i);
                continue;
            }
            Tok::Punct('{') => depth += 1,
            Tok::Punct('}') => {
                depth = depth.saturating_sub(1);
                if stack.len() > 1 && stack.last().is_some_and(|(_, d)| *d == depth) {
                    stack.pop();
                }
            }
            Tok::Ident(kw) if kw == "mod" => {
                if let (Some(Tok::Ident(name)), true) = (toks.get(i + 1), is(toks.get(i + 2), '{'))
                {
                    let mut inner = current.clone();
                    inner.push(name.clone());
                    entry(modules, &inner);
                    stack.push((inner, depth));
                    depth += 1;
                    i += 3;
                    continue;
                }
            }
            Tok::Ident(head)
                if (head == "crate" || head == "super" || head == "self")
                    && toks.get(i + 1) == Some(&Tok::Sep)
                    && !(i > 0 && toks[i - 1] == Tok::Sep) =>
            {
                let mut base: Vec<String> = Vec::new();
                let mut j = i;
                // crate:: / self:: / super::super:: ...
                match head.as_str() {
                    "crate" => j += 2,
                    "self" => {
                        base = current.clone();
                        j += 2;
                    }
                    _ => {
                        base = current.clone();
                        while toks.get(j) == Some(&Tok::Ident("super".into()))
                            && toks.get(j + 1) == Some(&Tok::Sep)
                        {
                            base.pop();
                            j += 2;
                        }
                    }
                }
                let mut found = Vec::new();
                let end = use_tree(&toks, j, base, &mut found);
                let uses = &mut modules.entry(current.clone()).or_default().uses;
                uses.extend(found.into_iter().filter(|p| !p.is_empty()));
                i = end;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
}

/// Reads a path (or `use` group) starting at `i` under `prefix`; returns where it ends.
fn use_tree(
    toks: &[Tok],
    mut i: usize,
    mut prefix: Vec<String>,
    out: &mut Vec<Vec<String>>,
) -> usize {
    loop {
        match toks.get(i) {
            Some(Tok::Ident(name)) if name == "self" => {
                i += 1;
                break;
            }
            Some(Tok::Ident(name)) => {
                prefix.push(name.clone());
                i += 1;
                if toks.get(i) == Some(&Tok::Sep) {
                    i += 1;
                    continue;
                }
                break;
            }
            Some(Tok::Punct('{')) => {
                i += 1;
                loop {
                    match toks.get(i) {
                        None => return i,
                        Some(Tok::Punct('}')) => return i + 1,
                        Some(Tok::Punct(',')) => i += 1,
                        _ => {
                            let before = i;
                            i = use_tree(toks, i, prefix.clone(), out);
                            // `x as y`
                            if toks.get(i) == Some(&Tok::Ident("as".into())) {
                                i += 2;
                            }
                            if i == before {
                                i += 1;
                            }
                        }
                    }
                }
            }
            Some(Tok::Punct('*')) => {
                i += 1;
                break;
            }
            _ => break,
        }
    }
    out.push(prefix);
    i
}

/// `#[cfg(test)]` at `i`.
fn is_cfg_test(toks: &[Tok], i: usize) -> bool {
    let want = [
        Tok::Punct('#'),
        Tok::Punct('['),
        Tok::Ident("cfg".into()),
        Tok::Punct('('),
        Tok::Ident("test".into()),
        Tok::Punct(')'),
        Tok::Punct(']'),
    ];
    toks.get(i..i + want.len()) == Some(&want[..])
}

/// Skips the attributes at `i` and the item they belong to; returns the index after it.
fn skip_item(toks: &[Tok], mut i: usize) -> usize {
    while is(toks.get(i), '#') && is(toks.get(i + 1), '[') {
        let mut d = 0;
        i += 1;
        while i < toks.len() {
            match toks[i] {
                Tok::Punct('[') => d += 1,
                Tok::Punct(']') => {
                    d -= 1;
                    if d == 0 {
                        i += 1;
                        break;
                    }
                }
                _ => {}
            }
            i += 1;
        }
    }
    let mut d = 0i32;
    while i < toks.len() {
        match toks[i] {
            Tok::Punct('{' | '(' | '[') => d += 1,
            Tok::Punct('}' | ')' | ']') => {
                d -= 1;
                if d == 0 && toks[i] == Tok::Punct('}') {
                    return i + 1;
                }
            }
            Tok::Punct(';') if d == 0 => return i + 1,
            _ => {}
        }
        i += 1;
    }
    i
}

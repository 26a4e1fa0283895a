//! crates/api has no import cycle between its modules.
//!
//! Each file under `src/` is a module (`http/vapi.rs` is `http::vapi`, `http/mod.rs` is `http`).
//! A module depends on another when its code names it: a `crate::` or `super::` path, or a path
//! through one of its own child modules (`vapi::routes` in `http/mod.rs`). A path is taken to the
//! deepest module it names; comments and string literals are not read. The dependencies must
//! form no cycle: a module that everyone uses (shared state, limits) lives below the handlers,
//! never in a file that also wires them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module path (`["http", "vapi"]`, `[]` for the crate root) to its source.
type Sources = BTreeMap<Vec<String>, String>;

fn module_of(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let file = parts.pop().expect("a file name");
    match file.as_str() {
        "lib.rs" | "mod.rs" => {}
        other => parts.push(other.trim_end_matches(".rs").to_owned()),
    }
    parts
}

fn read_sources(root: &Path) -> Sources {
    fn walk(root: &Path, dir: &Path, out: &mut Sources) {
        for entry in std::fs::read_dir(dir).expect("read src") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                walk(root, &path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let relative = path.strip_prefix(root).expect("under src");
                if relative == Path::new("main.rs") {
                    // The binary is its own crate; it uses the library from outside.
                    continue;
                }
                let text = std::fs::read_to_string(&path).expect("read source");
                out.insert(module_of(relative), text);
            }
        }
    }
    let mut out = Sources::new();
    walk(root, root, &mut out);
    out
}

/// The code of a file without its comments, string and character literals.
fn code_only(text: &str) -> String {
    let b: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if c == 'r'
            && matches!(next, Some('"') | Some('#'))
            && !b[..i]
                .last()
                .is_some_and(|p| p.is_alphanumeric() || *p == '_')
        {
            // A raw string: r"..." or r#"..."#.
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                if j >= b.len() {
                    break;
                }
                if b[j] == '"' && (0..hashes).all(|k| b.get(j + 1 + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            i = j;
            out.push_str("\"\"");
        } else if c == '"' {
            i += 1;
            while i < b.len() && b[i] != '"' {
                if b[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' {
            // A character literal ('a', '\n', '\u{1F600}'), else a lifetime.
            if next == Some('\\') {
                let mut j = i + 2;
                while j < b.len() && b[j] != '\'' {
                    j += 1;
                }
                i = j + 1;
                out.push_str("' '");
            } else if b.get(i + 2) == Some(&'\'') {
                i += 3;
                out.push_str("' '");
            } else {
                out.push(c);
                i += 1;
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Every path in `code` that starts with one of `starts` (`crate`, `super`, a child module's
/// name), as its segments, with the number of inline modules (`mod tests { ... }`) it is in; a
/// `{...}` group gives one path per item, up to any nested group.
fn paths_from(code: &str, starts: &BTreeSet<String>) -> Vec<(usize, Vec<String>)> {
    let chars: Vec<char> = code.chars().collect();
    let mut found = Vec::new();
    // Brace depth, and the depths at which the inline modules we are in were opened.
    let mut depth = 0usize;
    let mut inline: Vec<usize> = Vec::new();
    let mut mod_pending = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '{' {
            depth += 1;
            if mod_pending {
                inline.push(depth);
                mod_pending = false;
            }
            i += 1;
            continue;
        }
        if c == '}' {
            if inline.last() == Some(&depth) {
                inline.pop();
            }
            depth = depth.saturating_sub(1);
            i += 1;
            continue;
        }
        if c == ';' {
            mod_pending = false;
        }
        if !is_ident(c)
            || (i > 0
                && (is_ident(chars[i - 1])
                    || (chars[i - 1] == ':' && i > 1 && chars[i - 2] == ':')))
        {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < chars.len() && is_ident(chars[j]) {
            j += 1;
        }
        let word: String = chars[i..j].iter().collect();
        if word == "mod" {
            mod_pending = true;
        }
        if starts.contains(&word) && chars.get(j) == Some(&':') && chars.get(j + 1) == Some(&':') {
            let mut prefix = vec![word];
            let mut paths = Vec::new();
            i = read_path(&chars, j, &mut prefix, &mut paths);
            found.extend(paths.into_iter().map(|p| (inline.len(), p)));
        } else {
            i = j;
        }
    }
    found
}

/// Reads `::a::b` or `::{a::b, c}` after `prefix`, pushing the whole paths; returns where it
/// stopped.
fn read_path(
    chars: &[char],
    mut i: usize,
    prefix: &mut Vec<String>,
    found: &mut Vec<Vec<String>>,
) -> usize {
    let skip_ws = |i: &mut usize| {
        while *i < chars.len() && chars[*i].is_whitespace() {
            *i += 1;
        }
    };
    loop {
        skip_ws(&mut i);
        if !(chars.get(i) == Some(&':') && chars.get(i + 1) == Some(&':')) {
            found.push(prefix.clone());
            return i;
        }
        i += 2;
        skip_ws(&mut i);
        if chars.get(i) == Some(&'{') {
            // A group: each item is a path below `prefix`.
            i += 1;
            loop {
                skip_ws(&mut i);
                match chars.get(i) {
                    None => return i,
                    Some('}') => return i + 1,
                    Some(',') => i += 1,
                    Some(c) if is_ident(*c) => {
                        let start = i;
                        while i < chars.len() && is_ident(chars[i]) {
                            i += 1;
                        }
                        let mut item = prefix.clone();
                        item.push(chars[start..i].iter().collect());
                        i = read_path(chars, i, &mut item, found);
                    }
                    Some(_) => i += 1,
                }
            }
        }
        let start = i;
        while i < chars.len() && is_ident(chars[i]) {
            i += 1;
        }
        if start == i {
            found.push(prefix.clone());
            return i;
        }
        prefix.push(chars[start..i].iter().collect());
    }
}

/// The modules each module depends on (never itself).
fn dependencies(sources: &Sources) -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let mut graph = BTreeMap::new();
    for (module, text) in sources {
        let code = code_only(text);
        let children: BTreeSet<String> = sources
            .keys()
            .filter(|m| m.len() == module.len() + 1 && m.starts_with(module))
            .map(|m| m.last().expect("a child").clone())
            .collect();
        let mut starts = children.clone();
        starts.insert("crate".into());
        starts.insert("super".into());
        let mut deps = BTreeSet::new();
        for (inline, path) in paths_from(&code, &starts) {
            let absolute: Vec<String> = match path[0].as_str() {
                "crate" => path[1..].to_vec(),
                "super" => {
                    let mut base = module.clone();
                    let mut rest = &path[..];
                    // The first `super`s leave the inline modules the path is in.
                    let mut inline = inline;
                    while rest.first().is_some_and(|s| s == "super") {
                        if inline > 0 {
                            inline -= 1;
                        } else {
                            base.pop();
                        }
                        rest = &rest[1..];
                    }
                    base.extend(rest.iter().cloned());
                    base
                }
                // A child's name inside an inline module is not the child.
                _ if inline > 0 => continue,
                _ => {
                    let mut base = module.clone();
                    base.extend(path.iter().cloned());
                    base
                }
            };
            // The deepest module the path names.
            let target = (0..=absolute.len())
                .rev()
                .map(|n| absolute[..n].to_vec())
                .find(|m| sources.contains_key(m))
                .expect("the crate root is a module");
            if &target != module {
                deps.insert(target);
            }
        }
        graph.insert(module.clone(), deps);
    }
    graph
}

/// A cycle in the graph, as the modules along it, if there is one.
fn find_cycle(graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Option<Vec<Vec<String>>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit(
        node: &Vec<String>,
        graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        marks: &mut BTreeMap<Vec<String>, Mark>,
        stack: &mut Vec<Vec<String>>,
    ) -> Option<Vec<Vec<String>>> {
        match marks.get(node) {
            Some(Mark::Done) => return None,
            Some(Mark::Open) => {
                let from = stack.iter().position(|n| n == node).expect("on the stack");
                let mut cycle = stack[from..].to_vec();
                cycle.push(node.clone());
                return Some(cycle);
            }
            None => {}
        }
        marks.insert(node.clone(), Mark::Open);
        stack.push(node.clone());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, graph, marks, stack) {
                return Some(c);
            }
        }
        stack.pop();
        marks.insert(node.clone(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for node in graph.keys() {
        if let Some(c) = visit(node, graph, &mut marks, &mut Vec::new()) {
            return Some(c);
        }
    }
    None
}

fn name(module: &[String]) -> String {
    if module.is_empty() {
        "crate".into()
    } else {
        module.join("::")
    }
}

#[test]
fn the_api_has_no_import_cycle() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let sources = read_sources(&root);
    assert!(sources.len() > 10, "read the modules of {}", root.display());
    let graph = dependencies(&sources);
    if let Some(cycle) = find_cycle(&graph) {
        let names: Vec<String> = cycle.iter().map(|m| name(m)).collect();
        panic!("import cycle in crates/api: {}", names.join(" -> "));
    }
}

fn sources_of(files: &[(&str, &str)]) -> Sources {
    files
        .iter()
        .map(|(path, text)| (module_of(Path::new(path)), (*text).to_owned()))
        .collect()
}

#[test]
fn the_check_finds_the_cycles_it_is_for() {
    // A constant taken from the file that wires the handlers.
    let sources = sources_of(&[
        ("lib.rs", "pub mod http; pub mod server;"),
        (
            "server.rs",
            "pub const LIMIT: usize = 1; fn f() { crate::http::routes(); }",
        ),
        (
            "http/mod.rs",
            "pub mod vapi; pub fn routes() { vapi::routes() }",
        ),
        ("http/vapi.rs", "use crate::server::LIMIT;"),
    ]);
    let cycle = find_cycle(&dependencies(&sources)).expect("a cycle");
    let names: Vec<String> = cycle.iter().map(|m| name(m)).collect();
    assert!(names.contains(&"server".to_owned()), "{names:?}");
    assert!(names.contains(&"http::vapi".to_owned()), "{names:?}");

    // Through `super::` and a grouped `use`.
    let sources = sources_of(&[
        ("lib.rs", "pub mod a; pub mod b;"),
        ("a.rs", "use crate::{b::{x, y}, c};"),
        ("b.rs", "fn f() { super::a::g() }"),
    ]);
    assert!(find_cycle(&dependencies(&sources)).is_some());

    // A parent's item named by its child.
    let sources = sources_of(&[
        ("lib.rs", "pub mod d;"),
        (
            "d/mod.rs",
            "mod s; pub const CSP: &str = \"\"; fn r() { s::routes() }",
        ),
        ("d/s.rs", "fn f() -> &'static str { super::CSP }"),
    ]);
    assert!(find_cycle(&dependencies(&sources)).is_some());
}

#[test]
fn a_test_module_s_super_is_its_own_file() {
    let sources = sources_of(&[
        ("lib.rs", "pub mod d;"),
        ("d/mod.rs", "mod s; fn r() { s::routes() }"),
        (
            "d/s.rs",
            "pub fn routes() {} #[cfg(test)] mod tests { use super::*; }",
        ),
    ]);
    assert_eq!(find_cycle(&dependencies(&sources)), None);
}

#[test]
fn comments_and_strings_are_not_dependencies() {
    let sources = sources_of(&[
        ("lib.rs", "pub mod a; pub mod b;"),
        ("a.rs", "use crate::b::x;"),
        (
            "b.rs",
            "// crate::a::y\n/* crate::a::z */ const S: &str = \"crate::a::w\"; const R: &str = r#\"crate::a\"#; fn f<'a>(c: char) -> bool { c == '\"' }",
        ),
    ]);
    let graph = dependencies(&sources);
    assert_eq!(find_cycle(&graph), None, "{graph:?}");
    assert_eq!(
        graph[&vec!["a".to_owned()]],
        BTreeSet::from([vec!["b".to_owned()]])
    );
}

//! ARCHITECTURE.md's rule, checked: no two files of `app/src` depend on each other, directly or
//! through others. A dependency is a `use` item (`crate::…`, `super::…`, `self::…` or a child
//! module's name) or an inline `crate::…`/`super::…` path, outside the file's test module; a
//! name that a module re-exports (`pub use log::AuditLog`) counts as the file it comes from. A
//! file's use of its own folder's `mod.rs` itself (the feature's shared types, which declares the
//! file) is not counted: the folder owns the file.
use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::{Path, PathBuf},
};

type Module = Vec<String>;

/// A path a file names, and the name it is known by there (its last segment or its alias).
struct Named {
    path: Module,
    name: Option<String>,
}

/// Every file's module, its text, and what each module re-exports (name → absolute path).
struct Crate {
    modules: BTreeMap<Module, String>,
    reexports: BTreeMap<Module, BTreeMap<String, Module>>,
}

#[test]
fn no_two_files_depend_on_each_other() {
    let graph = dependency_graph(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    let cycles: Vec<String> = strongly_connected(&graph)
        .into_iter()
        .filter(|component| component.len() > 1)
        .map(|component| {
            let names: Vec<String> = component.iter().map(|m| m.join("::")).collect();
            names.join(" <-> ")
        })
        .collect();
    assert!(cycles.is_empty(), "files that depend on each other: {cycles:#?}");
    // The check itself finds dependencies (a parser that found none would pass any code),
    // through a plain path and through a re-export (`audit::AuditLog` is `audit::log`'s).
    let edge = |from: &str, to: &str| {
        let split = |text: &str| text.split("::").map(str::to_string).collect::<Module>();
        graph.get(&split(from)).is_some_and(|deps| deps.contains(&split(to)))
    };
    assert!(edge("secrets::data_keys", "crypto::keys"), "secrets::data_keys uses crypto's keys");
    assert!(edge("state", "audit::log"), "the state holds the AuditLog");
}

#[test]
fn a_cycle_through_a_reexport_or_a_relative_path_is_found() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let write = |path: &str, text: &str| {
        let file = dir.path().join(path);
        fs::create_dir_all(file.parent().expect("a folder")).expect("the folder");
        fs::write(file, text).expect("the file");
    };
    write("lib.rs", "mod audit;\nmod store;\n");
    write("audit/mod.rs", "mod log;\npub use log::AuditLog;\n");
    write("audit/log.rs", "use crate::store::Db;\npub struct AuditLog;\n");
    write("store/mod.rs", "mod pool;\npub struct Db(crate::audit::AuditLog);\n");
    write("store/pool.rs", "pub fn f() { super::super::audit::AuditLog; }\n");
    let graph = dependency_graph(dir.path());
    let cycles: Vec<usize> = strongly_connected(&graph).iter().map(Vec::len).collect();
    assert!(cycles.contains(&2), "audit::log <-> store: {graph:?}");
    let pool = graph.get(&vec!["store".to_string(), "pool".to_string()]);
    assert!(
        pool.is_some_and(|deps| deps.contains(&vec!["audit".to_string(), "log".to_string()])),
        "an inline super::super:: path: {pool:?}"
    );
}

fn dependency_graph(root: &Path) -> BTreeMap<Module, BTreeSet<Module>> {
    let mut files = Vec::new();
    collect(root, &mut files);
    let modules: BTreeMap<Module, String> = files
        .into_iter()
        .map(|file| {
            let text = fs::read_to_string(&file).expect("a source file");
            (module_of(root, &file), strip_comments(without_tests(&text)))
        })
        .collect();
    let mut krate = Crate { modules, reexports: BTreeMap::new() };
    for (module, text) in &krate.modules {
        let exported: BTreeMap<String, Module> = uses(text, module, &krate, true)
            .into_iter()
            .filter_map(|named| Some((named.name?, named.path)))
            .collect();
        krate.reexports.insert(module.clone(), exported);
    }
    krate
        .modules
        .iter()
        .map(|(module, text)| {
            let mut paths: Vec<Module> =
                uses(text, module, &krate, false).into_iter().map(|named| named.path).collect();
            paths.extend(inline_paths(text, module));
            let deps = paths
                .into_iter()
                .filter_map(|path| krate.resolve(path, 0))
                .filter(|dep| dep != module && !module.starts_with(dep))
                .collect();
            (module.clone(), deps)
        })
        .collect()
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("a source folder").flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, files);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
}

/// `secrets/service.rs` → `[secrets, service]`; `secrets/mod.rs` → `[secrets]`; `lib.rs` → `[]`.
fn module_of(root: &Path, file: &Path) -> Module {
    let relative = file.strip_prefix(root).expect("under src").with_extension("");
    let mut parts: Module =
        relative.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    if parts.last().is_some_and(|last| last == "mod" || last == "lib") {
        parts.pop();
    }
    parts
}

/// Line comments removed (a `//` inside a string literal, as in a URL, is kept).
fn strip_comments(text: &str) -> String {
    text.lines()
        .map(|line| {
            let mut quoted = false;
            let bytes = line.as_bytes();
            for i in 0..bytes.len() {
                match bytes[i] {
                    b'"' if i == 0 || bytes[i - 1] != b'\\' => quoted = !quoted,
                    b'/' if !quoted && bytes.get(i + 1) == Some(&b'/') => return &line[..i],
                    _ => {}
                }
            }
            line
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The file without its inline test module (`#[cfg(test)] mod tests { … }`, which may use
/// anything); a `#[cfg(test)] mod tests;` declaration is only that line.
fn without_tests(text: &str) -> &str {
    let mut offset = 0;
    while let Some(at) = text[offset..].find("#[cfg(test)]") {
        let start = offset + at;
        let after = text[start + "#[cfg(test)]".len()..].trim_start();
        if after.starts_with("mod ")
            && after
                .split(['{', ';'])
                .next()
                .is_some_and(|head| after[head.len()..].starts_with('{'))
        {
            return &text[..start];
        }
        offset = start + 1;
    }
    text
}

/// The `use` items of a module's text (only its `pub` ones with `exported`), as absolute paths.
fn uses(text: &str, module: &Module, krate: &Crate, exported: bool) -> Vec<Named> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("use ") {
        let before = rest[..at].trim_end();
        let previous = rest[..at].chars().last();
        rest = &rest[at + 4..];
        if previous.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let public = before.ends_with("pub") || before.ends_with(')') && before.contains("pub(");
        let Some(end) = rest.find(';') else { break };
        if exported && !public {
            continue;
        }
        // `a as b` becomes `a@b`, then every space goes.
        let words: Vec<&str> = rest[..end].split_whitespace().collect();
        let tree: String = words.join(" ").replace(" as ", "@").replace(' ', "");
        if let Some((base, tail)) = start_of(&tree, module, krate) {
            expand(&base, tail, &mut found);
        }
    }
    found
}

/// Where a path of `module`'s file starts: the crate root, an ancestor (`super::`, repeated),
/// the module itself (`self::`, or a child module's name); `None` for another crate.
fn start_of<'a>(path: &'a str, module: &Module, krate: &Crate) -> Option<(Module, &'a str)> {
    if let Some(tail) = path.strip_prefix("crate::") {
        return Some((Vec::new(), tail));
    }
    if let Some(tail) = path.strip_prefix("self::") {
        return Some((module.clone(), tail));
    }
    if path.starts_with("super::") {
        let mut base = module.clone();
        let mut tail = path;
        while let Some(rest) = tail.strip_prefix("super::") {
            base.pop();
            tail = rest;
        }
        return Some((base, tail));
    }
    let head = path.split([':', '{', '@']).next().unwrap_or_default();
    let mut child = module.clone();
    child.push(head.to_string());
    krate.modules.contains_key(&child).then_some((module.clone(), path))
}

/// Inline `crate::a::b` and `super::a::b` paths.
fn inline_paths(text: &str, module: &Module) -> Vec<Module> {
    let mut found = Vec::new();
    for (at, _) in text.match_indices("crate::").chain(text.match_indices("super::")) {
        let previous = text[..at].chars().last();
        if previous.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let path = text[at..]
            .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .next()
            .unwrap_or_default();
        let mut segments = path.split("::").filter(|part| !part.is_empty()).peekable();
        let mut base = Vec::new();
        if segments.peek() == Some(&"crate") {
            segments.next();
        } else {
            base = module.clone();
            while segments.peek() == Some(&"super") {
                segments.next();
                base.pop();
            }
        }
        base.extend(segments.map(str::to_string));
        found.push(base);
    }
    found
}

/// Expands a use tree (`a::{b, c::{d, e@f}}`) into its paths and the names they are known by.
fn expand(prefix: &Module, tree: &str, found: &mut Vec<Named>) {
    if let Some(inner) = tree.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
        let mut depth = 0;
        let mut start = 0;
        for (i, c) in inner.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    expand(prefix, &inner[start..i], found);
                    start = i + 1;
                }
                _ => {}
            }
        }
        expand(prefix, &inner[start..], found);
        return;
    }
    if tree.is_empty() {
        return;
    }
    match tree.split_once("::") {
        Some((head, tail)) if !head.contains('{') => {
            let mut next = prefix.clone();
            next.push(head.to_string());
            expand(&next, tail, found);
        }
        _ => {
            let (item, alias) = tree.split_once('@').unwrap_or((tree, ""));
            let mut path = prefix.clone();
            let name = match item {
                "*" => None,
                "self" => prefix.last().cloned(),
                item => {
                    path.push(item.to_string());
                    Some(item.to_string())
                }
            };
            let name = if alias.is_empty() { name } else { Some(alias.to_string()) };
            found.push(Named { path, name });
        }
    }
}

impl Crate {
    /// The file `path` names: the longest prefix that is a module, followed through the
    /// module's re-export of the next segment, if it has one.
    fn resolve(&self, mut path: Module, depth: usize) -> Option<Module> {
        let mut rest = Vec::new();
        while !path.is_empty() && !self.modules.contains_key(&path) {
            rest.insert(0, path.pop()?);
        }
        if path.is_empty() && !self.modules.contains_key(&path) {
            return None;
        }
        if let (Some(next), true) = (rest.first(), depth < 8)
            && let Some(target) = self.reexports.get(&path).and_then(|names| names.get(next))
        {
            let mut target = target.clone();
            target.extend(rest.into_iter().skip(1));
            return self.resolve(target, depth + 1).or(Some(path));
        }
        Some(path)
    }
}

/// Tarjan's algorithm: the graph's strongly connected components.
fn strongly_connected(graph: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<Module>> {
    struct Walk<'a> {
        graph: &'a BTreeMap<Module, BTreeSet<Module>>,
        index: BTreeMap<&'a Module, (usize, usize)>,
        stack: Vec<&'a Module>,
        next: usize,
        components: Vec<Vec<Module>>,
    }
    impl<'a> Walk<'a> {
        fn visit(&mut self, node: &'a Module) {
            self.index.insert(node, (self.next, self.next));
            self.next += 1;
            self.stack.push(node);
            for dep in self.graph.get(node).into_iter().flatten() {
                match self.index.get(dep).copied() {
                    None => {
                        self.visit(dep);
                        let low = self.index[dep].1;
                        let entry = self.index.get_mut(node).expect("visited");
                        entry.1 = entry.1.min(low);
                    }
                    Some((dep_index, _)) if self.stack.contains(&dep) => {
                        let entry = self.index.get_mut(node).expect("visited");
                        entry.1 = entry.1.min(dep_index);
                    }
                    Some(_) => {}
                }
            }
            let (index, low) = self.index[node];
            if index == low {
                let mut component = Vec::new();
                while let Some(member) = self.stack.pop() {
                    component.push(member.clone());
                    if member == node {
                        break;
                    }
                }
                self.components.push(component);
            }
        }
    }
    let mut walk =
        Walk { graph, index: BTreeMap::new(), stack: Vec::new(), next: 0, components: Vec::new() };
    for node in graph.keys() {
        if !walk.index.contains_key(node) {
            walk.visit(node);
        }
    }
    walk.components
}

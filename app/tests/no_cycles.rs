//! ARCHITECTURE.md's rule, checked: no two files of `app/src` depend on each other, directly or
//! through others. A dependency is a `use crate::…`/`use super::…` item or a `crate::…` path
//! outside the file's test module. A file's use of its own folder's `mod.rs` (the feature's shared
//! types, which declares the file) is not counted: the folder owns the file.
use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::{Path, PathBuf},
};

type Module = Vec<String>;

#[test]
fn no_two_files_depend_on_each_other() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    collect(&root, &mut files);
    let modules: BTreeMap<Module, PathBuf> =
        files.into_iter().map(|file| (module_of(&root, &file), file)).collect();
    let graph: BTreeMap<Module, BTreeSet<Module>> = modules
        .iter()
        .map(|(module, file)| {
            let text = fs::read_to_string(file).expect("a source file");
            let deps = paths_used(without_tests(&strip_comments(&text)), module)
                .into_iter()
                .filter_map(|path| resolve(&modules, path))
                .filter(|dep| dep != module && !module.starts_with(dep))
                .collect();
            (module.clone(), deps)
        })
        .collect();
    let cycles: Vec<String> = strongly_connected(&graph)
        .into_iter()
        .filter(|component| component.len() > 1)
        .map(|component| {
            let names: Vec<String> = component.iter().map(|m| m.join("::")).collect();
            names.join(" <-> ")
        })
        .collect();
    assert!(cycles.is_empty(), "files that depend on each other: {cycles:#?}");
    // The check itself finds dependencies (a parser that found none would pass any code).
    let secrets_service = graph.get(&vec!["secrets".to_string(), "service".to_string()]);
    assert!(
        secrets_service.is_some_and(|deps| deps.contains(&vec!["crypto".to_string()])),
        "secrets::service uses crypto: {secrets_service:?}"
    );
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

fn strip_comments(text: &str) -> String {
    text.lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The file up to its `#[cfg(test)] mod …` (tests may use anything).
fn without_tests(text: &str) -> &str {
    let mut rest = text;
    let mut offset = 0;
    while let Some(at) = rest.find("#[cfg(test)]") {
        let after = rest[at + "#[cfg(test)]".len()..].trim_start();
        if after.starts_with("mod ") {
            return &text[..offset + at];
        }
        offset += at + 1;
        rest = &rest[at + 1..];
    }
    text
}

/// Every module path the text names, absolute from the crate root (`super` resolved).
fn paths_used(text: &str, module: &Module) -> Vec<Module> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("use ") {
        let before = rest[..at].chars().last();
        rest = &rest[at + 4..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let Some(end) = rest.find(';') else { break };
        // `a as b` becomes `a@b`, then every space goes.
        let words: Vec<&str> = rest[..end].split_whitespace().collect();
        let tree: String = words.join(" ").replace(" as ", "@").replace(' ', "");
        let base: Option<(Module, &str)> = if let Some(tail) = tree.strip_prefix("crate::") {
            Some((Vec::new(), tail))
        } else {
            tree.strip_prefix("super::").map(|tail| (parent(module), tail))
        };
        if let Some((base, tail)) = base {
            expand(&base, tail, &mut found);
        }
    }
    let mut rest = text;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        let path: Module = rest
            .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .next()
            .unwrap_or_default()
            .split("::")
            .filter(|part| !part.is_empty())
            .map(str::to_string)
            .collect();
        found.push(path);
    }
    found
}

/// The module a `super::` in `module`'s file names.
fn parent(module: &Module) -> Module {
    module[..module.len().saturating_sub(1)].to_vec()
}

/// Expands a use tree (`a::{b, c::{d, e}}`) into its paths.
fn expand(prefix: &Module, tree: &str, found: &mut Vec<Module>) {
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
        Some((head, tail)) => {
            let mut next = prefix.clone();
            next.push(head.to_string());
            expand(&next, tail, found);
        }
        None => {
            let name = tree.split('@').next().unwrap_or(tree);
            let mut path = prefix.clone();
            if name != "self" && name != "*" {
                path.push(name.to_string());
            }
            found.push(path);
        }
    }
}

/// The longest prefix of `path` that is a file's module.
fn resolve(modules: &BTreeMap<Module, PathBuf>, mut path: Module) -> Option<Module> {
    while !path.is_empty() {
        if modules.contains_key(&path) {
            return Some(path);
        }
        path.pop();
    }
    None
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

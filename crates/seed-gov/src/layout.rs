//! Storage-layout safety of a registry upgrade.
//!
//! The registry keeps all its state in ERC-7201 namespaced structs
//! (`@custom:storage-location erc7201:<id>`), as do its OpenZeppelin bases.
//! solc's `storageLayout` output does not cover namespaces, so the layouts
//! are read from the compiler's AST in forge's build-info: for each namespace
//! of the current implementation, every struct the new implementation
//! declares for it must keep the old members, in order, with the same names
//! and storage types, and may only append. Structs reached through a mapping
//! may grow at their end too (each value has its own slot range); structs
//! stored inline or in arrays may not change at all, because growing them
//! would move what follows. Plain state variables (outside namespaces) are
//! compared with forge's `storageLayout` the same way.

use std::{
    collections::{BTreeMap, HashMap},
    fs,
    path::{Path, PathBuf},
};

use alloy::{json_abi::JsonAbi, primitives::Bytes};
use serde_json::Value;

use crate::error::{GovError, Result};

/// A storage type, as far as layout is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ty {
    /// A value type or `string`/`bytes` (contracts and interfaces are `address`, enums `uint8`).
    Elementary(String),
    /// A struct: its name and members in declaration order.
    Struct {
        /// The canonical name (`SeedRegistry.BuilderRecord`).
        name: String,
        /// Members in order.
        members: Vec<(String, Ty)>,
    },
    /// `mapping(key => value)`.
    Mapping(Box<Ty>, Box<Ty>),
    /// `T[n]` (`Some(n)`) or `T[]`.
    Array(Box<Ty>, Option<String>),
}

impl Ty {
    fn show(&self) -> String {
        match self {
            Self::Elementary(name) => name.clone(),
            Self::Struct { name, .. } => format!("struct {name}"),
            Self::Mapping(k, v) => format!("mapping({} => {})", k.show(), v.show()),
            Self::Array(t, Some(n)) => format!("{}[{n}]", t.show()),
            Self::Array(t, None) => format!("{}[]", t.show()),
        }
    }
}

/// The namespaced structs of a contract, by ERC-7201 id (a contract may declare several structs
/// for one id, e.g. a v2 that re-declares v1's struct with a tail).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Layout {
    /// Namespace id → the structs declared for it.
    pub namespaces: BTreeMap<String, Vec<Ty>>,
    /// Plain state variables, as (label, slot, offset, type) from forge's `storageLayout`.
    pub state: Vec<(String, String, u64, String)>,
}

/// A forge artefact (`out/<File>.sol/<Contract>.json`) and what it says about its contract.
#[derive(Debug, Clone)]
pub struct Artifact {
    /// The artefact file.
    pub path: PathBuf,
    /// The contract name.
    pub name: String,
    /// The source file, as the compiler saw it.
    pub source: String,
    /// Creation bytecode.
    pub bytecode: Bytes,
    /// Runtime bytecode (immutables zeroed).
    pub deployed_bytecode: Bytes,
    /// Byte ranges of immutables in the runtime code.
    pub immutables: Vec<(usize, usize)>,
    /// The contract's ABI.
    pub abi: JsonAbi,
    /// Plain state variables.
    state: Vec<(String, String, u64, String)>,
}

fn artifact_error(path: &Path, reason: impl Into<String>) -> GovError {
    GovError::Artifact {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

fn hex_field(value: &Value, path: &Path, field: &str) -> Result<Bytes> {
    let text = value
        .get(field)
        .and_then(|v| v.get("object"))
        .and_then(Value::as_str)
        .ok_or_else(|| artifact_error(path, format!("no {field}.object")))?;
    let text = text.strip_prefix("0x").unwrap_or(text);
    if text.contains("__$") {
        return Err(artifact_error(
            path,
            format!("{field} has unlinked libraries"),
        ));
    }
    let bytes = alloy::hex::decode(text)
        .map_err(|e| artifact_error(path, format!("{field}.object is not hex: {e}")))?;
    Ok(Bytes::from(bytes))
}

impl Artifact {
    /// Reads a forge artefact.
    pub fn load(path: &Path) -> Result<Self> {
        let text = fs::read_to_string(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                artifact_error(
                    path,
                    "it does not exist: build the contracts first (`forge build`; in a seed-eth checkout `script/foundry forge build`), which writes out/<File>.sol/<Contract>.json and out/build-info/",
                )
            } else {
                artifact_error(path, format!("cannot read it: {e}"))
            }
        })?;
        let json: Value = serde_json::from_str(&text)
            .map_err(|e| artifact_error(path, format!("not JSON: {e}")))?;
        let metadata = match json.get("metadata") {
            Some(Value::String(s)) => serde_json::from_str(s).ok(),
            Some(v @ Value::Object(_)) => Some(v.clone()),
            _ => None,
        }
        .or_else(|| {
            json.get("rawMetadata")
                .and_then(Value::as_str)
                .and_then(|s| serde_json::from_str(s).ok())
        })
        .ok_or_else(|| {
            artifact_error(
                path,
                "no metadata: give the forge artefact (out/<File>.sol/<Contract>.json)",
            )
        })?;
        let (source, name) = metadata
            .pointer("/settings/compilationTarget")
            .and_then(Value::as_object)
            .and_then(|targets| targets.iter().next())
            .and_then(|(source, name)| Some((source.clone(), name.as_str()?.to_owned())))
            .ok_or_else(|| artifact_error(path, "metadata names no compilation target"))?;
        let bytecode = hex_field(&json, path, "bytecode")?;
        if bytecode.is_empty() {
            return Err(artifact_error(
                path,
                format!("{name} has no creation code (an interface or abstract contract?)"),
            ));
        }
        let deployed_bytecode = hex_field(&json, path, "deployedBytecode")?;
        let mut immutables = Vec::new();
        if let Some(refs) = json
            .pointer("/deployedBytecode/immutableReferences")
            .and_then(Value::as_object)
        {
            for ranges in refs.values().filter_map(Value::as_array) {
                for range in ranges {
                    let start = range.get("start").and_then(Value::as_u64);
                    let length = range.get("length").and_then(Value::as_u64);
                    if let (Some(start), Some(length)) = (start, length) {
                        immutables.push((start as usize, length as usize));
                    }
                }
            }
        }
        let abi: JsonAbi = json
            .get("abi")
            .ok_or_else(|| artifact_error(path, "no abi"))
            .and_then(|abi| {
                serde_json::from_value(abi.clone())
                    .map_err(|e| artifact_error(path, format!("abi: {e}")))
            })?;
        let state = json
            .pointer("/storageLayout/storage")
            .and_then(Value::as_array)
            .map(|vars| {
                vars.iter()
                    .map(|v| {
                        let s = |k: &str| {
                            v.get(k)
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .to_owned()
                        };
                        let offset = v.get("offset").and_then(Value::as_u64).unwrap_or(0);
                        let ty = json
                            .pointer(&format!("/storageLayout/types/{}/label", s("type")))
                            .and_then(Value::as_str)
                            .map_or_else(|| s("type"), str::to_owned);
                        (s("label"), s("slot"), offset, ty)
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Self {
            path: path.to_path_buf(),
            name,
            source,
            bytecode,
            deployed_bytecode,
            immutables,
            abi,
            state,
        })
    }

    /// Refuses code a chain would refuse to deploy (EIP-170, EIP-3860), before anything is
    /// sent.
    pub fn check_deployable(&self) -> Result<()> {
        crate::upgrade::check_code_size(
            &format!("{} ({})", self.name, self.path.display()),
            self.bytecode.len(),
            self.deployed_bytecode.len(),
        )
    }

    /// Whether `code` (read from the chain) is this artefact's runtime code, ignoring the bytes
    /// of immutables (a UUPS implementation stores its own address in one).
    pub fn runtime_matches(&self, code: &[u8]) -> bool {
        if code.len() != self.deployed_bytecode.len() {
            return false;
        }
        let mut masked = code.to_vec();
        let mut expected = self.deployed_bytecode.to_vec();
        for &(start, length) in &self.immutables {
            for i in start..start.saturating_add(length).min(masked.len()) {
                masked[i] = 0;
                expected[i] = 0;
            }
        }
        masked == expected
    }

    /// The contract's storage layout, from the build-info next to the artefact
    /// (`<out>/build-info/*.json`, which forge writes with `build_info = true`).
    pub fn layout(&self) -> Result<Layout> {
        let out = self
            .path
            .parent()
            .and_then(Path::parent)
            .ok_or_else(|| artifact_error(&self.path, "not inside a forge out directory"))?;
        let dir = out.join("build-info");
        let mut candidates: Vec<(std::time::SystemTime, PathBuf)> = fs::read_dir(&dir)
            .map_err(|e| {
                artifact_error(
                    &self.path,
                    format!(
                        "cannot read {} ({e}); build with `forge build` (build_info = true in foundry.toml)",
                        dir.display()
                    ),
                )
            })?
            .filter_map(|entry| entry.ok())
            .map(|entry| entry.path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .map(|p| {
                let modified = fs::metadata(&p)
                    .and_then(|m| m.modified())
                    .unwrap_or(std::time::UNIX_EPOCH);
                (modified, p)
            })
            .collect();
        // Newest first: a stale build-info for the same contract must not win.
        candidates.sort_by_key(|c| std::cmp::Reverse(c.0));
        let wanted = alloy::hex::encode(&self.bytecode);
        for (_, candidate) in candidates {
            let Ok(text) = fs::read_to_string(&candidate) else {
                continue;
            };
            if !text.contains(&self.name) {
                continue;
            }
            let Ok(info) = serde_json::from_str::<Value>(&text) else {
                continue;
            };
            let Some(contract) = info
                .get("output")
                .and_then(|o| o.get("contracts"))
                .and_then(|c| c.get(&self.source))
                .and_then(|c| c.get(&self.name))
            else {
                continue;
            };
            let object = contract
                .pointer("/evm/bytecode/object")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if object.strip_prefix("0x").unwrap_or(object) != wanted {
                continue;
            }
            let sources = info
                .pointer("/output/sources")
                .and_then(Value::as_object)
                .ok_or_else(|| artifact_error(&candidate, "no output.sources"))?;
            let mut layout = namespaced_layout(sources, &self.source, &self.name)
                .map_err(|reason| artifact_error(&candidate, reason))?;
            layout.state = self.state.clone();
            return Ok(layout);
        }
        Err(artifact_error(
            &self.path,
            format!(
                "no build-info in {} compiled this artefact's bytecode; rebuild with `forge build`",
                dir.display()
            ),
        ))
    }
}

/// Indexes the declarations types can refer to.
fn index<'a>(node: &'a Value, by_id: &mut HashMap<i64, &'a Value>) {
    match node {
        Value::Object(map) => {
            if let (Some(id), Some(kind)) = (
                map.get("id").and_then(Value::as_i64),
                map.get("nodeType").and_then(Value::as_str),
            ) {
                if matches!(
                    kind,
                    "ContractDefinition"
                        | "StructDefinition"
                        | "EnumDefinition"
                        | "UserDefinedValueTypeDefinition"
                ) {
                    by_id.insert(id, node);
                }
            }
            for value in map.values() {
                index(value, by_id);
            }
        }
        Value::Array(items) => {
            for item in items {
                index(item, by_id);
            }
        }
        _ => {}
    }
}

fn namespace_of(node: &Value) -> Option<String> {
    let text = match node.get("documentation")? {
        Value::String(s) => s.as_str(),
        doc => doc.get("text")?.as_str()?,
    };
    let rest = text.split("@custom:storage-location").nth(1)?.trim_start();
    let id = rest.strip_prefix("erc7201:")?;
    Some(id.split_whitespace().next()?.to_owned())
}

fn ty_of(node: &Value, by_id: &HashMap<i64, &Value>, depth: usize) -> Result<Ty, String> {
    if depth > 32 {
        return Err("type nesting too deep (recursive struct?)".to_owned());
    }
    let type_string = node
        .pointer("/typeDescriptions/typeString")
        .and_then(Value::as_str)
        .unwrap_or_default();
    match node.get("nodeType").and_then(Value::as_str) {
        Some("ElementaryTypeName") => {
            let name = type_string.trim_end_matches(" payable");
            Ok(Ty::Elementary(
                name.strip_suffix(" storage ref").unwrap_or(name).to_owned(),
            ))
        }
        Some("Mapping") => Ok(Ty::Mapping(
            Box::new(ty_of(
                node.get("keyType").ok_or("mapping without key")?,
                by_id,
                depth + 1,
            )?),
            Box::new(ty_of(
                node.get("valueType").ok_or("mapping without value")?,
                by_id,
                depth + 1,
            )?),
        )),
        Some("ArrayTypeName") => {
            let length = node.get("length").filter(|l| !l.is_null()).map(|l| {
                l.get("value")
                    .and_then(Value::as_str)
                    .map_or_else(|| type_string.to_owned(), str::to_owned)
            });
            Ok(Ty::Array(
                Box::new(ty_of(
                    node.get("baseType").ok_or("array without base type")?,
                    by_id,
                    depth + 1,
                )?),
                length,
            ))
        }
        Some("UserDefinedTypeName") => {
            let id = node
                .get("referencedDeclaration")
                .and_then(Value::as_i64)
                .ok_or("user-defined type without declaration")?;
            let decl = by_id
                .get(&id)
                .ok_or_else(|| format!("declaration {id} of {type_string} not in the AST"))?;
            match decl.get("nodeType").and_then(Value::as_str) {
                Some("ContractDefinition") => Ok(Ty::Elementary("address".to_owned())),
                Some("EnumDefinition") => Ok(Ty::Elementary("uint8".to_owned())),
                Some("UserDefinedValueTypeDefinition") => ty_of(
                    decl.get("underlyingType").ok_or("UDVT without type")?,
                    by_id,
                    depth + 1,
                ),
                Some("StructDefinition") => struct_of(decl, by_id, depth + 1),
                other => Err(format!(
                    "unsupported declaration {other:?} for {type_string}"
                )),
            }
        }
        Some("FunctionTypeName") => Ok(Ty::Elementary("function".to_owned())),
        other => Err(format!("unsupported type node {other:?} ({type_string})")),
    }
}

fn struct_of(decl: &Value, by_id: &HashMap<i64, &Value>, depth: usize) -> Result<Ty, String> {
    let name = decl
        .get("canonicalName")
        .or_else(|| decl.get("name"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let mut members = Vec::new();
    for member in decl
        .get("members")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let member_name = member
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let ty = ty_of(
            member
                .get("typeName")
                .ok_or_else(|| format!("{name}.{member_name} has no type"))?,
            by_id,
            depth,
        )?;
        members.push((member_name, ty));
    }
    Ok(Ty::Struct { name, members })
}

/// The namespaced structs of `contract` (declared in `source`) and all its bases.
pub fn namespaced_layout(
    sources: &serde_json::Map<String, Value>,
    source: &str,
    contract: &str,
) -> Result<Layout, String> {
    let mut by_id = HashMap::new();
    for unit in sources.values() {
        if let Some(ast) = unit.get("ast") {
            index(ast, &mut by_id);
        }
    }
    let ast = sources
        .get(source)
        .and_then(|u| u.get("ast"))
        .ok_or_else(|| format!("no AST for {source} (compile with forge build)"))?;
    let definition = ast
        .get("nodes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|n| {
            n.get("nodeType").and_then(Value::as_str) == Some("ContractDefinition")
                && n.get("name").and_then(Value::as_str) == Some(contract)
        })
        .ok_or_else(|| format!("no contract {contract} in {source}"))?;
    let mut layout = Layout::default();
    for base in definition
        .get("linearizedBaseContracts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_i64)
    {
        let base = by_id
            .get(&base)
            .ok_or_else(|| format!("base contract {base} not in the AST"))?;
        for node in base
            .get("nodes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if node.get("nodeType").and_then(Value::as_str) != Some("StructDefinition") {
                continue;
            }
            if let Some(id) = namespace_of(node) {
                let ty = struct_of(node, &by_id, 0)?;
                layout.namespaces.entry(id).or_default().push(ty);
            }
        }
    }
    Ok(layout)
}

/// Why `new` cannot replace `old` at `path`; `growable` says whether the type may be extended
/// at its end (namespace roots and values behind a mapping).
fn compare_ty(old: &Ty, new: &Ty, path: &str, growable: bool, problems: &mut Vec<String>) {
    match (old, new) {
        (Ty::Elementary(a), Ty::Elementary(b)) if a == b => {}
        (Ty::Mapping(ok, ov), Ty::Mapping(nk, nv)) => {
            if ok != nk {
                problems.push(format!(
                    "{path}: mapping key changed from {} to {}",
                    ok.show(),
                    nk.show()
                ));
            }
            compare_ty(ov, nv, &format!("{path}[value]"), true, problems);
        }
        (Ty::Array(ob, ol), Ty::Array(nb, nl)) => {
            if ol != nl {
                problems.push(format!(
                    "{path}: array length changed from {} to {}",
                    old.show(),
                    new.show()
                ));
            }
            // Elements are laid out back to back: an element may not grow.
            compare_ty(ob, nb, &format!("{path}[]"), false, problems);
        }
        (
            Ty::Struct {
                members: old_members,
                ..
            },
            Ty::Struct {
                members: new_members,
                ..
            },
        ) => {
            for (index, (name, ty)) in old_members.iter().enumerate() {
                match new_members.get(index) {
                    None => problems.push(format!(
                        "{path}: member {index} `{} {name}` was removed",
                        ty.show()
                    )),
                    Some((new_name, new_ty)) => {
                        if new_name != name {
                            problems.push(format!(
                                "{path}: member {index} is `{} {new_name}` in the new implementation but `{} {name}` in the current one",
                                new_ty.show(),
                                ty.show()
                            ));
                        } else {
                            compare_ty(ty, new_ty, &format!("{path}.{name}"), false, problems);
                        }
                    }
                }
            }
            if !growable && new_members.len() > old_members.len() {
                problems.push(format!(
                    "{path}: members were appended to a struct stored inline or in an array, which moves what follows"
                ));
            }
        }
        _ => problems.push(format!(
            "{path}: type changed from {} to {}",
            old.show(),
            new.show()
        )),
    }
}

/// Every reason `new` is not an append-only extension of `old`; empty when compatible.
pub fn compare(old: &Layout, new: &Layout) -> Vec<String> {
    let mut problems = Vec::new();
    for (id, old_structs) in &old.namespaces {
        let Some(new_structs) = new.namespaces.get(id) else {
            problems.push(format!(
                "erc7201:{id}: the namespace is gone from the new implementation (its state would be orphaned)"
            ));
            continue;
        };
        // The longest old declaration is the most complete description of what is stored.
        let Some(old_struct) = old_structs.iter().max_by_key(|t| match t {
            Ty::Struct { members, .. } => members.len(),
            _ => 0,
        }) else {
            continue;
        };
        for new_struct in new_structs {
            let name = match new_struct {
                Ty::Struct { name, .. } => name.as_str(),
                _ => "",
            };
            compare_ty(
                old_struct,
                new_struct,
                &format!("erc7201:{id} ({name})"),
                true,
                &mut problems,
            );
        }
    }
    for (index, var) in old.state.iter().enumerate() {
        if new.state.get(index) != Some(var) {
            problems.push(format!(
                "state variable `{} {}` (slot {}, offset {}) is not kept in place",
                var.3, var.0, var.1, var.2
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elem(name: &str) -> Ty {
        Ty::Elementary(name.to_owned())
    }

    fn strukt(name: &str, members: &[(&str, Ty)]) -> Ty {
        Ty::Struct {
            name: name.to_owned(),
            members: members
                .iter()
                .map(|(n, t)| ((*n).to_owned(), t.clone()))
                .collect(),
        }
    }

    fn layout(root: Ty) -> Layout {
        let mut layout = Layout::default();
        layout.namespaces.insert("ns".to_owned(), vec![root]);
        layout
    }

    fn v1() -> Ty {
        let record = strukt("R", &[("signer", elem("address"))]);
        strukt(
            "S",
            &[
                ("rules", elem("uint256")),
                (
                    "builders",
                    Ty::Mapping(Box::new(elem("uint256")), Box::new(record)),
                ),
            ],
        )
    }

    #[test]
    fn appending_is_compatible() {
        let record = strukt(
            "R",
            &[("signer", elem("address")), ("extra", elem("uint256"))],
        );
        let v2 = strukt(
            "S",
            &[
                ("rules", elem("uint256")),
                (
                    "builders",
                    Ty::Mapping(Box::new(elem("uint256")), Box::new(record)),
                ),
                ("tail", elem("string")),
            ],
        );
        assert!(compare(&layout(v1()), &layout(v2)).is_empty());
        assert!(compare(&layout(v1()), &layout(v1())).is_empty());
    }

    #[test]
    fn insertion_type_change_and_removal_are_refused() {
        let inserted = strukt(
            "S",
            &[("inserted", elem("uint256")), ("rules", elem("uint256"))],
        );
        let problems = compare(&layout(v1()), &layout(inserted));
        assert!(problems[0].contains("member 0"), "{problems:?}");

        let retyped = strukt(
            "S",
            &[
                ("rules", elem("uint128")),
                (
                    "builders",
                    Ty::Mapping(
                        Box::new(elem("uint256")),
                        Box::new(strukt("R", &[("signer", elem("address"))])),
                    ),
                ),
            ],
        );
        let problems = compare(&layout(v1()), &layout(retyped));
        assert!(problems[0].contains("uint256 to uint128"), "{problems:?}");

        let problems = compare(&layout(v1()), &Layout::default());
        assert!(problems[0].contains("namespace is gone"), "{problems:?}");

        let inline_growth = |inner: &[(&str, Ty)]| {
            strukt(
                "S",
                &[("inner", strukt("I", inner)), ("after", elem("uint256"))],
            )
        };
        let problems = compare(
            &layout(inline_growth(&[("a", elem("uint256"))])),
            &layout(inline_growth(&[
                ("a", elem("uint256")),
                ("b", elem("uint256")),
            ])),
        );
        assert!(problems[0].contains("inline"), "{problems:?}");
    }
}

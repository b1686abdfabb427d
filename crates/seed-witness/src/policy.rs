//! Witness quorums in C2SP tlog-policy syntax (<https://c2sp.org/tlog-policy>):
//!
//! ```text
//! witness acme  witness.acme.example/w1+1b2f…+BA…  https://witness.acme.example
//! witness bravo witness.bravo.example/w1+77c0…+BA… https://witness.bravo.example
//! witness carol witness.carol.example/w1+0d9e…+BA… https://witness.carol.example
//! group independent 2 acme bravo carol
//! quorum independent
//! ```
//!
//! A checkpoint is witnessed when the quorum group is satisfied: a witness
//! counts when its cosignature verifies; a group when at least k of its
//! members count. `log` lines are accepted and checked as the format
//! requires; which logs are trusted is the trust root's business here.

use std::collections::{BTreeMap, BTreeSet};

use crate::note::{Note, Vkey};

/// Why a witness policy is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("witness policy, line {line}: {reason}")]
pub struct PolicyError {
    /// The 1-based line.
    pub line: usize,
    /// What is wrong with it.
    pub reason: String,
}

/// One witness of the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyWitness {
    /// Its name in the policy.
    pub name: String,
    /// Its cosignature key.
    pub vkey: Vkey,
    /// Its URL prefix (add-checkpoint and `<sha256(origin)>/checkpoint`).
    pub url: Option<String>,
}

/// A log line of the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyLog {
    /// Its key.
    pub vkey: Vkey,
    /// Its URL.
    pub url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Group {
    threshold: usize,
    members: Vec<String>,
}

/// A parsed witness policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessPolicy {
    logs: Vec<PolicyLog>,
    witnesses: Vec<PolicyWitness>,
    groups: BTreeMap<String, Group>,
    /// `None` for `quorum none`.
    quorum: Option<String>,
}

impl WitnessPolicy {
    /// Parses a policy; every rule of the format is enforced (names defined
    /// before use, unique names and keys, 1 ≤ k ≤ n, exactly one quorum).
    pub fn parse(text: &str) -> Result<Self, PolicyError> {
        let mut policy = Self {
            logs: Vec::new(),
            witnesses: Vec::new(),
            groups: BTreeMap::new(),
            quorum: None,
        };
        let mut quorum_seen = false;
        let mut keys = BTreeSet::new();
        for (index, raw) in text.lines().enumerate() {
            let error = |reason: String| PolicyError {
                line: index + 1,
                reason,
            };
            let words: Vec<&str> = raw
                .split([' ', '\t'])
                .filter(|word| !word.is_empty())
                .collect();
            let Some((&keyword, args)) = words.split_first() else {
                continue;
            };
            if keyword.starts_with('#') {
                continue;
            }
            match (keyword, args) {
                ("log", [vkey, rest @ ..]) if rest.len() <= 1 => {
                    let vkey = Vkey::parse(vkey).map_err(|e| error(e.to_string()))?;
                    if vkey.is_cosigner() {
                        return Err(error("a log key cannot be a cosignature key".to_owned()));
                    }
                    if !keys.insert(vkey.key_bytes().to_vec()) {
                        return Err(error("this key is listed twice".to_owned()));
                    }
                    policy.logs.push(PolicyLog {
                        vkey,
                        url: rest.first().map(|url| (*url).to_owned()),
                    });
                }
                ("witness", [name, vkey, rest @ ..]) if rest.len() <= 1 => {
                    policy.check_new_name(name).map_err(error)?;
                    let vkey = Vkey::parse(vkey).map_err(|e| error(e.to_string()))?;
                    if !vkey.is_cosigner() {
                        return Err(error(format!(
                            "witness {name}: the key must be a cosignature key (type 0x04)"
                        )));
                    }
                    if !keys.insert(vkey.key_bytes().to_vec()) {
                        return Err(error("this key is listed twice".to_owned()));
                    }
                    policy.witnesses.push(PolicyWitness {
                        name: (*name).to_owned(),
                        vkey,
                        url: rest.first().map(|url| (*url).to_owned()),
                    });
                }
                ("group", [name, threshold, members @ ..]) if !members.is_empty() => {
                    policy.check_new_name(name).map_err(error)?;
                    let mut distinct = BTreeSet::new();
                    for member in members {
                        if *member == "none" || !policy.defines(member) {
                            return Err(error(format!(
                                "group {name}: {member} is not a witness or group defined above"
                            )));
                        }
                        if !distinct.insert(*member) {
                            return Err(error(format!("group {name}: {member} is listed twice")));
                        }
                    }
                    let n = members.len();
                    let threshold = match *threshold {
                        "all" => n,
                        "any" => 1,
                        k => k
                            .parse::<usize>()
                            .ok()
                            .filter(|k| (1..=n).contains(k) && !threshold.starts_with('0'))
                            .ok_or_else(|| {
                                error(format!(
                                    "group {name}: threshold {k:?} is not all, any or 1..={n}"
                                ))
                            })?,
                    };
                    policy.groups.insert(
                        (*name).to_owned(),
                        Group {
                            threshold,
                            members: members.iter().map(|m| (*m).to_owned()).collect(),
                        },
                    );
                }
                ("quorum", [name]) => {
                    if quorum_seen {
                        return Err(error("a second quorum line".to_owned()));
                    }
                    quorum_seen = true;
                    if *name != "none" {
                        if !policy.defines(name) {
                            return Err(error(format!("quorum {name}: not defined above")));
                        }
                        policy.quorum = Some((*name).to_owned());
                    }
                }
                _ => {
                    return Err(error(format!(
                        "{raw:?} is not `log <vkey> [url]`, `witness <name> <vkey> [url]`, \
                         `group <name> <k|all|any> <name>...` or `quorum <name>`"
                    )))
                }
            }
        }
        if !quorum_seen {
            return Err(PolicyError {
                line: text.lines().count(),
                reason: "no quorum line (write `quorum none` to require no witness)".to_owned(),
            });
        }
        Ok(policy)
    }

    /// The policy `quorum none`: no witness required.
    pub fn none() -> Self {
        Self {
            logs: Vec::new(),
            witnesses: Vec::new(),
            groups: BTreeMap::new(),
            quorum: None,
        }
    }

    fn defines(&self, name: &str) -> bool {
        self.groups.contains_key(name) || self.witnesses.iter().any(|w| w.name == name)
    }

    fn check_new_name(&self, name: &str) -> Result<(), String> {
        if name == "none" || self.defines(name) {
            return Err(format!("the name {name} is reserved or already defined"));
        }
        Ok(())
    }

    /// The witnesses, in policy order.
    pub fn witnesses(&self) -> &[PolicyWitness] {
        &self.witnesses
    }

    /// The logs listed.
    pub fn logs(&self) -> &[PolicyLog] {
        &self.logs
    }

    /// Whether the policy asks for no cosignature at all (`quorum none`).
    pub fn requires_none(&self) -> bool {
        self.quorum.is_none()
    }

    /// The names of the policy's witnesses whose cosignature of `note`
    /// verifies. Lines of other keys are ignored; a forged line of a policy
    /// witness simply does not count.
    pub fn cosigners(&self, note: &Note) -> BTreeSet<String> {
        self.witnesses
            .iter()
            .filter(|witness| {
                let mut lines = note.signatures_of(&witness.vkey).peekable();
                lines.peek().is_some()
                    && lines.all(|line| {
                        witness
                            .vkey
                            .verifies(note.text().as_bytes(), &line.signature)
                    })
            })
            .map(|witness| witness.name.clone())
            .collect()
    }

    /// Whether the witnesses named in `witnessed` satisfy the quorum.
    pub fn satisfied_by(&self, witnessed: &BTreeSet<String>) -> bool {
        match &self.quorum {
            None => true,
            Some(name) => self.holds(name, witnessed),
        }
    }

    fn holds(&self, name: &str, witnessed: &BTreeSet<String>) -> bool {
        match self.groups.get(name) {
            Some(group) => {
                group
                    .members
                    .iter()
                    .filter(|member| self.holds(member, witnessed))
                    .count()
                    >= group.threshold
            }
            None => witnessed.contains(name),
        }
    }

    /// The quorum rule in words, for reports ("2 of acme, bravo, carol").
    pub fn describe(&self) -> String {
        match &self.quorum {
            None => "none".to_owned(),
            Some(name) => self.describe_name(name),
        }
    }

    fn describe_name(&self, name: &str) -> String {
        match self.groups.get(name) {
            Some(group) => format!(
                "{} of ({})",
                group.threshold,
                group
                    .members
                    .iter()
                    .map(|m| self.describe_name(m))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None => name.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cosignature::Cosigner;

    fn witness(name: &str, seed: u8) -> Cosigner {
        Cosigner::from_seed(&format!("{name}.example/w"), [seed; 32]).unwrap()
    }

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    #[test]
    fn nested_groups_count_as_the_spec_says() {
        let keys: Vec<String> = (1..=6)
            .map(|i| witness("x", i).vkey().to_string())
            .collect();
        let text = format!(
            "# two organisations\n\
             witness X1 {}\nwitness X2 {}\nwitness X3 {}\n\
             group X-witnesses 2 X1 X2 X3\n\
             \twitness Y1 {}  \nwitness Y2 {}\nwitness Y3 {}\n\
             group Y-witnesses any Y1 Y2 Y3\n\
             group X-and-Y all X-witnesses Y-witnesses\n\
             quorum X-and-Y\n",
            keys[0], keys[1], keys[2], keys[3], keys[4], keys[5]
        );
        let policy = WitnessPolicy::parse(&text).unwrap();
        assert!(policy.satisfied_by(&set(&["X1", "X3", "Y2"])));
        assert!(!policy.satisfied_by(&set(&["X1", "Y1", "Y2", "Y3"])));
        assert!(!policy.satisfied_by(&set(&["X1", "X2", "X3"])));
        assert_eq!(
            policy.describe(),
            "2 of (2 of (X1, X2, X3), 1 of (Y1, Y2, Y3))"
        );
    }

    #[test]
    fn quorum_none_needs_nobody() {
        let policy = WitnessPolicy::parse("quorum none\n").unwrap();
        assert!(policy.requires_none() && policy.satisfied_by(&set(&[])));
        assert_eq!(policy, WitnessPolicy::none());
    }

    #[test]
    fn bad_policies_are_refused_with_their_line() {
        let a = witness("a", 1).vkey().to_string();
        let b = witness("b", 2).vkey().to_string();
        let log_key = crate::note::Vkey::ed25519("log.example", [9; 32]).unwrap();
        let cases = [
            (format!("witness a {a}\n"), 1, "no quorum"),
            (
                format!("quorum a\nwitness a {a}\n"),
                1,
                "used before defined",
            ),
            (
                format!("witness a {a}\nwitness a {b}\nquorum a\n"),
                2,
                "name twice",
            ),
            (
                format!("witness a {a}\nwitness b {a}\nquorum a\n"),
                2,
                "key twice",
            ),
            (
                format!("witness a {a}\ngroup g 2 a\nquorum g\n"),
                2,
                "k > n",
            ),
            (
                format!("witness a {a}\ngroup g 0 a\nquorum g\n"),
                2,
                "k = 0",
            ),
            (
                format!("witness a {a}\ngroup g 01 a\nquorum g\n"),
                2,
                "leading zero",
            ),
            (
                format!("witness a {a}\ngroup g any a a\nquorum g\n"),
                2,
                "member twice",
            ),
            (
                format!("witness a {a}\ngroup g any none\nquorum g\n"),
                2,
                "none as member",
            ),
            (
                format!("witness a {a}\nquorum a\nquorum a\n"),
                3,
                "two quorums",
            ),
            (
                format!("witness a {log_key}\nquorum a\n"),
                1,
                "note key as witness",
            ),
            (format!("log {a}\nquorum none\n"), 1, "cosigner as log"),
            (
                format!("witness none {a}\nquorum none\n"),
                1,
                "reserved name",
            ),
            ("frobnicate\nquorum none\n".to_owned(), 1, "unknown keyword"),
        ];
        for (text, line, what) in cases {
            let error = WitnessPolicy::parse(&text).expect_err(what);
            assert_eq!(error.line, line, "{what}: {error}");
        }
    }

    #[test]
    fn only_verified_cosignatures_of_policy_witnesses_count() {
        let (a, b, stranger) = (witness("a", 1), witness("b", 2), witness("c", 3));
        let policy = WitnessPolicy::parse(&format!(
            "witness a {}\nwitness b {}\ngroup both all a b\nquorum both\n",
            a.vkey(),
            b.vkey()
        ))
        .unwrap();
        let text = "log.example\n3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n".to_owned();
        let mut forged = b.cosign(&text, 10);
        forged.signature[20] ^= 1;
        let note = Note::new(
            text.clone(),
            vec![a.cosign(&text, 10), forged, stranger.cosign(&text, 10)],
        );
        assert_eq!(policy.cosigners(&note), set(&["a"]));
        assert!(!policy.satisfied_by(&policy.cosigners(&note)));
        let note = Note::new(text.clone(), vec![a.cosign(&text, 10), b.cosign(&text, 11)]);
        assert!(policy.satisfied_by(&policy.cosigners(&note)));
    }
}

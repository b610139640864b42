//! The catalogue of normative statements of MQTT 3.1.1 and MQTT 5.0.
//!
//! Every statement the specifications tag `[MQTT-x.y.z-n]` has one entry here, per version,
//! with the section it sits in, the strength of its keyword, the side it obliges and a
//! one-line summary in our own words. The same id can mean different things in the two
//! versions (`MQTT-3.1.2-24` is the keep alive rule in 3.1.1 and a Maximum Packet Size rule in
//! 5.0), so every lookup names the version.
//!
//! The data lives in `spec/requirements/mqtt-3.1.1.json` and `spec/requirements/mqtt-5.0.json`,
//! embedded at build time and parsed once, on first use.
//!
//! # Ids
//!
//! An id is written `MQTT-` followed by dotted section numbers, a `-` and the statement number,
//! exactly as the specification tags it without the brackets: `MQTT-3.1.2-24`. Statements that
//! sit directly under a heading use `0` for the missing levels (`MQTT-3.1.0-1` is in section
//! 3.1, `MQTT-6.0.0-1` in chapter 6).
//!
//! The specifications misprint three tags. The catalogue keeps one canonical id for each, and
//! [`Catalogue::get`] also accepts the other spelling:
//!
//! | version | canonical | also accepted | why |
//! | --- | --- | --- | --- |
//! | 3.1.1 | `MQTT-3.1.2-7` | `MQTT-3.1.2.7` | the body prints a dot for the dash |
//! | 3.1.1 | `MQTT-3.8.3-4` | `MQTT-3-8.3-4` | the body prints a dash for the first dot |
//! | 5.0 | `MQTT-4.2-1` | `MQTT-4.2.0-1` | the body tags `4.2-1`, the appendix lists `4.2.0-1` |
//!
//! # Level
//!
//! [`Level`] is the strongest keyword in the tagged text: a statement that says a server MAY
//! send a CONNACK and MUST then close the connection is [`Level::Must`]. The two statements that
//! carry no keyword at all but define a hard error (5.0 `MQTT-3.1.2-12` and `MQTT-3.8.3-4`) are
//! [`Level::Must`] too. Every numbered statement of both versions is a MUST or MUST NOT by that
//! rule; the SHOULD and MAY parts are kept in the summaries.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// The version of the MQTT specification a statement belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum SpecVersion {
    /// MQTT Version 3.1.1, OASIS Standard, 29 October 2014.
    #[serde(rename = "3.1.1")]
    V3_1_1,
    /// MQTT Version 5.0, OASIS Standard, 7 March 2019.
    #[serde(rename = "5.0")]
    V5_0,
}

impl SpecVersion {
    /// Both versions, oldest first.
    pub const ALL: [SpecVersion; 2] = [SpecVersion::V3_1_1, SpecVersion::V5_0];

    /// The version as the specification names it: `"3.1.1"` or `"5.0"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            SpecVersion::V3_1_1 => "3.1.1",
            SpecVersion::V5_0 => "5.0",
        }
    }
}

impl fmt::Display for SpecVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How strongly a statement obliges: the keyword of the statement, after RFC 2119.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// MUST or MUST NOT.
    Must,
    /// SHOULD or SHOULD NOT.
    Should,
    /// MAY.
    May,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Must => "must",
            Level::Should => "should",
            Level::May => "may",
        })
    }
}

/// The side a statement obliges.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Binds {
    /// Only a client can break it.
    Client,
    /// Only a server can break it.
    Server,
    /// Either side can break it: a wire format rule, or a rule for any sender or receiver.
    Both,
}

impl fmt::Display for Binds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Binds::Client => "client",
            Binds::Server => "server",
            Binds::Both => "both",
        })
    }
}

/// One normative statement of one version of the specification.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statement {
    /// The id as the specification tags it, without brackets: `MQTT-3.1.2-24`.
    pub id: String,
    /// The version the statement belongs to.
    pub version: SpecVersion,
    /// The most specific numbered heading the statement sits under: `3.1.2.10`.
    pub section: String,
    /// The strongest keyword of the statement.
    pub level: Level,
    /// The side the statement obliges.
    pub binds: Binds,
    /// What the statement requires, in one line and in our own words.
    pub summary: String,
}

impl fmt::Display for Statement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] (MQTT {}, §{}) {}", self.id, self.version, self.section, self.summary)
    }
}

/// A statement id or section number that does not have the expected form.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CatalogueError {
    /// The string is not an id of the form `MQTT-<n>.<n>[.<n>...]-<n>`.
    #[error("`{id}` is not a statement id of the form MQTT-<n>.<n>[.<n>...]-<n>: {reason}")]
    InvalidStatementId {
        /// The string that was given.
        id: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The string is not a dotted section number such as `3.1.2.10`.
    #[error("`{section}` is not a dotted section number: {reason}")]
    InvalidSection {
        /// The string that was given.
        section: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// A parsed statement id: the dotted section numbers and the statement number.
///
/// The derived order compares the section numbers numerically, level by level, and then the
/// statement number, so `MQTT-3.2.0-1` sorts before `MQTT-3.10.1-1`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StatementId {
    sections: Vec<u16>,
    number: u16,
}

impl StatementId {
    /// Parses an id written exactly as `MQTT-<n>.<n>[.<n>...]-<n>`, with no brackets, no
    /// whitespace and no leading zeros (`MQTT-3.1.2-24`, `MQTT-4.2-1`).
    pub fn parse(id: &str) -> Result<Self, CatalogueError> {
        let invalid = |reason| CatalogueError::InvalidStatementId { id: id.to_owned(), reason };
        let rest = id.strip_prefix("MQTT-").ok_or_else(|| invalid("it does not start with `MQTT-`"))?;
        let (dotted, number) =
            rest.rsplit_once('-').ok_or_else(|| invalid("there is no `-` before the statement number"))?;
        let number = parse_component(number).ok_or_else(|| invalid("the statement number is not a number"))?;
        let sections = parse_dotted(dotted).ok_or_else(|| invalid("the section part is not dotted numbers"))?;
        if sections.len() < 2 {
            return Err(invalid("the section part has fewer than two levels"));
        }
        Ok(StatementId { sections, number })
    }

    /// The section numbers as tagged, zeros included: `[3, 1, 0]` for `MQTT-3.1.0-1`.
    pub fn sections(&self) -> &[u16] {
        &self.sections
    }

    /// The statement number within its section: `24` for `MQTT-3.1.2-24`.
    pub fn number(&self) -> u16 {
        self.number
    }

    /// The section the id names, without the trailing zeros that stand for missing levels:
    /// `[3, 1]` for `MQTT-3.1.0-1`, `[6]` for `MQTT-6.0.0-1`. A statement sits in this section
    /// or in one of its subsections.
    pub fn section_prefix(&self) -> &[u16] {
        let kept = self.sections.iter().rposition(|&level| level != 0).map_or(0, |last| last + 1);
        &self.sections[..kept]
    }

    /// Whether a section, given as dotted numbers, is the section this id names or one of its
    /// subsections.
    pub fn is_within(&self, section: &[u16]) -> bool {
        section.starts_with(self.section_prefix())
    }
}

impl fmt::Display for StatementId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MQTT-")?;
        for (i, level) in self.sections.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            write!(f, "{level}")?;
        }
        write!(f, "-{}", self.number)
    }
}

impl FromStr for StatementId {
    type Err = CatalogueError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        StatementId::parse(s)
    }
}

/// Parses a statement id into its section numbers and statement number; see
/// [`StatementId::parse`] for the accepted form.
pub fn parse_statement_id(id: &str) -> Result<StatementId, CatalogueError> {
    StatementId::parse(id)
}

/// Parses a dotted section number such as `3.1.2.10` or `6`.
pub fn parse_section(section: &str) -> Result<Vec<u16>, CatalogueError> {
    parse_dotted(section).ok_or_else(|| CatalogueError::InvalidSection {
        section: section.to_owned(),
        reason: "expected numbers separated by single dots",
    })
}

fn parse_dotted(s: &str) -> Option<Vec<u16>> {
    s.split('.').map(parse_component).collect()
}

/// One number of an id or section: ASCII digits only, no sign, no leading zero.
fn parse_component(s: &str) -> Option<u16> {
    let canonical = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    if canonical { s.parse().ok() } else { None }
}

/// Other spellings the specifications print for a statement, and the canonical id they stand
/// for; see the module documentation.
const ALIASES: &[(SpecVersion, &str, &str)] = &[
    (SpecVersion::V3_1_1, "MQTT-3.1.2.7", "MQTT-3.1.2-7"),
    (SpecVersion::V3_1_1, "MQTT-3-8.3-4", "MQTT-3.8.3-4"),
    (SpecVersion::V5_0, "MQTT-4.2.0-1", "MQTT-4.2-1"),
];

/// Every normative statement of both versions, in specification order.
#[derive(Debug)]
pub struct Catalogue {
    v3_1_1: VersionStatements,
    v5_0: VersionStatements,
}

#[derive(Debug)]
struct VersionStatements {
    statements: Vec<Statement>,
    by_id: HashMap<String, usize>,
}

/// The fields of one entry of a requirements file; the version comes from the file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    id: String,
    section: String,
    level: Level,
    binds: Binds,
    summary: String,
}

impl VersionStatements {
    fn load(version: SpecVersion, json: &str) -> Self {
        let entries: Vec<Entry> = match serde_json::from_str(json) {
            Ok(entries) => entries,
            Err(error) => panic!(
                "the embedded catalogue spec/requirements/mqtt-{version}.json does not parse \
                 (a build defect, fix the file): {error}"
            ),
        };
        let statements: Vec<Statement> = entries
            .into_iter()
            .map(|entry| Statement {
                id: entry.id,
                version,
                section: entry.section,
                level: entry.level,
                binds: entry.binds,
                summary: entry.summary,
            })
            .collect();
        let by_id = statements.iter().enumerate().map(|(index, s)| (s.id.clone(), index)).collect();
        VersionStatements { statements, by_id }
    }
}

impl Catalogue {
    fn for_version(&self, version: SpecVersion) -> &VersionStatements {
        match version {
            SpecVersion::V3_1_1 => &self.v3_1_1,
            SpecVersion::V5_0 => &self.v5_0,
        }
    }

    /// The statement with this id in this version.
    ///
    /// The id is written exactly as `MQTT-x.y.z-n`: no brackets, no whitespace, case as shown.
    /// The few misprinted spellings listed in the module documentation are accepted too and
    /// return the statement under its canonical id. Anything else, or an id the version does
    /// not have, gives `None`.
    pub fn get(&self, version: SpecVersion, id: &str) -> Option<&Statement> {
        let statements = self.for_version(version);
        let canonical = ALIASES
            .iter()
            .find(|(v, alias, _)| *v == version && *alias == id)
            .map_or(id, |(_, _, canonical)| canonical);
        statements.by_id.get(canonical).map(|&index| &statements.statements[index])
    }

    /// Every statement of this version, in the order the specification states them.
    pub fn statements(&self, version: SpecVersion) -> impl ExactSizeIterator<Item = &Statement> + DoubleEndedIterator {
        self.for_version(version).statements.iter()
    }

    /// How many statements this version has.
    pub fn len(&self, version: SpecVersion) -> usize {
        self.for_version(version).statements.len()
    }
}

/// The catalogue, parsed from the embedded requirements files on first use.
///
/// # Panics
///
/// If an embedded requirements file does not parse. That is a defect of this crate's own data,
/// caught by its tests, never a condition of runtime input.
pub fn catalogue() -> &'static Catalogue {
    static CATALOGUE: OnceLock<Catalogue> = OnceLock::new();
    CATALOGUE.get_or_init(|| Catalogue {
        v3_1_1: VersionStatements::load(SpecVersion::V3_1_1, include_str!("../requirements/mqtt-3.1.1.json")),
        v5_0: VersionStatements::load(SpecVersion::V5_0, include_str!("../requirements/mqtt-5.0.json")),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    /// The longest summary we allow, in characters.
    const SUMMARY_LIMIT: usize = 140;

    fn statement(version: SpecVersion, id: &str) -> &'static Statement {
        match catalogue().get(version, id) {
            Some(statement) => statement,
            None => panic!("{id} is missing from MQTT {version}"),
        }
    }

    #[test]
    fn counts_match_the_ids_the_specifications_tag() {
        // 3.1.1: appendix B lists 141 ids; 5.0: appendix B lists 251 (chapters 1 to 4 hold 5, 7,
        // 175 and 60, chapter 6 holds 4).
        assert_eq!(catalogue().len(SpecVersion::V3_1_1), 141);
        assert_eq!(catalogue().len(SpecVersion::V5_0), 251);
        assert_eq!(catalogue().statements(SpecVersion::V3_1_1).len(), 141);
        assert_eq!(catalogue().statements(SpecVersion::V5_0).len(), 251);
    }

    #[test]
    fn five_zero_chapters_hold_the_counts_of_appendix_b() {
        let mut per_chapter = [0usize; 8];
        for s in catalogue().statements(SpecVersion::V5_0) {
            let id = parse_statement_id(&s.id).unwrap();
            per_chapter[usize::from(id.sections()[0])] += 1;
        }
        assert_eq!(per_chapter, [0, 5, 7, 175, 60, 0, 4, 0]);
    }

    #[test]
    fn three_one_one_chapters_hold_the_counts_of_appendix_b() {
        let mut per_chapter = [0usize; 8];
        for s in catalogue().statements(SpecVersion::V3_1_1) {
            let id = parse_statement_id(&s.id).unwrap();
            per_chapter[usize::from(id.sections()[0])] += 1;
        }
        assert_eq!(per_chapter, [0, 3, 9, 95, 26, 0, 4, 4]);
    }

    #[test]
    fn ids_are_well_formed_and_unique_within_each_version() {
        for version in SpecVersion::ALL {
            let mut seen = HashSet::new();
            for s in catalogue().statements(version) {
                let id = parse_statement_id(&s.id).unwrap_or_else(|e| panic!("MQTT {version}: {e}"));
                assert_eq!(id.to_string(), s.id, "MQTT {version}: {} does not round-trip", s.id);
                assert!(seen.insert(s.id.clone()), "MQTT {version}: {} appears twice", s.id);
                assert_eq!(s.version, version, "{} is filed under the wrong version", s.id);
            }
        }
    }

    #[test]
    fn every_statement_sits_in_the_section_its_id_names() {
        for version in SpecVersion::ALL {
            for s in catalogue().statements(version) {
                let id = parse_statement_id(&s.id).unwrap();
                let section = parse_section(&s.section).unwrap_or_else(|e| panic!("MQTT {version} {}: {e}", s.id));
                assert!(
                    id.is_within(&section),
                    "MQTT {version}: {} sits in §{}, outside the section its id names",
                    s.id,
                    s.section
                );
            }
        }
    }

    #[test]
    fn summaries_are_one_short_line() {
        for version in SpecVersion::ALL {
            for s in catalogue().statements(version) {
                let summary = &s.summary;
                assert!(!summary.trim().is_empty(), "MQTT {version} {}: empty summary", s.id);
                assert_eq!(summary.trim(), summary, "MQTT {version} {}: stray whitespace", s.id);
                assert!(!summary.contains(['\n', '\r', '\t']), "MQTT {version} {}: more than one line", s.id);
                let length = summary.chars().count();
                assert!(length <= SUMMARY_LIMIT, "MQTT {version} {}: summary has {length} characters", s.id);
            }
        }
    }

    #[test]
    fn statements_are_in_specification_order() {
        // In both versions the document order of the tags is their numeric order, and the
        // sections they sit in never go backwards.
        for version in SpecVersion::ALL {
            let statements: Vec<_> = catalogue().statements(version).collect();
            for pair in statements.windows(2) {
                let (a, b) = (parse_statement_id(&pair[0].id).unwrap(), parse_statement_id(&pair[1].id).unwrap());
                assert!(a < b, "MQTT {version}: {} comes before {}", pair[0].id, pair[1].id);
                let (sa, sb) = (parse_section(&pair[0].section).unwrap(), parse_section(&pair[1].section).unwrap());
                assert!(sa <= sb, "MQTT {version}: §{} comes before §{}", pair[0].section, pair[1].section);
            }
        }
    }

    #[test]
    fn every_statement_is_mandatory() {
        // See the module documentation: no numbered statement is SHOULD- or MAY-only.
        for version in SpecVersion::ALL {
            for s in catalogue().statements(version) {
                assert_eq!(s.level, Level::Must, "MQTT {version} {}", s.id);
            }
        }
    }

    #[test]
    fn keep_alive_of_3_1_1_is_a_server_must() {
        let s = statement(SpecVersion::V3_1_1, "MQTT-3.1.2-24");
        assert_eq!((s.section.as_str(), s.level, s.binds), ("3.1.2.10", Level::Must, Binds::Server));
        assert!(s.summary.contains("1.5 times"), "{s}");
    }

    #[test]
    fn keep_alive_of_5_0_is_3_1_2_22_and_3_1_2_24_is_maximum_packet_size() {
        let keep_alive = statement(SpecVersion::V5_0, "MQTT-3.1.2-22");
        assert_eq!((keep_alive.section.as_str(), keep_alive.binds), ("3.1.2.10", Binds::Server));
        assert!(keep_alive.summary.contains("1.5 times"), "{keep_alive}");

        let same_id = statement(SpecVersion::V5_0, "MQTT-3.1.2-24");
        assert_eq!((same_id.section.as_str(), same_id.binds), ("3.1.2.11.4", Binds::Server));
        assert!(same_id.summary.contains("Maximum Packet Size"), "{same_id}");
        assert_ne!(same_id.summary, statement(SpecVersion::V3_1_1, "MQTT-3.1.2-24").summary);
    }

    #[test]
    fn dollar_topics_and_wildcards_in_5_0() {
        let s = statement(SpecVersion::V5_0, "MQTT-4.7.2-1");
        assert_eq!((s.section.as_str(), s.level, s.binds), ("4.7.2", Level::Must, Binds::Server));
        assert!(s.summary.contains('$') && s.summary.contains('#') && s.summary.contains('+'), "{s}");
    }

    #[test]
    fn packet_identifier_of_3_1_1_is_non_zero() {
        let s = statement(SpecVersion::V3_1_1, "MQTT-2.3.1-1");
        assert_eq!((s.section.as_str(), s.level, s.binds), ("2.3.1", Level::Must, Binds::Both));
        assert!(s.summary.contains("not zero"), "{s}");
    }

    #[test]
    fn multi_level_wildcard_sits_in_its_own_subsection() {
        assert_eq!(statement(SpecVersion::V3_1_1, "MQTT-4.7.1-2").section, "4.7.1.2");
        assert_eq!(statement(SpecVersion::V5_0, "MQTT-4.7.1-1").section, "4.7.1.2");
    }

    #[test]
    fn each_version_has_ids_the_other_lacks() {
        let c = catalogue();
        // AUTH exists only in 5.0; the conformance clauses have ids only in 3.1.1.
        assert!(c.get(SpecVersion::V5_0, "MQTT-3.15.1-1").is_some());
        assert!(c.get(SpecVersion::V3_1_1, "MQTT-3.15.1-1").is_none());
        assert!(c.get(SpecVersion::V3_1_1, "MQTT-7.1.1-1").is_some());
        assert!(c.get(SpecVersion::V5_0, "MQTT-7.1.1-1").is_none());
    }

    #[test]
    fn get_accepts_the_exact_id_and_the_misprinted_spellings_only() {
        let c = catalogue();
        assert_eq!(c.get(SpecVersion::V5_0, "MQTT-4.2.0-1").map(|s| s.id.as_str()), Some("MQTT-4.2-1"));
        assert_eq!(c.get(SpecVersion::V3_1_1, "MQTT-3.1.2.7").map(|s| s.id.as_str()), Some("MQTT-3.1.2-7"));
        assert_eq!(c.get(SpecVersion::V3_1_1, "MQTT-3-8.3-4").map(|s| s.id.as_str()), Some("MQTT-3.8.3-4"));
        assert!(c.get(SpecVersion::V3_1_1, "MQTT-4.2.0-1").is_none());
        for near_miss in ["[MQTT-3.1.2-24]", "mqtt-3.1.2-24", "3.1.2-24", " MQTT-3.1.2-24", "MQTT-3.1.2-024"] {
            assert!(c.get(SpecVersion::V3_1_1, near_miss).is_none(), "{near_miss}");
        }
    }

    #[test]
    fn aliases_point_at_statements_and_never_shadow_one() {
        for &(version, alias, canonical) in ALIASES {
            assert!(catalogue().get(version, canonical).is_some(), "{alias} -> {canonical}");
            assert!(!catalogue().for_version(version).by_id.contains_key(alias), "{alias}");
        }
    }

    #[test]
    fn parses_well_formed_ids() {
        let id = parse_statement_id("MQTT-3.10.4-6").unwrap();
        assert_eq!((id.sections(), id.number()), (&[3, 10, 4][..], 6));
        assert_eq!(id.section_prefix(), &[3, 10, 4]);

        let id: StatementId = "MQTT-6.0.0-4".parse().unwrap();
        assert_eq!((id.sections(), id.section_prefix()), (&[6, 0, 0][..], &[6][..]));
        assert!(id.is_within(&[6]) && id.is_within(&[6, 1]) && !id.is_within(&[7]));

        let id = parse_statement_id("MQTT-4.2-1").unwrap();
        assert_eq!((id.sections(), id.number()), (&[4, 2][..], 1));
    }

    #[test]
    fn orders_ids_numerically() {
        let ids = ["MQTT-3.2.0-1", "MQTT-3.10.1-1", "MQTT-3.1.2-9", "MQTT-3.1.2-10", "MQTT-3.1.0-2"];
        let mut parsed: Vec<StatementId> = ids.iter().map(|s| parse_statement_id(s).unwrap()).collect();
        parsed.sort();
        let sorted: Vec<String> = parsed.iter().map(ToString::to_string).collect();
        assert_eq!(sorted, ["MQTT-3.1.0-2", "MQTT-3.1.2-9", "MQTT-3.1.2-10", "MQTT-3.2.0-1", "MQTT-3.10.1-1"]);
    }

    #[test]
    fn rejects_malformed_ids() {
        for bad in [
            "",
            "MQTT-",
            "MQTT-3.1.2",
            "MQTT-3-1",
            "MQTT-3.1.2-",
            "MQTT-3.1.2-x",
            "MQTT-3..2-1",
            "MQTT-.3.2-1",
            "MQTT-3.1.2-01",
            "MQTT-03.1.2-1",
            "MQTT-3.1.2--1",
            "MQTT-3.1.2-+1",
            "MQTT-3-8.3-4",
            "MQTT-3.1.2.7",
            "MQTT-70000.1-1",
            "[MQTT-3.1.2-24]",
            "mqtt-3.1.2-24",
            "MQTT-3.1.2-24 ",
        ] {
            assert!(
                matches!(parse_statement_id(bad), Err(CatalogueError::InvalidStatementId { .. })),
                "{bad:?} was accepted"
            );
        }
    }

    #[test]
    fn rejects_malformed_sections() {
        for bad in ["", "3.", ".3", "3..1", "3.x", "3.1 "] {
            assert!(matches!(parse_section(bad), Err(CatalogueError::InvalidSection { .. })), "{bad:?}");
        }
        assert_eq!(parse_section("3.1.2.10").unwrap(), [3, 1, 2, 10]);
    }

    #[test]
    fn versions_read_as_the_specification_names_them() {
        assert_eq!(SpecVersion::V3_1_1.to_string(), "3.1.1");
        assert_eq!(SpecVersion::V5_0.to_string(), "5.0");
        assert_eq!(serde_json::to_string(&SpecVersion::V5_0).unwrap(), "\"5.0\"");
        assert_eq!(serde_json::from_str::<SpecVersion>("\"3.1.1\"").unwrap(), SpecVersion::V3_1_1);
        assert_eq!(serde_json::to_string(&Level::Should).unwrap(), "\"should\"");
        assert_eq!(serde_json::to_string(&Binds::Both).unwrap(), "\"both\"");
    }

    #[test]
    fn a_statement_round_trips_through_json() {
        let s = statement(SpecVersion::V5_0, "MQTT-3.3.1-4");
        let json = serde_json::to_string(s).unwrap();
        assert_eq!(&serde_json::from_str::<Statement>(&json).unwrap(), s);
    }
}

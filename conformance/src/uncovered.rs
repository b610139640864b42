//! Why no scenario checks the server statements that none cites (`conformance/uncovered.json`),
//! for the Markdown report. A test holds the file to the scenarios: every uncited MUST that
//! binds a server has a line, and no cited one does.

use std::collections::BTreeMap;

use verimqtt_spec::catalogue::SpecVersion;

const UNCOVERED: &str = include_str!("../uncovered.json");

/// Statement id to why, per version.
pub fn reasons() -> BTreeMap<SpecVersion, BTreeMap<String, String>> {
    let mut file: BTreeMap<String, serde_json::Value> = serde_json::from_str(UNCOVERED).unwrap_or_default();
    SpecVersion::ALL
        .into_iter()
        .map(|version| {
            let reasons = file.remove(version.as_str()).and_then(|value| serde_json::from_value(value).ok());
            (version, reasons.unwrap_or_default())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use verimqtt_spec::catalogue::{Binds, Level, catalogue};

    use super::*;
    use crate::{Scenario, scenarios_dir};

    #[test]
    fn every_uncited_server_statement_says_why_and_no_cited_one_does() {
        let scenarios = Scenario::load_all(&scenarios_dir()).unwrap();
        let reasons = reasons();
        for version in SpecVersion::ALL {
            let cited: BTreeSet<&String> =
                scenarios.iter().filter_map(|scenario| scenario.statements.get(&version)).flatten().collect();
            let uncited: BTreeSet<&String> = catalogue()
                .statements(version)
                .filter(|statement| statement.level == Level::Must && statement.binds != Binds::Client)
                .map(|statement| &statement.id)
                .filter(|id| !cited.contains(id))
                .collect();
            let explained: BTreeSet<&String> = reasons[&version].keys().collect();
            assert_eq!(uncited, explained, "MQTT {version}: uncited server statements and uncovered.json differ");
        }
    }
}

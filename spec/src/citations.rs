//! Statement ids cited in source code, checked against the catalogue.
//!
//! Code cites the rules it enforces as `[MQTT-x.x.x-y]`. A test of each crate scans its sources
//! with [`check_sources`] so that a mistyped id cannot stand: every citation must name a
//! statement of at least one version (which version is the code's business).

use std::path::{Path, PathBuf};

use crate::catalogue::{SpecVersion, catalogue};

/// The `MQTT-<dotted numbers>-<number>` ids in `text`, in order.
pub fn cited_ids(text: &str) -> impl Iterator<Item = &str> {
    text.match_indices("MQTT-").filter_map(|(start, _)| {
        let candidate = &text[start..];
        let end = candidate[5..]
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
            .map_or(candidate.len(), |end| end + 5);
        let id = candidate[..end].trim_end_matches(['.', '-']);
        (id.len() > 5 && id[5..].contains('-')).then_some(id)
    })
}

/// What a scan of source files found.
#[derive(Debug, Default)]
pub struct Citations {
    /// Every citation read.
    pub count: usize,
    /// Citations of ids no version has, as `path: id`.
    pub unknown: Vec<String>,
}

/// Reads every `.rs` file under `dirs` and checks each id it cites.
pub fn check_sources(dirs: &[&Path]) -> std::io::Result<Citations> {
    let mut citations = Citations::default();
    for dir in dirs {
        for path in rust_files(dir)? {
            let source = std::fs::read_to_string(&path)?;
            for id in cited_ids(&source) {
                citations.count += 1;
                if !SpecVersion::ALL.iter().any(|&version| catalogue().get(version, id).is_some()) {
                    citations.unknown.push(format!("{}: {id}", path.display()));
                }
            }
        }
    }
    Ok(citations)
}

fn rust_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            files.extend(rust_files(&path)?);
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            files.push(path);
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_found_in_brackets_prose_and_lists() {
        let text = "see [MQTT-3.1.2-24], MQTT-4.7.1-2 and (MQTT-3.3.1-4). Not MQTT-3 nor MQTT-.";
        assert_eq!(cited_ids(text).collect::<Vec<_>>(), ["MQTT-3.1.2-24", "MQTT-4.7.1-2", "MQTT-3.3.1-4"]);
    }

    #[test]
    fn an_unknown_id_is_reported_with_its_file() {
        let dir = std::env::temp_dir().join(format!("verimqtt-citations-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // Built at run time, so that this file itself cites no unknown id.
        std::fs::write(dir.join("a.rs"), format!("// [MQTT-3.3.1-4] and [MQTT-9.9.9-{}]", 9)).unwrap();
        let citations = check_sources(&[&dir]).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(citations.count, 2);
        assert_eq!(citations.unknown.len(), 1);
        assert!(citations.unknown[0].ends_with(&format!("a.rs: MQTT-9.9.9-{}", 9)), "{:?}", citations.unknown);
    }
}

//! Where schema documents come from: files, directories of `*.yaml`/`*.yml`, or the
//! schema bundled into the binary. A document is either a mapping of event types or an
//! aviso config file with a top-level `notification_schema` key (other keys ignored).

use std::path::{Path, PathBuf};

/// The schema shipped in `schema/`, compiled in so that `tidings serve` works anywhere.
const BUNDLED: [(&str, &str); 3] = [
    ("schema/mars.yaml", include_str!("../../schema/mars.yaml")),
    (
        "schema/dissemination.yaml",
        include_str!("../../schema/dissemination.yaml"),
    ),
    (
        "schema/test_polygon.yaml",
        include_str!("../../schema/test_polygon.yaml"),
    ),
];

/// One event type's raw definition and the document it came from.
#[derive(Debug, Clone)]
pub(super) struct RawEntry {
    pub origin: String,
    pub name: String,
    pub definition: serde_yaml::Value,
}

fn entries_of(origin: &str, text: &str) -> Result<Vec<RawEntry>, String> {
    let document: serde_yaml::Value =
        serde_yaml::from_str(text).map_err(|error| format!("{origin}: not valid YAML: {error}"))?;
    let document = match document {
        serde_yaml::Value::Null => return Ok(Vec::new()),
        serde_yaml::Value::Mapping(mut mapping) => match mapping.remove("notification_schema") {
            Some(serde_yaml::Value::Mapping(inner)) => inner,
            Some(serde_yaml::Value::Null) => return Ok(Vec::new()),
            Some(_) => return Err(format!("{origin}: notification_schema must be a mapping")),
            None => mapping,
        },
        _ => {
            return Err(format!(
                "{origin}: a schema file must be a mapping of event types"
            ));
        }
    };
    document
        .into_iter()
        .map(|(name, definition)| match name {
            serde_yaml::Value::String(name) => Ok(RawEntry {
                origin: origin.to_owned(),
                name,
                definition,
            }),
            other => Err(format!(
                "{origin}: event type names must be strings, got {other:?}"
            )),
        })
        .collect()
}

fn files_in(directory: &Path) -> Result<Vec<PathBuf>, String> {
    let listing = std::fs::read_dir(directory)
        .map_err(|error| format!("{}: cannot list directory: {error}", directory.display()))?;
    let mut files: Vec<PathBuf> = listing
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.is_file()
                && matches!(
                    path.extension().and_then(|e| e.to_str()),
                    Some("yaml" | "yml")
                )
        })
        .collect();
    files.sort();
    Ok(files)
}

/// Reads every configured path (or the bundled schema when there are none). Problems are
/// collected, not returned at the first one, so `tidings check` can list them all.
pub(super) fn read(paths: &[PathBuf]) -> (Vec<RawEntry>, Vec<String>) {
    let mut entries = Vec::new();
    let mut problems = Vec::new();
    if paths.is_empty() {
        for (origin, text) in BUNDLED {
            match entries_of(origin, text) {
                Ok(found) => entries.extend(found),
                Err(problem) => problems.push(problem),
            }
        }
        return (entries, problems);
    }
    for path in paths {
        let files = if path.is_dir() {
            match files_in(path) {
                Ok(files) if files.is_empty() => {
                    problems.push(format!("{}: no *.yaml or *.yml files", path.display()));
                    continue;
                }
                Ok(files) => files,
                Err(problem) => {
                    problems.push(problem);
                    continue;
                }
            }
        } else {
            vec![path.clone()]
        };
        for file in files {
            let origin = file.display().to_string();
            match std::fs::read_to_string(&file) {
                Ok(text) => match entries_of(&origin, &text) {
                    Ok(found) => entries.extend(found),
                    Err(problem) => problems.push(problem),
                },
                Err(error) => problems.push(format!("{origin}: cannot read: {error}")),
            }
        }
    }
    (entries, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_mappings_and_aviso_config_files() {
        let plain = entries_of("a", "mars:\n  identifier: {}\n").unwrap();
        assert_eq!(plain[0].name, "mars");
        let aviso = entries_of(
            "b",
            "application:\n  port: 8000\nnotification_schema:\n  diss:\n    identifier: {}\n",
        )
        .unwrap();
        assert_eq!(aviso.len(), 1);
        assert_eq!(aviso[0].name, "diss");
    }

    #[test]
    fn bundled_schema_is_readable() {
        let (entries, problems) = read(&[]);
        assert!(problems.is_empty(), "{problems:?}");
        let mut names: Vec<_> = entries.iter().map(|entry| entry.name.as_str()).collect();
        names.sort();
        assert_eq!(names, ["dissemination", "mars", "test_polygon"]);
    }

    #[test]
    fn reports_unreadable_paths() {
        let (_, problems) = read(&[PathBuf::from("/no/such/schema.yaml")]);
        assert!(problems[0].contains("cannot read"));
    }
}

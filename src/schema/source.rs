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

/// A schema document that could not be read or is not shaped as one; each names its file
/// (or directory).
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{origin}: not valid YAML: {source}")]
    NotYaml {
        origin: String,
        source: serde_yaml::Error,
    },
    #[error("{origin}: notification_schema must be a mapping")]
    NotificationSchemaNotMapping { origin: String },
    #[error("{origin}: a schema file must be a mapping of event types")]
    NotMapping { origin: String },
    #[error("{origin}: event type names must be strings, got {name:?}")]
    NameNotText {
        origin: String,
        name: serde_yaml::Value,
    },
    #[error("{}: cannot list directory: {source}", .directory.display())]
    UnlistableDirectory {
        directory: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: no *.yaml or *.yml files", .directory.display())]
    NoSchemaFiles { directory: PathBuf },
    #[error("{origin}: cannot read: {source}")]
    Unreadable {
        origin: String,
        source: std::io::Error,
    },
}

fn entries_of(origin: &str, text: &str) -> Result<Vec<RawEntry>, SourceError> {
    let origin = origin.to_owned();
    let document: serde_yaml::Value = match serde_yaml::from_str(text) {
        Ok(document) => document,
        Err(source) => return Err(SourceError::NotYaml { origin, source }),
    };
    let document = match document {
        serde_yaml::Value::Null => return Ok(Vec::new()),
        serde_yaml::Value::Mapping(mut mapping) => match mapping.remove("notification_schema") {
            Some(serde_yaml::Value::Mapping(inner)) => inner,
            Some(serde_yaml::Value::Null) => return Ok(Vec::new()),
            Some(_) => return Err(SourceError::NotificationSchemaNotMapping { origin }),
            None => mapping,
        },
        _ => return Err(SourceError::NotMapping { origin }),
    };
    document
        .into_iter()
        .map(|(name, definition)| match name {
            serde_yaml::Value::String(name) => Ok(RawEntry {
                origin: origin.clone(),
                name,
                definition,
            }),
            other => Err(SourceError::NameNotText {
                origin: origin.clone(),
                name: other,
            }),
        })
        .collect()
}

fn files_in(directory: &Path) -> Result<Vec<PathBuf>, SourceError> {
    let listing =
        std::fs::read_dir(directory).map_err(|source| SourceError::UnlistableDirectory {
            directory: directory.to_owned(),
            source,
        })?;
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
    if files.is_empty() {
        return Err(SourceError::NoSchemaFiles {
            directory: directory.to_owned(),
        });
    }
    Ok(files)
}

/// The schema files a configured path names: the file itself, or a directory's.
fn files_of(path: &Path) -> Result<Vec<PathBuf>, SourceError> {
    if path.is_dir() {
        files_in(path)
    } else {
        Ok(vec![path.to_owned()])
    }
}

fn read_file(file: &Path) -> Result<Vec<RawEntry>, SourceError> {
    let origin = file.display().to_string();
    match std::fs::read_to_string(file) {
        Ok(text) => entries_of(&origin, &text),
        Err(source) => Err(SourceError::Unreadable { origin, source }),
    }
}

/// Reads every configured path (or the bundled schema when there are none). Problems are
/// collected, not returned at the first one, so `tidings check` can list them all.
pub(super) fn read(paths: &[PathBuf]) -> (Vec<RawEntry>, Vec<SourceError>) {
    let documents: Vec<Result<Vec<RawEntry>, SourceError>> = if paths.is_empty() {
        BUNDLED
            .iter()
            .map(|(origin, text)| entries_of(origin, text))
            .collect()
    } else {
        paths
            .iter()
            .flat_map(|path| match files_of(path) {
                Ok(files) => files.iter().map(|file| read_file(file)).collect(),
                Err(problem) => vec![Err(problem)],
            })
            .collect()
    };
    let mut entries = Vec::new();
    let mut problems = Vec::new();
    for document in documents {
        match document {
            Ok(found) => entries.extend(found),
            Err(problem) => problems.push(problem),
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
        assert!(problems[0].to_string().contains("cannot read"));
    }
}

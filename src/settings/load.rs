//! Loading the layers: defaults, the YAML file, then the environment; then validation.

use std::path::{Path, PathBuf};

use super::{Settings, SettingsError};

impl Settings {
    /// Loads defaults, then `file` (or `TIDINGS_CONFIG`), then `TIDINGS__*` variables.
    pub fn load(file: Option<&Path>) -> Result<Self, SettingsError> {
        let from_env = std::env::var_os("TIDINGS_CONFIG").map(PathBuf::from);
        let file = file.map(Path::to_path_buf).or(from_env);
        let environment = std::env::vars().collect();
        Self::load_from(file.as_deref(), environment)
    }

    /// [`Settings::load`] with the environment passed in, so tests need not mutate it.
    pub fn load_from(
        file: Option<&Path>,
        environment: config::Map<String, String>,
    ) -> Result<Self, SettingsError> {
        let mut builder = config::Config::builder();
        if let Some(path) = file {
            if !path.is_file() {
                return Err(SettingsError::MissingFile(path.to_path_buf()));
            }
            builder = builder.add_source(config::File::from(path).format(config::FileFormat::Yaml));
        }
        let mut settings: Settings = builder
            .add_source(
                config::Environment::with_prefix("TIDINGS")
                    .prefix_separator("__")
                    .separator("__")
                    .list_separator(",")
                    .with_list_parse_key("schema.paths")
                    .with_list_parse_key("http.cors_allowed_origins")
                    .with_list_parse_key("http.cors_admin_origins")
                    .try_parsing(true)
                    .source(Some(environment)),
            )
            .build()?
            .try_deserialize()?;
        if settings
            .schema
            .paths
            .iter()
            .all(|path| path.as_os_str().is_empty())
        {
            // `TIDINGS__SCHEMA__PATHS=""` is "no paths" (the bundled schema), as the README
            // says of an empty setting; an empty entry among others stays an error.
            settings.schema.paths.clear();
        }
        settings.validate()?;
        Ok(settings)
    }
}

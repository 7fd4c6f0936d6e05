//! Per-stream `auth` block (aviso's model): whether credentials are required and which
//! realm-scoped roles may read or write. Parsed and checked at start-up; enforced by the
//! auth layer.

use serde::Deserialize;

use crate::domain::RoleMap;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamAuth {
    pub required: bool,
    pub read_roles: Option<RoleMap>,
    pub write_roles: Option<RoleMap>,
    #[serde(default)]
    pub plugins: Vec<String>,
}

/// Why an `auth` block was refused; `field` is `read_roles` or `write_roles`.
#[derive(Debug, thiserror::Error)]
pub enum StreamAuthError {
    /// Not a mapping of the known fields with the right types.
    #[error(transparent)]
    Malformed(#[from] serde_yaml::Error),
    #[error("read_roles/write_roles need required: true")]
    RolesWithoutRequired,
    #[error("{field} cannot be empty")]
    NoRealms { field: &'static str },
    #[error("{field} has a blank or padded realm '{realm}'")]
    BlankOrPaddedRealm { field: &'static str, realm: String },
    #[error("{field}.{realm} must list non-blank roles")]
    BlankRoles { field: &'static str, realm: String },
    #[error("unknown auth plugin '{plugin}'")]
    UnknownPlugin { plugin: String },
}

fn blank_or_padded(text: &str) -> bool {
    text.trim().is_empty() || text.trim() != text
}

fn check_roles(field: &'static str, roles: &RoleMap) -> Result<(), StreamAuthError> {
    if roles.is_empty() {
        return Err(StreamAuthError::NoRealms { field });
    }
    for (realm, list) in roles {
        if blank_or_padded(realm) {
            return Err(StreamAuthError::BlankOrPaddedRealm {
                field,
                realm: realm.clone(),
            });
        }
        if list.is_empty() || list.iter().any(|role| blank_or_padded(role)) {
            return Err(StreamAuthError::BlankRoles {
                field,
                realm: realm.clone(),
            });
        }
    }
    Ok(())
}

impl StreamAuth {
    pub fn from_yaml(value: &serde_yaml::Value) -> Result<Self, StreamAuthError> {
        let auth: StreamAuth = serde_yaml::from_value(value.clone())?;
        if !auth.required && (auth.read_roles.is_some() || auth.write_roles.is_some()) {
            return Err(StreamAuthError::RolesWithoutRequired);
        }
        if let Some(roles) = &auth.read_roles {
            check_roles("read_roles", roles)?;
        }
        if let Some(roles) = &auth.write_roles {
            check_roles("write_roles", roles)?;
        }
        if let Some(plugin) = auth
            .plugins
            .iter()
            .find(|plugin| plugin.as_str() != "ecpds")
        {
            return Err(StreamAuthError::UnknownPlugin {
                plugin: plugin.clone(),
            });
        }
        Ok(auth)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<StreamAuth, StreamAuthError> {
        StreamAuth::from_yaml(&serde_yaml::from_str(text).unwrap())
    }

    #[test]
    fn accepts_aviso_blocks() {
        let auth = parse("required: true\nread_roles:\n  localrealm: ['*']\nwrite_roles:\n  localrealm: [producer]\n").unwrap();
        assert!(auth.required);
        assert_eq!(auth.write_roles.unwrap()["localrealm"], vec!["producer"]);
    }

    #[test]
    fn rejects_inconsistent_blocks() {
        assert!(parse("required: false\nread_roles:\n  r: [a]\n").is_err());
        assert!(parse("required: true\nread_roles: {}\n").is_err());
        assert!(parse("required: true\nread_roles:\n  r: []\n").is_err());
        assert!(parse("required: true\nread_roles:\n  r: [' a']\n").is_err());
        assert!(parse("required: true\nrolez: {}\n").is_err());
        assert!(parse("read_roles:\n  r: [a]\n").is_err());
    }
}

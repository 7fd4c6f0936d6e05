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

fn check_roles(name: &str, roles: &RoleMap) -> Result<(), String> {
    if roles.is_empty() {
        return Err(format!("{name} cannot be empty"));
    }
    for (realm, list) in roles {
        if realm.trim().is_empty() || realm.trim() != realm {
            return Err(format!("{name} has a blank or padded realm '{realm}'"));
        }
        if list.is_empty()
            || list
                .iter()
                .any(|role| role.trim().is_empty() || role.trim() != role)
        {
            return Err(format!("{name}.{realm} must list non-blank roles"));
        }
    }
    Ok(())
}

impl StreamAuth {
    pub fn from_yaml(value: &serde_yaml::Value) -> Result<Self, String> {
        let auth: StreamAuth = serde_yaml::from_value(value.clone()).map_err(|e| e.to_string())?;
        if !auth.required && (auth.read_roles.is_some() || auth.write_roles.is_some()) {
            return Err("read_roles/write_roles need required: true".to_owned());
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
            return Err(format!("unknown auth plugin '{plugin}'"));
        }
        Ok(auth)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<StreamAuth, String> {
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

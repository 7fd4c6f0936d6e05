//! Who is calling: the claims Tidings reads from a validated token.

use serde::Deserialize;

use crate::domain::RoleMap;

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub username: String,
    pub realm: Option<String>,
    pub roles: Vec<String>,
}

impl User {
    /// Whether the user holds one of the roles a map grants in the user's realm (`*`: any).
    pub fn matches(&self, roles: &RoleMap) -> bool {
        let Some(realm) = &self.realm else {
            return false;
        };
        roles.get(realm).is_some_and(|granted| {
            granted
                .iter()
                .any(|role| role == "*" || self.roles.iter().any(|held| held == role))
        })
    }

    /// `username@realm`, as the audit trail records the actor.
    pub fn actor(&self) -> String {
        match &self.realm {
            Some(realm) => format!("{}@{realm}", self.username),
            None => self.username.clone(),
        }
    }
}

/// The claims Tidings uses; `exp` is required by validation.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Claims {
    pub username: Option<String>,
    pub sub: Option<String>,
    pub realm: Option<String>,
    #[serde(default)]
    pub roles: Vec<String>,
    pub exp: u64,
}

impl Claims {
    pub(crate) fn into_user(self) -> Option<User> {
        let username = self.username.or(self.sub).filter(|name| !name.is_empty())?;
        Some(User {
            username,
            realm: self.realm,
            roles: self.roles,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(realm: &str, roles: &[&str]) -> User {
        User {
            username: "u".into(),
            realm: Some(realm.into()),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        }
    }

    #[test]
    fn roles_are_scoped_by_realm_and_star_admits_everyone_there() {
        let mut map = RoleMap::new();
        map.insert("localrealm".into(), vec!["producer".into()]);
        assert!(user("localrealm", &["producer"]).matches(&map));
        assert!(!user("localrealm", &["reader"]).matches(&map));
        assert!(!user("other", &["producer"]).matches(&map));
        map.insert("open".into(), vec!["*".into()]);
        assert!(user("open", &[]).matches(&map));
    }
}

//! Realm-scoped role lists, as aviso's auth blocks and admin settings write them.

use std::collections::BTreeMap;

/// Realm → roles; a `*` role admits every user of that realm.
pub type RoleMap = BTreeMap<String, Vec<String>>;

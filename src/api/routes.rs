//! The route table: every served route with who may call it, whether it streams, and its
//! documentation. The router, the guard, the OpenAPI document and the metrics route
//! labels are all built from it, so a route cannot be served without saying who may call
//! it, nor documented differently from how it is served.

use axum::http::Method;
use axum::routing::{MethodRouter, delete, get, patch, post};

use super::openapi::delivery_docs as delivery;
use super::openapi::route_docs as docs;
use super::openapi::route_docs::Details;
use super::state::AppState;
use super::{
    admin, browse, console, deliveries, destinations, health, notify, observe, schema, stream,
};

/// Every admin route, and only those, lives under this prefix (a unit test holds the
/// route table to it): CORS decides by it before routing.
pub(crate) const ADMIN_PREFIX: &str = "/api/v1/admin/";

/// The destination routes: they hand out signing secrets, so browsers reach them only
/// from the admin origins, as the admin routes.
pub(crate) const DESTINATIONS_PREFIX: &str = "/api/v1/destinations";
/// The delivery-record routes: owners' too, under the same CORS rule.
pub(crate) const DELIVERIES_PREFIX: &str = "/api/v1/deliveries";
/// The failed view: owners' too.
pub(crate) const FAILED_PREFIX: &str = "/api/v1/failed-deliveries";

/// Whether `path` lies under a prefix of the owner routes (destinations, deliveries).
pub(crate) fn is_owner_path(path: &str) -> bool {
    [DESTINATIONS_PREFIX, DELIVERIES_PREFIX, FAILED_PREFIX]
        .iter()
        .any(|prefix| path.starts_with(prefix))
}

/// Who may call a route. The guard enforces it before the handler runs (per-stream rules
/// need the event type, so the handler finishes those through `guard::authorize`), and the
/// OpenAPI document and the auth tests read it from the same table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Audience {
    /// Anyone: health, schema, landing page, metrics.
    Public,
    /// Callers with read rights on the event type the request names.
    Readers,
    /// Callers with write rights on the event type the request names.
    Writers,
    /// Admin roles (with auth off: loopback clients on a loopback `Host`). `audit` names the
    /// operation when the route is destructive, so that refusals are recorded too.
    Admins { audit: Option<&'static str> },
    /// Destination owners (push delivery): any authenticated caller, who sees and changes
    /// only its own destinations (admin roles: all); with auth off, loopback clients on a
    /// loopback `Host`, as for admin routes. Every change is audited as `audit`.
    Owners { audit: Option<&'static str> },
}

impl Audience {
    /// The name the route table and the tests use.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Audience::Public => "public",
            Audience::Readers => "read",
            Audience::Writers => "write",
            Audience::Admins { .. } => "admin",
            Audience::Owners { .. } => "owner",
        }
    }
}

/// The OpenAPI tag a route is listed under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tag {
    General,
    Health,
    Notification,
    Streaming,
    Schema,
    Browse,
    Admin,
    Delivery,
}

impl Tag {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Tag::General => "general",
            Tag::Health => "health",
            Tag::Notification => "notification",
            Tag::Streaming => "streaming",
            Tag::Schema => "schema",
            Tag::Browse => "browse",
            Tag::Admin => "admin",
            Tag::Delivery => "delivery",
        }
    }
}

/// How a route is documented: its tag, summary, and what it takes and answers beyond what
/// every route of its audience shares.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Doc {
    pub tag: Tag,
    pub summary: &'static str,
    pub details: fn() -> Details,
}

const fn doc(tag: Tag, summary: &'static str, details: fn() -> Details) -> Doc {
    Doc {
        tag,
        summary,
        details,
    }
}

/// One served route.
#[derive(Debug, Clone)]
pub(crate) struct Route {
    pub method: Method,
    /// The path template; also the route's label in metrics.
    pub path: &'static str,
    /// Streams may last an hour; everything else gets the request timeout.
    pub streaming: bool,
    pub audience: Audience,
    pub doc: Doc,
}

pub(crate) type Entry = (Route, MethodRouter<AppState>);

fn entry(
    method: Method,
    path: &'static str,
    audience: Audience,
    doc: Doc,
    handler: MethodRouter<AppState>,
) -> Entry {
    let route = Route {
        method,
        path,
        streaming: false,
        audience,
        doc,
    };
    (route, handler)
}

/// A stream route for readers of the event type it names.
fn streaming(
    method: Method,
    path: &'static str,
    doc: Doc,
    handler: MethodRouter<AppState>,
) -> Entry {
    streaming_for(method, path, Audience::Readers, doc, handler)
}

fn streaming_for(
    method: Method,
    path: &'static str,
    audience: Audience,
    doc: Doc,
    handler: MethodRouter<AppState>,
) -> Entry {
    let route = Route {
        method,
        path,
        streaming: true,
        audience,
        doc,
    };
    (route, handler)
}

const fn destructive(operation: &'static str) -> Audience {
    Audience::Admins {
        audit: Some(operation),
    }
}

/// Every route the API serves.
pub(crate) fn route_table() -> Vec<Entry> {
    let mut table = public_routes();
    table.extend(notification_routes());
    table.extend(admin_routes());
    table.extend(destination_routes());
    table.extend(delivery_routes());
    table
}

const fn owners(audit: Option<&'static str>) -> Audience {
    Audience::Owners { audit }
}

fn destination_routes() -> Vec<Entry> {
    let one = "/api/v1/destinations/{id}";
    let delivery_doc = |summary, details| doc(Tag::Delivery, summary, details);
    vec![
        entry(
            Method::POST,
            "/api/v1/destinations",
            owners(Some("destination_create")),
            delivery_doc("Register a destination", delivery::destination_create),
            post(destinations::create),
        ),
        entry(
            Method::DELETE,
            "/api/v1/destinations",
            owners(Some("destinations_delete_by_condition")),
            delivery_doc(
                "Delete subscriptions by condition",
                delivery::destinations_delete_by_condition,
            ),
            delete(destinations::delete_by_condition),
        ),
        entry(
            Method::GET,
            "/api/v1/destinations",
            owners(None),
            delivery_doc("List destinations", delivery::destination_list),
            get(destinations::list),
        ),
        entry(
            Method::GET,
            one,
            owners(None),
            delivery_doc("One destination", delivery::destination_one),
            get(destinations::get),
        ),
        entry(
            Method::PATCH,
            one,
            owners(Some("destination_update")),
            delivery_doc("Change a destination", delivery::destination_update),
            patch(destinations::patch),
        ),
        entry(
            Method::DELETE,
            one,
            owners(Some("destination_delete")),
            delivery_doc("Delete a destination", delivery::destination_delete),
            delete(destinations::delete),
        ),
        entry(
            Method::POST,
            "/api/v1/destinations/{id}/disable",
            owners(Some("destination_disable")),
            delivery_doc(
                "Disable a destination (deliveries wait)",
                delivery::destination_state,
            ),
            post(destinations::disable),
        ),
        entry(
            Method::POST,
            "/api/v1/destinations/{id}/enable",
            owners(Some("destination_enable")),
            delivery_doc("Enable a destination", delivery::destination_state),
            post(destinations::enable),
        ),
        entry(
            Method::POST,
            "/api/v1/destinations/{id}/rotate-secret",
            owners(Some("destination_rotate_secret")),
            delivery_doc("Rotate the signing secret", delivery::destination_rotate),
            post(destinations::rotate_secret),
        ),
        entry(
            Method::POST,
            "/api/v1/destinations/{id}/replay",
            owners(Some("destination_replay")),
            delivery_doc(
                "Deliver matching history again",
                delivery::destination_replay,
            ),
            post(destinations::replay),
        ),
        entry(
            Method::POST,
            "/api/v1/destinations/{id}/test",
            owners(Some("destination_test")),
            delivery_doc("Send a signed test event now", delivery::destination_test),
            post(destinations::test),
        ),
    ]
}

fn delivery_routes() -> Vec<Entry> {
    let delivery_doc = |summary, details| doc(Tag::Delivery, summary, details);
    vec![
        entry(
            Method::GET,
            "/api/v1/deliveries",
            owners(None),
            delivery_doc("List deliveries", delivery::delivery_list),
            get(deliveries::list),
        ),
        streaming_for(
            Method::GET,
            "/api/v1/deliveries/events",
            owners(None),
            delivery_doc(
                "Delivery outcomes as they happen (SSE)",
                delivery::delivery_events,
            ),
            get(deliveries::events),
        ),
        entry(
            Method::GET,
            "/api/v1/deliveries/{id}",
            owners(None),
            delivery_doc("One delivery", delivery::delivery_one),
            get(deliveries::get),
        ),
        entry(
            Method::POST,
            "/api/v1/deliveries/{id}/retry",
            owners(Some("delivery_retry")),
            delivery_doc("Retry one delivery now", delivery::delivery_retry),
            post(deliveries::retry),
        ),
        entry(
            Method::POST,
            "/api/v1/deliveries/retry",
            owners(Some("delivery_retry")),
            delivery_doc("Retry many deliveries now", delivery::delivery_retry_bulk),
            post(deliveries::retry_bulk),
        ),
        entry(
            Method::DELETE,
            "/api/v1/deliveries/history",
            owners(Some("delivery_history_delete")),
            delivery_doc(
                "Delete the histories of terminal deliveries",
                delivery::delivery_history_delete,
            ),
            delete(deliveries::delete_history),
        ),
        entry(
            Method::GET,
            "/api/v1/failed-deliveries",
            owners(None),
            delivery_doc("The failed view", delivery::failed_list),
            get(deliveries::failed),
        ),
        entry(
            Method::DELETE,
            "/api/v1/failed-deliveries/{id}",
            owners(Some("failed_delivery_remove")),
            delivery_doc(
                "Remove an entry from the failed view",
                delivery::failed_remove,
            ),
            delete(deliveries::remove_failed),
        ),
        entry(
            Method::GET,
            "/api/v1/deliveries/{id}/attempts",
            owners(None),
            delivery_doc(
                "A delivery's attempts, oldest first",
                delivery::delivery_attempts,
            ),
            get(deliveries::attempts),
        ),
    ]
}

fn public_routes() -> Vec<Entry> {
    use Audience::Public;
    vec![
        entry(
            Method::GET,
            "/",
            Public,
            doc(Tag::General, "Landing page", docs::landing),
            get(health::landing),
        ),
        entry(
            Method::GET,
            "/console",
            Public,
            doc(
                Tag::General,
                "The console (redirects to /console/)",
                docs::console_redirect,
            ),
            get(console::redirect),
        ),
        entry(
            Method::GET,
            "/console/",
            Public,
            doc(Tag::General, "The operator console", docs::landing),
            get(console::index),
        ),
        entry(
            Method::GET,
            "/console/{asset}",
            Public,
            doc(Tag::General, "A file of the console", docs::console_asset),
            get(console::asset),
        ),
        entry(
            Method::GET,
            "/health",
            Public,
            doc(Tag::Health, "Liveness", docs::health),
            get(health::health),
        ),
        entry(
            Method::GET,
            "/ready",
            Public,
            doc(
                Tag::Health,
                "Readiness: the store is reachable",
                docs::ready,
            ),
            get(health::ready),
        ),
        entry(
            Method::GET,
            "/metrics",
            Public,
            doc(Tag::Health, "Prometheus metrics", docs::metrics),
            get(observe::metrics),
        ),
        entry(
            Method::GET,
            "/api/v1/schema",
            Public,
            doc(Tag::Schema, "All event types", docs::schema_list),
            get(schema::list),
        ),
        entry(
            Method::GET,
            "/api/v1/schema/{event_type}",
            Public,
            doc(Tag::Schema, "One event type", docs::schema_one),
            get(schema::one),
        ),
    ]
}

fn notification_routes() -> Vec<Entry> {
    use Audience::{Readers, Writers};
    let watch = doc(
        Tag::Streaming,
        "Watch live notifications (history first with from_id/from_date)",
        docs::stream_post,
    );
    let replay = doc(Tag::Streaming, "Replay history", docs::stream_post);
    let event_source = doc(
        Tag::Streaming,
        "The same stream for EventSource",
        docs::stream_get,
    );
    vec![
        entry(
            Method::POST,
            "/api/v1/notification",
            Writers,
            doc(Tag::Notification, "Publish a notification", docs::notify),
            post(notify::notify),
        ),
        streaming(Method::POST, "/api/v1/watch", watch, post(stream::watch)),
        streaming(Method::POST, "/api/v1/replay", replay, post(stream::replay)),
        streaming(
            Method::GET,
            "/api/v1/watch/{event_type}",
            event_source,
            get(stream::watch_get),
        ),
        streaming(
            Method::GET,
            "/api/v1/replay/{event_type}",
            event_source,
            get(stream::replay_get),
        ),
        entry(
            Method::GET,
            "/api/v1/notifications/{event_type}",
            Readers,
            doc(Tag::Browse, "Browse history in pages", docs::browse_page),
            get(browse::page),
        ),
        entry(
            Method::GET,
            "/api/v1/notification/{id}",
            Readers,
            doc(Tag::Browse, "One notification by id", docs::browse_one),
            get(browse::one),
        ),
    ]
}

fn admin_routes() -> Vec<Entry> {
    let admin = Audience::Admins { audit: None };
    let admin_doc = |summary, details| doc(Tag::Admin, summary, details);
    vec![
        entry(
            Method::DELETE,
            "/api/v1/admin/notification/{id}",
            destructive("delete_notification"),
            admin_doc("Delete one notification", docs::delete_one),
            delete(admin::delete_one),
        ),
        entry(
            Method::DELETE,
            "/api/v1/admin/notifications",
            destructive("bulk_delete"),
            admin_doc("Delete many notifications", docs::delete_many),
            delete(admin::delete_many),
        ),
        entry(
            Method::DELETE,
            "/api/v1/admin/notifications/{event_type}",
            destructive("purge_by_identifier"),
            admin_doc(
                "Purge the notifications matching an identifier",
                docs::purge,
            ),
            delete(admin::purge_by_identifier),
        ),
        entry(
            Method::DELETE,
            "/api/v1/admin/wipe/stream",
            destructive("wipe_stream"),
            admin_doc("Purge one stream", docs::wipe_stream),
            delete(admin::wipe_stream),
        ),
        entry(
            Method::DELETE,
            "/api/v1/admin/wipe/all",
            destructive("wipe_all"),
            admin_doc("Purge every managed stream", docs::wipe_all),
            delete(admin::wipe_all),
        ),
        entry(
            Method::GET,
            "/api/v1/admin/streams",
            admin,
            admin_doc("Stream overview", docs::overview),
            get(admin::overview),
        ),
        entry(
            Method::GET,
            "/api/v1/admin/audit",
            admin,
            admin_doc("The audit trail", docs::audit),
            get(admin::audit_trail),
        ),
    ]
}

/// The operation names the audit trail records, each once, in route-table order: what its
/// `operation` filter accepts.
pub(crate) fn audited_operations() -> &'static [&'static str] {
    static OPERATIONS: std::sync::LazyLock<Vec<&'static str>> = std::sync::LazyLock::new(|| {
        let mut names = Vec::new();
        for (route, _) in route_table() {
            if let Audience::Admins { audit: Some(name) } | Audience::Owners { audit: Some(name) } =
                route.audience
                && !names.contains(&name)
            {
                names.push(name);
            }
        }
        names
    });
    &OPERATIONS
}

/// The method and path of every served route (for tests and tools).
pub fn served_routes() -> Vec<(String, String)> {
    route_table()
        .into_iter()
        .map(|(route, _)| (route.method.to_string(), route.path.to_owned()))
        .collect()
}

/// Method, path and audience (`public`, `read`, `write`, `admin`) of every served route:
/// what the auth tests walk.
pub fn route_audiences() -> Vec<(String, String, &'static str)> {
    route_table()
        .into_iter()
        .map(|(route, _)| {
            let method = route.method.to_string();
            (method, route.path.to_owned(), route.audience.label())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_routes_and_only_admin_routes_live_under_the_admin_prefix() {
        for (route, _) in route_table() {
            let admin = matches!(route.audience, Audience::Admins { .. });
            assert_eq!(
                route.path.starts_with(ADMIN_PREFIX),
                admin,
                "{} {}",
                route.method,
                route.path
            );
        }
    }

    /// The admin-origins CORS rule decides by prefix before routing: it must cover exactly
    /// the owner routes (destinations and their deliveries).
    #[test]
    fn owner_routes_and_only_owner_routes_live_under_the_owner_prefixes() {
        for (route, _) in route_table() {
            let owner = matches!(route.audience, Audience::Owners { .. });
            assert_eq!(
                is_owner_path(route.path),
                owner,
                "{} {}",
                route.method,
                route.path
            );
        }
    }

    #[test]
    fn destructive_routes_are_audited() {
        for (route, _) in route_table() {
            if route.method == Method::DELETE {
                assert!(
                    matches!(
                        route.audience,
                        Audience::Admins { audit: Some(_) } | Audience::Owners { audit: Some(_) }
                    ),
                    "{}",
                    route.path
                );
            }
        }
    }

    #[test]
    fn every_destination_change_is_audited() {
        for (route, _) in route_table() {
            if route.path.starts_with(DESTINATIONS_PREFIX) && route.method != Method::GET {
                assert!(
                    matches!(route.audience, Audience::Owners { audit: Some(_) }),
                    "{} {}",
                    route.method,
                    route.path
                );
            }
        }
    }
}

//! The operator console: plain HTML, CSS and JavaScript modules compiled into the binary, so
//! it needs no Node step to build and fetches nothing from the network at run time. It
//! talks only to the public API (everything it does can be done with curl), which keeps
//! every authorisation decision on the server.

/// One file of the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    pub body: &'static str,
}

const HTML: &str = "text/html; charset=utf-8";
const SCRIPT: &str = "text/javascript; charset=utf-8";
const STYLE: &str = "text/css; charset=utf-8";

macro_rules! asset {
    ($name:literal, $content_type:expr) => {
        Asset {
            name: $name,
            content_type: $content_type,
            body: include_str!(concat!("assets/", $name)),
        }
    };
}

/// Every file, flat under `/console/`.
const ASSETS: &[Asset] = &[
    asset!("index.html", HTML),
    asset!("console.css", STYLE),
    asset!("app.js", SCRIPT),
    asset!("api.js", SCRIPT),
    asset!("sse.js", SCRIPT),
    asset!("ui.js", SCRIPT),
    asset!("filter_form.js", SCRIPT),
    asset!("confirm.js", SCRIPT),
    asset!("overview.js", SCRIPT),
    asset!("browse.js", SCRIPT),
    asset!("tail.js", SCRIPT),
    asset!("admin.js", SCRIPT),
    asset!("audit.js", SCRIPT),
    asset!("destinations.js", SCRIPT),
    asset!("deliveries.js", SCRIPT),
];

/// The page the console starts from.
pub fn index() -> Asset {
    ASSETS[0]
}

/// The file called `name`, if the console has one.
pub fn asset(name: &str) -> Option<Asset> {
    ASSETS.iter().copied().find(|asset| asset.name == name)
}

/// The headers every console answer carries: scripts only from the console itself, no
/// inline code, no framing (a wipe button must not be clickable through another site's
/// page), no referrer, and no caching of a file a new version may change.
pub const SECURITY_HEADERS: [(&str, &str); 5] = [
    (
        "content-security-policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
         img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    ),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("cache-control", "no-cache"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_module_an_asset_imports_is_served() {
        for asset in ASSETS {
            for (position, _) in asset.body.match_indices("from './") {
                let rest = &asset.body[position + "from './".len()..];
                let imported = &rest[..rest.find('\'').unwrap_or(0)];
                assert!(
                    super::asset(imported).is_some(),
                    "{} imports {imported}, which is not served",
                    asset.name
                );
            }
        }
    }

    #[test]
    fn the_page_loads_only_served_files() {
        for reference in ["console.css", "app.js"] {
            assert!(index().body.contains(reference));
            assert!(asset(reference).is_some());
        }
        assert!(asset("../Cargo.toml").is_none());
        assert!(asset("").is_none());
    }

    #[test]
    fn no_asset_holds_inline_script_the_policy_would_block() {
        let page = index().body;
        assert!(!page.contains("<script>"), "inline script");
        assert!(!page.contains("onclick="), "inline handler");
        assert!(!page.contains("style=\""), "inline style");
    }
}

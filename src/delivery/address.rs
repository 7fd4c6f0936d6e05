//! The address guard for outbound requests (DELIVERY.md §3).

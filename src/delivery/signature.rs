//! Standard Webhooks signing (DELIVERY.md §4).

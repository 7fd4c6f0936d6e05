//! One attempt of a delivery (DELIVERY.md §4, §5). This first part is the retry schedule's
//! arithmetic; the attempt itself follows.

mod schedule;

pub use schedule::{MAX_RETRY_AFTER, next_delay};

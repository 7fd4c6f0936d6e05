//! Leases: which instance does a job that only one may do at a time (routing one stream, so
//! that deliveries are queued in sequence order even with several instances). A lease is a
//! record in a document bucket whose age limit is the lease's length: taken by creating it,
//! kept by rewriting it on the revision read, lost when its holder stops rewriting it (it
//! expires) or another holder's write got in first.

use std::time::Duration;

use bytes::Bytes;

use crate::store::{BucketOptions, Documents, Store, StoreError};

/// The leases of one bucket, held in the name of one holder.
#[derive(Clone)]
pub struct Leases {
    documents: Documents,
    holder: Bytes,
    length: Duration,
}

/// One lease as this holder sees it.
#[derive(Debug, Default)]
pub struct Lease {
    revision: Option<u64>,
}

impl Lease {
    pub fn is_held(&self) -> bool {
        self.revision.is_some()
    }
}

impl Leases {
    /// Opens bucket `name` with leases of `length`, for holder `holder`.
    pub async fn open(
        store: &Store,
        name: &str,
        replicas: usize,
        length: Duration,
        holder: &str,
    ) -> Result<Self, StoreError> {
        let documents = store
            .documents(
                name,
                BucketOptions {
                    replicas,
                    max_age: Some(length),
                    description: "Tidings leases (one router per stream)",
                },
            )
            .await?;
        Ok(Self {
            documents,
            holder: Bytes::from(holder.to_owned()),
            length,
        })
    }

    /// How often a holder renews: well within the length.
    pub fn renew_every(&self) -> Duration {
        self.length / 3
    }

    /// Takes `name` if free, keeps it if held; answers whether it is held now. Any failure
    /// (a conflict, the store out of reach) counts as not held: the job stops rather than
    /// risk running twice.
    pub async fn hold(&self, name: &str, lease: &mut Lease) -> bool {
        let written = match lease.revision {
            Some(revision) => {
                self.documents
                    .update(name, self.holder.clone(), revision)
                    .await
            }
            None => self.documents.create(name, self.holder.clone()).await,
        };
        lease.revision = written.ok();
        lease.is_held()
    }
}

impl Leases {
    /// Gives `name` up (at shutdown), so another instance need not wait for it to expire.
    pub async fn release(&self, name: &str, lease: &mut Lease) {
        if lease.revision.take().is_some()
            && let Err(error) = self.documents.delete(name).await
        {
            tracing::debug!(%error, name, "lease not released; it expires");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_holder_at_a_time_until_the_lease_expires() {
        let documents = Documents::in_memory(Some(Duration::from_millis(60)));
        let first = Leases {
            documents: documents.clone(),
            holder: Bytes::from_static(b"a"),
            length: Duration::from_millis(60),
        };
        let second = Leases {
            holder: Bytes::from_static(b"b"),
            ..first.clone()
        };
        let (mut a, mut b) = (Lease::default(), Lease::default());
        assert!(first.hold("router.mars", &mut a).await);
        assert!(!second.hold("router.mars", &mut b).await);
        assert!(first.hold("router.mars", &mut a).await, "renewed");
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(
            second.hold("router.mars", &mut b).await,
            "taken over once expired"
        );
        assert!(
            !first.hold("router.mars", &mut a).await,
            "the old holder knows it lost it"
        );
    }
}

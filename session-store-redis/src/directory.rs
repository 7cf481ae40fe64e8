//! The session directory on Redis. On a standalone server queries walk
//! the cross-user index of `directory_index.rs`.
//!
//! A cluster keeps no cross-user key: a query there reads every user's
//! session hash (found by `SCAN`, as purges do), names its user from the
//! owner key beside it, and pages in memory, so its cost grows with the
//! number of users (see `docs/benchmarks-directory.md`). Hashes written
//! before the owner key existed (by an earlier release) are not
//! attributable to a user and are left out until that user's next login
//! writes the key; a query that skips any logs how many. (A standalone
//! server scans the same way while another instance builds its index.)
//!
//! On either, a filter naming one user reads only that user's hash.

use async_trait::async_trait;
use futures_util::StreamExt as _;
use sessionward_core::directory::{
    MatchingRevocation, SessionDirectory, SessionPage, SessionQuery,
};
use sessionward_core::{SessionRecord, StoreError, UserId};

use crate::args::millis;
use crate::codec;
use crate::keys;
use crate::store::RedisStore;

/// Users read at once during a scan.
pub(crate) const PARALLEL_READS: usize = 16;

impl RedisStore {
    /// The user's raw session entries: `(id, packed value)` pairs.
    async fn raw_entries(&self, user: &UserId) -> Result<Vec<String>, StoreError> {
        let mut conn = self.conn();
        let cmd = redis::cmd("HGETALL").arg(self.key(user)).clone();
        self.run(cmd.query_async(&mut conn)).await
    }

    /// The records of one session hash found by the scan, named by the
    /// owner key beside it; `None` for a hash that names no user (written
    /// by an earlier release, or an owner key that does not match the
    /// hash: never trusted).
    pub(crate) async fn read_hash(
        &self,
        hash_key: String,
    ) -> Result<Option<Vec<SessionRecord>>, StoreError> {
        let Some(owner_key) = keys::owner_key_of(&hash_key) else {
            return Ok(None);
        };
        let mut conn = self.conn();
        let mut pipe = redis::pipe();
        pipe.cmd("GET")
            .arg(&owner_key)
            .cmd("HGETALL")
            .arg(&hash_key);
        let (owner, flat): (Option<String>, Vec<String>) =
            self.run(pipe.query_async(&mut conn)).await?;
        let user = owner.and_then(|o| UserId::new(o).ok());
        match user {
            // The owner key must name the user whose digest tags the hash.
            Some(user) if self.key(&user) == hash_key => Self::decode_pairs(&user, &flat).map(Some),
            Some(_) => {
                tracing::error!(target: "sessionward::redis", key = %hash_key, "owner key names another user: hash left out of directory queries");
                Ok(None)
            }
            // Expired between the scan and the read: nothing to show.
            None if flat.is_empty() => Ok(Some(Vec::new())),
            None => Ok(None),
        }
    }
}
#[async_trait]
impl SessionDirectory for RedisStore {
    async fn find(&self, query: &SessionQuery) -> Result<SessionPage, StoreError> {
        if let Some(user) = &query.filter.user {
            let flat = self.raw_entries(user).await?;
            let records = Self::decode_pairs(user, &flat)?;
            return Ok(query.page_of(&records));
        }
        if self.index_ready().await? {
            return self.find_indexed(query).await;
        }
        let hashes = self.scan_keys().await?;
        let mut collector = query.collector();
        let mut unattributed = 0usize;
        let mut reads = futures_util::stream::iter(hashes)
            .map(|key| self.read_hash(key))
            .buffer_unordered(PARALLEL_READS);
        while let Some(read) = reads.next().await {
            match read? {
                Some(records) => collector.offer(records),
                None => unattributed += 1,
            }
        }
        if unattributed > 0 {
            tracing::warn!(
                target: "sessionward::redis",
                hashes = unattributed,
                "session hashes without an owner key (written by an earlier release) left out; each user's next login adds it"
            );
        }
        Ok(collector.finish())
    }

    async fn revoke_matching(
        &self,
        user: &UserId,
        request: &MatchingRevocation,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        let flat = self.raw_entries(user).await?;
        let window = &request.filter.last_seen;
        let mut inv = self.on_user(&self.inner.scripts.revoke_listed, user);
        inv.arg(request.reason.as_str())
            .arg(millis(request.at))
            .arg(user.as_str())
            .arg(&self.inner.channel)
            .arg(millis(request.idle_cutoff))
            .arg(window.from.map(millis).unwrap_or_default())
            .arg(window.until.map(millis).unwrap_or_default());
        let mut picked = 0;
        for pair in flat.chunks_exact(2) {
            let record = codec::decode(user, &pair[0], &pair[1])?;
            if request.matches(&record) {
                inv.arg(&pair[0]);
                picked += 1;
            }
        }
        if picked == 0 {
            return Ok(Vec::new());
        }
        let reply: Vec<String> = self
            .revoking(user, inv, |r: &Vec<String>| !r.is_empty())
            .await?;
        Self::decode_pairs(user, &reply)
    }
}

//! The session directory on Redis.
//!
//! On a standalone server every create also adds the session to one
//! cross-user sorted set (see [`keys::directory_member`]), walked in page
//! order with `ZREVRANGEBYLEX`: a page reads its entries, then the records
//! they name in one pipelined round trip, so its cost does not grow with the
//! number of users. Entries outlive their sessions (an ended session leaves
//! its hash later, or its whole hash expires); a read that finds an entry
//! without a record drops it, as does [`RedisStore::purge_expired`]. The
//! first query on a server whose index was never built (data written by an
//! earlier release) builds it once from a `SCAN`, as
//! [`RedisStore::build_directory_index`] does.
//!
//! A cluster keeps no cross-user key: a query there reads every user's
//! session hash (found by `SCAN`, as purges do), names its user from the
//! owner key beside it, and pages in memory, so its cost grows with the
//! number of users (see `docs/benchmarks-directory.md`). Hashes written
//! before the owner key existed (by an earlier release) are not
//! attributable to a user and are left out until that user's next login
//! writes the key; a query that skips any logs how many.
//!
//! On either, a filter naming one user reads only that user's hash.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use async_trait::async_trait;
use futures_util::StreamExt as _;
use sessionward_core::directory::{
    MatchingRevocation, PageCursor, SessionDirectory, SessionPage, SessionQuery,
};
use sessionward_core::{SessionId, SessionRecord, StoreError, Timestamp, UserId};

use crate::args::millis;
use crate::codec;
use crate::keys;
use crate::store::RedisStore;

/// Users read at once during a scan.
const PARALLEL_READS: usize = 16;

/// The most index entries one read takes (a page and one more first, four
/// times as many each read after).
const INDEX_CHUNK: usize = 1024;

/// An index entry, what it names, and that session's packed record (`None`
/// when it is no longer in the user's hash).
struct IndexedEntry {
    member: String,
    created_at: Timestamp,
    user: UserId,
    id: SessionId,
    raw: Option<String>,
}

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
    async fn read_hash(&self, hash_key: String) -> Result<Option<Vec<SessionRecord>>, StoreError> {
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

    /// Whether directory queries can walk the index: on a standalone
    /// server, once it is built (built here on first use, then remembered).
    async fn index_ready(&self) -> Result<bool, StoreError> {
        if !self.standalone() {
            return Ok(false);
        }
        if self.inner.directory_built.load(Ordering::Acquire) {
            return Ok(true);
        }
        let mut conn = self.conn();
        let built_key = keys::directory_built_key(&self.inner.prefix);
        let cmd = redis::cmd("EXISTS").arg(&built_key).clone();
        let built: bool = self.run(cmd.query_async(&mut conn)).await?;
        if !built {
            let added = self.build_directory_index().await?;
            tracing::info!(target: "sessionward::redis", added, "session directory index built");
        }
        self.inner.directory_built.store(true, Ordering::Release);
        Ok(true)
    }

    /// Builds the session directory's index from every session hash on the
    /// server (one `SCAN`, as a query on a cluster does), then marks it
    /// built. Creates add their own entries whatever the mark says, so this
    /// is needed once: the first directory query on a server that has
    /// sessions from a release without the index runs it by itself. Run it
    /// again after the last instance of such a release has stopped, when
    /// instances of both ran side by side (the earlier release's creates
    /// are not indexed). Safe to run at any time and from several
    /// instances: an entry is added only while its session is still in its
    /// hash. Returns the entries added.
    ///
    /// # Errors
    /// [`StoreError::Backend`] on a cluster, which keeps no index (its
    /// queries scan); [`StoreError`] when Redis does not answer.
    pub async fn build_directory_index(&self) -> Result<u64, StoreError> {
        if !self.standalone() {
            return Err(StoreError::Backend(
                "a Redis Cluster keeps no session directory index: its queries scan".into(),
            ));
        }
        let index = keys::directory_key(&self.inner.prefix);
        let hashes = self.scan_keys().await?;
        let mut added = 0u64;
        let mut reads = futures_util::stream::iter(hashes)
            .map(|key| async move { (self.read_hash(key.clone()).await, key) })
            .buffer_unordered(PARALLEL_READS);
        while let Some((read, hash_key)) = reads.next().await {
            let records = match read? {
                Some(records) if !records.is_empty() => records,
                _ => continue,
            };
            let mut inv = self.inner.scripts.directory_sync.key(&index);
            inv.key(&hash_key).arg("add");
            for r in &records {
                inv.arg(keys::directory_member(r.created_at, &r.user, &r.id))
                    .arg(r.id.as_str());
            }
            let mut conn = self.conn();
            let n: u64 = self.run(inv.invoke_async(&mut conn)).await?;
            added += n;
        }
        let mut conn = self.conn();
        let cmd = redis::cmd("SET")
            .arg(keys::directory_built_key(&self.inner.prefix))
            .arg(1)
            .clone();
        self.run(cmd.query_async::<()>(&mut conn)).await?;
        Ok(added)
    }

    /// One page from the index: entries in page order, a chunk at a time,
    /// each checked against its record as stored.
    async fn find_indexed(&self, query: &SessionQuery) -> Result<SessionPage, StoreError> {
        let index = keys::directory_key(&self.inner.prefix);
        let mut pager = query.pager(INDEX_CHUNK);
        while let Some((after, chunk)) = pager.next_read() {
            let start = match after {
                Some(c) => format!("({}", keys::directory_member(c.created_at, &c.user, &c.id)),
                None => "+".to_owned(),
            };
            let mut conn = self.conn();
            let cmd = redis::cmd("ZREVRANGEBYLEX")
                .arg(&index)
                .arg(start)
                .arg("-")
                .arg("LIMIT")
                .arg(0)
                .arg(chunk)
                .clone();
            let members: Vec<String> = self.run(cmd.query_async(&mut conn)).await?;
            let read = members.len();
            let entries = self.look_up(members).await?;
            let reached = entries
                .last()
                .map(|e| PageCursor::new(e.created_at, e.user.clone(), e.id.clone()));
            let rows = self.records_of(&entries)?;
            self.prune(&entries).await?;
            pager.take_read(read, reached, rows);
        }
        Ok(pager.finish())
    }

    /// The records that `members` name, read in one pipeline. Members that
    /// are not index entries are skipped (never written by this crate).
    async fn look_up(&self, members: Vec<String>) -> Result<Vec<IndexedEntry>, StoreError> {
        let mut entries = Vec::with_capacity(members.len());
        for member in members {
            match keys::parse_directory_member(&member) {
                Some((created_at, user, id)) => entries.push(IndexedEntry {
                    member,
                    created_at,
                    user,
                    id,
                    raw: None,
                }),
                None => {
                    tracing::error!(target: "sessionward::redis", "malformed session directory entry skipped");
                }
            }
        }
        if entries.is_empty() {
            return Ok(entries);
        }
        let mut pipe = redis::pipe();
        for e in &entries {
            pipe.cmd("HGET").arg(self.key(&e.user)).arg(e.id.as_str());
        }
        let mut conn = self.conn();
        let raws: Vec<Option<String>> = self.run(pipe.query_async(&mut conn)).await?;
        for (entry, raw) in entries.iter_mut().zip(raws) {
            entry.raw = raw;
        }
        Ok(entries)
    }

    /// The stored records of `entries`, in their order. A record whose
    /// creation time is not its entry's is left out (it could not be in
    /// page order).
    fn records_of(&self, entries: &[IndexedEntry]) -> Result<Vec<SessionRecord>, StoreError> {
        let mut rows = Vec::with_capacity(entries.len());
        for e in entries {
            let Some(raw) = &e.raw else { continue };
            let record = codec::decode(&e.user, e.id.as_str(), raw)?;
            if record.created_at == e.created_at {
                rows.push(record);
            } else {
                tracing::error!(target: "sessionward::redis", "session directory entry disagrees with its record: left out");
            }
        }
        Ok(rows)
    }

    /// Drops the entries of `entries` found without a record, each only
    /// if its session is still absent when the drop runs.
    async fn prune(&self, entries: &[IndexedEntry]) -> Result<(), StoreError> {
        let mut gone: HashMap<&UserId, Vec<&IndexedEntry>> = HashMap::new();
        for e in entries.iter().filter(|e| e.raw.is_none()) {
            gone.entry(&e.user).or_default().push(e);
        }
        let index = keys::directory_key(&self.inner.prefix);
        for (user, entries) in gone {
            let mut inv = self.inner.scripts.directory_sync.key(&index);
            inv.key(self.key(user)).arg("prune");
            for e in entries {
                inv.arg(&e.member).arg(e.id.as_str());
            }
            let mut conn = self.conn();
            self.run(inv.invoke_async::<u64>(&mut conn)).await?;
        }
        Ok(())
    }

    /// Drops the directory entries of the erased sessions `erased` (the
    /// `{id, value, ...}` pairs of `user`'s hash as it was), so no entry
    /// keeps the user id after an erasure.
    pub(crate) async fn forget_in_directory(
        &self,
        user: &UserId,
        erased: &[String],
    ) -> Result<(), StoreError> {
        if !self.standalone() {
            return Ok(());
        }
        // A value that does not decode keeps its entry until a purge finds
        // it without a session.
        let members: Vec<String> = erased
            .chunks_exact(2)
            .filter_map(|pair| codec::decode(user, &pair[0], &pair[1]).ok())
            .map(|r| keys::directory_member(r.created_at, user, &r.id))
            .collect();
        if members.is_empty() {
            return Ok(());
        }
        let mut cmd = redis::cmd("ZREM");
        cmd.arg(keys::directory_key(&self.inner.prefix))
            .arg(members);
        let mut conn = self.conn();
        self.run(cmd.query_async::<u64>(&mut conn)).await?;
        Ok(())
    }

    /// Walks the whole index oldest first and drops entries whose session
    /// is gone: the entries of sessions no query has met since they ended.
    pub(crate) async fn prune_directory_index(&self) -> Result<(), StoreError> {
        if !self.standalone() {
            return Ok(());
        }
        let index = keys::directory_key(&self.inner.prefix);
        let mut start = "-".to_owned();
        loop {
            let mut conn = self.conn();
            let cmd = redis::cmd("ZRANGEBYLEX")
                .arg(&index)
                .arg(&start)
                .arg("+")
                .arg("LIMIT")
                .arg(0)
                .arg(INDEX_CHUNK)
                .clone();
            let members: Vec<String> = self.run(cmd.query_async(&mut conn)).await?;
            let Some(last) = members.last() else {
                return Ok(());
            };
            start = format!("({last}");
            let full = members.len() == INDEX_CHUNK;
            let entries = self.look_up(members).await?;
            self.prune(&entries).await?;
            if !full {
                return Ok(());
            }
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

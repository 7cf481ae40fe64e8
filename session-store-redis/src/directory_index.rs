//! The session directory's cross-user index on a standalone server: one
//! sorted set, `<prefix>directory`, that every create adds its session to
//! (see [`keys::directory_member`]), walked in page order with
//! `ZREVRANGEBYLEX`. A page reads its entries, then the records they name
//! in one pipelined round trip per chunk, so its cost does not grow with
//! the number of users.
//!
//! Entries outlive their sessions (an ended session leaves its hash later,
//! or its whole hash expires). One script (`DIRECTORY_SYNC` in
//! `scripts.rs`) drops an entry only after checking its session is gone, so no drop can hide a
//! live session: a read drops what it meets and `purge_expired` walks the
//! whole index (for hashes that expired as a whole); the scripts that
//! delete a session's record (`create` and `purge_expired` dropping ended
//! entries, `erase_user`) delete its entry with it.
//!
//! A server whose index was never built (sessions from a release without
//! it) builds it on its first query, one instance at a time; the others
//! scan meanwhile. Hashes an earlier release wrote without an owner key
//! cannot be attributed by the build; the user's next create lists them.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::StreamExt as _;
use sessionward_core::directory::{PageCursor, SessionPage, SessionQuery};
use sessionward_core::{SessionId, SessionRecord, StoreError, Timestamp, UserId};

use crate::codec;
use crate::directory::PARALLEL_READS;
use crate::keys;
use crate::store::RedisStore;

/// The most index entries one read takes (a page and one more first, four
/// times as many each read after).
const INDEX_CHUNK: usize = 1024;

/// How long one instance may hold the build before another may start it
/// (a build that was dropped half way is started again after this).
const BUILD_LEASE: Duration = Duration::from_secs(600);

/// An index entry, what it names, and that session's packed record (`None`
/// when it is no longer in the user's hash, or not read).
struct IndexedEntry {
    member: String,
    created_at: Timestamp,
    user: UserId,
    id: SessionId,
    raw: Option<String>,
}

impl RedisStore {
    /// Whether directory queries can walk the index: on a standalone
    /// server once it is built (built here on first use, by one instance at
    /// a time, then remembered). `false` sends the query to the scan.
    pub(crate) async fn index_ready(&self) -> Result<bool, StoreError> {
        if !self.standalone() {
            return Ok(false);
        }
        if self.inner.directory_built.load(Ordering::Acquire) {
            return Ok(true);
        }
        let prefix = &self.inner.prefix;
        let mut conn = self.conn();
        let cmd = redis::cmd("EXISTS")
            .arg(keys::directory_built_key(prefix))
            .clone();
        let built: bool = self.run(cmd.query_async(&mut conn)).await?;
        if !built {
            let lease = redis::cmd("SET")
                .arg(keys::directory_building_key(prefix))
                .arg(1)
                .arg("NX")
                .arg("PX")
                .arg(BUILD_LEASE.as_millis() as u64)
                .clone();
            let leased: Option<String> = self.run(lease.query_async(&mut conn)).await?;
            if leased.is_none() {
                // Another instance is building: scan until it is done.
                return Ok(false);
            }
            let added = self.build_directory_index().await?;
            tracing::info!(target: "sessionward::redis", added, "session directory index built");
            let release = redis::cmd("DEL")
                .arg(keys::directory_building_key(prefix))
                .clone();
            self.run(release.query_async::<()>(&mut conn)).await?;
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
    /// hash. Hashes without an owner key (written by a release before the
    /// owner key) cannot be attributed to a user: they are counted in a
    /// warning, and each user's next create lists them. Returns the
    /// entries added.
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
        let (mut added, mut unattributed) = (0u64, 0usize);
        let mut reads = futures_util::stream::iter(hashes)
            .map(|key| async move { (self.read_hash(key.clone()).await, key) })
            .buffer_unordered(PARALLEL_READS);
        while let Some((read, hash_key)) = reads.next().await {
            let records = match read? {
                Some(records) if !records.is_empty() => records,
                Some(_) => continue,
                None => {
                    unattributed += 1;
                    continue;
                }
            };
            let mut inv = self.inner.scripts.directory_sync.key(&index);
            inv.key(&hash_key).arg("add");
            for r in &records {
                inv.arg(2)
                    .arg(keys::directory_member(r.created_at, &r.user, &r.id))
                    .arg(r.id.as_str());
            }
            let mut conn = self.conn();
            let n: u64 = self.run(inv.invoke_async(&mut conn)).await?;
            added += n;
        }
        if unattributed > 0 {
            tracing::warn!(
                target: "sessionward::redis",
                hashes = unattributed,
                "session hashes without an owner key (written by an earlier release) are not in the directory index until each user's next login"
            );
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
    pub(crate) async fn find_indexed(
        &self,
        query: &SessionQuery,
    ) -> Result<SessionPage, StoreError> {
        let mut pager = query.pager(INDEX_CHUNK);
        while let Some((after, chunk)) = pager.next_read() {
            let start = match after {
                Some(c) => format!("({}", keys::directory_member(c.created_at, &c.user, &c.id)),
                None => "+".to_owned(),
            };
            let members = self
                .index_range("ZREVRANGEBYLEX", &start, "-", chunk)
                .await?;
            let read = members.len();
            let mut entries = self.entries_of(members).await?;
            self.read_records(&mut entries).await?;
            let reached = entries
                .last()
                .map(|e| PageCursor::new(e.created_at, e.user.clone(), e.id.clone()));
            let rows = records_of(&entries)?;
            let gone: Vec<&IndexedEntry> = entries.iter().filter(|e| e.raw.is_none()).collect();
            self.prune(&gone).await?;
            pager.take_read(read, reached, rows);
        }
        Ok(pager.finish())
    }

    /// Up to `count` index entries from `start` to `end`, by `command`
    /// (`ZRANGEBYLEX` or `ZREVRANGEBYLEX`).
    async fn index_range(
        &self,
        command: &str,
        start: &str,
        end: &str,
        count: usize,
    ) -> Result<Vec<String>, StoreError> {
        let mut conn = self.conn();
        let cmd = redis::cmd(command)
            .arg(keys::directory_key(&self.inner.prefix))
            .arg(start)
            .arg(end)
            .arg("LIMIT")
            .arg(0)
            .arg(count)
            .clone();
        self.run(cmd.query_async(&mut conn)).await
    }

    /// What `members` name. Members that are not index entries (never
    /// written by this crate) are removed, so no walk meets them again.
    async fn entries_of(&self, members: Vec<String>) -> Result<Vec<IndexedEntry>, StoreError> {
        let mut entries = Vec::with_capacity(members.len());
        let mut malformed = Vec::new();
        for member in members {
            match keys::parse_directory_member(&member) {
                Some((created_at, user, id)) => entries.push(IndexedEntry {
                    member,
                    created_at,
                    user,
                    id,
                    raw: None,
                }),
                None => malformed.push(member),
            }
        }
        if !malformed.is_empty() {
            tracing::error!(target: "sessionward::redis", entries = malformed.len(), "malformed session directory entries removed");
            let mut conn = self.conn();
            let cmd = redis::cmd("ZREM")
                .arg(keys::directory_key(&self.inner.prefix))
                .arg(malformed)
                .clone();
            self.run(cmd.query_async::<u64>(&mut conn)).await?;
        }
        Ok(entries)
    }

    /// Reads the records `entries` name, in one pipeline.
    async fn read_records(&self, entries: &mut [IndexedEntry]) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for e in entries.iter() {
            pipe.cmd("HGET").arg(self.key(&e.user)).arg(e.id.as_str());
        }
        let mut conn = self.conn();
        let raws: Vec<Option<String>> = self.run(pipe.query_async(&mut conn)).await?;
        for (entry, raw) in entries.iter_mut().zip(raws) {
            entry.raw = raw;
        }
        Ok(())
    }

    /// Drops those of `entries` whose session is gone when the script
    /// runs: one script for them all.
    async fn prune(&self, entries: &[&IndexedEntry]) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut inv = self
            .inner
            .scripts
            .directory_sync
            .key(keys::directory_key(&self.inner.prefix));
        inv.arg("prune");
        // KEYS[1] is the index; each user's hash once after it.
        let mut hash_number: HashMap<&UserId, usize> = HashMap::new();
        for e in entries {
            let next = hash_number.len() + 2;
            let number = *hash_number.entry(&e.user).or_insert_with(|| {
                inv.key(self.key(&e.user));
                next
            });
            inv.arg(number).arg(&e.member).arg(e.id.as_str());
        }
        let mut conn = self.conn();
        self.run(inv.invoke_async::<u64>(&mut conn)).await?;
        Ok(())
    }

    /// Walks the whole index oldest first and drops entries whose session
    /// is gone: those of hashes that expired as a whole that no query has
    /// met since. A chunk is two round trips (its entries, then one
    /// script that checks each session).
    pub(crate) async fn prune_directory_index(&self) -> Result<(), StoreError> {
        if !self.standalone() {
            return Ok(());
        }
        let mut start = "-".to_owned();
        loop {
            let members = self
                .index_range("ZRANGEBYLEX", &start, "+", INDEX_CHUNK)
                .await?;
            let Some(last) = members.last() else {
                return Ok(());
            };
            start = format!("({last}");
            let full = members.len() == INDEX_CHUNK;
            let entries = self.entries_of(members).await?;
            self.prune(&entries.iter().collect::<Vec<_>>()).await?;
            if !full {
                return Ok(());
            }
        }
    }

    /// Drops the directory entries of the erased sessions `erased` (the
    /// `{id, value, ...}` pairs of `user`'s hash as it was). Sessions that
    /// had left the hash before have no entry left (the scripts that drop
    /// them drop their entries), except a hash that expired as a whole:
    /// its entries go at the next `purge_expired` or query that meets them.
    pub(crate) async fn forget_in_directory(
        &self,
        user: &UserId,
        erased: &[String],
    ) -> Result<(), StoreError> {
        if !self.standalone() {
            return Ok(());
        }
        let members: Vec<String> = erased
            .chunks_exact(2)
            .filter_map(|pair| codec::decode(user, &pair[0], &pair[1]).ok())
            .map(|r| keys::directory_member(r.created_at, user, &r.id))
            .collect();
        if !members.is_empty() {
            let mut conn = self.conn();
            let cmd = redis::cmd("ZREM")
                .arg(keys::directory_key(&self.inner.prefix))
                .arg(members)
                .clone();
            self.run(cmd.query_async::<u64>(&mut conn)).await?;
        }
        Ok(())
    }
}

/// The stored records of `entries`, in their order. A record whose
/// creation time is not its entry's is left out (it could not be in page
/// order).
fn records_of(entries: &[IndexedEntry]) -> Result<Vec<SessionRecord>, StoreError> {
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

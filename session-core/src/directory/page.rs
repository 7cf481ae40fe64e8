//! Paging: [`SessionQuery`], [`SessionPage`] and the opaque [`PageCursor`].

use std::cmp::Reverse;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::SessionFilter;
use crate::ids::{SessionId, UserId};
use crate::record::SessionRecord;
use crate::time::Timestamp;

/// The most sessions one page holds.
pub const MAX_PAGE: usize = 1000;

/// The page size when a query names none.
pub const DEFAULT_PAGE: usize = 100;

/// The most candidate records a [`Pager`] reads for one page. A filter
/// the store cannot narrow down with its indexes may match few of many
/// sessions; past this many the page ends short (its `next` says where
/// to go on), so every call answers within the store's deadline.
pub const MAX_SCAN: usize = 20_000;

/// Where a page ended: the sort key of its last session. Pages are sorted
/// newest first by `(created_at, user, id)`, all descending (ids compared
/// as bytes), so the order is total and stable while sessions are added or
/// end: a session that ends between pages drops out, one created after the
/// first page sorts before the cursor and is not shown.
///
/// It travels as an opaque text ([`PageCursor::to_text`]); it is a
/// position, not a credential.
///
/// ```
/// use sessionward_core::directory::PageCursor;
/// use sessionward_core::{SessionId, Timestamp, UserId};
/// let cursor = PageCursor::new(
///     Timestamp::from_unix_millis(1_700_000_000_000),
///     UserId::new("alice").unwrap(),
///     SessionId::generate(),
/// );
/// assert_eq!(PageCursor::parse(&cursor.to_text()).unwrap(), cursor);
/// assert!(PageCursor::parse("not a cursor").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageCursor {
    /// Creation time of the last session shown.
    pub created_at: Timestamp,
    /// Its owner.
    pub user: UserId,
    /// Its id.
    pub id: SessionId,
}

/// A cursor text that is not one [`PageCursor::to_text`] wrote.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed page cursor")]
pub struct CursorError;

impl PageCursor {
    /// The position just after the session `(created_at, user, id)`.
    pub fn new(created_at: Timestamp, user: UserId, id: SessionId) -> Self {
        PageCursor {
            created_at,
            user,
            id,
        }
    }

    /// The position after `record`.
    pub fn after(record: &SessionRecord) -> Self {
        PageCursor::new(record.created_at, record.user.clone(), record.id.clone())
    }

    /// The opaque text form: base64url of `millis \n user \n id`.
    pub fn to_text(&self) -> String {
        let raw = format!(
            "{}\n{}\n{}",
            self.created_at.unix_millis(),
            self.user.as_str(),
            self.id.as_str()
        );
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// Reads [`PageCursor::to_text`] output.
    ///
    /// # Errors
    /// [`CursorError`] for anything else (oversized, not base64url, a bad
    /// time, an invalid user or session id).
    pub fn parse(text: &str) -> Result<Self, CursorError> {
        if text.len() > 1024 {
            return Err(CursorError);
        }
        let raw = URL_SAFE_NO_PAD.decode(text).map_err(|_| CursorError)?;
        let raw = String::from_utf8(raw).map_err(|_| CursorError)?;
        let mut parts = raw.splitn(3, '\n');
        let (Some(millis), Some(user), Some(id)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(CursorError);
        };
        let millis: i64 = millis.parse().map_err(|_| CursorError)?;
        Ok(PageCursor::new(
            Timestamp::from_unix_millis(millis),
            UserId::new(user).map_err(|_| CursorError)?,
            SessionId::parse(id).map_err(|_| CursorError)?,
        ))
    }

    fn key(&self) -> SortKey<'_> {
        Reverse((
            self.created_at,
            self.user.as_str().as_bytes(),
            self.id.as_str().as_bytes(),
        ))
    }
}

impl fmt::Display for PageCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

type SortKey<'a> = Reverse<(Timestamp, &'a [u8], &'a [u8])>;

fn key_of(record: &SessionRecord) -> SortKey<'_> {
    Reverse((
        record.created_at,
        record.user.as_str().as_bytes(),
        record.id.as_str().as_bytes(),
    ))
}

/// One page of a directory query: the filter, where to start, how many,
/// and the instant activity is judged at.
#[derive(Debug, Clone)]
pub struct SessionQuery {
    /// Which sessions.
    pub filter: SessionFilter,
    /// Start after this position; `None` for the first page.
    pub after: Option<PageCursor>,
    /// At most this many sessions (1 to [`MAX_PAGE`]).
    pub limit: usize,
    /// The time the sessions must be active at.
    pub now: Timestamp,
    /// Sessions last seen at or before this are idle, so not active.
    pub idle_cutoff: Timestamp,
}

impl SessionQuery {
    /// The first page of `filter`, [`DEFAULT_PAGE`] long, judged at `now`.
    pub fn new(filter: SessionFilter, now: Timestamp, idle_cutoff: Timestamp) -> Self {
        SessionQuery {
            filter,
            after: None,
            limit: DEFAULT_PAGE,
            now,
            idle_cutoff,
        }
    }

    /// Continue after `cursor`.
    pub fn after(mut self, cursor: Option<PageCursor>) -> Self {
        self.after = cursor;
        self
    }

    /// At most `limit` sessions, clamped to 1..=[`MAX_PAGE`].
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit.clamp(1, MAX_PAGE);
        self
    }

    /// Whether `record` belongs on this query's pages (it matches) and comes
    /// after the cursor.
    pub fn admits(&self, record: &SessionRecord) -> bool {
        self.after.as_ref().is_none_or(|c| key_of(record) > c.key())
            && self.filter.matches(record, self.now, self.idle_cutoff)
    }

    /// The page of a store that reads candidates in no particular order
    /// (scanning every user, as the memory and Redis stores do): keeps
    /// those [`SessionQuery::admits`], sorts them, takes [`limit`](Self::limit).
    pub fn page_of<'a>(
        &self,
        candidates: impl IntoIterator<Item = &'a SessionRecord>,
    ) -> SessionPage {
        let mut hits: Vec<&SessionRecord> =
            candidates.into_iter().filter(|r| self.admits(r)).collect();
        let limit = self.limit.clamp(1, MAX_PAGE);
        if hits.len() > limit {
            hits.select_nth_unstable_by(limit, |a, b| key_of(a).cmp(&key_of(b)));
            hits.truncate(limit + 1);
        }
        hits.sort_unstable_by(|a, b| key_of(a).cmp(&key_of(b)));
        SessionPage::from_sorted(hits.into_iter().cloned().collect(), limit)
    }
}

impl SessionQuery {
    /// A [`Pager`] for a store that reads candidates in sort order from its
    /// own index: first a page and one more (enough when the index
    /// narrows the query down exactly), then four times as many each read
    /// up to `max_chunk`.
    pub fn pager(&self, max_chunk: usize) -> Pager<'_> {
        self.pager_scanning(max_chunk, MAX_SCAN)
    }

    /// A [`Pager`] that reads at most `budget` candidates (at least one
    /// read).
    pub fn pager_scanning(&self, max_chunk: usize, budget: usize) -> Pager<'_> {
        let limit = self.limit.clamp(1, MAX_PAGE);
        Pager {
            query: self,
            limit,
            chunk: limit + 1,
            max_chunk: max_chunk.max(limit + 1),
            budget: budget.max(limit + 1),
            scanned: 0,
            position: self.after.clone(),
            hits: Vec::new(),
            done: false,
            exhausted: false,
        }
    }
}

/// Fills a page from candidates read in sort order, a chunk at a time:
/// ask [`Pager::next_read`] where to read, read up to that many records
/// after that position in the order [`PageCursor`] describes (narrowed down
/// as far as the store can), give them to [`Pager::take`], and repeat
/// until `next_read` says `None`; then [`Pager::finish`]. It keeps the
/// records [`SessionQuery::admits`], and stops reading after
/// [`MAX_SCAN`] candidates: the page then ends short, with a `next`.
///
/// ```
/// # use sessionward_core::directory::*;
/// # use sessionward_core::Timestamp;
/// let query = SessionQuery::new(SessionFilter::default(), Timestamp::EPOCH, Timestamp::EPOCH);
/// let mut pager = query.pager(256);
/// while let Some((_after, _chunk)) = pager.next_read() {
///     pager.take(Vec::new()); // a store's read, in sort order
/// }
/// assert!(pager.finish().sessions.is_empty());
/// ```
#[derive(Debug)]
pub struct Pager<'q> {
    query: &'q SessionQuery,
    limit: usize,
    chunk: usize,
    max_chunk: usize,
    budget: usize,
    scanned: usize,
    position: Option<PageCursor>,
    hits: Vec<SessionRecord>,
    done: bool,
    exhausted: bool,
}

impl Pager<'_> {
    /// Where to read next (`None`: from the start) and how many, or `None`
    /// when the page is complete.
    pub fn next_read(&self) -> Option<(Option<&PageCursor>, usize)> {
        (!self.done).then_some((self.position.as_ref(), self.chunk))
    }

    /// The records read, in sort order.
    pub fn take(&mut self, rows: Vec<SessionRecord>) {
        let read = rows.len();
        let reached = rows.last().map(PageCursor::after);
        self.take_read(read, reached, rows);
    }

    /// The records of a read of `read` index entries, in sort order, for a
    /// store whose index can name sessions that no longer have a record
    /// (entries it prunes as it finds them): `rows` may be fewer than
    /// `read`, and `reached` is the position of the last entry read,
    /// whether or not it still had a record. A read is the store's last
    /// when `read` is short of the chunk asked for, not when `rows` is.
    pub fn take_read(
        &mut self,
        read: usize,
        reached: Option<PageCursor>,
        rows: Vec<SessionRecord>,
    ) {
        self.exhausted = read < self.chunk;
        self.scanned += read;
        if reached.is_some() {
            self.position = reached;
        }
        let query = self.query;
        self.hits
            .extend(rows.into_iter().filter(|r| query.admits(r)));
        self.done = self.exhausted || self.hits.len() > self.limit || self.scanned >= self.budget;
        self.chunk = (self.chunk * 4).min(self.max_chunk);
    }

    /// The page: full, with a cursor when more matched; or short, with
    /// the position reached when the read budget ran out first, and no
    /// cursor only when the store had no more.
    pub fn finish(mut self) -> SessionPage {
        if self.hits.len() > self.limit || self.exhausted {
            self.hits.truncate(self.limit + 1);
            return SessionPage::from_sorted(self.hits, self.limit);
        }
        SessionPage {
            sessions: self.hits,
            next: self.position,
        }
    }
}

impl SessionQuery {
    /// A [`PageCollector`]: for a store that reads candidates in no order,
    /// one user at a time, without holding them all.
    pub fn collector(&self) -> PageCollector<'_> {
        PageCollector {
            query: self,
            limit: self.limit.clamp(1, MAX_PAGE),
            kept: Vec::new(),
        }
    }
}

/// Keeps the first `limit + 1` records (in page order) of those offered
/// that [`SessionQuery::admits`], in memory bounded by the page size.
#[derive(Debug)]
pub struct PageCollector<'q> {
    query: &'q SessionQuery,
    limit: usize,
    kept: Vec<SessionRecord>,
}

impl PageCollector<'_> {
    /// Considers `records`.
    pub fn offer(&mut self, records: impl IntoIterator<Item = SessionRecord>) {
        let query = self.query;
        self.kept
            .extend(records.into_iter().filter(|r| query.admits(r)));
        let keep = self.limit + 1;
        if self.kept.len() > 2 * keep {
            self.kept
                .select_nth_unstable_by(keep, |a, b| key_of(a).cmp(&key_of(b)));
            self.kept.truncate(keep);
        }
    }

    /// The page.
    pub fn finish(mut self) -> SessionPage {
        self.kept.sort_unstable_by(|a, b| key_of(a).cmp(&key_of(b)));
        self.kept.truncate(self.limit + 1);
        SessionPage::from_sorted(self.kept, self.limit)
    }
}

/// A page of matching sessions, newest first, and where the next one starts.
///
/// A page may hold fewer sessions than asked for and still have a `next`
/// (a store stopped after [`MAX_SCAN`] candidates to answer in bounded
/// time): only `next == None` means the walk is over.
#[derive(Debug, Clone, Default)]
pub struct SessionPage {
    /// The sessions.
    pub sessions: Vec<SessionRecord>,
    /// The position to ask the next page from; `None` on the last page.
    pub next: Option<PageCursor>,
}

impl SessionPage {
    /// A page from up to `limit + 1` matching sessions in sort order: the
    /// first `limit`, with a cursor when more followed.
    pub fn from_sorted(mut sessions: Vec<SessionRecord>, limit: usize) -> Self {
        let more = sessions.len() > limit;
        sessions.truncate(limit);
        let next = if more {
            sessions.last().map(PageCursor::after)
        } else {
            None
        };
        SessionPage { sessions, next }
    }
}

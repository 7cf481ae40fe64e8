//! The session directory over SQL: the statements of cross-user queries
//! and of "revoke matching", built per dialect from a filter.
//!
//! A query walks the unrevoked sessions in the directory's order
//! (`created_at`, `user_id`, `session_id`, all descending; byte order for
//! the ids: Postgres is told `COLLATE "C"`, SQLite's and MySQL's binary
//! collations already are, but for MySQL's `PAD SPACE`: user ids that
//! differ only in trailing spaces compare equal there, see `docs/stores.md`),
//! through the index the `sessionward_directory`
//! migration adds, with the criteria SQL can check on columns in the
//! `WHERE` clause. The rest (network blocks, ASN, app, risk: JSON or
//! address arithmetic) are checked on the decoded record by
//! [`SessionFilter::matches`](sessionward_core::directory::SessionFilter::matches),
//! which has the last word on every criterion.

use sessionward_core::directory::{
    IpNetwork, MatchingRevocation, PageCursor, SessionPage, SessionQuery,
};
use sessionward_core::{SessionRecord, UserId};
use sqlx::{ColumnIndex, Database, Encode, Executor, FromRow, IntoArguments, Type};

use crate::error::carry;
use crate::row::{SessionRow, cols, ip_key, records};

/// Rows read per statement while filling a page.
pub(crate) const CHUNK: usize = 512;

/// Session ids revoked per statement.
const IDS_PER_STATEMENT: usize = 500;

/// The SQL dialects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    not(all(feature = "postgres", feature = "mysql", feature = "sqlite")),
    allow(dead_code)
)]
pub(crate) enum Dialect {
    /// `$n` placeholders, `COLLATE "C"` for byte order, `RETURNING`.
    Postgres,
    /// `?` placeholders, binary collations, no `RETURNING` on `UPDATE`.
    MySql,
    /// `?` placeholders, binary collation, `RETURNING`.
    Sqlite,
}

/// A bound value.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Text(String),
    Int(i64),
}

/// A statement and its arguments, in placeholder order.
#[derive(Debug)]
pub(crate) struct Sql {
    dialect: Dialect,
    text: String,
    args: Vec<Arg>,
}

impl Sql {
    fn new(dialect: Dialect, text: &str) -> Self {
        Sql {
            dialect,
            text: text.to_owned(),
            args: Vec::new(),
        }
    }

    /// The text for sqlx. Audited: it is assembled only from this module's
    /// fixed fragments and column names; every value is a bound argument.
    fn audited(&self) -> sqlx::AssertSqlSafe<String> {
        sqlx::AssertSqlSafe(self.text.clone())
    }

    fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    fn bind(&mut self, arg: Arg) -> &mut Self {
        self.args.push(arg);
        match self.dialect {
            Dialect::Postgres => {
                self.text.push('$');
                self.text.push_str(&self.args.len().to_string());
            }
            Dialect::MySql | Dialect::Sqlite => self.text.push('?'),
        }
        self
    }

    fn bind_text(&mut self, text: &str) -> &mut Self {
        self.bind(Arg::Text(text.to_owned()))
    }

    fn bind_int(&mut self, value: i64) -> &mut Self {
        self.bind(Arg::Int(value))
    }

    /// An id column in byte order.
    fn id(&self, column: &str) -> String {
        match self.dialect {
            Dialect::Postgres => format!("{column} COLLATE \"C\""),
            Dialect::MySql | Dialect::Sqlite => column.to_owned(),
        }
    }

    /// `AND` the conditions every active session meets at `now`.
    fn active(&mut self, now: i64, idle_cutoff: i64) -> &mut Self {
        self.push(" AND revoked_at IS NULL AND expires_at > ")
            .bind_int(now)
            .push(" AND last_seen_at > ")
            .bind_int(idle_cutoff)
    }

    /// `AND` `column` within `[from, until)`.
    fn window(
        &mut self,
        column: &str,
        window: &sessionward_core::directory::TimeWindow,
    ) -> &mut Self {
        if let Some(from) = window.from {
            self.push(&format!(" AND {column} >= "))
                .bind_int(from.unix_millis());
        }
        if let Some(until) = window.until {
            self.push(&format!(" AND {column} < "))
                .bind_int(until.unix_millis());
        }
        self
    }
}

/// The first and last `ip_key` of `network`.
fn key_range(network: IpNetwork) -> (String, String) {
    let first = network.addr();
    let bits = if first.is_ipv4() { 32 } else { 128 };
    let span = u32::from(bits - network.prefix());
    let host_mask = 1u128.checked_shl(span).map_or(u128::MAX, |v| v - 1);
    let first_key = ip_key(first);
    let last = u128::from_str_radix(&first_key, 16).unwrap_or(0) | host_mask;
    (first_key, format!("{last:032x}"))
}

/// The next `chunk` candidate rows of `query` after `after`; `unkeyed`:
/// some active rows have no `ip_key`, so a network query reads them too.
pub(crate) fn find(
    dialect: Dialect,
    query: &SessionQuery,
    after: Option<&PageCursor>,
    chunk: usize,
    unkeyed: bool,
) -> Sql {
    let mut sql = Sql::new(
        dialect,
        concat!("SELECT ", cols!(), " FROM sessionward_sessions WHERE 1 = 1"),
    );
    sql.active(query.now.unix_millis(), query.idle_cutoff.unix_millis());
    let filter = &query.filter;
    if let Some(user) = &filter.user {
        sql.push(" AND user_id = ").bind_text(user.as_str());
    }
    if let Some(class) = filter.device_class {
        sql.push(" AND device_class = ").bind_text(class.as_str());
    }
    if let Some(country) = &filter.country {
        sql.push(" AND UPPER(country) = ")
            .bind_text(&country.to_ascii_uppercase());
    }
    if let Some(network) = filter.network {
        let (first, last) = key_range(network);
        let key = sql.id("ip_key");
        sql.push(if unkeyed { " AND ((" } else { " AND (" });
        sql.push(&format!("{key} >= "))
            .bind_text(&first)
            .push(&format!(" AND {key} <= "))
            .bind_text(&last)
            .push(")");
        if unkeyed {
            // Rows without the key (written by an instance of an earlier
            // release since `migrate` filled them in): candidates too,
            // decided on `ip`. Slower (no range), never incomplete.
            sql.push(" OR (ip_key IS NULL AND ip IS NOT NULL))");
        }
    }
    // JSON members, matched as text: a prefilter only (`matches` decides),
    // so the rows the walk reads are not all decoded.
    if let Some(app) = &filter.app {
        // App ids are letters, digits and `._:-`: only `_` needs escaping.
        let app = app.as_str().replace('_', "!_");
        sql.push(" AND meta LIKE ")
            .bind_text(&format!("%\"app\":\"{app}\"%"))
            .push(" ESCAPE '!'");
    }
    if let Some(asn) = filter.asn {
        sql.push(" AND meta LIKE ")
            .bind_text(&format!("%\"asn\":{asn}%"));
    }
    sql.window("created_at", &filter.created)
        .window("last_seen_at", &filter.last_seen);
    if let Some(c) = after {
        let (user, id) = (sql.id("user_id"), sql.id("session_id"));
        sql.push(&format!(" AND (created_at, {user}, {id}) < ("))
            .bind_int(c.created_at.unix_millis())
            .push(", ")
            .bind_text(c.user.as_str())
            .push(", ")
            .bind_text(c.id.as_str())
            .push(")");
    }
    let (user, id) = (sql.id("user_id"), sql.id("session_id"));
    sql.push(&format!(
        " ORDER BY created_at DESC, {user} DESC, {id} DESC LIMIT "
    ))
    .bind_int(i64::try_from(chunk).unwrap_or(i64::MAX));
    sql
}

/// `user`'s unrevoked sessions before their end, for `request` to pick
/// from (MySQL: locked until the transaction ends).
pub(crate) fn candidates(dialect: Dialect, user: &UserId, request: &MatchingRevocation) -> Sql {
    let mut sql = Sql::new(
        dialect,
        concat!(
            "SELECT ",
            cols!(),
            " FROM sessionward_sessions WHERE user_id = "
        ),
    );
    sql.bind_text(user.as_str())
        .push(" AND revoked_at IS NULL AND expires_at > ")
        .bind_int(request.at.unix_millis());
    if dialect == Dialect::MySql {
        sql.push(" FOR UPDATE");
    }
    sql
}

/// Revokes the listed sessions of `user` while they still meet what can
/// change after the read (unrevoked, before their end, not idle, last
/// seen within the window), in statements of at most
/// [`IDS_PER_STATEMENT`] ids. Postgres and SQLite return the rows revoked
/// (Postgres also announcing each on the revocation channel).
pub(crate) fn revoke_listed(
    dialect: Dialect,
    user: &UserId,
    picked: &[SessionRecord],
    request: &MatchingRevocation,
) -> Vec<Sql> {
    picked
        .chunks(IDS_PER_STATEMENT)
        .map(|ids| {
            let mut sql = Sql::new(dialect, "UPDATE sessionward_sessions SET revoked_at = ");
            sql.bind_int(request.at.unix_millis())
                .push(", revoke_reason = ")
                .bind_text(request.reason.as_str())
                .push(" WHERE user_id = ")
                .bind_text(user.as_str())
                .push(" AND session_id IN (");
            for (i, r) in ids.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.bind_text(r.id.as_str());
            }
            sql.push(")")
                .active(request.at.unix_millis(), request.idle_cutoff.unix_millis())
                .window("last_seen_at", &request.filter.last_seen);
            match dialect {
                #[cfg(feature = "postgres")]
                Dialect::Postgres => {
                    sql.text = format!(
                        "WITH r AS ({} RETURNING {}) SELECT {}, {} FROM r",
                        sql.text,
                        cols!(),
                        cols!(),
                        crate::postgres::NOTIFY_COLUMN
                    );
                }
                #[cfg(not(feature = "postgres"))]
                Dialect::Postgres => {}
                Dialect::Sqlite => {
                    sql.push(concat!(" RETURNING ", cols!()));
                }
                Dialect::MySql => {}
            }
            sql
        })
        .collect()
}

/// Runs a statement that returns session rows.
pub(crate) async fn fetch<'e, DB, E>(exec: E, sql: &Sql) -> Result<Vec<SessionRow>, sqlx::Error>
where
    DB: Database,
    E: Executor<'e, Database = DB>,
    for<'r> SessionRow: FromRow<'r, DB::Row>,
    DB::Arguments: IntoArguments<DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    let mut q = sqlx::query_as::<DB, SessionRow>(sql.audited());
    for arg in &sql.args {
        q = match arg {
            Arg::Text(t) => q.bind(t.clone()),
            Arg::Int(i) => q.bind(*i),
        };
    }
    q.fetch_all(exec).await
}

/// Runs a statement for its effect; how many rows it changed.
pub(crate) async fn execute<'e, DB, E>(exec: E, sql: &Sql) -> Result<u64, sqlx::Error>
where
    DB: Database,
    E: Executor<'e, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    DB::QueryResult: crate::shared::RowsAffected,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
{
    let mut q = sqlx::query::<DB>(sql.audited());
    for arg in &sql.args {
        q = match arg {
            Arg::Text(t) => q.bind(t.clone()),
            Arg::Int(i) => q.bind(*i),
        };
    }
    let done = q.execute(exec).await?;
    Ok(crate::shared::RowsAffected::changed(&done))
}

/// One page of `query`, read on `conn` chunk by chunk.
pub(crate) async fn find_in<DB>(
    conn: &mut DB::Connection,
    dialect: Dialect,
    query: &SessionQuery,
) -> Result<SessionPage, sqlx::Error>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'r> SessionRow: FromRow<'r, DB::Row>,
    DB::Arguments: IntoArguments<DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
    for<'r> (i64,): FromRow<'r, DB::Row>,
{
    // Through the `ip_key` index (NULLs included): one row at most.
    let unkeyed = query.filter.network.is_some() && {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM (SELECT 1 AS one FROM sessionward_sessions \
             WHERE ip_key IS NULL AND revoked_at IS NULL AND ip IS NOT NULL LIMIT 1) unkeyed",
        )
        .fetch_one(&mut *conn)
        .await?;
        n > 0
    };
    let mut pager = query.pager(CHUNK);
    while let Some((after, chunk)) = pager.next_read() {
        let sql = find(dialect, query, after, chunk, unkeyed);
        let rows = fetch(&mut *conn, &sql).await?;
        pager.take(records(rows).map_err(carry)?);
    }
    Ok(pager.finish())
}

/// "Revoke matching" for one user on `conn`, inside the caller's
/// transaction: read the candidates (MySQL locks them), keep those
/// `request` matches, revoke them with the conditions that can change
/// re-checked. The records revoked, as they were before.
pub(crate) async fn revoke_matching_in<DB>(
    conn: &mut DB::Connection,
    dialect: Dialect,
    user: &UserId,
    request: &MatchingRevocation,
) -> Result<Vec<SessionRecord>, sqlx::Error>
where
    DB: Database,
    DB::QueryResult: crate::shared::RowsAffected,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'r> SessionRow: FromRow<'r, DB::Row>,
    DB::Arguments: IntoArguments<DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    let rows = fetch(&mut *conn, &candidates(dialect, user, request)).await?;
    let picked: Vec<SessionRecord> = records(rows)
        .map_err(carry)?
        .into_iter()
        .filter(|r| request.matches(r))
        .collect();
    let statements = revoke_listed(dialect, user, &picked, request);
    if dialect == Dialect::MySql {
        // The rows are locked since the read: each is revoked as read.
        let mut changed = 0;
        for sql in &statements {
            changed += execute(&mut *conn, sql).await?;
        }
        if changed != picked.len() as u64 {
            // Not what the locks promise: roll back rather than report wrongly.
            return Err(carry(sessionward_core::StoreError::Corrupt(
                "revoke matching changed other rows than it locked".into(),
            )));
        }
        return Ok(picked);
    }
    let mut revoked = Vec::with_capacity(picked.len());
    for sql in &statements {
        let rows = fetch(&mut *conn, sql).await?;
        revoked.extend(crate::row::before_revocation(rows).map_err(carry)?);
    }
    Ok(revoked)
}

/// Gives the rows written before the `ip_key` column theirs, a batch at a
/// time (`migrate` runs it; a no-op once done). An address that does not
/// parse gets an empty key, which no block's range holds.
pub(crate) async fn backfill_ip_keys<DB>(
    pool: &sqlx::Pool<DB>,
    dialect: Dialect,
) -> Result<u64, sqlx::Error>
where
    DB: Database,
    DB::QueryResult: crate::shared::RowsAffected,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'c> &'c sqlx::Pool<DB>: Executor<'c, Database = DB>,
    for<'r> (String, String, String): FromRow<'r, DB::Row>,
    DB::Arguments: IntoArguments<DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
{
    let mut filled = 0;
    loop {
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT user_id, session_id, ip FROM sessionward_sessions \
             WHERE ip_key IS NULL AND ip IS NOT NULL LIMIT 500",
        )
        .fetch_all(pool)
        .await?;
        if rows.is_empty() {
            return Ok(filled);
        }
        for (user, id, ip) in rows {
            let key = ip.parse().map(ip_key).unwrap_or_default();
            let mut sql = Sql::new(dialect, "UPDATE sessionward_sessions SET ip_key = ");
            sql.bind_text(&key)
                .push(" WHERE user_id = ")
                .bind_text(&user)
                .push(" AND session_id = ")
                .bind_text(&id);
            filled += execute(pool, &sql).await?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_blocks_are_one_key_range() {
        let (first, last) = key_range("203.0.113.0/24".parse().unwrap());
        assert_eq!(first, ip_key("203.0.113.0".parse().unwrap()));
        assert_eq!(last, ip_key("203.0.113.255".parse().unwrap()));
        let inside = ip_key("203.0.113.77".parse().unwrap());
        assert!(first <= inside && inside <= last);
        assert!(ip_key("203.0.114.0".parse().unwrap()) > last);
        let mapped = ip_key("::ffff:203.0.113.77".parse().unwrap());
        assert_eq!(mapped, inside);
        let (first, last) = key_range("::/0".parse().unwrap());
        assert_eq!(
            (first.as_str(), last.as_str()),
            ("0".repeat(32).as_str(), "f".repeat(32).as_str())
        );
        let (first, last) = key_range("2001:db8::1".parse().unwrap());
        assert_eq!(first, last);
        let (first, last) = key_range("0.0.0.0/0".parse().unwrap());
        assert_eq!(first, ip_key("0.0.0.0".parse().unwrap()));
        assert_eq!(last, ip_key("255.255.255.255".parse().unwrap()));
    }
}

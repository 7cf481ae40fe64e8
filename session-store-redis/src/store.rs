//! [`RedisStore`]: connecting, running scripts under the time limit, and
//! the [`SessionStore`] operations.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::ConnectionManagerConfig;
use redis::{ErrorKind, ScriptInvocation, ServerErrorKind, Value};
use sessionward_core::admission::FIRST_USE_RESOLUTION;
use sessionward_core::{
    AppId, CreateOutcome, CreateRequest, LimitKind, RevocationFeed, RevokeReason, RotateOutcome,
    RotateRequest, SessionId, SessionMeta, SessionRecord, SessionStore, StoreError, TenantId,
    Timestamp, TouchRequest, UserId,
};

use crate::args::{duration_millis, millis, mode_arg, opt_arg, parse_millis, unexpected};
use crate::config::{RedisStoreConfig, ReplicaAcks};
use crate::connection::Conn;
use crate::error::{RedisStoreError, map_err, timed_out};
use crate::feed::RedisRevocationFeed;
use crate::scripts::Scripts;
use crate::{codec, keys};

/// A [`SessionStore`] on Redis (standalone or cluster). Cheap to clone.
///
/// See the [crate documentation](crate) for the data layout, the scripts and
/// the failure behaviour.
#[derive(Clone)]
pub struct RedisStore {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) conn: Conn,
    pub(crate) scripts: Scripts,
    pub(crate) prefix: String,
    pub(crate) channel: String,
    pub(crate) operation_timeout: Duration,
    pub(crate) scan_batch: usize,
    pub(crate) ip_login_cap: usize,
    pub(crate) replica_acks: Option<ReplicaAcks>,
    pub(crate) feed: Arc<RedisRevocationFeed>,
    /// Seen the session directory index built (see `directory.rs`).
    pub(crate) directory_built: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.inner.prefix)
            .field(
                "mode",
                &match self.inner.conn {
                    Conn::Standalone(_) => "standalone",
                    Conn::Cluster(_) => "cluster",
                },
            )
            .finish_non_exhaustive()
    }
}

fn invalid_config(e: RedisStoreError) -> StoreError {
    StoreError::Backend(Box::new(e))
}

impl RedisStore {
    /// The rotate script: the compare-and-swap, replacing the metadata line
    /// too when `meta_line` is not empty.
    async fn rotate(
        &self,
        req: RotateRequest,
        meta_line: String,
    ) -> Result<RotateOutcome, StoreError> {
        let next = req
            .expected_generation
            .checked_add(1)
            .ok_or_else(|| StoreError::Corrupt("refresh generation overflow".to_owned()))?;
        let mut conn = self.conn();
        let mut inv = self.inner.scripts.rotate.key(self.key(&req.user));
        inv.arg(req.id.as_str())
            .arg(req.expected_generation.to_string())
            .arg(codec::hash_text(&req.expected_hash))
            .arg(next.to_string())
            .arg(codec::hash_text(&req.new_hash))
            .arg(millis(req.now))
            .arg(millis(req.idle_cutoff))
            .arg(codec::seen_lines(req.seen.as_ref(), &[])?.0)
            .arg(meta_line);
        let reply: Vec<String> = self.run(inv.invoke_async(&mut conn)).await?;
        let decode = |raw: &str| codec::decode(&req.user, req.id.as_str(), raw);
        match (reply.first().map(String::as_str), reply.get(1)) {
            (Some("absent"), _) => Ok(RotateOutcome::Unchanged(None)),
            (Some("unchanged"), Some(raw)) => Ok(RotateOutcome::Unchanged(Some(decode(raw)?))),
            (Some("rotated"), Some(raw)) => Ok(RotateOutcome::Rotated(decode(raw)?)),
            _ => Err(unexpected()),
        }
    }

    /// Connects to a standalone Redis (`redis://[:password@]host:port[/db]`,
    /// `rediss://` needs a TLS feature of `redis`), waits for the first
    /// connection and loads the scripts.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when Redis cannot be reached in time;
    /// [`StoreError::Backend`] for a bad URL or settings that
    /// [`RedisStoreConfig::validate`] refuses.
    pub async fn connect(url: &str, config: RedisStoreConfig) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(|e| StoreError::Backend(Box::new(e)))?;
        Self::from_client(client, config).await
    }

    /// Like [`RedisStore::connect`], from a configured [`redis::Client`].
    ///
    /// # Errors
    /// As [`RedisStore::connect`].
    pub async fn from_client(
        client: redis::Client,
        config: RedisStoreConfig,
    ) -> Result<Self, StoreError> {
        config.validate().map_err(invalid_config)?;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.connection_timeout))
            .set_response_timeout(Some(config.response_timeout))
            .set_number_of_retries(config.reconnect_retries)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(500));
        let manager = tokio::time::timeout(
            config.operation_timeout,
            client.get_connection_manager_with_config(manager_config),
        )
        .await
        .map_err(|_| timed_out("connecting"))?
        .map_err(map_err)?;
        Self::finish(Conn::Standalone(manager), vec![client], config).await
    }

    /// Connects to a Redis Cluster through the given seed nodes (URLs as for
    /// [`RedisStore::connect`]). Every per-user operation addresses one hash
    /// slot; the revocation feed subscribes through the first reachable seed
    /// node (classic pub/sub is broadcast cluster-wide).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the cluster cannot be reached in time;
    /// [`StoreError::Backend`] for bad URLs, no nodes or settings that
    /// [`RedisStoreConfig::validate`] refuses.
    pub async fn connect_cluster<I, S>(
        nodes: I,
        config: RedisStoreConfig,
    ) -> Result<Self, StoreError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        config.validate().map_err(invalid_config)?;
        let nodes: Vec<String> = nodes.into_iter().map(|n| n.as_ref().to_owned()).collect();
        if nodes.is_empty() {
            return Err(invalid_config(RedisStoreError::NoClusterNodes));
        }
        let feed_clients = nodes
            .iter()
            .map(|n| redis::Client::open(n.as_str()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| StoreError::Backend(Box::new(e)))?;
        let cluster = redis::cluster::ClusterClient::builder(nodes.iter().map(String::as_str))
            .connection_timeout(config.connection_timeout)
            .response_timeout(config.response_timeout)
            .overall_response_timeout(Some(config.operation_timeout))
            .retries(config.reconnect_retries as u32)
            .build()
            .map_err(|e| StoreError::Backend(Box::new(e)))?;
        let conn = tokio::time::timeout(config.operation_timeout, cluster.get_async_connection())
            .await
            .map_err(|_| timed_out("connecting"))?
            .map_err(map_err)?;
        Self::finish(Conn::Cluster(conn), feed_clients, config).await
    }

    pub(crate) async fn finish(
        conn: Conn,
        feed_clients: Vec<redis::Client>,
        config: RedisStoreConfig,
    ) -> Result<Self, StoreError> {
        let channel = keys::revoked_channel(&config.key_prefix);
        let replica_acks = config.acks();
        let feed = Arc::new(RedisRevocationFeed::new(
            feed_clients,
            channel.clone(),
            config.connection_timeout,
            config.response_timeout,
            config.feed_heartbeat,
        ));
        let store = RedisStore {
            inner: Arc::new(Inner {
                conn,
                scripts: Scripts::new(),
                prefix: config.key_prefix,
                channel,
                operation_timeout: config.operation_timeout,
                scan_batch: config.scan_batch,
                ip_login_cap: config.ip_login_cap,
                replica_acks,
                feed,
                directory_built: std::sync::atomic::AtomicBool::new(false),
            }),
        };
        store.load_scripts().await?;
        Ok(store)
    }

    /// Loads every script into the script cache (`SCRIPT LOAD`), so the
    /// first call of each operation is one round trip. Calls reload scripts
    /// by themselves after a server restart or `SCRIPT FLUSH`.
    ///
    /// # Errors
    /// [`StoreError`] when Redis does not answer.
    pub async fn load_scripts(&self) -> Result<(), StoreError> {
        for script in self.inner.scripts.all() {
            let mut conn = self.conn();
            self.run(async move { script.load_async(&mut conn).await })
                .await?;
        }
        Ok(())
    }

    /// The key prefix.
    pub fn key_prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// Every per-user Redis key of `user`: the session hash (first) and the
    /// login-history hash of risk scoring. All share the user's hash tag, so
    /// they map to one cluster slot.
    pub fn keys_for_user(&self, user: &UserId) -> Vec<String> {
        keys::keys_for_user(&self.inner.prefix, user)
    }

    /// The channel revocations are published on.
    pub fn revocation_channel(&self) -> &str {
        &self.inner.channel
    }

    /// `MEMORY USAGE` of the user's sessions in bytes: the session hash, its
    /// two indexes and the "not before" mark (`None` when the user has none
    /// of them), for capacity planning.
    ///
    /// # Errors
    /// [`StoreError`] when Redis does not answer.
    pub async fn memory_usage(&self, user: &UserId) -> Result<Option<u64>, StoreError> {
        let mut total = None;
        let owner = keys::owner_key(&self.inner.prefix, user);
        for key in keys::session_keys(&self.inner.prefix, user)
            .into_iter()
            .chain([owner])
        {
            if let Some(bytes) = self.key_memory_usage(key).await? {
                total = Some(total.unwrap_or(0) + bytes);
            }
        }
        Ok(total)
    }

    pub(crate) async fn key_memory_usage(&self, key: String) -> Result<Option<u64>, StoreError> {
        let mut conn = self.conn();
        self.run(async move {
            redis::cmd("MEMORY")
                .arg("USAGE")
                .arg(key)
                .arg("SAMPLES")
                .arg(0)
                .query_async(&mut conn)
                .await
        })
        .await
    }

    /// Whether this is one server, not a cluster: only one server keeps
    /// keys that span users' slots (tenants' sets, the directory index).
    pub(crate) fn standalone(&self) -> bool {
        matches!(self.inner.conn, Conn::Standalone(_))
    }

    pub(crate) fn conn(&self) -> Conn {
        self.inner.conn.clone()
    }

    pub(crate) fn key(&self, user: &UserId) -> String {
        keys::sessions_key(&self.inner.prefix, user)
    }

    /// An invocation of `script` on the session keys `keys` (the hash and
    /// its two indexes).
    pub(crate) fn on_session_keys<'s>(
        script: &'s redis::Script,
        keys: [String; 4],
    ) -> ScriptInvocation<'s> {
        let mut inv = script.prepare_invoke();
        for key in keys {
            inv.key(key);
        }
        inv
    }

    /// [`Self::on_session_keys`] of `user`.
    pub(crate) fn on_user<'s>(
        &self,
        script: &'s redis::Script,
        user: &UserId,
    ) -> ScriptInvocation<'s> {
        Self::on_session_keys(script, keys::session_keys(&self.inner.prefix, user))
    }

    /// Runs one Redis exchange under the operation timeout.
    pub(crate) async fn run<T>(
        &self,
        fut: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, StoreError> {
        self.within(async { fut.await.map_err(map_err) }).await
    }

    /// Runs `fut` under the operation timeout.
    pub(crate) async fn within<T>(
        &self,
        fut: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(self.inner.operation_timeout, fut).await {
            Ok(result) => result,
            Err(_) => Err(timed_out("waiting for redis")),
        }
    }

    /// Runs a revoking script of `user`. With replica acknowledgements on
    /// and `revoked(&reply)` true, waits for them on the same connection
    /// (see [`RedisStoreConfig::with_replica_acks`]); script and `WAIT`
    /// share one operation timeout.
    pub(crate) async fn revoking<T: redis::FromRedisValue>(
        &self,
        user: &UserId,
        inv: ScriptInvocation<'_>,
        revoked: impl FnOnce(&T) -> bool,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn();
        let Some(acks) = self.inner.replica_acks else {
            return self.run(inv.invoke_async(&mut conn)).await;
        };
        self.within(async {
            // `CLIENT ID` rides with the script, so the `WAIT` below can
            // prove it used the connection that carried the write.
            let mut pipe = redis::pipe();
            pipe.invoke_script(&inv).cmd("CLIENT").arg("ID");
            let sent: redis::RedisResult<(T, i64)> = match pipe.query_async(&mut conn).await {
                Err(e) if e.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                    inv.load_async(&mut conn).await.map_err(map_err)?;
                    pipe.query_async(&mut conn).await
                }
                other => other,
            };
            let (reply, writer) = sent.map_err(map_err)?;
            if !revoked(&reply) {
                return Ok(reply);
            }
            let (waiter, got) = self.wait_acks(&mut conn, user, acks).await?;
            let missing = if waiter != writer {
                RedisStoreError::ReplicaAcksUnknown
            } else if got < u64::from(acks.replicas) {
                RedisStoreError::ReplicaAcksMissing {
                    wanted: acks.replicas,
                    got,
                }
            } else {
                return Ok(reply);
            };
            Err(StoreError::Unavailable(Box::new(missing)))
        })
        .await
    }

    /// `CLIENT ID` and `WAIT` in one pipeline, so both answer for one
    /// connection: on a cluster, the one to the primary of `user`'s slot.
    pub(crate) async fn wait_acks(
        &self,
        conn: &mut Conn,
        user: &UserId,
        acks: ReplicaAcks,
    ) -> Result<(i64, u64), StoreError> {
        let mut pipe = redis::pipe();
        pipe.cmd("CLIENT")
            .arg("ID")
            .cmd("WAIT")
            .arg(acks.replicas)
            .arg(acks.timeout_ms.to_string());
        match conn {
            Conn::Standalone(conn) => pipe.query_async(conn).await.map_err(map_err),
            Conn::Cluster(conn) => {
                use redis::cluster_routing::{Route, SingleNodeRoutingInfo, SlotAddr};
                let slot = keys::key_slot(self.key(user).as_bytes());
                let route = SingleNodeRoutingInfo::SpecificNode(Route::new(slot, SlotAddr::Master));
                let replies = conn
                    .route_pipeline(pipe, 0, 2, route)
                    .await
                    .map_err(map_err)?;
                redis::from_redis_value(Value::Array(replies)).map_err(|e| map_err(e.into()))
            }
        }
    }

    pub(crate) fn decode_pairs(
        user: &UserId,
        flat: &[String],
    ) -> Result<Vec<SessionRecord>, StoreError> {
        flat.chunks_exact(2)
            .map(|p| codec::decode(user, &p[0], &p[1]))
            .collect()
    }
}

#[async_trait]
impl SessionStore for RedisStore {
    async fn create(&self, req: CreateRequest) -> Result<CreateOutcome, StoreError> {
        let s = &req.session;
        let user = &s.user;
        let value = codec::encode(s)?;
        let limits = &req.limits;
        let class_limit = limits.for_class(s.device_class);
        let mut inv = self.on_user(&self.inner.scripts.create, user);
        inv.key(keys::owner_key(&self.inner.prefix, user));
        // The directory index and a tenant's set span users' slots: only a
        // standalone server keeps them.
        let standalone = self.standalone();
        if standalone {
            inv.key(keys::directory_key(&self.inner.prefix));
        }
        let tenant = s.meta.tenant.as_ref().filter(|_| standalone);
        if let Some(tenant) = tenant {
            inv.key(keys::tenant_key(&self.inner.prefix, tenant));
        }
        inv.arg(millis(req.now))
            .arg(millis(req.idle_cutoff))
            .arg(s.id.as_str())
            .arg(value)
            .arg(s.ip.map(|ip| ip.to_string()).unwrap_or_default())
            .arg(codec::class_code(s.device_class))
            .arg(s.country.as_deref().map(codec::escape).unwrap_or_default())
            .arg(req.replaces.as_ref().map(SessionId::as_str).unwrap_or(""))
            .arg(mode_arg(limits.on_limit))
            .arg(opt_arg(limits.per_user))
            .arg(opt_arg(limits.per_ip))
            .arg(opt_arg(class_limit))
            .arg(opt_arg(limits.max_countries))
            .arg(user.as_str())
            .arg(&self.inner.channel)
            .arg(millis(req.credential_verified_at))
            .arg(duration_millis(FIRST_USE_RESOLUTION))
            .arg(duration_millis(
                req.touch_interval.max(FIRST_USE_RESOLUTION),
            ))
            .arg(duration_millis(req.keep_ended_for))
            .arg(s.meta.app.as_ref().map(AppId::as_str).unwrap_or(""))
            .arg(opt_arg(limits.per_app))
            .arg(
                req.ends
                    .iter()
                    .map(SessionId::as_str)
                    .collect::<Vec<_>>()
                    .join(" "),
            )
            .arg(tenant.map(TenantId::as_str).unwrap_or(""))
            .arg(opt_arg(limits.per_tenant))
            .arg(keys::directory_member(s.created_at, user, &s.id));
        let reply: Vec<String> = self
            .revoking(user, inv, |r: &Vec<String>| create_revoked(r))
            .await?;
        let limit_kind = |name: &str| -> Result<Option<LimitKind>, StoreError> {
            Ok(match name {
                "" => None,
                "per_user" => Some(LimitKind::PerUser),
                "per_app" => Some(LimitKind::PerApp),
                "per_tenant" => Some(LimitKind::PerTenant),
                "per_ip" => Some(LimitKind::PerIp),
                "per_device_class" => Some(LimitKind::PerDeviceClass {
                    class: s.device_class,
                }),
                "countries" => Some(LimitKind::Countries),
                _ => return Err(unexpected()),
            })
        };
        match reply.first().map(String::as_str) {
            Some("duplicate") => Err(StoreError::IdTaken),
            Some("not_before") if reply.len() == 2 => Ok(CreateOutcome::CredentialsRevoked {
                not_before: parse_millis(&reply[1])?,
            }),
            Some("reject") if reply.len() >= 2 => Ok(CreateOutcome::LimitReached {
                limit: limit_kind(&reply[1])?.ok_or_else(unexpected)?,
                active: Self::decode_pairs(user, &reply[2..])?,
            }),
            Some("created") if reply.len() >= 4 => {
                let replaced = if reply[2].is_empty() {
                    None
                } else {
                    Some(codec::decode(user, &reply[2], &reply[3])?)
                };
                // Chosen sessions are never evicted (they are not counted),
                // so membership tells the two apart.
                let (ended, evicted) = Self::decode_pairs(user, &reply[4..])?
                    .into_iter()
                    .partition(|r| req.ends.contains(&r.id));
                Ok(CreateOutcome::Created {
                    limit: limit_kind(&reply[1])?,
                    evicted,
                    replaced,
                    ended,
                })
            }
            _ => Err(unexpected()),
        }
    }

    async fn get(
        &self,
        user: &UserId,
        id: &SessionId,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let mut conn = self.conn();
        let cmd = redis::cmd("HGET")
            .arg(self.key(user))
            .arg(id.as_str())
            .clone();
        let raw: Option<String> = self.run(cmd.query_async(&mut conn)).await?;
        raw.map(|raw| codec::decode(user, id.as_str(), &raw))
            .transpose()
    }

    async fn touch(&self, req: TouchRequest) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        let mut inv = self.inner.scripts.touch.key(self.key(&req.user));
        let seen = req.seen.as_ref();
        let (last, places) = match seen {
            Some(s) => codec::seen_lines(Some(&s.last), &s.places)?,
            None => (String::new(), String::new()),
        };
        // An empty list is still a list to write ("[]"), unlike "not given".
        let places = match seen {
            Some(s) if s.places.is_empty() => "[]".to_owned(),
            _ => places,
        };
        inv.arg(req.id.as_str())
            .arg(millis(req.at))
            .arg(millis(req.idle_cutoff))
            .arg(
                seen.map(|s| millis(s.read_last_seen_at))
                    .unwrap_or_default(),
            )
            .arg(last)
            .arg(places);
        let written: i64 = self.run(inv.invoke_async(&mut conn)).await?;
        Ok(written == 1)
    }

    async fn rotate_refresh(&self, req: RotateRequest) -> Result<RotateOutcome, StoreError> {
        self.rotate(req, String::new()).await
    }

    async fn rotate_refresh_binding(
        &self,
        req: RotateRequest,
        meta: SessionMeta,
    ) -> Result<RotateOutcome, StoreError> {
        let line = format!("\n{}", codec::meta_json(&meta)?);
        self.rotate(req, line).await
    }

    async fn revoke(
        &self,
        user: &UserId,
        id: &SessionId,
        reason: RevokeReason,
        at: Timestamp,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let mut inv = self.on_user(&self.inner.scripts.revoke, user);
        inv.arg(id.as_str())
            .arg(reason.as_str())
            .arg(millis(at))
            .arg(user.as_str())
            .arg(&self.inner.channel);
        let raw: Option<String> = self.revoking(user, inv, Option::is_some).await?;
        raw.map(|raw| codec::decode(user, id.as_str(), &raw))
            .transpose()
    }

    async fn revoke_all(
        &self,
        user: &UserId,
        except: Option<&SessionId>,
        reason: RevokeReason,
        at: Timestamp,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        let raises_mark = reason.raises_not_before();
        let mut inv = self.on_user(&self.inner.scripts.revoke_all, user);
        inv.arg(except.map(SessionId::as_str).unwrap_or(""))
            .arg(reason.as_str())
            .arg(millis(at))
            .arg(user.as_str())
            .arg(&self.inner.channel)
            .arg(if raises_mark { "1" } else { "0" });
        let reply: Vec<String> = self
            .revoking(user, inv, |reply: &Vec<String>| {
                raises_mark || !reply.is_empty()
            })
            .await?;
        Self::decode_pairs(user, &reply)
    }

    async fn not_before(&self, user: &UserId) -> Result<Option<Timestamp>, StoreError> {
        let [_, _, _, mark_key] = keys::session_keys(&self.inner.prefix, user);
        let mut conn = self.conn();
        let cmd = redis::cmd("GET").arg(mark_key).clone();
        let mark: Option<String> = self.run(cmd.query_async(&mut conn)).await?;
        mark.as_deref().map(parse_millis).transpose()
    }

    async fn list(&self, user: &UserId) -> Result<Vec<SessionRecord>, StoreError> {
        let mut conn = self.conn();
        let cmd = redis::cmd("HGETALL").arg(self.key(user)).clone();
        let flat: Vec<String> = self.run(cmd.query_async(&mut conn)).await?;
        Self::decode_pairs(user, &flat)
    }

    async fn erase_user(&self, user: &UserId) -> Result<u64, StoreError> {
        let mut conn = self.conn();
        let mut inv = self.on_user(&self.inner.scripts.erase, user);
        inv.key(keys::owner_key(&self.inner.prefix, user));
        let erased: Vec<String> = self.run(inv.invoke_async(&mut conn)).await?;
        self.forget_in_directory(user, &erased).await?;
        Ok((erased.len() / 2) as u64)
    }

    async fn purge_expired(&self, before: Timestamp) -> Result<u64, StoreError> {
        let mut purged = 0u64;
        for key in self.scan_keys().await? {
            let Some(keys) = keys::session_keys_of(&key) else {
                continue;
            };
            let mut conn = self.conn();
            let mut inv = Self::on_session_keys(&self.inner.scripts.purge, keys);
            if self.standalone() {
                // The owner key names the user, whose index entries go too.
                let owner = crate::keys::owner_key_of(&key).ok_or_else(unexpected)?;
                inv.key(owner)
                    .key(crate::keys::directory_key(&self.inner.prefix));
            }
            inv.arg(millis(before));
            let n: u64 = self.run(inv.invoke_async(&mut conn)).await?;
            purged += n;
        }
        self.prune_directory_index().await?;
        Ok(purged)
    }

    fn revocation_feed(&self) -> Option<Arc<dyn RevocationFeed>> {
        Some(self.inner.feed.clone())
    }

    fn counts_tenants(&self) -> bool {
        self.standalone()
    }

    fn directory(&self) -> Option<Arc<dyn sessionward_core::directory::SessionDirectory>> {
        Some(Arc::new(self.clone()))
    }

    fn replay_store(&self) -> Option<Arc<dyn sessionward_core::binding::ReplayStore>> {
        Some(sessionward_core::binding::replay_via(Arc::new(
            self.clone(),
        )))
    }
}

/// Whether a `create` reply revoked sessions (evicted or replaced them) or
/// was refused by the not-before mark: the outcomes that tell the caller a
/// revocation holds.
fn create_revoked(reply: &[String]) -> bool {
    match reply.first().map(String::as_str) {
        Some("not_before") => true,
        Some("created") => reply.get(2).is_some_and(|id| !id.is_empty()) || reply.len() > 4,
        _ => false,
    }
}

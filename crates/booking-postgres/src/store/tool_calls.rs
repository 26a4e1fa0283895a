//! The tool-call log: each tool call's key claimed before it runs and its answer stored after,
//! so that a call delivered twice has one effect and one answer.
//!
//! The claim and the answer of a call that runs alone are one statement each; many at once
//! share statements ([`super::batches`]).

use std::collections::HashMap;

use async_trait::async_trait;
use booking_core::ports::{
    StoreError, StoreResult, TOOL_CALL_ABANDONED_AFTER, ToolCallClaim, ToolCallKey, ToolCallLog,
};
use booking_core::{CallId, TenantId};
use diesel::QueryableByName;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use jiff::Timestamp;
use tokio::sync::oneshot;
use uuid::Uuid;

type Ts = chrono::DateTime<chrono::Utc>;

use super::PgStore;
use crate::convert::ts;
use crate::error::Fail;
use crate::fixed::{Bind, Fixed};
use crate::schema::tool_call_log as tcl;

/// A log row's key.
#[derive(Clone, PartialEq, Eq, Hash, QueryableByName)]
struct Key {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    tenant_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Text)]
    call_id: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    tool_call_id: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    tool: String,
}

impl Key {
    fn of(tenant: TenantId, key: &ToolCallKey) -> Self {
        Self {
            tenant_id: *tenant.as_uuid(),
            call_id: key.call.as_ref().map_or("", CallId::as_str).to_owned(),
            tool_call_id: key.id.as_str().to_owned(),
            tool: key.tool.clone(),
        }
    }
}

/// A claim waiting for its batch: told whether its row was inserted.
pub(super) struct Claim {
    key: Key,
    at: Ts,
    reply: oneshot::Sender<StoreResult<bool>>,
}

/// An answer waiting for its batch: told whether its row, unanswered, took it.
pub(super) struct Answer {
    key: Key,
    result: String,
    at: Ts,
    reply: oneshot::Sender<StoreResult<bool>>,
}

/// The keys of `jobs`, one array per column, as the batch statements take them.
struct KeyColumns<'a> {
    tenants: Vec<Uuid>,
    calls: Vec<&'a str>,
    ids: Vec<&'a str>,
    tools: Vec<&'a str>,
}

impl<'a> KeyColumns<'a> {
    fn of(keys: impl Iterator<Item = &'a Key>) -> Self {
        let mut c = Self {
            tenants: Vec::new(),
            calls: Vec::new(),
            ids: Vec::new(),
            tools: Vec::new(),
        };
        for k in keys {
            c.tenants.push(k.tenant_id);
            c.calls.push(&k.call_id);
            c.ids.push(&k.tool_call_id);
            c.tools.push(&k.tool);
        }
        c
    }
}

/// Inserts one claim's row; whether it was new.
async fn insert_one(conn: &mut AsyncPgConnection, key: &Key, at: Ts) -> Result<bool, Fail> {
    let inserted = Fixed::new(
        concat!(
            no_flush_wait!(),
            " INSERT INTO tool_call_log (tenant_id, call_id, tool_call_id, tool, started_at) \
             SELECT ?, ?, ?, ?, ? FROM no_flush_wait \
             ON CONFLICT (tenant_id, call_id, tool_call_id, tool) DO NOTHING"
        ),
        [
            Bind::Uuid(key.tenant_id),
            Bind::Text(&key.call_id),
            Bind::Text(&key.tool_call_id),
            Bind::Text(&key.tool),
            Bind::Timestamp(at),
        ],
    )
    .execute(conn)
    .await?;
    Ok(inserted == 1)
}

/// Stores one answer in its row if the row has none yet; whether it did.
async fn answer_one(
    conn: &mut AsyncPgConnection,
    key: &Key,
    result: &str,
    at: Ts,
) -> Result<bool, Fail> {
    let updated = Fixed::new(
        concat!(
            no_flush_wait!(),
            " UPDATE tool_call_log SET result = ?, finished_at = ? FROM no_flush_wait \
             WHERE tenant_id = ? AND call_id = ? AND tool_call_id = ? AND tool = ? \
               AND result IS NULL"
        ),
        [
            Bind::Text(result),
            Bind::Timestamp(at),
            Bind::Uuid(key.tenant_id),
            Bind::Text(&key.call_id),
            Bind::Text(&key.tool_call_id),
            Bind::Text(&key.tool),
        ],
    )
    .execute(conn)
    .await?;
    Ok(updated == 1)
}

impl PgStore {
    /// Inserts the claims' rows in one statement; each claim hears whether its row was new (of
    /// two claims of one key in a batch, the first).
    async fn insert_claims(&self, claims: Vec<Claim>) {
        let keys = KeyColumns::of(claims.iter().map(|c| &c.key));
        let at: Vec<_> = claims.iter().map(|c| c.at).collect();
        let inserted: StoreResult<Vec<Key>> = self
            .run(async {
                let mut conn = self.conn().await?;
                // Alone: the plain statement.
                if let [one] = claims.as_slice() {
                    let new = insert_one(&mut conn, &one.key, one.at).await?;
                    return Ok(if new {
                        vec![one.key.clone()]
                    } else {
                        Vec::new()
                    });
                }
                Ok(Fixed::new(
                    concat!(
                        no_flush_wait!(),
                        " INSERT INTO tool_call_log \
                           (tenant_id, call_id, tool_call_id, tool, started_at) \
                         SELECT k.tenant_id, k.call_id, k.tool_call_id, k.tool, k.started_at \
                         FROM unnest(?, ?, ?, ?, ?) \
                              AS k(tenant_id, call_id, tool_call_id, tool, started_at), \
                              no_flush_wait \
                         ON CONFLICT (tenant_id, call_id, tool_call_id, tool) DO NOTHING \
                         RETURNING tenant_id, call_id, tool_call_id, tool"
                    ),
                    [
                        Bind::Uuids(&keys.tenants),
                        Bind::Texts(&keys.calls),
                        Bind::Texts(&keys.ids),
                        Bind::Texts(&keys.tools),
                        Bind::Timestamps(&at),
                    ],
                )
                .load(&mut conn)
                .await?)
            })
            .await;
        tell(claims.into_iter().map(|c| (c.key, c.reply)), inserted);
    }

    /// Stores the answers in one statement; each hears whether its row took it (a row answered
    /// already keeps its first answer).
    async fn update_answers(&self, answers: Vec<Answer>) {
        let keys = KeyColumns::of(answers.iter().map(|a| &a.key));
        let results: Vec<&str> = answers.iter().map(|a| a.result.as_str()).collect();
        let at: Vec<_> = answers.iter().map(|a| a.at).collect();
        let updated: StoreResult<Vec<Key>> = self
            .run(async {
                let mut conn = self.conn().await?;
                // Alone: the plain statement.
                if let [one] = answers.as_slice() {
                    let took = answer_one(&mut conn, &one.key, &one.result, one.at).await?;
                    return Ok(if took {
                        vec![one.key.clone()]
                    } else {
                        Vec::new()
                    });
                }
                Ok(Fixed::new(
                    concat!(
                        no_flush_wait!(),
                        " UPDATE tool_call_log l \
                         SET result = k.result, finished_at = k.finished_at \
                         FROM unnest(?, ?, ?, ?, ?, ?) \
                              AS k(tenant_id, call_id, tool_call_id, tool, result, finished_at), \
                              no_flush_wait \
                         WHERE l.tenant_id = k.tenant_id AND l.call_id = k.call_id \
                           AND l.tool_call_id = k.tool_call_id AND l.tool = k.tool \
                           AND l.result IS NULL \
                         RETURNING l.tenant_id, l.call_id, l.tool_call_id, l.tool"
                    ),
                    [
                        Bind::Uuids(&keys.tenants),
                        Bind::Texts(&keys.calls),
                        Bind::Texts(&keys.ids),
                        Bind::Texts(&keys.tools),
                        Bind::Texts(&results),
                        Bind::Timestamps(&at),
                    ],
                )
                .load(&mut conn)
                .await?)
            })
            .await;
        tell(answers.into_iter().map(|a| (a.key, a.reply)), updated);
    }

    /// Queues a claim of `key` and waits for its batch: whether the row was inserted.
    async fn claim_in_batch(&self, key: Key, now: Timestamp) -> StoreResult<bool> {
        let store = self.clone();
        self.tool_claims()
            .ask(
                |reply| Claim {
                    key,
                    at: ts(now),
                    reply,
                },
                move |claims| {
                    let store = store.clone();
                    async move { store.insert_claims(claims).await }
                },
            )
            .await
    }

    /// Queues an answer for `key` and waits for its batch: whether the unanswered row took it.
    async fn answer_in_batch(&self, key: Key, result: &str, now: Timestamp) -> StoreResult<bool> {
        let store = self.clone();
        self.tool_answers()
            .ask(
                |reply| Answer {
                    key,
                    result: result.to_owned(),
                    at: ts(now),
                    reply,
                },
                move |answers| {
                    let store = store.clone();
                    async move { store.update_answers(answers).await }
                },
            )
            .await
    }
}

/// Tells each job whether the keys a batch's statement returned include its own (of two jobs
/// of one key in a batch, the first), or the statement's error.
fn tell(
    jobs: impl IntoIterator<Item = (Key, oneshot::Sender<StoreResult<bool>>)>,
    outcome: StoreResult<Vec<Key>>,
) {
    match outcome {
        Ok(rows) => {
            let mut left: HashMap<Key, usize> = HashMap::new();
            for k in rows {
                *left.entry(k).or_default() += 1;
            }
            for (key, reply) in jobs {
                let mine = left.get_mut(&key).is_some_and(|n| {
                    let some = *n > 0;
                    *n = n.saturating_sub(1);
                    some
                });
                let _ = reply.send(Ok(mine));
            }
        }
        Err(e) => {
            for (_, reply) in jobs {
                let _ = reply.send(Err(e.clone()));
            }
        }
    }
}

#[async_trait]
impl ToolCallLog for PgStore {
    async fn begin_tool_call(
        &self,
        tenant: TenantId,
        key: &ToolCallKey,
        now: Timestamp,
    ) -> StoreResult<ToolCallClaim> {
        let t = *tenant.as_uuid();
        let call = key.call.as_ref().map_or("", CallId::as_str);
        let (id, tool) = (key.id.as_str(), key.tool.as_str());
        let claim = Key::of(tenant, key);
        if self.claim_in_batch(claim.clone(), now).await? {
            return Ok(ToolCallClaim::New);
        }
        self.run(async {
            let mut conn = self.conn().await?;
            // A row abandoned between the insert and the read is free again: try once more.
            for attempt in 0..2 {
                if attempt > 0 && insert_one(&mut conn, &claim, ts(now)).await? {
                    return Ok(ToolCallClaim::New);
                }
                // A claim its request never finished nor abandoned (the process died) is
                // taken over once it is old enough.
                let taken_over = Fixed::new(
                    concat!(
                        no_flush_wait!(),
                        " UPDATE tool_call_log SET started_at = ? FROM no_flush_wait \
                         WHERE tenant_id = ? AND call_id = ? AND tool_call_id = ? AND tool = ? \
                           AND result IS NULL AND started_at <= ?"
                    ),
                    [
                        Bind::Timestamp(ts(now)),
                        Bind::Uuid(t),
                        Bind::Text(call),
                        Bind::Text(id),
                        Bind::Text(tool),
                        Bind::Timestamp(ts(now - TOOL_CALL_ABANDONED_AFTER)),
                    ],
                )
                .execute(&mut conn)
                .await?;
                if taken_over == 1 {
                    return Ok(ToolCallClaim::New);
                }
                let result: Option<Option<String>> = tcl::table
                    .find((t, call, id, tool))
                    .select(tcl::result)
                    .first(&mut conn)
                    .await
                    .optional()?;
                match result {
                    Some(Some(r)) => return Ok(ToolCallClaim::Done(r)),
                    Some(None) => return Ok(ToolCallClaim::InProgress),
                    None => continue,
                }
            }
            Ok(ToolCallClaim::InProgress)
        })
        .await
    }

    async fn finish_tool_call(
        &self,
        tenant: TenantId,
        key: &ToolCallKey,
        result: &str,
        now: Timestamp,
    ) -> StoreResult<()> {
        let t = *tenant.as_uuid();
        let call = key.call.as_ref().map_or("", CallId::as_str);
        let (id, tool) = (key.id.as_str(), key.tool.as_str());
        if self
            .answer_in_batch(Key::of(tenant, key), result, now)
            .await?
        {
            return Ok(());
        }
        self.run(async {
            let mut conn = self.conn().await?;
            // Already finished: the first answer stays.
            let exists: Option<String> = tcl::table
                .find((t, call, id, tool))
                .select(tcl::tool_call_id)
                .first(&mut conn)
                .await
                .optional()?;
            exists.map(drop).ok_or(Fail::Store(StoreError::NotFound))
        })
        .await
    }

    async fn abandon_tool_call(&self, tenant: TenantId, key: &ToolCallKey) -> StoreResult<()> {
        let call = key.call.as_ref().map_or("", CallId::as_str);
        self.run(async {
            let mut conn = self.conn().await?;
            Fixed::new(
                concat!(
                    no_flush_wait!(),
                    " DELETE FROM tool_call_log USING no_flush_wait \
                     WHERE tenant_id = ? AND call_id = ? AND tool_call_id = ? AND tool = ? \
                       AND result IS NULL"
                ),
                [
                    Bind::Uuid(*tenant.as_uuid()),
                    Bind::Text(call),
                    Bind::Text(key.id.as_str()),
                    Bind::Text(key.tool.as_str()),
                ],
            )
            .execute(&mut conn)
            .await?;
            Ok(())
        })
        .await
    }
}

//! The replay log of tool calls.

use jiff::SignedDuration;

use crate::ids::{CallId, ToolCallId};
use crate::ports::{Store, TOOL_CALL_ABANDONED_AFTER, ToolCallClaim, ToolCallKey};
use crate::testing::{base_time, create_tenant};

/// The replay-log key of tool call `id` naming `tool` in the suite's one call.
pub(super) fn log_key(id: &ToolCallId, tool: &str) -> ToolCallKey {
    ToolCallKey {
        call: Some(CallId::parse("suite-call").expect("call id")),
        id: id.clone(),
        tool: tool.to_owned(),
    }
}

/// Another call reusing a toolCallId, or the same id naming another tool, is another tool call:
/// it runs, and never gets the first one's answer.
pub async fn tool_call_log_keys_by_call_and_tool<S: Store + ?Sized>(store: &S) {
    const NAME: &str = "tool_call_log_keys_by_call_and_tool";
    let t = create_tenant(store, "Replay Clinic").await;
    let now = base_time();
    let id = ToolCallId::parse(&format!("tc-{}", uuid::Uuid::new_v4())).expect("id");
    let first = log_key(&id, "verify_otp");
    check!(
        NAME,
        store
            .begin_tool_call(t.id, &first, now)
            .await
            .expect("begin")
            == ToolCallClaim::New,
        "first begin"
    );
    store
        .finish_tool_call(t.id, &first, "first answer", now)
        .await
        .expect("finish");
    let other_call = ToolCallKey {
        call: Some(CallId::parse("another-call").expect("call id")),
        ..first.clone()
    };
    let other_tool = ToolCallKey {
        tool: "send_otp".into(),
        ..first.clone()
    };
    let no_call = ToolCallKey {
        call: None,
        ..first.clone()
    };
    for (what, key) in [
        ("another call", &other_call),
        ("another tool", &other_tool),
        ("no call", &no_call),
    ] {
        let claim = store.begin_tool_call(t.id, key, now).await.expect("begin");
        check!(
            NAME,
            claim == ToolCallClaim::New,
            "the same toolCallId from {what} got {claim:?}"
        );
        store
            .finish_tool_call(t.id, key, what, now)
            .await
            .expect("finish");
    }
    for (answer, key) in [
        ("first answer", &first),
        ("another call", &other_call),
        ("another tool", &other_tool),
        ("no call", &no_call),
    ] {
        let replay = store.begin_tool_call(t.id, key, now).await.expect("begin");
        check!(
            NAME,
            replay == ToolCallClaim::Done(answer.into()),
            "a replay of {key:?} got {replay:?}"
        );
    }
}

pub async fn tool_call_log<S: Store + ?Sized>(store: &S) {
    let t = create_tenant(store, "Tool Clinic").await;
    let now = base_time();
    let id = ToolCallId::parse(&format!("tc-{}", uuid::Uuid::new_v4())).expect("id");
    let first = store
        .begin_tool_call(t.id, &log_key(&id, "reserve_slot"), now)
        .await
        .expect("begin");
    check!(
        "tool_call_log",
        first == ToolCallClaim::New,
        "first begin: {first:?}"
    );
    let during = store
        .begin_tool_call(t.id, &log_key(&id, "reserve_slot"), now)
        .await
        .expect("begin");
    check!(
        "tool_call_log",
        during == ToolCallClaim::InProgress,
        "begin while running: {during:?}"
    );
    // A claim whose request died (never finished nor abandoned) is taken over once it is old
    // enough, and only then.
    let almost = now + TOOL_CALL_ABANDONED_AFTER - SignedDuration::from_secs(1);
    let not_yet = store
        .begin_tool_call(t.id, &log_key(&id, "reserve_slot"), almost)
        .await
        .expect("begin");
    check!(
        "tool_call_log",
        not_yet == ToolCallClaim::InProgress,
        "a claim younger than the takeover age was taken over: {not_yet:?}"
    );
    let later = now + TOOL_CALL_ABANDONED_AFTER;
    let taken = store
        .begin_tool_call(t.id, &log_key(&id, "reserve_slot"), later)
        .await
        .expect("begin");
    check!(
        "tool_call_log",
        taken == ToolCallClaim::New,
        "a claim left by a dead request blocks its id for ever: {taken:?}"
    );
    let again = store
        .begin_tool_call(
            t.id,
            &log_key(&id, "reserve_slot"),
            later + SignedDuration::from_secs(1),
        )
        .await
        .expect("begin");
    check!(
        "tool_call_log",
        again == ToolCallClaim::InProgress,
        "the taken-over claim is not held: {again:?}"
    );
    store
        .abandon_tool_call(t.id, &log_key(&id, "reserve_slot"))
        .await
        .expect("abandon");
    let retry = store
        .begin_tool_call(t.id, &log_key(&id, "reserve_slot"), now)
        .await
        .expect("begin");
    check!(
        "tool_call_log",
        retry == ToolCallClaim::New,
        "begin after abandon: {retry:?}"
    );
    store
        .finish_tool_call(t.id, &log_key(&id, "reserve_slot"), r#"{"ok":true}"#, now)
        .await
        .expect("finish");
    let replay = store
        .begin_tool_call(t.id, &log_key(&id, "reserve_slot"), now)
        .await
        .expect("begin");
    check!(
        "tool_call_log",
        replay == ToolCallClaim::Done(r#"{"ok":true}"#.into()),
        "a replay: {replay:?}"
    );
    store
        .abandon_tool_call(t.id, &log_key(&id, "reserve_slot"))
        .await
        .expect("abandon after finish");
    let still = store
        .begin_tool_call(t.id, &log_key(&id, "reserve_slot"), now)
        .await
        .expect("begin");
    check!(
        "tool_call_log",
        matches!(still, ToolCallClaim::Done(_)),
        "abandon forgot a finished call: {still:?}"
    );
}

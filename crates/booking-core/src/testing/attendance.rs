//! Attended and no-show marks.

use jiff::SignedDuration;

use crate::attendance::{Attendance, MarkRefusal};
use crate::otp::ChangeProof;
use crate::ports::{Store, StoreError};
use crate::testing::{
    base_time, booking_id, confirmed, create_tenant, futures_join_all, random_phone, span,
};

/// A mark needs a confirmed appointment whose time has started; it can be changed and cleared;
/// no-shows are counted by the number that booked; another tenant's id is not found and changes
/// nothing.
pub async fn attendance_marks<S: Store + ?Sized>(store: &S) {
    const NAME: &str = "attendance_marks";
    let t = create_tenant(store, "Attendance Clinic").await;
    let other = create_tenant(store, "Other Attendance Clinic").await;
    let now = base_time();
    let p = random_phone();
    let first = confirmed(store, &t, span(0, 30), &p, now).await;
    let second = confirmed(store, &t, span(60, 30), &p, now).await;
    let later = confirmed(store, &t, span(24 * 60, 30), &p, now).await;
    let started = span(60, 30).start + SignedDuration::from_mins(1);

    let before = store
        .mark_attendance(t.id, first, Some(Attendance::NoShow), now)
        .await
        .expect("mark");
    check!(
        NAME,
        matches!(before, Err(MarkRefusal::NotStarted { .. })),
        "marked before its time: {before:?}"
    );
    check!(
        NAME,
        store
            .attendance_of(t.id, &[first])
            .await
            .expect("read")
            .is_empty(),
        "a refused mark was kept"
    );
    for (id, mark) in [
        (first, Attendance::NoShow),
        (second, Attendance::Attended),
        (second, Attendance::NoShow),
    ] {
        let r = store
            .mark_attendance(t.id, id, Some(mark), started)
            .await
            .expect("mark");
        check!(NAME, r.is_ok(), "mark {mark:?} refused: {r:?}");
    }
    let later_mark = store
        .mark_attendance(t.id, later, Some(Attendance::NoShow), started)
        .await
        .expect("mark");
    check!(
        NAME,
        later_mark.is_err(),
        "a future appointment was marked: {later_mark:?}"
    );
    let mut marks = store
        .attendance_of(t.id, &[first, second, later, booking_id()])
        .await
        .expect("read");
    marks.sort_by_key(|(id, _)| *id.as_uuid());
    let mut want = vec![(first, Attendance::NoShow), (second, Attendance::NoShow)];
    want.sort_by_key(|(id, _)| *id.as_uuid());
    check!(NAME, marks == want, "marks {marks:?}");
    let counts = store
        .no_show_counts(t.id, &[p.clone(), random_phone(), p.clone()])
        .await
        .expect("counts");
    check!(NAME, counts == [(p.clone(), 2)], "counts {counts:?}");

    // Another clinic: its ids find nothing here, ours nothing there.
    let theirs = store.mark_attendance(other.id, first, None, started).await;
    check!(
        NAME,
        theirs == Err(StoreError::NotFound),
        "another tenant's mark: {theirs:?}"
    );
    check!(
        NAME,
        store
            .attendance_of(other.id, &[first, second])
            .await
            .expect("read")
            .is_empty(),
        "marks visible to another tenant"
    );
    check!(
        NAME,
        store
            .no_show_counts(other.id, std::slice::from_ref(&p))
            .await
            .expect("counts")
            .is_empty(),
        "no-shows counted for another tenant"
    );

    // Cleared: back to nothing.
    let cleared = store
        .mark_attendance(t.id, second, None, started)
        .await
        .expect("clear");
    check!(NAME, cleared.is_ok(), "clear refused: {cleared:?}");
    let counts = store
        .no_show_counts(t.id, std::slice::from_ref(&p))
        .await
        .expect("counts");
    check!(
        NAME,
        counts == [(p.clone(), 1)],
        "after clearing: {counts:?}"
    );

    // A cancelled appointment is not marked.
    store
        .cancel_booking(t.id, later, ChangeProof::Owner, now, &[], &[])
        .await
        .expect("cancel");
    let r = store
        .mark_attendance(t.id, later, Some(Attendance::NoShow), span(24 * 60, 30).end)
        .await
        .expect("mark");
    check!(
        NAME,
        r == Err(MarkRefusal::NotAnAppointment {
            status: "cancelled"
        }),
        "a cancelled appointment marked: {r:?}"
    );
}

/// Twenty concurrent marks of one appointment all land and leave one mark.
pub async fn concurrent_attendance_marks<S: Store + ?Sized>(store: &S) {
    const NAME: &str = "concurrent_attendance_marks";
    let t = create_tenant(store, "Busy Attendance Clinic").await;
    let now = base_time();
    let p = random_phone();
    let id = confirmed(store, &t, span(0, 30), &p, now).await;
    let at = span(0, 30).end;
    let results = futures_join_all((0..20).map(|i| {
        let mark = (i % 2 == 0).then_some(Attendance::NoShow);
        store.mark_attendance(t.id, id, mark, at)
    }))
    .await;
    check!(
        NAME,
        results.iter().all(|r| matches!(r, Ok(Ok(())))),
        "{results:?}"
    );
    let marks = store.attendance_of(t.id, &[id]).await.expect("read");
    check!(NAME, marks.len() <= 1, "{marks:?}");
    let counts = store
        .no_show_counts(t.id, std::slice::from_ref(&p))
        .await
        .expect("counts");
    check!(
        NAME,
        counts.len() <= 1 && counts.iter().all(|(_, n)| *n == 1),
        "{counts:?}"
    );
}

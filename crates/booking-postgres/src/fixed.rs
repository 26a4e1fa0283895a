//! Statements of fixed text that the query builder cannot express, prepared once per
//! connection.
//!
//! `diesel::sql_query` marks its statement unsafe to cache, so every run costs a round trip to
//! prepare it before the one that executes it. A [`Fixed`] statement is cached by its text like
//! any built query: after the first run on a connection it is one round trip.

use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::result::Error;
use diesel::sql_types;

/// One bound value.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Bind<'a> {
    Uuid(uuid::Uuid),
    Text(&'a str),
    Bytes(&'a [u8]),
    OptionalBytes(Option<&'a [u8]>),
    Timestamp(chrono::DateTime<chrono::Utc>),
    Int(i32),
    Bool(bool),
    OptionalText(Option<&'a str>),
    OptionalInt(Option<i32>),
    OptionalTimestamp(Option<chrono::DateTime<chrono::Utc>>),
    Timestamps(&'a [chrono::DateTime<chrono::Utc>]),
    Ints(&'a [i32]),
    Uuids(&'a [uuid::Uuid]),
    OptionalUuids(&'a [Option<uuid::Uuid>]),
    Texts(&'a [&'a str]),
    OptionalTexts(&'a [Option<&'a str>]),
}

/// A statement whose text has a `?` where each bind goes, in order. The text must not contain
/// `?` otherwise.
#[derive(Debug, Clone)]
pub(crate) struct Fixed<'a> {
    sql: &'static str,
    binds: Vec<Bind<'a>>,
}

impl<'a> Fixed<'a> {
    pub(crate) fn new(sql: &'static str, binds: impl IntoIterator<Item = Bind<'a>>) -> Self {
        Self {
            sql,
            binds: binds.into_iter().collect(),
        }
    }
}

impl QueryId for Fixed<'_> {
    type QueryId = ();
    // Cached by its text and bind types instead.
    const HAS_STATIC_QUERY_ID: bool = false;
}

/// Rows are read by column name (`QueryableByName`), as from `sql_query`.
impl Query for Fixed<'_> {
    type SqlType = sql_types::Untyped;
}

impl QueryFragment<Pg> for Fixed<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> diesel::QueryResult<()> {
        let mut binds = self.binds.iter();
        for (i, piece) in self.sql.split('?').enumerate() {
            if i > 0 {
                match binds.next() {
                    Some(Bind::Uuid(v)) => out.push_bind_param::<sql_types::Uuid, _>(v)?,
                    Some(Bind::Text(v)) => out.push_bind_param::<sql_types::Text, _>(v)?,
                    Some(Bind::Bytes(v)) => out.push_bind_param::<sql_types::Binary, _>(v)?,
                    Some(Bind::OptionalBytes(v)) => {
                        out.push_bind_param::<sql_types::Nullable<sql_types::Binary>, _>(v)?
                    }
                    Some(Bind::Timestamp(v)) => {
                        out.push_bind_param::<sql_types::Timestamptz, _>(v)?
                    }
                    Some(Bind::Int(v)) => out.push_bind_param::<sql_types::Int4, _>(v)?,
                    Some(Bind::Bool(v)) => out.push_bind_param::<sql_types::Bool, _>(v)?,
                    Some(Bind::OptionalText(v)) => {
                        out.push_bind_param::<sql_types::Nullable<sql_types::Text>, _>(v)?
                    }
                    Some(Bind::OptionalInt(v)) => {
                        out.push_bind_param::<sql_types::Nullable<sql_types::Int4>, _>(v)?
                    }
                    Some(Bind::OptionalTimestamp(v)) => {
                        out.push_bind_param::<sql_types::Nullable<sql_types::Timestamptz>, _>(v)?
                    }
                    Some(Bind::Timestamps(v)) => {
                        out.push_bind_param::<sql_types::Array<sql_types::Timestamptz>, _>(v)?
                    }
                    Some(Bind::Ints(v)) => {
                        out.push_bind_param::<sql_types::Array<sql_types::Int4>, _>(v)?
                    }
                    Some(Bind::Uuids(v)) => {
                        out.push_bind_param::<sql_types::Array<sql_types::Uuid>, _>(v)?
                    }
                    Some(Bind::OptionalUuids(v)) => out.push_bind_param::<sql_types::Array<
                        sql_types::Nullable<sql_types::Uuid>,
                    >, _>(v)?,
                    Some(Bind::Texts(v)) => {
                        out.push_bind_param::<sql_types::Array<sql_types::Text>, _>(v)?
                    }
                    Some(Bind::OptionalTexts(v)) => out.push_bind_param::<sql_types::Array<
                        sql_types::Nullable<sql_types::Text>,
                    >, _>(v)?,
                    None => return Err(Error::QueryBuilderError("a `?` without a bind".into())),
                }
            }
            out.push_sql(piece);
        }
        if binds.next().is_some() {
            return Err(Error::QueryBuilderError("a bind without a `?`".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sql(q: &Fixed<'_>) -> String {
        diesel::debug_query::<Pg, _>(q).to_string()
    }

    #[test]
    fn each_question_mark_becomes_the_next_parameter() {
        let q = Fixed::new(
            "SELECT ? WHERE x = ? AND y = ?",
            [Bind::Int(1), Bind::Text("a"), Bind::Int(2)],
        );
        assert!(
            sql(&q).starts_with("SELECT $1 WHERE x = $2 AND y = $3"),
            "{}",
            sql(&q)
        );
    }

    #[test]
    fn binds_and_placeholders_must_match() {
        for q in [
            Fixed::new("SELECT ?, ?", [Bind::Int(1)]),
            Fixed::new("SELECT ?", [Bind::Int(1), Bind::Int(2)]),
        ] {
            let mut qb = diesel::pg::PgQueryBuilder::default();
            assert!(q.to_sql(&mut qb, &Pg).is_err(), "{q:?}");
        }
    }
}

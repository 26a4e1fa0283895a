//! Just enough of PostgreSQL's frontend/backend protocol (v3, simple query, trust authentication)
//! to administer a local cluster without a client library: create and drop databases, ask
//! whether one exists, check that the server answers.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::Error;

/// One row of a result: each column as text, `None` for NULL.
pub type Row = Vec<Option<String>>;

pub(crate) struct Connection {
    stream: TcpStream,
}

impl Connection {
    pub(crate) fn connect(
        addr: SocketAddr,
        user: &str,
        database: &str,
        timeout: Duration,
    ) -> Result<Self, Error> {
        let stream = TcpStream::connect_timeout(&addr, timeout)
            .map_err(|e| Error::io(format!("could not connect to PostgreSQL at {addr}"), e))?;
        stream
            .set_read_timeout(Some(Duration::from_secs(120)))
            .and_then(|()| stream.set_write_timeout(Some(Duration::from_secs(30))))
            .and_then(|()| stream.set_nodelay(true))
            .map_err(|e| Error::io("could not configure the socket", e))?;
        let mut conn = Self { stream };

        let mut body = Vec::new();
        body.extend_from_slice(&196_608_i32.to_be_bytes()); // protocol 3.0
        for (k, v) in [
            ("user", user),
            ("database", database),
            ("client_encoding", "UTF8"),
        ] {
            body.extend_from_slice(k.as_bytes());
            body.push(0);
            body.extend_from_slice(v.as_bytes());
            body.push(0);
        }
        body.push(0);
        let mut msg = Vec::with_capacity(body.len() + 4);
        msg.extend_from_slice(&(body.len() as i32 + 4).to_be_bytes());
        msg.extend_from_slice(&body);
        conn.write_all(&msg)?;

        let mut failure = None;
        loop {
            let (tag, payload) = conn.read_message()?;
            match tag {
                b'R' => {
                    let code = payload
                        .get(..4)
                        .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]));
                    if code != Some(0) {
                        return Err(Error::new(format!(
                            "the server at {addr} asks for a password (authentication method {code:?}); \
                             local-postgres only speaks to trust-authenticated clusters"
                        )));
                    }
                }
                b'E' => failure = Some(server_error(&payload)),
                b'Z' => break,
                _ => {} // ParameterStatus, BackendKeyData, NoticeResponse
            }
            if let Some(e) = failure.take() {
                return Err(e);
            }
        }
        Ok(conn)
    }

    /// Runs one or more statements with the simple query protocol; returns the rows of every
    /// statement, concatenated. The first server error is returned after the server is ready again.
    pub(crate) fn simple_query(&mut self, sql: &str) -> Result<Vec<Row>, Error> {
        if sql.as_bytes().contains(&0) {
            return Err(Error::new("a query must not contain NUL bytes"));
        }
        let mut msg = Vec::with_capacity(sql.len() + 6);
        msg.push(b'Q');
        msg.extend_from_slice(&(sql.len() as i32 + 5).to_be_bytes());
        msg.extend_from_slice(sql.as_bytes());
        msg.push(0);
        self.write_all(&msg)?;

        let mut rows = Vec::new();
        let mut failure = None;
        loop {
            let (tag, payload) = self.read_message()?;
            match tag {
                b'D' => rows.push(parse_data_row(&payload)?),
                b'E' if failure.is_none() => failure = Some(server_error(&payload)),
                b'Z' => break,
                _ => {} // RowDescription, CommandComplete, EmptyQueryResponse, NoticeResponse
            }
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(rows),
        }
    }

    fn write_all(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.stream
            .write_all(bytes)
            .map_err(|e| Error::io("could not write to the PostgreSQL connection", e))
    }

    fn read_message(&mut self) -> Result<(u8, Vec<u8>), Error> {
        let mut head = [0u8; 5];
        self.stream
            .read_exact(&mut head)
            .map_err(|e| Error::io("could not read from the PostgreSQL connection", e))?;
        let len = i32::from_be_bytes([head[1], head[2], head[3], head[4]]);
        if !(4..=64 * 1024 * 1024).contains(&len) {
            return Err(Error::new(format!(
                "malformed message from the server (length {len})"
            )));
        }
        let mut payload = vec![0u8; len as usize - 4];
        self.stream
            .read_exact(&mut payload)
            .map_err(|e| Error::io("could not read from the PostgreSQL connection", e))?;
        Ok((head[0], payload))
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        // Terminate; the server closes the connection either way.
        let _ = self.stream.write_all(&[b'X', 0, 0, 0, 4]);
    }
}

fn parse_data_row(p: &[u8]) -> Result<Row, Error> {
    let bad = || Error::new("malformed data row from the server");
    let n = i16::from_be_bytes(p.get(..2).ok_or_else(bad)?.try_into().map_err(|_| bad())?);
    let mut at = 2usize;
    let mut row = Vec::with_capacity(n.max(0) as usize);
    for _ in 0..n {
        let len = i32::from_be_bytes(
            p.get(at..at + 4)
                .ok_or_else(bad)?
                .try_into()
                .map_err(|_| bad())?,
        );
        at += 4;
        if len < 0 {
            row.push(None);
        } else {
            let end = at + len as usize;
            let v = p.get(at..end).ok_or_else(bad)?;
            row.push(Some(String::from_utf8_lossy(v).into_owned()));
            at = end;
        }
    }
    Ok(row)
}

fn server_error(p: &[u8]) -> Error {
    let mut severity = "";
    let mut code = String::new();
    let mut message = String::new();
    for field in p.split(|b| *b == 0) {
        let Some((&kind, value)) = field.split_first() else {
            continue;
        };
        let value = String::from_utf8_lossy(value);
        match kind {
            b'S' if severity.is_empty() => {
                severity = if value == "FATAL" { "FATAL" } else { "ERROR" }
            }
            b'C' => code = value.into_owned(),
            b'M' => message = value.into_owned(),
            _ => {}
        }
    }
    Error::server(
        code,
        format!(
            "{} {message}",
            if severity.is_empty() {
                "ERROR"
            } else {
                severity
            }
        ),
    )
}

/// `name` as a quoted SQL identifier.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `value` as a quoted SQL string literal (standard_conforming_strings is on by default).
pub fn quote_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_doubles_the_quote_character() {
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_literal("it's"), "'it''s'");
    }

    #[test]
    fn data_rows_parse_nulls_and_values() {
        let mut p = Vec::new();
        p.extend_from_slice(&2i16.to_be_bytes());
        p.extend_from_slice(&(-1i32).to_be_bytes());
        p.extend_from_slice(&3i32.to_be_bytes());
        p.extend_from_slice(b"abc");
        assert_eq!(
            parse_data_row(&p).unwrap(),
            vec![None, Some("abc".to_owned())]
        );
        assert!(parse_data_row(&p[..5]).is_err());
    }

    #[test]
    fn server_errors_keep_the_sqlstate() {
        let p = b"SERROR\0C42P04\0Mdatabase \"x\" already exists\0\0";
        let e = server_error(p);
        assert_eq!(e.sqlstate(), Some("42P04"));
        assert!(e.to_string().contains("already exists"), "{e}");
    }
}

//! `--statements`: the statements that took the most time, from `pg_stat_statements`.

use serde_json::{Value, json};

use crate::harness::Harness;

impl Harness {
    /// Starts counting statements afresh (with `--statements`; otherwise does nothing).
    pub fn statements_reset(&self) -> anyhow::Result<()> {
        if self.statements {
            self.sql("SELECT pg_stat_statements_reset()")?;
        }
        Ok(())
    }

    /// The statements that took the most time since the last reset, the bench's own left out
    /// (with `--statements`; otherwise null).
    pub fn statements_top(&self, n: usize) -> anyhow::Result<Value> {
        if !self.statements {
            return Ok(Value::Null);
        }
        let rows = self.sql(&format!(
            "SELECT calls, round(total_exec_time::numeric, 1), round(mean_exec_time::numeric, 3), \
               round(max_exec_time::numeric, 2), shared_blks_hit + shared_blks_read, \
               round(total_plan_time::numeric, 1), left(regexp_replace(query, '\\s+', ' ', 'g'), 160) \
             FROM pg_stat_statements s \
             WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) \
               AND query NOT LIKE '%pg_stat_statements%' AND query NOT LIKE 'VACUUM%' \
               AND query NOT LIKE 'CHECKPOINT%' AND query NOT LIKE '%growth_new%' \
               AND query NOT LIKE 'SELECT count(*) FROM%' \
             ORDER BY total_exec_time + total_plan_time DESC LIMIT {n}"
        ))?;
        let cell =
            |r: &Vec<Option<String>>, i: usize| r.get(i).cloned().flatten().unwrap_or_default();
        let num = |r: &Vec<Option<String>>, i: usize| cell(r, i).parse::<f64>().unwrap_or(0.0);
        Ok(Value::Array(
            rows.iter()
                .map(|r| {
                    json!({
                        "calls": num(r, 0),
                        "total_ms": num(r, 1),
                        "mean_ms": num(r, 2),
                        "max_ms": num(r, 3),
                        "blocks": num(r, 4),
                        "plan_ms": num(r, 5),
                        "query": cell(r, 6),
                    })
                })
                .collect(),
        ))
    }
}

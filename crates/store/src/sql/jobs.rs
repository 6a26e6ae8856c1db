//! Durable jobs: enqueue with a write or alone, claim under a lease, finish, retry.

use super::*;

impl SqlStore {
    pub(super) async fn insert_job(conn: &mut Conn, j: &NewJob, now: Timestamp) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar(
            "INSERT INTO jobs (kind, unique_key, payload, state, run_at, attempts, max_attempts, created_at, updated_at) \
             VALUES ($1, $2, $3, 'pending', $4, 0, $5, $6, $6) ON CONFLICT (unique_key) DO NOTHING RETURNING id",
        )
        .bind(&j.kind)
        .bind(j.unique_key.as_deref())
        .bind(to_json(&j.payload)?)
        .bind(ts(j.run_at))
        .bind(j.max_attempts.max(1))
        .bind(ts(now))
        .fetch_optional(&mut *conn)
        .await?)
    }

    /// Deletes a finished job; false when its lease was lost.
    pub(super) async fn finish_job(conn: &mut Conn, lease: &JobLease) -> Result<bool> {
        let done = sqlx::query("DELETE FROM jobs WHERE id = $1 AND locked_by = $2")
            .bind(lease.id)
            .bind(&lease.token)
            .execute(&mut *conn)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}

pub(super) type JobTuple =
    (i64, String, Option<String>, String, String, i64, Option<i64>, Option<String>, i64, i64, Option<String>, i64);
pub(super) const JOB_COLS: &str = "id, kind, unique_key, payload, state, run_at, locked_until, locked_by, attempts, max_attempts, last_error, created_at";

pub(super) fn job_row(r: JobTuple) -> Result<Job> {
    let (id, kind, unique_key, payload, state, run_at, locked_until, locked_by, attempts, max_attempts, last_error, at) =
        r;
    Ok(Job {
        id,
        kind,
        unique_key,
        payload: json(&payload)?,
        state: JobState::parse(&state).ok_or_else(|| StoreError::Corrupt(format!("job state {state}")))?,
        run_at: from_ts(run_at)?,
        locked_until: opt_ts(locked_until)?,
        locked_by,
        attempts,
        max_attempts,
        last_error,
        created_at: from_ts(at)?,
    })
}

#[async_trait]
impl JobStore for SqlStore {
    async fn hurry_job(&self, unique_key: &str, at: Timestamp) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE jobs SET run_at = $1 WHERE unique_key = $2 AND state = 'pending' AND run_at > $1 \
             AND (locked_until IS NULL OR locked_until <= $1)",
        )
        .bind(ts(at))
        .bind(unique_key)
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn take_lease(&self, name: &str, holder: &str, until: Timestamp, now: Timestamp) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO leases (name, holder, held_until) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, held_until = excluded.held_until \
             WHERE leases.held_until <= $4 OR leases.holder = excluded.holder",
        )
        .bind(name)
        .bind(holder)
        .bind(ts(until))
        .bind(ts(now))
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<()> {
        sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn enqueue(&self, job: &NewJob, now: Timestamp) -> Result<Option<i64>> {
        let mut conn = self.write.acquire().await?;
        Self::insert_job(&mut conn, job, now).await
    }

    async fn claim(
        &self,
        token: &str,
        now: Timestamp,
        until: Timestamp,
        kinds: &[&str],
        limit: i64,
    ) -> Result<Vec<Job>> {
        let mut qb = QueryBuilder::<Db>::new("UPDATE jobs SET locked_until = ");
        qb.push_bind(ts(until))
            .push(", locked_by = ")
            .push_bind(token.to_owned())
            .push(", attempts = attempts + 1, updated_at = ")
            .push_bind(ts(now))
            .push(" WHERE id IN (SELECT id FROM jobs WHERE state = 'pending' AND run_at <= ")
            .push_bind(ts(now))
            .push(" AND (locked_until IS NULL OR locked_until <= ")
            .push_bind(ts(now))
            .push(")");
        if !kinds.is_empty() {
            qb.push(" AND kind IN ");
            push_list(&mut qb, kinds.iter().map(|k| (*k).to_owned()));
        }
        qb.push(" ORDER BY run_at, id LIMIT ").push_bind(limit).push(SKIP_LOCKED).push(") RETURNING ").push(JOB_COLS);
        let rows: Vec<JobTuple> = qb.build_query_as().fetch_all(&self.write).await?;
        let mut jobs = rows.into_iter().map(job_row).collect::<Result<Vec<_>>>()?;
        jobs.sort_by_key(|j| (j.run_at, j.id));
        Ok(jobs)
    }

    async fn complete(&self, lease: &JobLease) -> Result<bool> {
        let mut conn = self.write.acquire().await?;
        Self::finish_job(&mut conn, lease).await
    }

    async fn retry(&self, lease: &JobLease, run_at: Timestamp, error: &str, now: Timestamp) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE jobs SET state = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'pending' END, run_at = $1, \
             locked_until = NULL, locked_by = NULL, last_error = $2, updated_at = $3 WHERE id = $4 AND locked_by = $5",
        )
        .bind(ts(run_at))
        .bind(error.chars().take(2000).collect::<String>())
        .bind(ts(now))
        .bind(lease.id)
        .bind(&lease.token)
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn reschedule(&self, lease: &JobLease, run_at: Timestamp, now: Timestamp) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE jobs SET run_at = $1, locked_until = NULL, locked_by = NULL, attempts = 0, last_error = NULL, \
             updated_at = $2 WHERE id = $3 AND locked_by = $4",
        )
        .bind(ts(run_at))
        .bind(ts(now))
        .bind(lease.id)
        .bind(&lease.token)
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn list_jobs(&self, kind: Option<&str>) -> Result<Vec<Job>> {
        let mut qb = QueryBuilder::<Db>::new(format!("SELECT {JOB_COLS} FROM jobs WHERE 1 = 1"));
        if let Some(k) = kind {
            qb.push(" AND kind = ").push_bind(k.to_owned());
        }
        qb.push(" ORDER BY id");
        let rows: Vec<JobTuple> = qb.build_query_as().fetch_all(&self.read).await?;
        rows.into_iter().map(job_row).collect()
    }
}

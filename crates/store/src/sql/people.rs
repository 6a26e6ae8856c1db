//! Users with their identities and memberships, organisations and groups.

use super::*;

/// `id, role, organization_id, active` of a user.
pub(super) type BriefRow = (i64, String, Option<i64>, bool);

pub(super) fn brief_from_row((id, role, org, active): BriefRow) -> Result<UserBrief> {
    Ok(UserBrief {
        id: UserId(id),
        role: Role::parse(&role, "role").map_err(corrupt)?,
        organization_id: org.map(OrganizationId),
        active,
    })
}

impl SqlStore {
    pub(super) async fn hydrate_users(&self, rows: Vec<UserRow>) -> Result<Vec<User>> {
        if rows.is_empty() {
            return Ok(vec![]);
        }
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let list = placeholders(1, ids.len());
        let sql_ident =
            format!("SELECT user_id, kind, value FROM user_identities WHERE user_id IN ({list}) ORDER BY id");
        let sql_groups =
            format!("SELECT user_id, group_id FROM group_members WHERE user_id IN ({list}) ORDER BY group_id");
        let mut q1 = sqlx::query_as::<_, (i64, String, String)>(AssertSqlSafe(sql_ident.as_str()));
        let mut q2 = sqlx::query_as::<_, (i64, i64)>(AssertSqlSafe(sql_groups.as_str()));
        for id in &ids {
            q1 = q1.bind(id);
            q2 = q2.bind(id);
        }
        let mut idents: BTreeMap<i64, Vec<Identity>> = BTreeMap::new();
        for (uid, kind, value) in q1.fetch_all(&self.read).await? {
            idents
                .entry(uid)
                .or_default()
                .push(Identity { kind: IdentityKind::parse(&kind, "kind").map_err(corrupt)?, value });
        }
        let mut groups: BTreeMap<i64, Vec<GroupId>> = BTreeMap::new();
        for (uid, gid) in q2.fetch_all(&self.read).await? {
            groups.entry(uid).or_default().push(GroupId(gid));
        }
        rows.into_iter()
            .map(|r| {
                Ok(User {
                    id: UserId(r.id),
                    role: Role::parse(&r.role, "role").map_err(corrupt)?,
                    name: r.name,
                    email: r.email,
                    identities: idents.remove(&r.id).unwrap_or_default(),
                    external_id: r.external_id,
                    organization_id: r.organization_id.map(OrganizationId),
                    language: Language::parse(&r.language, "language").map_err(corrupt)?,
                    time_zone: r.time_zone,
                    vip_level: r.vip_level,
                    group_ids: groups.remove(&r.id).unwrap_or_default(),
                    skills: json(&r.skills)?,
                    languages: json(&r.languages)?,
                    restricted_to_groups: r.restricted_to_groups,
                    availability: Availability::parse(&r.availability, "availability").map_err(corrupt)?,
                    capacity: r.capacity,
                    account_manager_id: r.account_manager_id.map(UserId),
                    custom_fields: json(&r.custom_fields)?,
                    active: r.active,
                    email_verified_at: opt_ts(r.email_verified_at)?,
                    created_at: from_ts(r.created_at)?,
                    updated_at: from_ts(r.updated_at)?,
                })
            })
            .collect()
    }

    pub(super) async fn write_user_children(conn: &mut Conn, u: &User, fresh: bool) -> Result<()> {
        if !fresh {
            sqlx::query("DELETE FROM user_identities WHERE user_id = $1").bind(u.id.0).execute(&mut *conn).await?;
            // Memberships that stay keep their round-robin turn.
            let mut qb = QueryBuilder::<Db>::new("DELETE FROM group_members WHERE user_id = ");
            qb.push_bind(u.id.0);
            if !u.group_ids.is_empty() {
                qb.push(" AND group_id NOT IN ");
                push_list(&mut qb, u.group_ids.iter().map(|g| g.0));
            }
            qb.build().execute(&mut *conn).await?;
        }
        for i in &u.identities {
            sqlx::query("INSERT INTO user_identities (user_id, kind, value) VALUES ($1, $2, $3)")
                .bind(u.id.0)
                .bind(i.kind.as_str())
                .bind(&i.value)
                .execute(&mut *conn)
                .await?;
        }
        for g in &u.group_ids {
            sqlx::query("INSERT INTO group_members (group_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(g.0)
                .bind(u.id.0)
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }
}

#[async_trait]
impl PeopleStore for SqlStore {
    async fn insert_user(
        &self,
        u: &User,
        password_hash: Option<&str>,
        claim: Option<&IdempotencyClaim>,
    ) -> Result<User> {
        let mut tx = self.write.begin_with(BEGIN_WRITE).await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO users (role, name, email, external_id, organization_id, language, time_zone, vip_level, skills, \
             languages, restricted_to_groups, custom_fields, password_hash, active, created_at, updated_at, availability, \
             capacity, account_manager_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19) RETURNING id",
        )
        .bind(u.role.as_str())
        .bind(&u.name)
        .bind(u.email.as_deref())
        .bind(u.external_id.as_deref())
        .bind(u.organization_id.map(|o| o.0))
        .bind(u.language.as_str())
        .bind(&u.time_zone)
        .bind(u.vip_level)
        .bind(to_json(&u.skills)?)
        .bind(to_json(&u.languages)?)
        .bind(u.restricted_to_groups)
        .bind(to_json(&u.custom_fields)?)
        .bind(password_hash)
        .bind(u.active)
        .bind(ts(u.created_at))
        .bind(ts(u.updated_at))
        .bind(u.availability.as_str())
        .bind(u.capacity)
        .bind(u.account_manager_id.map(|a| a.0))
        .fetch_one(&mut *tx)
        .await?;
        let saved = User { id: UserId(id), ..u.clone() };
        Self::write_user_children(&mut tx, &saved, true).await?;
        if let Some(c) = claim {
            Self::insert_claim(&mut tx, c, "user", id, u.created_at).await?;
        }
        tx.commit().await?;
        Ok(saved)
    }

    async fn update_user(&self, u: &User) -> Result<User> {
        let mut tx = self.write.begin_with(BEGIN_WRITE).await?;
        let done = sqlx::query(
            "UPDATE users SET role = $1, name = $2, email = $3, external_id = $4, organization_id = $5, language = $6, \
             time_zone = $7, vip_level = $8, skills = $9, languages = $10, restricted_to_groups = $11, custom_fields = $12, \
             active = $13, updated_at = $14, availability = $15, capacity = $16, account_manager_id = $17 WHERE id = $18",
        )
        .bind(u.role.as_str())
        .bind(&u.name)
        .bind(u.email.as_deref())
        .bind(u.external_id.as_deref())
        .bind(u.organization_id.map(|o| o.0))
        .bind(u.language.as_str())
        .bind(&u.time_zone)
        .bind(u.vip_level)
        .bind(to_json(&u.skills)?)
        .bind(to_json(&u.languages)?)
        .bind(u.restricted_to_groups)
        .bind(to_json(&u.custom_fields)?)
        .bind(u.active)
        .bind(ts(u.updated_at))
        .bind(u.availability.as_str())
        .bind(u.capacity)
        .bind(u.account_manager_id.map(|a| a.0))
        .bind(u.id.0)
        .execute(&mut *tx)
        .await?;
        matched(done)?;
        Self::write_user_children(&mut tx, u, false).await?;
        tx.commit().await?;
        Ok(u.clone())
    }

    async fn get_user(&self, id: UserId) -> Result<Option<User>> {
        let rows: Vec<UserRow> = sqlx::query_as(AssertSqlSafe(format!("SELECT {USER_COLS} FROM users WHERE id = $1")))
            .bind(id.0)
            .fetch_all(&self.read)
            .await?;
        Ok(self.hydrate_users(rows).await?.pop())
    }

    async fn user_brief(&self, id: UserId) -> Result<Option<UserBrief>> {
        let row: Option<BriefRow> = sqlx::query_as("SELECT id, role, organization_id, active FROM users WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&self.read)
            .await?;
        row.map(brief_from_row).transpose()
    }

    async fn user_brief_by_identity(&self, kind: IdentityKind, value: &str) -> Result<Option<UserBrief>> {
        let row: Option<BriefRow> = sqlx::query_as(
            "SELECT u.id, u.role, u.organization_id, u.active FROM user_identities i \
             JOIN users u ON u.id = i.user_id WHERE i.kind = $1 AND i.value = $2",
        )
        .bind(kind.as_str())
        .bind(value)
        .fetch_optional(&self.read)
        .await?;
        row.map(brief_from_row).transpose()
    }

    async fn user_labels(&self, ids: &[UserId]) -> Result<Vec<UserLabel>> {
        if ids.is_empty() {
            return Ok(vec![]);
        }
        let mut qb = QueryBuilder::<Db>::new("SELECT id, name, email, role FROM users WHERE id IN ");
        push_list(&mut qb, ids.iter().map(|i| i.0));
        let rows: Vec<(i64, String, Option<String>, String)> = qb.build_query_as().fetch_all(&self.read).await?;
        rows.into_iter()
            .map(|(id, name, email, role)| {
                Ok(UserLabel { id: UserId(id), name, email, role: Role::parse(&role, "role").map_err(corrupt)? })
            })
            .collect()
    }

    async fn find_user_by_identity(&self, kind: IdentityKind, value: &str) -> Result<Option<User>> {
        let rows: Vec<UserRow> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {USER_COLS} FROM users WHERE id = (SELECT user_id FROM user_identities WHERE kind = $1 AND value = $2)"
        )))
        .bind(kind.as_str())
        .bind(value)
        .fetch_all(&self.read)
        .await?;
        Ok(self.hydrate_users(rows).await?.pop())
    }

    async fn list_users(&self, q: &UserQuery) -> Result<Vec<User>> {
        // User 0 is the system (the author of rule notes), never a person.
        let mut qb = QueryBuilder::<Db>::new(format!("SELECT {USER_COLS} FROM users u WHERE id > 0"));
        if let Some(r) = q.role {
            qb.push(" AND role = ").push_bind(r.as_str());
        }
        if q.staff {
            qb.push(" AND role <> 'customer'");
        }
        if let Some(o) = q.organization_id {
            qb.push(" AND organization_id = ").push_bind(o.0);
        }
        if let Some(g) = q.group_id {
            qb.push(" AND EXISTS (SELECT 1 FROM group_members m WHERE m.user_id = u.id AND m.group_id = ")
                .push_bind(g.0)
                .push(")");
        }
        if let Some(text) = &q.q {
            let pattern = like_pattern(text);
            qb.push(format!(" AND (name {LIKE} "))
                .push_bind(pattern.clone())
                .push(" ESCAPE '\\' OR EXISTS (SELECT 1 FROM user_identities i WHERE i.user_id = u.id AND i.value ")
                .push(LIKE)
                .push(" ")
                .push_bind(pattern)
                .push(" ESCAPE '\\'))");
        }
        if let Some(a) = q.after {
            qb.push(" AND id > ").push_bind(a.0);
        }
        qb.push(" ORDER BY id LIMIT ").push_bind(q.limit);
        let rows: Vec<UserRow> = qb.build_query_as().fetch_all(&self.read).await?;
        self.hydrate_users(rows).await
    }

    async fn count_users(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE id > 0").fetch_one(&self.read).await?)
    }

    async fn password_hash(&self, id: UserId) -> Result<Option<String>> {
        let h: Option<Option<String>> = sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&self.read)
            .await?;
        Ok(h.flatten())
    }

    async fn set_password_hash(&self, id: UserId, hash: &str) -> Result<()> {
        sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(hash)
            .bind(id.0)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn insert_organization(&self, o: &Organization) -> Result<Organization> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO organizations (name, domains, shared_tickets, custom_fields, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(&o.name)
        .bind(to_json(&o.domains)?)
        .bind(o.shared_tickets)
        .bind(to_json(&o.custom_fields)?)
        .bind(ts(o.created_at))
        .bind(ts(o.updated_at))
        .fetch_one(&self.write)
        .await?;
        Ok(Organization { id: OrganizationId(id), ..o.clone() })
    }

    async fn update_organization(&self, o: &Organization) -> Result<Organization> {
        let done = sqlx::query(
            "UPDATE organizations SET name = $1, domains = $2, shared_tickets = $3, custom_fields = $4, updated_at = $5 WHERE id = $6",
        )
        .bind(&o.name)
        .bind(to_json(&o.domains)?)
        .bind(o.shared_tickets)
        .bind(to_json(&o.custom_fields)?)
        .bind(ts(o.updated_at))
        .bind(o.id.0)
        .execute(&self.write)
        .await?;
        matched(done)?;
        Ok(o.clone())
    }

    async fn get_organization(&self, id: OrganizationId) -> Result<Option<Organization>> {
        let row: Option<OrgRow> = sqlx::query_as(
            "SELECT id, name, domains, shared_tickets, custom_fields, created_at, updated_at FROM organizations WHERE id = $1",
        )
        .bind(id.0)
        .fetch_optional(&self.read)
        .await?;
        row.map(Organization::try_from).transpose()
    }

    async fn delete_organization(&self, id: OrganizationId) -> Result<()> {
        let done = sqlx::query("DELETE FROM organizations WHERE id = $1").bind(id.0).execute(&self.write).await?;
        matched(done)?;
        Ok(())
    }

    async fn list_organizations(
        &self,
        q: Option<&str>,
        after: Option<OrganizationId>,
        limit: i64,
    ) -> Result<Vec<Organization>> {
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT id, name, domains, shared_tickets, custom_fields, created_at, updated_at FROM organizations WHERE id > ",
        );
        qb.push_bind(after.map(|a| a.0).unwrap_or(0));
        if let Some(text) = q.map(str::trim).filter(|t| !t.is_empty()) {
            qb.push(format!(" AND (name {LIKE} ")).push_bind(like_pattern(text)).push(" ESCAPE '\\')");
        }
        qb.push(" ORDER BY id LIMIT ").push_bind(limit);
        let rows: Vec<OrgRow> = qb.build_query_as().fetch_all(&self.read).await?;
        rows.into_iter().map(Organization::try_from).collect()
    }

    async fn organization_for_domain(&self, domain: &str) -> Result<Option<Organization>> {
        // Domains are few per organisation and organisations few per desk; the JSON text
        // match narrows, the exact check below decides.
        let needle = format!("%\"{}\"%", domain.replace('%', "").replace('_', "\\_"));
        let rows: Vec<OrgRow> = sqlx::query_as(
            "SELECT id, name, domains, shared_tickets, custom_fields, created_at, updated_at FROM organizations \
             WHERE domains LIKE $1 ESCAPE '\\' ORDER BY id",
        )
        .bind(needle)
        .fetch_all(&self.read)
        .await?;
        for row in rows {
            let org = Organization::try_from(row)?;
            if org.domains.iter().any(|d| d == domain) {
                return Ok(Some(org));
            }
        }
        Ok(None)
    }

    async fn insert_group(&self, g: &Group) -> Result<Group> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO groups (name, tier, description, active, assignment, online_only, escalation_group_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(&g.name)
        .bind(g.tier)
        .bind(&g.description)
        .bind(g.active)
        .bind(g.assignment.as_str())
        .bind(g.online_only)
        .bind(g.escalation_group_id.map(|e| e.0))
        .fetch_one(&self.write)
        .await?;
        Ok(Group { id: GroupId(id), ..g.clone() })
    }

    async fn update_group(&self, g: &Group) -> Result<Group> {
        let done = sqlx::query(
            "UPDATE groups SET name = $1, tier = $2, description = $3, active = $4, assignment = $5, online_only = $6, \
             escalation_group_id = $7 WHERE id = $8",
        )
        .bind(&g.name)
        .bind(g.tier)
        .bind(&g.description)
        .bind(g.active)
        .bind(g.assignment.as_str())
        .bind(g.online_only)
        .bind(g.escalation_group_id.map(|e| e.0))
        .bind(g.id.0)
        .execute(&self.write)
        .await?;
        matched(done)?;
        Ok(g.clone())
    }

    async fn list_groups(&self) -> Result<Vec<Group>> {
        type Row = (i64, String, i64, String, bool, String, bool, Option<i64>);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, name, tier, description, active, assignment, online_only, escalation_group_id FROM groups \
             ORDER BY tier, name",
        )
        .fetch_all(&self.read)
        .await?;
        rows.into_iter()
            .map(|(id, name, tier, description, active, assignment, online_only, escalation)| {
                Ok(Group {
                    id: GroupId(id),
                    name,
                    tier,
                    description,
                    active,
                    assignment: Assignment::parse(&assignment, "assignment").map_err(corrupt)?,
                    online_only,
                    escalation_group_id: escalation.map(GroupId),
                })
            })
            .collect()
    }
}

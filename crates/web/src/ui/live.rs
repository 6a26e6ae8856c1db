//! Server-sent events for open pages: `ticket` when a ticket the viewer may see changes (the
//! page then fetches the part it shows), `presence` when someone opens, leaves or starts
//! replying to the ticket an agent has open, and `refresh` when the page fell too far behind.

use std::convert::Infallible;

use axum::Router;
use axum::extract::{Query, State};
use axum::response::IntoResponse;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use futures_util::stream::{self, Stream};
use gongdan_core::App;
use gongdan_core::live::{LiveEvent, PresenceGuard, Viewer as Present};
use gongdan_domain::access::Principal;
use gongdan_domain::ids::{TicketId, UserId};
use serde_json::json;
use tokio::sync::broadcast::{Receiver, error::RecvError};

use super::UiResult;
use super::ctx::Viewer;

pub fn router() -> Router<App> {
    Router::new()
        .route("/agent/live", get(live))
        .route("/portal/live", get(live))
        .route("/agent/live/leave", axum::routing::post(leave))
}

/// How often an idle stream is written to. A closed tab is noticed when a write fails, so
/// this bounds how long a page that vanished without saying goodbye still shows as a viewer.
const KEEP_ALIVE: std::time::Duration = std::time::Duration::from_secs(5);

#[derive(serde::Deserialize)]
struct LiveQuery {
    ticket: Option<i64>,
}

struct State_ {
    /// `hello` with the connection's number, sent first when it holds a presence.
    hello: Option<Event>,
    rx: Receiver<LiveEvent>,
    principal: Principal,
    watching: Option<TicketId>,
    me: UserId,
    /// Held for as long as the page is connected: dropping it leaves the ticket's viewers.
    _presence: Option<PresenceGuard>,
}

fn presence_event(viewers: &[Present], me: UserId) -> Event {
    let list: Vec<_> =
        viewers.iter().filter(|v| v.user_id != me).map(|v| json!({"name": v.name, "replying": v.replying})).collect();
    Event::default().event("presence").data(json!({ "viewers": list }).to_string())
}

async fn next_event(mut st: State_) -> Option<(Result<Event, Infallible>, State_)> {
    if let Some(hello) = st.hello.take() {
        return Some((Ok(hello), st));
    }
    loop {
        match st.rx.recv().await {
            Ok(LiveEvent::Ticket(t)) => {
                if st.principal.can_view(&t) {
                    let data = json!({"id": t.id.0, "version": t.version}).to_string();
                    return Some((Ok(Event::default().event("ticket").data(data)), st));
                }
            }
            Ok(LiveEvent::Presence { ticket, viewers }) => {
                if st.principal.is_staff() && st.watching == Some(ticket) {
                    let e = presence_event(&viewers, st.me);
                    return Some((Ok(e), st));
                }
            }
            Err(RecvError::Lagged(_)) => {
                return Some((Ok(Event::default().event("refresh").data("{}")), st));
            }
            Err(RecvError::Closed) => return None,
        }
    }
}

fn events(st: State_) -> impl Stream<Item = Result<Event, Infallible>> {
    stream::unfold(st, next_event)
}

async fn live(State(app): State<App>, v: Viewer, Query(q): Query<LiveQuery>) -> UiResult {
    let s = v.require()?;
    let principal = s.principal.clone();
    let rx = app.live.subscribe();
    let mut watching = None;
    let mut presence = None;
    if let Some(id) = q.ticket {
        let t = app.get_ticket(&principal, TicketId(id)).await?;
        watching = Some(t.id);
        if principal.is_staff() {
            presence = Some(app.live.join(t.id, s.user.id, &s.user.name));
        }
    }
    let hello = presence
        .as_ref()
        .map(|g| Event::default().event("hello").data(json!({ "conn": g.conn().to_string() }).to_string()));
    let st = State_ { hello, rx, principal, watching, me: s.user.id, _presence: presence };
    Ok(Sse::new(events(st)).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)).into_response())
}

#[derive(serde::Deserialize)]
struct LeaveIn {
    ticket: i64,
    conn: String,
}

/// A page leaving a ticket (sent as it unloads).
async fn leave(
    State(app): State<App>,
    v: Viewer,
    _csrf: super::form::CsrfHeader,
    body: axum::Json<LeaveIn>,
) -> UiResult {
    let s = v.staff()?;
    if let Ok(conn) = body.conn.parse() {
        app.live.leave(TicketId(body.ticket), conn, s.user.id);
    }
    Ok(axum::http::StatusCode::NO_CONTENT.into_response())
}
